"""parallel: the data-parallel step on 8 devices trains as it does on 1; shardings are what they say.

pytest's process has one CPU device, and JAX fixes the number of devices when
it starts. So the 8-device half runs in a child process started with
``XLA_FLAGS=--xla_force_host_platform_device_count=8`` (and ``PJRT_NPROC=16``,
see ``eight_devices``); it reports its numbers as JSON, and this process trains
the same model on its single device.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from recsys_lite import models, optim, parallel

N_DEVICES = 8
N_USERS, N_ITEMS, DIM = 61, 37, 8   # row counts not divisible by 8, on purpose
BATCH, STEPS = 256, 12
# The 8-device gradient is the sum of 8 partial sums: the same numbers added in
# another order, so float32 results differ by rounding only. Measured here (jax
# 0.10.2, x86-64): after 12 Adam steps 686 of the 883 parameters differ, by at
# most 3.7e-7 (|θ| ≤ 2.9); |Δθ| ≤ atol + rtol·|θ| holds from atol = 2.3e-7 with
# rtol = 1e-5; losses agree to 2.1e-7 relative. We test rtol = 1e-5, atol = 1e-6:
# about 4 times the measured need, for other CPUs and XLA versions.
RTOL, ATOL = 1e-5, 1e-6


def _problem():
    """A small BiasedMF, Adam, and STEPS batches of random (user, item, rating) rows."""
    rng = np.random.default_rng(0)
    batches = [{"user": rng.integers(0, N_USERS, BATCH).astype(np.int32),
                "item": rng.integers(0, N_ITEMS, BATCH).astype(np.int32),
                "rating": rng.integers(1, 6, BATCH).astype(np.float32)} for _ in range(STEPS)]
    model = models.BiasedMF.init(jax.random.key(0), N_USERS, N_ITEMS, DIM, mu=3.0)
    optimizer = optim.adam(0.05)
    step = parallel.data_parallel_step(partial(models.rating_loss, reg=0.05), optimizer)
    return model, optimizer, step, batches


def _train(model, optimizer, step, batches, mesh=None):
    opt_state = optimizer.init(model) if mesh is None else parallel.init_optimizer(optimizer, model, mesh)
    put_batch = (lambda b: b) if mesh is None else (lambda b: parallel.shard_batch(b, mesh))
    losses = []
    for t, batch in enumerate(batches):
        model, opt_state, loss = step(model, opt_state, put_batch(batch), jax.random.key(t))
        losses.append(float(loss))
    return model, losses


def _leaves(model) -> dict[str, list]:
    """The model's arrays by name, as nested lists of floats (exact in JSON)."""
    return {jax.tree_util.keystr(path): np.asarray(leaf).tolist()
            for path, leaf in jax.tree_util.tree_flatten_with_path(model)[0]}


def _row_sharded(model, mesh):
    """The model with every table (each leaf with rows, all but μ) padded to a multiple of 8 rows and split by rows."""
    rows = lambda table: parallel.shard_rows(parallel.pad_rows(table, N_DEVICES), mesh)
    return jax.tree.map(lambda leaf: rows(leaf) if np.ndim(leaf) else parallel.replicate(leaf, mesh), model)


def _unpadded(leaves: dict, model) -> dict:
    """Drop the padding rows (the rows past those of ``model``'s tables) from ``_leaves``' output."""
    rows = {name: len(value) for name, value in _leaves(model).items() if np.ndim(value)}
    return {name: value[:rows[name]] if name in rows else value for name, value in leaves.items()}


def _user_table(model):
    """The user embedding table, padded or not: the model's one 2-D leaf with at least N_USERS rows."""
    (table,) = [leaf for leaf in jax.tree.leaves(model) if np.ndim(leaf) == 2 and leaf.shape[0] >= N_USERS]
    return table


