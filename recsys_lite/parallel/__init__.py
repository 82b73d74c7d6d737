"""Data-parallel training with ``jax.sharding``: the appendix's few helpers.

JAX does the work. We only say *where* arrays live; ``jax.jit`` compiles the
same training step for one device or many, and XLA inserts the communication
(the all-reduce that sums the gradients of the per-device shards of a batch):

    mesh = make_mesh()                         # a 1-D Mesh over jax.devices(), axis "data"
    model = replicate(model, mesh)             # or shard_rows(...) for its big tables
    opt_state = init_optimizer(optimizer, model, mesh)
    step = data_parallel_step(loss_fn, optimizer)
    model, opt_state, loss = step(model, opt_state, shard_batch(batch, mesh), key)

With D devices and a batch of m rows, device d holds rows d·m/D … (d+1)·m/D − 1
and computes the gradient of its share; the gradient of the whole batch,

    ∇J_B(θ) = 1/m Σ_{i∈B} ∇ℓ_i(θ) = Σ_d (1/m) Σ_{i∈B_d} ∇ℓ_i(θ),

is the sum over devices, the same number up to the order of float32 additions.
Embedding tables that do not fit one device can be split by rows instead
(:func:`shard_rows`): device d then holds rows d·n/D … (d+1)·n/D − 1.

Each helper raises, naming the argument, for a ``mesh`` that is not a Mesh,
an unknown ``axis``, a leaf that is not an array of numbers, an array without
rows, or a row count that does not split evenly over the devices.

The meshes here use ``Auto`` axes (the ``Mesh`` default): the compiler
propagates the shardings of the inputs through the program.

To try this on one CPU, simulate D devices by setting, before JAX is imported,
``XLA_FLAGS=--xla_force_host_platform_device_count=D`` and ``PJRT_NPROC=2D``.
(XLA's CPU client gives its thread pool max(cores, D) threads; with fewer
cores than D that is one thread per device, and a step with several
independent collectives, such as one all-gather per row-sharded table, can
deadlock waiting for a thread. Two per device leave room.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from recsys_lite._checks import as_array, check_flag, check_optimizer, check_size, check_str, describe
from recsys_lite.train import make_step

__all__ = ["make_mesh", "shard_batch", "replicate", "pad_rows", "shard_rows", "init_optimizer", "data_parallel_step",
           "sharded_lookup", "epoch_shard", "save_checkpoint", "restore_checkpoint",
           "hlo_collectives", "ring_all_reduce_bytes", "lookup_bytes"]


def make_mesh(n_devices: int | None = None, axis: str = "data") -> Mesh:
    """A 1-D mesh over the first ``n_devices`` of ``jax.devices()`` (all of them by default).

    The mesh names the device axis (``axis``) so that shardings can refer to it:
    ``NamedSharding(mesh, P("data"))`` splits an array's first dimension over it.
    Raises if ``n_devices`` is not an integer from 1 to the devices JAX sees, or ``axis`` not a string.
    """
    check_str("axis", axis)
    devices = jax.devices()
    n_devices = len(devices) if n_devices is None else check_size("n_devices", n_devices)
    if n_devices > len(devices):
        raise ValueError(f"`n_devices` must be at most the number of devices JAX sees, {len(devices)} "
                         f"{devices[0].platform.upper()}; got {n_devices}.")
    return Mesh(np.array(devices[:n_devices]), (axis,))


def _with_rows(name: str, value: Any) -> Any:
    """``value`` as an array, after checking that it has rows (a first dimension)."""
    value = as_array(name, value)
    if np.ndim(value) == 0:
        raise ValueError(f"`{name}` must have rows (a first dimension); got {describe(value)}.")
    return value


def _check_leaves(name: str, tree: Any) -> None:
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        as_array(f"{name}{jax.tree_util.keystr(path)}", leaf)


def _check_mesh(mesh: Any) -> None:
    if not isinstance(mesh, Mesh):
        raise TypeError(f"`mesh` must be a jax.sharding.Mesh, e.g. from make_mesh(); got {describe(mesh)}.")


def _axis_size(mesh: Mesh, axis: str) -> int:
    _check_mesh(mesh)
    if not isinstance(axis, str) or axis not in mesh.shape:
        raise ValueError(f"`axis` must be one of the mesh's axes {tuple(mesh.shape)}; got {axis!r}.")
    return mesh.shape[axis]


def shard_batch(batch: Mapping[str, Any], mesh: Mesh, axis: str = "data") -> dict[str, jax.Array]:
    """Split every array of ``batch`` along its first dimension over the devices of ``axis``.

    ``batch``: dict of arrays of shape (m, ...); with D devices on ``axis``,
    each device receives a (m/D, ...) slice, placed with
    ``NamedSharding(mesh, P(axis))``. m must be a multiple of D.
    """
    if not isinstance(batch, Mapping) or not batch:
        raise TypeError(f"`batch` must be a non-empty dict of arrays; got {describe(batch)}.")
    n = _axis_size(mesh, axis)
    sharding = NamedSharding(mesh, P(axis))
    out = {}
    for name, value in batch.items():
        value = _with_rows(f"batch[{name!r}]", value)
        m = np.shape(value)[0]
        if m % n:
            raise ValueError(f"`batch[{name!r}]` has {m} rows, which do not split evenly over the {n} devices "
                             f"of mesh axis {axis!r}; use a batch size that is a multiple of {n} "
                             f"(e.g. {max(n, m - m % n)}).")
        out[name] = jax.device_put(value, sharding)
    return out


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Put a full copy of every leaf of ``tree`` (a model, an optimizer state) on every device: ``P()``."""
    _check_mesh(mesh)
    _check_leaves("tree", tree)
    return jax.device_put(tree, NamedSharding(mesh, P()))


