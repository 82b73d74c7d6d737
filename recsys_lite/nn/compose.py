"""Layers side by side, as jax's ``example_libraries/stax`` has them: ``FanOut → parallel → FanInConcat``.

    Parallel({"a": f, "b": g})(x) = [f(x), g(x)]        (..., n_f + n_g), in the order of the names

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
    """``layers``: a dict name → layer (a callable pytree), each called on the same input."""

    layers: dict

    def __post_init__(self):
        if not isinstance(self.layers, dict) or not self.layers:
            raise TypeError(f"`layers` must be a non-empty dict of name → layer; got {describe(self.layers)}.")

    def __call__(self, x) -> jax.Array:
        # sorted: a dict pytree flattens (and comes back from jax.grad) in the order of its sorted keys
        return jnp.concatenate([self.layers[name](x) for name in sorted(self.layers)], axis=-1)
