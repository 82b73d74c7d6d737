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
"""

from __future__ import annotations

from typing import Callable, Mapping, NamedTuple, Sequence

import numpy as np

from recsys_lite._checks import (as_array, check_flag, check_ids, check_int_in_range, check_ndim, check_nonempty,
                                 check_same_shape, check_size, describe)

__all__ = [
    "rmse", "mae", "target_ranks", "hit_rate", "ndcg", "mrr", "recall_at_k",
    "ranking_metrics", "evaluate_ranking", "evaluate_leave_one_out", "rank_targets", "leave_one_out_ranks",
    "per_user", "Difference", "bootstrap_difference", "bootstrap_se",
]


def _finite(name: str, values: np.ndarray) -> None:
    if not np.all(np.isfinite(values)):
        bad = int(np.size(values) - np.count_nonzero(np.isfinite(values)))
        raise ValueError(f"`{name}` must be finite; it holds {bad} NaN or infinite value(s).")


def _predictions(pred, target) -> tuple[np.ndarray, np.ndarray]:
    """``pred`` and ``target`` as float64 arrays, after checking: numbers, one shape, non-empty, finite."""
    pred = np.asarray(as_array("pred", pred), np.float64)
    target = np.asarray(as_array("target", target), np.float64)
    check_same_shape("pred", pred, "target", target)
    check_nonempty("pred", pred, "prediction")
    _finite("pred", pred)
    _finite("target", target)
    return pred, target


def _ranks(ranks) -> np.ndarray:
    """``ranks`` as an int array after checking: integers >= 0, 1-D, non-empty (as from :func:`target_ranks`)."""
    ranks = np.asarray(as_array("ranks", ranks))
    check_ndim("ranks", ranks, 1, "one rank per user")
    check_nonempty("ranks", ranks, "rank")
    if not np.issubdtype(ranks.dtype, np.integer):
        raise TypeError(f"`ranks` must hold integer ranks (0 = first place), as from target_ranks; "
                        f"got {describe(ranks)}.")
    if ranks.min() < 0:
        raise ValueError(f"`ranks` must be >= 0 (0 = first place); got {int(ranks.min())}.")
    return ranks


def rmse(pred, target) -> float:
    """Root mean squared error, sqrt(1/m Σ (r̂ − r)²); ``pred``, ``target``: shape (m,).

    Raises:
        TypeError: non-numeric input. ValueError: different shapes, no
        predictions, or NaN/inf in ``pred`` or ``target``.
    """
    pred, target = _predictions(pred, target)
    return float(np.sqrt(np.mean((pred - target) ** 2)))


def mae(pred, target) -> float:
    """Mean absolute error, 1/m Σ |r̂ − r|; ``pred``, ``target``: shape (m,).

    Raises:
        TypeError: non-numeric input. ValueError: different shapes, no
        predictions, or NaN/inf in ``pred`` or ``target``.
    """
    pred, target = _predictions(pred, target)
    return float(np.mean(np.abs(pred - target)))


def _exclusion_rows(exclude, rows: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """Dense boolean rows of ``exclude`` (dense array or scipy sparse), or all False."""
    if exclude is None:
        return np.zeros(shape, bool)
    picked = exclude if rows is None else exclude[rows]
    if hasattr(picked, "toarray"):  # scipy.sparse
        picked = picked.toarray()
    picked = np.asarray(as_array("exclude", picked))
    if picked.shape != shape:
        raise ValueError(f"`exclude` rows must have shape {shape} to match `scores`; got {picked.shape}.")
    return _boolean("exclude", picked)


def _boolean(name: str, mask: np.ndarray) -> np.ndarray:
    """``mask`` as booleans, after checking it holds only True/False (or 0/1)."""
    if mask.dtype != bool and not np.isin(mask, (0, 1)).all():
        raise ValueError(f"`{name}` must be a boolean mask (True/False or 0/1); got values such as "
                         f"{mask[~np.isin(mask, (0, 1))].flat[0]!r} in {describe(mask)}.")
    return mask.astype(bool, copy=False)


def target_ranks(scores, targets, exclude=None) -> np.ndarray:
    """0-based rank of each user's target among the candidate items, ties against.

    Args:
        scores: ``(n, n_items)`` scores s_uj, one row per user.
        targets: ``(n,)`` target item id t of each row.
        exclude: optional boolean ``(n, n_items)`` mask (or scipy sparse matrix)
            of items that are not candidates. It must not exclude the target.

    Returns:
        ``(n,)`` int array: rank_u = #{j ≠ t, not excluded, s_uj ≥ s_ut}.

    Raises:
        TypeError: non-numeric ``scores``, non-integer ``targets``.
        ValueError: ``scores`` not 2-D, empty or not finite; ``targets`` of the
            wrong shape or out of range; ``exclude`` of the wrong shape, not
            boolean, or excluding a target.
    """
    scores = np.asarray(as_array("scores", scores))
    check_ndim("scores", scores, 2, "users × items")
    n, n_items = scores.shape
    if n == 0:
        raise ValueError(f"`scores` must hold at least one row (one per user); got {describe(scores)}.")
    targets = check_ids("targets", targets, n_items, "items")
    if targets.shape != (n,):
        raise ValueError(f"`targets` must have shape ({n},), one item per row of `scores`; got {targets.shape}.")
    _finite("scores", scores)
    excluded = _exclusion_rows(exclude, None, (n, n_items))
    rows = np.arange(n)
    if excluded[rows, targets].any():
        raise ValueError(
            f"`exclude` marks the target item itself for {int(excluded[rows, targets].sum())} row(s), "
            "e.g. row {}: a target must be a candidate (is the split leaking?).".format(
                int(np.flatnonzero(excluded[rows, targets])[0]))
        )
    target_scores = scores[rows, targets][:, None]
    ahead = (scores >= target_scores) & ~excluded
    return ahead.sum(axis=1) - 1  # the target itself always satisfies s ≥ s


def hit_rate(ranks, k: int) -> float:
    """HR@K: share of users whose target ranks in the top ``k``; ``ranks`` (n,) ints >= 0.

    Raises:
        TypeError, ValueError: ``ranks`` empty, not 1-D, not integers >= 0; ``k`` not an integer >= 1.
    """
    ranks = _ranks(ranks)
    k = check_size("k", k)
    return float(np.mean(ranks < k))


def ndcg(ranks, k: int) -> float:
    """NDCG@K for one relevant item: mean of [rank < K] / log2(rank + 2); ``ranks`` (n,) ints >= 0.

    Raises:
        TypeError, ValueError: as :func:`hit_rate`.
    """
    ranks = _ranks(ranks)
    k = check_size("k", k)
    return float(np.mean(np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)))


def mrr(ranks) -> float:
    """Mean reciprocal rank, mean of 1 / (rank + 1) (no cut-off); ``ranks`` (n,) ints >= 0.

    Raises:
        TypeError, ValueError: ``ranks`` empty, not 1-D, not integers >= 0.
    """
    return float(np.mean(1.0 / (_ranks(ranks) + 1.0)))


def recall_at_k(scores, relevant, k: int, exclude=None) -> float:
    """Recall@K with several relevant items per user, ties against.

    A relevant item i is retrieved when #{j ≠ i, not excluded, s_uj ≥ s_ui} < K;
    Recall@K is the mean over users (with at least one relevant item) of
    retrieved / |relevant|. ``scores``, ``relevant`` (bool): ``(n, n_items)``.

    Raises:
        TypeError: non-numeric input, ``k`` not an integer.
        ValueError: shapes that differ or are not 2-D, NaN/inf scores,
            ``relevant``/``exclude`` not boolean, ``k`` < 1, no relevant item
            at all, or an excluded relevant item.
    """
    scores = np.asarray(as_array("scores", scores))
    relevant = np.asarray(as_array("relevant", relevant))
    check_ndim("scores", scores, 2, "users × items")
    check_same_shape("scores", scores, "relevant", relevant)
    relevant = _boolean("relevant", relevant)
    k = check_size("k", k)
    _finite("scores", scores)
    excluded = _exclusion_rows(exclude, None, scores.shape)
    if (excluded & relevant).any():
        raise ValueError("`exclude` marks relevant items: a relevant item must be a candidate.")
    candidate = ~excluded
    per_user = []
    for s, rel, cand in zip(scores, relevant, candidate):
        if not rel.any():
            continue
        ahead = (s[None, :] >= s[rel][:, None]) & cand[None, :]
        ranks = ahead.sum(axis=1) - 1
        per_user.append(np.mean(ranks < k))
    if not per_user:
        raise ValueError("`relevant` must mark at least one item for some user; it is all False.")
    return float(np.mean(per_user))


def _cutoffs(ks) -> list[int]:
    """``ks`` as a list of positive ints, after checking it is a sequence of them."""
    if isinstance(ks, (str, bytes)) or not isinstance(ks, (Sequence, np.ndarray)):
        raise TypeError(f"`ks` must be a sequence of cut-offs K, e.g. (10,) or [5, 10]; got {describe(ks)}.")
    return [check_size(f"ks[{i}]", k) for i, k in enumerate(ks)]


def ranking_metrics(ranks, ks: Sequence[int] = (10,)) -> dict[str, float]:
    """``{"HR@K": …, "NDCG@K": …, …, "MRR": …}`` from target ranks ``(n,)``.

    Raises:
        TypeError, ValueError: bad ``ranks`` (see :func:`hit_rate`), ``ks`` not
            a sequence of integers >= 1.
    """
    ranks = _ranks(ranks)
    ks = _cutoffs(ks)
    out: dict[str, float] = {}
    for k in ks:
        out[f"HR@{k}"] = hit_rate(ranks, k)
        out[f"NDCG@{k}"] = ndcg(ranks, k)
    out["MRR"] = mrr(ranks)
    return out


def evaluate_ranking(scores: Callable | np.ndarray, users, targets, exclude=None, *,
                     ks: Sequence[int] = (10,), chunk_size: int = 1024) -> dict[str, float]:
    """Full-ranking top-N metrics, computed a chunk of users at a time.

    Args:
        scores: a ``(n_users, n_items)`` score matrix indexed by user id, or a
            function ``score_fn(user_ids) -> (len(user_ids), n_items)`` (so a
            large catalogue never needs the whole matrix at once).
        users: ``(n,)`` user ids to evaluate; ``targets``: ``(n,)`` their target items.
        exclude: boolean ``(n_users, n_items)`` mask (dense or scipy sparse),
            indexed by user id, of items that are not candidates.
        ks: the cut-offs K.
        chunk_size: users scored at a time.

    Returns:
        ``{"HR@K", "NDCG@K" for each K, "MRR"}``.

    Raises:
        TypeError: ``scores`` neither a function nor an array, non-integer
            ``users`` or ``targets``, ``chunk_size`` or a K not an integer.
        ValueError: ``users`` empty, not 1-D or out of range (negative, or
            past the rows of ``scores`` or ``exclude``); ``targets`` of
            another shape or out of range; a score function returning the
            wrong shape; NaN/inf scores; a bad ``exclude``.
    """
    ks = _cutoffs(ks)
    return ranking_metrics(rank_targets(scores, users, targets, exclude, chunk_size=chunk_size), ks)


def rank_targets(scores: Callable | np.ndarray, users, targets, exclude=None, *, chunk_size: int = 1024) -> np.ndarray:
    """Each user's target rank (0 = first place), all non-excluded items ranked, a chunk of users at a time.

    The per-user values that :func:`evaluate_ranking` averages, for
    :func:`per_user` and the bootstrap. Arguments as in :func:`evaluate_ranking`.

    Returns:
        ``(n,)`` int ranks, in the order of ``users``.

    Raises:
        TypeError, ValueError: as :func:`evaluate_ranking`.
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"`chunk_size` must be a positive integer; got {describe(chunk_size)}.")
    users = np.asarray(as_array("users", users))
    targets = np.asarray(as_array("targets", targets))
    check_ndim("users", users, 1, "one user id per target")
    check_same_shape("users", users, "targets", targets)
    check_nonempty("users", users, "user")
    if callable(scores):
        score_fn, n_rows = scores, {}
    else:
        matrix = np.asarray(as_array("scores", scores))
        check_ndim("scores", matrix, 2, "users × items, indexed by user id")
        score_fn, n_rows = (lambda ids: matrix[ids]), {"scores": matrix.shape[0]}
    if exclude is not None:
        n_rows["exclude"] = np.shape(exclude)[0] if np.ndim(exclude) == 2 else None
        if n_rows["exclude"] is None:
            raise ValueError(f"`exclude` must be a 2-D (n_users, n_items) mask indexed by user id; "
                             f"got {describe(exclude)}.")
    if n_rows:
        source = min(n_rows, key=n_rows.get)
        users = check_ids("users", users, n_rows[source], f"rows in `{source}`")
    else:
        users = check_ids("users", users, None, "users")  # dtype and sign; the score function knows the rest
    ranks = []
    for start in range(0, len(users), chunk_size):
        ids = users[start:start + chunk_size]
        chunk = np.asarray(as_array("scores(users)", score_fn(ids)))
        if chunk.ndim != 2 or chunk.shape[0] != len(ids):
            raise ValueError(f"`scores` must give one row of item scores per user: for {len(ids)} user id(s), an "
                             f"array of shape ({len(ids)}, n_items); got {describe(chunk)}.")
        rows = _exclusion_rows(exclude, ids, chunk.shape) if exclude is not None else None
        ranks.append(target_ranks(chunk, targets[start:start + chunk_size], rows))
    return np.concatenate(ranks)


