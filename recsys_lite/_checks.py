"""Input checks shared by the public entry points.

Every message names the argument, what was received and what was expected,
so that a reader who passes the wrong thing learns what to pass instead.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np


def describe(value: Any) -> str:
    """A short description of ``value`` for an error message."""
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        return f"an array of shape {tuple(shape)} and dtype {dtype}"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def check_ndim(name: str, value: Any, ndim: int | Sequence[int], meaning: str = "") -> None:
    """Raise ``ValueError`` unless ``value`` has ``ndim`` dimensions (or one of them)."""
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    got = np.ndim(value)
    if got not in allowed:
        wanted = " or ".join(str(d) for d in allowed)
        extra = f" ({meaning})" if meaning else ""
        raise ValueError(f"`{name}` must have {wanted} dimension(s){extra}; got {describe(value)}.")


def check_same_shape(name_a: str, a: Any, name_b: str, b: Any) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same shape."""
    if np.shape(a) != np.shape(b):
        raise ValueError(
            f"`{name_a}` and `{name_b}` must have the same shape; "
            f"got {tuple(np.shape(a))} and {tuple(np.shape(b))}."
        )


def check_positive(name: str, value: Any, *, allow_zero: bool = False) -> None:
    """Raise ``ValueError`` unless ``value`` is a finite number > 0 (or >= 0).

    A traced value (inside jax.jit or vmap, e.g. a learning rate injected as
    an argument) is known only at run time, so it passes unchecked.
    """
    if is_traced(value):
        return
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise TypeError(f"`{name}` must be a number; got {describe(value)}.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a number; got {describe(value)}.") from None
    ok = math.isfinite(number) and (number >= 0 if allow_zero else number > 0)
    if not ok:
        wanted = "a finite number >= 0" if allow_zero else "a finite number > 0"
        raise ValueError(f"`{name}` must be {wanted}; got {value!r}.")


def check_int_in_range(name: str, value: Any, low: int, high: int | None = None) -> None:
    """Raise unless ``value`` is an integer with ``low <= value < high`` (``high=None``: no upper bound)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be an integer; got {describe(value)}.")
    if high is None and not low <= value:
        raise ValueError(f"`{name}` must be an integer >= {low}; got {value}.")
    if high is not None and not low <= value < high:
        raise ValueError(f"`{name}` must be in [{low}, {high}); got {value}.")


def check_ids(name: str, ids: Any, n: int | None, what: str) -> np.ndarray:
    """Return ``ids`` as an int array after checking ``0 <= ids < n`` (``n=None``: only ``0 <= ids``).

    ``what`` names the id space for the message, e.g. ``"users"``.
    """
    arr = np.asarray(ids)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"`{name}` must hold integer ids of {what}; got {describe(arr)}.")
    if n is None:
        if arr.size and arr.min() < 0:
            raise ValueError(f"`{name}` holds negative ids, e.g. {int(arr.min())}: ids of {what} count from 0.")
        return arr.astype(np.int64, copy=False)
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        bad = arr[(arr < 0) | (arr >= n)]
        raise ValueError(
            f"`{name}` holds ids out of range: expected 0 <= id < {n} "
            f"(there are {n} {what}), got {bad.size} bad value(s), e.g. {int(bad.flat[0])}."
        )
    return arr.astype(np.int64, copy=False)


# --- more checks for the public entry points (train, metrics, optim, data, ...) ----------

def check_unit_interval(name: str, value: Any) -> None:
    """Raise unless ``0 <= value < 1`` (a decay rate or momentum); a traced value passes unchecked."""
    check_positive(name, value, allow_zero=True)
    if not is_traced(value) and not float(value) < 1:
        raise ValueError(f"`{name}` must be in [0, 1); got {value!r}.")


def check_callable(name: str, value: Any, what: str) -> None:
    """Raise ``TypeError`` unless ``value`` is callable; ``what`` says how it is called."""
    if not callable(value):
        raise TypeError(f"`{name}` must be a function {what}; got {describe(value)}.")


def check_str(name: str, value: Any, *, allow_none: bool = False) -> None:
    """Raise ``TypeError`` unless ``value`` is a string (or None when allowed)."""
    if not (isinstance(value, str) or (allow_none and value is None)):
        wanted = "a string or None" if allow_none else "a string"
        raise TypeError(f"`{name}` must be {wanted}; got {describe(value)}.")


def check_nonempty(name: str, value: Any, what: str = "value") -> None:
    """Raise ``ValueError`` if the array ``value`` holds no elements."""
    if np.size(value) == 0:
        raise ValueError(f"`{name}` must hold at least one {what}; got {describe(value)}.")


def check_columns(name: str, frame: Any, required: Sequence[str]) -> None:
    """Raise unless ``frame`` is a pandas DataFrame holding every column in ``required``."""
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"`{name}` must be a pandas DataFrame with columns {list(required)}; "
                        f"got {describe(frame)}.")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"`{name}` lacks the column(s) {missing}: expected {list(required)}; "
                         f"it has {[str(c) for c in frame.columns]}.")


TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off", "")


def env_flag(variable: str) -> bool:
    """Read an on/off environment variable: 1/true/yes/on or 0/false/no/off/empty (any case).

    Unset means False. Anything else raises ``ValueError`` naming the variable,
    so that a typo never silently means "off".
    """
    import os

    raw = os.environ.get(variable)
    if raw is None:
        return False
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"The environment variable {variable} must be one of {'/'.join(TRUE_WORDS)} (on) or "
                     f"{'/'.join(w for w in FALSE_WORDS if w)}/empty (off), in any case; got {raw!r}.")


# --- checks for layers and models (recsys_lite.nn, recsys_lite.models) ----------
#
# A model's __call__ is traced inside jax.jit, where arrays are abstract
# tracers: their shape and dtype are known, their values are not. The checks
# below look at shapes and dtypes always (free at run time: they run once,
# while tracing) and at values only when the array is concrete.

def is_traced(value: Any) -> bool:
    """True when ``value`` is abstract (inside jax.jit, grad, vmap, scan): its values are unknown."""
    import jax

    return isinstance(value, jax.core.Tracer)


def check_size(name: str, value: Any) -> int:
    """Return ``value`` as an int after checking it is a positive integer (a size or a count)."""
    if (isinstance(value, bool) or not hasattr(value, "__index__")  # int or numpy integer
            or np.ndim(value) != 0 or getattr(value, "dtype", np.dtype(int)).kind not in "iu"):  # not an array
        raise TypeError(f"`{name}` must be a positive integer; got {describe(value)}.")
    if int(value) < 1:
        raise ValueError(f"`{name}` must be a positive integer; got {value!r}.")
    return int(value)


def check_fraction(name: str, value: Any) -> None:
    """Raise unless ``value`` is a real number in [0, 1) (a dropout rate)."""
    message = f"`{name}` must be a number in [0, 1) (the fraction dropped); got {describe(value)}."
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(message)
    if not 0.0 <= value < 1.0:
        raise ValueError(message)


def check_flag(name: str, value: Any) -> None:
    """Raise ``TypeError`` unless ``value`` is a Python or numpy bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be True or False; got {describe(value)}.")


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


