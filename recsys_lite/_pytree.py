"""Models as pytrees: a frozen dataclass whose arrays are its parameters."""

from __future__ import annotations

import dataclasses

import jax


def pytree_dataclass(cls=None, *, static: tuple[str, ...] = ()):
    """Make ``cls`` a frozen dataclass and a JAX pytree.

    Fields named in ``static`` (sizes, flags) are metadata, not parameters:
    they are not differentiated and changing them re-traces a jitted function.
    """
    def wrap(cls):
        cls = dataclasses.dataclass(frozen=True)(cls)
        fields = [f.name for f in dataclasses.fields(cls)]
        return jax.tree_util.register_dataclass(
            cls, data_fields=[f for f in fields if f not in static], meta_fields=list(static)
        )

    return wrap if cls is None else wrap(cls)
