"""The book: notebooks stored clean, a full build with no warnings, no error on any page.

The build runs once per test session (``built_book`` fixture in conftest.py)
and is shared with the browser test.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.name)
def test_notebooks_are_stored_without_outputs(notebook):
    nb = json.loads(notebook.read_text())
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"{notebook.name}: cell {index} has stored outputs"
            assert cell.get("execution_count") is None, f"{notebook.name}: cell {index} has an execution count"


def test_every_chapter_is_in_the_table_of_contents():
    toc = (ROOT / "_toc.yml").read_text()
    for notebook in CHAPTERS:
        assert f"chapters/{notebook.stem}" in toc, f"{notebook.name} is not in _toc.yml"


@pytest.mark.book
def test_book_builds_without_warnings(built_book):
    assert built_book.returncode == 0, built_book.log[-6000:]
    warnings = [line for line in built_book.log.splitlines() if "WARNING" in line and "[IPKernelApp]" not in line]
    assert not warnings, "\n".join(warnings)


@pytest.mark.book
def test_no_page_shows_an_error_or_traceback(built_book):
    pages = sorted(built_book.html.rglob("*.html"))
    assert pages, "the build produced no pages"
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "Traceback (most recent call last)" not in text, page
        assert not re.search(r'class="[^"]*\boutput (error|traceback)\b', text), page


@pytest.mark.book
def test_every_chapter_is_rendered_with_its_data_source(built_book):
    for notebook in CHAPTERS:
        page = built_book.html / "chapters" / f"{notebook.stem}.html"
        assert page.is_file(), f"{page} was not built"
    first = (built_book.html / "chapters" / f"{CHAPTERS[0].stem}.html").read_text(encoding="utf-8")
    if built_book.real_data:
        assert "&lt;MovieLens ml-100k: 943 users, 1,682 items, 100,000 ratings" in first
        assert "SYNTHETIC" not in first
    else:
        assert "USING SYNTHETIC DATA, NOT MOVIELENS" in first


@pytest.mark.book
def test_no_page_links_to_an_external_script_or_style(built_book):
    for page in built_book.html.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        external = re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="((?:https?:)?//[^"]+)"', text)
        assert not external, f"{page.relative_to(built_book.html)} loads {external[:3]}"


@pytest.mark.book
def test_chapter_one_falls_back_to_synthetic_data_when_offline(tmp_path):
    """Executed with no data anywhere and no network, chapter 1 runs and says so."""
    import nbformat
    from nbclient import NotebookClient

    env_keep = {k: v for k, v in os.environ.items() if k != "RECSYS_LITE_DATA"}
    notebook = nbformat.read(CHAPTERS[0], as_version=4)
    old_env = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(env_keep, RECSYS_LITE_OFFLINE="1", RECSYS_LITE_CACHE=str(tmp_path),
                          RECSYS_LITE_STATIC_WIDGETS="1")
        NotebookClient(notebook, timeout=240, kernel_name="python3",
                       resources={"metadata": {"path": str(CHAPTERS[0].parent)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(old_env)
    outputs = json.dumps([cell.get("outputs", []) for cell in notebook.cells])
    assert "USING SYNTHETIC DATA, NOT MOVIELENS" in outputs
    assert "RECSYS_LITE_OFFLINE=1 forbids downloading" in outputs


PAGE_BUDGET_BYTES = 4_000_000  # a page with its sliders' frames, as the reader downloads it


@pytest.mark.book
def test_pages_fit_the_weight_budget(built_book):
    for page in sorted((built_book.html / "chapters").glob("*.html")):
        text = page.read_text(encoding="utf-8")
        images = set(re.findall(r'src="(\.\./_images/[^"]+)"', text))
        weight = len(text.encode()) + sum((page.parent / src).stat().st_size for src in images)
        assert weight <= PAGE_BUDGET_BYTES, f"{page.name} weighs {weight / 1e6:.2f} MB with its images"
        for explorer_weight in re.findall(r'class="rl-explorer-weight">[^<]*?([\d.]+) kB', text):
            assert float(explorer_weight) <= 1500, f"{page.name}: an explorer weighs {explorer_weight} kB"
