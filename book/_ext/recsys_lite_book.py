"""Sphinx extension for building the recsys-lite book.

1. Tells notebooks they are being executed for the website, by calling
   ``recsys_lite.config.set_book_build()`` before any kernel starts (kernels
   inherit the environment). ``recsys_lite.widgets.explore`` then emits
   self-contained HTML sliders instead of ipywidgets, and ``train.fit``
   prints one summary line instead of a progress bar.
2. Keeps the execution cache honest. myst-nb's cache keys a notebook by its
   code cells only; a change to ``recsys_lite`` or to the data source would
   leave stale numbers on the page. We fingerprint both; when the
   fingerprint changes we clear the cache and make Sphinx re-read every
   notebook (otherwise its own saved environment would skip them).
3. Drops repeated inline scripts: sphinx-thebe adds its configuration
   script each time the environment is read, and a second
   ``const THEBE_JS_URL`` is a JavaScript error on every page.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _fingerprint() -> str:
    digest = hashlib.sha256()
    package = ROOT / "recsys_lite"
    for path in sorted(package.rglob("*.py")):  # subpackages (nn/, models/) included
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    from recsys_lite.data import locate_movielens

    try:
        found, label = locate_movielens()
    except FileNotFoundError as err:  # reported again, fully, by the notebook itself
        found, label = None, str(err)
    digest.update(f"data={found}|{label}".encode())
    return digest.hexdigest()


def _stamp_path(app, config) -> tuple[Path, Path]:
    # myst-nb's default when the path is not configured (as in Jupyter Book).
    cache = Path(getattr(config, "nb_execution_cache_path", "") or Path(app.outdir).parent / ".jupyter_cache")
    return cache, cache.parent / ".recsys_lite_fingerprint"


def _refresh_cache(app, config) -> None:
    cache, stamp = _stamp_path(app, config)
    app.recsys_lite_fingerprint = _fingerprint()
    if stamp.exists() and stamp.read_text() == app.recsys_lite_fingerprint:
        return
    app.recsys_lite_stale = True
    if cache.exists():
        shutil.rmtree(cache)
        print("recsys_lite_book: library code or data source changed; cleared the execution cache")


def _save_fingerprint(app, exception) -> None:
    """Record the fingerprint only once a build has succeeded with it."""
    if exception is None and getattr(app, "recsys_lite_fingerprint", None):
        _, stamp = _stamp_path(app, app.config)
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(app.recsys_lite_fingerprint)


def _reread_notebooks(app, env, added, changed, removed) -> list[str]:
    """After a fingerprint change, every notebook is out of date."""
    if not getattr(app, "recsys_lite_stale", False):
        return []
    return sorted(doc for doc in env.found_docs if str(env.doc2path(doc)).endswith(".ipynb"))


def _drop_repeated_scripts(app, pagename, templatename, context, doctree) -> None:
    """Keep one copy of each script (Sphinx 7.4 treats filename None and '' as different)."""
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen, unique = set(), []
    for script in scripts:
        key = (script.filename or "", script.priority, tuple(sorted(script.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def setup(app):
    from recsys_lite import config

    config.set_book_build()
    app.connect("config-inited", _refresh_cache)
    app.connect("env-get-outdated", _reread_notebooks)
    app.connect("build-finished", _save_fingerprint)
    # priority 1: run before any handler that returns a template (that stops the event).
    app.connect("html-page-context", _drop_repeated_scripts, priority=1)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
