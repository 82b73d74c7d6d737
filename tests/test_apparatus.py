"""The book's apparatus: one version everywhere, licences, the Python floor, the footer, the time budget,
the intro's chapter list, the .ipynb download and the synthetic-data box's colours in both themes.

The checks on the built site take ``any_book`` (both builds) or ``offline_book`` (the box appears only there);
the browser checks are in tests/test_browser.py.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import re
import shutil
import subprocess
import tomllib
import types
from collections import Counter

import pytest
import yaml
from conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
VERSION = PYPROJECT["project"]["version"]


# --- one version ------------------------------------------------------------------------------------------------


def test_citation_changelog_pyproject_and_the_package_agree_on_the_version():
    import recsys_lite

    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    top = re.search(r"^## \[([^\]]+)\] - (\d{4}-\d{2}-\d{2})$", (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"),
                    re.MULTILINE)
    assert top, "CHANGELOG.md has no '## [x.y.z] - YYYY-MM-DD' entry"
    versions = {"pyproject.toml": VERSION, "CITATION.cff": str(citation["version"]),
                "CITATION.cff preferred-citation edition": str(citation["preferred-citation"]["edition"]),
                "CHANGELOG.md's top entry": top.group(1), "recsys_lite.__version__": recsys_lite.__version__}
    assert len(set(versions.values())) == 1, f"versions disagree: {versions}"
    assert str(citation["date-released"]) == top.group(2), "CITATION.cff's date-released is not the top entry's date"


def test_the_version_comes_from_pyproject_in_a_source_tree_and_from_metadata_elsewhere(tmp_path, monkeypatch):
    """A source checkout reads pyproject.toml (an editable install's metadata keeps the version it was installed
    with); a copy of the package with no pyproject beside it reads the installed metadata, else '0+unknown'."""
    from importlib import metadata

    source = (ROOT / "recsys_lite" / "__init__.py").read_text(encoding="utf-8")
    (tmp_path / "tree" / "recsys_lite").mkdir(parents=True)
    (tmp_path / "tree" / "recsys_lite" / "__init__.py").write_text(source)
    (tmp_path / "tree" / "pyproject.toml").write_text('[project]\nname = "recsys_lite"\nversion = "9.8.7"\n')
    (tmp_path / "wheel" / "recsys_lite").mkdir(parents=True)
    (tmp_path / "wheel" / "recsys_lite" / "__init__.py").write_text(source)

    def version_of(folder):
        spec = importlib.util.spec_from_file_location("copy_of_recsys_lite", folder / "recsys_lite" / "__init__.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.__version__

    assert version_of(tmp_path / "tree") == "9.8.7"
    monkeypatch.setattr(metadata, "version", lambda name: "1.2.3" if name == "recsys_lite" else None)
    assert version_of(tmp_path / "wheel") == "1.2.3"

    def not_installed(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", not_installed)
    assert version_of(tmp_path / "wheel") == "0+unknown"


# --- licences ---------------------------------------------------------------------------------------------------


def test_code_is_mit_and_text_cc_by_sa_and_movielens_is_neither():
    code = (ROOT / "LICENSE").read_text(encoding="utf-8")
    text = (ROOT / "LICENSE-TEXT.md").read_text(encoding="utf-8")
    assert "Permission is hereby granted, free of charge" in code and "LICENSE-TEXT.md" in code
    assert "CC-BY-SA-4.0" in text and "https://creativecommons.org/licenses/by-sa/4.0/legalcode" in text
    assert "Section 8 -- Interpretation." in text, "the legal code is not reproduced in full"
    for document in (code, text):
        assert "MovieLens" in document and "redistribut" in document
    assert PYPROJECT["project"]["license"] == "MIT" and "LICENSE" in PYPROJECT["project"]["license-files"]
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert set(citation["license"]) == {"MIT", "CC-BY-SA-4.0"} and citation["cff-version"] == "1.2.0"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(r"^## Licence$", readme, re.MULTILINE), "README.md has no 'Licence' section"


def test_the_build_system_accepts_a_pep_639_licence():
    """``license = "MIT"`` (a string) and ``license-files`` need setuptools >= 77."""
    requirement = " ".join(PYPROJECT["build-system"]["requires"])
    match = re.search(r"setuptools\s*>=\s*(\d+)", requirement)
    assert match and int(match.group(1)) >= 77, f"build-system.requires {requirement!r} may not read license = 'MIT'"


# --- the Python floor ---------------------------------------------------------------------------------------------


def test_every_statement_of_the_python_floor_is_3_11():
    assert PYPROJECT["project"]["requires-python"] == ">=3.11"
    assert PYPROJECT["tool"]["ruff"]["target-version"] == "py311"
    for name in ("README.md", "book/how_to_use.md", "CONTRIBUTING.md"):
        text = (ROOT / name).read_text(encoding="utf-8")
        stated = re.findall(r"Python (3\.\d+)(?:\+| or newer)", text)
        assert stated and set(stated) == {"3.11"}, f"{name} states the Python floor as {stated}"


def _fake_python(folder, version):
    """A ``python3`` that reports ``version`` and leaves a mark when asked to create a virtual environment."""
    shim = folder / f"python{version}"
    shim.write_text("#!/bin/sh\n"
                    f'if [ "$1" = "-c" ]; then echo "{version}"; exit 0; fi\n'
                    'if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then touch "$(dirname "$0")/venv-attempted"; fi\n'
                    "exit 1\n")
    shim.chmod(0o755)
    return shim


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
@pytest.mark.parametrize("target", ["book", "test"])
def test_make_stops_before_the_venv_on_an_old_python(tmp_path, target):
    project = tmp_path / "clone"
    project.mkdir()
    for name in ("Makefile", "requirements.txt", "requirements-bench.txt", "pyproject.toml"):
        shutil.copy(ROOT / name, project / name)
    old = _fake_python(tmp_path, "3.10.14")
    result = subprocess.run(["make", "-C", str(project), target, f"PYTHON={old}"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0
    assert f"recsys-lite needs Python >= 3.11; {old} is 3.10.14" in result.stderr, result.stderr
    assert "PYTHON=python3.11" in result.stderr
    assert not (tmp_path / "venv-attempted").exists(), "make tried to create .venv with Python 3.10"
    assert not (project / ".venv").exists()

    new = _fake_python(tmp_path, "3.11.9")  # a new enough Python passes the check and goes on to make .venv
    result = subprocess.run(["make", "-C", str(project), target, f"PYTHON={new}"], capture_output=True, text=True,
                            timeout=60)
    assert "needs Python" not in result.stderr and (tmp_path / "venv-attempted").exists(), result.stderr


# --- one time budget --------------------------------------------------------------------------------------------


def test_the_pages_quote_one_chapter_budget_and_type_no_run_time():
    """The budget is written once for the pages (_config.yml's substitution) and agrees with the benchmark's;
    the pages quote it or link to the measured table, and type no run time of their own."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    budget = config["parse"]["myst_substitutions"]["chapter_budget_seconds"]
    spec = importlib.util.spec_from_file_location("book_benchmark", ROOT / "benchmarks" / "book.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert budget == bench.CHAPTER_BUDGET_SECONDS
    assert "{{ chapter_budget_seconds }}" in (ROOT / "book" / "execution.md").read_text(encoding="utf-8")
    typed = re.compile(r"\b(?:one|two|three|four|five|\d+)(?: to (?:two|three|four|five|\d+))? minutes?\b"
                       r"|\b\d+\s?(?:s|seconds)\b(?! budget)", re.IGNORECASE)
    for name in ("README.md", "book/intro.md", "book/how_to_use.md", "book/execution.md"):
        text = (ROOT / name).read_text(encoding="utf-8")
        text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)  # command examples
        assert not typed.findall(text), f"{name} types a run time: {typed.findall(text)}"
    for name in ("book/intro.md", "book/how_to_use.md"):
        assert "{doc}`execution`" in (ROOT / name).read_text(encoding="utf-8"), f"{name} does not link the table"


# --- the intro's chapter list -----------------------------------------------------------------------------------


def test_the_intros_list_has_an_entry_for_every_chapter_and_the_appendix():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    parts = {part["caption"]: [c["file"] for c in part["chapters"]] for part in toc["parts"]}
    numbered = next(files for caption, files in parts.items() if caption.startswith("From first principles"))
    intro = (ROOT / "book" / "intro.md").read_text(encoding="utf-8")
    section = intro.split("## How the book is organised", 1)[1].split("\n## ", 1)[0]
    entries = re.findall(r"^(?:\d+\.|-) .*", section, re.MULTILINE)
    assert [int(n) for n in re.findall(r"^(\d+)\. ", section, re.MULTILINE)] == list(range(1, len(numbered) + 1))
    for file in parts["Appendix"]:
        assert any(file.split("/")[-1] in entry for entry in entries), f"no list entry for the appendix {file}"


# --- the footer: version and build date ---------------------------------------------------------------------------

_spec = importlib.util.spec_from_file_location("recsys_lite_book", ROOT / "book" / "_ext" / "recsys_lite_book.py")
ext = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ext)


