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
4. Builds the Chinese edition too (``recsys_lite_editions``, beside this file).
   Starts one kernel at a time across the worker processes (jupyter_client's port race).
5. Makes a clean build faster without changing a page (benchmarks/book.py
   measures each lever; benchmarks/RESULTS.md has the numbers):

   - **Two notebooks at a time.** Sphinx reads (and myst-nb executes) the
     pages in ``RECSYS_LITE_BOOK_JOBS`` worker processes (default: 2, or 1 on
     a one-core machine; 1 is the serial build). Jupyter Book 1's command
     line has no ``-j``, so we set the number here. The pages are handed out
     one at a time, the longest notebooks first, so the two workers finish
     close together (Sphinx would otherwise cut the sorted list of pages into
     two fixed halves: chapters 0–3 against 4–10). XLA's thread pools are
     left as they are: a kernel uses the second core whenever the other one
     is compiling, in Python, or done. The longest notebook runs at normal
     priority and every other page, with its kernel's session, at ``nice`` 10, so the longest chapter
     takes the second core whenever it can use it and its time stays close
     to its serial time; the shorter ones, which have room under the 90 s
     budget, absorb the sharing.
   - **A compilation cache scoped to the build.** Kernels write JAX's
     persistent compilation cache to ``<build>/_build/.jax_cache``, next to
     the execution cache and cleared with it: a clean build starts cold, but a
     program compiled once (the same training epoch re-created with a new
     optimizer object, the same model scored in two chapters) is read back
     instead of compiled again. Every program is stored, however quickly it
     compiled, and XLA's backend runs at optimisation level 1 (it compiles
     faster; ``BUILD_XLA_FLAGS``). Entries are keyed by the program's text and
     XLA's options, so a hit is the same machine code. ``RECSYS_LITE_JAX_CACHE``
     names a cache shared by several builds instead, which no build clears:
     the test suite's two builds share one, since most programs are the same
     on MovieLens and on its synthetic stand-in of the same shape (a program
     that reads the data holds it, and so differs). The models chapter 8
     saves for chapter 9 (``RECSYS_LITE_CHECKPOINTS``) live there too, so a
     clean build trains them; chapter 9 starts last, when chapter 8 (started
     first) has normally finished.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Seconds each notebook took in a clean build (benchmarks/book.py, MovieLens, quiet machine), used only to
# start the longest first. A stale figure costs balance between the two workers, never correctness; the
# build folder's own execution records replace these when it has them.
EXPECTED_SECONDS = {"08_a_complete_recommender": 125, "05_collaborative_filtering": 76, "06_convolution": 67,
                    "07_recurrent_layers": 46, "09_where_next": 44, "04_neural_networks": 31,
                    "03_gradient_descent": 25, "02_loss_functions": 21, "10_scaling_out": 18,
                    "01_the_recommendation_problem": 15, "00_jax_primer": 9}
# Started after every other notebook: chapter 9 reads the models chapter 8 (started first) saves.
STARTS_LAST = ("09_where_next",)
# XLA compiles for the CPU through LLVM, at optimisation level 2 by default. Compilation is about half of
# every chapter's execution time. At level 1 the many small programs (a layer's initial weights, the
# metrics) compile up to 40 % faster and the training epochs 0-15 % faster, and the epochs run at the same
# speed (benchmarks/compile_level.py, benchmarks/RESULTS.md). Results can differ from a level-2 run in the
# last bits of float32 arithmetic, as they do between two CPUs; every figure on the pages is computed in
# the build, so the prose stays true to the numbers shown.
BUILD_XLA_FLAGS = "--xla_backend_optimization_level=1"
# Extensions Jupyter Book loads that do not declare whether they are safe for parallel builds (Sphinx then
# warns and builds serially). Each is: sphinx_jupyterbook_latex acts for the LaTeX builder only;
# sphinx_multitoc_numbering renumbers the table of contents in the main process after reading;
# sphinx-mathjax-offline copies MathJax's files when the build has finished.
UNDECLARED_BUT_SAFE = ("sphinx_jupyterbook_latex", "sphinx_multitoc_numbering", "sphinx-mathjax-offline")


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


# A JAX compilation cache shared by several builds, named by whoever runs them (the test suite's two builds,
# MovieLens and its synthetic stand-in of the same shape, compile many identical programs). The build neither
# clears it nor owns it; unset, each build has its own, cleared with its execution cache.
SHARED_JAX_CACHE = "RECSYS_LITE_JAX_CACHE"


