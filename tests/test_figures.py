"""Every figure a chapter draws is numbered, captioned and described, read from the notebooks' JSON (no build).

A code cell that draws (``plt.show()``, or a slider explorer, ``explore(``) carries myst-nb's cell metadata
``mystnb.figure`` (``caption``, ``name``: a numbered figure that ``{numref}`` can cite, "Figure 6.2") and, for a
matplotlib figure, ``mystnb.image.alt`` (read out instead of the image's file path). myst-nb wraps every display
output of such a cell in the figure, so the cell must show nothing else (a table belongs in the next cell).
"""

from __future__ import annotations

import ast
import json
import re

import pytest
from conftest import ROOT

CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
NAME = re.compile(r"fig-ch(\d\d)-[a-z0-9]+(-[a-z0-9]+)*")
FILE_LIKE = re.compile(r"\.(png|svg|jpe?g|gif)\b|/|\\|data:", re.I)
SHOWN_WITHOUT_OUTPUT = {"glue", "print", "plt.show"}  # calls that leave no display output of their own


def _figure_cells(path):
    for cell in json.loads(path.read_text())["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and ("plt.show()" in source or "explore(" in source):
            yield cell, source


def _figures():
    return [(path.name, cell["id"], cell, source) for path in CHAPTERS for cell, source in _figure_cells(path)]


FIGURES = _figures()


def test_the_chapters_draw_figures():
    assert len(FIGURES) > 40, "the scan found too few figure cells: has plotting moved out of plt.show()/explore()?"


@pytest.mark.parametrize(("chapter", "cell_id", "cell", "source"), FIGURES, ids=[f"{c}:{i}" for c, i, _, _ in FIGURES])
def test_every_figure_cell_has_a_caption_a_name_and_an_alt_text(chapter, cell_id, cell, source):
    options = cell["metadata"].get("mystnb", {})
    figure = options.get("figure", {})
    caption, name = figure.get("caption", ""), figure.get("name", "")
    assert isinstance(caption, str) and len(caption.split()) >= 6, f"{chapter} cell {cell_id}: no real caption"
    assert caption.rstrip().endswith("."), f"{chapter} cell {cell_id}: the caption is not a sentence"
    assert NAME.fullmatch(name), f"{chapter} cell {cell_id}: name {name!r} is not fig-chNN-short-words"
    assert NAME.fullmatch(name).group(1) == chapter[:2], f"{chapter} cell {cell_id}: {name!r} names another chapter"
    if "plt.show()" in source:  # an explorer's frames get their alt from recsys_lite.widgets
        alt = options.get("image", {}).get("alt", "")
        assert isinstance(alt, str) and len(alt.split()) >= 8, f"{chapter} cell {cell_id}: no real alt text"
        assert not FILE_LIKE.search(alt), f"{chapter} cell {cell_id}: the alt text looks like a file or URI: {alt!r}"
        assert alt.strip() != caption.strip(), f"{chapter} cell {cell_id}: the alt text repeats the caption"


@pytest.mark.parametrize(("chapter", "cell_id", "cell", "source"), FIGURES, ids=[f"{c}:{i}" for c, i, _, _ in FIGURES])
def test_a_figure_cell_shows_nothing_but_its_figure(chapter, cell_id, cell, source):
    """Its last statement is the figure (plt.show(), explore(...)) or leaves no output (glue, print)."""
    last = ast.parse(source).body[-1]
    if isinstance(last, ast.Expr) and isinstance(last.value, ast.Call):
        called = ast.unparse(last.value.func)
        assert called in SHOWN_WITHOUT_OUTPUT or called == "explore" or called.endswith(".explore"), (
            f"{chapter} cell {cell_id} ends with {called}(…), whose output myst-nb would put in the figure")
    else:
        assert not isinstance(last, ast.Expr), (
            f"{chapter} cell {cell_id} ends with an expression, whose value myst-nb would put in the figure")
    assert "display(" not in source, f"{chapter} cell {cell_id} displays something beside its figure"
    assert source.count("plt.show()") <= 1, f"{chapter} cell {cell_id} draws several figures under one caption"


def test_figure_names_are_unique():
    names = [cell["metadata"]["mystnb"]["figure"]["name"] for _, _, cell, _ in FIGURES
             if "name" in cell["metadata"].get("mystnb", {}).get("figure", {})]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})


def test_numref_targets_exist():
    """Every {numref}`fig-…` in the chapters' prose names a figure of the book."""
    names = {cell["metadata"]["mystnb"]["figure"]["name"] for _, _, cell, _ in FIGURES
             if "name" in cell["metadata"].get("mystnb", {}).get("figure", {})}
    cited = set()
    for path in CHAPTERS:
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "markdown":
                cited |= set(re.findall(r"\{numref\}`(?:[^`<]*<)?(fig-[a-z0-9-]+)>?`", "".join(cell["source"])))
    assert cited, "no figure is referred to from the prose"
    assert cited <= names, sorted(cited - names)
