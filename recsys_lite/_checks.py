"""Input checks shared by the public entry points: the library's one validation vocabulary.

Every message names the argument, what was received and what was expected.
Inside ``jax.jit`` (and grad, vmap, scan) arrays are abstract tracers whose
shape and dtype are known but not their values: the checks look at shapes and
dtypes always (once, while tracing) and at values only when they are concrete
(:func:`is_traced` tells which). Use these, not inline checks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "describe", "is_traced", "as_array",
    "check_number", "check_positive", "check_unit_interval",
    "check_size", "check_sizes", "check_int_in_range", "check_fraction",
    "check_ndim", "check_same_shape", "check_nonempty", "check_finite", "check_features", "nonfinite_leaves",
    "check_ids", "check_lengths", "check_batch_ids", "check_history",
    "check_flag", "check_str", "check_callable", "check_key", "check_float_dtype", "check_columns", "check_batch",
    "lookup", "check_optimizer",
]


# --- describing a value -------------------------------------------------------------

def describe(value: Any) -> str:
    """A short description of ``value`` for an error message."""
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        return f"an array of shape {tuple(shape)} and dtype {dtype}"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def is_traced(value: Any) -> bool:
    """True when ``value`` is abstract (inside jax.jit, grad, vmap, scan): its values are unknown."""
    import jax

    return isinstance(value, jax.core.Tracer)


def as_array(name: str, value: Any):
    """``value`` if it is an array (numpy, jax, a tracer), else ``np.asarray(value)``; TypeError if no numbers."""
    import jax.numpy as jnp

    original = value
    if not (hasattr(value, "shape") and hasattr(value, "dtype")):
        try:
            value = np.asarray(value)
        except (TypeError, ValueError):  # ragged, or a list of tracers: let JAX try
            try:
                value = jnp.asarray(value)
            except (TypeError, ValueError):
                value = None
    if value is None or not any(jnp.issubdtype(value.dtype, kind) for kind in (jnp.number, jnp.bool_)):
        raise TypeError(f"`{name}` must be an array of numbers; got {describe(original)}.")
    return value


# --- a number that may be traced (a hyperparameter: learning rate, penalty, δ); a traced one passes --

def _real(name: str, value: Any) -> float | None:
    """``value`` as a float after checking it is one real number; None when it is traced."""
    if is_traced(value):
        return None
    if not isinstance(value, (bool, np.bool_, str, bytes)) and np.ndim(value) == 0:
        try:
            return float(value)
        except (TypeError, ValueError):
            pass
    raise TypeError(f"`{name}` must be a number; got {describe(value)}.")


def check_number(name: str, value: Any) -> None:
    """Raise unless ``value`` is a finite real number (e.g. a global mean μ); a traced value passes."""
    number = _real(name, value)
    if number is not None and not math.isfinite(number):
        raise ValueError(f"`{name}` must be a finite number; got {value!r}.")


def check_positive(name: str, value: Any, *, allow_zero: bool = False) -> None:
    """Raise unless ``value`` is a finite number > 0 (or >= 0); a traced value passes."""
    number = _real(name, value)
    if number is not None and not (math.isfinite(number) and (number >= 0 if allow_zero else number > 0)):
        wanted = "a finite number >= 0" if allow_zero else "a finite number > 0"
        raise ValueError(f"`{name}` must be {wanted}; got {value!r}.")


def check_unit_interval(name: str, value: Any) -> None:
    """Raise unless ``0 <= value < 1`` (a decay rate or momentum); a traced value passes."""
    check_positive(name, value, allow_zero=True)
    if not is_traced(value) and not float(value) < 1:
        raise ValueError(f"`{name}` must be in [0, 1); got {value!r}.")


# --- a static number (a size, a count, a seed, a dropout rate: fixed when the code is traced) --

def _integer(value: Any) -> bool:
    """True for a Python or numpy integer (or a 0-d integer array), False for bool and the rest."""
    return (not isinstance(value, (bool, np.bool_)) and hasattr(value, "__index__") and np.ndim(value) == 0
            and getattr(value, "dtype", np.dtype(int)).kind in "iu")


def check_size(name: str, value: Any) -> int:
    """Return ``value`` as an int after checking it is a positive integer (a size or a count)."""
    if not _integer(value):
        raise TypeError(f"`{name}` must be a positive integer; got {describe(value)}.")
    if int(value) < 1:
        raise ValueError(f"`{name}` must be a positive integer; got {value!r}.")
    return int(value)


def check_sizes(name: str, value: Any, *, allow_empty: bool = False) -> tuple[int, ...]:
    """Return ``value`` as a tuple after checking it is a sequence of positive integers (layer widths)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"`{name}` must be a tuple of positive integers, e.g. (64, 32); got {describe(value)}.")
    if not value and not allow_empty:
        raise ValueError(f"`{name}` must hold at least one size; got {value!r}.")
    return tuple(check_size(f"{name}[{i}]", n) for i, n in enumerate(value))


