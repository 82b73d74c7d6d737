"""Metrics: hand-worked cases, the properties a protocol needs, and bad input."""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest
import scipy.sparse

from recsys_lite import metrics


def test_rmse_mae_hand_worked():
    pred, target = [3.0, 4.0, 5.0], [1.0, 4.0, 4.0]
    assert metrics.rmse(pred, target) == pytest.approx(math.sqrt((4 + 0 + 1) / 3))
    assert metrics.mae(pred, target) == pytest.approx((2 + 0 + 1) / 3)


def test_rmse_mae_bad_input():
    with pytest.raises(ValueError, match="`pred` and `target` must have the same shape; got \\(2,\\) and \\(3,\\)"):
        metrics.rmse([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="`pred` must be finite"):
        metrics.mae([np.nan], [1.0])
    with pytest.raises(ValueError, match="at least one prediction"):
        metrics.rmse([], [])


def test_ranks_hand_worked():
    scores = np.array([[0.9, 0.1, 0.5, 0.7],    # target 2: items 0 and 3 ahead -> rank 2
                       [0.2, 0.8, 0.8, 0.1],    # target 1: item 2 ties -> counts against -> rank 1
                       [0.9, 0.3, 0.2, 0.1]])   # target 1: item 0 excluded -> rank 0
    exclude = np.zeros_like(scores, bool)
    exclude[2, 0] = True
    ranks = metrics.target_ranks(scores, [2, 1, 1], exclude)
    assert ranks.tolist() == [2, 1, 0]
    # NDCG@3 by hand: 1/log2(4) + 1/log2(3) + 1/log2(2), averaged.
    assert metrics.ndcg(ranks, 3) == pytest.approx((0.5 + 1 / math.log2(3) + 1.0) / 3)
    assert metrics.ndcg(ranks, 2) == pytest.approx((0 + 1 / math.log2(3) + 1.0) / 3)
    assert metrics.hit_rate(ranks, 1) == pytest.approx(1 / 3)
    assert metrics.hit_rate(ranks, 2) == pytest.approx(2 / 3)
    assert metrics.mrr(ranks) == pytest.approx((1 / 3 + 1 / 2 + 1) / 3)


def test_perfect_ranker_scores_one():
    rng = np.random.default_rng(0)
    n_users, n_items = 50, 200
    targets = rng.integers(0, n_items, n_users)
    scores = rng.random((n_users, n_items))
    scores[np.arange(n_users), targets] = 2.0
    out = metrics.evaluate_ranking(scores, np.arange(n_users), targets, ks=(1, 10))
    assert out == {"HR@1": 1.0, "NDCG@1": 1.0, "HR@10": 1.0, "NDCG@10": 1.0, "MRR": 1.0}


def test_constant_scorer_is_no_better_than_random():
    n_users, n_items = 300, 100
    rng = np.random.default_rng(1)
    targets = rng.integers(0, n_items, n_users)
    constant = metrics.evaluate_ranking(np.ones((n_users, n_items)), np.arange(n_users), targets)
    assert constant["HR@10"] == 0.0 and constant["NDCG@10"] == 0.0
    assert constant["MRR"] == pytest.approx(1 / n_items)  # every target is ranked last
    randoms = [metrics.evaluate_ranking(rng.random((n_users, n_items)), np.arange(n_users), targets)
               for _ in range(5)]
    assert np.mean([r["HR@10"] for r in randoms]) == pytest.approx(0.1, abs=0.03)
    assert constant["MRR"] < np.mean([r["MRR"] for r in randoms])


def test_exclusions_shrink_the_candidate_set_and_accept_sparse():
    scores = np.tile(np.arange(10.0)[::-1], (2, 1))  # item 0 best
    targets = np.array([5, 5])
    exclude = np.zeros((2, 10), bool)
    exclude[1, :5] = True  # user 1 has seen items 0..4, so item 5 is their top candidate
    dense = metrics.evaluate_ranking(scores, [0, 1], targets, exclude, ks=(1,))
    sparse = metrics.evaluate_ranking(scores, [0, 1], targets, scipy.sparse.csr_matrix(exclude), ks=(1,))
    assert dense == sparse
    assert metrics.target_ranks(scores, targets, exclude).tolist() == [5, 0]


def test_chunks_and_callables_agree_with_the_whole_matrix():
    rng = np.random.default_rng(2)
    scores = rng.random((37, 25)).astype(np.float32)
    targets = rng.integers(0, 25, 37)
    exclude = rng.random((37, 25)) < 0.2
    exclude[np.arange(37), targets] = False
    users = np.arange(37)
    whole = metrics.evaluate_ranking(scores, users, targets, exclude, ks=(5, 10))
    chunked = metrics.evaluate_ranking(lambda ids: jax.numpy.asarray(scores[ids]), users, targets, exclude,
                                       ks=(5, 10), chunk_size=8)
    assert whole == pytest.approx(chunked)


def test_recall_at_k():
    scores = np.array([[0.9, 0.8, 0.7, 0.6], [0.5, 0.5, 0.1, 0.0]])
    relevant = np.array([[True, False, True, False], [False, True, False, False]])
    # user 0: item 0 rank 0 (hit), item 2 rank 2 (miss at K=2) -> 0.5; user 1: item 1 ties item 0 -> rank 1 -> hit
    assert metrics.recall_at_k(scores, relevant, 2) == pytest.approx((0.5 + 1.0) / 2)
    assert metrics.recall_at_k(scores, relevant, 1) == pytest.approx((0.5 + 0.0) / 2)
    # With one relevant item per user it equals HR@K.
    rng = np.random.default_rng(3)
    s = rng.random((20, 30))
    t = rng.integers(0, 30, 20)
    one_hot = np.eye(30, dtype=bool)[t]
    assert metrics.recall_at_k(s, one_hot, 10) == pytest.approx(metrics.hit_rate(metrics.target_ranks(s, t), 10))


def test_ranking_bad_input():
    with pytest.raises(ValueError, match="`scores` must have 2 dimension"):
        metrics.target_ranks(np.ones(5), [0])
    with pytest.raises(ValueError, match="`targets` holds ids out of range"):
        metrics.target_ranks(np.ones((1, 5)), [5])
    with pytest.raises(ValueError, match="`scores` must be finite"):
        metrics.target_ranks(np.array([[np.nan, 1.0]]), [0])
    with pytest.raises(ValueError, match="marks the target item itself"):
        metrics.target_ranks(np.ones((1, 3)), [1], np.array([[False, True, False]]))
    with pytest.raises(ValueError, match="`targets` must have shape \\(2,\\)"):
        metrics.target_ranks(np.ones((2, 3)), [1])


# ---------------------------------------------------------------- uncertainty


def test_per_user_values_average_to_the_metrics():
    ranks = np.array([0, 3, 9, 10, 250, 1])
    for k in (1, 5, 10):
        assert np.isclose(metrics.per_user(ranks, f"NDCG@{k}").mean(), metrics.ndcg(ranks, k))
        assert np.isclose(metrics.per_user(ranks, f"HR@{k}").mean(), metrics.hit_rate(ranks, k))
    assert np.isclose(metrics.per_user(ranks, "MRR").mean(), metrics.mrr(ranks))
    # hand-worked: rank 0 → 1, rank 3 → 1/log2(5), rank 10 is outside the top 10
    np.testing.assert_allclose(metrics.per_user(ranks, "NDCG@10")[:4], [1.0, 1 / np.log2(5), 1 / np.log2(11), 0.0])


@pytest.mark.parametrize("metric", ["NDCG", "NDCG@0", "HR@x", "MRR@10", "AUC", 10])
def test_per_user_refuses_unknown_metrics(metric):
    with pytest.raises(ValueError, match="`metric` must be"):
        metrics.per_user(np.array([0, 1]), metric)


def test_paired_bootstrap_matches_the_analytic_standard_error_of_a_mean():
    """With one row per user, the bootstrap s.e. of a paired mean difference is ≈ std(d)/√n."""
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.3, 1.0, 2_000), rng.normal(0.0, 1.0, 2_000)
    diff = metrics.bootstrap_difference(a, b, resamples=2_000, seed=2)
    analytic = np.std(a - b) / np.sqrt(len(a))
    assert diff.estimate == pytest.approx(np.mean(a) - np.mean(b))
    assert abs(diff.se / analytic - 1) < 0.06, (diff.se, analytic)
    assert diff.direction() == 1 and metrics.Difference(-diff.estimate, diff.se).direction() == -1
    assert metrics.Difference(0.01, 0.01).direction() == 0


