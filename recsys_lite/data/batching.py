"""Shuffled minibatches of row-aligned arrays, in an order drawn from a key."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from recsys_lite._checks import as_array, check_flag, check_key, check_size, describe

__all__ = ["minibatches"]


def minibatches(key, arrays: Mapping[str, np.ndarray] | tuple, batch_size: int, *,
                drop_last: bool = False) -> Iterator:
    """Yield shuffled minibatches of ``arrays``, the order drawn from ``key``.

    Args:
        key: a ``jax.random`` key; the same key gives the same order.
        arrays: a dict or tuple of arrays sharing their first dimension ``m``.
        batch_size: rows per batch ``B``; the last batch may be smaller
            unless ``drop_last``.

    Raises:
        TypeError: ``key`` not a PRNG key; ``arrays`` not a dict or tuple of
            arrays of numbers; ``batch_size`` not an integer; ``drop_last`` not a bool.
        ValueError: no arrays, arrays without rows or of different lengths,
            ``batch_size`` < 1.
    """
    import jax

    check_key("key", key)
    if not isinstance(arrays, (Mapping, tuple, list)):
        raise TypeError(f"`arrays` must be a dict or tuple of arrays; got {describe(arrays)}.")
    mapping = isinstance(arrays, Mapping)
    names = [f"arrays[{k!r}]" for k in arrays] if mapping else [f"arrays[{i}]" for i in range(len(arrays))]
    leaves = [as_array(name, leaf) for name, leaf in zip(names, arrays.values() if mapping else arrays)]
    if not leaves:
        raise ValueError("`arrays` must hold at least one array; got an empty collection.")
    for name, leaf in zip(names, leaves):
        if np.ndim(leaf) == 0:
            raise ValueError(f"`{name}` must have a first dimension, one entry per row; got {describe(leaf)}.")
    lengths = [len(leaf) for leaf in leaves]
    if len(set(lengths)) > 1:
        raise ValueError(f"`arrays` must share their first dimension; got lengths {lengths}.")
    if lengths[0] == 0:
        raise ValueError("`arrays` must hold at least one row; got 0 rows.")
    batch_size = check_size("batch_size", batch_size)
    check_flag("drop_last", drop_last)
    m = lengths[0]
    order = np.asarray(jax.random.permutation(key, m))
    for start in range(0, m - m % batch_size if drop_last else m, batch_size):
        batch = [np.asarray(leaf)[order[start:start + batch_size]] for leaf in leaves]
        yield dict(zip(arrays, batch)) if mapping else tuple(batch)
