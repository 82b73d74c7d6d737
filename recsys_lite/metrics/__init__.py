"""How recommenders are judged: the book's one implementation of every metric.

Rating prediction (explicit feedback), over m test pairs:

    RMSE = sqrt( 1/m Σ (r̂_ui − r_ui)² )        MAE = 1/m Σ |r̂_ui − r_ui|

Top-N (implicit feedback), one held-out target item t per user. The model
scores every item; the target's rank counts the *other* candidate items
scoring at least as high,

    rank_u = #{ j ≠ t : j not excluded, s_uj ≥ s_ut }      (0 = first place)

so ties count against the model: a constant scorer puts the target behind
every other item, not in front. Excluded items are those the user interacted
with before the target (training items, plus the validation item when
scoring the test item); they are never candidates. Then, averaged over users,

    HR@K = [rank < K]     NDCG@K = [rank < K] / log2(rank + 2)     MRR = 1 / (rank + 1)

With one target per user, Recall@K equals HR@K; :func:`recall_at_k` also
handles several relevant items per user.

Uncertainty. A difference between two models on the same test users is
judged with the users as the unit of resampling (the bootstrap): draw n
users with replacement, recompute both statistics on that sample, repeat B
times; the standard deviation of the B differences is the difference's
standard error (s.e.). :func:`per_user` gives each user's HR@K, NDCG@K or
reciprocal rank, :func:`bootstrap_difference` the difference and its s.e.,
:func:`bootstrap_se` one model's s.e., and :meth:`Difference.direction` the
verdict: a difference counts only beyond z = 2 standard errors.

Every function accepts numpy or JAX arrays and returns Python floats (or a
numpy array of ranks); scores are compared in their own dtype. Inputs are
checked before anything is computed: a NaN score or target, an id out of
range, a cut-off K that is not a positive integer or an empty input raises
``ValueError`` (or ``TypeError`` for a wrong type) naming the argument.

The functions live in :mod:`~recsys_lite.metrics.ratings`,
:mod:`~recsys_lite.metrics.ranking` and :mod:`~recsys_lite.metrics.uncertainty`;
all are importable from here.
"""

from recsys_lite.metrics import ranking, ratings, uncertainty
from recsys_lite.metrics.ranking import *  # noqa: F403
from recsys_lite.metrics.ratings import *  # noqa: F403
from recsys_lite.metrics.uncertainty import *  # noqa: F403

__all__ = [*ratings.__all__, *ranking.__all__, *uncertainty.__all__]
