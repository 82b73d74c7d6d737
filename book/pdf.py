"""Print the whole book to one PDF (``make pdf``).

    .venv/bin/jupyter-book build . --builder singlehtml    # every page in one HTML page
    .venv/bin/python book/pdf.py                          # -> _build/pdf/recsys-lite.pdf
                                                          #    and recsys-lite-zh.pdf (the Chinese edition)

Sphinx's single-page builder puts the whole book (front matter, the ten
chapters, the reference pages) into one HTML page; it reads the same
execution cache as ``make book``, so after a website build nothing is executed
again. That page is served on 127.0.0.1 and printed by Debian's Chromium
(driven by Playwright, as the browser test drives it; never a downloaded
browser) once MathJax has typeset every formula. The site's print style
(``book/_static/print.css``) hides the navigation, opens every hidden code
cell and shows each explorer at its default frame, the figure a reader sees
before moving a slider. Exercise solutions stay folded, as on the website: a
PDF handed to a class does not give the answers away.

The single-page build holds the Chinese edition in ``zh/`` once that edition
is complete (book/_ext/recsys_lite_editions.py); it is printed the same way,
to ``recsys-lite-zh.pdf``, with a CJK font the machine must have (Debian's
``fonts-noto-cjk``; .ci/run installs it).

The script checks what it printed: every formula typeset (none left as TeX,
none MathJax failed on), a PDF with pages, and no request that left the
machine.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import shutil
import sys
import threading
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
SINGLE_PAGE = ROOT / "_build" / "singlehtml"
OUTPUT = ROOT / "_build" / "pdf" / "recsys-lite.pdf"
CHINESE = "zh"  # the Chinese edition's folder inside a build
PRINTED = "recsys-lite-print.html"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"]
# The print style: the navigation goes, the text takes the page's width, every page of the book (in the single
# page, a section after a document marker) starts on a new sheet, and long code lines wrap instead of being cut off.
PRINT_CSS = """
@media print {
  .bd-header, .bd-header-article, .bd-sidebar-primary, .bd-sidebar-secondary, .prev-next-area, .bd-footer,
  .bd-footer-article, .bd-footer-content, .header-article, .sidebar-toggle, #pst-back-to-top, .skip-link,
  .search-button__wrapper, .headerlink { display: none !important; }
  .bd-page-width, .bd-container, .bd-container__inner, .bd-main, .bd-content, .bd-article-container,
  .bd-article { max-width: 100% !important; width: 100% !important; padding: 0 !important; margin: 0 !important; }
  span[id^="document-"] + section { break-before: page; }
  pre { white-space: pre-wrap !important; overflow-wrap: anywhere; }
  div.cell_output, div.output, img, figure, table { break-inside: avoid; }
  h1, h2, h3 { break-after: avoid; }
}
"""
FOOTER = ('<div style="font-size:8px;width:100%;text-align:center;color:#555">'
          '<span class="title"></span> · <span class="pageNumber"></span> / <span class="totalPages"></span></div>')


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _root_page(folder: Path) -> str:
    """The single page, copied to the build's top folder; return its name.

    Sphinx writes the root document where it lives (book/intro.html) but links its styles, scripts and
    images as if it were at the top (``_static/...``, ``_images/...``), so it is read from there."""
    pages = [p for p in sorted(folder.glob("*/*.html")) + sorted(folder.glob("*.html"))
             if p.name not in ("index.html", "genindex.html", "search.html", PRINTED) and p.parent.name != CHINESE]
    if not pages:
        raise SystemExit(f"No single-page build in {folder}: run `jupyter-book build . --builder singlehtml` first "
                         "(or `make pdf`, which does).")
    shutil.copyfile(max(pages, key=lambda p: p.stat().st_size), folder / PRINTED)
    return PRINTED


def print_book(folder: Path = SINGLE_PAGE, output: Path = OUTPUT, chromium: str | None = None) -> Printed:
    """Print the single-page build in ``folder`` to ``output``; raises SystemExit on failure."""
    chromium = chromium or shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("make pdf needs Chromium: install Debian's 'chromium' package (apt install chromium).")
    from playwright.sync_api import sync_playwright

    page_path = _root_page(folder)
    server, base = _serve(folder)
    outside = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=BROWSER_ARGS)
            page = browser.new_page()

            def local_only(route):
                host = urlparse(route.request.url).hostname
                if route.request.url.startswith("data:") or host in ("127.0.0.1", "localhost"):
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            page.route("**/*", local_only)
            page.goto(f"{base}/{page_path}", wait_until="load", timeout=120_000)
            page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=60_000)
            page.evaluate("MathJax.startup.promise")
            failed, untypeset = page.locator("mjx-merror").count(), untypeset_formulas(page)
            if failed or untypeset:
                raise SystemExit(f"MathJax failed on {failed} formula(s) and left {untypeset} untypeset; see the "
                                 f"single page {page_path}.")
            formulas = page.locator("mjx-container").count()
            page.add_style_tag(content=PRINT_CSS)
            page.emulate_media(media="print")
            output.parent.mkdir(parents=True, exist_ok=True)
            page.pdf(path=str(output), format="A4", print_background=True, display_header_footer=True,
                     header_template="<span></span>", footer_template=FOOTER,
                     margin={"top": "15mm", "bottom": "18mm", "left": "15mm", "right": "15mm"})
            browser.close()
    finally:
        server.shutdown()
    if outside:
        raise SystemExit(f"The page asked for {len(outside)} resource(s) outside this machine, e.g. {outside[0]}.")
    return _check(output, formulas)


class Printed(NamedTuple):
    path: Path
    pages: int
    formulas: int  # formulas MathJax typeset on the printed page


def untypeset_formulas(page) -> int:
    """How many of the page's formulas MathJax has not typeset.

    Sphinx writes each formula as a ``span.math`` or ``div.math`` holding its TeX; MathJax puts an
    ``mjx-container`` in its place. (Reading the PDF's text for TeX would not do: the chapters' code cells
    hold TeX too, in matplotlib labels.)"""
    return page.evaluate("() => [...document.querySelectorAll('span.math, div.math')]"
                         ".filter(e => !e.querySelector('mjx-container')).length")


def _check(pdf: Path, formulas: int) -> Printed:
    """The PDF has pages; report it."""
    from pypdf import PdfReader

    reader = PdfReader(pdf)
    if not reader.pages:
        raise SystemExit(f"{pdf} has no pages.")
    print(f"{pdf.relative_to(ROOT) if pdf.is_relative_to(ROOT) else pdf}: {len(reader.pages)} pages, "
          f"{formulas} formulas typeset, {pdf.stat().st_size / 1e6:.1f} MB")
    return Printed(pdf, len(reader.pages), formulas)


def chinese_output(output: Path) -> Path:
    """Where the Chinese edition's PDF goes: beside the English one, ``-zh`` added to its name."""
    return output.with_name(f"{output.stem}-zh{output.suffix}")


