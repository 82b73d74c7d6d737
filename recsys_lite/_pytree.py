"""Models as pytrees: a frozen dataclass whose arrays are its parameters."""

from __future__ import annotations

import dataclasses

import jax

__all__ = ["pytree_dataclass"]


def pytree_dataclass(cls=None, *, static: tuple[str, ...] = ()):
    """Make ``cls`` a frozen dataclass and a JAX pytree.

    Fields named in ``static`` (sizes, flags) are metadata, not parameters:
    they are not differentiated and changing them re-traces a jitted function.

    Equality and hashing are by identity (``eq=False``): ``layer_a == layer_b``
    is ``layer_a is layer_b`` and ``hash(layer)`` works, so a layer can be a
    dict key or a static argument of ``jax.jit`` like a function. The
    dataclass default (``eq=True``) compares the fields as a tuple, which for
    arrays asks ``bool(array == array)`` and raises, and it removes
    ``__hash__``. Equinox also builds its modules with ``eq=False``, then
    adds a structural ``__eq__`` (``tree_equal``, which may return a traced
    array) and a hash of the fields (which raises for array fields); we keep
    plain identity and compare parameters explicitly where it matters:
    ``jax.tree.all(jax.tree.map(jnp.array_equal, a, b))``.
    """
    def wrap(cls):
        cls = dataclasses.dataclass(frozen=True, eq=False)(cls)
        fields = [f.name for f in dataclasses.fields(cls)]
        return jax.tree_util.register_dataclass(
            cls, data_fields=[f for f in fields if f not in static], meta_fields=list(static)
        )

    return wrap if cls is None else wrap(cls)