def as_array(name: str, value: Any):
    """``value`` itself if it is an array (numpy, jax or a tracer), else ``np.asarray(value)``.

    Raises ``TypeError`` for what is no array of numbers (ragged lists, None, strings).
    """
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


def check_id_array(name: str, ids: Any, n: int | None, what: str, *, ndim: int | Sequence[int] | None = None,
                   meaning: str = "") -> None:
    """Check an id array at a model's entry point: integer dtype and ``ndim`` always, 0 <= id < n when
    concrete (``n=None``: only 0 <= id)."""
    import jax.numpy as jnp

    arr = as_array(name, ids)
    if ndim is not None:
        check_ndim(name, arr, ndim, meaning)
    if not jnp.issubdtype(arr.dtype, jnp.integer):
        raise TypeError(f"`{name}` must hold integer ids of {what}; got {describe(arr)}.")
    if not is_traced(arr):
        check_ids(name, arr, n, what)


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


def check_batch(name: str, batch: Any, keys: Sequence[str]) -> None:
    """Raise unless ``batch`` is a mapping holding every key in ``keys``."""
    from collections.abc import Mapping

    if not isinstance(batch, Mapping):
        raise TypeError(f"`{name}` must be a dict of arrays with keys {list(keys)}; got {describe(batch)}.")
    missing = [k for k in keys if k not in batch]
    if missing:
        raise ValueError(f"`{name}` lacks the key(s) {missing}: expected {list(keys)}; "
                         f"it has {sorted(map(str, batch))}.")


def nonfinite_leaves(tree: Any) -> list[str]:
    """The pytree paths (``.items.table`` …) of the leaves of ``tree`` that hold NaN or ±inf."""
    import jax

    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    return [jax.tree_util.keystr(path) for path, leaf in leaves
            if np.asarray(leaf).dtype.kind in "fc" and not np.isfinite(np.asarray(leaf)).all()]


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


def check_number(name: str, value: Any) -> None:
    """Raise unless ``value`` is a finite real number (e.g. a global mean μ); a traced value passes."""
    if is_traced(value):
        return
    if isinstance(value, bool) or np.ndim(value) != 0:
        raise TypeError(f"`{name}` must be a number; got {describe(value)}.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a number; got {describe(value)}.") from None
    if not math.isfinite(number):
        raise ValueError(f"`{name}` must be a finite number; got {value!r}.")


def check_sizes(name: str, value: Any, *, allow_empty: bool = False) -> tuple[int, ...]:
    """Return ``value`` as a tuple after checking it is a sequence of positive integers (layer widths)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"`{name}` must be a tuple of positive integers, e.g. (64, 32); got {describe(value)}.")
    if not value and not allow_empty:
        raise ValueError(f"`{name}` must hold at least one size; got {value!r}.")
    return tuple(check_size(f"{name}[{i}]", n) for i, n in enumerate(value))
