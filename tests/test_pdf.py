"""`make pdf`: the whole book printed to one PDF by Debian's Chromium, formulas typeset.

Builds the single-page site from the same execution cache as the website build (nothing executes
again), prints it with book/pdf.py and reads the PDF back with pypdf.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = [pytest.mark.book, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _load_pdf_module():
    spec = importlib.util.spec_from_file_location("book_pdf", ROOT / "book" / "pdf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def printed(built_book, tmp_path_factory):
    if built_book.returncode != 0:
        pytest.fail("the book did not build; see test_book_builds_without_warnings")
    if CHROMIUM is None:
        pytest.skip("no Chromium found (install Debian's 'chromium' package; CI does this in .ci/run)")
    env = dict(os.environ)
    if built_book.real_data:  # the website build's data source, so the execution cache is reused
        from conftest import _data_root

        env["RECSYS_LITE_DATA"] = str(_data_root())
    result = subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT), "--builder",
                             "singlehtml"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    (ROOT / "_build" / "test-build-singlehtml.log").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    output = tmp_path_factory.mktemp("pdf") / "recsys-lite.pdf"
    return _load_pdf_module().print_both(ROOT / "_build" / "singlehtml", output), result.stdout + result.stderr


def test_the_single_page_reuses_the_website_s_executions(printed):
    _, log = printed
    assert "Executing notebook" not in log and "Executed notebook" not in log, "a notebook was executed again"


def test_the_pdf_holds_every_chapter_with_its_formulas_typeset(printed):
    from pypdf import PdfReader

    report = printed[0][0]
    reader = PdfReader(report.path)
    assert len(reader.pages) == report.pages > 100, len(reader.pages)
    assert report.formulas > 500, f"only {report.formulas} typeset formulas"  # every one typeset: print_book checks
    # The contents (the first page) name every chapter, and every 20th page holds text; reading every page back
    # would cost most of a minute (about 0.05 s a page) and the formula count already covers the chapters' bodies.
    contents = reader.pages[0].extract_text() or ""
    for title in ("The recommendation problem", "Loss functions", "Gradient descent", "Neural networks",
                  "Convolution", "A complete recommender", "Glossary"):
        assert title in contents, f"{title!r} is not in the PDF's contents: {contents[:300]!r}"
    sample = range(0, len(reader.pages), 20)
    empty = [i + 1 for i in sample if len((reader.pages[i].extract_text() or "").split()) < 5]
    assert len(empty) <= len(sample) // 10, f"pages {empty} of the PDF hold (almost) no text"


def test_the_chinese_edition_is_printed_too_when_the_site_has_it(printed):
    from pypdf import PdfReader

    reports, _ = printed
    if not (ROOT / "_build" / "singlehtml" / "zh").is_dir():
        assert len(reports) == 1
        pytest.skip("the Chinese edition is not complete yet, so the build does not hold it (recsys_lite_editions)")
    english, chinese = reports
    assert chinese.path.name == "recsys-lite-zh.pdf"
    assert chinese.pages > 100 and chinese.formulas == english.formulas, (
        f"{chinese.pages} pages; {chinese.formulas} formulas against the English edition's {english.formulas}")
    # Reading the text back costs about 0.07 s a page (most of a minute for the whole book), and the formulas
    # already show every chapter is there: read the first page (the book's contents) and every 20th page.
    # NFKC: the PDF's text layer spells some ideographs with their look-alike Kangxi radicals (⼀ for 一).
    pages = PdfReader(chinese.path).pages
    assert len(pages) == chinese.pages

    def text(page) -> str:
        return unicodedata.normalize("NFKC", page.extract_text() or "")

    contents = text(pages[0])
    for title in ("推荐问题", "损失函数", "梯度下降", "协同过滤", "卷积", "循环层", "术语表"):
        assert title in contents, f"{title!r} is not in the Chinese PDF's contents: {contents[:300]!r}"
    sample = range(0, len(pages), 20)
    without = [i + 1 for i in sample if not re.search(r"[\u4e00-\u9fff]", text(pages[i]))]
    assert len(without) <= len(sample) // 10, f"pages {without} of the Chinese PDF hold no Chinese text"


def test_the_pdf_check_catches_untypeset_formulas():
    """book/pdf.py counts the formulas MathJax has not typeset (as when it never ran), and only those."""
    if CHROMIUM is None:
        pytest.skip("no Chromium found")
    from playwright.sync_api import sync_playwright

    pdf = _load_pdf_module()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=pdf.BROWSER_ARGS)
        page = browser.new_page()
        page.set_content('<p>The loss <span class="math notranslate">\\(\\frac{1}{2m}\\sum_i e_i^2\\)</span></p>'
                         '<div class="math">\\[J(\\theta)\\]</div><pre>ax.set_title(r"$\\frac{1}{2}$")</pre>')
        assert pdf.untypeset_formulas(page) == 2
        page.set_content('<p><span class="math"><mjx-container>J</mjx-container></span></p>'
                         '<pre>ax.set_title(r"$\\frac{1}{2}$")</pre>')
        assert pdf.untypeset_formulas(page) == 0, "typeset formulas and TeX in code are not counted"
        browser.close()
