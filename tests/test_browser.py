"""The website in a real browser, with the network blocked.

Serves the built site on 127.0.0.1, opens every page in headless Chromium
(Debian's package, driven by playwright; never a downloaded browser), blocks
and records every request that is not to localhost, and checks that every
formula is typeset and every slider moves its figure. A screenshot of each
page is saved under _build/screenshots/.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import threading
import types
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

import pytest
from conftest import ROOT

pytestmark = [pytest.mark.book, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = ROOT / "_build" / "screenshots"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _served(book, which: str):
    """Serve a built book on 127.0.0.1 while the tests use it: yields (base URL, its html folder)."""
    if book.returncode != 0:
        pytest.fail(f"the {which} did not build; see test_book_builds_without_warnings")
    handler = functools.partial(_QuietHandler, directory=str(book.html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", book.html
    server.shutdown()


@pytest.fixture(scope="module")
def site(built_book):
    yield from _served(built_book, "book")


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("no Chromium found (install Debian's 'chromium' package; CI does this in .ci/run)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()


def _pages(html: Path) -> list[str]:
    """Every page of the site: the English edition's, then the Chinese edition's (zh/) when the build holds it."""
    pages = []
    for edition in (html, html / "zh"):
        if (edition / "index.html").is_file():
            pages += [str((edition / "index.html").relative_to(html))]
            pages += [str(p.relative_to(html)) for p in sorted((edition / "book").glob("*.html"))]
            pages += [str(p.relative_to(html)) for p in sorted((edition / "chapters").glob("*.html"))]
    return pages


def _open(browser, url: str):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    blocked, errors = [], []

    def route(request_route):
        host = urlparse(request_route.request.url).hostname
        if request_route.request.url.startswith("data:") or host in ("127.0.0.1", "localhost"):
            request_route.continue_()
        else:
            blocked.append(request_route.request.url)
            request_route.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(url, wait_until="load")
    return context, page, blocked, errors


def _screenshot(page, path: Path) -> None:
    """The page's first screen, for a person to look at. Headless Chromium now and then answers "Unable to capture
    screenshot" (a known Chromium flake, not a fault of the page): one more try, and a second failure fails."""
    from playwright.sync_api import Error

    try:
        page.screenshot(path=str(path), full_page=False)
    except Error:
        page.wait_for_timeout(500)
        page.screenshot(path=str(path), full_page=False)


def _label_string(page, explorer) -> str:
    return explorer.evaluate(
        "(el) => Array.from(el.querySelectorAll('output[data-param-label]'))"
        ".map(o => o.dataset.paramLabel + '=' + o.textContent).join(';')"
    )


def _check_works_offline(page, path: str, blocked: list, errors: list) -> int:
    """Formulas typeset, sliders moving their figures, no request to another host, no JavaScript error; a
    screenshot saved. Raises AssertionError on the first problem; returns the number of sliders moved."""
    # Formulas: MathJax (served from the site) typesets every math element.
    n_math = page.locator(".math").count()
    if n_math:
        page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20000)
        page.evaluate("MathJax.startup.promise")
        page.wait_for_function(f"document.querySelectorAll('mjx-container').length >= {n_math}", timeout=20000)
        assert page.locator("mjx-merror").count() == 0, f"{path}: a formula failed to typeset"

    # Sliders: each one moves its figure, and the figure matches its labels. The Chinese pages show the
    # English build's own cell outputs (the same frames), so there each slider goes from end to end in
    # one step instead of through every stop.
    n_sliders = 0
    step = "End" if path.startswith("zh/") else "ArrowRight"
    for explorer in page.locator(".rl-explorer").all():
        frame = explorer.locator("img.rl-explorer-frame")
        assert frame.get_attribute("data-values") == _label_string(page, explorer)
        for slider in explorer.locator("input[type=range]").all():
            n_sliders += 1
            name = slider.get_attribute("data-param")
            seen = {frame.get_attribute("src")}
            slider.focus()
            top = int(slider.get_attribute("max"))
            page.keyboard.press("Home")
            seen.add(frame.get_attribute("src"))
            assert slider.input_value() == "0"
            for _ in range(top if step == "ArrowRight" else min(top, 1)):
                page.keyboard.press(step)
                seen.add(frame.get_attribute("src"))
                assert frame.get_attribute("data-values") == _label_string(page, explorer), (
                    f"{path}: the frame does not match its labels after moving {name}")
            assert len(seen) > 1 or top == 0, f"{path}: slider {name} never changed the figure"
            assert slider.input_value() == str(top)

    _screenshot(page, SCREENSHOTS / (path.replace("/", "__").replace(".html", ".png")))
    assert not blocked, f"{path} tried to reach other hosts: {blocked[:5]}"
    assert not errors, f"{path} raised JavaScript errors: {errors[:3]}"
    return n_sliders


