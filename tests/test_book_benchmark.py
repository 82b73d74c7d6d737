"""benchmarks/book.py: the clean build's wall time split into its phases from the build's log."""

from __future__ import annotations

import importlib.util

from conftest import ROOT

spec = importlib.util.spec_from_file_location("book_benchmark", ROOT / "benchmarks" / "book.py")
book = importlib.util.module_from_spec(spec)
spec.loader.exec_module(book)


def test_phases_split_the_wall_time_at_the_reading_and_pickling_lines():
    # with two workers, "reading sources..." appears only as each worker finishes: it is not the start
    log = [(0.5, "Running Sphinx v7.4.7\n"), (15.0, "updating environment: [new config] 17 added\n"),
           (700.0, "reading sources... [  6%] chapters/08_a_complete_recommender\n"),
           (1688.0, "pickling environment... done\n"), (1705.0, "build succeeded.\n")]
    got = book.phases(log, 1706.0)
    assert got == {"start-up": 15.0, "reading (executing the notebooks)": 1673.0,
                   "rendering (resolving and writing the pages)": 18.0, "whole build": 1706.0}
    assert sum(v for k, v in got.items() if k != "whole build") == got["whole build"]


def test_budgets_are_the_issue_s():
    assert book.CHAPTER_BUDGET_SECONDS == 90 and book.BUILD_BUDGET_SECONDS == 300
    assert book.budget("08_a_complete_recommender.ipynb") == 90, "chapter 8 has no exception any more"
