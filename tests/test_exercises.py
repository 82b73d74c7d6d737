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

A worked solution follows its exercise in the same section, in one of sphinx-exercise's two forms: a directive

    ::::{solution} ex-chNN-k
    :class: dropdown

    text
    ::::

or, when the solution runs code, the gated form, whose code cells lie between the two markdown fences

    ```{solution-start} ex-chNN-k
    :class: dropdown
    ```
    ... (markdown and code cells) ...
    ```{solution-end}
    ```
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
# a worked solution: a {solution} directive, or a gated {solution-start} ... {solution-end} block (whose code cells
# are not part of the markdown text parsed here)
SOLUTION = re.compile(
    r"^(?P<fence>:{3,}|`{3,})\{solution\}[ \t]+(?P<label>\S+)[ \t]*\n.*?^(?P=fence)[ \t]*$"
    r"|^(?P<gate>:{3,}|`{3,})\{solution-start\}[ \t]+(?P<gated>\S+)[ \t]*\n.*?"
    r"^(?P<end>:{3,}|`{3,})\{solution-end\}[ \t]*\n(?P=end)[ \t]*$", re.M | re.S)
SOLUTION_OPENER = re.compile(r"^(?::{3,}|`{3,})\{solution(?:-start|-end)?\}", re.M)
# the chapters whose every exercise has a worked solution
CHAPTERS_WITH_SOLUTIONS = ("00_jax_primer.ipynb", "01_the_recommendation_problem.ipynb", "02_loss_functions.ipynb",
                           "03_gradient_descent.ipynb", "04_neural_networks.ipynb",
                           "05_collaborative_filtering.ipynb", "06_convolution.ipynb", "07_recurrent_layers.ipynb",
                           "08_a_complete_recommender.ipynb", "09_where_next.ipynb", "10_scaling_out.ipynb")


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


def test_exercise_sections_hold_only_exercise_and_solution_directives(sections):
    for page, section in sections.items():
        left = SOLUTION.sub("", EXERCISE.sub("", section))
        items = LIST_ITEM.findall(left)
        assert not items, f"{page}: a numbered list is left in '## Exercises' ({len(items)} items); use :::{{exercise}}"
        assert not left.strip(), (f"{page}: text outside the {{exercise}} and {{solution}} directives: "
                                  f"{left.strip()[:200]!r}")


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


@dataclass(frozen=True)
class Solution:
    """A worked solution in a chapter's "## Exercises" section: the exercise it names and where it starts."""

    page: str
    label: str
    start: int


def list_solutions(section: str, page: str) -> list[Solution]:
    return [Solution(page, match["label"] or match["gated"], match.start()) for match in SOLUTION.finditer(section)]


def test_solutions_parse(sections):
    # every {solution}, {solution-start} and {solution-end} fence belongs to one well-formed solution: a
    # solution-start without its end (or the reverse) would swallow the rest of the page or leave an orphan
    for page, section in sections.items():
        fences = len(SOLUTION_OPENER.findall(section))
        solutions = list(SOLUTION.finditer(section))
        expected = sum(1 if match["label"] else 2 for match in solutions)
        assert fences == expected, f"{page}: {fences} solution fences, of which only {expected} form solutions"


def match_label(match: re.Match) -> str:
    label = LABEL_OPTION.search(match["options"])
    return label["label"] if label else ""


def test_every_solution_names_an_exercise_before_it(sections):
    # and sits between that exercise and the next one
    for page, section in sections.items():
        starts = {match_label(m): m.start() for m in EXERCISE.finditer(section)}
        following = dict(zip(starts, [*list(starts.values())[1:], len(section)]))
        for solution in list_solutions(section, page):
            assert solution.label in starts, f"{page}: a solution names {solution.label!r}, not an exercise here"
            assert solution.start > starts[solution.label], f"{page}: the solution of {solution.label} precedes it"
            assert solution.start < following[solution.label], (f"{page}: the solution of {solution.label} comes "
                                                                 f"after the next exercise")


def test_every_exercise_has_a_solution(sections, exercises):
    """Each exercise of the chapters in CHAPTERS_WITH_SOLUTIONS has exactly one worked solution."""
    missing = sorted(set(CHAPTERS_WITH_SOLUTIONS) - set(sections))
    assert not missing, f"CHAPTERS_WITH_SOLUTIONS names pages without exercises: {missing}"
    for page in CHAPTERS_WITH_SOLUTIONS:
        solved = Counter(solution.label for solution in list_solutions(sections[page], page))
        for exercise in (e for e in exercises if e.page == page):
            count = solved[exercise.label]
            assert count == 1, f"{page}: {exercise.label} has {count} solutions, not 1"