def _jax_cache_path(app, config) -> Path:
    shared = os.environ.get(SHARED_JAX_CACHE, "")
    return Path(shared) if shared else _stamp_path(app, config)[0].parent / ".jax_cache"


def _checkpoint_path(app, config) -> Path:
    return _stamp_path(app, config)[0].parent / ".checkpoints"


def _refresh_cache(app, config) -> None:
    if os.environ.get("RECSYS_LITE_EDITION_OF"):  # the Chinese edition, built by the English build that just did this
        return
    cache, stamp = _stamp_path(app, config)
    app.recsys_lite_fingerprint = _fingerprint()
    if stamp.exists() and stamp.read_text() == app.recsys_lite_fingerprint:
        return
    app.recsys_lite_stale = True
    if cache.exists():
        shutil.rmtree(cache)
        print("recsys_lite_book: library code or data source changed; cleared the execution cache")
    own = [_checkpoint_path(app, config)] + ([] if os.environ.get(SHARED_JAX_CACHE) else [_jax_cache_path(app, config)])
    for folder in own:  # a shared compilation cache is not cleared: its entries are keyed by the program's text
        if folder.exists():
            shutil.rmtree(folder)


def _scope_caches_to_the_build(app, config) -> None:
    """Kernels inherit the environment: JAX's persistent cache and the chapters' saved models in the build
    folder, every compiled program stored (threshold 0 instead of JAX's default of one second of compile
    time), and XLA's backend optimisation level 1 (see ``BUILD_XLA_FLAGS``).

    Most of the book's programs compile in well under a second, and many are compiled again, identical, in
    a later chapter or a later fit: the threefry programs that draw a layer's initial weights (0.1-0.2 s
    each, one per weight shape), the metrics, the epochs of models two chapters train alike. Storing them
    all is what lets the second one be read back; for the smallest programs reading costs about what
    compiling does, so they neither gain nor lose."""
    os.environ["RECSYS_LITE_CHECKPOINTS"] = str(_checkpoint_path(app, config))
    os.environ["JAX_COMPILATION_CACHE_DIR"] = str(_jax_cache_path(app, config))
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_backend_optimization_level" not in flags:  # a level the person building chose stands
        os.environ["XLA_FLAGS"] = f"{flags} {BUILD_XLA_FLAGS}".strip()


def jobs() -> int:
    """Worker processes for reading (executing) the pages: $RECSYS_LITE_BOOK_JOBS, default min(2, cores)."""
    value = os.environ.get("RECSYS_LITE_BOOK_JOBS", "")
    if not value:
        return min(2, os.cpu_count() or 1)
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"RECSYS_LITE_BOOK_JOBS must be a whole number >= 1; got {value!r}")
    return int(value)


def _parallel_build(app, config) -> None:
    """Read (execute) the pages in jobs() processes, longest notebook first, one page per task."""
    n = jobs()
    if n < 2:
        return
    for name in UNDECLARED_BUT_SAFE:
        if name in app.extensions:
            app.extensions[name].parallel_read_safe = True
            app.extensions[name].parallel_write_safe = True
    app.parallel = n
    import sphinx.builders
    from sphinx.util.parallel import ParallelTasks

    sphinx.builders.make_chunks = one_page_per_task
    if not getattr(ParallelTasks.add_task, "recsys_lite", False):
        add_task = ParallelTasks.add_task

        def add_task_telling_why(self, task_func, arg=None, result_func=None):
            return add_task(self, _with_cause(task_func, yield_to_longest=arg != [_LONGEST[0]]), arg, result_func)

        add_task_telling_why.recsys_lite = True
        ParallelTasks.add_task = add_task_telling_why


def one_page_per_task(docnames, nproc, maxbatch=10):
    """Sphinx's chunks, one page each, arranged so that Sphinx starts them in the order of ``docnames``.

    ``ParallelTasks`` starts the first ``nproc`` tasks as they are added, then, as workers free up, the
    LAST task still waiting (``dict.popitem``); so the waiting ones are handed over in reverse.
    tests/test_book_extension.py checks the start order against the installed Sphinx."""
    chunks = [[doc] for doc in docnames]
    return chunks[:nproc] + chunks[nproc:][::-1]


class PageFailed(Exception):
    """A page failed in a worker process; the message holds the whole chain (which cell, which error)."""


