"""Activations a = g(z) and their derivatives g'(z), written as chapter 4 derives them.

Every function is elementwise on an array of any shape (``softmax`` along an
axis) and raises ``TypeError`` for input that is not numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

from recsys_lite._checks import as_array, check_flag, check_int_in_range, check_number, lookup

__all__ = [
    "sigmoid", "tanh", "relu", "leaky_relu", "gelu", "softmax", "identity",
    "sigmoid_grad", "tanh_grad", "relu_grad", "leaky_relu_grad",
    "ACTIVATIONS", "get_activation",
]


# --- activations a = g(z), elementwise unless said otherwise -----------------

def sigmoid(z):
    """σ(z) = 1 / (1 + e^{−z});  σ'(z) = σ(z)(1 − σ(z)).  Any shape → same shape.

    Numerically stable: e^{−z} overflows for z ≪ 0, so there we use the equal
    form σ(z) = e^{z} / (1 + e^{z}). Each branch only ever sees the sign of z
    it is safe for, so neither the value nor the gradient becomes inf or nan.
    """
    as_array("z", z)
    z = jnp.asarray(z)
    pos = jnp.where(z >= 0, z, 0.0)  # e^{−pos} ≤ 1
    neg = jnp.where(z < 0, z, 0.0)  # e^{neg} ≤ 1
    return jnp.where(z >= 0, 1.0 / (1.0 + jnp.exp(-pos)), jnp.exp(neg) / (1.0 + jnp.exp(neg)))


def tanh(z):
    """tanh(z) = (e^{z} − e^{−z}) / (e^{z} + e^{−z});  tanh'(z) = 1 − tanh²(z).  Any shape."""
    as_array("z", z)
    return jnp.tanh(z)


def relu(z):
    """ReLU(z) = max(z, 0);  ReLU'(z) = 1 if z > 0 else 0 (we take 0 at the kink z = 0).

    NaN > 0 is false, so ReLU(NaN) = 0 here (``jax.nn.relu`` gives NaN).
    """
    as_array("z", z)
    z = jnp.asarray(z)
    return jnp.where(z > 0, z, jnp.zeros_like(z))


def leaky_relu(z, negative_slope: float = 0.01):
    """LeakyReLU(z) = z if z ≥ 0 else s·z, s = ``negative_slope``;  derivative 1 if z ≥ 0 else s."""
    as_array("z", z)
    check_number("negative_slope", negative_slope)
    z = jnp.asarray(z)
    return jnp.where(z >= 0, z, negative_slope * z)


def gelu(z, approximate: bool = True):
    """GELU(z) = z·Φ(z), Φ the standard normal CDF.  Any shape → same shape.

    ``approximate=True`` (the default, as in ``jax.nn.gelu``) uses the tanh
    approximation  ½ z (1 + tanh(√(2/π) (z + 0.044715 z³)));
    ``approximate=False`` the exact  ½ z (1 + erf(z / √2)).
    Derivative (exact form): GELU'(z) = Φ(z) + z φ(z), φ the normal density.
    """
    as_array("z", z)
    check_flag("approximate", approximate)
    z = jnp.asarray(z)
    if approximate:
        return 0.5 * z * (1.0 + jnp.tanh(math.sqrt(2.0 / math.pi) * (z + 0.044715 * z**3)))
    return 0.5 * z * (1.0 + jax.lax.erf(z / math.sqrt(2.0)))


def softmax(z, axis: int = -1):
    """softmax(z)_k = e^{z_k} / Σ_j e^{z_j} along ``axis``.  Any shape → same shape.

    ∂softmax_k/∂z_j = softmax_k (δ_kj − softmax_j). Subtracting max_j z_j
    first changes nothing mathematically and keeps e^{·} ≤ 1, so it cannot
    overflow; the shift is a constant, so no gradient flows through it.

    Raises ``TypeError`` for an ``axis`` that is no integer, ``ValueError`` for one that ``z`` does not have.
    """
    as_array("z", z)
    z = jnp.asarray(z)
    check_int_in_range("axis", axis, -z.ndim, z.ndim)
    e = jnp.exp(z - jax.lax.stop_gradient(jnp.max(z, axis=axis, keepdims=True)))
    return e / jnp.sum(e, axis=axis, keepdims=True)


def identity(z):
    """g(z) = z;  g'(z) = 1. The activation of a linear output layer."""
    as_array("z", z)
    return jnp.asarray(z)


# Hand-written derivatives g'(z), elementwise, as the chapter derives them.

def sigmoid_grad(z):
    """σ'(z) = σ(z)(1 − σ(z)).  Any shape → same shape."""
    s = sigmoid(z)
    return s * (1.0 - s)


def tanh_grad(z):
    """tanh'(z) = 1 − tanh²(z).  Any shape → same shape."""
    as_array("z", z)
    t = jnp.tanh(z)
    return 1.0 - t * t


def relu_grad(z):
    """ReLU'(z) = 1 if z > 0 else 0.  Any shape → same shape."""
    as_array("z", z)
    z = jnp.asarray(z)
    return (z > 0).astype(jnp.result_type(z, jnp.float32))


def leaky_relu_grad(z, negative_slope: float = 0.01):
    """LeakyReLU'(z) = 1 if z ≥ 0 else s.  Any shape → same shape."""
    as_array("z", z)
    check_number("negative_slope", negative_slope)
    z = jnp.asarray(z)
    dtype = jnp.result_type(z, jnp.float32)
    return jnp.where(z >= 0, jnp.ones_like(z, dtype), jnp.full_like(z, negative_slope, dtype))


ACTIVATIONS: dict[str, Callable] = {
    "sigmoid": sigmoid, "tanh": tanh, "relu": relu, "leaky_relu": leaky_relu,
    "gelu": gelu, "softmax": softmax, "identity": identity,
}


def get_activation(name_or_fn: str | Callable, *, arg: str = "activation") -> Callable:
    """The activation g named ``name_or_fn`` (a key of ``ACTIVATIONS``); a callable passes through.

    ``arg`` is the argument name used in the error message.
    """
    return lookup(arg, name_or_fn, ACTIVATIONS, "g(z)")
