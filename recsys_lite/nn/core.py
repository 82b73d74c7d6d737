"""The basic layers: Dense, Embedding, MLP, Dropout (activations and initialisers have their modules).

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

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

from recsys_lite._checks import (
    as_array,
    check_flag,
    check_float_dtype,
    check_fraction,
    check_ids,
    check_key,
    check_size,
    check_sizes,
    describe,
)
from recsys_lite._pytree import pytree_dataclass
from recsys_lite.nn.activations import get_activation, identity
from recsys_lite.nn.initializers import get_initializer, normal

__all__ = ["Dense", "Embedding", "MLP", "Dropout"]


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
             weight_init: str | Callable = "glorot_uniform", dtype=jnp.float32) -> Dense:
        """W from ``weight_init`` (a name in ``INITIALIZERS`` or a callable), b = 0.

        Raises ``TypeError``/``ValueError`` for a bad key, size, flag, initialiser or dtype.
        """
        check_key("key", key)
        shape = (check_size("in_features", in_features), check_size("out_features", out_features))
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
             dtype=jnp.float32) -> Embedding:
        """E ~ N(0, stddev²), shape (num_embeddings, dim).

        Raises ``TypeError``/``ValueError`` for a bad key, size, ``stddev`` or dtype.
        """
        check_key("key", key)
        shape = (check_size("num_embeddings", num_embeddings), check_size("dim", dim))
        return cls(normal(stddev)(key, shape, dtype))

    @property
    def num_embeddings(self) -> int:
        return self.table.shape[0]

    @property
    def dim(self) -> int:
        return self.table.shape[1]

    def __call__(self, ids) -> jax.Array:
        """E[ids]. Raises ``TypeError`` for ids that are not integers, ``ValueError`` for ids out of range."""
        check_ids("ids", ids, self.num_embeddings, "rows in the embedding table")
        return self.table[jnp.asarray(ids)]


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
             weight_init: str | Callable = "glorot_uniform", dtype=jnp.float32) -> MLP:
        """``sizes`` = [n_in, h_1, ..., n_out]: len(sizes) − 1 dense layers.

        For deep ReLU stacks ``weight_init="he_uniform"`` keeps the activations'
        variance constant from layer to layer (see the initialisers above).

        Raises ``TypeError``/``ValueError`` for a bad key, size, activation, initialiser or dtype.
        """
        check_key("key", key)
        sizes = check_sizes("sizes", sizes)
        if len(sizes) < 2:
            raise ValueError(f"`sizes` must have at least 2 entries [n_in, ..., n_out]; got {list(sizes)}.")
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
    rescaling. Dropout is on exactly when a ``key`` is passed (as in the
    models): ``dropout(x, key=k)`` draws the mask from ``k``, ``dropout(x)``
    is the identity. No parameters.
    """

    rate: float

    def __post_init__(self):
        check_fraction("rate", self.rate)

    def __call__(self, x, *, key=None) -> jax.Array:
        """Raises ``TypeError`` for ``x`` that is not numbers or a ``key`` that is no PRNG key."""
        as_array("x", x)
        check_key("key", key, allow_none=True)
        x = jnp.asarray(x)
        if key is None or self.rate == 0.0:
            return x
        keep = jax.random.bernoulli(key, 1.0 - self.rate, x.shape)
        return jnp.where(keep, x / (1.0 - self.rate), jnp.zeros_like(x))