def evaluate_leave_one_out(scores: Callable | np.ndarray, split, stage: str = "test", *,
                           ks: Sequence[int] = (10,), chunk_size: int = 1024) -> Mapping[str, float]:
    """The book's protocol on a :class:`recsys_lite.data.LeaveOneOut` split.

    Ranks every item except those the user interacted with before the
    ``stage`` target (``"valid"`` or ``"test"``). ``scores`` as in
    :func:`evaluate_ranking`.

    Raises:
        TypeError: ``split`` is not a leave-one-out split.
        ValueError: a bad ``stage``, and all that :func:`evaluate_ranking` refuses.
    """
    ks = _cutoffs(ks)
    return ranking_metrics(leave_one_out_ranks(scores, split, stage, chunk_size=chunk_size), ks)


def leave_one_out_ranks(scores: Callable | np.ndarray, split, stage: str = "test", *,
                        chunk_size: int = 1024) -> np.ndarray:
    """Each user's rank of the ``stage`` target under the book's protocol: ``(n_users,)`` ints, users in id order.

    What :func:`evaluate_leave_one_out` averages. Arguments as there.

    Raises:
        TypeError, ValueError: as :func:`evaluate_leave_one_out`.
    """
    if not (callable(getattr(split, "targets", None)) and callable(getattr(split, "exclusions", None))):
        raise TypeError(f"`split` must be a recsys_lite.data.LeaveOneOut (from data.leave_one_out); "
                        f"got {describe(split)}.")
    users, targets = split.targets(stage)
    return rank_targets(scores, users, targets, split.exclusions(stage), chunk_size=chunk_size)


