"""A row-sharded embedding look-up written with ``jax.shard_map``: each device gathers the rows it owns.

Table E (n, K) split by rows over the D devices of a mesh axis: device d holds
E_d = E[d·r : (d+1)·r], r = n/D. For ids i_1 … i_B, row j of the result is

    out_j = Σ_d 1[d·r ≤ i_j < (d+1)·r] · E_d[i_j − d·r]  =  E[i_j],

one term per device of which exactly one is not zero: every device gathers
the ids that fall in its rows (a *masked* local gather, zeros elsewhere) and a
sum over devices (``psum``) assembles the rows. The gradient flows back the
same way: the transpose of ``psum`` hands every device the cotangent of the
whole (B, K) output, and the transpose of the local gather scatter-adds it
into the rows that device owns — no device ever holds the whole table or its
whole gradient.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from recsys_lite._checks import check_flag, describe
from recsys_lite.parallel import _axis_size

__all__ = ["sharded_lookup"]


def _local_rows(table, ids, axis):
    """On one device: the rows of ``ids`` this device owns, zeros for the others; (B,) → (B, ...)."""
    rows = table.shape[0]
    local = ids - jax.lax.axis_index(axis) * rows
    mine = (local >= 0) & (local < rows)
    gathered = table[jnp.clip(local, 0, rows - 1)]
    return jnp.where(mine.reshape(mine.shape + (1,) * (table.ndim - 1)), gathered, 0)


def sharded_lookup(table: Any, ids: Any, mesh: Mesh, axis: str = "data", *, ids_sharded: bool = True) -> jax.Array:
    """E[ids] for a table split by rows over ``axis``, computed where the rows live (``jax.shard_map``).

    ``table``: (n, K) or (n,), split by rows over the D devices of ``axis``
    (:func:`~recsys_lite.parallel.shard_rows`); n a multiple of D.
    ``ids``: (B,) integers in [0, n); ids outside it return zero rows (no
    device owns them), and are not checked, so that the function can be jitted.

    ``ids_sharded=True`` (a batch split over ``axis``, B a multiple of D):
    every device gathers all B ids (``all_gather``, B ids), looks up the rows
    it owns, and a ``psum_scatter`` sums the D partial (B, K) results and
    leaves device d its own B/D rows: the output is (B, K), split like the ids.
    ``ids_sharded=False`` (the same ids on every device): the partial results
    are summed with one ``psum`` (an all-reduce) and every device gets (B, K).

    Equal to ``table[ids]`` (exactly: each sum has one non-zero term), and so
    is its gradient with respect to ``table``. Jittable and differentiable.

    Raises:
        TypeError: ``mesh`` not a Mesh; ``ids`` not integers; ``ids_sharded`` not a bool.
        ValueError: ``axis`` not on the mesh; ``table`` without rows, or rows not a multiple of D;
            ``ids`` not 1-D, or (sharded) B not a multiple of D.
    """
    n_dev = _axis_size(mesh, axis)
    check_flag("ids_sharded", ids_sharded)
    if not (hasattr(table, "shape") and hasattr(table, "dtype")) or np.ndim(table) not in (1, 2):
        raise ValueError(f"`table` must be an array of shape (n, K) or (n,); got {describe(table)}.")
    if table.shape[0] % n_dev:
        raise ValueError(f"`table` has {table.shape[0]} rows, which do not split evenly over the {n_dev} devices "
                         f"of mesh axis {axis!r}; pad it with pad_rows(table, {n_dev}).")
    if not (hasattr(ids, "shape") and hasattr(ids, "dtype")):
        ids = np.asarray(ids)
    if not jnp.issubdtype(ids.dtype, jnp.integer):
        raise TypeError(f"`ids` must be integers; got {describe(ids)}.")
    if np.ndim(ids) != 1:
        raise ValueError(f"`ids` must be 1-D, (B,); got {describe(ids)}.")
    if ids_sharded and ids.shape[0] % n_dev:
        raise ValueError(f"`ids` has {ids.shape[0]} entries, which do not split evenly over the {n_dev} devices "
                         f"of mesh axis {axis!r}; use a multiple of {n_dev}, or ids_sharded=False.")

    if ids_sharded:
        def local(tab, i):
            every_id = jax.lax.all_gather(i, axis, tiled=True)  # (B,) on every device
            return jax.lax.psum_scatter(_local_rows(tab, every_id, axis), axis, scatter_dimension=0, tiled=True)
        in_specs, out_specs = (P(axis), P(axis)), P(axis)
    else:
        def local(tab, i):
            return jax.lax.psum(_local_rows(tab, i, axis), axis)
        in_specs, out_specs = (P(axis), P()), P()
    return jax.shard_map(local, mesh=mesh, in_specs=in_specs, out_specs=out_specs)(table, ids)
