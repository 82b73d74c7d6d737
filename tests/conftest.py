"""Shared fixtures: where the verified MovieLens copy is, and the loaded data."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]

# XLA's backend optimisation level 1, as the book build compiles (BUILD_XLA_FLAGS in
# book/_ext/recsys_lite_book.py), set before any test imports jax. Much of the suite's time is XLA compiling
# small programs, which level 1 does with fewer LLVM passes (the model tests took 273 s against 318 s at the
# default level 2). A level set by the person running the tests stands. The benchmarks' smoke runs drop it
# (tests/test_benchmarks.py): they run as `make bench` does.
TEST_XLA_FLAGS = ""  # what this file added to XLA_FLAGS: nothing when a level was set already
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    TEST_XLA_FLAGS = "--xla_backend_optimization_level=1"
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {TEST_XLA_FLAGS}".strip()


def _data_root() -> Path | None:
    """The folder holding ml-100k/: $RECSYS_LITE_DATA, else ../shared/data beside the repo."""
    for candidate in (os.environ.get("RECSYS_LITE_DATA"), ROOT.parent / "shared" / "data"):
        if candidate and (Path(candidate) / "ml-100k" / "u.data").is_file():
            return Path(candidate)
    return None


# `make test` runs the suite in two pytest-xdist workers (`-n 2`). The tests that build or read the built book,
# drive Chromium or start a Jupyter kernel live in BOOK_FILES, and every one of them goes to one worker, in order:
# the two builds are session fixtures (built once, by that worker), those files are the suite's longest path, and
# kernels start there one at a time (jupyter_client's port race: book/_ext/recsys_lite_book.py). The other worker
# runs everything else meanwhile, on the core a build leaves idle whenever a notebook is compiling or in Python.
# (xdist's own `--dist loadgroup` would read an `xdist_group` mark, but with pytest 9.2 it silently stops
# grouping: pytest-xdist issue #1386; so the files are grouped by name, and collection checks the list.)
BOOK_GROUP = "book"
BOOK_FILES = ("test_apparatus.py", "test_book.py", "test_browser.py", "test_pdf.py", "test_plain_jupyter.py")
BOOK_FIXTURES = {"built_book", "offline_book", "any_book"}


def pytest_collection_modifyitems(config, items):
    """A test marked book or browser, or using a built book, outside BOOK_FILES would run beside the builds."""
    strays = [item.nodeid for item in items if item.path.name not in BOOK_FILES and (
        item.get_closest_marker("book") or item.get_closest_marker("browser")
        or BOOK_FIXTURES & set(getattr(item, "fixturenames", ())))]
    if strays:
        more = f" (and {len(strays) - 1} more tests)" if len(strays) > 1 else ""
        raise pytest.UsageError(f"{strays[0]}{more} builds or reads the book, drives Chromium or starts a kernel, but "
                                f"its file is not in tests/conftest.py's BOOK_FILES, which `make test` runs in one "
                                f"worker: add the file there.")


class _BookFilesTogether:
    """With `-n N` (xdist's default `--dist load`), every test of BOOK_FILES is one unit of work for one worker."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_xdist_make_scheduler(self, config, log):
        if config.getvalue("dist") != "load":
            return None  # another distribution, asked for by name, is xdist's as documented
        from xdist.scheduler import LoadScopeScheduling

        class Scheduling(LoadScopeScheduling):
            def _split_scope(self, nodeid: str) -> str:
                return BOOK_GROUP if Path(nodeid.split("::")[0]).name in BOOK_FILES else nodeid

        return Scheduling(config, log)


def pytest_configure(config):
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_BookFilesTogether(), "recsys_lite_book_files_together")


@pytest.fixture(scope="session")
def ml100k_root() -> Path:
    root = _data_root()
    if root is None:
        pytest.skip("MovieLens-100K not found: set RECSYS_LITE_DATA to a folder holding ml-100k/")
    return root