def check_int_in_range(name: str, value: Any, low: int, high: int | None = None) -> int:
    """Return ``value`` as an int after checking ``low <= value < high`` (``high=None``: no upper bound)."""
    if not _integer(value):
        raise TypeError(f"`{name}` must be an integer; got {describe(value)}.")
    if not (low <= value and (high is None or value < high)):
        wanted = f"an integer >= {low}" if high is None else f"in [{low}, {high})"
        raise ValueError(f"`{name}` must be {wanted}; got {value}.")
    return int(value)


def check_fraction(name: str, value: Any) -> None:
    """Raise unless ``value`` is a Python or numpy real number in [0, 1): a dropout rate, static (never an array)."""
    message = f"`{name}` must be a number in [0, 1) (the fraction dropped); got {describe(value)}."
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(message)
    if not 0.0 <= value < 1.0:
        raise ValueError(message)


# --- an array ---------------------------------------------------------------------------

def check_ndim(name: str, value: Any, ndim: int | Sequence[int], meaning: str = "") -> None:
    """Raise ``ValueError`` unless ``value`` has ``ndim`` dimensions (or one of them)."""
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if np.ndim(value) not in allowed:
        wanted = " or ".join(str(d) for d in allowed)
        extra = f" ({meaning})" if meaning else ""
        raise ValueError(f"`{name}` must have {wanted} dimension(s){extra}; got {describe(value)}.")