def test_unpaired_bootstrap_adds_the_two_variances():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1.0, 3_000), rng.normal(0, 2.0, 1_000)
    diff = metrics.bootstrap_difference(a, b, paired=False, resamples=2_000, seed=4)
    analytic = np.sqrt(np.var(a) / len(a) + np.var(b) / len(b))
    assert abs(diff.se / analytic - 1) < 0.06, (diff.se, analytic)


def test_grouped_rmse_bootstrap_equals_an_explicit_resampling_of_users():
    """RMSE over ratings, users resampled: the weighted form equals rebuilding each resample's rows."""
    rng = np.random.default_rng(5)
    users = rng.integers(0, 40, 600)
    err_a, err_b = rng.normal(0, 1, 600) ** 2, rng.normal(0, 1.2, 600) ** 2
    diff = metrics.bootstrap_difference(err_a, err_b, groups=users, sqrt=True, resamples=50, seed=6)
    ids = np.unique(users)
    draws = np.random.default_rng(6).multinomial(len(ids), np.full(len(ids), 1 / len(ids)), size=50)
    explicit = []
    for counts in draws:
        rows = np.concatenate([np.repeat(np.flatnonzero(users == u), c) for u, c in zip(ids, counts)])
        explicit.append(np.sqrt(err_a[rows].mean()) - np.sqrt(err_b[rows].mean()))
    assert diff.estimate == pytest.approx(np.sqrt(err_a.mean()) - np.sqrt(err_b.mean()))
    assert diff.se == pytest.approx(np.std(explicit), rel=1e-12)


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(a=[1.0, 2.0], b=[1.0]), ValueError, "`a` and `b` must have the same shape"),
    (dict(a=[], b=[]), ValueError, "`a`"),
    (dict(a=[1.0, np.nan], b=[1.0, 2.0]), ValueError, "`a` must be finite"),
    (dict(a=[1.0, 2.0], b=[1.0, 2.0], resamples=1), ValueError, "`resamples`"),
    (dict(a=[1.0, 2.0], b=[1.0, 2.0], resamples=2.5), TypeError, "`resamples`"),
    (dict(a=[1.0, 2.0], b=[1.0, 2.0], groups=[0.5, 1.0]), TypeError, "`groups`"),
    (dict(a=[1.0, 2.0], b=[1.0, 2.0], groups=[0, 1], paired=False), ValueError, "`groups`"),
    (dict(a=[1.0, 2.0], b=[1.0, 2.0], seed=-1), ValueError, "`seed`"),
    (dict(a=[1.0, 2.0], b=[1.0, 2.0], paired="yes"), TypeError, "`paired`"),
])
def test_bootstrap_difference_refuses_bad_input(kwargs, error, words):
    with pytest.raises(error, match=words):
        metrics.bootstrap_difference(**kwargs)


