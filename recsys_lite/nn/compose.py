"""Layers side by side, as in jax's ``example_libraries/stax``: ``FanOut → parallel → FanInConcat``.

:class:`Parallel` holds named layers; each reads the same input and their
outputs are concatenated on the last axis, in the order of the names:

    Parallel({"a": f, "b": g})(x) = [f(x), g(x)]        (..., n_f + n_g)

A layer that is not wanted is simply not in the dict: no ``None`` fields.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from recsys_lite._checks import describe
from recsys_lite._pytree import pytree_dataclass

__all__ = ["Parallel"]


@pytree_dataclass
class Parallel:
    """``layers``: a dict name → layer (any callable pytree); ``x`` is passed to every layer as it is."""

    layers: dict

    def __post_init__(self):
        if not isinstance(self.layers, dict) or not self.layers:
            raise TypeError(f"`layers` must be a non-empty dict of name → layer; got {describe(self.layers)}.")

    def __call__(self, x) -> jax.Array:
        # sorted: a dict pytree flattens (and comes back from jax.grad) in sorted-key order
        return jnp.concatenate([self.layers[name](x) for name in sorted(self.layers)], axis=-1)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self.layers))
