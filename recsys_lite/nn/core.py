"""The basic layers: activations, initialisers, Dense, Embedding, MLP, Dropout.

Notation (book/notation.md): row vectors, so a dense layer is z = xW + b and
a = g(z), with x of shape (..., n_in), W of shape (n_in, n_out), b of shape
(n_out,). Leading dimensions of x are batch dimensions.

A layer *is* a pytree: a frozen dataclass whose arrays are its parameters,
built by ``Layer.init(key, ...)`` and called as ``layer(x)``. ``jax.grad``
of a loss with respect to a layer returns a layer of the same shape holding
the gradients, and an update is ``jax.tree.map(lambda p, g: p - α * g, layer, grads)``.

Shape checks look only at static shapes, so they also fail loudly inside
``jax.jit``. Value checks (ids in range) only run on concrete arrays. Layers
do not look for NaN: like numpy they pass it on (except ``relu``, which
maps NaN to 0), so the models check their float inputs where they enter.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from recsys_lite._checks import (
    as_array, check_flag, check_float_dtype, check_fraction, check_ids, check_key, check_positive, describe,
)
from recsys_lite._checks import check_size as _check_size  # conv and recurrent import it from here
from recsys_lite._pytree import pytree_dataclass

__all__ = [
    "sigmoid", "tanh", "relu", "leaky_relu", "gelu", "softmax", "identity",
    "sigmoid_grad", "tanh_grad", "relu_grad", "leaky_relu_grad",
    "ACTIVATIONS", "get_activation",
    "compute_fans", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal",
    "normal", "zeros", "INITIALIZERS", "get_initializer",
    "Dense", "Embedding", "MLP", "Dropout",
]


def _check_slope(negative_slope: Any) -> None:
    if isinstance(negative_slope, bool) or not isinstance(negative_slope, (int, float)):
        raise TypeError(f"`negative_slope` must be a number; got {describe(negative_slope)}.")


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
    _check_slope(negative_slope)
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

    Raises ``ValueError`` for an ``axis`` that ``z`` does not have.
    """
    as_array("z", z)
    z = jnp.asarray(z)
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or not -z.ndim <= axis < z.ndim:
        raise ValueError(f"`axis` must be an integer in [-{z.ndim}, {z.ndim}), an axis of `z` of shape "
                         f"{tuple(z.shape)}; got {describe(axis)}.")
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
    _check_slope(negative_slope)
    z = jnp.asarray(z)
    dtype = jnp.result_type(z, jnp.float32)
    return jnp.where(z >= 0, jnp.ones_like(z, dtype), jnp.full_like(z, negative_slope, dtype))


ACTIVATIONS: dict[str, Callable] = {
    "sigmoid": sigmoid, "tanh": tanh, "relu": relu, "leaky_relu": leaky_relu,
    "gelu": gelu, "softmax": softmax, "identity": identity,
}


def _lookup(table: dict, name_or_fn: Any, arg: str, kind: str) -> Callable:
    if callable(name_or_fn):
        return name_or_fn
    if isinstance(name_or_fn, str) and name_or_fn in table:
        return table[name_or_fn]
    raise ValueError(
        f"`{arg}` must be one of {sorted(table)} or a callable {kind}; got {describe(name_or_fn)}."
    )


def get_activation(name_or_fn: str | Callable, *, arg: str = "activation") -> Callable:
    """The activation g named ``name_or_fn`` (a key of ``ACTIVATIONS``); a callable passes through.

    ``arg`` is the argument name used in the error message.
    """
    return _lookup(ACTIVATIONS, name_or_fn, arg, "g(z)")


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
    shape = _check_shape(shape)
    if len(shape) < 2:
        raise ValueError(
            f"`shape` must have at least 2 dimensions (n_in, n_out) to have a fan-in and a fan-out; got {shape}."
        )
    receptive = math.prod(shape[:-2])
    return receptive * shape[-2], receptive * shape[-1]


def _check_shape(shape: Any) -> tuple[int, ...]:
    """``shape`` as a tuple after checking it is a sequence of positive integers."""
    if isinstance(shape, (str, bytes)) or not isinstance(shape, Sequence):
        raise TypeError(f"`shape` must be a tuple of positive integers; got {describe(shape)}.")
    return tuple(_check_size(f"shape[{i}]", n) for i, n in enumerate(shape))


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
        return stddev * jax.random.normal(key, _check_shape(shape), dtype)

    return init


