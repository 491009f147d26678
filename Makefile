# Everything starts from python3 and make: `make test` and `make train` create .venv when absent.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two stamps: what training needs (numpy, pillow, tqdm, matplotlib), and the dev extra on top for the tests,
# the linter and the benchmarks (PyTorch as the test oracle, Ray, selenium, scikit-learn, TensorBoard).
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: test lint browser fashion-mnist train gradcheck bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(DEV_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(DEV_STAMP)

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests benchmarks examples

# tests/test_report_browser.py opens a report in headless Chromium: Debian's chromium and chromium-driver,
# installed once with apt-get (CI runs as root; elsewhere run this line with sudo).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver)

# tests/test_datasets.py loads the real Fashion-MNIST: Debian's dataset-fashion-mnist package puts it in
# /usr/share/datasets/fashion-mnist (installed once with apt-get, as for chromium above).
FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
fashion-mnist:
	@test -f $(FASHION_MNIST) || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist)

test: $(DEV_STAMP) lint browser fashion-mnist
	$(BIN)/python -m pytest

train: $(STAMP)
	$(BIN)/gradwise train --preset default

gradcheck: $(STAMP)
	$(BIN)/gradwise gradcheck --all

# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, when a machine sets them, can pin a slower kernel: unset for timing only.
bench: $(DEV_STAMP)
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python benchmarks/throughput.py
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python benchmarks/time_to_accuracy.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache .mypy_cache
