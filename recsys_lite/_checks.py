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
    """Raise ``ValueError`` unless ``value`` is a finite number > 0 (or >= 0)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a number; got {describe(value)}.") from None
    ok = math.isfinite(number) and (number >= 0 if allow_zero else number > 0)
    if not ok:
        wanted = "a finite number >= 0" if allow_zero else "a finite number > 0"
        raise ValueError(f"`{name}` must be {wanted}; got {value!r}.")


def check_int_in_range(name: str, value: Any, low: int, high: int) -> None:
    """Raise unless ``value`` is an integer with ``low <= value < high``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be an integer; got {describe(value)}.")
    if not low <= value < high:
        raise ValueError(f"`{name}` must be in [{low}, {high}); got {value}.")


def check_ids(name: str, ids: Any, n: int, what: str) -> np.ndarray:
    """Return ``ids`` as an int array after checking ``0 <= ids < n``.

    ``what`` names the id space for the message, e.g. ``"users"``.
    """
    arr = np.asarray(ids)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"`{name}` must hold integer ids of {what}; got {describe(arr)}.")
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        bad = arr[(arr < 0) | (arr >= n)]
        raise ValueError(
            f"`{name}` holds ids out of range: expected 0 <= id < {n} "
            f"(there are {n} {what}), got {bad.size} bad value(s), e.g. {int(bad.flat[0])}."
        )
    return arr.astype(np.int64, copy=False)
