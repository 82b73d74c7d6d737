"""Initialisers ``(key, shape, dtype) -> array`` for the weights of a layer.

Every initialiser raises ``TypeError``/``ValueError`` for a ``key`` that is no
PRNG key, a ``shape`` that is not positive integers, or a ``dtype`` that is
not floating.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

from recsys_lite._checks import check_float_dtype, check_key, check_positive, check_sizes, lookup

__all__ = [
    "compute_fans", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal",
    "normal", "zeros", "INITIALIZERS", "get_initializer",
]


# --- initialisers: (key, shape, dtype) -> array --------------------------------
#
# Why the variances: for z_j = Σ_i x_i W_ij with independent zero-mean terms,
# Var(z) = fan_in · Var(W) · Var(x). Keeping Var(z) = Var(x) on the forward
# pass needs Var(W) = 1/fan_in; keeping gradients' variance on the backward
# pass needs 1/fan_out. Glorot compromises: Var(W) = 2/(fan_in + fan_out).
# ReLU zeroes half its inputs, halving the variance, so He doubles it:
# Var(W) = 2/fan_in. A uniform U(−l, l) has variance l²/3, so l = √(3·Var).

def compute_fans(shape: Sequence[int]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of ``shape``.

    Dense, W of shape (n_in, n_out): fan_in = n_in, fan_out = n_out.
    Convolution kernel of shape (width, ..., in_channels, out_channels): each
    output sums over the receptive field, so with r = width · ... (all but
    the last two axes), fan_in = r · in_channels and fan_out = r · out_channels.

    Raises ``TypeError``/``ValueError`` unless ``shape`` is a tuple of at least two positive integers.
    """
    shape = check_sizes("shape", shape)
    if len(shape) < 2:
        raise ValueError(
            f"`shape` must have at least 2 dimensions (n_in, n_out) to have a fan-in and a fan-out; got {shape}."
        )
    receptive = math.prod(shape[:-2])
    return receptive * shape[-2], receptive * shape[-1]


def _check_init_args(key, dtype) -> None:
    check_key("key", key)
    check_float_dtype("dtype", dtype)


def glorot_uniform(key, shape, dtype=jnp.float32):
    """W ~ U(−l, l), l = √(6/(fan_in + fan_out)), so Var(W) = 2/(fan_in + fan_out).

    Every initialiser raises ``TypeError``/``ValueError`` for a ``key`` that is no PRNG
    key, a ``shape`` that is not positive integers, or a ``dtype`` that is not floating.
    """
    _check_init_args(key, dtype)
    fan_in, fan_out = compute_fans(shape)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return jax.random.uniform(key, tuple(shape), dtype, -limit, limit)


def glorot_normal(key, shape, dtype=jnp.float32):
    """W ~ N(0, 2/(fan_in + fan_out)) (untruncated)."""
    _check_init_args(key, dtype)
    fan_in, fan_out = compute_fans(shape)
    return math.sqrt(2.0 / (fan_in + fan_out)) * jax.random.normal(key, tuple(shape), dtype)


def he_uniform(key, shape, dtype=jnp.float32):
    """W ~ U(−l, l), l = √(6/fan_in), so Var(W) = 2/fan_in: for ReLU layers."""
    _check_init_args(key, dtype)
    fan_in, _ = compute_fans(shape)
    limit = math.sqrt(6.0 / fan_in)
    return jax.random.uniform(key, tuple(shape), dtype, -limit, limit)


def he_normal(key, shape, dtype=jnp.float32):
    """W ~ N(0, 2/fan_in) (untruncated): for ReLU layers."""
    _check_init_args(key, dtype)
    fan_in, _ = compute_fans(shape)
    return math.sqrt(2.0 / fan_in) * jax.random.normal(key, tuple(shape), dtype)


def normal(stddev: float = 0.01) -> Callable:
    """An initialiser drawing W ~ N(0, stddev²), whatever the fans. Any shape."""
    check_positive("stddev", stddev)

    def init(key, shape, dtype=jnp.float32):
        _check_init_args(key, dtype)
        return stddev * jax.random.normal(key, check_sizes("shape", shape, allow_empty=True), dtype)

    return init


def zeros(key, shape, dtype=jnp.float32):
    """W = 0 (``key`` is unused; it is there so every initialiser is called alike). Any shape."""
    _check_init_args(key, dtype)
    return jnp.zeros(check_sizes("shape", shape, allow_empty=True), dtype)


INITIALIZERS: dict[str, Callable] = {
    "glorot_uniform": glorot_uniform, "glorot_normal": glorot_normal,
    "he_uniform": he_uniform, "he_normal": he_normal, "normal": normal(), "zeros": zeros,
}


def get_initializer(name_or_fn: str | Callable, *, arg: str = "weight_init") -> Callable:
    """The initialiser named ``name_or_fn`` (a key of ``INITIALIZERS``; "normal" has stddev 0.01).

    A callable ``(key, shape, dtype) -> array`` passes through.
    """
    return lookup(arg, name_or_fn, INITIALIZERS, "(key, shape, dtype) -> array")
