"""Recommenders, from the simplest baselines up.

Every model is a frozen dataclass registered as a JAX pytree: its arrays are
its parameters, so ``jax.grad`` and the optimizers act on the model itself.
Rating models have ``predict(users, items) -> r̂`` of shape ``(m,)``; top-N
models have a ``scores(...)`` method returning ``(n, n_items)`` scores, which
:mod:`recsys_lite.metrics` ranks.

- :mod:`~recsys_lite.models.baselines` (chapter 1): global mean, user + item
  biases, popularity, random;
- :mod:`~recsys_lite.models.factorization` (chapters 4–5): content MLP,
  biased MF, NeuMF, and their losses;
- :mod:`~recsys_lite.models.sequential` (chapters 6–7): Caser and GRU4Rec;
- :mod:`~recsys_lite.models.hybrid` (chapter 8): the complete recommender;
- :mod:`~recsys_lite.models.serving`: save/load as ``.npz``, and ``Recommender``.
"""

from recsys_lite.models.baselines import *  # noqa: F401,F403
from recsys_lite.models.baselines import __all__ as _baselines
from recsys_lite.models.factorization import *  # noqa: F401,F403
from recsys_lite.models.factorization import __all__ as _factorization
from recsys_lite.models.sequential import *  # noqa: F401,F403
from recsys_lite.models.sequential import __all__ as _sequential
from recsys_lite.models.hybrid import *  # noqa: F401,F403
from recsys_lite.models.hybrid import __all__ as _hybrid
from recsys_lite.models.serving import *  # noqa: F401,F403
from recsys_lite.models.serving import __all__ as _serving

__all__ = [*_baselines, *_factorization, *_sequential, *_hybrid, *_serving]