@pytest.fixture(scope="module")
def offline_site(offline_book):
    """The offline build (the only one that shows the synthetic-data box), served like ``site``."""
    yield from _served(offline_book, "offline book")


# For each text element of the synthetic-data box: its colour and the first opaque background behind it.
_BOX_COLOURS = """(box) => {
  const rgba = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const behind = (el) => {
    for (; el; el = el.parentElement) {
      const c = rgba(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
      if (c.length === 4 && c[3] > 0) return null;  // translucent: not measured here
    }
    return [255, 255, 255];
  };
  return [box, ...box.querySelectorAll('*')].filter(el => Array.from(el.childNodes).some(
      n => n.nodeType === 3 && n.textContent.trim())).map(el => ({
    text: el.textContent.trim().slice(0, 40), colour: rgba(getComputedStyle(el).color).slice(0, 3),
    background: behind(el)}));
}"""


@pytest.mark.parametrize("mode", ["light", "dark"])
def test_the_synthetic_data_box_is_readable_in_light_and_dark_mode(offline_site, browser, mode):
    """The theme's own switch stores the reader's choice in localStorage 'mode'; a page loaded with it set shows
    that theme. Every piece of the box's text must have a WCAG contrast of at least 4.5 against its background."""
    from test_apparatus import contrast

    base, html = offline_site
    for notebook in ("01_the_recommendation_problem", "00_jax_primer"):
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        context.add_init_script(f"localStorage.setItem('mode', '{mode}'); localStorage.setItem('theme', '{mode}');")
        page = context.new_page()
        try:
            page.goto(f"{base}/chapters/{notebook}.html", wait_until="load")
            assert page.evaluate("document.documentElement.dataset.theme") == mode
            box = page.locator("div.admonition.warning", has_text="USING SYNTHETIC DATA").first
            pieces = box.evaluate(_BOX_COLOURS)
            assert pieces, f"{notebook}: no text in the synthetic-data box"
            for piece in pieces:
                assert piece["background"] is not None, f"{notebook}, {mode}: translucent background {piece}"
                ratio = contrast(piece["colour"], piece["background"])
                assert ratio >= 4.5, f"{notebook}, {mode} mode: {piece['text']!r} has contrast {ratio:.2f} {piece}"
            page.screenshot(path=str(SCREENSHOTS / f"synthetic-box-{mode}-{notebook}.png"))
        finally:
            context.close()


def test_the_notebook_download_saves_the_chapters_ipynb(offline_site, browser, tmp_path):
    """The download menu's .ipynb link carries ``download`` on every chapter, and a click saves the notebook
    instead of opening its JSON in a tab (sphinx-book-theme issue #918)."""
    import json

    base, html = offline_site
    for notebook in sorted((ROOT / "chapters").glob("*.ipynb")):
        context, page, blocked, errors = _open(browser, f"{base}/chapters/{notebook.stem}.html")
        try:
            link = page.locator("a.btn-download-source-button")
            assert link.get_attribute("download") == notebook.name, f"{notebook.stem}: no download attribute"
            if notebook.stem == "01_the_recommendation_problem":
                page.locator("button[aria-label='Download this page']").click()
                with page.expect_download(timeout=10000) as download:
                    link.click()
                assert download.value.suggested_filename == notebook.name
                saved = tmp_path / notebook.name
                download.value.save_as(saved)
                assert json.loads(saved.read_text())["cells"] == json.loads(notebook.read_text())["cells"]
            assert not errors, f"{notebook.stem} raised JavaScript errors: {errors[:3]}"
        finally:
            context.close()