def test_the_extension_fills_the_footers_version_and_date(monkeypatch):
    import recsys_lite

    footer = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["html"]["extra_footer"]
    assert "{version}" in footer and "{date}" in footer
    config = types.SimpleNamespace(html_theme_options={"extra_footer": footer})
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1796083200")  # 2026-12-01 00:00 UTC
    ext._stamp_the_footer(None, config)
    assert f"recsys-lite {recsys_lite.__version__}, built 2026-12-01." in config.html_theme_options["extra_footer"]
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    config = types.SimpleNamespace(html_theme_options={"extra_footer": footer})
    ext._stamp_the_footer(None, config)
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    assert f", built {today}." in config.html_theme_options["extra_footer"]


def _site_pages(book):
    """Every page of the site, in both editions: not the theme's files under _static (zh/_static), not index.html's
    redirect to the intro."""
    pages = (p for p in book.html.rglob("*.html")
             if not any(part.startswith("_") for part in p.relative_to(book.html).parts))
    return sorted(p for p in pages if not p.read_text(encoding="utf-8").startswith('<meta http-equiv="Refresh"'))


@pytest.mark.book
def test_every_page_shows_the_version_build_date_and_licences(any_book):
    # The English footer, or the Chinese edition's (zh/_config.yml): "recsys-lite V，构建于 DATE。"
    stamp = re.compile(rf"recsys-lite {re.escape(VERSION)}(?:, built |，构建于 )(\d{{4}}-\d{{2}}-\d{{2}})[.。]")
    pages = _site_pages(any_book)
    assert pages
    for page in pages:
        text = page.read_text(encoding="utf-8")
        match = stamp.search(text)
        assert match, f"{page.relative_to(any_book.html)} does not show 'recsys-lite {VERSION}, built <date>'"
        built = datetime.date.fromisoformat(match.group(1))
        made = datetime.datetime.fromtimestamp(page.stat().st_mtime, datetime.UTC).date()
        assert abs((made - built).days) <= 1, f"{page.name}: built {built}, but the file was written on {made}"
        assert "CC BY-SA 4.0" in text and "MIT" in text, f"{page.name} has no licence note"


