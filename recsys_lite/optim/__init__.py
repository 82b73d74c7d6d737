"""Optimizers written from scratch, built as optax is.

An optimizer is a pair of pure functions,

    state = opt.init(params)
    updates, state = opt.update(grads, state, params)
    params = apply_updates(params, updates)        # θ_{t+1} = θ_t + u_t

where ``params``, ``grads`` and ``updates`` are pytrees of one structure (a
dict, a tuple of arrays, a model dataclass...). Each named optimizer (``aliases``)
is a ``chain`` (``base``) of small transformations with their own state (``transforms``):
``adam(α) = chain(scale_by_adam(β₁, β₂, ε), scale_by_learning_rate(α))``. The
updates carry the learning rate and the minus sign, as in optax, so the two
libraries mix: ours inside ``optax.chain``/``masked``/``MultiSteps``/
``inject_hyperparams``, optax's inside our ``chain``.

Notation (book/notation.md): θ_t the parameters at step t, g_t = ∇J(θ_t) the
gradient, α (or α_t) the learning rate, β the momentum, β₁, β₂ Adam's decay
rates, ε a small constant in denominators, λ the weight decay. Arithmetic on
pytrees is leaf by leaf, and on arrays element by element.

Hyperparameters may be numbers, 0-d arrays or tracers; a concrete value is checked
when the transformation is made (``ValueError`` out of range, ``TypeError`` not
a number, each naming the argument), a traced one passes unchecked. ``update``
checks that ``grads`` has the structure of the parameters given to ``init`` and
that ``state`` is its own, at no cost inside ``jax.jit``. Everything is
jittable except ``check_finite`` and ``step``.
"""

from recsys_lite.optim import aliases, base, schedules, transforms
from recsys_lite.optim.aliases import *  # noqa: F403
from recsys_lite.optim.base import *  # noqa: F403
from recsys_lite.optim.schedules import *  # noqa: F403
from recsys_lite.optim.transforms import *  # noqa: F403

# the interface and the step; transformations and their states; named optimizers; schedules
__all__ = [*base.__all__, *transforms.__all__, *aliases.__all__, *schedules.__all__]
