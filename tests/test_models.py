"""Baselines: checked against values computed independently in the test."""

from __future__ import annotations

import jax
import numpy as np
import pandas as pd
import pytest

from recsys_lite import metrics, models


def test_global_mean_rmse_on_u1(ml100k, ml100k_root):
    train, test = ml100k.split("u1")
    model = models.GlobalMean.fit(train, ml100k.n_users, ml100k.n_items)
    ours = metrics.rmse(model.predict(test.user.to_numpy(), test.item.to_numpy()), test.rating)
    # Independently, from the raw files with plain Python.
    folder = ml100k_root / "ml-100k"
    root_train = [int(line.split("\t")[2]) for line in open(folder / "u1.base")]
    root_test = [int(line.split("\t")[2]) for line in open(folder / "u1.test")]
    mu = sum(root_train) / len(root_train)
    expected = (sum((mu - r) ** 2 for r in root_test) / len(root_test)) ** 0.5
    assert ours == pytest.approx(expected, rel=1e-6)


def test_bias_model_solves_its_normal_equations():
    """At convergence each bias is the regularised mean of its residuals (ALS fixed point)."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"user": rng.integers(0, 30, 600), "item": rng.integers(0, 40, 600),
                          "rating": rng.integers(1, 6, 600)})
    model = models.UserItemBias.fit(frame, 30, 40, reg_user=3.0, reg_item=2.0, sweeps=200)
    u, i, r = frame.user.to_numpy(), frame.item.to_numpy(), frame.rating.to_numpy(float)
    bu, bi, mu = np.asarray(model.user_bias, float), np.asarray(model.item_bias, float), float(model.mu)
    resid = r - mu - bu[u] - bi[i]
    # ∂/∂b_u of the objective: -2 Σ_i resid + 2 λ_u b_u = 0
    assert np.allclose(np.bincount(u, resid, 30), 3.0 * bu, atol=1e-4)
    assert np.allclose(np.bincount(i, resid, 40), 2.0 * bi, atol=1e-4)


def test_bias_beats_global_mean_on_u1(ml100k):
    train, test = ml100k.split("u1")
    args = (train, ml100k.n_users, ml100k.n_items)
    pairs = (test.user.to_numpy(), test.item.to_numpy())
    mean_rmse = metrics.rmse(models.GlobalMean.fit(*args).predict(*pairs), test.rating)
    bias_rmse = metrics.rmse(models.UserItemBias.fit(*args).predict(*pairs), test.rating)
    assert bias_rmse < mean_rmse - 0.1


def test_popularity_counts_and_protocol(ml100k_loo):
    loo = ml100k_loo
    pop = models.Popularity.fit(loo.history("test"), loo.n_items)
    expected = np.bincount(loo.history("test").item, minlength=loo.n_items)
    assert np.array_equal(np.asarray(pop.counts), expected)
    pop_metrics = metrics.evaluate_leave_one_out(pop.scores, loo, "test")
    rnd = metrics.evaluate_leave_one_out(models.RandomScores(jax.random.key(0), loo.n_items).scores, loo, "test")
    assert pop_metrics["NDCG@10"] > 4 * rnd["NDCG@10"]
    assert 0.0 < rnd["HR@10"] < 0.03


def test_random_scores_are_keyed_per_user():
    model = models.RandomScores(jax.random.key(0), 7)
    a = np.asarray(model.scores([0, 1, 2]))
    assert np.array_equal(a[1], np.asarray(model.scores([1]))[0])
    assert not np.array_equal(a[0], a[1])
    assert not np.array_equal(a, np.asarray(models.RandomScores(jax.random.key(1), 7).scores([0, 1, 2])))


def test_models_are_pytrees_and_reject_bad_ids():
    frame = pd.DataFrame({"user": [0, 1, 1], "item": [0, 1, 2], "rating": [4, 2, 5]})
    model = models.UserItemBias.fit(frame, 2, 3)
    leaves = jax.tree_util.tree_leaves(model)
    assert len(leaves) == 3  # mu, user_bias, item_bias: sizes are static metadata
    grads = jax.grad(lambda m: m.predict(np.array([0]), np.array([1])).sum())(model)
    assert isinstance(grads, models.UserItemBias)
    with pytest.raises(ValueError, match="`users` holds ids out of range.*there are 2 users"):
        model.predict([2], [0])
    with pytest.raises(ValueError, match="`items` holds ids out of range"):
        model.predict([0], [-1])
    with pytest.raises(ValueError, match="missing \\['rating'\\]"):
        models.GlobalMean.fit(frame.drop(columns="rating"), 2, 3)