# --- the .ipynb download ------------------------------------------------------------------------------------------

CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


@pytest.mark.book
def test_each_chapters_download_link_is_its_notebook_and_marked_for_download(any_book):
    """The link points at the chapter's own notebook (valid nbformat, outputs stripped as stored), and the page
    loads the script that gives it a ``download`` attribute (tests/test_browser.py checks a click saves it).
    In the Chinese edition (zh/, once the build holds it) the link is the Chinese notebook."""
    editions = [(any_book.html, ROOT)] + [(any_book.html / "zh", ROOT / "zh")] * (any_book.html / "zh").is_dir()
    for html, source in editions:
        script = html / "_static" / "download-notebook.js"
        assert script.is_file() and "download" in script.read_text(encoding="utf-8")
        for notebook in (source / "chapters" / english.name for english in CHAPTERS):
            page = html / "chapters" / f"{notebook.stem}.html"
            name = page.relative_to(any_book.html)
            text = page.read_text(encoding="utf-8")
            links = re.findall(r'<a href="([^"]+\.ipynb)"[^>]*class="[^"]*btn-download-source-button', text)
            assert links == [f"../_sources/chapters/{notebook.name}"], f"{name}: download links {links}"
            downloaded = json.loads((page.parent / links[0]).read_text(encoding="utf-8"))
            assert downloaded["nbformat"] == 4 and downloaded["cells"] == json.loads(notebook.read_text())["cells"]
            assert re.search(r'<script src="\.\./_static/download-notebook\.js(?:\?v=[0-9a-f]+)?"', text), (
                f"{name} does not load download-notebook.js")


