"""Optimizers written from scratch, in the shape of optax.

An optimizer is a pair of pure functions,

    state = opt.init(params)
    updates, state = opt.update(grads, state, params)
    params = apply_updates(params, updates)        # θ_{t+1} = θ_t + u_t

where ``params``, ``grads`` and ``updates`` are pytrees of one structure (a
dict, a tuple of arrays, a model dataclass...). The updates already carry the
learning rate and the minus sign, as in optax, so the two libraries can be
swapped for each other in a training loop.

Notation (book/notation.md): θ_t the parameters at step t, g_t = ∇J(θ_t) the
gradient, α (or α_t) the learning rate, β the momentum, β₁, β₂ Adam's decay
rates, ε a small constant in denominators, λ the weight decay. Arithmetic on
pytrees is leaf by leaf, and on arrays element by element.

A learning rate is a number or a schedule ``t -> α_t`` (t counts from 0).
The update functions are jittable; ``check_finite`` and ``step`` are eager.

Hyperparameters are checked when an optimizer is made (``ValueError`` for a
value out of range, ``TypeError`` for something that is not a number, each
naming the argument); a traced hyperparameter (under ``jax.jit``/``vmap``)
is known only at run time and passes unchecked. ``update`` checks that
``grads`` has the structure of the parameters given to ``init`` and that
``state`` is this optimizer's state: both are known while tracing, so the
checks cost nothing inside ``jax.jit``.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from recsys_lite._checks import as_array, check_callable, check_flag, check_positive, check_unit_interval, describe

tree_map = jax.tree_util.tree_map


class GradientTransformation(NamedTuple):
    """``init(params) -> state`` and ``update(grads, state, params=None) -> (updates, state)``."""

    init: Callable[[Any], Any]
    update: Callable[..., tuple[Any, Any]]


class EmptyState(NamedTuple):
    """The state of a transformation that remembers nothing."""


class SgdState(NamedTuple):
    count: jax.Array  # t, the number of updates so far (int32 scalar)
    trace: Any  # m_t, shaped like params; None without momentum


class AdagradState(NamedTuple):
    count: jax.Array
    sum_of_squares: Any  # G_t = G_0 + Σ_{τ≤t} g_τ²


class RmspropState(NamedTuple):
    count: jax.Array
    nu: Any  # v_t, the moving average of g²


class AdamState(NamedTuple):
    count: jax.Array
    mu: Any  # m_t, the moving average of g
    nu: Any  # v_t, the moving average of g²


# --- checks ------------------------------------------------------------------

def _check_learning_rate(learning_rate: Any) -> None:
    if not callable(learning_rate):
        check_positive("learning_rate", learning_rate)


_check_unit_interval = check_unit_interval  # 0 ≤ value < 1 (a decay rate)


def _check_transformation(name: str, transform: Any) -> None:
    if not (callable(getattr(transform, "init", None)) and callable(getattr(transform, "update", None))):
        raise TypeError(f"`{name}` must be a GradientTransformation with init(params) and update(grads, state, "
                        f"params), e.g. optim.adam(1e-3) or an optax one; got {describe(transform)}.")


def _check_state(state: Any, kind: type, who: str) -> None:
    if not isinstance(state, kind):
        raise TypeError(f"`state` must be the {kind.__name__} that {who}'s `init` returned; got {describe(state)}.")


def _check_same_tree(name_a: str, a: Any, name_b: str, b: Any) -> None:
    """Raise unless pytrees ``a`` and ``b`` have one structure (known while tracing: free under jit)."""
    tree_a, tree_b = jax.tree_util.tree_structure(a), jax.tree_util.tree_structure(b)
    if tree_a != tree_b:
        raise ValueError(f"`{name_a}` must have the structure of {name_b}; got {tree_a} and {tree_b}.")


def _check_grads(grads: Any, moments: Any) -> None:
    """``grads`` must be shaped like the parameters that ``init`` saw (stored in ``moments``)."""
    _check_same_tree("grads", grads, "the parameters given to `init`", moments)


# --- the pieces every optimizer shares -----------------------------------------

def _zeros_count() -> jax.Array:
    return jnp.zeros([], jnp.int32)


def _descend(direction: Any, learning_rate: Any, count: jax.Array) -> Any:
    """u_t = −α_t · direction, with α_t read from the schedule at step t."""
    alpha = learning_rate(count) if callable(learning_rate) else learning_rate
    return tree_map(lambda d: -jnp.asarray(alpha, d.dtype) * d, direction)


def _bias_corrected(moment: jax.Array, decay: float, t: jax.Array) -> jax.Array:
    """m̂_t = m_t / (1 − βᵗ): undoes the pull towards the zero start."""
    # A float t makes βᵗ one `pow`, inside jax.jit or not, as in optax. (An int t
    # known outside jit would be multiplied out instead: a different rounding,
    # which 1/(1 − βᵗ) magnifies up to 1/(1 − β₂) = 1000 times at early steps.)
    return moment / (1 - decay ** t.astype(jnp.float32)).astype(moment.dtype)


def apply_updates(params: Any, updates: Any) -> Any:
    """θ_{t+1} = θ_t + u_t, leaf by leaf, keeping each leaf's dtype.

    Raises:
        ValueError: ``updates`` has another structure than ``params``.
    """
    _check_same_tree("updates", updates, "`params`", params)
    return tree_map(lambda p, u: jnp.asarray(p + u).astype(jnp.asarray(p).dtype), params, updates)


def global_norm(tree: Any) -> jax.Array:
    """‖g‖ = √(Σ_leaves Σ_k g_k²), the norm of all leaves seen as one vector.

    Raises:
        TypeError: a leaf that is not an array of numbers.
    """
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        as_array(f"tree{jax.tree_util.keystr(path)}", leaf)
    return jnp.sqrt(sum(jnp.sum(leaf**2) for leaf in jax.tree_util.tree_leaves(tree)))


# --- optimizers ----------------------------------------------------------------

def sgd(learning_rate, momentum=None, nesterov=False) -> GradientTransformation:
    """Gradient descent, optionally with heavy-ball or Nesterov momentum.

    Plain:     θ_{t+1} = θ_t − α ∇J(θ_t)
    Momentum:  m_t = β m_{t−1} + g_t  (m_0 = 0),   θ_{t+1} = θ_t − α m_t
    Nesterov:  same m_t,                            θ_{t+1} = θ_t − α (g_t + β m_t)
    β = ``momentum`` in [0, 1), or None for plain descent (as ``optax.sgd``).
    State: the step count t and m_t (None without momentum).

    Raises:
        TypeError, ValueError: α not a number > 0 (or a schedule), β not in
            [0, 1), ``nesterov`` not a bool or True without β; in ``update``, a
            ``state`` from another optimizer or ``grads`` of another structure.
    """
    _check_learning_rate(learning_rate)
    if momentum is not None:
        _check_unit_interval("momentum", momentum)
    check_flag("nesterov", nesterov)
    if nesterov and momentum is None:
        raise ValueError("`nesterov=True` needs a `momentum` β in [0, 1); got momentum=None.")

    def init(params):
        trace = None if momentum is None else tree_map(jnp.zeros_like, params)
        return SgdState(count=_zeros_count(), trace=trace)

    def update(grads, state, params=None):
        _check_state(state, SgdState, "sgd")
        if momentum is None:
            return _descend(grads, learning_rate, state.count), SgdState(state.count + 1, None)
        _check_grads(grads, state.trace)
        trace = tree_map(lambda g, m: g + momentum * m, grads, state.trace)
        if nesterov:
            direction = tree_map(lambda g, m: g + momentum * m, grads, trace)
        else:
            direction = trace
        return _descend(direction, learning_rate, state.count), SgdState(state.count + 1, trace)

    return GradientTransformation(init, update)


def momentum(learning_rate, beta=0.9, nesterov=False) -> GradientTransformation:
    """SGD with momentum β: m_t = β m_{t−1} + g_t, θ_{t+1} = θ_t − α m_t. See ``sgd``."""
    _check_unit_interval("beta", beta)
    return sgd(learning_rate, momentum=beta, nesterov=nesterov)


def adagrad(learning_rate, initial_accumulator_value=0.1, eps=1e-7) -> GradientTransformation:
    """Adagrad: each coordinate's step shrinks with its history of gradients.

    G_t = G_{t−1} + g_t²   (G_0 = ``initial_accumulator_value``)
    θ_{t+1} = θ_t − α g_t / √(G_t + ε)
    State: the step count t and G_t. Matches ``optax.adagrad``.

    Raises:
        TypeError, ValueError: α not a number > 0 (or a schedule), G_0 < 0,
            ε ≤ 0; in ``update``, a foreign ``state`` or mismatched ``grads``.
    """
    _check_learning_rate(learning_rate)
    check_positive("initial_accumulator_value", initial_accumulator_value, allow_zero=True)
    check_positive("eps", eps)

    def init(params):
        accumulators = tree_map(lambda p: jnp.full_like(p, initial_accumulator_value), params)
        return AdagradState(count=_zeros_count(), sum_of_squares=accumulators)

    def update(grads, state, params=None):
        _check_state(state, AdagradState, "adagrad")
        _check_grads(grads, state.sum_of_squares)
        sum_of_squares = tree_map(lambda g, G: g**2 + G, grads, state.sum_of_squares)
        # rsqrt(x) = 1/√x; optax uses it, and so we round exactly as optax does.
        direction = tree_map(lambda g, G: jax.lax.rsqrt(G + eps) * g, grads, sum_of_squares)
        updates = _descend(direction, learning_rate, state.count)
        return updates, AdagradState(state.count + 1, sum_of_squares)

    return GradientTransformation(init, update)


def rmsprop(learning_rate, decay=0.9, eps=1e-8) -> GradientTransformation:
    """RMSProp: divide by a moving root-mean-square of recent gradients.

    v_t = ρ v_{t−1} + (1 − ρ) g_t²   (v_0 = 0, ρ = ``decay``)
    θ_{t+1} = θ_t − α g_t / √(v_t + ε)      (ε inside the root, as optax)
    State: the step count t and v_t. Matches ``optax.rmsprop`` defaults.

    Raises:
        TypeError, ValueError: α not a number > 0 (or a schedule), ρ not in
            [0, 1), ε ≤ 0; in ``update``, a foreign ``state`` or mismatched ``grads``.
    """
    _check_learning_rate(learning_rate)
    _check_unit_interval("decay", decay)
    check_positive("eps", eps)

    def init(params):
        return RmspropState(count=_zeros_count(), nu=tree_map(jnp.zeros_like, params))

    def update(grads, state, params=None):
        _check_state(state, RmspropState, "rmsprop")
        _check_grads(grads, state.nu)
        nu = tree_map(lambda g, v: (1 - decay) * g**2 + decay * v, grads, state.nu)
        direction = tree_map(lambda g, v: jax.lax.rsqrt(v + eps) * g, grads, nu)
        return _descend(direction, learning_rate, state.count), RmspropState(state.count + 1, nu)

    return GradientTransformation(init, update)


def adam(learning_rate, b1=0.9, b2=0.999, eps=1e-8) -> GradientTransformation:
    """Adam: momentum on g, scaled by a moving RMS of g, both bias-corrected.

    m_t = β₁ m_{t−1} + (1 − β₁) g_t          m̂_t = m_t / (1 − β₁ᵗ)
    v_t = β₂ v_{t−1} + (1 − β₂) g_t²         v̂_t = v_t / (1 − β₂ᵗ)
    θ_{t+1} = θ_t − α m̂_t / (√v̂_t + ε)       (t counts from 1, m_0 = v_0 = 0)
    State: the step count, m_t and v_t. Matches ``optax.adam``.

    Raises:
        TypeError, ValueError: α not a number > 0 (or a schedule), β₁ or β₂
            not in [0, 1), ε ≤ 0; in ``update``, a foreign ``state`` or
            mismatched ``grads``.
    """
    return _adam_like(learning_rate, b1, b2, eps, weight_decay=0.0)


def adamw(learning_rate, b1=0.9, b2=0.999, eps=1e-8, weight_decay=1e-4) -> GradientTransformation:
    """AdamW: Adam with weight decay λ decoupled from the gradient.

    m̂_t, v̂_t as in ``adam``;  θ_{t+1} = θ_t − α (m̂_t / (√v̂_t + ε) + λ θ_t).
    The decay shrinks θ directly instead of entering m_t and v_t as an L2
    term would. ``update`` needs ``params``. Matches ``optax.adamw``.

    Raises:
        TypeError, ValueError: as :func:`adam`, and λ < 0; in ``update``,
            ``params`` missing or of another structure than ``grads``.
    """
    check_positive("weight_decay", weight_decay, allow_zero=True)
    return _adam_like(learning_rate, b1, b2, eps, weight_decay)


def _adam_like(learning_rate, b1, b2, eps, weight_decay) -> GradientTransformation:
    _check_learning_rate(learning_rate)
    _check_unit_interval("b1", b1)
    _check_unit_interval("b2", b2)
    check_positive("eps", eps)

    def init(params):
        zeros = tree_map(jnp.zeros_like, params)
        return AdamState(count=_zeros_count(), mu=zeros, nu=zeros)

    def update(grads, state, params=None):
        _check_state(state, AdamState, "adam")
        _check_grads(grads, state.mu)
        t = state.count + 1
        mu = tree_map(lambda g, m: (1 - b1) * g + b1 * m, grads, state.mu)
        nu = tree_map(lambda g, v: (1 - b2) * g**2 + b2 * v, grads, state.nu)
        direction = tree_map(
            lambda m, v: _bias_corrected(m, b1, t) / (jnp.sqrt(_bias_corrected(v, b2, t)) + eps), mu, nu
        )
        if weight_decay:
            if params is None:
                raise ValueError("adamw's `update` needs `params` (for the decay λθ); got None.")
            _check_same_tree("params", params, "`grads`", grads)
            direction = tree_map(lambda d, p: d + weight_decay * p, direction, params)
        return _descend(direction, learning_rate, state.count), AdamState(t, mu, nu)

    return GradientTransformation(init, update)


# --- composing transformations -------------------------------------------------

def clip_by_global_norm(max_norm) -> GradientTransformation:
    """Rescale g so that its global norm is at most c = ``max_norm``.

    g ← g                 if ‖g‖ < c
    g ← g · c / ‖g‖       otherwise               (‖·‖ as in ``global_norm``)
    The direction is kept; only a too-long step is shortened. State: none.

    Raises:
        TypeError, ValueError: c not a finite number > 0.
    """
    check_positive("max_norm", max_norm)
    # (update accepts any empty state, ours or optax's EmptyState.)

    def init(params):
        return EmptyState()

    def update(grads, state, params=None):
        norm = global_norm(grads)
        clipped = tree_map(lambda g: jnp.where(norm < max_norm, g, (g / norm.astype(g.dtype)) * max_norm), grads)
        return clipped, state

    return GradientTransformation(init, update)


def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """Apply transformations in order: the updates of one are the grads of the next.

    ``chain(clip_by_global_norm(1.0), adam(1e-3))`` clips, then takes an Adam
    step. State: a tuple of the transformations' states. Matches ``optax.chain``.

    Raises:
        TypeError: an argument that is not a GradientTransformation; in
            ``update``, a ``state`` that is not a tuple.
        ValueError: in ``update``, a ``state`` with another number of entries
            than there are transformations.
    """
    for i, transform in enumerate(transforms):
        _check_transformation(f"transforms[{i}]", transform)

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


# --- eager helpers (outside jax.jit) -------------------------------------------

def check_finite(tree: Any, name: str = "grads") -> None:
    """Raise ``FloatingPointError`` naming every leaf of ``tree`` that holds NaN or ±inf.

    Eager: it reads the values, so call it outside ``jax.jit``.

    Raises:
        FloatingPointError: a leaf holds NaN or ±inf.
        TypeError: called inside ``jax.jit``, a leaf that is not numbers, ``name`` not a string.
    """
    if not isinstance(name, str):
        raise TypeError(f"`name` must be a string; got {describe(name)}.")
    bad = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        if isinstance(leaf, jax.core.Tracer):
            raise TypeError(f"check_finite reads values, so it cannot run inside jax.jit; `{name}` is traced.")
        values = np.asarray(as_array(f"{name}{jax.tree_util.keystr(path)}", leaf))
        if not np.isfinite(values).all():
            where = jax.tree_util.keystr(path) or "(the root)"
            bad.append(f"{where} ({np.isnan(values).sum()} NaN, {np.isinf(values).sum()} inf in {describe(values)})")
    if bad:
        raise FloatingPointError(f"`{name}` must be finite; got non-finite values at " + "; ".join(bad) + ".")


def step(optimizer: GradientTransformation, params: Any, grads: Any, state: Any) -> tuple[Any, Any]:
    """One checked step: refuse non-finite gradients, then θ_{t+1} = θ_t + u_t.

    Returns ``(new_params, new_state)``. Eager (it calls ``check_finite``); in
    a jitted training loop call ``optimizer.update`` and ``apply_updates``.
    """
    _check_transformation("optimizer", optimizer)
    check_finite(grads, "grads")
    updates, state = optimizer.update(grads, state, params)
    return apply_updates(params, updates), state


# --- schedules: step t (from 0) -> learning rate α_t -------------------------------
#
# Each raises ValueError for a rate that is not a finite number (> 0 for α₀ and γ of
# the decays, ≥ 0 elsewhere) and for step counts that are not integers > 0, naming it.

def constant_schedule(value) -> Callable:
    """α_t = α₀ for every t; α₀ = ``value`` ≥ 0."""
    check_positive("value", value, allow_zero=True)
    return lambda count: value


def step_decay(init_value, decay_rate, step_size) -> Callable:
    """α_t = α₀ · γ^⌊t / s⌋: multiply by γ = ``decay_rate`` every s = ``step_size`` steps."""
    check_positive("init_value", init_value)
    check_positive("decay_rate", decay_rate)
    _check_positive_int("step_size", step_size)
    return lambda count: init_value * jnp.power(decay_rate, jnp.floor(count / step_size))


def exponential_decay(init_value, transition_steps, decay_rate) -> Callable:
    """α_t = α₀ · γ^(t / T): a smooth decay by γ = ``decay_rate`` every T = ``transition_steps``."""
    check_positive("init_value", init_value)
    check_positive("decay_rate", decay_rate)
    _check_positive_int("transition_steps", transition_steps)
    return lambda count: init_value * jnp.power(decay_rate, count / transition_steps)


def linear_warmup(init_value, peak_value, warmup_steps) -> Callable:
    """α_t = α₀ + (α_peak − α₀) · min(t, T)/T: a straight ramp over T = ``warmup_steps``."""
    check_positive("init_value", init_value, allow_zero=True)
    check_positive("peak_value", peak_value, allow_zero=True)
    _check_positive_int("warmup_steps", warmup_steps)

    def schedule(count):
        fraction_left = 1 - jnp.clip(count, 0, warmup_steps) / warmup_steps
        return (init_value - peak_value) * fraction_left + peak_value

    return schedule


def cosine_decay_schedule(init_value, decay_steps, alpha=0.0) -> Callable:
    """α_t = α₀ · [(1 − a) · ½(1 + cos(π · min(t, T)/T)) + a]: from α₀ down to a·α₀ at T."""
    check_positive("init_value", init_value, allow_zero=True)
    _check_positive_int("decay_steps", decay_steps)
    check_positive("alpha", alpha, allow_zero=True)

    def schedule(count):
        t = jnp.minimum(count, float(decay_steps))
        cosine = 0.5 * (1 + jnp.cos(jnp.pi * t / decay_steps))
        return init_value * ((1 - alpha) * cosine + alpha)

    return schedule


def warmup_cosine_decay_schedule(init_value, peak_value, warmup_steps, decay_steps, end_value=0.0) -> Callable:
    """Linear warmup from α₀ to α_peak over W steps, then cosine decay to α_end at T.

    α_t = linear_warmup(t)                                     for t < W
    α_t = cosine_decay(α_peak → α_end over T − W steps)(t − W)  for t ≥ W
    with W = ``warmup_steps`` and T = ``decay_steps`` (the total length, warmup
    included). Matches ``optax.warmup_cosine_decay_schedule``.
    """
    check_positive("init_value", init_value, allow_zero=True)
    check_positive("peak_value", peak_value, allow_zero=True)
    check_positive("end_value", end_value, allow_zero=True)
    _check_positive_int("warmup_steps", warmup_steps)
    _check_positive_int("decay_steps", decay_steps)
    if decay_steps <= warmup_steps:
        raise ValueError(f"`decay_steps` must be > warmup_steps = {warmup_steps} (it counts the warmup); got {decay_steps}.")
    warmup = linear_warmup(init_value, peak_value, warmup_steps)
    alpha = 0.0 if peak_value == 0.0 else end_value / peak_value
    decay = cosine_decay_schedule(peak_value, decay_steps - warmup_steps, alpha)
    return lambda count: jnp.where(count < warmup_steps, warmup(count), decay(count - warmup_steps))


def _check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"`{name}` must be an integer > 0; got {describe(value)}.")
