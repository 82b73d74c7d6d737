"""What :func:`~recsys_lite.train.fit` refuses in a model and its data, before anything is compiled.

Every array of ``data`` holds numbers, float arrays are finite, id columns (``user``, ``item``,
``history``: the model protocol's keys) hold integers that index every user (or item) table of the
model (its :class:`~recsys_lite.nn.Embedding` tables and bias vectors whose names say user or item),
a ``length`` column fits the width of ``history``; the model's parameters are finite floats.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from recsys_lite._checks import as_array, check_finite, check_ids, check_lengths, check_size, describe

__all__ = ["check_model", "check_data"]

# Columns of `data` that hold ids, and the kind of table they index: a padded
# item sequence may also hold the padding id, the last row of the largest item table.
_ID_COLUMNS = {"user": "user", "item": "item", "history": "padded"}


def check_model(model) -> None:
    """The model must be a pytree of number arrays, some of them floats (the parameters), all finite."""
    leaves = {f"model{jax.tree_util.keystr(path)}": as_array(f"model{jax.tree_util.keystr(path)}", leaf)
              for path, leaf in jax.tree_util.tree_flatten_with_path(model)[0]}
    params = {name: leaf for name, leaf in leaves.items() if jnp.issubdtype(leaf.dtype, jnp.inexact)}
    if not params:
        raise TypeError(f"`model` must be a pytree holding floating-point parameters (a recsys_lite model, a "
                        f"layer, a dict of arrays); got {describe(model)}, which has none.")
    for name, values in params.items():
        check_finite(name, values)


def _id_tables(model) -> dict[str, dict[str, int]]:
    """Rows of the model's user and item tables, by path: ``{"user": {".user_embedding.table": 943}, ...}``.

    A table is an :class:`~recsys_lite.nn.Embedding` (rows: ``table.shape[-2]``) or a bias
    vector (rows: ``shape[-1]``) whose name says ``user`` or ``item``. The last axes are read, so a
    stack of copies of a model (a leading grid axis) has the same tables.
    """
    from recsys_lite.nn import Embedding

    tables: dict[str, dict[str, int]] = {"user": {}, "item": {}}
    flat = jax.tree_util.tree_flatten_with_path(model, is_leaf=lambda x: isinstance(x, Embedding))[0]
    for path, leaf in flat:
        name = jax.tree_util.keystr(path[-1:]).strip(".[]'\"").lower()  # ".users", "['users']" -> "users"
        if isinstance(leaf, Embedding) and np.ndim(leaf.table) >= 2:
            where, rows = jax.tree_util.keystr(path) + ".table", np.shape(leaf.table)[-2]
        elif "bias" in name and np.ndim(leaf) >= 1:
            where, rows = jax.tree_util.keystr(path), np.shape(leaf)[-1]
        else:
            continue
        kind = "user" if "user" in name else "item" if "item" in name else None
        if kind:
            tables[kind][where] = int(rows)
    return tables


def check_data(data: Mapping[str, Any], batch_size: int, model) -> dict[str, jax.Array]:
    """``data`` as JAX arrays, after checking it (see :func:`~recsys_lite.train.fit`, Raises)."""
    if not isinstance(data, Mapping) or not data:
        raise TypeError(f"`data` must be a non-empty dict of arrays sharing their first dimension; got "
                        f"{describe(data)}.")
    arrays = {}
    for name, value in data.items():
        value = as_array(f"data[{name!r}]", value)
        if np.ndim(value) == 0:
            raise ValueError(f"`data[{name!r}]` must have a first dimension, one entry per row; got {describe(value)}.")
        arrays[name] = jnp.asarray(value)
    lengths = {name: value.shape[0] for name, value in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"`data` arrays must share their first dimension; got lengths {lengths}.")
    if next(iter(lengths.values())) == 0:
        raise ValueError(f"`data` must hold at least one row; got 0 rows in every array {sorted(map(str, data))}.")
    check_size("batch_size", batch_size)
    tables = _id_tables(model)
    for name, value in arrays.items():
        values = np.asarray(value)
        check_finite(f"data[{name!r}]", values)
        if name not in _ID_COLUMNS:
            continue
        # An id column: integers, >= 0, and below the rows of every table it indexes.
        kind, rows = _ID_COLUMNS[name], None
        found = tables["item" if kind == "padded" else kind]
        what = "items" if kind == "padded" else f"{kind}s"
        if found:
            rows = min(found.values())
            if kind == "padded":
                # The padding id is n_items (data.user_sequences): the extra last row of a padded
                # item table, or one past the tables when the model has none (it does not read them).
                rows = max(found.values()) if max(found.values()) > rows else rows + 1
                what += ", plus the padding id,"
            what += f" in the model's table(s) {', '.join(found)}"
        check_ids(f"data[{name!r}]", values, rows, what)
    if "length" in arrays and "history" in arrays and arrays["history"].ndim == 2:
        history = arrays["history"]
        check_lengths("data['length']", arrays["length"], history.shape[:1], history.shape[1])
    return arrays
