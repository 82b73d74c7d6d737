"""The book: notebooks stored clean, a full build with no warnings, no error on any page.

The book is built twice per test session (fixtures in conftest.py): once
as CI and a reader with the data see it (``built_book``, shared with the
browser test), and once as a reader with no data and no network sees it
(``offline_book``: every chapter on the synthetic stand-in). The checks that
both must pass take ``any_book``, which is each build in turn.
"""

from __future__ import annotations

import json
import re
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


def test_glue_from_another_page_names_a_page_that_exists_and_a_format():
    """{glue:text}`NN_page.ipynb::key:fmt`: myst-nb splits the format off at the last colon, so a reference
    to another page without one is read as the key "NN_page.ipynb:" and fails the -W build only at the end."""
    names = {notebook.name for notebook in CHAPTERS}
    for notebook in CHAPTERS:
        text = "".join("".join(cell["source"]) for cell in json.loads(notebook.read_text())["cells"]
                       if cell["cell_type"] == "markdown")
        for reference in re.findall(r"\{glue:text\}`([^`]*::[^`]*)`", text):
            page, key = reference.split("::", 1)
            assert page in names, f"{notebook.name}: {reference!r} names no chapter"
            assert ":" in key, f"{notebook.name}: {reference!r} needs a format after the key, e.g. '::{key}:s'"


def _chapter_pages(book, built: bool = True) -> list[Path]:
    """Each chapter's page in each edition the build holds (the Chinese one, zh/, once it is complete); with
    ``built=False`` the pages that should exist, whether or not they do."""
    editions = [book.html] + [book.html / "zh"] * (book.html / "zh" / "index.html").is_file()
    pages = [edition / "chapters" / f"{notebook.stem}.html" for edition in editions for notebook in CHAPTERS]
    return [page for page in pages if not built or page.is_file()]


@pytest.mark.book
def test_book_builds_without_warnings(any_book):
    assert any_book.returncode == 0, any_book.log[-6000:]
    warnings = [line for line in any_book.log.splitlines() if "WARNING" in line and "[IPKernelApp]" not in line]
    assert not warnings, "\n".join(warnings)


@pytest.mark.book
def test_no_page_shows_an_error_or_traceback(any_book):
    pages = sorted(any_book.html.rglob("*.html"))
    assert pages, "the build produced no pages"
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "Traceback (most recent call last)" not in text, page
        assert not re.search(r'class="[^"]*\boutput (error|traceback)\b', text), page


@pytest.mark.book
def test_no_chapter_shows_a_warning_other_than_the_synthetic_data_notice(any_book):
    """A warning a chapter prints (stderr) stays on its page for every reader: a library's complaint about its
    cache, a deprecation, a numerical warning. The only one a page may show is the loader's notice that it runs on
    the synthetic stand-in (the offline build)."""
    executed = sorted((any_book.html.parent / "jupyter_execute" / "chapters").glob("*.ipynb"))
    assert executed, "the build kept no executed notebooks"
    problems = []
    for path in executed:
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            for output in cell.get("outputs", []):
                if output.get("name") != "stderr":
                    continue
                text = "".join(output["text"])
                kinds = set(re.findall(r"\b(\w*(?:Warning|Error))\b", text))
                if any_book.real_data or kinds != {"SyntheticDataWarning"}:
                    problems.append(f"{path.name} cell {cell.get('id')}: {text.strip()[:300]}")
    assert not problems, "\n".join(problems[:10])


@pytest.mark.book
def test_every_chapter_is_rendered_with_its_data_source(built_book):
    """Every page under chapters/ (the unnumbered JAX primer too), in both editions, shows the data it ran on."""
    for page in _chapter_pages(built_book, built=False):
        assert page.is_file(), f"{page} was not built"
        name = page.relative_to(built_book.html)
        text = page.read_text(encoding="utf-8")
        if built_book.real_data:
            assert "&lt;MovieLens ml-100k: 943 users, 1,682 items, 100,000 ratings" in text, name
            assert "SYNTHETIC" not in text, name
        else:
            assert "USING SYNTHETIC DATA, NOT MOVIELENS" in text, name


def test_the_jax_primer_is_an_unnumbered_page_before_the_chapters():
    """The primer sits in "Getting started", so chapter numbers do not move, and chapter 2 links to it."""
    toc = (ROOT / "_toc.yml").read_text()
    getting_started, numbered = toc.split("numbered: true", 1)
    assert "chapters/00_jax_primer" in getting_started and "chapters/00_jax_primer" not in numbered
    assert "00_jax_primer" in (ROOT / "chapters" / "02_loss_functions.ipynb").read_text(encoding="utf-8")


@pytest.mark.book
def test_no_page_links_to_an_external_script_or_style(any_book):
    for page in any_book.html.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        external = re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="((?:https?:)?//[^"]+)"', text)
        assert not external, f"{page.relative_to(any_book.html)} loads {external[:3]}"


SYNTHETIC_BANNER = "USING SYNTHETIC DATA, NOT MOVIELENS"


@pytest.mark.book
def test_every_chapter_runs_on_the_synthetic_stand_in_without_data_or_network(offline_book):
    """With no data, no network and an empty cache, every chapter executes and says so loudly."""
    assert offline_book.returncode == 0, offline_book.log[-6000:]
    for page in _chapter_pages(offline_book, built=False):
        assert page.is_file(), f"{page} was not built"
        name = page.relative_to(offline_book.html)
        text = page.read_text(encoding="utf-8")
        assert SYNTHETIC_BANNER in text, f"{name} does not announce the synthetic stand-in"
        assert "RECSYS_LITE_OFFLINE is on, which forbids downloading" in text, f"{name} does not say why"
        assert "&lt;MovieLens ml-100k" not in text, f"{name} claims to show MovieLens"


PAGE_BUDGET_BYTES = 4_000_000  # a page with its sliders' frames, as the reader downloads it


@pytest.mark.book
def test_pages_fit_the_weight_budget(any_book):
    for page in _chapter_pages(any_book):
        text = page.read_text(encoding="utf-8")
        images = set(re.findall(r'src="(\.\./_images/[^"]+)"', text))
        weight = len(text.encode()) + sum((page.parent / src).stat().st_size for src in images)
        assert weight <= PAGE_BUDGET_BYTES, f"{page.name} weighs {weight / 1e6:.2f} MB with its images"
        for explorer_weight in re.findall(r'class="rl-explorer-weight">[^<]*?([\d.]+) kB', text):
            assert float(explorer_weight) <= 1500, f"{page.name}: an explorer weighs {explorer_weight} kB"
