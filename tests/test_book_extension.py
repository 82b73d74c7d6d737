"""The book's Sphinx extension: caches cleared when the library or data source changes; the parallel build."""

from __future__ import annotations

import importlib.util
import types
from pathlib import Path

import pytest
from conftest import ROOT

spec = importlib.util.spec_from_file_location("recsys_lite_book", ROOT / "book" / "_ext" / "recsys_lite_book.py")
ext = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ext)


def _app(tmp_path):
    outdir = tmp_path / "_build" / "html"
    config = types.SimpleNamespace(nb_execution_cache_path="")
    return types.SimpleNamespace(outdir=str(outdir), config=config), config


def _build(tmp_path, *, succeed=True):
    """What one build does with the extension: check at start, record at the end."""
    app, config = _app(tmp_path)
    ext._refresh_cache(app, config)
    reread = ext._reread_notebooks(app, _env(), [], [], [])
    ext._save_fingerprint(app, None if succeed else RuntimeError("cell failed"))
    return reread


def test_cache_survives_when_nothing_changed_and_is_cleared_when_the_data_source_changes(tmp_path, monkeypatch,
                                                                                          ml100k_root):
    cache = tmp_path / "_build" / ".jupyter_cache"
    monkeypatch.setenv("RECSYS_LITE_DATA", str(ml100k_root))
    assert _build(tmp_path) == ["chapters/01_x"]  # a first build reads everything
    cache.mkdir(parents=True)
    (cache / "entry").write_text("executed with the real data")
    assert _build(tmp_path) == [], "an unchanged fingerprint re-reads nothing"
    assert (cache / "entry").exists(), "an unchanged fingerprint keeps the cache"
    monkeypatch.delenv("RECSYS_LITE_DATA")  # now the loader would fall back to the synthetic data
    assert _build(tmp_path, succeed=False) == ["chapters/01_x"], "a new data source re-reads every notebook"
    assert not cache.exists(), "and clears the cache"
    assert _build(tmp_path) == ["chapters/01_x"], "a failed build leaves the old fingerprint, so it tries again"
    assert _build(tmp_path) == []


def _env():
    docs = {"book/intro": "book/intro.md", "chapters/01_x": "chapters/01_x.ipynb"}
    return types.SimpleNamespace(found_docs=set(docs), doc2path=lambda doc: docs[doc])


def test_fingerprint_covers_the_library_source(monkeypatch, tmp_path):
    before = ext._fingerprint()
    fake_root = tmp_path / "repo"
    (fake_root / "recsys_lite").mkdir(parents=True)
    (fake_root / "recsys_lite" / "data.py").write_text("# another version of the library\n")
    monkeypatch.setattr(ext, "ROOT", fake_root)
    top_level_only = ext._fingerprint()
    assert top_level_only != before
    (fake_root / "recsys_lite" / "nn").mkdir()
    (fake_root / "recsys_lite" / "nn" / "recurrent.py").write_text("# a layer in a subpackage\n")
    assert ext._fingerprint() != top_level_only, "a change in a subpackage must re-run the notebooks"


def test_the_build_switches_book_build_mode_on(monkeypatch):
    from recsys_lite import config

    monkeypatch.setenv(config.STATIC_WIDGETS, "0")  # restored after the test
    assert not config.book_build()
    loaded = []
    app = types.SimpleNamespace(connect=lambda *args, **kwargs: None, setup_extension=loaded.append)
    ext.setup(app)
    assert config.book_build()
    assert loaded == ["recsys_lite_editions"], "the Chinese edition's half of the build is not loaded"


def test_jobs_reads_the_environment_and_rejects_nonsense(monkeypatch):
    monkeypatch.delenv("RECSYS_LITE_BOOK_JOBS", raising=False)
    monkeypatch.setattr(ext.os, "cpu_count", lambda: 1)
    assert ext.jobs() == 1, "a one-core machine builds serially"
    monkeypatch.setattr(ext.os, "cpu_count", lambda: 16)
    assert ext.jobs() == 2
    monkeypatch.setenv("RECSYS_LITE_BOOK_JOBS", "3")
    assert ext.jobs() == 3
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("RECSYS_LITE_BOOK_JOBS", bad)
        with pytest.raises(ValueError, match="RECSYS_LITE_BOOK_JOBS"):
            ext.jobs()


