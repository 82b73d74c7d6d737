"""The interface (``GradientTransformation``), ``chain``, and the helpers around a step.

As in optax's ``base.py``, ``combine.py`` and ``update.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from recsys_lite._checks import as_array, check_optimizer, check_str, describe, is_traced

__all__ = ["GradientTransformation", "EmptyState", "identity", "chain", "apply_updates", "global_norm",
           "check_finite", "step"]

tree_map = jax.tree_util.tree_map


class GradientTransformation(NamedTuple):
    """``init(params) -> state`` and ``update(grads, state, params=None) -> (updates, state)``."""

    init: Callable[[Any], Any]
    update: Callable[..., tuple[Any, Any]]


class EmptyState(NamedTuple):
    """The state of a transformation that remembers nothing."""


def init_empty_state(params: Any) -> EmptyState:
    """The ``init`` of a transformation without state."""
    return EmptyState()


def identity() -> GradientTransformation:
    """u_t = g_t: pass the gradients through unchanged. State: none."""
    return GradientTransformation(init_empty_state, lambda grads, state, params=None: (grads, state))


def check_same_tree(name_a: str, a: Any, name_b: str, b: Any) -> None:
    """Raise unless pytrees ``a`` and ``b`` have one structure (known while tracing: free under jit)."""
    tree_a, tree_b = jax.tree_util.tree_structure(a), jax.tree_util.tree_structure(b)
    if tree_a != tree_b:
        raise ValueError(f"`{name_a}` must have the structure of {name_b}; got {tree_a} and {tree_b}.")


def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """Apply transformations in order: the updates of one are the grads of the next.

    ``chain(clip_by_global_norm(1.0), adam(1e-3))`` clips, then takes an Adam
    step. State: a tuple of the transformations' states. Matches ``optax.chain``;
    ours and optax's transformations mix freely. TypeError for an argument that
    is not a GradientTransformation; in ``update``, TypeError for a ``state`` that
    is not a tuple, ValueError for one of another length.
    """
    for i, transform in enumerate(transforms):
        check_optimizer(f"transforms[{i}]", transform)

    def init(params):
        return tuple(t.init(params) for t in transforms)

    def update(grads, state, params=None):
        if not isinstance(state, tuple):
            raise TypeError(f"`state` must be the tuple that chain's `init` returned; got {describe(state)}.")
        if len(state) != len(transforms):
            raise ValueError(f"`state` must hold one state per transformation, {len(transforms)}; got {len(state)} "
                             "(is it the state of another chain?).")
        new_state = []
        for transform, inner_state in zip(transforms, state):
            grads, inner_state = transform.update(grads, inner_state, params)
            new_state.append(inner_state)
        return grads, tuple(new_state)

    return GradientTransformation(init, update)


# --- the step -------------------------------------------------------------------------

def apply_updates(params: Any, updates: Any) -> Any:
    """θ_{t+1} = θ_t + u_t, leaf by leaf, keeping each leaf's dtype; ValueError if the trees differ."""
    check_same_tree("updates", updates, "`params`", params)
    return tree_map(lambda p, u: jnp.asarray(p + u).astype(jnp.asarray(p).dtype), params, updates)


def global_norm(tree: Any) -> jax.Array:
    """‖g‖ = √(Σ_leaves Σ_k g_k²), the norm of all leaves seen as one vector; TypeError for a leaf not numbers."""
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        as_array(f"tree{jax.tree_util.keystr(path)}", leaf)
    return jnp.sqrt(sum(jnp.sum(leaf**2) for leaf in jax.tree_util.tree_leaves(tree)))


def check_finite(tree: Any, name: str = "grads") -> None:
    """Raise ``FloatingPointError`` naming every leaf of ``tree`` that holds NaN or ±inf.

    Eager: it reads the values, so inside ``jax.jit`` it raises ``TypeError``
    (as it does for a leaf that is not numbers and a ``name`` not a string).
    """
    check_str("name", name)
    bad = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        if is_traced(leaf):
            raise TypeError(f"check_finite reads values, so it cannot run inside jax.jit; `{name}` is traced.")
        values = np.asarray(as_array(f"{name}{jax.tree_util.keystr(path)}", leaf))
        if not np.isfinite(values).all():
            where = jax.tree_util.keystr(path) or "(the root)"
            bad.append(f"{where} ({np.isnan(values).sum()} NaN, {np.isinf(values).sum()} inf in {describe(values)})")
    if bad:
        raise FloatingPointError(f"`{name}` must be finite; got non-finite values at " + "; ".join(bad) + ".")


def step(optimizer: GradientTransformation, grads: Any, state: Any, params: Any) -> tuple[Any, Any]:
    """One checked step: ``check_finite(grads)``, then θ_{t+1} = θ_t + u_t; returns ``(new_params, new_state)``.

    The arguments in the order of ``optimizer.update(grads, state, params)``.
    Eager; in a jitted training loop call ``optimizer.update`` and ``apply_updates``.
    TypeError if ``optimizer`` is not a GradientTransformation.
    """
    check_optimizer("optimizer", optimizer)
    check_finite(grads, "grads")
    updates, state = optimizer.update(grads, state, params)
    return apply_updates(params, updates), state
