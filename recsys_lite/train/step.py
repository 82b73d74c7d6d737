"""One gradient step, one epoch of them, and the NaN guard: what :func:`~recsys_lite.train.fit`
runs (and :func:`~recsys_lite.parallel.data_parallel_step` jits).

An epoch draws a permutation of the m rows from its key and cuts it into m // B minibatches (rows
that do not fill a last batch sit this epoch out), each with a key of its own. ``loss_fn`` and
``optimizer`` are static arguments of jit: the same objects (compared by identity) and data of the
same shapes reuse the compiled program, so reuse one loss and one optimizer across runs. If
:func:`all_finite` finds NaN/inf after an epoch, :func:`explain_divergence` replays it and names
the step and the first loss, gradient, update or parameter gone bad.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from recsys_lite._checks import check_callable, check_optimizer, describe
from recsys_lite.optim import apply_updates

__all__ = ["make_step", "step_parts", "epoch_batches", "run_epoch", "run_epoch_steps", "TrainingDiverged",
           "all_finite", "explain_divergence"]


def _scalar_loss(loss_fn: Callable) -> Callable:
    """``loss_fn``, with what it reads and returns checked while JAX traces it (free at run time)."""

    def loss(model, batch, key):
        try:
            value = loss_fn(model, batch, key)
        except KeyError as err:
            missing = err.args[0] if err.args else None
            if isinstance(missing, str) and missing not in batch:
                raise ValueError(f"`loss_fn` reads batch[{missing!r}], but the batch (the rows of `data`) has no "
                                 f"such column; it has {sorted(map(str, batch))}.") from None
            raise
        if jnp.shape(value) != () or not jnp.issubdtype(jnp.result_type(value), jnp.floating):
            raise ValueError(f"`loss_fn` must return one floating-point number (a scalar loss for the batch); "
                             f"got {describe(value)}.")
        return value

    return loss


def step_parts(loss_fn: Callable, optimizer, model, opt_state, batch, key):
    """One step's values, in the order they are computed: ``(J, g, u, θ + u, s')``.

    ``J, g = J_B(θ), ∇J_B(θ)``; ``u, s' = update(g, s, θ)``. :func:`make_step`
    keeps the new model, state and loss; the NaN guard reads all five.
    """
    loss, grads = jax.value_and_grad(_scalar_loss(loss_fn))(model, batch, key)
    updates, new_state = optimizer.update(grads, opt_state, model)
    return loss, grads, updates, apply_updates(model, updates), new_state


def make_step(loss_fn: Callable, optimizer) -> Callable:
    """The pure training step ``step(model, opt_state, batch, key) -> (θ_{t+1}, s_{t+1}, J)``:

        J, g = J_B(θ_t), ∇J_B(θ_t);   u_t, s_{t+1} = update(g, s_t, θ_t);   θ_{t+1} = θ_t + u_t

    for ``loss_fn(model, batch, key) -> J`` and an optax-shaped ``optimizer`` (:func:`step_parts`).
    Not jitted: :func:`run_epoch` scans it, :func:`~recsys_lite.parallel.data_parallel_step` jits it;
    tracing checks that ``loss_fn`` returns a scalar float and reads only columns the batch has.

    Raises:
        TypeError: ``loss_fn`` not callable, ``optimizer`` without ``init``/``update``.
    """
    check_callable("loss_fn", loss_fn, "loss_fn(model, batch, key) -> scalar")
    check_optimizer("optimizer", optimizer)

    def step(model, opt_state, batch, key):
        loss, _, _, model, opt_state = step_parts(loss_fn, optimizer, model, opt_state, batch, key)
        return model, opt_state, loss

    return step


def epoch_batches(arrays, epoch_key, batch_size: int):
    """The epoch's shuffled minibatches, stacked: each array (n_batches, batch_size, ...), and a key per step."""
    m = len(next(iter(arrays.values())))
    n_batches = m // batch_size
    shuffle_key, steps_key = jax.random.split(epoch_key)
    order = jax.random.permutation(shuffle_key, m)[: n_batches * batch_size].reshape(n_batches, batch_size)
    return {name: value[order] for name, value in arrays.items()}, jax.random.split(steps_key, n_batches)


_epoch_batches = jax.jit(epoch_batches, static_argnames=("batch_size",))


@partial(jax.jit, static_argnames=("loss_fn", "optimizer", "batch_size"))
def run_epoch(model, opt_state, epoch_key, arrays, *, loss_fn, optimizer, batch_size):
    """One epoch as one compiled program, a ``lax.scan`` of the step: ``(model, opt_state, losses)``."""
    step = make_step(loss_fn, optimizer)

    def scan_step(carry, batch_and_key):
        model, opt_state, loss = step(*carry, *batch_and_key)
        return (model, opt_state), loss

    (model, opt_state), losses = jax.lax.scan(scan_step, (model, opt_state),
                                              epoch_batches(arrays, epoch_key, batch_size))
    return model, opt_state, losses