def test_the_longest_notebooks_start_first_and_pages_keep_their_relative_order(tmp_path):
    app, _ = _app(tmp_path)
    app.parallel = 2
    docs = ["book/intro", "chapters/00_jax_primer", "chapters/05_collaborative_filtering",
            "chapters/08_a_complete_recommender", "chapters/09_where_next", "book/notation"]
    ext._longest_first(app, None, docs)
    assert ext._LONGEST[0] == "chapters/08_a_complete_recommender"
    assert docs == ["chapters/08_a_complete_recommender", "chapters/05_collaborative_filtering",
                    "chapters/00_jax_primer", "book/intro", "book/notation", "chapters/09_where_next"], \
        "chapter 9, which reads chapter 8's saved models, starts last"
    app.parallel = 1
    serial = ["b", "a"]
    ext._longest_first(app, None, serial)
    assert serial == ["b", "a"], "a serial build keeps Sphinx's order"


def test_every_chapter_has_an_expected_time():
    chapters = {path.stem for path in (ROOT / "chapters").glob("*.ipynb")}
    assert chapters == set(ext.EXPECTED_SECONDS), "book/_ext/recsys_lite_book.py: EXPECTED_SECONDS"


def test_the_compilation_cache_and_saved_models_live_in_the_build_folder(tmp_path, monkeypatch):
    for name in ("RECSYS_LITE_CHECKPOINTS", "JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
                 ext.SHARED_JAX_CACHE):
        monkeypatch.delenv(name, raising=False)  # restored after the test
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_enable_fast_math=false")
    app, config = _app(tmp_path)
    ext._scope_caches_to_the_build(app, config)
    assert ext.os.environ["JAX_COMPILATION_CACHE_DIR"] == str(tmp_path / "_build" / ".jax_cache")
    assert ext.os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] == "0", "every program is stored"
    assert ext.os.environ["XLA_FLAGS"] == "--xla_cpu_enable_fast_math=false " + ext.BUILD_XLA_FLAGS, "added, kept"
    monkeypatch.setenv("XLA_FLAGS", "--xla_backend_optimization_level=3")
    ext._scope_caches_to_the_build(app, config)
    assert ext.os.environ["XLA_FLAGS"] == "--xla_backend_optimization_level=3", "a level chosen by the builder stands"
    assert ext.os.environ["RECSYS_LITE_CHECKPOINTS"] == str(tmp_path / "_build" / ".checkpoints")
    stale = tmp_path / "_build" / ".jax_cache"
    stale.mkdir(parents=True)
    (stale / "entry").write_text("compiled for another library")
    ext._refresh_cache(app, config)  # no fingerprint yet: a first build, or a changed library
    assert not stale.exists(), "a changed library or data source starts the compilation cache cold"


def test_a_compilation_cache_shared_by_several_builds_is_used_and_never_cleared(tmp_path, monkeypatch):
    for name in ("RECSYS_LITE_CHECKPOINTS", "JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
                 "XLA_FLAGS"):
        monkeypatch.delenv(name, raising=False)  # restored after the test
    shared = tmp_path / "shared-jax-cache"
    monkeypatch.setenv(ext.SHARED_JAX_CACHE, str(shared))
    app, config = _app(tmp_path / "book")
    ext._scope_caches_to_the_build(app, config)
    assert ext.os.environ["JAX_COMPILATION_CACHE_DIR"] == str(shared)
    shared.mkdir()
    (shared / "entry").write_text("compiled by the other build")
    saved = tmp_path / "book" / "_build" / ".checkpoints"
    saved.mkdir(parents=True)
    ext._refresh_cache(app, config)  # no fingerprint yet
    assert (shared / "entry").exists(), "another build's programs stay"
    assert not saved.exists(), "this build's saved models are still its own, cleared with its execution cache"