def check_chinese_font() -> None:
    """Chromium prints Chinese with a font the machine has; without one every character is an empty box."""
    import subprocess

    listed = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True) \
        if shutil.which("fc-list") else None
    if listed is None or not listed.stdout.strip():
        raise SystemExit("The Chinese edition's PDF needs a Chinese font, and this machine has none: install Debian's "
                         "'fonts-noto-cjk' package (apt install fonts-noto-cjk).")


def print_both(folder: Path = SINGLE_PAGE, output: Path = OUTPUT) -> list[Printed]:
    """Print the English edition, and the Chinese one when the build holds it (``<folder>/zh``).

    The two are printed at the same time, each by its own Chromium (Playwright's API wants one instance per
    thread, and ``print_book`` starts its own): laying out and printing some 800 pages keeps one core busy,
    so on a machine with two the second edition costs little more time than the first."""
    if not (folder / CHINESE).is_dir():
        return [print_book(folder, output)]
    check_chinese_font()
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:
        english = pool.submit(print_book, folder, output)
        chinese = pool.submit(print_book, folder / CHINESE, chinese_output(output))
        return [english.result(), chinese.result()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=SINGLE_PAGE, help="the single-page build (singlehtml)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="the English PDF; the Chinese one goes beside it")
    args = parser.parse_args(argv)
    print_both(args.folder, args.output)


if __name__ == "__main__":
    sys.exit(main())