# ----------------------------------------------------------------------------
# Uncertainty: per-user values and the bootstrap


def per_user(ranks, metric: str) -> np.ndarray:
    """Each user's value of ``metric`` (``"HR@K"``, ``"NDCG@K"`` or ``"MRR"``), shape (n,).

    Their mean is the metric: ``per_user(r, "NDCG@10").mean() == ndcg(r, 10)``.

    Raises:
        TypeError, ValueError: bad ``ranks`` (see :func:`hit_rate`), or a
            ``metric`` that is not one of those names with an integer K >= 1.
    """
    ranks = _ranks(ranks)
    name, _, cutoff = str(metric).partition("@") if isinstance(metric, str) else ("", "", "")
    if name == "MRR" and not cutoff:
        return 1.0 / (ranks + 1.0)
    if name in ("HR", "NDCG") and cutoff.isdigit() and int(cutoff) >= 1:
        k = int(cutoff)
        if name == "HR":
            return (ranks < k).astype(np.float64)
        return np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)
    raise ValueError(f"`metric` must be 'HR@K', 'NDCG@K' (K an integer >= 1) or 'MRR'; got {describe(metric)}.")


class Difference(NamedTuple):
    """A difference between two models' statistics and its bootstrap standard error."""

    estimate: float  # statistic(a) − statistic(b) on the data as it is
    se: float        # standard deviation of the difference over the bootstrap resamples

    def direction(self, z: float = 2.0) -> int:
        """+1 if ``estimate`` ≥ z·s.e., −1 if ≤ −z·s.e., else 0 (within noise)."""
        if abs(self.estimate) >= z * self.se and self.estimate != 0:
            return 1 if self.estimate > 0 else -1
        return 0


