"""One gradient step, and one epoch of them: what :func:`~recsys_lite.train.fit` and
:func:`~recsys_lite.parallel.data_parallel_step` run.

One step on a minibatch B:

    θ_{t+1} = θ_t + update(∇J_B(θ_t)),      J_B = loss_fn(θ, batch B)

One epoch draws a permutation of the m rows from its key, cuts it into
n_batches = m // B minibatches (the rows that do not fill a last batch sit
this epoch out; the next epoch's permutation differs) and gives every step a
key of its own. :func:`run_epoch` runs the epoch as one compiled ``lax.scan``;
:func:`run_epoch_steps` as a Python loop of compiled steps. The data are an
argument, not a constant baked into the program, and ``loss_fn`` and
``optimizer`` are static arguments of jit: a later call with the same objects
(a function and an optax tuple of functions compare by identity) and data of
the same shapes reuses the compiled program. jit's cache keeps those objects
alive, so reuse one loss and one optimizer across runs rather than making many.
"""

from __future__ import annotations

from functools import partial
from typing import Callable

import jax
import jax.numpy as jnp

from recsys_lite._checks import check_callable, check_optimizer, describe
from recsys_lite.optim import apply_updates

__all__ = ["make_step", "step_parts", "epoch_batches", "run_epoch", "run_epoch_steps"]


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
    """The pure training step ``step(model, opt_state, batch, key) -> (model, opt_state, loss)``.

    ``loss_fn(model, batch, key) -> J`` (a scalar) and an optax-shaped
    ``optimizer`` (``init(params)``, ``update(grads, state, params)``). The step
    computes

        J, g = J_B(θ_t), ∇J_B(θ_t);   u_t, s_{t+1} = update(g, s_t, θ_t);   θ_{t+1} = θ_t + u_t

    and returns ``(θ_{t+1}, s_{t+1}, J)``. It is not jitted: :func:`run_epoch`
    scans it, :func:`~recsys_lite.parallel.data_parallel_step` jits it. While
    JAX traces it, it checks that ``loss_fn`` returns a scalar float and reads
    only columns the batch has.

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

    (model, opt_state), losses = jax.lax.scan(scan_step, (model, opt_state), epoch_batches(arrays, epoch_key, batch_size))
    return model, opt_state, losses


@partial(jax.jit, static_argnames=("loss_fn", "optimizer"))
def _indexed_step(model, opt_state, stacked, keys, b, *, loss_fn, optimizer):
    """The step on minibatch ``b`` of the epoch's stacked batches (one compiled call per step)."""
    batch = {name: jax.lax.dynamic_index_in_dim(value, b, keepdims=False) for name, value in stacked.items()}
    return make_step(loss_fn, optimizer)(model, opt_state, batch, keys[b])


def run_epoch_steps(model, opt_state, epoch_key, arrays, *, loss_fn, optimizer, batch_size):
    """The same epoch as :func:`run_epoch`, as a Python loop over compiled steps (``fit(scan=False)``)."""
    stacked, keys = _epoch_batches(arrays, epoch_key, batch_size)
    losses = []
    for b in range(keys.shape[0]):
        model, opt_state, loss = _indexed_step(model, opt_state, stacked, keys, b, loss_fn=loss_fn, optimizer=optimizer)
        losses.append(loss)
    return model, opt_state, jnp.stack(losses)
