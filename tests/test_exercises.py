"""Exercises: each chapter's "## Exercises" section is a run of sphinx-exercise directives (issue #18).

Parses the chapters' markdown; no book build. An exercise is a MyST colon fence

    :::{exercise}
    :label: ex-chNN-k

    text
    :::

labelled by its chapter and its number k = 1, 2, ... in order, so that "exercise 6" in a chapter's prose
is a reference ({numref} or {ref}) to ``ex-chNN-6`` and a worked solution can point at its exercise by label.
Sphinx only warns about an unknown or duplicate label, and the build does not fail on warnings, so these
checks live here.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
PAGES = sorted((ROOT / "book").glob("*.md"))

HEADING = re.compile(r"^## Exercises[ \t]*$", re.M)
NEXT_HEADING = re.compile(r"^#{1,2} ", re.M)
EXERCISE = re.compile(
    r"^:::\{exercise\}[ \t]*\n(?P<options>(?::[\w-]+:[^\n]*\n)*)\n(?P<body>.*?)\n:::[ \t]*$", re.M | re.S
)
OPENER = re.compile(r"^:{3,}\{exercise", re.M)
LABEL_OPTION = re.compile(r"^:label:[ \t]*(?P<label>\S+)[ \t]*$", re.M)
LABEL_FORM = re.compile(r"ex-ch(?P<chapter>\d\d)-(?P<number>[1-9]\d*)")
# {numref}`ex-ch03-6`, {numref}`exercise %s <ex-ch03-6>`, {ref}`exercise 6 <ex-ch03-6>`, {ref}`ex-ch03-6`
REFERENCE = re.compile(r"\{(?:num)?ref\}`(?:[^`<]*<)?(?P<label>ex-[^`>]*)>?`")
# a numbered list item ("1. ", "10) ") at the start of a line: the old form of an exercise
LIST_ITEM = re.compile(r"^\s{0,3}\d+[.)][ \t]", re.M)
# prose that names an exercise by number without linking it, e.g. "(exercise 6)"
UNLINKED = re.compile(r"(?<![<`%])\b[Ee]xercises? \d+")
# a worked solution: a folded directive, or the gated form whose code cells lie between its start and its end
SOLUTION = re.compile(r"^(?P<fence>:{3,})\{solution\}[ \t]+(?P<label>\S+)[ \t]*\n.*?^(?P=fence)[ \t]*$"
                      r"|^```\{solution-start\}[ \t]+(?P<gated>\S+)[ \t]*\n.*?^```\{solution-end\}[ \t]*\n```[ \t]*$",
                      re.M | re.S)
SOLUTION_OPENER = re.compile(r"^(?::{3,}|```)\{solution(?:-start)?\}", re.M)
CHAPTERS_WITH_SOLUTIONS = ("04",)  # the chapters (by number) whose exercises all have worked solutions


@dataclass(frozen=True)
class Exercise:
    """One exercise of a chapter: its label, its number within the chapter and its markdown text."""

    page: str
    label: str
    number: int
    text: str


def markdown_cells(path: Path) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
            if c["cell_type"] == "markdown"]


def exercise_sections() -> dict[str, str]:
    """page -> the text of its "## Exercises" section (up to the next heading of level 1 or 2), for the
    chapters that have one."""
    sections = {}
    for path in NOTEBOOKS:
        text = "\n\n".join(markdown_cells(path))
        headings = list(HEADING.finditer(text))
        assert len(headings) <= 1, f"{path.name}: {len(headings)} '## Exercises' headings"
        if headings:
            rest = text[headings[0].end():]
            following = NEXT_HEADING.search(rest)
            sections[path.name] = rest[:following.start()] if following else rest
    return sections


def list_exercises() -> list[Exercise]:
    """Every exercise of the book, chapter by chapter, in order: the hook for worked solutions (each
    solution will name one of these labels with ``:::{solution} ex-chNN-k``)."""
    exercises = []
    for page, section in exercise_sections().items():
        for match in EXERCISE.finditer(section):
            label = LABEL_OPTION.search(match["options"])
            number = LABEL_FORM.fullmatch(label["label"]) if label else None
            exercises.append(Exercise(page, label["label"] if label else "", int(number["number"]) if number else 0,
                                      match["body"]))
    return exercises


@pytest.fixture(scope="module")
def sections() -> dict[str, str]:
    return exercise_sections()


@pytest.fixture(scope="module")
def exercises() -> list[Exercise]:
    return list_exercises()


def test_the_chapters_have_exercises(sections, exercises):
    # Every chapter ends with exercises; a chapter that lost its section, or a parser that finds none, fails.
    without = sorted({path.name for path in NOTEBOOKS} - set(sections))
    assert not without, f"chapters without a '## Exercises' section: {without}"
    for page, section in sections.items():
        found = sum(exercise.page == page for exercise in exercises)
        assert found, f"{page}: no {{exercise}} directive"
        assert found == len(OPENER.findall(section)), f"{page}: an {{exercise}} directive that does not parse"


def test_exercise_sections_hold_only_exercise_directives(sections):
    for page, section in sections.items():
        left = SOLUTION.sub("", EXERCISE.sub("", section))
        items = LIST_ITEM.findall(left)
        assert not items, f"{page}: a numbered list is left in '## Exercises' ({len(items)} items); use :::{{exercise}}"
        assert not left.strip(), f"{page}: text outside the {{exercise}} directives: {left.strip()[:200]!r}"


def test_every_exercise_has_a_label_of_its_chapter(exercises):
    for exercise in exercises:
        match = LABEL_FORM.fullmatch(exercise.label)
        assert match, f"{exercise.page}: exercise label {exercise.label!r} is not of the form ex-chNN-k"
        assert match["chapter"] == exercise.page[:2], f"{exercise.page}: label {exercise.label!r} names another chapter"
        assert exercise.text.strip(), f"{exercise.page}: {exercise.label} is empty"


def test_exercises_are_numbered_in_order_and_labels_are_unique(exercises):
    duplicates = sorted(label for label, count in Counter(e.label for e in exercises).items() if count > 1)
    assert not duplicates, f"exercise labels defined more than once: {duplicates}"
    for page in sorted({exercise.page for exercise in exercises}):
        numbers = [exercise.number for exercise in exercises if exercise.page == page]
        assert numbers == list(range(1, len(numbers) + 1)), f"{page}: exercises numbered {numbers}, not 1..n"


def test_every_reference_to_an_exercise_exists(exercises):
    known = {exercise.label for exercise in exercises}
    texts = {path.name: "\n\n".join(markdown_cells(path)) for path in NOTEBOOKS}
    texts.update({f"book/{path.name}": path.read_text(encoding="utf-8") for path in PAGES})
    missing = sorted({(page, ref) for page, text in texts.items() for ref in REFERENCE.findall(text)
                      if ref not in known})
    assert not missing, f"references to exercises that no chapter defines: {missing}"


def test_prose_links_the_exercises_it_names():
    # "exercise 6" in a chapter's markdown is a link ({numref}`exercise %s <ex-ch03-6>`), not bare text.
    # (Text glued from a code cell cannot hold a link and is not checked.)
    for path in NOTEBOOKS:
        for text in markdown_cells(path):
            text = REFERENCE.sub("", text)
            bare = UNLINKED.findall(text)
            assert not bare, f"{path.name}: {bare} named without a reference to its label"


def test_every_exercise_has_a_solution(sections):
    """In the chapters of CHAPTERS_WITH_SOLUTIONS every exercise has exactly one worked solution, after it, and
    every solution (in any chapter) names an exercise of its own chapter."""
    for page, section in sections.items():
        defined = {label["label"]: match.end() for match in EXERCISE.finditer(section)  # label -> where it ends
                   if (label := LABEL_OPTION.search(match["options"]))}
        solutions = [(match["label"] or match["gated"], match.start()) for match in SOLUTION.finditer(section)]
        assert len(solutions) == len(SOLUTION_OPENER.findall(section)), f"{page}: a solution that does not parse"
        for label, start in solutions:
            assert label in defined, f"{page}: a solution of {label!r}, which is not an exercise of this chapter"
            assert start > defined[label], f"{page}: the solution of {label} comes before its exercise"
        if page[:2] in CHAPTERS_WITH_SOLUTIONS:
            counts = Counter(label for label, _ in solutions)
            wrong = {label: counts[label] for label in defined if counts[label] != 1}
            assert not wrong, f"{page}: exercises without exactly one solution (label: solutions found): {wrong}"