@pytest.fixture(scope="session")
def ml100k(ml100k_root):
    from recsys_lite import data

    return data.load_movielens("ml-100k", data_dir=ml100k_root)


@pytest.fixture(scope="session")
def ml100k_loo(ml100k):
    from recsys_lite import data

    return data.leave_one_out(ml100k.ratings, ml100k.n_users, ml100k.n_items)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Never read or write the developer's real cache during tests."""
    monkeypatch.setenv("RECSYS_LITE_CACHE", str(tmp_path_factory.mktemp("cache")))


class BuiltBook:
    def __init__(self, returncode: int, log: str, html: Path, real_data: bool):
        self.returncode, self.log, self.html, self.real_data = returncode, log, html, real_data


# The two builds' JAX compilation cache: most programs are the same on MovieLens and on the synthetic stand-in
# (same shape), so the second build reads them back instead of compiling them (book/_ext/recsys_lite_book.py).
# A test session's first build empties it, so it holds one session's programs (JAX's own size limit would need
# the filelock package).
SHARED_JAX_CACHE = ROOT / "_build" / ".jax_cache_shared"
_shared_cache_emptied = []


def _build_book(env: dict, out: Path | None, log_name: str, real_data: bool) -> BuiltBook:
    """Build the whole book, warnings as errors, into ``out`` (default ``_build/``).

    ``--all`` re-reads every page so that every warning is seen again;
    execution results come from the cache only when neither the notebook nor
    ``recsys_lite`` nor the data source changed (see book/_ext). A fresh clone
    (CI) has no cache, so there everything executes.
    """
    import subprocess
    import sys

    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT), "--all", "-W", "--keep-going"]
    if out is not None:
        cmd += ["--path-output", str(out)]
    if not _shared_cache_emptied:
        import shutil

        shutil.rmtree(SHARED_JAX_CACHE, ignore_errors=True)
        _shared_cache_emptied.append(True)
    env = dict(env, RECSYS_LITE_JAX_CACHE=str(SHARED_JAX_CACHE))
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    log = result.stdout + result.stderr
    (ROOT / "_build").mkdir(exist_ok=True)
    (ROOT / "_build" / log_name).write_text(log)
    html = (out if out is not None else ROOT) / "_build" / "html"
    return BuiltBook(result.returncode, log, html, real_data=real_data)


@pytest.fixture(scope="session")
def built_book() -> BuiltBook:
    """The book as CI and a reader with the data see it (MovieLens when it is found)."""
    env = dict(os.environ)
    root = _data_root()
    if root is not None:
        env["RECSYS_LITE_DATA"] = str(root)
    return _build_book(env, None, "test-build.log", real_data=root is not None)


OFFLINE_BUILD = ROOT / "_build" / "offline"


@pytest.fixture(scope="session")
def offline_book() -> BuiltBook:
    """The book as a reader with no data and no network sees it: every page on the synthetic stand-in.

    No ``RECSYS_LITE_DATA``, ``RECSYS_LITE_OFFLINE=1`` and an empty cache, so
    the loader can neither find nor download MovieLens. It builds into
    ``_build/offline/`` with an execution cache of its own.
    """
    env = {k: v for k, v in os.environ.items() if k != "RECSYS_LITE_DATA"}
    cache = OFFLINE_BUILD / "empty-data-cache"
    if cache.exists():
        import shutil

        shutil.rmtree(cache)
    cache.mkdir(parents=True)
    env.update(RECSYS_LITE_OFFLINE="1", RECSYS_LITE_CACHE=str(cache))
    return _build_book(env, OFFLINE_BUILD, "test-build-offline.log", real_data=False)


@pytest.fixture(scope="session", params=["movielens", "offline"])
def any_book(request) -> BuiltBook:
    """Each of the two builds in turn, for the checks that both must pass."""
    return request.getfixturevalue("built_book" if request.param == "movielens" else "offline_book")
