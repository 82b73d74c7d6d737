"""The named optimizers, each a short ``chain`` of the transformations (as optax's ``alias.py``).

Every one ends in ``scale_by_learning_rate(α)``, u_t = −α_t · (direction), with
α = ``learning_rate`` a number ≥ 0 or a schedule t ↦ α_t. The states are tuples
of the links' states, field for field those of the optax optimizer of the same
name, and the trajectories are optax's.
"""

from __future__ import annotations

from recsys_lite._checks import check_flag, check_unit_interval
from recsys_lite.optim import transforms
from recsys_lite.optim.base import GradientTransformation, chain, identity

__all__ = ["sgd", "momentum", "adagrad", "rmsprop", "adam", "adamw"]


def sgd(learning_rate, momentum=None, nesterov=False) -> GradientTransformation:
    """Gradient descent: ``chain(trace(β, nesterov) or identity(), scale_by_learning_rate(α))``.

    Plain:     θ_{t+1} = θ_t − α g_t                  (``momentum=None``)
    Momentum:  θ_{t+1} = θ_t − α m_t,  m_t = β m_{t−1} + g_t
    Nesterov:  θ_{t+1} = θ_t − α (g_t + β m_t)        (needs β)
    β = ``momentum`` in [0, 1). Matches ``optax.sgd``.
    """
    check_flag("nesterov", nesterov)
    if momentum is None:
        if nesterov:
            raise ValueError("`nesterov=True` needs a `momentum` β in [0, 1); got momentum=None.")
        return chain(identity(), transforms.scale_by_learning_rate(learning_rate))
    check_unit_interval("momentum", momentum)
    return chain(transforms.trace(decay=momentum, nesterov=nesterov), transforms.scale_by_learning_rate(learning_rate))


def momentum(learning_rate, beta=0.9, nesterov=False) -> GradientTransformation:
    """SGD with momentum β = ``beta``: ``sgd(α, momentum=β, nesterov)``."""
    check_unit_interval("beta", beta)
    return sgd(learning_rate, momentum=beta, nesterov=nesterov)


def adagrad(learning_rate, initial_accumulator_value=0.1, eps=1e-7) -> GradientTransformation:
    """Adagrad: ``chain(scale_by_rss(G_0, ε), scale_by_learning_rate(α))``.

    θ_{t+1} = θ_t − α g_t / √(G_t + ε): each coordinate's step shrinks with
    its history of gradients. Matches ``optax.adagrad``.
    """
    return chain(transforms.scale_by_rss(initial_accumulator_value, eps),
                 transforms.scale_by_learning_rate(learning_rate))


def rmsprop(learning_rate, decay=0.9, eps=1e-8) -> GradientTransformation:
    """RMSProp: ``chain(scale_by_rms(ρ, ε), scale_by_learning_rate(α))``.

    θ_{t+1} = θ_t − α g_t / √(v_t + ε): divide by a moving root-mean-square
    of recent gradients. Matches ``optax.rmsprop``'s defaults.
    """
    return chain(transforms.scale_by_rms(decay, eps), transforms.scale_by_learning_rate(learning_rate))


def adam(learning_rate, b1=0.9, b2=0.999, eps=1e-8) -> GradientTransformation:
    """Adam: ``chain(scale_by_adam(β₁, β₂, ε), scale_by_learning_rate(α))``.

    θ_{t+1} = θ_t − α m̂_t / (√v̂_t + ε). Matches ``optax.adam``.
    """
    return chain(transforms.scale_by_adam(b1, b2, eps), transforms.scale_by_learning_rate(learning_rate))


def adamw(learning_rate, b1=0.9, b2=0.999, eps=1e-8, weight_decay=1e-4) -> GradientTransformation:
    """AdamW: ``chain(scale_by_adam(β₁, β₂, ε), add_decayed_weights(λ), scale_by_learning_rate(α))``.

    θ_{t+1} = θ_t − α (m̂_t / (√v̂_t + ε) + λ θ_t): the decay is decoupled from
    the gradient instead of entering m_t and v_t as an L2 term would. ``update``
    needs ``params``. Matches ``optax.adamw``.
    """
    return chain(transforms.scale_by_adam(b1, b2, eps), transforms.add_decayed_weights(weight_decay),
                 transforms.scale_by_learning_rate(learning_rate))
