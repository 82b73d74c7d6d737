"""Saving sharded state with Orbax: each process writes the shards it holds, and restores onto a target sharding.

``np.savez(path, np.asarray(x))`` needs the whole of ``x`` in this process.
With many processes a row-sharded table is not *fully addressable* (part of it
lives on other hosts' devices) and ``np.asarray`` raises. Orbax (the JAX
ecosystem's checkpointing library) writes every shard from the process that
holds it, with the array's global shape and index, and restores each array
directly into the sharding it is asked for, reading only the pieces each
device needs. All processes must call both functions, with the same path (a
file system they share).
"""

from __future__ import annotations

import os
from typing import Any

import jax

from recsys_lite._checks import describe

__all__ = ["save_checkpoint", "restore_checkpoint"]


def _path(path: Any) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`path` must be a path (str or os.PathLike); got {describe(path)}.")
    return os.path.abspath(os.fspath(path))


def save_checkpoint(path: Any, tree: Any) -> None:
    """Write ``tree`` (a pytree of arrays: a model, an optimizer state) to the new folder ``path`` with Orbax.

    Every leaf is written shard by shard by the process that holds it; the call
    returns when the checkpoint is complete on disk. ``path`` must not exist.

    Raises:
        TypeError: ``path`` not a path; a leaf that is not an array.
        FileExistsError: ``path`` exists.
    """
    import orbax.checkpoint as ocp

    path = _path(path)
    if os.path.exists(path):
        raise FileExistsError(f"`path` {path!r} exists; checkpoints are written to a new folder.")
    for keypath, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        if not isinstance(leaf, jax.Array):
            raise TypeError(f"`tree{jax.tree_util.keystr(keypath)}` must be a jax.Array; got {describe(leaf)}.")
    with ocp.StandardCheckpointer() as checkpointer:
        checkpointer.save(path, tree)
        checkpointer.wait_until_finished()


def restore_checkpoint(path: Any, like: Any) -> Any:
    """Read the checkpoint at ``path`` into the structure, shapes, dtypes and shardings of ``like``.

    ``like``: the same pytree as was saved, of arrays or ``jax.ShapeDtypeStruct``
    with a ``sharding``: each leaf comes back placed with that sharding (which
    need not be the one it was saved with).

    Raises:
        TypeError: ``path`` not a path; a leaf of ``like`` without a shape, dtype and sharding.
        FileNotFoundError: no checkpoint at ``path``.
    """
    import orbax.checkpoint as ocp

    path = _path(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"`path` {path!r}: no checkpoint there.")
    targets = []
    leaves, treedef = jax.tree_util.tree_flatten_with_path(like)
    for keypath, leaf in leaves:
        if getattr(leaf, "sharding", None) is None or not hasattr(leaf, "shape"):
            raise TypeError(f"`like{jax.tree_util.keystr(keypath)}` must be an array or jax.ShapeDtypeStruct "
                            f"with a sharding; got {describe(leaf)}.")
        targets.append(jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=leaf.sharding))
    with ocp.StandardCheckpointer() as checkpointer:
        return checkpointer.restore(path, jax.tree_util.tree_unflatten(treedef, targets))