def zeros(key, shape, dtype=jnp.float32):
    """W = 0 (``key`` is unused; it is there so every initialiser is called alike). Any shape."""
    _check_init_args(key, dtype)
    return jnp.zeros(_check_shape(shape), dtype)


INITIALIZERS: dict[str, Callable] = {
    "glorot_uniform": glorot_uniform, "glorot_normal": glorot_normal,
    "he_uniform": he_uniform, "he_normal": he_normal, "normal": normal(), "zeros": zeros,
}


def get_initializer(name_or_fn: str | Callable, *, arg: str = "weight_init") -> Callable:
    """The initialiser named ``name_or_fn`` (a key of ``INITIALIZERS``; "normal" has stddev 0.01).

    A callable ``(key, shape, dtype) -> array`` passes through.
    """
    return _lookup(INITIALIZERS, name_or_fn, arg, "(key, shape, dtype) -> array")


# --- layers ------------------------------------------------------------------

@pytree_dataclass
class Dense:
    """z = xW + b.   x: (..., n_in) → z: (..., n_out).

    ``weight`` W: (n_in, n_out); ``bias`` b: (n_out,), or None without a bias.
    Backward pass, for δ = ∂J/∂z of shape (m, n_out) and x of shape (m, n_in):
    ∂J/∂W = xᵀδ, ∂J/∂b = Σ_rows δ, ∂J/∂x = δWᵀ.
    """

    weight: jax.Array
    bias: jax.Array | None

    @classmethod
    def init(cls, key, in_features: int, out_features: int, *, use_bias: bool = True,
             weight_init: str | Callable = "glorot_uniform", dtype=jnp.float32) -> "Dense":
        """W from ``weight_init`` (a name in ``INITIALIZERS`` or a callable), b = 0.

        Raises ``TypeError``/``ValueError`` for a bad key, size, flag, initialiser or dtype.
        """
        check_key("key", key)
        shape = (_check_size("in_features", in_features), _check_size("out_features", out_features))
        check_flag("use_bias", use_bias)
        check_float_dtype("dtype", dtype)
        weight = get_initializer(weight_init)(key, shape, dtype)
        return cls(weight, jnp.zeros((shape[1],), dtype) if use_bias else None)

    @property
    def in_features(self) -> int:
        return self.weight.shape[0]

    @property
    def out_features(self) -> int:
        return self.weight.shape[1]

    def __call__(self, x) -> jax.Array:
        """z = xW + b. Raises ``TypeError`` if ``x`` is not numbers, ``ValueError`` for its shape."""
        as_array("x", x)
        x = jnp.asarray(x)
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"`x` must have shape (..., {self.in_features}): its last dimension must equal "
                f"this Dense layer's in_features = {self.in_features}; got {describe(x)}."
            )
        z = x @ self.weight
        return z if self.bias is None else z + self.bias


@pytree_dataclass
class Embedding:
    """e = E[ids]: row ``ids`` of the table E.   ids: (...) ints → (..., dim).

    Equal to one_hot(ids) @ E, so ∂J/∂E is zero except on the rows looked up
    (a row looked up twice gets the sum of both gradients).

    Ids are checked (0 ≤ id < num_embeddings, integer dtype) when they are
    concrete arrays. Inside ``jax.jit`` they are tracers whose values are not
    known, so they are **not** checked: there JAX wraps negative ids and clamps
    ids ≥ num_embeddings to the last row, silently. Check ids before a jitted loop.
    """

    table: jax.Array  # (num_embeddings, dim)

    @classmethod
    def init(cls, key, num_embeddings: int, dim: int, *, stddev: float = 0.1,
             dtype=jnp.float32) -> "Embedding":
        """E ~ N(0, stddev²), shape (num_embeddings, dim).

        Raises ``TypeError``/``ValueError`` for a bad key, size, ``stddev`` or dtype.
        """
        check_key("key", key)
        shape = (_check_size("num_embeddings", num_embeddings), _check_size("dim", dim))
        return cls(normal(stddev)(key, shape, dtype))

    @property
    def num_embeddings(self) -> int:
        return self.table.shape[0]

    @property
    def dim(self) -> int:
        return self.table.shape[1]

    def __call__(self, ids) -> jax.Array:
        """E[ids]. Raises ``TypeError`` for ids that are not integers, ``ValueError`` for ids out of range."""
        if not isinstance(ids, jax.core.Tracer):  # concrete: numpy, list, or a jax Array
            check_ids("ids", ids, self.num_embeddings, "rows in the embedding table")
        ids = jnp.asarray(ids)
        if not jnp.issubdtype(ids.dtype, jnp.integer):
            raise TypeError(f"`ids` must hold integer ids; got {describe(ids)}.")
        return self.table[ids]