def check_same_shape(name_a: str, a: Any, name_b: str, b: Any) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same shape."""
    if np.shape(a) != np.shape(b):
        raise ValueError(f"`{name_a}` and `{name_b}` must have the same shape; "
                         f"got {tuple(np.shape(a))} and {tuple(np.shape(b))}.")


def check_nonempty(name: str, value: Any, what: str = "value") -> None:
    """Raise ``ValueError`` if the array ``value`` holds no elements."""
    if np.size(value) == 0:
        raise ValueError(f"`{name}` must hold at least one {what}; got {describe(value)}.")


def check_finite(name: str, value: Any) -> None:
    """Raise ``ValueError`` if a concrete ``value`` holds NaN or ±inf (skipped under tracing)."""
    if is_traced(value):
        return
    arr = np.asarray(value)
    if arr.dtype.kind in "fc":
        bad = ~np.isfinite(arr)
        if bad.any():
            raise ValueError(f"`{name}` must be finite; it holds {int(bad.sum())} NaN or infinite value(s) "
                             f"(of {arr.size}), e.g. {arr[bad].flat[0]}.")


def check_features(name: str, x: Any, *, width: int | None = None, rows: int | None = None,
                   meaning: str = "") -> None:
    """Check a (rows, width) feature matrix: numbers, 2-D, the sizes given, finite when concrete."""
    arr = as_array(name, x)
    check_ndim(name, arr, 2, meaning)
    expected = f"({'n' if rows is None else rows}, {'d' if width is None else width})"
    extra = f" ({meaning})" if meaning else ""
    if (rows is not None and arr.shape[0] != rows) or (width is not None and arr.shape[1] != width):
        raise ValueError(f"`{name}` must have shape {expected}{extra}; got {describe(arr)}.")
    check_finite(name, arr)


def nonfinite_leaves(tree: Any) -> list[str]:
    """The pytree paths (``.item_embedding.table`` …) of the leaves of ``tree`` that hold NaN or ±inf."""
    import jax

    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    return [jax.tree_util.keystr(path) for path, leaf in leaves
            if np.asarray(leaf).dtype.kind in "fc" and not np.isfinite(np.asarray(leaf)).all()]


# --- ids and sequences --------------------------------------------------------------------

def check_ids(name: str, ids: Any, n: int | None, what: str, *, ndim: int | Sequence[int] | None = None,
              meaning: str = ""):
    """Check an id array: integer dtype (and ``ndim`` when given) always, ``0 <= ids < n`` when concrete.

    ``n=None``: only ``0 <= ids``; ``what`` names the id space, e.g. ``"users"``. Returns
    the ids as an int64 numpy array when concrete, the tracer itself under ``jax.jit``.
    """
    import jax.numpy as jnp

    traced = is_traced(ids)
    arr = ids if traced else np.asarray(as_array(name, ids))
    if ndim is not None:
        check_ndim(name, arr, ndim, meaning)
    integer = jnp.issubdtype(arr.dtype, jnp.integer) if traced else np.issubdtype(arr.dtype, np.integer)
    if (traced or arr.size) and not integer:
        raise TypeError(f"`{name}` must hold integer ids of {what}; got {describe(arr)}.")
    if traced:
        return arr
    if n is None:
        if arr.size and arr.min() < 0:
            raise ValueError(f"`{name}` holds negative ids, e.g. {int(arr.min())}: ids of {what} count from 0.")
    elif arr.size and (arr.min() < 0 or arr.max() >= n):
        bad = arr[(arr < 0) | (arr >= n)]
        raise ValueError(f"`{name}` holds ids out of range: expected 0 <= id < {n} "
                         f"(there are {n} {what}), got {bad.size} bad value(s), e.g. {int(bad.flat[0])}.")
    return arr.astype(np.int64, copy=False)


def check_lengths(name: str, lengths: Any, batch_shape: tuple, steps: int, *, low: int = 0) -> None:
    """Check sequence lengths: shape ``batch_shape`` and integers always, ``low <= length <= steps`` when concrete."""
    import jax.numpy as jnp

    arr = as_array(name, lengths)
    if tuple(arr.shape) != tuple(batch_shape):
        raise ValueError(f"`{name}` must have shape {tuple(batch_shape)} (one per sequence); got {describe(arr)}.")
    if not jnp.issubdtype(arr.dtype, jnp.integer):
        raise TypeError(f"`{name}` must hold integer lengths; got {describe(arr)}.")
    if is_traced(arr) or not arr.size:
        return
    known = np.asarray(arr)
    if known.min() < low:
        raise ValueError(f"`{name}` must be ≥ {low}; got a length of {int(known.min())}.")
    if known.max() > steps:
        raise ValueError(f"`{name}` must be ≤ the padded length {steps}; got a length of {int(known.max())}.")


def check_batch_ids(batch: Any, sizes: dict, *, ndim: int | None = None) -> tuple:
    """A model's id columns ``batch[k]`` as jax arrays, checked by :func:`check_ids` and of one shape.

    ``sizes`` maps each key to its number of ids, e.g. ``{"user": n_users, "item": n_items}`` (None: id >= 0).
    """
    import jax.numpy as jnp

    check_batch("batch", batch, list(sizes))
    for key, n in sizes.items():
        check_ids(f"batch[{key!r}]", batch[key], n, f"{key}s", ndim=ndim, meaning=f"(B,) {key} ids")
    arrays = tuple(jnp.asarray(batch[key]) for key in sizes)
    if len({a.shape for a in arrays}) > 1:
        raise ValueError(" and ".join(f"`batch[{k!r}]`" for k in sizes) + " must have the same shape, one row "
                         f"per pair; got {', '.join(str(a.shape) for a in arrays)}.")
    return arrays


def check_history(name: str, history: Any, n_items: int, *, steps: int | None = None,
                  rows: int | None = None) -> None:
    """Raise unless ``history`` is (B, steps) item ids in [0, n_items] (``n_items``: padding), ``rows`` rows."""
    history = as_array(name, history)
    check_ids(name, history, n_items + 1, f"ids: {n_items} items and the padding id {n_items}", ndim=2,
              meaning="(batch, steps) item ids, left-aligned, padded on the right with n_items")
    if history.shape[1] < 1:
        raise ValueError(f"`{name}` must have at least one step (column); got {describe(history)}.")
    if steps is not None and history.shape[1] != steps:
        raise ValueError(f"`{name}` must have {steps} columns, the window the model was built for (the last "
                         f"{steps} items, padded with {n_items}); got {describe(history)}.")
    if rows is not None and history.shape[0] != rows:
        raise ValueError(f"`{name}` must have one row per user ({rows}); got {describe(history)}.")


# --- other kinds ---------------------------------------------------------------------------

def check_flag(name: str, value: Any) -> None:
    """Raise ``TypeError`` unless ``value`` is a Python or numpy bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be True or False; got {describe(value)}.")