def test_a_failing_page_in_a_worker_reports_its_whole_error_chain():
    def execute_notebook():
        try:
            raise ValueError("cell 12: shapes (3,) and (4,) do not match")
        except ValueError as cell_error:
            raise RuntimeError("chapters/05_x.ipynb") from cell_error

    with pytest.raises(ext.PageFailed) as failure:
        ext._with_cause(execute_notebook)()
    first_line = str(failure.value)
    assert "chapters/05_x.ipynb" in first_line and "cell 12: shapes (3,) and (4,) do not match" in first_line


def test_pages_other_than_the_longest_yield_the_cpu_to_it(monkeypatch):
    from jupyter_client.provisioning import local_provisioner

    calls = []
    monkeypatch.setattr(ext.os, "nice", calls.append)
    monkeypatch.setattr(local_provisioner, "launch_kernel", local_provisioner.launch_kernel)  # restored after
    assert ext._with_cause(lambda chunk: chunk, yield_to_longest=False)(["chapters/08_x"]) == ["chapters/08_x"]
    assert calls == []
    ext._with_cause(lambda chunk: chunk, yield_to_longest=True)(["chapters/01_x"])
    assert calls == [ext.NICE_OTHERS]
    assert getattr(local_provisioner.launch_kernel, "recsys_lite", False), "its kernels yield too"


