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

Every function accepts numpy or JAX arrays and returns Python floats (or a
numpy array of ranks); scores are compared in their own dtype.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np

from recsys_lite._checks import check_ids, check_ndim, check_same_shape, describe

__all__ = [
    "rmse", "mae", "target_ranks", "hit_rate", "ndcg", "mrr", "recall_at_k",
    "ranking_metrics", "evaluate_ranking", "evaluate_leave_one_out",
]


def _finite(name: str, values: np.ndarray) -> None:
    if not np.all(np.isfinite(values)):
        bad = int(np.size(values) - np.count_nonzero(np.isfinite(values)))
        raise ValueError(f"`{name}` must be finite; it holds {bad} NaN or infinite value(s).")


def rmse(pred, target) -> float:
    """Root mean squared error, sqrt(1/m Σ (r̂ − r)²); ``pred``, ``target``: shape (m,)."""
    pred, target = np.asarray(pred, np.float64), np.asarray(target, np.float64)
    check_same_shape("pred", pred, "target", target)
    _finite("pred", pred)
    if pred.size == 0:
        raise ValueError("`pred` must hold at least one prediction; got an empty array.")
    return float(np.sqrt(np.mean((pred - target) ** 2)))


def mae(pred, target) -> float:
    """Mean absolute error, 1/m Σ |r̂ − r|; ``pred``, ``target``: shape (m,)."""
    pred, target = np.asarray(pred, np.float64), np.asarray(target, np.float64)
    check_same_shape("pred", pred, "target", target)
    _finite("pred", pred)
    if pred.size == 0:
        raise ValueError("`pred` must hold at least one prediction; got an empty array.")
    return float(np.mean(np.abs(pred - target)))


def _exclusion_rows(exclude, rows: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """Dense boolean rows of ``exclude`` (dense array or scipy sparse), or all False."""
    if exclude is None:
        return np.zeros(shape, bool)
    picked = exclude if rows is None else exclude[rows]
    if hasattr(picked, "toarray"):  # scipy.sparse
        picked = picked.toarray()
    picked = np.asarray(picked, bool)
    if picked.shape != shape:
        raise ValueError(f"`exclude` rows must have shape {shape} to match `scores`; got {picked.shape}.")
    return picked


def target_ranks(scores, targets, exclude=None) -> np.ndarray:
    """0-based rank of each user's target among the candidate items, ties against.

    Args:
        scores: ``(n, n_items)`` scores s_uj, one row per user.
        targets: ``(n,)`` target item id t of each row.
        exclude: optional boolean ``(n, n_items)`` mask (or scipy sparse matrix)
            of items that are not candidates. It must not exclude the target.

    Returns:
        ``(n,)`` int array: rank_u = #{j ≠ t, not excluded, s_uj ≥ s_ut}.
    """
    scores = np.asarray(scores)
    check_ndim("scores", scores, 2, "users × items")
    n, n_items = scores.shape
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
    """HR@K: share of users whose target ranks in the top ``k``."""
    ranks = np.asarray(ranks)
    return float(np.mean(ranks < k))


def ndcg(ranks, k: int) -> float:
    """NDCG@K for one relevant item: mean of [rank < K] / log2(rank + 2)."""
    ranks = np.asarray(ranks)
    return float(np.mean(np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)))


def mrr(ranks) -> float:
    """Mean reciprocal rank, mean of 1 / (rank + 1) (no cut-off)."""
    return float(np.mean(1.0 / (np.asarray(ranks) + 1.0)))


def recall_at_k(scores, relevant, k: int, exclude=None) -> float:
    """Recall@K with several relevant items per user, ties against.

    A relevant item i is retrieved when #{j ≠ i, not excluded, s_uj ≥ s_ui} < K;
    Recall@K is the mean over users (with at least one relevant item) of
    retrieved / |relevant|. ``scores``, ``relevant`` (bool): ``(n, n_items)``.
    """
    scores = np.asarray(scores)
    relevant = np.asarray(relevant, bool)
    check_ndim("scores", scores, 2, "users × items")
    check_same_shape("scores", scores, "relevant", relevant)
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


def ranking_metrics(ranks, ks: Sequence[int] = (10,)) -> dict[str, float]:
    """``{"HR@K": …, "NDCG@K": …, …, "MRR": …}`` from target ranks."""
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
    """
    users = np.asarray(users)
    targets = np.asarray(targets)
    check_same_shape("users", users, "targets", targets)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"`chunk_size` must be a positive integer; got {describe(chunk_size)}.")
    score_fn = scores if callable(scores) else (lambda ids: np.asarray(scores)[ids])
    ranks = []
    for start in range(0, len(users), chunk_size):
        ids = users[start:start + chunk_size]
        chunk = np.asarray(score_fn(ids))
        rows = _exclusion_rows(exclude, ids, chunk.shape) if exclude is not None else None
        ranks.append(target_ranks(chunk, targets[start:start + chunk_size], rows))
    return ranking_metrics(np.concatenate(ranks) if ranks else np.zeros(0, int), ks)


def evaluate_leave_one_out(scores: Callable | np.ndarray, split, stage: str = "test", *,
                           ks: Sequence[int] = (10,), chunk_size: int = 1024) -> Mapping[str, float]:
    """The book's protocol on a :class:`recsys_lite.data.LeaveOneOut` split.

    Ranks every item except those the user interacted with before the
    ``stage`` target (``"valid"`` or ``"test"``). ``scores`` as in
    :func:`evaluate_ranking`.
    """
    users, targets = split.targets(stage)
    return evaluate_ranking(scores, users, targets, split.exclusions(stage), ks=ks, chunk_size=chunk_size)
