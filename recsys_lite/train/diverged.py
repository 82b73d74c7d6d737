"""The NaN guard of :func:`~recsys_lite.train.fit`.

After each epoch :func:`all_finite` checks, in one jitted reduction and one
sync, that the losses and the parameters are finite. If not,
:func:`explain_divergence` replays the epoch step by step from its starting
parameters (the shuffling is fixed by the epoch's key) and raises
:class:`TrainingDiverged` naming the step and the first loss, gradient, update
or parameter that went bad, with its path in the pytree. The normal path pays
for the reduction only.
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from recsys_lite.train.step import epoch_batches, step_parts

__all__ = ["TrainingDiverged", "all_finite", "explain_divergence"]

_ADVICE = ("Try a smaller learning rate or gradient clipping (optim.clip_by_global_norm), or look at this "
           "step's batch.")


class TrainingDiverged(FloatingPointError):
    """The loss or a parameter became NaN or infinite during training."""


@jax.jit
def all_finite(tree) -> jax.Array:
    """One boolean: does every floating-point leaf of ``tree`` hold only finite numbers?"""
    flags = [jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree_util.tree_leaves(tree)
             if jnp.issubdtype(jnp.result_type(leaf), jnp.inexact)]
    return jnp.all(jnp.stack(flags)) if flags else jnp.array(True)


def _float_leaves(tree) -> list[tuple[str, np.ndarray]]:
    """``(path, values)`` of every floating-point leaf of ``tree``, e.g. ``(".users.table", array)``."""
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return [(jax.tree_util.keystr(path), np.asarray(leaf)) for path, leaf in leaves
            if np.asarray(leaf).dtype.kind in "fc"]


def _first_nonfinite(tree) -> str | None:
    """``"<path> (2 NaN, 0 inf of 96 values)"`` for the first leaf of ``tree`` holding NaN or inf, else None."""
    for path, values in _float_leaves(tree):
        if not np.isfinite(values).all():
            return (f"{path or '(the root)'} ({int(np.isnan(values).sum())} NaN, "
                    f"{int(np.isinf(values).sum())} inf of {values.size} values)")
    return None


def _largest(tree, symbol: str) -> str:
    """``"<path> (|θ| up to 3.2e+18)"``: the leaf of ``tree`` with the largest finite magnitude."""
    sizes = [(float(np.max(np.abs(values[np.isfinite(values)]), initial=0.0)), path)
             for path, values in _float_leaves(tree)]
    if not sizes:
        return "none"
    size, path = max(sizes)
    return f"{path or '(the root)'} (|{symbol}| up to {size:.3g})"


def _diagnose(loss, grads, updates, new_model, model, opt_state) -> str | None:
    """What went non-finite first in one step, in the order it is computed, or None if nothing did."""
    loss = float(loss)
    bad_param = _first_nonfinite(model)
    if bad_param is not None:  # cannot happen after finite steps; said plainly if it does
        return f"parameter {bad_param} was already non-finite before this step."
    bad_grad = _first_nonfinite(grads)
    if not math.isfinite(loss):
        grad_note = (f"the first non-finite gradient is that of {bad_grad}" if bad_grad else
                     f"every gradient is finite, the largest {_largest(grads, 'g')}")
        return (f"the loss {'overflowed to' if math.isinf(loss) else 'became'} {loss} while every parameter was "
                f"still finite (the largest: {_largest(model, 'θ')}); {grad_note}.")
    if bad_grad is not None:
        return (f"the gradient of parameter {bad_grad} became NaN or infinite, although the loss was finite "
                f"({loss:.4g}) and so was every parameter (the largest: {_largest(model, 'θ')}).")
    bad_update = _first_nonfinite(updates)
    if bad_update is not None:
        state = _first_nonfinite(opt_state)
        state_note = (f"; the optimizer state was already non-finite at {state}" if state else
                      f"; every gradient was finite, the largest {_largest(grads, 'g')}")
        return f"the optimizer's update of parameter {bad_update} became NaN or infinite (loss {loss:.4g}){state_note}."
    bad_new = _first_nonfinite(new_model)
    if bad_new is not None:
        return (f"parameter {bad_new} became NaN or infinite after the update (loss {loss:.4g}; every gradient "
                f"and update was finite, the largest update {_largest(updates, 'u')}).")
    return None


def explain_divergence(loss_fn, optimizer, model, opt_state, arrays, epoch_key, batch_size: int, epoch: int,
                       losses: np.ndarray, new_model):
    """Replay a diverged epoch one step at a time from its starting state and raise with the culprit.

    ``model`` and ``opt_state`` are the epoch's starting state, ``epoch_key``
    and ``batch_size`` fix its minibatches; ``losses`` and ``new_model`` are
    the epoch's results, quoted if the replay (outside ``lax.scan``, rounded a
    little differently) does not diverge.

    Raises:
        TrainingDiverged: always.
    """
    stacked, keys = jax.jit(epoch_batches, static_argnames=("batch_size",))(arrays, epoch_key, batch_size)
    n_batches = keys.shape[0]
    inspect = jax.jit(partial(step_parts, loss_fn, optimizer))
    for b in range(n_batches):
        batch = {name: value[b] for name, value in stacked.items()}
        loss, grads, updates, next_model, next_state = inspect(model, opt_state, batch, keys[b])
        problem = _diagnose(loss, grads, updates, next_model, model, opt_state)
        if problem is not None:
            raise TrainingDiverged(f"Training diverged at epoch {epoch + 1}, step {b + 1} of {n_batches}: "
                                   f"{problem} {_ADVICE}")
        model, opt_state = next_model, next_state
    bad_steps = np.flatnonzero(~np.isfinite(losses))
    seen = (f"the loss of step {bad_steps[0] + 1} of {n_batches} was {losses[bad_steps[0]]}" if bad_steps.size
            else f"parameter {_first_nonfinite(new_model)} was non-finite at its end")
    raise TrainingDiverged(f"Training diverged in epoch {epoch + 1}: {seen}, but replaying the epoch step by step "
                           f"(rounded slightly differently) stayed finite. {_ADVICE}")