def _child() -> dict:
    """Runs in the 8-device process: train replicated and row-sharded, report shardings and errors."""
    assert jax.device_count() == N_DEVICES, jax.devices()
    mesh = parallel.make_mesh()
    model, optimizer, step, batches = _problem()
    out = {"n_devices": jax.device_count()}

    batch = parallel.shard_batch(batches[0], mesh)
    out["batch_shards"] = {name: [list(s.data.shape) for s in arr.addressable_shards] for name, arr in batch.items()}
    out["batch_devices"] = len({s.device.id for s in batch["user"].addressable_shards})
    out["batch_spec"] = list(batch["user"].sharding.spec)
    replicated = parallel.replicate(model, mesh)
    out["replicated_shards"] = [list(s.data.shape) for s in _user_table(replicated).addressable_shards]
    rows = _row_sharded(model, mesh)
    out["row_shards"] = [list(s.data.shape) for s in _user_table(rows).addressable_shards]
    out["row_spec"] = list(_user_table(rows).sharding.spec)

    hlo = step.lower(replicated, optimizer.init(replicated), batch, jax.random.key(0)).compile().as_text()
    out["all_reduces"] = hlo.count("all-reduce(")

    trained, out["losses"] = _train(replicated, optimizer, step, batches, mesh)
    jax.block_until_ready(trained)
    out["trained_spec"] = list(_user_table(trained).sharding.spec)
    out["replicated"] = _leaves(trained)
    trained_rows, out["row_losses"] = _train(rows, optimizer, step, batches, mesh)
    cache_size = getattr(step, "_cache_size", None)  # private in jax 0.10: how many executables jit holds
    out["compilations"] = cache_size() if cache_size else None
    jax.block_until_ready(trained_rows)
    out["row_padding_max"] = float(np.max(np.abs(np.asarray(_user_table(trained_rows))[N_USERS:])))
    out["row_sharded"] = _unpadded(_leaves(trained_rows), model)

    out.update(_lookups(mesh))

    for name, call in [("batch_error", lambda: parallel.shard_batch({"user": np.zeros(100, np.int32)}, mesh)),
                       ("rows_error", lambda: parallel.shard_rows(np.zeros((N_USERS, DIM)), mesh))]:
        try:
            call()
            out[name] = None
        except ValueError as error:
            out[name] = str(error)
    return out


def _lookups(mesh) -> dict:
    """In the 8-device process: the shard_map look-up against table[ids], values, gradients and collectives."""
    rng = np.random.default_rng(1)
    table = parallel.shard_rows(jnp.asarray(rng.standard_normal((64, 4)), jnp.float32), mesh)
    dense = np.asarray(table)
    ids = rng.integers(0, 64, 32).astype(np.int32)
    weights = jnp.asarray(rng.standard_normal((32, 4)), jnp.float32)
    out = {}
    for mode, ids_sharded, placed in [("sharded", True, parallel.shard_batch({"i": ids}, mesh)["i"]),
                                      ("replicated", False, parallel.replicate(ids, mesh))]:
        lookup = jax.jit(partial(parallel.sharded_lookup, mesh=mesh, ids_sharded=ids_sharded))
        got = lookup(table, placed)
        out[f"lookup_{mode}_error"] = float(np.max(np.abs(np.asarray(got) - dense[ids])))
        out[f"lookup_{mode}_spec"] = list(got.sharding.spec)
        grad = jax.grad(lambda t, f=lookup, i=placed: jnp.sum(weights * f(t, i)))(table)
        want = jax.grad(lambda t: jnp.sum(weights * t[ids]))(jnp.asarray(dense))
        out[f"grad_{mode}_error"] = float(np.max(np.abs(np.asarray(grad) - np.asarray(want))))
        out[f"grad_{mode}_spec"] = list(grad.sharding.spec)
        hlo = lookup.lower(table, placed).compile().as_text()
        out[f"collectives_{mode}"] = [(c["operation"], c["bytes"]) for c in parallel.hlo_collectives(hlo)]
    plain = jax.jit(lambda t, i: t[i]).lower(table, parallel.shard_batch({"i": ids}, mesh)["i"]).compile().as_text()
    out["collectives_plain"] = sorted(c["operation"] for c in parallel.hlo_collectives(plain))
    with tempfile.TemporaryDirectory() as folder:
        parallel.save_checkpoint(Path(folder) / "t", {"table": table})
        restored = parallel.restore_checkpoint(Path(folder) / "t", {"table": parallel.replicate(dense, mesh)})
        out["restored_spec"] = list(restored["table"].sharding.spec)
        out["restored_equal"] = bool(np.array_equal(np.asarray(restored["table"]), dense))
    return out


