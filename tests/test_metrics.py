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
