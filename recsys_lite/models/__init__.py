"""Recommenders, from the simplest baselines up, and the protocol they all follow.

A model is a frozen dataclass registered as a JAX pytree, built by
``Model.init(key, ...)`` (a baseline by ``Model.fit(ratings, ...)``): its
arrays are its parameters, so ``jax.grad`` and the optimizers act on the
model itself, and its sizes are static. Every model answers through these
names, each taking ONE batch mapping::

    model.score(batch, *, key=None)  -> (B,)          every model: raw score of the batch's (user, item) pairs, the
                                                      unclipped rating r̂ of a rating model, the logit of a top-N one
    model.predict(batch)             -> (B,)          rating models only: score clipped to [low, high]
    model.scores(batch, *, key=None) -> (B, n_items)  top-N models: a score for every item of the catalogue

- **Batch keys.** ``batch`` holds row-aligned arrays under these names only:
  ``"user"`` (B,) ids, ``"item"`` (B,) ids, ``"history"`` (B, L) item ids,
  ``"length"`` (B,) real lengths of the histories, ``"user_x"`` (B, d_u)
  user features, ``"item_x"`` (B, d_i) item features of the pair,
  ``"rating"`` (B,). A model reads the keys it needs and ignores the others,
  so one dict serves training (:func:`recsys_lite.train.fit` passes it to the
  loss) and evaluation. Wrap a model for :mod:`recsys_lite.metrics` as
  ``lambda u: model.scores({"user": u, ...})``.
- **Shared inputs.** What is the same for every row (the hybrid's item
  feature table (n_items, d_i)) is a keyword argument:
  ``Hybrid.scores(batch, *, item_features, key=None)``; a loss takes it as a
  keyword bound with ``functools.partial``.
- **Dropout** is on exactly when a ``key`` is passed, in the models as in
  :class:`recsys_lite.nn.Dropout`; without one they are deterministic. A
  model without dropout takes ``key`` and ignores it.
- **Fields** say what they hold: an :class:`~recsys_lite.nn.Embedding` is
  ``<what>_embedding``, so code reads ``self.user_embedding(batch["user"])``.
  A part a model may leave out is a dict, empty when it is absent (the
  hybrid's ``user_embedding`` is ``{"user": P}`` or ``{}``): no ``None`` fields.
- **Padding.** An item sequence is left-aligned, oldest first, padded on the
  right with the id ``n_items`` (an input table has ``n_items + 1`` rows, the
  last for padding), with its length in ``"length"``.
- **Losses** are ``loss(model, batch, key, *, hyperparameters)``.
- **Checks** of shapes and dtypes run always (free under ``jax.jit``), of
  id ranges and finiteness on concrete arrays only: every method is jittable.

- :mod:`~recsys_lite.models.baselines` (chapter 1): global mean, user + item
  biases, popularity, random;
- :mod:`~recsys_lite.models.classical` (chapters 1 and 5): the strong classical
  top-N baselines, item-kNN, EASE and implicit ALS;
- :mod:`~recsys_lite.models.factorization` (chapters 4–5): content MLP,
  biased MF, NeuMF, and their losses;
- :mod:`~recsys_lite.models.autorec` (chapter 5): I-AutoRec, an autoencoder of each film's ratings;
- :mod:`~recsys_lite.models.blend` (chapter 5): a ridge blend of rating models fitted on validation;
- :mod:`~recsys_lite.models.sampling` (chapter 5): negative items for BPR,
  uniform or in proportion to popularity with seen items skipped;
- :mod:`~recsys_lite.models.markov` (chapters 6–7): the first-order Markov chain, the non-deep
  "uses the last item" baseline of the sequence models;
- :mod:`~recsys_lite.models.sequential` (chapters 6–7): Caser and GRU4Rec;
- :mod:`~recsys_lite.models.hybrid` (chapter 8): the complete recommender;
- :mod:`~recsys_lite.models.serving`: save/load as ``.npz``, and ``Recommender``.
"""

from recsys_lite.models.autorec import *  # noqa: F401,F403
from recsys_lite.models.autorec import __all__ as _autorec
from recsys_lite.models.baselines import *  # noqa: F401,F403
from recsys_lite.models.baselines import __all__ as _baselines
from recsys_lite.models.blend import *  # noqa: F401,F403
from recsys_lite.models.blend import __all__ as _blend
from recsys_lite.models.classical import *  # noqa: F401,F403
from recsys_lite.models.classical import __all__ as _classical
from recsys_lite.models.factorization import *  # noqa: F401,F403
from recsys_lite.models.factorization import __all__ as _factorization
from recsys_lite.models.hybrid import *  # noqa: F401,F403
from recsys_lite.models.hybrid import __all__ as _hybrid
from recsys_lite.models.markov import *  # noqa: F401,F403
from recsys_lite.models.markov import __all__ as _markov
from recsys_lite.models.sampling import *  # noqa: F401,F403
from recsys_lite.models.sampling import __all__ as _sampling
from recsys_lite.models.sequential import *  # noqa: F401,F403
from recsys_lite.models.sequential import __all__ as _sequential
from recsys_lite.models.serving import *  # noqa: F401,F403
from recsys_lite.models.serving import __all__ as _serving

__all__ = [*_autorec, *_baselines, *_blend, *_classical, *_factorization, *_sampling, *_markov, *_sequential,
           *_hybrid, *_serving]
