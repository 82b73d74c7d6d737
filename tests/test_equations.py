"""Numbered equations: every label is well formed and unique, every {eq} reference resolves (issue #18).

Parses the markdown of the chapters and of book/*.md; no book build. A labelled display equation is
``$$ … $$ (eq-chNN-name)`` (the label right after the closing ``$$``) or a ``{math}`` directive with a
``:label:`` option; a reference is ``{eq}`label```. Sphinx only warns about an unknown label or a duplicate
one, and the build does not fail on warnings, so these checks live here.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
PAGES = sorted((ROOT / "book").glob("*.md"))

LABEL_FORM = re.compile(r"eq-ch(\d\d)-[a-z0-9]+(?:-[a-z0-9]+)*")
DELIMITER = re.compile(r"^\s*\$\$\s*(?:\((?P<label>[^)]*)\))?\s*$")
DIRECTIVE_LABEL = re.compile(r"^\s*:label:\s*(?P<label>\S+)\s*$")
REFERENCE = re.compile(r"\{eq\}`([^`]*)`")

# Chapters 1-8 derive the book's equations (9 is prose, 10 an unnumbered appendix). Chapter 8, the
# shortest in mathematics, has five display equations; every other one of them has more than fifteen.
# Four labels per chapter is a floor that a chapter which lost its labels (e.g. to a rewrite) cannot
# meet, and that chapter 8 meets without labelling asides.
MIN_LABELS = 4
DERIVING_CHAPTERS = [f"{n:02d}" for n in range(1, 9)]


def markdown_sources() -> dict[str, str]:
    """Each page's markdown: a notebook's markdown cells (in order), a book page's text."""
    sources = {}
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        sources[path.name] = "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    for path in PAGES:
        sources[f"book/{path.name}"] = path.read_text(encoding="utf-8")
    return sources


def labels_in(text: str, where: str) -> list[str]:
    """The equation labels of one page, in order. A ``$$ (label)`` must close a display, not open one."""
    labels, open_display = [], False
    for number, line in enumerate(text.splitlines(), 1):
        delimiter = DELIMITER.match(line)
        if delimiter:
            if delimiter["label"] is not None:
                assert open_display, f"{where}, line {number}: label {delimiter['label']!r} on an opening $$"
                labels.append(delimiter["label"])
            open_display = not open_display
            continue
        directive = DIRECTIVE_LABEL.match(line)
        if directive and directive["label"].startswith("eq-"):
            labels.append(directive["label"])
    assert not open_display, f"{where}: a $$ display is never closed"
    return labels


def chapter_of(page: str) -> str | None:
    match = re.match(r"(\d\d)_", page)
    return match[1] if match else None


@pytest.fixture(scope="module")
def pages() -> dict[str, tuple[list[str], list[str]]]:
    """page -> (labels, references)."""
    return {page: (labels_in(text, page), REFERENCE.findall(text)) for page, text in markdown_sources().items()}


def test_labels_are_well_formed_and_name_their_chapter(pages):
    for page, (labels, _) in pages.items():
        for label in labels:
            match = LABEL_FORM.fullmatch(label)
            assert match, f"{page}: label {label!r} is not of the form eq-chNN-short-name (lower case, hyphens)"
            assert match[1] == chapter_of(page), f"{page}: label {label!r} names chapter {match[1]}"


def test_labels_are_unique_across_the_book(pages):
    counts = Counter(label for labels, _ in pages.values() for label in labels)
    duplicates = sorted(label for label, count in counts.items() if count > 1)
    assert not duplicates, f"labels defined more than once: {duplicates}"


def test_every_reference_names_an_existing_label(pages):
    known = {label for labels, _ in pages.values() for label in labels}
    missing = sorted({(page, ref) for page, (_, refs) in pages.items() for ref in refs if ref not in known})
    assert not missing, f"{{eq}} references to labels that no page defines: {missing}"


def test_each_deriving_chapter_numbers_its_equations(pages):
    counts = {chapter_of(page): len(labels) for page, (labels, _) in pages.items() if chapter_of(page)}
    assert set(DERIVING_CHAPTERS) <= set(counts), f"chapters missing: {set(DERIVING_CHAPTERS) - set(counts)}"
    short = {chapter: counts[chapter] for chapter in DERIVING_CHAPTERS if counts[chapter] < MIN_LABELS}
    assert not short, f"chapters with fewer than {MIN_LABELS} labelled equations: {short}"


def test_labelled_equations_are_referred_to(pages):
    """Numbers are for following "see (3.4)": most labels are used by some {eq} in the book."""
    labels = {label for labels, _ in pages.values() for label in labels}
    used = {ref for _, refs in pages.values() for ref in refs}
    assert len(labels & used) >= len(labels) // 2, f"only {len(labels & used)} of {len(labels)} labels are referred to"
