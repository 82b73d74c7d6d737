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
import shutil
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
from conftest import ROOT

pytestmark = [pytest.mark.book, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = ROOT / "_build" / "screenshots"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site(built_book):
    if built_book.returncode != 0:
        pytest.fail("the book did not build; see test_book_builds_without_warnings")
    handler = functools.partial(_QuietHandler, directory=str(built_book.html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", built_book.html
    server.shutdown()


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
    pages = ["index.html"]
    pages += [str(p.relative_to(html)) for p in sorted((html / "book").glob("*.html"))]
    pages += [str(p.relative_to(html)) for p in sorted((html / "chapters").glob("*.html"))]
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


def _label_string(page, explorer) -> str:
    return explorer.evaluate(
        "(el) => Array.from(el.querySelectorAll('output[data-param-label]'))"
        ".map(o => o.dataset.paramLabel + '=' + o.textContent).join(';')"
    )


def test_every_page_works_offline(site, browser):
    base, html = site
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    n_sliders = 0
    for path in _pages(html):
        context, page, blocked, errors = _open(browser, f"{base}/{path}")
        try:
            # Formulas: MathJax (served from the site) typesets every math element.
            n_math = page.locator(".math").count()
            if n_math:
                page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20000)
                page.evaluate("MathJax.startup.promise")
                page.wait_for_function(f"document.querySelectorAll('mjx-container').length >= {n_math}", timeout=20000)
                assert page.locator("mjx-merror").count() == 0, f"{path}: a formula failed to typeset"

            # Sliders: each one moves its figure, and the figure matches its labels.
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
                    for _ in range(top):
                        page.keyboard.press("ArrowRight")
                        seen.add(frame.get_attribute("src"))
                        assert frame.get_attribute("data-values") == _label_string(page, explorer), (
                            f"{path}: the frame does not match its labels after moving {name}")
                    assert len(seen) > 1 or top == 0, f"{path}: slider {name} never changed the figure"
                    assert slider.input_value() == str(top)

            page.screenshot(path=str(SCREENSHOTS / (path.replace("/", "__").replace(".html", ".png"))), full_page=False)
            assert not blocked, f"{path} tried to reach other hosts: {blocked[:5]}"
            assert not errors, f"{path} raised JavaScript errors: {errors[:3]}"
        finally:
            context.close()
    assert n_sliders > 0, "no slider found on any page"