def test_bootstrap_se_of_one_mean_matches_the_analytic_one_and_the_paired_draws():
    rng = np.random.default_rng(7)
    a = rng.normal(0, 1.0, 2_000)
    se = metrics.bootstrap_se(a, resamples=2_000, seed=8)
    assert abs(se / (np.std(a) / np.sqrt(len(a))) - 1) < 0.06
    # the same seed draws the same users: the s.e. of a − 0 is the s.e. of a
    assert metrics.bootstrap_difference(a, np.zeros_like(a), resamples=50, seed=9).se == pytest.approx(
        metrics.bootstrap_se(a, resamples=50, seed=9), rel=1e-12)
    with pytest.raises(ValueError, match="`values` must be finite"):
        metrics.bootstrap_se([1.0, np.inf])


def test_rank_targets_gives_the_per_user_ranks_that_evaluate_ranking_averages():
    rng = np.random.default_rng(11)
    scores = rng.normal(size=(50, 30))
    users, targets = np.arange(50), rng.integers(0, 30, 50)
    exclude = rng.random((50, 30)) < 0.2
    exclude[users, targets] = False
    ranks = metrics.rank_targets(scores, users, targets, exclude, chunk_size=7)
    np.testing.assert_array_equal(ranks, metrics.target_ranks(scores, targets, exclude))
    assert metrics.ranking_metrics(ranks) == metrics.evaluate_ranking(scores, users, targets, exclude)
    assert metrics.per_user(ranks, "NDCG@10").mean() == pytest.approx(metrics.ndcg(ranks, 10))


