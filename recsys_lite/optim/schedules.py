"""Learning-rate schedules: step t (counted from 0) ↦ α_t, as optax's ``schedules``.

Each raises, naming the argument, for a rate that is not a finite number (> 0
for α₀ and γ of the decays, ≥ 0 elsewhere) and for a step count that is not a
positive integer. Every schedule is jittable in t.
"""

from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp

from recsys_lite._checks import check_positive, check_size

__all__ = ["constant_schedule", "step_decay", "exponential_decay", "linear_warmup", "cosine_decay_schedule",
           "warmup_cosine_decay_schedule"]


def constant_schedule(value) -> Callable:
    """α_t = α₀ for every t; α₀ = ``value`` ≥ 0."""
    check_positive("value", value, allow_zero=True)
    return lambda count: value


def step_decay(init_value, transition_steps, decay_rate) -> Callable:
    """α_t = α₀ · γ^⌊t / T⌋: multiply by γ = ``decay_rate`` every T = ``transition_steps`` steps.

    The arguments in the order of ``exponential_decay`` (optax's
    ``exponential_decay(..., staircase=True)``).
    """
    check_positive("init_value", init_value)
    check_size("transition_steps", transition_steps)
    check_positive("decay_rate", decay_rate)
    return lambda count: init_value * jnp.power(decay_rate, jnp.floor(count / transition_steps))


def exponential_decay(init_value, transition_steps, decay_rate) -> Callable:
    """α_t = α₀ · γ^(t / T): a smooth decay by γ = ``decay_rate`` every T = ``transition_steps``."""
    check_positive("init_value", init_value)
    check_size("transition_steps", transition_steps)
    check_positive("decay_rate", decay_rate)
    return lambda count: init_value * jnp.power(decay_rate, count / transition_steps)


def linear_warmup(init_value, peak_value, warmup_steps) -> Callable:
    """α_t = α₀ + (α_peak − α₀) · min(t, T)/T: a straight ramp over T = ``warmup_steps``."""
    check_positive("init_value", init_value, allow_zero=True)
    check_positive("peak_value", peak_value, allow_zero=True)
    check_size("warmup_steps", warmup_steps)
    return lambda count: (init_value - peak_value) * (1 - jnp.clip(count, 0, warmup_steps) / warmup_steps) + peak_value


def cosine_decay_schedule(init_value, decay_steps, alpha=0.0) -> Callable:
    """α_t = α₀ · [(1 − a) · ½(1 + cos(π · min(t, T)/T)) + a]: from α₀ down to a·α₀ at T."""
    check_positive("init_value", init_value, allow_zero=True)
    check_size("decay_steps", decay_steps)
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
    included). Matches ``optax.warmup_cosine_decay_schedule`` for W ≥ 1 (optax also takes W = 0).
    """
    warmup = linear_warmup(init_value, peak_value, warmup_steps)  # checks these three
    check_positive("end_value", end_value, allow_zero=True)
    check_size("decay_steps", decay_steps)
    if decay_steps <= warmup_steps:
        raise ValueError(f"`decay_steps` must be > warmup_steps = {warmup_steps} (it counts the warmup); "
                         f"got {decay_steps}.")
    alpha = 0.0 if peak_value == 0.0 else end_value / peak_value
    decay = cosine_decay_schedule(peak_value, decay_steps - warmup_steps, alpha)
    return lambda count: jnp.where(count < warmup_steps, warmup(count), decay(count - warmup_steps))
