"""The small transformations the optimizers are chained from, each with its own state.

Read beside optax's ``_src/transform.py``: the same names, arguments and state
fields. ``g`` is what reaches a transformation (the gradient, or the updates of
the one before it in a chain), ``u`` what it passes on; t counts updates from 1.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from recsys_lite._checks import check_flag, check_positive, check_unit_interval, describe
from recsys_lite.optim.base import GradientTransformation, check_same_tree, global_norm, init_empty_state

__all__ = ["ScaleByScheduleState", "TraceState", "ScaleByRssState", "ScaleByRmsState", "ScaleByAdamState",
           "scale", "scale_by_schedule", "scale_by_learning_rate", "trace", "scale_by_rss", "scale_by_rms",
           "scale_by_adam", "add_decayed_weights", "clip_by_global_norm"]

tree_map = jax.tree_util.tree_map


class ScaleByScheduleState(NamedTuple):
    count: jax.Array  # t − 1, the number of updates so far (int32 scalar)


class TraceState(NamedTuple):
    trace: Any  # m_t, shaped like params


class ScaleByRssState(NamedTuple):
    sum_of_squares: Any  # G_t = G_0 + Σ_{τ≤t} g_τ²


class ScaleByRmsState(NamedTuple):
    nu: Any  # v_t, the moving average of g²


class ScaleByAdamState(NamedTuple):
    count: jax.Array  # t, the number of updates so far (int32 scalar)
    mu: Any  # m_t, the moving average of g
    nu: Any  # v_t, the moving average of g²


def check_state(state: Any, kind: type, who: str) -> None:
    if not isinstance(state, kind):
        raise TypeError(f"`state` must be the {kind.__name__} that {who}'s `init` returned; got {describe(state)}.")


def check_grads(grads: Any, moments: Any) -> None:
    """``grads`` must be shaped like the parameters that ``init`` saw (stored in ``moments``)."""
    check_same_tree("grads", grads, "the parameters given to `init`", moments)


def _times(step_size, grads):
    return tree_map(lambda g: jnp.asarray(step_size, g.dtype) * g, grads)


# --- scaling by a number ----------------------------------------------------------------

def scale(step_size) -> GradientTransformation:
    """u = s · g for a fixed number s = ``step_size``. State: none."""
    return GradientTransformation(init_empty_state, lambda grads, state, params=None: (_times(step_size, grads), state))


def scale_by_schedule(step_size_fn) -> GradientTransformation:
    """u_t = s(t − 1) · g_t for a schedule s = ``step_size_fn`` (s(0) at the first update). State: t − 1."""

    def update(grads, state, params=None):
        check_state(state, ScaleByScheduleState, "scale_by_schedule")
        return _times(step_size_fn(state.count), grads), ScaleByScheduleState(state.count + 1)

    return GradientTransformation(lambda params: ScaleByScheduleState(count=jnp.zeros([], jnp.int32)), update)


def scale_by_learning_rate(learning_rate, *, flip_sign=True) -> GradientTransformation:
    """u_t = −α_t · g_t: the descent step that ends every optimizer (``flip_sign=False``: no minus).

    α = ``learning_rate``, a number ≥ 0 (``scale(−α)``) or a schedule t ↦ α_t (``scale_by_schedule``).
    """
    sign = -1 if flip_sign else 1
    if callable(learning_rate):
        return scale_by_schedule(lambda count: sign * learning_rate(count))
    check_positive("learning_rate", learning_rate, allow_zero=True)
    return scale(sign * learning_rate)


# --- momentum and the moving averages -----------------------------------------------------

def trace(decay, nesterov=False) -> GradientTransformation:
    """Momentum: m_t = β m_{t−1} + g_t (m_0 = 0), u_t = m_t (Nesterov: u_t = g_t + β m_t).

    β = ``decay`` in [0, 1), ``nesterov`` a bool. State: m_t.
    """
    check_unit_interval("decay", decay)
    check_flag("nesterov", nesterov)

    def update(grads, state, params=None):
        check_state(state, TraceState, "trace")
        check_grads(grads, state.trace)
        new_trace = tree_map(lambda g, m: g + decay * m, grads, state.trace)
        updates = tree_map(lambda g, m: g + decay * m, grads, new_trace) if nesterov else new_trace
        return updates, TraceState(trace=new_trace)

    return GradientTransformation(lambda params: TraceState(trace=tree_map(jnp.zeros_like, params)), update)


def scale_by_rss(initial_accumulator_value=0.1, eps=1e-7) -> GradientTransformation:
    """Adagrad's accumulator: G_t = G_{t−1} + g_t², u_t = g_t / √(G_t + ε).

    G_0 = ``initial_accumulator_value`` ≥ 0, ε = ``eps`` > 0; u_t = 0 where G_t = 0.
    State: G_t. (1/√ is ``rsqrt``, as in optax, so the two round alike.)
    """
    check_positive("initial_accumulator_value", initial_accumulator_value, allow_zero=True)
    check_positive("eps", eps)

    def init(params):
        return ScaleByRssState(sum_of_squares=tree_map(lambda p: jnp.full_like(p, initial_accumulator_value), params))

    def update(grads, state, params=None):
        check_state(state, ScaleByRssState, "scale_by_rss")
        check_grads(grads, state.sum_of_squares)
        sum_of_squares = tree_map(lambda g, G: g**2 + G, grads, state.sum_of_squares)
        inverse_root = tree_map(lambda G: jnp.where(G > 0, jax.lax.rsqrt(G + eps), 0.0), sum_of_squares)
        return tree_map(lambda r, g: r * g, inverse_root, grads), ScaleByRssState(sum_of_squares)

    return GradientTransformation(init, update)


def scale_by_rms(decay=0.9, eps=1e-8) -> GradientTransformation:
    """RMSProp's scaling: v_t = ρ v_{t−1} + (1 − ρ) g_t² (v_0 = 0), u_t = g_t / √(v_t + ε).

    ρ = ``decay`` in [0, 1), ε = ``eps`` > 0 (inside the root, as optax). State: v_t.
    """
    check_unit_interval("decay", decay)
    check_positive("eps", eps)

    def update(grads, state, params=None):
        check_state(state, ScaleByRmsState, "scale_by_rms")
        check_grads(grads, state.nu)
        nu = tree_map(lambda g, v: (1 - decay) * g**2 + decay * v, grads, state.nu)
        return tree_map(lambda g, v: jax.lax.rsqrt(v + eps) * g, grads, nu), ScaleByRmsState(nu)

    return GradientTransformation(lambda params: ScaleByRmsState(nu=tree_map(jnp.zeros_like, params)), update)


def scale_by_adam(b1=0.9, b2=0.999, eps=1e-8) -> GradientTransformation:
    """Adam's scaling: momentum on g over a moving RMS of g, both bias-corrected.

    m_t = β₁ m_{t−1} + (1 − β₁) g_t          m̂_t = m_t / (1 − β₁ᵗ)
    v_t = β₂ v_{t−1} + (1 − β₂) g_t²         v̂_t = v_t / (1 − β₂ᵗ)
    u_t = m̂_t / (√v̂_t + ε)                  (t counts from 1, m_0 = v_0 = 0)
    β₁, β₂ = ``b1``, ``b2`` in [0, 1), ε = ``eps`` > 0. State: t, m_t and v_t.
    """
    check_unit_interval("b1", b1)
    check_unit_interval("b2", b2)
    check_positive("eps", eps)

    def bias_corrected(moment, decay, t):
        # A float t makes βᵗ one `pow`, inside jax.jit or not. (An int t known outside
        # jit would be multiplied out instead: a different rounding, which 1/(1 − βᵗ)
        # magnifies up to 1/(1 − β₂) = 1000 times at early steps.)
        return moment / (1 - decay ** t.astype(jnp.float32)).astype(moment.dtype)

    def init(params):
        zeros = tree_map(jnp.zeros_like, params)
        return ScaleByAdamState(count=jnp.zeros([], jnp.int32), mu=zeros, nu=zeros)

    def update(grads, state, params=None):
        check_state(state, ScaleByAdamState, "scale_by_adam")
        check_grads(grads, state.mu)
        t = state.count + 1
        mu = tree_map(lambda g, m: (1 - b1) * g + b1 * m, grads, state.mu)
        nu = tree_map(lambda g, v: (1 - b2) * g**2 + b2 * v, grads, state.nu)
        updates = tree_map(lambda m, v: bias_corrected(m, b1, t) / (jnp.sqrt(bias_corrected(v, b2, t)) + eps), mu, nu)
        return updates, ScaleByAdamState(count=t, mu=mu, nu=nu)

    return GradientTransformation(init, update)


# --- acting on the direction --------------------------------------------------------------

def add_decayed_weights(weight_decay=0.0) -> GradientTransformation:
    """Decoupled weight decay: u_t = g_t + λ θ_t, with λ = ``weight_decay`` ≥ 0.

    Placed before ``scale_by_learning_rate``, the step becomes −α (g_t + λ θ_t):
    θ shrinks directly instead of through the gradient (AdamW). ``update``
    needs ``params``, of the structure of ``grads``. State: none.
    """
    check_positive("weight_decay", weight_decay, allow_zero=True)

    def update(grads, state, params=None):
        if params is None:
            raise ValueError("add_decayed_weights' `update` needs `params` (for the decay λθ); got None.")
        check_same_tree("params", params, "`grads`", grads)
        if isinstance(weight_decay, (int, float)) and weight_decay == 0:  # a concrete 0: nothing to add
            return grads, state
        return tree_map(lambda g, p: g + weight_decay * p, grads, params), state

    return GradientTransformation(init_empty_state, update)


def clip_by_global_norm(max_norm) -> GradientTransformation:
    """Rescale g so that its global norm is at most c = ``max_norm`` > 0.

    u = g                 if ‖g‖ < c
    u = g · c / ‖g‖       otherwise               (‖·‖ as in ``global_norm``)
    State: none.
    """
    check_positive("max_norm", max_norm)

    def update(grads, state, params=None):
        norm = global_norm(grads)
        return tree_map(lambda g: jnp.where(norm < max_norm, g, (g / norm.astype(g.dtype)) * max_norm), grads), state

    return GradientTransformation(init_empty_state, update)
