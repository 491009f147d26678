# Everything starts from python3 and make: `make test` and `make train` create .venv when absent.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test lint train gradcheck clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

test: lint
	$(BIN)/python -m pytest

train: $(STAMP)
	$(BIN)/gradwise train --preset default

gradcheck: $(STAMP)
	$(BIN)/gradwise gradcheck --all

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache .mypy_cache
