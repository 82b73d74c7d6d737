"""Top-N metrics (implicit feedback): the rank of each user's held-out target among all candidate items.

The model scores every item; the target's rank counts the *other* candidate
items scoring at least as high,

    rank_u = #{ j ≠ t : j not excluded, s_uj ≥ s_ut }      (0 = first place)

so ties count against the model: a constant scorer puts the target behind
every other item, not in front. Excluded items are those the user interacted
with before the target (training items, plus the validation item when
scoring the test item); they are never candidates. Then, averaged over users,

    HR@K = [rank < K]     NDCG@K = [rank < K] / log2(rank + 2)     MRR = 1 / (rank + 1)

With one target per user, Recall@K equals HR@K; :func:`recall_at_k` also
handles several relevant items per user. :func:`per_user` gives each user's
HR@K, NDCG@K or reciprocal rank, for the bootstrap. Bad input raises ``TypeError``
or ``ValueError`` naming the argument (see :mod:`recsys_lite.metrics`); a
Raises section below lists only what is particular to its function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import jax
import numpy as np

from recsys_lite._checks import (
    as_array,
    check_finite,
    check_ids,
    check_key,
    check_ndim,
    check_nonempty,
    check_same_shape,
    check_size,
    describe,
)

__all__ = [
    "target_ranks", "hit_rate", "ndcg", "mrr", "recall_at_k", "ranking_metrics", "evaluate_ranking",
    "rank_targets", "evaluate_leave_one_out", "leave_one_out_ranks", "per_user", "sampled_exclusions",
]


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
        ValueError: ``scores`` not 2-D, empty or not finite; ``targets`` of the wrong shape or
            out of range; ``exclude`` of the wrong shape, not boolean, or excluding a target.
    """
    scores = np.asarray(as_array("scores", scores))
    check_ndim("scores", scores, 2, "users × items")
    n, n_items = scores.shape
    if n == 0:
        raise ValueError(f"`scores` must hold at least one row (one per user); got {describe(scores)}.")
    targets = check_ids("targets", targets, n_items, "items")
    if targets.shape != (n,):
        raise ValueError(f"`targets` must have shape ({n},), one item per row of `scores`; got {targets.shape}.")
    check_finite("scores", scores)
    excluded = _exclusion_rows(exclude, None, (n, n_items))
    rows = np.arange(n)
    leaks = excluded[rows, targets]
    if leaks.any():
        raise ValueError(f"`exclude` marks the target item itself for {int(leaks.sum())} row(s), e.g. row "
                         f"{int(np.flatnonzero(leaks)[0])}: a target must be a candidate (is the split leaking?).")
    ahead = (scores >= scores[rows, targets][:, None]) & ~excluded
    return ahead.sum(axis=1) - 1  # the target itself always satisfies s ≥ s


def hit_rate(ranks, k: int) -> float:
    """HR@K: share of users whose target ranks in the top ``k``; ``ranks`` (n,) ints >= 0, ``k`` an int >= 1."""
    ranks, k = _ranks(ranks), check_size("k", k)
    return float(np.mean(ranks < k))


def ndcg(ranks, k: int) -> float:
    """NDCG@K for one relevant item: mean of [rank < K] / log2(rank + 2); ``ranks`` (n,) ints >= 0."""
    ranks, k = _ranks(ranks), check_size("k", k)
    return float(np.mean(np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)))


def mrr(ranks) -> float:
    """Mean reciprocal rank, mean of 1 / (rank + 1) (no cut-off); ``ranks`` (n,) ints >= 0."""
    return float(np.mean(1.0 / (_ranks(ranks) + 1.0)))