@pytest.mark.parametrize("mode", ["light", "dark"])
def test_the_synthetic_data_box_is_readable_in_jupyterlabs_light_and_dark_theme(browser, mode):
    """The same box as a live notebook shows it: JupyterLab's theme variables (its installed CSS) and its output
    area's text colour around the box, measured in Chromium. The old box (a pale background only) showed the dark
    theme's white text on pale orange."""
    from test_apparatus import contrast, jupyterlab_theme_css

    from recsys_lite import data

    box = data.MovieLens._repr_html_(types.SimpleNamespace(notice="USING SYNTHETIC DATA, NOT MOVIELENS."))
    page = browser.new_page()
    try:
        page.set_content(f"<html><head><style>{jupyterlab_theme_css(mode)}</style></head>"
                         "<body style='background: var(--jp-layout-color0)'><div class='jp-RenderedHTMLCommon' "
                         f"style='color: var(--jp-content-font-color1)'>{box}</div></body></html>")
        pieces = page.locator("div.admonition.warning").evaluate(_BOX_COLOURS)
        assert pieces
        for piece in pieces:
            ratio = contrast(piece["colour"], piece["background"])
            assert ratio >= 4.5, f"JupyterLab {mode}: {piece['text']!r} has contrast {ratio:.2f} {piece}"
    finally:
        page.close()


_IMAGE_FILE = re.compile(r"\.(png|svg|jpe?g|gif|webp)\b", re.I)


def _alt_problem(alt: str | None, src: str) -> str | None:
    """Why ``alt`` is not a real description of the image at ``src`` (None: it is)."""
    if alt is None or not alt.strip():
        return "no alt text"
    text = alt.strip()
    base = PurePosixPath(urlparse(src).path).name if not src.startswith("data:") else ""
    if _IMAGE_FILE.search(text) or text.lower().startswith(("data:", "http:", "https:", "_images", "../")):
        return "a file name or URI"
    if base and text in (base, PurePosixPath(base).stem, src):
        return "the image's file name"
    if " " not in text and ("/" in text or "." in text):
        return "a path"
    return None


def _counterpart_problems(page, base: str, path: str) -> list[str]:
    """What is wrong with the page's language and its link to the same page in the other edition."""
    chinese = path.startswith("zh/")
    other = path[3:] if chinese else f"zh/{path}"
    lang = page.evaluate("document.documentElement.lang")
    if lang[:2] != ("zh" if chinese else "en"):
        return [f"{path}: <html lang> is {lang!r}"]
    links = page.evaluate("Array.from(document.querySelectorAll('.rl-other-edition a')).map(a => a.href)")
    if len(links) != 1:
        return [f"{path}: {len(links)} language links"]
    if links[0] != f"{base}/{other}":
        return [f"{path}: the language link goes to {links[0]}, not {other}"]
    return []