@pytree_dataclass(static=("activation", "final_activation"))
class MLP:
    """A stack of dense layers:  a⁰ = x,  aˡ = g(aˡ⁻¹Wˡ + bˡ),  output h = g_out(a^{L−1}W^L + b^L).

    x: (..., sizes[0]) → h: (..., sizes[-1]). ``activation`` g (a name in
    ``ACTIVATIONS`` or a callable) follows every layer but the last;
    ``final_activation`` g_out follows the last (None: identity, a linear output).
    """

    layers: tuple[Dense, ...]
    activation: str | Callable = "relu"
    final_activation: str | Callable | None = None

    @classmethod
    def init(cls, key, sizes: Sequence[int], *, activation: str | Callable = "relu",
             final_activation: str | Callable | None = None,
             weight_init: str | Callable = "glorot_uniform", dtype=jnp.float32) -> "MLP":
        """``sizes`` = [n_in, h_1, ..., n_out]: len(sizes) − 1 dense layers.

        For deep ReLU stacks ``weight_init="he_uniform"`` keeps the activations'
        variance constant from layer to layer (see the initialisers above).

        Raises ``TypeError``/``ValueError`` for a bad key, size, activation, initialiser or dtype.
        """
        check_key("key", key)
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
            raise TypeError(f"`sizes` must be a list of positive integers [n_in, ..., n_out]; got {describe(sizes)}.")
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"`sizes` must have at least 2 entries [n_in, ..., n_out]; got {sizes}.")
        for i, size in enumerate(sizes):
            _check_size(f"sizes[{i}]", size)
        get_activation(activation, arg="activation")
        if final_activation is not None:
            get_activation(final_activation, arg="final_activation")
        get_initializer(weight_init)
        check_float_dtype("dtype", dtype)
        keys = jax.random.split(key, len(sizes) - 1)
        layers = tuple(Dense.init(k, n_in, n_out, weight_init=weight_init, dtype=dtype)
                       for k, n_in, n_out in zip(keys, sizes[:-1], sizes[1:]))
        return cls(layers, activation, final_activation)

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.layers[0].in_features, *(layer.out_features for layer in self.layers))

    def __call__(self, x) -> jax.Array:
        g = get_activation(self.activation, arg="activation")
        g_out = identity if self.final_activation is None else get_activation(
            self.final_activation, arg="final_activation")
        a = x
        for layer in self.layers[:-1]:
            a = g(layer(a))
        return g_out(self.layers[-1](a))


@pytree_dataclass(static=("rate",))
class Dropout:
    """Inverted dropout with rate p:  a = m ⊙ x / (1 − p),  m_k ~ Bernoulli(1 − p).

    x: any shape → same shape. Each entry is zeroed with probability p and the
    survivors are scaled by 1/(1 − p), so E[a] = x and evaluation needs no
    rescaling: with ``deterministic=True`` (a Python bool) the layer is the
    identity. No parameters; the mask comes from the explicit ``key``.
    """

    rate: float

    def __post_init__(self):
        check_fraction("rate", self.rate)

    def __call__(self, x, *, key=None, deterministic: bool = False) -> jax.Array:
        """Raises ``TypeError`` for ``x`` that is not numbers, a bad ``key`` or a non-bool
        ``deterministic``; ``ValueError`` when the mask needs a key and there is none."""
        as_array("x", x)
        check_flag("deterministic", deterministic)
        x = jnp.asarray(x)
        if deterministic or self.rate == 0.0:
            return x
        if key is None:
            raise ValueError(
                "`key` is required when deterministic=False: pass a PRNG key (e.g. "
                "jax.random.key(0)) to draw the dropout mask, or deterministic=True to evaluate."
            )
        check_key("key", key)
        keep = jax.random.bernoulli(key, 1.0 - self.rate, x.shape)
        return jnp.where(keep, x / (1.0 - self.rate), jnp.zeros_like(x))
