"""parallel.multiprocess: two processes on localhost (jax.distributed, Gloo) train what one process trains.

One fixture starts the two workers (about 5-15 s) and trains the same
problem here on this process's one device meanwhile.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

from recsys_lite.parallel import make_mesh
from recsys_lite.parallel import multiprocess as mp

# Two partial sums added in another order: float32 rounding only (measured: ≤ 1.2e-7 over 8 Adam steps).
RTOL, ATOL = 1e-5, 1e-6


@pytest.fixture(scope="module")
def runs():
    model, losses = mp.train(make_mesh(1))
    one = {jax.tree_util.keystr(path): np.asarray(leaf)
           for path, leaf in jax.tree_util.tree_flatten_with_path(model)[0]}
    return mp.run_processes(2, timeout=90), (one, losses)


def test_each_process_knows_its_index_and_sees_every_device(runs):
    reports, _ = runs
    assert [r["process_index"] for r in reports] == [0, 1]
    assert all(r["process_count"] == 2 for r in reports)
    assert all(len(r["devices"]) == 2 and len(r["local_devices"]) == 1 for r in reports)
    assert reports[0]["devices"] == reports[1]["devices"]


@pytest.mark.parametrize("placement", ["replicated", "row_sharded"])
def test_two_processes_train_the_single_process_model(runs, placement):
    reports, (one, losses) = runs
    for report in reports:
        np.testing.assert_allclose(report["losses" if placement == "replicated" else "row_losses"], losses, rtol=RTOL)
        assert report[placement].keys() == one.keys()
        for name, want in one.items():
            np.testing.assert_allclose(np.array(report[placement][name]), want, rtol=RTOL, atol=ATOL, err_msg=name)


def test_a_row_split_table_is_not_fully_addressable_and_orbax_restores_it(runs):
    reports, _ = runs
    assert [r["table_local_rows"] for r in reports] == [[[0, 32]], [[32, 64]]]
    for report in reports:
        assert report["table_fully_addressable"] is False
        assert "non-addressable" in report["asarray_error"]  # why np.savez(np.asarray(table)) cannot work
        assert report["restored_equal"] is True and report["restored_sharding"] == "P('data',)"


def test_the_sharded_lookup_works_across_processes(runs):
    reports, _ = runs
    for report in reports:
        # each process asks for rows that both processes own, so the look-up has to cross between them
        owners = {int(i) // 32 for i in report["lookup_ids"]}
        assert owners == {0, 1}, report["lookup_ids"]
        assert report["lookup_max_error"] == 0.0


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="num_processes"):
        mp.run_processes(1)
    with pytest.raises(ValueError, match="timeout"):
        mp.run_processes(2, timeout=0)


def test_a_failing_worker_is_reported_with_its_error(monkeypatch):
    """A worker that cannot start (bad arguments) makes run_processes raise with that worker's error text."""
    import subprocess
    import sys

    real = subprocess.Popen

    def bad_first(command, **kwargs):
        if command[command.index("--process-id") + 1] == "0":
            command = [sys.executable, "-c", "import sys; sys.exit('worker 0 refuses')"]
        return real(command, **kwargs)

    monkeypatch.setattr(mp.subprocess, "Popen", bad_first)
    with pytest.raises(RuntimeError, match=r"(?s)process 0 exited with status 1.*worker 0 refuses"):
        mp.run_processes(2, timeout=20)