def check_str(name: str, value: Any, *, allow_none: bool = False) -> None:
    """Raise ``TypeError`` unless ``value`` is a string (or None when allowed)."""
    if not (isinstance(value, str) or (allow_none and value is None)):
        wanted = "a string or None" if allow_none else "a string"
        raise TypeError(f"`{name}` must be {wanted}; got {describe(value)}.")


def check_callable(name: str, value: Any, what: str) -> None:
    """Raise ``TypeError`` unless ``value`` is callable; ``what`` says how it is called."""
    if not callable(value):
        raise TypeError(f"`{name}` must be a function {what}; got {describe(value)}.")


def check_key(name: str, key: Any, *, allow_none: bool = False) -> None:
    """Raise ``TypeError`` unless ``key`` is one PRNG key: ``jax.random.key(0)`` or a raw ``PRNGKey``."""
    import jax

    if key is None and allow_none:
        return
    dtype, shape = getattr(key, "dtype", None), getattr(key, "shape", None)
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key) and tuple(shape) == ():
        return
    if dtype is not None and dtype == np.uint32 and len(shape) == 1 and shape[0] in (2, 4):
        return
    wanted = "None or a PRNG key" if allow_none else "a PRNG key"
    raise TypeError(f"`{name}` must be {wanted}, e.g. jax.random.key(0); got {describe(key)}.")


def check_float_dtype(name: str, dtype: Any) -> None:
    """Raise ``TypeError`` unless ``dtype`` is a floating-point dtype (parameters must be)."""
    import jax.numpy as jnp

    try:
        ok = jnp.issubdtype(jnp.dtype(dtype), jnp.floating)
    except TypeError:
        ok = False
    if not ok:
        raise TypeError(f"`{name}` must be a floating-point dtype such as jnp.float32; got {dtype!r}.")


def check_columns(name: str, frame: Any, required: Sequence[str], *, nonempty: bool = False) -> None:
    """Raise unless ``frame`` is a pandas DataFrame with every column in ``required`` (and a row, if ``nonempty``)."""
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"`{name}` must be a pandas DataFrame with columns {list(required)}; got {describe(frame)}.")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"`{name}` lacks the column(s) {missing}: expected {list(required)}; "
                         f"it has {[str(c) for c in frame.columns]}.")
    if nonempty and not len(frame):
        raise ValueError(f"`{name}` must hold at least one row; got an empty table with columns "
                         f"{[str(c) for c in frame.columns]}.")


def check_batch(name: str, batch: Any, keys: Sequence[str]) -> None:
    """Raise unless ``batch`` is a mapping holding every key in ``keys``."""
    if not isinstance(batch, Mapping):
        raise TypeError(f"`{name}` must be a dict of arrays with keys {list(keys)}; got {describe(batch)}.")
    missing = [k for k in keys if k not in batch]
    if missing:
        raise ValueError(f"`{name}` lacks the key(s) {missing}: expected {list(keys)}; "
                         f"it has {sorted(map(str, batch))}.")


def lookup(name: str, value: Any, table: dict, kind: str) -> Any:
    """``table[value]``, or a callable ``value`` itself (an activation; ``kind`` says how, e.g. ``"g(z)"``)."""
    if callable(value):
        return value
    if isinstance(value, str) and value in table:
        return table[value]
    raise ValueError(f"`{name}` must be one of {sorted(table)} or a callable {kind}; got {describe(value)}.")


def check_optimizer(name: str, value: Any) -> None:
    """Raise ``TypeError`` unless ``value`` is optax-shaped: ``init(params)`` and ``update(grads, state, params)``."""
    if not (callable(getattr(value, "init", None)) and callable(getattr(value, "update", None))):
        raise TypeError(f"`{name}` must be an optax-shaped GradientTransformation with init(params) and "
                        f"update(grads, state, params), e.g. optim.adam(1e-3); got {describe(value)}.")
