"""Two (or more) processes training one model: ``jax.distributed`` on localhost, CPU collectives over Gloo.

Run one worker per process (``python -m recsys_lite.parallel.multiprocess
--process-id P --num-processes N --port PORT --out FILE``), or let
:func:`run_processes` start them all and collect what each reports. Each
worker:

1. picks Gloo for the CPU collectives (``jax_cpu_collectives_implementation``)
   and calls ``jax.distributed.initialize(coordinator_address="localhost:PORT",
   num_processes=N, process_id=P)`` before anything else touches JAX;
2. builds a mesh over ``jax.devices()``, every device of every process (one
   CPU device each), while it drives only ``jax.local_devices()``;
3. reads its own share of each global batch (:func:`~recsys_lite.parallel.epoch_shard`)
   and assembles the global batch with ``jax.make_array_from_process_local_data``;
4. trains :func:`train` — the problem and step a single process trains too —
   with the model replicated, then with its tables split by rows over the processes;
5. checkpoints the row-split model with Orbax, restores it and compares, and
   looks rows up with :func:`~recsys_lite.parallel.sharded_lookup` across processes.

:func:`train` with ``process_count=1`` on one device is the single-process reference.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

__all__ = ["PROBLEM", "train", "worker", "run_processes"]

# The demo problem: small, and row counts that split over 2 (and 4, 8) processes.
PROBLEM = {"n_users": 64, "n_items": 40, "dim": 8, "n_examples": 2048, "batch_size": 256, "epochs": 1,
           "learning_rate": 0.05, "reg": 0.05, "seed": 0}


def _examples(p: dict):
    import numpy as np

    rng = np.random.default_rng(p["seed"])
    m = p["n_examples"]
    return {"user": rng.integers(0, p["n_users"], m).astype(np.int32),
            "item": rng.integers(0, p["n_items"], m).astype(np.int32),
            "rating": rng.integers(1, 6, m).astype(np.float32)}


def train(mesh, *, process_index: int = 0, process_count: int = 1, rows: bool = False, problem: dict | None = None):
    """Train :data:`PROBLEM`'s BiasedMF with Adam on ``mesh``, reading this process's share of each batch.

    ``rows=False``: the model replicated (``P()``); ``rows=True``: its four
    tables split by rows over the mesh, μ replicated. Returns (model, losses):
    the trained model (global arrays on ``mesh``) and the loss of each step.
    The same call on one process and one device is the reference.

    The initial model is drawn with numpy from the seed, the same on every
    process, and each process places only its own part of it
    (``jax.make_array_from_callback``): nothing is sent between processes.
    """
    import jax
    import numpy as np
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    from recsys_lite import models, nn, optim
    from recsys_lite.parallel import data_parallel_step, init_optimizer
    from recsys_lite.parallel.pipeline import epoch_shard

    p = dict(PROBLEM, **(problem or {}))
    examples = _examples(p)
    rng = np.random.default_rng([p["seed"], 1])

    def table(n):
        return (0.1 * rng.standard_normal((n, p["dim"]))).astype(np.float32)

    host = models.BiasedMF(np.float32(3.0), np.zeros(p["n_users"], np.float32), np.zeros(p["n_items"], np.float32),
                           nn.Embedding(table(p["n_users"])), nn.Embedding(table(p["n_items"])))
    axis = mesh.axis_names[0]

    def place(leaf):
        sharding = NamedSharding(mesh, P(axis) if rows and np.ndim(leaf) else P())
        return jax.make_array_from_callback(np.shape(leaf), sharding, lambda index: leaf[index])

    model = jax.tree.map(place, host)
    optimizer = optim.adam(p["learning_rate"])
    step = data_parallel_step(partial(models.rating_loss, reg=p["reg"]), optimizer)
    opt_state = init_optimizer(optimizer, model, mesh)
    sharding = NamedSharding(mesh, P(mesh.axis_names[0]))
    losses = []
    for epoch in range(p["epochs"]):
        shares = epoch_shard(p["n_examples"], p["batch_size"], epoch=epoch, seed=p["seed"],
                             process_index=process_index, process_count=process_count)
        for t, mine in enumerate(shares):
            batch = {name: jax.make_array_from_process_local_data(sharding, column[mine], (p["batch_size"],))
                     for name, column in examples.items()}
            model, opt_state, loss = step(model, opt_state, batch, jax.random.key(t))
            losses.append(loss)
    return model, [float(loss) for loss in jax.device_get(losses)]


def _full(tree):
    """Every leaf as a nested list, gathered from all processes when it is split over them."""
    import jax
    import numpy as np
    from jax.experimental import multihost_utils

    def full(leaf):
        if leaf.is_fully_addressable or leaf.sharding.is_fully_replicated:
            return np.asarray(leaf.addressable_data(0) if leaf.sharding.is_fully_replicated else leaf).tolist()
        return np.asarray(multihost_utils.process_allgather(leaf, tiled=True)).tolist()

    return {jax.tree_util.keystr(path): full(leaf) for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]}


def worker(process_id: int, num_processes: int, port: int, checkpoint_dir: str) -> dict:
    """One process of the run (see the module's docstring); returns what it measured, as JSON-ready values."""
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=f"localhost:{port}", num_processes=num_processes,
                               process_id=process_id)
    import jax.numpy as jnp
    import numpy as np

    from recsys_lite.parallel import make_mesh, restore_checkpoint, save_checkpoint, sharded_lookup

    mesh = make_mesh()
    out = {"process_index": jax.process_index(), "process_count": jax.process_count(),
           "devices": [str(d) for d in jax.devices()], "local_devices": [str(d) for d in jax.local_devices()]}
    start = time.perf_counter()
    model, out["losses"] = train(mesh, process_index=jax.process_index(), process_count=jax.process_count())
    out["train_seconds"] = time.perf_counter() - start
    out["replicated"] = _full(model)
    rows_model, out["row_losses"] = train(mesh, process_index=jax.process_index(),
                                          process_count=jax.process_count(), rows=True)
    table = rows_model.user_embedding.table
    out["table_fully_addressable"] = table.is_fully_addressable
    out["table_local_rows"] = [list(s.index[0].indices(table.shape[0])[:2]) for s in table.addressable_shards]
    try:
        np.asarray(table)
        out["asarray_error"] = None
    except Exception as error:  # what np.savez(np.asarray(table)) would hit
        out["asarray_error"] = f"{type(error).__name__}: {str(error).splitlines()[0]}"
    path = os.path.join(checkpoint_dir, "rows_model")
    save_checkpoint(path, rows_model)
    restored = restore_checkpoint(path, rows_model)
    out["restored_sharding"] = str(restored.user_embedding.table.sharding.spec)
    out["restored_equal"] = bool(all(np.array_equal(a.data, b.data)
                                     for x, y in zip(jax.tree.leaves(restored), jax.tree.leaves(rows_model))
                                     for a, b in zip(x.addressable_shards, y.addressable_shards)))
    out["row_sharded"] = _full(rows_model)
    # 8 ids per process, spread over the whole table and dealt out in turn: each process asks for rows others own.
    n_ids = 8 * jax.process_count()
    every_id = (np.arange(n_ids, dtype=np.int32) * max(table.shape[0] // n_ids, 1) + 1) % table.shape[0]
    ids = jax.make_array_from_process_local_data(
        jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data")),
        every_id[jax.process_index()::jax.process_count()])
    out["lookup_ids"] = every_id[jax.process_index()::jax.process_count()].tolist()
    looked_up = jax.jit(partial(sharded_lookup, mesh=mesh))(table, ids)
    out["lookup_max_error"] = float(np.max(np.abs(np.asarray(_full({"x": looked_up})["['x']"])
                                                  - np.asarray(out["row_sharded"][".user_embedding.table"])[
                                                      np.asarray(_full({"i": ids})["['i']"])])))
    jax.block_until_ready(jnp.zeros(()))
    jax.distributed.shutdown()
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def run_processes(num_processes: int = 2, *, timeout: float = 120.0) -> list[dict]:
    """Start ``num_processes`` workers on this machine, wait for all, and return each one's report.

    Each runs ``python -m recsys_lite.parallel.multiprocess`` with one CPU
    device (``XLA_FLAGS`` device-count settings removed, ``JAX_PLATFORMS=cpu``),
    a free port for the coordinator and a shared temporary folder for the checkpoint.

    Raises:
        TypeError / ValueError: ``num_processes`` not an integer ≥ 2; ``timeout`` not > 0.
        RuntimeError: a worker failed or ran past ``timeout`` seconds; the message holds
            each worker's exit status and the end of its error output.
    """
    from recsys_lite._checks import check_int_in_range, check_positive

    num_processes = check_int_in_range("num_processes", num_processes, 2)
    check_positive("timeout", timeout)
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    flags = [f for f in env.get("XLA_FLAGS", "").split() if "device_count" not in f]
    env["XLA_FLAGS"] = " ".join(flags)
    env.pop("PJRT_NPROC", None)
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([package_root] + [p for p in [env.get("PYTHONPATH")] if p])
    port = _free_port()
    with tempfile.TemporaryDirectory() as folder:
        procs = []
        for i in range(num_processes):
            out = os.path.join(folder, f"process_{i}.json")
            command = [sys.executable, "-m", "recsys_lite.parallel.multiprocess", "--process-id", str(i),
                       "--num-processes", str(num_processes), "--port", str(port), "--out", out,
                       "--checkpoint-dir", folder]
            procs.append((subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                           text=True), out))
        deadline = time.monotonic() + timeout
        errors, timed_out = [], False
        # Wait for all; once one fails the others would wait for it forever, so stop them.
        while any(proc.poll() is None for proc, _ in procs):
            if any(proc.returncode not in (None, 0) for proc, _ in procs):
                break
            if time.monotonic() > deadline:
                timed_out = True
                break
            time.sleep(0.05)
        for i, (proc, _) in enumerate(procs):
            stopped = proc.poll() is None
            if stopped:
                proc.kill()
            _, stderr = proc.communicate()
            if stopped or proc.returncode != 0:
                tail = "\n    ".join(stderr.strip().splitlines()[-12:])
                errors.append(f"process {i} " + ("was stopped" if stopped else f"exited with status {proc.returncode}")
                              + f":\n    {tail}")
        if timed_out or errors:
            why = f"ran past timeout={timeout} s" if timed_out else "failed"
            raise RuntimeError(f"the {num_processes}-process run {why}.\n" + "\n".join(errors))
        return [json.loads(Path(out).read_text()) for _, out in procs]


def _main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--process-id", type=int, required=True)
    parser.add_argument("--num-processes", type=int, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True, help="JSON file for this process's report")
    parser.add_argument("--checkpoint-dir", required=True, help="a folder all processes share")
    args = parser.parse_args(argv)
    if not 0 <= args.process_id < args.num_processes:
        parser.error(f"--process-id must be in [0, {args.num_processes}); got {args.process_id}")
    report = worker(args.process_id, args.num_processes, args.port, args.checkpoint_dir)
    Path(args.out).write_text(json.dumps(report))


if __name__ == "__main__":
    _main()