@pytest.fixture(scope="module")
def runs() -> tuple[dict, tuple[dict, list]]:
    """Start the 8-device child, train on this process's one device meanwhile, then read the child."""
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={N_DEVICES}").strip()
    env["JAX_PLATFORMS"] = "cpu"
    # XLA's CPU client has max(cores, devices) threads: on a 2-core machine one per
    # device, and a step with several independent collectives (the row-sharded
    # one has an all-gather per table) can then deadlock. Two per device suffice.
    env.setdefault("PJRT_NPROC", str(2 * N_DEVICES))
    code = (f"import json, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            "import test_parallel; print(json.dumps(test_parallel._child()))")
    child = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        with jax.default_device(jax.devices("cpu")[0]):
            model, optimizer, step, batches = _problem()
            trained, losses = _train(model, optimizer, step, batches)
            one = (_leaves(trained), losses)
        stdout, stderr = child.communicate(timeout=240)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 0, stderr[-3000:]
    return json.loads(stdout.strip().splitlines()[-1]), one


@pytest.fixture(scope="module")
def eight_devices(runs) -> dict:
    return runs[0]


@pytest.fixture(scope="module")
def one_device(runs) -> tuple[dict, list]:
    return runs[1]


def _assert_same_model(got: dict, want: dict):
    assert got.keys() == want.keys()
    for name in want:
        np.testing.assert_allclose(np.array(got[name]), np.array(want[name]), rtol=RTOL, atol=ATOL, err_msg=name)


def test_the_child_sees_eight_devices(eight_devices):
    assert eight_devices["n_devices"] == N_DEVICES


def test_a_sharded_batch_is_split_over_the_eight_devices(eight_devices):
    assert eight_devices["batch_devices"] == N_DEVICES
    assert eight_devices["batch_spec"] == ["data"]
    for name, shards in eight_devices["batch_shards"].items():
        assert shards == [[BATCH // N_DEVICES]] * N_DEVICES, name


def test_replicated_and_row_sharded_tables(eight_devices):
    assert eight_devices["replicated_shards"] == [[N_USERS, DIM]] * N_DEVICES
    padded = -(-N_USERS // N_DEVICES) * N_DEVICES
    assert eight_devices["row_shards"] == [[padded // N_DEVICES, DIM]] * N_DEVICES
    assert eight_devices["row_spec"] == ["data"]


def test_xla_inserts_an_all_reduce_and_the_model_stays_replicated(eight_devices):
    assert eight_devices["all_reduces"] >= 1
    assert eight_devices["trained_spec"] == []


def test_the_step_compiles_once_per_placement(eight_devices):
    if eight_devices["compilations"] is None:
        pytest.skip("this jax has no jit._cache_size")
    assert eight_devices["compilations"] == 2  # replicated, row-sharded


def test_eight_devices_train_the_same_model_as_one(eight_devices, one_device):
    params, losses = one_device
    np.testing.assert_allclose(eight_devices["losses"], losses, rtol=RTOL)
    _assert_same_model(eight_devices["replicated"], params)


def test_row_sharded_tables_train_the_same_model_and_keep_the_padding_at_zero(eight_devices, one_device):
    params, losses = one_device
    np.testing.assert_allclose(eight_devices["row_losses"], losses, rtol=RTOL)
    _assert_same_model(eight_devices["row_sharded"], params)
    assert eight_devices["row_padding_max"] == 0.0


def test_the_comparison_can_fail(one_device):
    params, _ = one_device
    moved = dict(params)
    table = next(name for name, value in params.items() if np.ndim(value) == 2)
    moved[table] = (np.array(params[table]) + 10 * ATOL).tolist()
    with pytest.raises(AssertionError):
        _assert_same_model(moved, params)


def test_uneven_splits_are_refused_with_a_clear_message(eight_devices):
    assert "`batch['user']` has 100 rows" in eight_devices["batch_error"]
    assert "8 devices" in eight_devices["batch_error"] and "multiple of 8" in eight_devices["batch_error"]
    assert "61 rows" in eight_devices["rows_error"] and "pad_rows(table, 8)" in eight_devices["rows_error"]


def test_make_mesh_checks_the_device_count():
    mesh = parallel.make_mesh(1)
    assert mesh.shape == {"data": 1}
    with pytest.raises(ValueError, match="n_devices"):
        parallel.make_mesh(jax.device_count() + 1)


def test_pad_rows_appends_zero_rows():
    table = jnp.ones((5, 3))
    padded = parallel.pad_rows(table, 4)
    assert padded.shape == (8, 3)
    assert np.all(np.asarray(padded[:5]) == 1) and np.all(np.asarray(padded[5:]) == 0)
    assert parallel.pad_rows(jnp.ones(8), 4).shape == (8,)
    with pytest.raises(ValueError, match="multiple"):
        parallel.pad_rows(table, 0)


def test_the_step_is_a_gradient_step_and_takes_optax_unchanged():
    """Reference: three jitted steps written with jax.grad and optax itself."""
    optax = pytest.importorskip("optax")
    model, _, _, batches = _problem()
    loss_fn = partial(models.rating_loss, reg=0.05)
    optimizer = optax.adam(0.05)
    step = parallel.data_parallel_step(loss_fn, optimizer)

    @jax.jit
    def reference(params, state, batch):
        updates, state = optimizer.update(jax.grad(loss_fn)(params, batch), state, params)
        return optax.apply_updates(params, updates), state

    ours, ours_state = model, optimizer.init(model)
    theirs, theirs_state = model, optimizer.init(model)
    for t, batch in enumerate(batches[:3]):
        ours, ours_state, _ = step(ours, ours_state, batch, jax.random.key(t))
        theirs, theirs_state = reference(theirs, theirs_state, batch)
    for got, want in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs)):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6, atol=1e-7)


def test_the_sharded_lookup_equals_the_dense_one_and_so_does_its_gradient(eight_devices):
    for mode, spec in [("sharded", ["data"]), ("replicated", [])]:
        assert eight_devices[f"lookup_{mode}_error"] == 0.0, mode  # one non-zero term per sum: exact
        assert eight_devices[f"lookup_{mode}_spec"] == spec, mode
        assert eight_devices[f"grad_{mode}_error"] < 1e-6, mode
        assert eight_devices[f"grad_{mode}_spec"] == ["data"], mode  # the gradient stays split by rows


def test_the_sharded_lookup_communicates_what_it_says(eight_devices):
    # 32 ids over 8 devices: all-gather the ids (32 int32 = 128 bytes), reduce-scatter (32, 4) float32 to (4, 4).
    assert sorted(eight_devices["collectives_sharded"]) == [["all-gather", 128], ["reduce-scatter", 64]]
    assert eight_devices["collectives_replicated"] == [["all-reduce", 512]]  # psum of (32, 4) float32
    assert "all-reduce" in eight_devices["collectives_plain"]
    # lookup_bytes against the compiled program: a ring all-gather sends (D−1)/D of its result, a reduce-scatter
    # (D−1)/D of its input (D times its result)
    got = dict(eight_devices["collectives_sharded"])
    sent = (N_DEVICES - 1) / N_DEVICES * (got["all-gather"] + N_DEVICES * got["reduce-scatter"])
    assert parallel.lookup_bytes(32, 4, N_DEVICES)["gather ids + reduce-scatter rows"] == pytest.approx(sent, rel=1e-12)


def test_orbax_restores_a_row_split_table_into_another_sharding(eight_devices):
    assert eight_devices["restored_equal"] is True and eight_devices["restored_spec"] == []


def test_epoch_shard_splits_a_shared_permutation_between_processes():
    shares = [parallel.epoch_shard(100, 16, epoch=3, seed=7, process_index=p, process_count=4) for p in range(4)]
    assert all(s.shape == (6, 4) for s in shares)
    together = np.concatenate(shares, axis=1)  # step s: the global batch, in process order
    np.testing.assert_array_equal(together.ravel(), np.random.default_rng([7, 3]).permutation(100)[:96])
    np.testing.assert_array_equal(together, parallel.epoch_shard(100, 16, epoch=3, seed=7))  # one process reads it all
    assert len(np.unique(together)) == 96
    other = parallel.epoch_shard(100, 16, epoch=4, seed=7)
    assert not np.array_equal(other, together)
    with pytest.raises(ValueError, match="process_index"):
        parallel.epoch_shard(100, 16, epoch=0, seed=0, process_index=4, process_count=4)
    with pytest.raises(ValueError, match="batch_size"):
        parallel.epoch_shard(100, 10, epoch=0, seed=0, process_count=4)
    with pytest.raises(ValueError, match="epoch"):
        parallel.epoch_shard(100, 16, epoch=-1, seed=0)


def test_checkpoints_round_trip_and_refuse_bad_paths(tmp_path):
    tree = {"a": jnp.arange(6.0).reshape(3, 2), "b": jnp.int32(4)}
    parallel.save_checkpoint(tmp_path / "c", tree)
    back = parallel.restore_checkpoint(tmp_path / "c", tree)
    for key in tree:
        np.testing.assert_array_equal(np.asarray(back[key]), np.asarray(tree[key]))
    with pytest.raises(FileExistsError, match="path"):
        parallel.save_checkpoint(tmp_path / "c", tree)
    with pytest.raises(FileNotFoundError, match="path"):
        parallel.restore_checkpoint(tmp_path / "missing", tree)
    with pytest.raises(TypeError, match="path"):
        parallel.save_checkpoint(3, tree)
    with pytest.raises(TypeError, match=r"tree\['a'\]"):
        parallel.save_checkpoint(tmp_path / "d", {"a": np.zeros(3)})


def _ring_all_reduce(parts: list[np.ndarray]) -> tuple[list[np.ndarray], list[int]]:
    """A ring all-reduce simulated in numpy: D devices, each vector cut in D chunks; returns sums and bytes sent."""
    d = len(parts)
    chunks = [list(np.array_split(p.astype(np.float32), d)) for p in parts]
    sent = [0] * d
    for hop in range(d - 1):  # reduce-scatter: device i sends chunk (i − hop) to device i + 1, which adds it
        messages = [(i, (i - hop) % d, chunks[i][(i - hop) % d].copy()) for i in range(d)]
        for i, c, chunk in messages:
            chunks[(i + 1) % d][c] = chunks[(i + 1) % d][c] + chunk
            sent[i] += chunk.nbytes
    for hop in range(d - 1):  # all-gather: device i passes on the finished chunk (i + 1 − hop)
        messages = [(i, (i + 1 - hop) % d, chunks[i][(i + 1 - hop) % d].copy()) for i in range(d)]
        for i, c, chunk in messages:
            chunks[(i + 1) % d][c] = chunk
            sent[i] += chunk.nbytes
    return [np.concatenate(c) for c in chunks], sent


@pytest.mark.parametrize("d", [2, 3, 8])
def test_ring_all_reduce_bytes_matches_a_simulated_ring(d):
    rng = np.random.default_rng(d)
    parts = [rng.standard_normal(48) for _ in range(d)]
    sums, sent = _ring_all_reduce(parts)
    for got in sums:  # every device ends with the sum
        np.testing.assert_allclose(got, np.sum(parts, axis=0), rtol=1e-5, atol=1e-5)
    assert sent == [parallel.ring_all_reduce_bytes(48 * 4, d)] * d


def test_the_cost_formulas_and_the_hlo_reader():
    assert parallel.ring_all_reduce_bytes(800, 8) == 1400.0
    assert parallel.ring_all_reduce_bytes(800, 1) == 0.0
    cost = parallel.lookup_bytes(32, 4, 8)
    assert cost["gather ids + reduce-scatter rows"] == 7 / 8 * (32 * 4 + 32 * 4 * 4)
    assert cost["all-to-all (ideal)"] == 7 / 8 * 4 * (4 + 16)
    text = ("%x = f32[32,4]{1,0} all-reduce(%a), channel_id=1\n"
            "%y = (f32[3]{0}, s32[2,2]{1,0}) all-reduce-start(%b, %c)\n%z = f32[8] add(%p, %q)")
    assert parallel.hlo_collectives(text) == [
        {"operation": "all-reduce", "shapes": ["f32[32,4]"], "bytes": 512},
        {"operation": "all-reduce", "shapes": ["f32[3]", "s32[2,2]"], "bytes": 28}]
    with pytest.raises(TypeError, match="hlo_text"):
        parallel.hlo_collectives(None)
    with pytest.raises(ValueError, match="n_devices"):
        parallel.ring_all_reduce_bytes(8, 0)


def test_the_lookup_refuses_bad_input():
    mesh = parallel.make_mesh(1)
    table = jnp.zeros((4, 2))
    with pytest.raises(TypeError, match="ids"):
        parallel.sharded_lookup(table, jnp.zeros(2), mesh)
    with pytest.raises(ValueError, match="ids"):
        parallel.sharded_lookup(table, jnp.zeros((2, 2), jnp.int32), mesh)
    with pytest.raises(ValueError, match="table"):
        parallel.sharded_lookup(jnp.zeros((2, 2, 2)), jnp.zeros(2, jnp.int32), mesh)
    with pytest.raises(ValueError, match="axis"):
        parallel.sharded_lookup(table, jnp.zeros(2, jnp.int32), mesh, axis="model")
    with pytest.raises(TypeError, match="ids_sharded"):
        parallel.sharded_lookup(table, jnp.zeros(2, jnp.int32), mesh, ids_sharded=1)
    np.testing.assert_array_equal(parallel.sharded_lookup(jnp.arange(8.0).reshape(4, 2), jnp.array([3, 0]), mesh),
                                  [[6.0, 7.0], [0.0, 1.0]])


def test_donation_lets_the_step_reuse_the_parameter_buffers():
    model, optimizer, _, batches = _problem()
    loss_fn = partial(models.rating_loss, reg=0.05)
    state = optimizer.init(model)
    memory = {donate: parallel.data_parallel_step(loss_fn, optimizer, donate=donate)
              .lower(model, state, batches[0], jax.random.key(0)).compile().memory_analysis()
              for donate in (False, True)}
    if memory[True] is None:
        pytest.skip("this backend reports no memory analysis")
    param_bytes = sum(np.asarray(x).nbytes for x in jax.tree.leaves((model, state)))
    assert memory[False].alias_size_in_bytes == 0
    assert memory[True].alias_size_in_bytes == param_bytes
    with pytest.raises(TypeError, match="donate"):
        parallel.data_parallel_step(loss_fn, optimizer, donate="yes")
