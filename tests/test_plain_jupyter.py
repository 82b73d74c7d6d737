"""The chapters run in any Jupyter kernel that holds recsys_lite, with no myst-nb and no book around them.

The fast checks read the files: every chapter takes ``glue`` from
``recsys_lite`` (never from myst-nb), says how to run it elsewhere, and every
package a chapter or the library imports is a dependency of the package. The
slow one (marked ``book``) does what a reader does: a fresh virtual
environment, ``pip install`` of the package alone (its own loose ranges, no
``requirements.txt``) and ``ipykernel``, a kernelspec for it, and one whole
chapter executed in that kernel with no data and no network.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
PACKAGE = ROOT / "recsys_lite"
# The chapter the slow test runs: it loads the data, plots, tables, sliders (live ipywidgets outside the
# build) and glues 75 values, in about the time of the shortest page.
CHAPTER = ROOT / "chapters" / "01_the_recommendation_problem.ipynb"
# Imported by the library only where they are, never required: matplotlib_inline comes with every kernel
# (ipykernel depends on it; plots.use_book_style catches the ImportError outside one), and myst_nb is used
# by recsys_lite.glue in the book's build and shown without otherwise.
OPTIONAL = {"matplotlib_inline", "myst_nb"}


def _cells(notebook: Path, kind: str) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(notebook.read_text(encoding="utf-8"))["cells"]
            if c["cell_type"] == kind]


def _top_level_imports(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.name)
def test_every_chapter_glues_with_the_library_and_never_imports_myst_nb(notebook):
    code = "\n".join(_cells(notebook, "code"))
    assert "myst_nb" not in _top_level_imports(code), f"{notebook.name} imports myst_nb: use recsys_lite.glue"
    first = _cells(notebook, "code")[0]
    assert re.search(r"^from recsys_lite import [\w, ]*\bglue\b", first, re.M), \
        f"{notebook.name}: the first code cell must import glue from recsys_lite"


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.name)
def test_every_chapter_says_how_to_run_it_elsewhere(notebook):
    """The second cell, right after the introduction, holds the shared note (_config.yml's substitution)."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    assert cells[1]["cell_type"] == "markdown" and "{{ run_elsewhere }}" in "".join(cells[1]["source"]), \
        f"{notebook.name}: cell 1 must be the 'run this page elsewhere' note"
    assert cells[2]["cell_type"] == "code", f"{notebook.name}: the note must come right before the first code cell"


def test_the_note_is_defined_once_and_names_the_install_command():
    substitutions = yaml.safe_load((ROOT / "_config.yml").read_text())["parse"]["myst_substitutions"]
    assert "pip install" in substitutions["install_recsys_lite"]
    note = substitutions["run_elsewhere"]
    assert "{{ install_recsys_lite }}" in note and ":class: dropdown" in note and "synthetic stand-in" in note
    assert "{{ install_recsys_lite }}" in (ROOT / "book" / "how_to_use.md").read_text(encoding="utf-8")


def test_the_package_depends_on_everything_the_chapters_and_the_library_import():
    """pyproject's dependencies, mapped to import names through the installed distributions, cover every
    third-party import of chapters/*.ipynb and recsys_lite/ (myst-nb is no longer one of them)."""
    import tomllib  # here, not at the top: in the standard library from Python 3.11, which ruff may not assume

    imported = set()
    for notebook in CHAPTERS:
        for cell in _cells(notebook, "code"):
            imported |= _top_level_imports("\n".join(line for line in cell.splitlines()
                                                     if not line.lstrip().startswith(("%", "!"))))
    for path in PACKAGE.rglob("*.py"):
        imported |= _top_level_imports(path.read_text(encoding="utf-8"))
    third_party = imported - set(sys.stdlib_module_names) - {"recsys_lite"} - OPTIONAL
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=!~ \[;]", spec, maxsplit=1)[0].lower().replace("_", "-") for spec in declared}
    provided = {module for module, dists in metadata.packages_distributions().items()
                if any(d.lower().replace("_", "-") in names for d in dists)}
    missing = sorted(third_party - provided)
    assert not missing, f"imported but not in pyproject's [project] dependencies: {missing}"
    pinned = [spec for spec in declared if "==" in spec]
    assert not pinned, f"hard pins belong in requirements.txt, not in the package: {pinned}"


def _quiet_env(**extra: str) -> dict:
    """The environment without this checkout or the book's switches on any path."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "RECSYS_LITE_DATA", "RECSYS_LITE_STATIC_WIDGETS", "JUPYTER_PATH",
                        "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(extra)
    return env


def _prose_keys(notebook: Path) -> set[str]:
    """The glue keys this page's prose shows: {glue:text}`key` or {glue:text}`key:fmt`, not other pages'."""
    keys = set()
    for text in _cells(notebook, "markdown"):
        for reference in re.findall(r"\{glue(?::\w+)?\}`([^`]+)`", text):
            if "::" not in reference:
                keys.add(reference.split(":")[0])
    return keys


@pytest.mark.book
def test_a_chapter_runs_in_a_fresh_venv_holding_only_the_package(monkeypatch, capsys):
    """venv + `pip install <package> ipykernel` + one whole chapter, offline, on the synthetic stand-in."""
    import nbclient
    import nbformat

    with tempfile.TemporaryDirectory(prefix="recsys-lite-plain-") as tmp:   # 1 GB: removed, never kept
        tmp = Path(tmp)
        started = time.perf_counter()
        # The package's files only, so that the build leaves nothing in the checkout.
        source = tmp / "src"
        shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
            ".git", ".venv", "_build", "__pycache__", ".pytest_cache", ".hypothesis", "*.egg-info", "build",
            "chapters", "tests", "benchmarks", "book"))
        venv = tmp / "venv"
        python = venv / "bin" / "python"
        env = _quiet_env()
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env)
        install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-cache-dir",
                                  "--disable-pip-version-check", str(source), "ipykernel"],
                                 env=env, capture_output=True, text=True)
        assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
        jupyter = tmp / "jupyter"
        subprocess.run([str(python), "-m", "ipykernel", "install", "--prefix", str(jupyter),
                        "--name", "recsys-lite-plain", "--display-name", "recsys_lite only"],
                       check=True, env=env, capture_output=True)
        installed = time.perf_counter()

        cache = tmp / "empty-cache"
        cache.mkdir()
        kernel_env = _quiet_env(RECSYS_LITE_OFFLINE="1", RECSYS_LITE_CACHE=str(cache))
        monkeypatch.setenv("JUPYTER_PATH", str(jupyter / "share" / "jupyter"))
        nb = nbformat.read(CHAPTER, as_version=4)
        probe = ("import importlib.util, sys, recsys_lite\n"
                 "print('PROBE', importlib.util.find_spec('myst_nb') is None, sys.prefix, recsys_lite.__file__)")
        nb.cells.append(nbformat.v4.new_code_cell(probe))
        work = tmp / "work"
        work.mkdir()
        client = nbclient.NotebookClient(nb, kernel_name="recsys-lite-plain", timeout=600, allow_errors=False,
                                         resources={"metadata": {"path": str(work)}})
        client.execute(env=kernel_env)   # raises CellExecutionError on the first cell that fails
        finished = time.perf_counter()

    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]
    errors = [out for out in outputs if out.output_type == "error"]
    assert not errors, errors
    text = "".join(out.get("text", "") for out in outputs if out.output_type == "stream")

    probe_line = next(line for line in text.splitlines() if line.startswith("PROBE"))
    _, no_myst_nb, prefix, module = probe_line.split(" ", 3)
    assert no_myst_nb == "True", "the kernel can import myst_nb: it is not a plain one"
    assert Path(prefix) == venv and Path(module).is_relative_to(venv), probe_line

    assert "USING SYNTHETIC DATA, NOT MOVIELENS" in text, "the page did not run on the synthetic stand-in"
    shown = set(re.findall(r"^(\w+) = ", text, re.M))
    keys = _prose_keys(CHAPTER)
    assert keys, "the chapter's prose refers to no glued value"
    assert not keys - shown, f"glued values the prose shows but the kernel's output does not: {sorted(keys - shown)}"
    with capsys.disabled():
        print(f"\n[plain Jupyter] venv + install {installed - started:.0f} s, "
              f"{CHAPTER.name} {finished - installed:.0f} s")