def _check_described(page, base: str, path: str, both: bool) -> tuple[list[str], int, int]:
    """Every <img> says what it shows, every figure of a chapter is "Figure N.M: …" ("图 N.M"), and (when the build
    holds both editions) the page says its language and links to its counterpart. Only reads the page.
    Returns (problems, images, figures)."""
    problems, n_images, n_figures = [], 0, 0
    if path.endswith("index.html"):  # it redirects to the intro: read the page it lands on
        page.wait_for_url("**/book/intro.html", wait_until="load")
    if both and not path.endswith("index.html"):
        problems += _counterpart_problems(page, base, path)
    for img in page.evaluate("Array.from(document.images).map(i => [i.getAttribute('src') || '', "
                             "i.getAttribute('alt'), !!i.closest('.cell_output'), "
                             "i.closest('figure') ? i.closest('figure').querySelector('figcaption') "
                             "?.textContent.trim() || '' : null])"):
        src, alt, in_output, caption = img
        n_images += 1
        why = _alt_problem(alt, src)
        if why:
            problems.append(f"{path}: <img src={src[:60]!r}> alt {alt!r}: {why}")
        if in_output and caption is None:
            problems.append(f"{path}: an output image ({(alt or '')[:50]!r}) is not in a captioned figure")
    match = re.match(r"(zh/)?chapters/(\d\d)_", path)
    if match is None:
        return problems, n_images, n_figures
    number, word = int(match.group(2)), "图 " if match.group(1) else "Figure "
    numbered = re.compile(rf"{word}{number}\.\d+" if 1 <= number <= 9 else rf"{word}\d+(\.\d+)?")
    captions = page.evaluate("Array.from(document.querySelectorAll('figure')).map(f => "
                             "f.querySelector('figcaption')?.textContent.trim() || '')")
    n_figures += len(captions)
    problems += [f"{path}: figure caption {c[:60]!r} is not numbered '{numbered.pattern}'"
                 for c in captions if not numbered.match(c) or len(c) < 20]
    links = page.evaluate("Array.from(document.querySelectorAll('a.reference.internal[href*=\"#fig-\"]'))"
                          ".map(a => a.textContent.trim())")
    problems += [f"{path}: a figure reference reads {t!r}" for t in links if not re.fullmatch(rf"{word}[\d.]+", t)]
    return problems, n_images, n_figures


@pytest.fixture(scope="module")
def every_page(site, browser):
    """Every page opened once, for the two page-by-page tests below (a page load is most of their time): what
    each finds wrong, and what it counted. The reading checks run on the page as it loaded, before the sliders
    move (the index page, which redirects, the other way round)."""
    base, html = site
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    both = (html / "zh" / "index.html").is_file()
    found = types.SimpleNamespace(offline=[], described=[], sliders=0, images=0, figures=0)

    def works():
        try:
            found.sliders += _check_works_offline(page, path, blocked, errors)
        except Exception as error:  # an assertion or a playwright timeout: this page's failure, the loop goes on
            found.offline.append(f"{path}: {type(error).__name__}: {error}")

    def described():
        try:
            problems, n_images, n_figures = _check_described(page, base, path, both)
        except Exception as error:
            problems, n_images, n_figures = [f"{path}: {type(error).__name__}: {error}"], 0, 0
        found.described += problems
        found.images, found.figures = found.images + n_images, found.figures + n_figures

    for path in _pages(html):
        context, page, blocked, errors = _open(browser, f"{base}/{path}")
        try:
            for check in (works, described) if path.endswith("index.html") else (described, works):
                check()
        finally:
            context.close()
    return found


def test_every_page_works_offline(every_page):
    """Every page, network blocked: formulas typeset, sliders move their figures, nothing reaches another host."""
    assert not every_page.offline, "\n".join(every_page.offline[:10])
    assert every_page.sliders > 0, "no slider found on any page"


def test_every_page_has_alt_text_numbered_figures_and_a_link_to_its_counterpart(every_page):
    """Every <img> on every page says what it shows, and every figure of a chapter is "Figure N.M: …" ("图 N.M").
    When the build holds both editions, every page says its language (<html lang>) and links to its counterpart:
    the same page in the other edition, which the loop opens too."""
    assert not every_page.described, "\n".join(every_page.described[:30])
    assert every_page.images > 0 and every_page.figures > 0, (
        f"{every_page.images} images and {every_page.figures} chapter figures found")


def test_chinese_search_finds_chinese_words(site, browser):
    """The Chinese edition's search finds a glossary term written in Chinese (jieba splits the text into words)."""
    base, html = site
    if not (html / "zh" / "index.html").is_file():
        pytest.skip("the Chinese edition is not complete yet, so the build does not hold it (recsys_lite_editions)")
    for term in ("协同过滤", "梯度下降"):
        context, page, _, _ = _open(browser, f"{base}/zh/search.html?q={term}")
        try:
            page.wait_for_selector("#search-results ul.search li", timeout=20000)
            assert page.locator("#search-results ul.search li").count() > 0, f"searching {term!r} found nothing"
        finally:
            context.close()