def _group_sums(name: str, values, groups) -> tuple[np.ndarray, np.ndarray]:
    """Per-group sums of ``values`` and group sizes (each row its own group when ``groups`` is None)."""
    values = np.asarray(as_array(name, values), np.float64)
    check_ndim(name, values, 1, "one value per row")
    check_nonempty(name, values, "value")
    _finite(name, values)
    if groups is None:
        return values, np.ones(len(values))
    groups = np.asarray(as_array("groups", groups))
    check_same_shape(name, values, "groups", groups)
    _, index = np.unique(check_ids("groups", groups, None, "groups"), return_inverse=True)
    return np.bincount(index, values), np.bincount(index).astype(np.float64)


def _resampling_weights(n: int, resamples: int, rng) -> np.ndarray:
    """(resamples, n) counts w_g: how often each of n groups is drawn when n are drawn with replacement."""
    return rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(np.float64)


def _check_bootstrap(sqrt, resamples, seed) -> int:
    check_flag("sqrt", sqrt)
    check_int_in_range("seed", seed, 0)
    resamples = check_size("resamples", resamples)
    if resamples < 2:
        raise ValueError(f"`resamples` must be at least 2 to estimate a spread; got {resamples}.")
    return resamples


def bootstrap_difference(a, b, *, groups=None, paired: bool = True, sqrt: bool = False,
                         resamples: int = 200, seed: int = 0) -> Difference:
    """statistic(a) − statistic(b), with its standard error from resampling users.

    The statistic is the mean of the per-row values (``sqrt=True``: the
    square root of the mean, i.e. RMSE when the rows hold squared errors).
    Each resample draws the groups (users) with replacement: group g drawn
    w_g times weighs its rows w_g times, so the statistic of a resample is
    Σ_g w_g S_g / Σ_g w_g n_g (S_g the sum of group g's values, n_g its rows).

    Args:
        a, b: per-row values, shape (m,) — e.g. :func:`per_user` values, or
            squared errors ``(r̂ − r)²`` of each test rating.
        groups: (m,) integer group (user) ids of the rows; ``None``: each row
            is its own group (one row per user).
        paired: ``True`` when ``a`` and ``b`` are the same rows scored by two
            models (the same users are drawn for both, which removes the users'
            own variation from the difference); ``False`` for two different
            sets of rows (e.g. two groups of users), drawn independently.
        sqrt: compare square roots of the means (RMSE from squared errors).
        resamples: B, the number of bootstrap resamples.
        seed: the seed of the draws (numpy's ``default_rng``).

    Returns:
        :class:`Difference` ``(estimate, se)``.

    Raises:
        TypeError, ValueError: empty, non-numeric or non-finite values; shapes
            that differ when ``paired`` (or ``groups`` of another shape);
            ``groups`` with ``paired=False``; ``resamples`` not an integer >= 2;
            ``seed`` not an integer >= 0.
    """
    check_flag("paired", paired)
    resamples = _check_bootstrap(sqrt, resamples, seed)
    if groups is not None and not paired:
        raise ValueError("`groups` needs `paired=True`: the rows of a and b must belong to the same users.")
    sums_a, sizes_a = _group_sums("a", a, groups)
    sums_b, sizes_b = _group_sums("b", b, groups)
    if paired:
        check_same_shape("a", np.asarray(a), "b", np.asarray(b))
    rng = np.random.default_rng(seed)
    weights_a = _resampling_weights(len(sums_a), resamples, rng)
    weights_b = weights_a if paired else _resampling_weights(len(sums_b), resamples, rng)
    finish = np.sqrt if sqrt else (lambda x: x)
    boot = finish(weights_a @ sums_a / (weights_a @ sizes_a)) - finish(weights_b @ sums_b / (weights_b @ sizes_b))
    estimate = finish(sums_a.sum() / sizes_a.sum()) - finish(sums_b.sum() / sizes_b.sum())
    return Difference(float(estimate), float(np.std(boot)))


def bootstrap_se(values, *, groups=None, sqrt: bool = False, resamples: int = 200, seed: int = 0) -> float:
    """The standard error of one statistic (the mean of ``values``, or its square root) from resampling users.

    Arguments as in :func:`bootstrap_difference`; with the same ``seed`` and
    the same rows, the two draw the same resamples.

    Raises:
        TypeError, ValueError: as :func:`bootstrap_difference`.
    """
    resamples = _check_bootstrap(sqrt, resamples, seed)
    sums, sizes = _group_sums("values", values, groups)
    weights = _resampling_weights(len(sums), resamples, np.random.default_rng(seed))
    boot = weights @ sums / (weights @ sizes)
    return float(np.std(np.sqrt(boot) if sqrt else boot))
