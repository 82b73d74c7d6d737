"""Layers combined as jax's ``example_libraries/stax`` combines them: in series, and side by side.

    Serial((f, g))(x)                    = g(f(x))
    Parallel({"a": f, "b": g})(inputs)   = [f(inputs["a"]), g(inputs["b"])]    (..., n_f + n_g)

``Parallel`` is stax's ``parallel`` followed by ``FanInConcat``, in sorted order of the names.
A layer that is not wanted is simply not in the dict: no ``None`` fields.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from recsys_lite._checks import describe
from recsys_lite._pytree import pytree_dataclass

__all__ = ["Serial", "Parallel"]


@pytree_dataclass
class Serial:
    """``layers``: a tuple of layers (callable pytrees), applied in order."""

    layers: tuple

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


@pytree_dataclass
class Parallel:
    """``layers``: a dict name → layer; layer ``name`` reads ``inputs[name]``."""

    layers: dict

    def __post_init__(self):
        if not isinstance(self.layers, dict) or not self.layers:
            raise TypeError(f"`layers` must be a non-empty dict of name → layer; got {describe(self.layers)}.")

    def __call__(self, inputs) -> jax.Array:
        # sorted: a dict pytree flattens (and comes back from jax.grad) in the order of its sorted keys
        return jnp.concatenate([self.layers[name](inputs[name]) for name in sorted(self.layers)], axis=-1)