def recall_at_k(scores, relevant, k: int, exclude=None) -> float:
    """Recall@K with several relevant items per user, ties against.

    A relevant item i is retrieved when #{j ≠ i, not excluded, s_uj ≥ s_ui} < K;
    Recall@K is the mean over users (with at least one relevant item) of
    retrieved / |relevant|. ``scores``, ``relevant`` (bool): ``(n, n_items)``.

    Raises:
        TypeError: non-numeric input, ``k`` not an integer.
        ValueError: shapes that differ or are not 2-D, NaN/inf scores, ``relevant``/``exclude`` not
            boolean, ``k`` < 1, no relevant item at all, or an excluded relevant item.
    """
    scores = np.asarray(as_array("scores", scores))
    relevant = np.asarray(as_array("relevant", relevant))
    check_ndim("scores", scores, 2, "users × items")
    check_same_shape("scores", scores, "relevant", relevant)
    relevant, k = _boolean("relevant", relevant), check_size("k", k)
    check_finite("scores", scores)
    excluded = _exclusion_rows(exclude, None, scores.shape)
    if (excluded & relevant).any():
        raise ValueError("`exclude` marks relevant items: a relevant item must be a candidate.")
    recalls = []
    for s, rel, candidate in zip(scores, relevant, ~excluded):
        if rel.any():
            ahead = (s[None, :] >= s[rel][:, None]) & candidate[None, :]
            recalls.append(np.mean(ahead.sum(axis=1) - 1 < k))
    if not recalls:
        raise ValueError("`relevant` must mark at least one item for some user; it is all False.")
    return float(np.mean(recalls))


def _check_split(split) -> None:
    if not (callable(getattr(split, "targets", None)) and callable(getattr(split, "exclusions", None))):
        raise TypeError(f"`split` must be a recsys_lite.data.LeaveOneOut (from data.leave_one_out); "
                        f"got {describe(split)}.")


def _cutoffs(ks) -> list[int]:
    """``ks`` as a list of positive ints, after checking it is a sequence of them."""
    if isinstance(ks, (str, bytes)) or not isinstance(ks, (Sequence, np.ndarray)):
        raise TypeError(f"`ks` must be a sequence of cut-offs K, e.g. (10,) or [5, 10]; got {describe(ks)}.")
    return [check_size(f"ks[{i}]", k) for i, k in enumerate(ks)]