def test_a_kernel_started_by_a_yielding_page_gets_the_lower_priority_in_its_own_session(monkeypatch):
    """Jupyter starts kernels with setsid; under autogroup scheduling only the group's nice value counts."""
    import sys

    from jupyter_client.provisioning import local_provisioner

    if not Path("/proc/self/autogroup").exists():
        pytest.skip("no autogroup scheduling here: the worker's inherited nice value applies")
    monkeypatch.setattr(local_provisioner, "launch_kernel", local_provisioner.launch_kernel)  # restored after
    ext._kernels_yield_too()
    process = local_provisioner.launch_kernel([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        group = Path(f"/proc/{process.pid}/autogroup").read_text()
    finally:
        process.kill()
        process.wait()
    assert group.split()[-1] == str(ext.NICE_OTHERS), group
    assert Path("/proc/self/autogroup").read_text() != group, "the kernel runs in a session of its own"


KERNEL_START_WORKER = """
import asyncio, importlib.util, os, sys, time
from pathlib import Path
from nbclient import NotebookClient

extension, log, lock, start_at = sys.argv[1:5]
spec = importlib.util.spec_from_file_location("recsys_lite_book", extension)
ext = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ext)

def record(step):
    with open(log, "a") as handle:
        handle.write(f"{step} {os.getpid()}\\n")

async def choose_ports_and_launch(self, **kwargs):   # stand-ins for nbclient's two start-up steps
    record("ports")
    await asyncio.sleep(0.3)

async def wait_until_it_answers(self):
    await asyncio.sleep(0.3)
    record("ready")

NotebookClient.async_start_new_kernel = choose_ports_and_launch
NotebookClient.async_start_new_kernel_client = wait_until_it_answers
ext._kernels_start_one_at_a_time(Path(lock))
client = type("Client", (), {"kc": None})()
time.sleep(max(0.0, float(start_at) - time.time()))   # both workers start together
asyncio.run(NotebookClient.async_start_new_kernel(client))
asyncio.run(NotebookClient.async_start_new_kernel_client(client))
"""


def test_kernels_start_one_at_a_time_across_worker_processes(tmp_path):
    """Two workers starting a kernel at the same moment: the second chooses its ports only once the first kernel
    answers (jupyter_client's port race, issue #487). Each worker is a process that replaces nbclient's two
    start-up steps by stand-ins logging when they run, then starts a kernel with the extension's lock."""
    import subprocess
    import sys
    import time

    log, script = tmp_path / "starts.log", tmp_path / "worker.py"
    script.write_text(KERNEL_START_WORKER)
    start_at = time.time() + 3
    workers = [subprocess.Popen([sys.executable, str(script), str(ROOT / "book" / "_ext" / "recsys_lite_book.py"),
                                 str(log), str(tmp_path / ".kernel-start.lock"), str(start_at)]) for _ in range(2)]
    assert [worker.wait(timeout=60) for worker in workers] == [0, 0]
    steps = [line.split() for line in log.read_text().splitlines()]
    assert [step for step, _ in steps] == ["ports", "ready", "ports", "ready"], steps
    assert steps[0][1] == steps[1][1] and steps[2][1] == steps[3][1], steps


def _record_start(log, name):
    with open(log, "a") as handle:
        handle.write(name + "\n")


def test_sphinx_starts_the_pages_in_the_order_given(tmp_path):
    """The order of _longest_first survives Sphinx's scheduling (it hands waiting tasks over last first)."""
    import time

    from sphinx.util.parallel import ParallelTasks, parallel_available

    if not parallel_available:
        pytest.skip("Sphinx builds serially here")
    log = tmp_path / "starts"
    order = ["a", "b", "c", "d", "e", "f"]

    def task(chunk):
        _record_start(log, chunk[0])
        time.sleep(2.0 if chunk[0] in "ab" else 0.1)  # the first two outlast the adding of the others

    tasks = ParallelTasks(2)
    for chunk in ext.one_page_per_task(order, 2):
        tasks.add_task(task, chunk)
    tasks.join()
    started = log.read_text().split()
    assert set(started[:2]) == {"a", "b"} and started[2:] == ["c", "d", "e", "f"], started


def test_the_order_uses_the_build_folder_s_own_records_when_it_has_them(tmp_path):
    from jupyter_cache import get_cache

    app, config = _app(tmp_path)
    assert ext._measured_seconds(app) == {}, "a clean build has no records"
    cache = get_cache(tmp_path / "_build" / ".jupyter_cache")
    cache.db.dispose()
    assert (tmp_path / "_build" / ".jupyter_cache" / "global.db").exists()
    assert ext._measured_seconds(app) == {}


def test_pages_outside_the_numbered_chapters_count_their_figures_and_exercises_from_one():
    """Sphinx shares one counter between all unnumbered pages (primer, appendix): each restarts at 1."""
    env = types.SimpleNamespace(
        toc_secnumbers={"chapters/03_x": {"": (3,)}, "chapters/00_primer": {}, "chapters/10_appendix": {}},
        toc_fignumbers={
            "chapters/03_x": {"exercise": {"ex-ch03-1": (3, 1), "ex-ch03-2": (3, 2)}},
            "chapters/00_primer": {"exercise": {"ex-ch00-1": (1,), "ex-ch00-2": (2,)}},
            "chapters/10_appendix": {"exercise": {"ex-ch10-2": (4,), "ex-ch10-1": (3,)},
                                     "figure": {"fig-ch10-a": (7,)}},
        })
    changed = ext._number_unnumbered_pages_from_one(None, env)
    assert changed == ["chapters/10_appendix"]
    assert env.toc_fignumbers["chapters/10_appendix"] == {"exercise": {"ex-ch10-1": (1,), "ex-ch10-2": (2,)},
                                                          "figure": {"fig-ch10-a": (1,)}}
    assert env.toc_fignumbers["chapters/03_x"]["exercise"] == {"ex-ch03-1": (3, 1), "ex-ch03-2": (3, 2)}
    assert env.toc_fignumbers["chapters/00_primer"]["exercise"] == {"ex-ch00-1": (1,), "ex-ch00-2": (2,)}


def test_a_parallel_build_creates_the_execution_cache_before_its_workers(tmp_path):
    """Two workers creating jupyter-cache's database at once collide; the main process creates it first."""
    from jupyter_cache import get_cache

    app, config = _app(tmp_path)
    app.parallel, config.nb_execution_mode = 2, "cache"
    cache = ext._stamp_path(app, config)[0]
    assert not cache.exists()
    ext._longest_first(app, None, ["chapters/01_x", "chapters/08_a_complete_recommender"])
    assert (cache / "global.db").exists()
    assert get_cache(cache).list_cache_records() == [], "a usable, empty execution cache"
    serial_app, serial_config = _app(tmp_path / "serial")
    serial_app.parallel, serial_config.nb_execution_mode = 1, "cache"
    ext._longest_first(serial_app, None, ["chapters/01_x"])
    assert not ext._stamp_path(serial_app, serial_config)[0].exists(), "a serial build leaves it to myst-nb"