# --- the sampled protocol's mask ------------------------------------------------------

class _Split:
    """A hand-made leave-one-out split: 2 users, 6 items (what sampled_exclusions reads of one)."""

    seen = np.array([[1, 1, 0, 0, 0, 0],    # user 0 saw items 0, 1; target 2; unseen others 3, 4, 5
                     [0, 0, 0, 1, 0, 0]], bool)  # user 1 saw item 3; target 5; unseen others 0, 1, 2, 4

    def targets(self, stage):
        return np.array([0, 1]), np.array([2, 5])

    def exclusions(self, stage):
        return self.seen.copy()


def _chapter_sampled_exclusions(split, stage, n_negatives, key):
    """The function chapters 1 and 5 carried, kept here as the reference."""
    seen = split.exclusions(stage)
    users, targets = split.targets(stage)
    noise = np.array(jax.random.uniform(key, seen.shape))
    noise[seen] = np.inf
    noise[users, targets] = np.inf
    keep = np.argsort(noise, axis=1)[:, :n_negatives]
    exclude = np.ones_like(seen)
    np.put_along_axis(exclude, keep, False, axis=1)
    exclude[users, targets] = False
    return exclude


def test_sampled_exclusions_hand_worked():
    split, key = _Split(), jax.random.key(0)
    # Enough negatives for every unseen item: only what the user saw is excluded.
    np.testing.assert_array_equal(metrics.sampled_exclusions(split, "test", 4, key), split.seen)
    # Two negatives: the target plus exactly 2 of the unseen others stay candidates, the rest is excluded.
    mask = metrics.sampled_exclusions(split, "test", 2, key)
    assert mask.shape == (2, 6) and mask.dtype == bool
    assert not mask[0, 2] and not mask[1, 5]                   # the targets are candidates
    assert mask[0, [0, 1]].all() and mask[1, 3]                # seen items never are
    assert (~mask[0, [3, 4, 5]]).sum() == 2 and (~mask[1, [0, 1, 2, 4]]).sum() == 2
    # The candidates are the unseen items with the smallest uniform draws of the key.
    noise = np.asarray(jax.random.uniform(key, (2, 6)))
    assert set(np.flatnonzero(~mask[0])) == {2, *np.array([3, 4, 5])[np.argsort(noise[0, [3, 4, 5]])[:2]]}
    # Ranked against the target and 2 sampled items: a scorer preferring high ids ranks it as counted by hand.
    scores = np.tile(np.arange(6.0), (2, 1))
    ranks = metrics.rank_targets(scores, [0, 1], [2, 5], mask)
    assert ranks[1] == 0 and ranks[0] == int(((np.arange(6) > 2) & ~mask[0]).sum())
    # The chapters' numbers: the same mask as the function the chapters carried (where it was right).
    for n in (1, 2, 3):
        np.testing.assert_array_equal(metrics.sampled_exclusions(split, "test", n, jax.random.key(n)),
                                      _chapter_sampled_exclusions(split, "test", n, jax.random.key(n)))


def test_sampled_exclusions_never_frees_a_seen_item():
    """With more negatives than unseen items, the chapters' copy freed seen items; this one keeps them out."""
    split = _Split()
    assert not _chapter_sampled_exclusions(split, "test", 5, jax.random.key(1))[0, :2].all()  # the old bug
    np.testing.assert_array_equal(metrics.sampled_exclusions(split, "test", 5, jax.random.key(1)), split.seen)


@pytest.mark.parametrize("call, error, words", [
    (lambda: metrics.sampled_exclusions("split", "test", 2, jax.random.key(0)), TypeError, "`split`"),
    (lambda: metrics.sampled_exclusions(_Split(), "test", 0, jax.random.key(0)), ValueError, "`n_negatives`"),
    (lambda: metrics.sampled_exclusions(_Split(), "test", 2.5, jax.random.key(0)), TypeError, "`n_negatives`"),
    (lambda: metrics.sampled_exclusions(_Split(), "test", 2, 0), TypeError, "`key`"),
])
def test_sampled_exclusions_refuses_bad_input(call, error, words):
    with pytest.raises(error, match=words):
        call()