# --- the synthetic-data box in light and dark mode ------------------------------------------------------------------


def _luminance(rgb) -> float:
    def channel(c):
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a, b) -> float:
    """WCAG 2's contrast ratio of two sRGB colours (0-255 triples): (L1 + 0.05) / (L2 + 0.05), L1 the lighter."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_against_wcag_reference_values():
    assert contrast((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    assert contrast((119, 119, 119), (255, 255, 255)) == pytest.approx(4.48, abs=0.01)  # #777 on white: WCAG's
    assert contrast((10, 20, 30), (10, 20, 30)) == pytest.approx(1.0)


def _rgb(value: str, over=(255, 255, 255)):
    """A CSS colour (#rgb, #rrggbb, white, black, rgb(), rgba()) as an sRGB triple; alpha blended over ``over``."""
    value = {"white": "#fff", "black": "#000"}.get(value.strip(), value.strip())
    if value.startswith("#"):
        digits = value[1:] if len(value) > 4 else "".join(c * 2 for c in value[1:])
        return tuple(int(digits[i:i + 2], 16) for i in (0, 2, 4))
    *channels, alpha = [float(x) for x in re.findall(r"[\d.]+", value)] + ([1.0] if value.startswith("rgb(") else [])
    return tuple(round(alpha * c + (1 - alpha) * o) for c, o in zip(channels, over))


def _theme_colours():
    """pydata-sphinx-theme's light and dark values of the variables the box may use, read from its CSS."""
    import pydata_sphinx_theme

    css = (os.path.dirname(pydata_sphinx_theme.__file__) + "/theme/pydata_sphinx_theme/static/styles/"
           "pydata-sphinx-theme.css")
    text = open(css, encoding="utf-8").read()
    modes = {}
    for mode in ("light", "dark"):
        blocks = re.findall(rf"html\[data-theme={mode}\]\{{([^}}]*)\}}", text)
        modes[mode] = dict(re.findall(r"(--pst-color-[\w-]+):(#[0-9a-fA-F]{3,6})\b", "".join(blocks)))
        assert {"--pst-color-text-base", "--pst-color-warning-bg"} <= set(modes[mode]), f"{mode}: not in {css}"
    return modes


def _resolve(value: str, variables: dict) -> str:
    match = re.fullmatch(r"var\((--[\w-]+)(?:,\s*([^)]+))?\)", value.strip())
    if not match:
        return value.strip()
    return variables.get(match.group(1), match.group(2))


def jupyterlab_theme_css(mode: str) -> str:
    """The installed JupyterLab light or dark theme's CSS (its :root variables)."""
    import jupyterlab

    path = (os.path.dirname(jupyterlab.__file__) + f"/themes/@jupyterlab/theme-{mode}-extension/index.css")
    return open(path, encoding="utf-8").read()


def _jupyterlab_colours():
    """JupyterLab's output text colour (inherited by the box) and page colour, light and dark theme."""
    modes = {}
    for mode in ("light", "dark"):
        css = jupyterlab_theme_css(mode)
        text, page = (re.search(rf"{name}:\s*([^;}}]+)", css).group(1)
                      for name in ("--jp-content-font-color1", "--jp-layout-color0"))
        modes[f"JupyterLab {mode}"] = {"inherited text": text, "page": page}
    return modes


def test_the_synthetic_box_sets_readable_colours_in_both_theme_modes():
    """The box's inline style, resolved in the website's light and dark modes (pydata-sphinx-theme's variables)
    and in JupyterLab's light and dark themes (no such variables; the box inherits JupyterLab's text colour):
    text and background have a contrast of at least 4.5 (WCAG AA) in each. The old box set only a pale
    background, so JupyterLab's dark theme drew its white text on it (the defect this guards). On the website,
    whose inherited colour we take as the theme's text colour, tests/test_browser.py measures the real page."""
    from recsys_lite import data

    html = data.MovieLens._repr_html_(types.SimpleNamespace(notice="USING SYNTHETIC DATA, NOT MOVIELENS."))
    style = re.search(r'<div class="admonition warning" style="([^"]*)"', html).group(1)
    style = dict(part.split(":", 1) for part in style.split(";") if ":" in part)
    contexts = {f"website {mode}": {**variables, "inherited text": variables["--pst-color-text-base"]}
                for mode, variables in _theme_colours().items()}
    contexts.update(_jupyterlab_colours())
    for where, variables in contexts.items():
        background = _resolve(style.get("background", style.get("background-color", "")), variables)
        text = _resolve(style["color"], variables) if "color" in style else variables["inherited text"]
        assert background and not background.startswith("var("), f"{where}: no background colour in {style}"
        ratio = contrast(_rgb(text, over=_rgb(background)), _rgb(background))
        assert ratio >= 4.5, f"{where}: text {text} on {background} has contrast {ratio:.2f} < 4.5"


def _glossary_entries() -> list[str]:
    block = re.search(r"```\{glossary\}\n(.*?)\n```", (ROOT / "book" / "glossary.md").read_text(encoding="utf-8"), re.S)
    return [line.strip() for line in block.group(1).splitlines() if line.strip() and not line.startswith((" ", "\t"))]


def _term_links() -> list[tuple[str, str]]:
    """(page, glossary entry) for every {term} link of the English pages, the glossary excepted."""
    pages = [(p, "".join("".join(c["source"]) for c in json.loads(p.read_text(encoding="utf-8"))["cells"]
                         if c["cell_type"] == "markdown")) for p in sorted((ROOT / "chapters").glob("*.ipynb"))]
    pages += [(p, p.read_text(encoding="utf-8")) for p in sorted((ROOT / "book").glob("*.md")) if p.stem != "glossary"]
    links = []
    for path, text in pages:
        for content in re.findall(r"(?<!`)\{term\}`([^`]*)`", text):
            inside = re.search(r"<([^<>]+)>\s*$", content)
            links.append((path.name, (inside.group(1) if inside else content).strip()))
    return links


def test_every_glossary_entry_is_linked_from_the_page_that_teaches_it_once():
    """The glossary is reached from the text: every entry is linked from some page, and a chapter links a term at
    its first use, not again and again; every link names an entry (as the build would also say, much later)."""
    entries, links = _glossary_entries(), _term_links()
    assert len(entries) == len(set(entries)), "a glossary entry is defined twice"
    dangling = sorted({f"{page}: {entry}" for page, entry in links if entry not in entries})
    assert not dangling, f"links to no glossary entry (the build would warn): {dangling}"
    unlinked = sorted(set(entries) - {entry for _, entry in links})
    assert not unlinked, f"glossary entries no page links to: {unlinked}"
    repeated = [f"{page}: {entry} ({n} links)" for (page, entry), n in sorted(Counter(links).items())
                if n > 1 and page.endswith(".ipynb")]
    assert not repeated, "a chapter links one term more than once:\n" + "\n".join(repeated)