def ranking_metrics(ranks, ks: Sequence[int] = (10,)) -> dict[str, float]:
    """``{"HR@K": …, "NDCG@K": …, …, "MRR": …}`` from target ranks ``(n,)``, for each K in the sequence ``ks``."""
    ranks, out = _ranks(ranks), {}
    for k in _cutoffs(ks):
        out |= {f"HR@{k}": hit_rate(ranks, k), f"NDCG@{k}": ndcg(ranks, k)}
    return out | {"MRR": mrr(ranks)}


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
        ValueError: ``users`` past the rows of ``scores`` or ``exclude``; a score function returning the wrong shape.
    """
    ks = _cutoffs(ks)
    return ranking_metrics(rank_targets(scores, users, targets, exclude, chunk_size=chunk_size), ks)


def rank_targets(scores: Callable | np.ndarray, users, targets, exclude=None, *, chunk_size: int = 1024) -> np.ndarray:
    """Each user's target rank (0 = first place), all non-excluded items ranked, a chunk of users at a time.

    The ``(n,)`` int ranks, in the order of ``users``, that :func:`evaluate_ranking`
    averages (for :func:`per_user` and the bootstrap). Arguments and errors as there.
    """
    check_size("chunk_size", chunk_size)
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
        if np.ndim(exclude) != 2:
            raise ValueError(f"`exclude` must be a 2-D (n_users, n_items) mask indexed by user id; "
                             f"got {describe(exclude)}.")
        n_rows["exclude"] = np.shape(exclude)[0]
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
        excluded = _exclusion_rows(exclude, ids, chunk.shape)
        ranks.append(target_ranks(chunk, targets[start:start + chunk_size], excluded))
    return np.concatenate(ranks)


def evaluate_leave_one_out(scores: Callable | np.ndarray, split, stage: str = "test", *,
                           ks: Sequence[int] = (10,), chunk_size: int = 1024) -> Mapping[str, float]:
    """The book's protocol on a :class:`recsys_lite.data.LeaveOneOut` split.

    Ranks every item except those the user interacted with before the
    ``stage`` target (``"valid"`` or ``"test"``). ``scores`` as in
    :func:`evaluate_ranking`.

    Raises:
        TypeError, ValueError: ``split`` not a leave-one-out split, a bad ``stage``; as :func:`evaluate_ranking`.
    """
    ks = _cutoffs(ks)
    return ranking_metrics(leave_one_out_ranks(scores, split, stage, chunk_size=chunk_size), ks)


def leave_one_out_ranks(scores: Callable | np.ndarray, split, stage: str = "test", *,
                        chunk_size: int = 1024) -> np.ndarray:
    """Each user's rank of the ``stage`` target under the book's protocol: ``(n_users,)`` ints, users in id order.

    What :func:`evaluate_leave_one_out` averages. Arguments and errors as there.
    """
    _check_split(split)
    users, targets = split.targets(stage)
    return rank_targets(scores, users, targets, split.exclusions(stage), chunk_size=chunk_size)


def per_user(ranks, metric: str) -> np.ndarray:
    """Each user's value of ``metric`` (``"HR@K"``, ``"NDCG@K"`` or ``"MRR"``), shape (n,).

    Their mean is the metric: ``per_user(r, "NDCG@10").mean() == ndcg(r, 10)``.

    Raises:
        ValueError: a ``metric`` that is not one of those names with an integer K >= 1.
    """
    ranks = _ranks(ranks)
    name, _, cutoff = metric.partition("@") if isinstance(metric, str) else ("", "", "")
    k = int(cutoff) if name in ("HR", "NDCG") and cutoff.isdigit() else 0
    if name == "MRR" and not cutoff:
        return 1.0 / (ranks + 1.0)
    if name == "HR" and k >= 1:
        return (ranks < k).astype(np.float64)
    if name == "NDCG" and k >= 1:
        return np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)
    raise ValueError(f"`metric` must be 'HR@K', 'NDCG@K' (K an integer >= 1) or 'MRR'; got {describe(metric)}.")


def sampled_exclusions(split, stage: str, n_negatives: int, key) -> np.ndarray:
    """The *sampled* protocol's mask: exclude every item except the target and ``n_negatives`` random unseen ones.

    Many papers rank each target against 100 sampled items instead of the
    whole catalogue; pass this mask as ``exclude`` to :func:`evaluate_ranking`
    to measure that way (chapters 1 and 5 show how it inflates the numbers).
    For each user, the unseen items other than the target are ordered by a
    uniform draw from ``key`` and the first ``n_negatives`` stay candidates
    (all of them when the user has fewer).

    Args:
        split: a :class:`recsys_lite.data.LeaveOneOut` split.
        stage: ``"valid"`` or ``"test"``: whose targets and history count.
        n_negatives: the number of sampled candidates per user besides the target.
        key: the PRNG key of the draw.

    Returns:
        ``(n_users, n_items)`` boolean mask indexed by user id: True = not a candidate.
    """
    _check_split(split)
    n_negatives = check_size("n_negatives", n_negatives)
    check_key("key", key)
    seen = split.exclusions(stage)
    seen = np.asarray(seen.toarray() if hasattr(seen, "toarray") else seen, bool)
    users, targets = split.targets(stage)
    noise = np.array(jax.random.uniform(key, seen.shape))
    noise[seen] = np.inf  # seen items and the target come last: never sampled
    noise[users, targets] = np.inf
    keep = np.argsort(noise, axis=1)[:, :n_negatives]
    exclude = np.ones_like(seen)
    np.put_along_axis(exclude, keep, np.isinf(np.take_along_axis(noise, keep, axis=1)), axis=1)
    exclude[users, targets] = False
    return exclude