# The page started first (the longest notebook), set when the pages are ordered.
_LONGEST = [None]
NICE_OTHERS = 10


def _kernels_yield_too() -> None:
    """Give the kernels this worker starts the worker's lower priority.

    Jupyter starts every kernel in a new session (``setsid``). Under Linux's autogroup scheduling (on by
    default on most distributions, and on this machine) the processes of a session compete with other
    sessions as one group, and a nice value counts only inside its group: the worker's ``nice`` reached
    its kernel, but the kernel's group still took half the CPU from the longest chapter's kernel. Writing
    the nice value to ``/proc/<pid>/autogroup`` lowers the whole group. Without autogroups (other systems)
    the file is missing and the inherited nice value is what applies."""
    from jupyter_client.provisioning import local_provisioner

    launch = local_provisioner.launch_kernel
    if getattr(launch, "recsys_lite", False):
        return

    def launch_yielding(*args, **kwargs):
        process = launch(*args, **kwargs)
        try:
            Path(f"/proc/{process.pid}/autogroup").write_text(str(NICE_OTHERS))
        except OSError:
            pass
        return process

    launch_yielding.recsys_lite = True
    local_provisioner.launch_kernel = launch_yielding


def _kernels_start_one_at_a_time(lock_file: Path) -> None:
    """Start one kernel at a time across this build's worker processes.

    jupyter_client picks a kernel's five ports by binding port 0 and letting go, and the kernel binds them
    again a moment later; a kernel starting in the other worker in that moment can be handed the same port,
    and then one kernel dies with "Address already in use" and its page fails after a minute's wait
    (jupyter_client issue #487; it failed a clean build here when chapters 5 and 8 started together). An
    exclusive ``flock`` on a file in the build folder is held from choosing the ports until the kernel
    answers (its ports are bound); the other worker's kernel waits those few seconds. The OS drops the lock
    if a worker dies."""
    import fcntl

    from nbclient import NotebookClient

    _KERNEL_LOCK[0] = lock_file
    start_kernel, start_client = NotebookClient.async_start_new_kernel, NotebookClient.async_start_new_kernel_client
    if getattr(start_kernel, "recsys_lite", False):
        return

    def release(client) -> None:
        held = client.__dict__.pop("_recsys_lite_kernel_lock", None)
        if held is not None:
            held.close()          # closing the file drops the flock

    async def start_kernel_alone(self, **kwargs):
        held = open(_KERNEL_LOCK[0], "w")  # noqa: SIM115 (held across two methods, closed by release)
        fcntl.flock(held, fcntl.LOCK_EX)
        self._recsys_lite_kernel_lock = held
        try:
            await start_kernel(self, **kwargs)
        except BaseException:
            release(self)
            raise
        if self.kc is not None:   # a client already there is not started again: nothing will let go
            release(self)

    async def start_client_then_let_go(self):
        try:
            return await start_client(self)
        finally:
            release(self)

    start_kernel_alone.recsys_lite = True
    NotebookClient.async_start_new_kernel = start_kernel_alone
    NotebookClient.async_start_new_kernel_client = start_client_then_let_go


_KERNEL_LOCK: list[Path | None] = [None]


def _one_kernel_start_at_a_time(app, config) -> None:
    _kernels_start_one_at_a_time(_stamp_path(app, config)[0].parent / ".kernel-start.lock")


def _with_cause(task_func, yield_to_longest: bool = False):
    """Sphinx reports a worker's failure by its last exception's first line ("ExecutionError: <notebook>") and
    drops the worker's log, which held the failing cell; keep the whole chain in the message instead. With
    ``yield_to_longest`` the worker (and the kernel it starts) runs at lower priority than the longest page."""
    def task(*args):
        if yield_to_longest:
            os.nice(NICE_OTHERS)
            _kernels_yield_too()
        try:
            return task_func(*args)
        except Exception as err:
            raise PageFailed("".join(traceback.format_exception(err))) from None
    return task


def _measured_seconds(app) -> dict[str, float]:
    """Execution seconds per notebook from this build folder's execution cache (empty when there is none)."""
    cache = _stamp_path(app, app.config)[0]
    if not (cache / "global.db").exists():
        return {}
    try:
        from jupyter_cache import get_cache

        records = get_cache(cache)
        try:
            return {Path(r.uri).stem: float(r.data.get("execution_seconds", 0.0))
                    for r in records.list_cache_records()}
        finally:
            records.db.dispose()  # no open database connection is carried into the forked workers
    except Exception:  # an unreadable cache only costs the ordering
        return {}


