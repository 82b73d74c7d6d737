"""Shared fixtures: where the verified MovieLens copy is, and the loaded data."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]


def _data_root() -> Path | None:
    """The folder holding ml-100k/: $RECSYS_LITE_DATA, else ../shared/data beside the repo."""
    for candidate in (os.environ.get("RECSYS_LITE_DATA"), ROOT.parent / "shared" / "data"):
        if candidate and (Path(candidate) / "ml-100k" / "u.data").is_file():
            return Path(candidate)
    return None


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


@pytest.fixture(scope="session")
def built_book() -> BuiltBook:
    """Build the whole book once per session, warnings as errors.

    ``--all`` re-reads every page so that every warning is seen again;
    execution results come from the cache only when neither the notebook nor
    ``recsys_lite`` nor the data source changed (see book/_ext). A fresh clone
    (CI) has no cache, so there everything executes.
    """
    import subprocess
    import sys

    env = dict(os.environ)
    root = _data_root()
    if root is not None:
        env["RECSYS_LITE_DATA"] = str(root)
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT), "--all", "-W", "--keep-going"]
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    log = result.stdout + result.stderr
    (ROOT / "_build").mkdir(exist_ok=True)
    (ROOT / "_build" / "test-build.log").write_text(log)
    return BuiltBook(result.returncode, log, ROOT / "_build" / "html", real_data=root is not None)
