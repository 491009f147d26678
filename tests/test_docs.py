"""Every Python block in docs/*.md runs as written; the pages link to each other and the README to them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
CONCEPTS = ("layers-and-activations", "losses", "optimizers", "streams", "training", "health", "sweeps", "cli")


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)


def test_one_page_per_concept():
    assert {p.stem for p in PAGES} >= set(CONCEPTS)


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_python_blocks_run(page, tmp_path, monkeypatch, capsys):
    """The blocks of a page share one namespace, in order, in an empty folder (runs/ and sweeps/ land there)."""
    blocks = python_blocks(page)
    assert blocks, f"{page.name} has no Python example"
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs.{page.stem}"}
    for i, block in enumerate(blocks):
        exec(compile(block, f"{page}[python block {i + 1}]", "exec"), namespace)


@pytest.mark.parametrize("page", [ROOT / "README.md", *PAGES], ids=["README", *(p.stem for p in PAGES)])
def test_links_resolve(page):
    for target in re.findall(r"\]\(([^)#:]+\.md)\)", page.read_text()):
        assert (page.parent / target).is_file(), f"{page.name} links to a missing page {target}"


def test_readme_links_every_page():
    readme = (ROOT / "README.md").read_text()
    for page in PAGES:
        assert f"(docs/{page.name})" in readme, f"README.md does not link docs/{page.name}"