def pad_rows(table: Any, multiple: int) -> jax.Array:
    """Append zero rows to ``table`` (n, ...) so that its row count is a multiple of ``multiple``.

    Returns (⌈n/multiple⌉·multiple, ...). Ids stay < n, so the padding is never
    looked up: its gradient is zero and an optimizer leaves it at zero.
    """
    table = jnp.asarray(_with_rows("table", table))
    check_size("multiple", multiple)
    extra = -table.shape[0] % multiple
    return jnp.pad(table, [(0, extra)] + [(0, 0)] * (table.ndim - 1))


def shard_rows(table: Any, mesh: Mesh, axis: str = "data") -> jax.Array:
    """Split an embedding table E (n, K) — or a bias vector (n,) — by rows over ``axis``.

    With D devices each holds n/D rows. The sharding is ``P(axis)``, the same
    as ``P(axis, None)``: dimensions not named are not split. (We write the
    short form because it is the one the compiler hands back, and jit compiles
    anew for a sharding spelled differently.) n must be a multiple of D (see
    :func:`pad_rows`).
    """
    n = _axis_size(mesh, axis)
    table = _with_rows("table", table)
    rows = np.shape(table)[0]
    if rows % n:
        raise ValueError(f"`table` has {rows} rows, which do not split evenly over the {n} devices of mesh "
                         f"axis {axis!r}; pad it first with pad_rows(table, {n}) (to {rows + -rows % n} rows).")
    return jax.device_put(table, NamedSharding(mesh, P(axis)))


def init_optimizer(optimizer, model: Any, mesh: Mesh) -> Any:
    """``optimizer.init(model)``, every leaf on the mesh.

    Moments shaped like a parameter (Adam's m and v) come out placed like that
    parameter, replicated or split by rows; the rest (the step count t) is
    replicated. Placed this way, the state has the shardings the step returns,
    so the jitted step compiles once rather than again after its first call.
    """
    _check_mesh(mesh)
    _check_leaves("model", model)
    check_optimizer("optimizer", optimizer)

    def place(leaf):
        if isinstance(getattr(leaf, "sharding", None), NamedSharding) and leaf.sharding.mesh == mesh:
            return leaf
        return jax.device_put(leaf, NamedSharding(mesh, P()))

    return jax.tree_util.tree_map(place, optimizer.init(model))


def data_parallel_step(loss_fn: Callable, optimizer, *, donate: bool = False) -> Callable:
    """One jitted training step, for 1 device or many: ``jax.jit`` of :func:`recsys_lite.train.make_step`.

    ``step(model, opt_state, batch, key) -> (θ_{t+1}, s_{t+1}, J)`` is the step
    :func:`~recsys_lite.train.fit` takes, θ_{t+1} = θ_t + update(∇J_B(θ_t)).
    Nothing in it mentions devices: the shardings of the inputs (a batch from
    :func:`shard_batch`, a model from :func:`replicate` or :func:`shard_rows`)
    tell the compiler where each piece runs and which sums need an all-reduce.

    ``donate=True`` donates the model's and the optimizer state's buffers
    (``donate_argnums=(0, 1)``): XLA may write θ_{t+1} and s_{t+1} over θ_t and
    s_t instead of allocating a second copy, so the step needs parameters +
    state once, not twice. The arrays passed in are then deleted: use only
    what the step returns.
    """
    check_flag("donate", donate)
    return jax.jit(make_step(loss_fn, optimizer), donate_argnums=(0, 1) if donate else ())


from recsys_lite.parallel.checkpoint import restore_checkpoint, save_checkpoint  # noqa: E402
from recsys_lite.parallel.cost import hlo_collectives, lookup_bytes, ring_all_reduce_bytes  # noqa: E402
from recsys_lite.parallel.lookup import sharded_lookup  # noqa: E402
from recsys_lite.parallel.pipeline import epoch_shard  # noqa: E402