@partial(jax.jit, static_argnames=("loss_fn", "optimizer"))
def _indexed_step(model, opt_state, stacked, keys, b, *, loss_fn, optimizer):
    """The step on minibatch ``b`` of the epoch's stacked batches (one compiled call per step)."""
    batch = {name: jax.lax.dynamic_index_in_dim(value, b, keepdims=False) for name, value in stacked.items()}
    return make_step(loss_fn, optimizer)(model, opt_state, batch, keys[b])


def run_epoch_steps(model, opt_state, epoch_key, arrays, *, loss_fn, optimizer, batch_size):
    """The same epoch as :func:`run_epoch`, as a Python loop over compiled steps (``fit(scan=False)``).

    Slower than the scan for every model of the book (each call costs about 0.5 ms of dispatch); kept for
    ``fit(scan=False)`` and as a cross-check of the scan."""
    stacked, keys = _epoch_batches(arrays, epoch_key, batch_size)
    losses = []
    for b in range(keys.shape[0]):
        model, opt_state, loss = _indexed_step(model, opt_state, stacked, keys, b, loss_fn=loss_fn, optimizer=optimizer)
        losses.append(loss)
    return model, opt_state, jnp.stack(losses)


_ADVICE = ("Try a smaller learning rate or gradient clipping (optim.clip_by_global_norm), or look at this "
           "step's batch.")


class TrainingDiverged(FloatingPointError):
    """The loss or a parameter became NaN or infinite during training."""


@jax.jit
def all_finite(tree) -> jax.Array:
    """One boolean: does every floating-point leaf of ``tree`` hold only finite numbers?

    The leaves are raveled into one vector (in their common floating dtype) and checked by one reduction:
    XLA compiles that in a few tens of milliseconds, where one reduction per leaf took about half a second
    for a model of twenty-odd leaves, on every new model structure."""
    leaves = [jnp.ravel(leaf) for leaf in jax.tree_util.tree_leaves(tree)
              if jnp.issubdtype(jnp.result_type(leaf), jnp.inexact)]
    return jnp.all(jnp.isfinite(jnp.concatenate(leaves))) if leaves else jnp.array(True)


def _float_leaves(tree) -> list[tuple[str, np.ndarray]]:
    """``(path, values)`` of every floating-point leaf of ``tree``, e.g. ``(".user_embedding.table", array)``."""
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
    if bad_param := _first_nonfinite(model):  # cannot happen after finite steps; said plainly if it does
        return f"parameter {bad_param} was already non-finite before this step."
    bad_grad = _first_nonfinite(grads)
    if not math.isfinite(loss):
        grad_note = (f"the first non-finite gradient is that of {bad_grad}" if bad_grad else
                     f"every gradient is finite, the largest {_largest(grads, 'g')}")
        return (f"the loss {'overflowed to' if math.isinf(loss) else 'became'} {loss} while every parameter was "
                f"still finite (the largest: {_largest(model, 'θ')}); {grad_note}.")
    if bad_grad:
        return (f"the gradient of parameter {bad_grad} became NaN or infinite, although the loss was finite "
                f"({loss:.4g}) and so was every parameter (the largest: {_largest(model, 'θ')}).")
    if bad_update := _first_nonfinite(updates):
        state = _first_nonfinite(opt_state)
        state_note = (f"; the optimizer state was already non-finite at {state}" if state else
                      f"; every gradient was finite, the largest {_largest(grads, 'g')}")
        return f"the optimizer's update of parameter {bad_update} became NaN or infinite (loss {loss:.4g}){state_note}."
    if bad_new := _first_nonfinite(new_model):
        return (f"parameter {bad_new} became NaN or infinite after the update (loss {loss:.4g}; every gradient "
                f"and update was finite, the largest update {_largest(updates, 'u')}).")
    return None


def explain_divergence(loss_fn, optimizer, model, opt_state, arrays, epoch_key, batch_size: int, epoch: int,
                       losses: np.ndarray, new_model):
    """Replay a diverged epoch step by step from its starting ``model`` and ``opt_state``; raise
    :class:`TrainingDiverged` naming the culprit. ``losses`` and ``new_model``, the epoch's results,
    are quoted if the replay (outside ``lax.scan``, rounded a little differently) stays finite."""
    stacked, keys = _epoch_batches(arrays, epoch_key, batch_size)
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