def _create_the_execution_cache(app) -> None:
    """Create myst-nb's execution cache (a SQLite database) before the workers start.

    On a clean build there is none, and each worker's first notebook creates it: two workers doing so at
    once collide ("table settings already exists") and the build fails, now and then."""
    if getattr(app.config, "nb_execution_mode", "") != "cache":
        return
    cache = _stamp_path(app, app.config)[0]
    if (cache / "global.db").exists():
        return
    from jupyter_cache.cache.db import create_db

    cache.mkdir(parents=True, exist_ok=True)
    create_db(cache).dispose()  # no open database connection is carried into the forked workers


def _longest_first(app, env, docnames: list[str]) -> None:
    """Start the notebooks that take longest first (in place): two workers then finish close together.
    STARTS_LAST go after every other page. Before that, create the execution cache the workers share."""
    if app.parallel < 2:
        return
    _create_the_execution_cache(app)
    seconds = {**EXPECTED_SECONDS, **_measured_seconds(app)}
    docnames.sort(key=lambda doc: (Path(doc).name in STARTS_LAST, -seconds.get(Path(doc).name, 0.0)))
    _LONGEST[0] = docnames[0] if docnames else None


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


def _single_page_knows_the_html_nodes(app) -> None:
    """The single-page builder (``make pdf``) renders every node the HTML builder renders.

    Sphinx gives a builder the node handlers registered under its name, and falls back to those of its
    format ("html") only when it has none. sphinx-exercise registers handlers for "singlehtml", so the
    nodes registered for "html" alone (sphinx-design's dropdowns) had none there and the build failed."""
    handlers = app.registry.translation_handlers
    if app.builder.name != "html" and app.builder.format == "html" and app.builder.name in handlers:
        for node, visitors in handlers.get("html", {}).items():
            handlers[app.builder.name].setdefault(node, visitors)


def _number_unnumbered_pages_from_one(app, env):
    """Restart the figure, equation and exercise counters on each page outside the numbered chapters.

    Sphinx numbers the enumerable nodes of every page that has no section number (the primer, the
    appendix) with one counter shared by all of them, so the appendix's first exercise would read
    "Exercise 5" (the primer has four). Renumber each such page from 1, in its own order.
    """
    changed = []
    for docname, by_type in env.toc_fignumbers.items():
        if any(env.toc_secnumbers.get(docname, {}).values()):
            continue
        for numbers in by_type.values():
            for number, (node_id, old) in enumerate(sorted(numbers.items(), key=lambda item: item[1]), 1):
                if old != (number,):
                    numbers[node_id] = (number,)
                    changed.append(docname)
    return sorted(set(changed))


def _stamp_the_footer(app, config) -> None:
    """Fill ``{version}`` and ``{date}`` in _config.yml's ``html.extra_footer``: every page says which
    recsys-lite (pyproject.toml's version, as ``recsys_lite.__version__`` reads it) it was built from, and on
    which day (UTC; from ``SOURCE_DATE_EPOCH`` when it is set, so a reproducible build can fix it)."""
    import datetime

    from recsys_lite import __version__

    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    when = datetime.datetime.fromtimestamp(int(epoch), datetime.UTC) if epoch else datetime.datetime.now(datetime.UTC)
    options = config.html_theme_options
    footer = options.get("extra_footer") or ""
    options["extra_footer"] = footer.replace("{version}", __version__).replace("{date}", when.date().isoformat())


def setup(app):
    from recsys_lite import config

    config.set_book_build()
    app.setup_extension("recsys_lite_editions")  # the Chinese edition (book/_ext/recsys_lite_editions.py)
    app.connect("config-inited", _refresh_cache)
    app.connect("config-inited", _scope_caches_to_the_build)
    app.connect("config-inited", _parallel_build)
    app.connect("config-inited", _one_kernel_start_at_a_time)
    app.connect("builder-inited", _single_page_knows_the_html_nodes)
    app.connect("config-inited", _stamp_the_footer)
    app.connect("env-before-read-docs", _longest_first)
    app.connect("env-get-outdated", _reread_notebooks)
    app.connect("env-get-updated", _number_unnumbered_pages_from_one)
    app.connect("build-finished", _save_fingerprint)
    # priority 1: run before any handler that returns a template (that stops the event).
    app.connect("html-page-context", _drop_repeated_scripts, priority=1)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
