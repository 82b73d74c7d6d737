"""How recommenders are judged: the book's one implementation of every metric.

- :mod:`~recsys_lite.metrics.ratings`: rating prediction, RMSE and MAE;
- :mod:`~recsys_lite.metrics.ranking`: top-N, the target's rank among all
  candidate items (ties against the model), HR@K, NDCG@K, MRR, Recall@K,
  the book's leave-one-out protocol and the sampled one it argues against;
- :mod:`~recsys_lite.metrics.uncertainty`: the bootstrap over users, and
  when a difference between two models counts;
- :mod:`~recsys_lite.metrics.compare`: the comparison tables, every model's
  statistic with its interval (:func:`summarise`) and every difference with
  its verdict (:func:`compare`).

Every function accepts numpy or JAX arrays and returns Python floats (or a
numpy array of ranks); scores are compared in their own dtype. Inputs are
checked before anything is computed: a NaN score or target, an id out of
range, a cut-off K that is not a positive integer or an empty input raises
``ValueError`` (or ``TypeError`` for a wrong type) naming the argument.
Everything is importable from here: ``metrics.ndcg``.
"""

from recsys_lite.metrics import ranking, ratings, uncertainty
from recsys_lite.metrics.compare import *  # noqa: F403  (the function `compare` replaces the module's name here)
from recsys_lite.metrics.compare import __all__ as _compare
from recsys_lite.metrics.ranking import *  # noqa: F403
from recsys_lite.metrics.ratings import *  # noqa: F403
from recsys_lite.metrics.uncertainty import *  # noqa: F403

__all__ = [*ratings.__all__, *ranking.__all__, *uncertainty.__all__, *_compare]
