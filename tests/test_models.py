"""Baselines: checked against values computed independently in the test."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from recsys_lite import metrics, models


def test_global_mean_rmse_on_u1(ml100k, ml100k_root):
    train, test = ml100k.split("u1")
    model = models.GlobalMean.fit(train, ml100k.n_users, ml100k.n_items)
    ours = metrics.rmse(model.predict({"user": test.user.to_numpy(), "item": test.item.to_numpy()}), test.rating)
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
    pairs = {"user": test.user.to_numpy(), "item": test.item.to_numpy()}
    mean_rmse = metrics.rmse(models.GlobalMean.fit(*args).predict(pairs), test.rating)
    bias_rmse = metrics.rmse(models.UserItemBias.fit(*args).predict(pairs), test.rating)
    assert bias_rmse < mean_rmse - 0.1


def test_popularity_counts_and_protocol(ml100k_loo):
    loo = ml100k_loo
    pop = models.Popularity.fit(loo.history("test"), loo.n_items)
    expected = np.bincount(loo.history("test").item, minlength=loo.n_items)
    assert np.array_equal(np.asarray(pop.counts), expected)
    pop_metrics = metrics.evaluate_leave_one_out(lambda u: pop.scores({"user": u}), loo, "test")
    rnd_model = models.RandomScores(jax.random.key(0), loo.n_items)
    rnd = metrics.evaluate_leave_one_out(lambda u: rnd_model.scores({"user": u}), loo, "test")
    assert pop_metrics["NDCG@10"] > 4 * rnd["NDCG@10"]
    assert 0.0 < rnd["HR@10"] < 0.03


def test_random_scores_are_keyed_per_user():
    model = models.RandomScores(jax.random.key(0), 7)
    a = np.asarray(model.scores({"user": [0, 1, 2]}))
    assert np.array_equal(a[1], np.asarray(model.scores({"user": [1]}))[0])
    assert not np.array_equal(a[0], a[1])
    assert not np.array_equal(a, np.asarray(models.RandomScores(jax.random.key(1), 7).scores({"user": [0, 1, 2]})))


def test_models_are_pytrees_and_reject_bad_ids():
    frame = pd.DataFrame({"user": [0, 1, 1], "item": [0, 1, 2], "rating": [4, 2, 5]})
    model = models.UserItemBias.fit(frame, 2, 3)
    leaves = jax.tree_util.tree_leaves(model)
    assert len(leaves) == 3  # mu, user_bias, item_bias: sizes are static metadata
    grads = jax.grad(lambda m: m.predict({"user": np.array([0]), "item": np.array([1])}).sum())(model)
    assert isinstance(grads, models.UserItemBias)
    with pytest.raises(ValueError, match=r"`batch\['user'\]` holds ids out of range.*there are 2 users"):
        model.predict({"user": [2], "item": [0]})
    with pytest.raises(ValueError, match=r"`batch\['item'\]` holds ids out of range"):
        model.predict({"user": [0], "item": [-1]})
    with pytest.raises(ValueError, match="lacks the column\\(s\\) \\['rating'\\]"):
        models.GlobalMean.fit(frame.drop(columns="rating"), 2, 3)


def test_baselines_are_jittable_and_follow_the_protocol():
    """predict/scores under jax.jit equal their eager values; a batch's extra keys are ignored."""
    frame = pd.DataFrame({"user": [0, 1, 1, 2], "item": [0, 1, 2, 2], "rating": [4.0, 2.0, 5.0, 3.0]})
    batch = {"user": jnp.array([0, 2, 1]), "item": jnp.array([2, 0, 1]), "rating": jnp.ones(3),
             "history": jnp.zeros((3, 2), jnp.int32)}
    mean, bias = models.GlobalMean.fit(frame, 3, 3), models.UserItemBias.fit(frame, 3, 3)
    rankers = [bias, models.Popularity.fit(frame, 3), models.RandomScores(jax.random.key(0), 3)]
    predict = jax.jit(lambda m, b: m.predict(b))
    scores = jax.jit(lambda m, b: m.scores(b))
    for model in (mean, bias):
        assert np.array_equal(predict(model, batch), model.predict(batch))
    for model in rankers:
        assert np.array_equal(scores(model, batch), model.scores(batch))
        assert scores(model, batch).shape == (3, 3)
        # score(batch) is scores' entry (user, item) of each pair, under jit too
        entries = np.asarray(model.scores(batch))[np.arange(3), [2, 0, 1]]
        assert np.array_equal(jax.jit(lambda m, b: m.score(b))(model, batch), entries)
    by_hand = float(bias.mu) + np.asarray(bias.user_bias)[[0, 2, 1]] + np.asarray(bias.item_bias)[[2, 0, 1]]
    assert np.allclose(bias.score(batch), by_hand)
    assert np.allclose(bias.scores(batch)[np.arange(3), [2, 0, 1]], by_hand)
    assert np.allclose(mean.score(batch), frame.rating.mean())
    with pytest.raises(TypeError, match=r"`batch\['user'\]`"):
        predict(bias, dict(batch, user=batch["user"] * 1.0))


# ---------------------------------------------------------------- learned models

def _pairs(n=64, n_users=7, n_items=11, seed=0):
    rng = np.random.default_rng(seed)
    return {"user": rng.integers(0, n_users, n).astype(np.int32), "item": rng.integers(0, n_items, n).astype(np.int32),
            "rating": rng.integers(1, 6, n).astype(np.float32)}


def test_biased_mf_matches_its_formula_in_numpy():
    model = models.BiasedMF.init(jax.random.key(0), 7, 11, 4, mu=3.5)
    model = jax.tree_util.tree_map(lambda x: x + 0.1, model)  # make the biases non-zero
    batch = _pairs()
    u, i = batch["user"], batch["item"]
    P, Q = np.asarray(model.user_embedding.table, np.float64), np.asarray(model.item_embedding.table, np.float64)
    expected = 3.6 + np.asarray(model.user_bias)[u] + np.asarray(model.item_bias)[i] + np.sum(P[u] * Q[i], axis=1)
    assert np.allclose(model.score(batch), expected, atol=1e-5)
    assert np.allclose(jax.jit(lambda m, b: m.score(b))(model, batch), expected, atol=1e-5)
    scores = np.asarray(model.scores({"user": np.array([2, 5])}))
    assert scores.shape == (2, 11)
    assert np.allclose(scores, np.asarray(model.item_bias)[None] + P[[2, 5]] @ Q.T, atol=1e-5)
    assert np.array_equal(model.predict(batch), np.clip(model.score(batch), 1, 5))
    assert np.all((model.predict(batch) >= 1) & (model.predict(batch) <= 5))


def test_rating_loss_gradient_matches_finite_differences():
    from jax.test_util import check_grads

    model = models.BiasedMF.init(jax.random.key(1), 7, 11, 3, mu=3.0)
    batch = {k: jnp.asarray(v) for k, v in _pairs().items()}
    with jax.enable_x64():
        model64 = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float64), model)
        batch64 = dict(batch, rating=batch["rating"].astype(jnp.float64))
        check_grads(lambda m: models.rating_loss(m, batch64, reg=0.1), (model64,), order=1, modes=["rev"])


def test_rating_loss_scatters_one_gradient_into_each_table():
    """The prediction and the penalty read the same looked-up rows, so the backward pass of a step
    scatter-adds once into each of P, Q, b_u and b_i (reading them twice compiled to two scatters and two
    zero-filled copies of each table: the extra per-step cost against Flax found in issue 17)."""
    import re

    model = models.BiasedMF.init(jax.random.key(1), 7, 11, 3, mu=3.0)
    batch = {k: jnp.asarray(v) for k, v in _pairs().items()}
    hlo = jax.jit(jax.grad(lambda m, b: models.rating_loss(m, b, reg=0.1))).lower(model, batch).compile().as_text()
    ops = re.findall(r"= \S+ (gather|scatter|copy)\(", hlo)
    assert ops.count("scatter") == 4 and ops.count("gather") == 4, ops
    assert ops.count("copy") == 0, ops


def _als_sweep_numpy(model, batch, reg):
    """One ALS sweep written independently: each id's ridge problem solved by numpy's least squares,
    min_w ‖X w − y‖² + λ n ‖w‖² as the stacked system [X; √(λ n) I] w ≈ [y; 0]."""
    P, Q = np.asarray(model.user_embedding.table, np.float64), np.asarray(model.item_embedding.table, np.float64)
    b_u, b_i = np.asarray(model.user_bias, np.float64), np.asarray(model.item_bias, np.float64)
    mu, u, i, r = float(model.mu), batch["user"], batch["item"], batch["rating"].astype(np.float64)

    def side(ids, other_ids, rows, bias, other_rows, other_bias):
        rows, bias = rows.copy(), bias.copy()
        for a in np.unique(ids):
            sel = ids == a
            X = np.hstack([other_rows[other_ids[sel]], np.ones((sel.sum(), 1))])
            y = r[sel] - mu - other_bias[other_ids[sel]]
            k = X.shape[1]
            A = np.vstack([X, np.sqrt(reg * sel.sum()) * np.eye(k)])
            w = np.linalg.lstsq(A, np.concatenate([y, np.zeros(k)]), rcond=None)[0]
            rows[a], bias[a] = w[:-1], w[-1]
        return rows, bias

    P, b_u = side(u, i, P, b_u, Q, b_i)
    Q, b_i = side(i, u, Q, b_i, P, b_u)
    return P, Q, b_u, b_i


def test_als_sweep_matches_least_squares_in_numpy():
    model = models.BiasedMF.init(jax.random.key(2), 7, 11, 3, mu=3.2)
    batch = _pairs(n=60)
    batch["user"][batch["user"] == 6] = 5                 # user 6 has no ratings: its row must not move
    batch["user"][:2], batch["item"][:2] = 1, 4           # a pair rated twice counts twice
    new = models.als_sweep(model, batch, reg=0.3)
    P, Q, b_u, b_i = _als_sweep_numpy(model, batch, 0.3)
    for ours, expected in [(new.user_embedding.table, P), (new.item_embedding.table, Q), (new.user_bias, b_u),
                           (new.item_bias, b_i)]:
        assert np.allclose(ours, expected, rtol=1e-4, atol=1e-5)
    assert np.array_equal(new.user_embedding.table[6], model.user_embedding.table[6])
    jitted = jax.jit(functools.partial(models.als_sweep, reg=0.3))(model, batch)
    assert np.allclose(jitted.user_embedding.table, P, rtol=1e-4, atol=1e-5)


def test_als_sweep_never_increases_the_rating_loss():
    model = models.BiasedMF.init(jax.random.key(3), 7, 11, 4, mu=3.0)
    batch = _pairs(n=200, seed=1)
    losses = [float(models.rating_loss(model, batch, reg=0.1))]
    for _ in range(4):
        model = models.als_sweep(model, batch, reg=0.1)
        losses.append(float(models.rating_loss(model, batch, reg=0.1)))
    assert all(b <= a + 1e-6 for a, b in zip(losses, losses[1:])), losses
    # The items' half-step comes last and solves for their minimum: there the loss's gradient with respect
    # to the items' rows and biases is zero (jax.grad, independent of the normal equations).
    grads = jax.grad(lambda m: models.rating_loss(m, batch, reg=0.1))(model)
    assert np.abs(np.asarray(grads.item_embedding.table)).max() < 1e-5
    assert np.abs(np.asarray(grads.item_bias)).max() < 1e-5


def test_als_sweep_rejects_bad_input():
    model = models.BiasedMF.init(jax.random.key(0), 7, 11, 3)
    with pytest.raises(ValueError, match="reg"):
        models.als_sweep(model, _pairs(), reg=0.0)
    with pytest.raises(TypeError, match="BiasedMF"):
        models.als_sweep({"not": "a model"}, _pairs(), reg=0.1)
    with pytest.raises(ValueError, match="rating"):
        models.als_sweep(model, {"user": _pairs()["user"], "item": _pairs()["item"]}, reg=0.1)


def test_losses_are_finite_and_differentiable_for_every_model():
    key = jax.random.key(0)
    batch = {k: jnp.asarray(v) for k, v in _pairs().items()}
    mf = models.BiasedMF.init(key, 7, 11, 4)
    neumf = models.NeuMF.init(key, 7, 11, gmf_dim=4, mlp_dim=4, hidden=(8, 4))
    cases = [(mf, lambda m: models.rating_loss(m, batch, reg=0.1)),
             (mf, lambda m: models.bpr_loss(m, batch, key, reg=0.1)),
             (mf, lambda m: models.softmax_loss(m, batch, reg=0.1)),
             (neumf, lambda m: models.bce_loss(m, batch, key, n_negatives=3, reg=1e-3))]
    for model, loss in cases:
        value, grads = jax.jit(jax.value_and_grad(loss))(model)
        assert np.isfinite(float(value))
        assert type(grads) is type(model)
        assert all(np.isfinite(np.asarray(g)).all() for g in jax.tree_util.tree_leaves(grads))


@pytest.mark.parametrize("hidden", [(6, 2), (4,)])
def test_neumf_scores_agree_with_pairwise_logits(hidden):
    """scores splits the tower's first layer (user half + item half); score multiplies the concatenation."""
    model = models.NeuMF.init(jax.random.key(3), 5, 9, gmf_dim=4, mlp_dim=3, hidden=hidden)
    users = np.array([0, 3, 4])
    all_scores = np.asarray(model.scores({"user": users}))
    assert all_scores.shape == (3, 9)
    pairwise = np.asarray(model.score({"user": np.repeat(users, 9), "item": np.tile(np.arange(9), 3)})).reshape(3, 9)
    assert np.abs(all_scores - pairwise).max() <= 1e-6 * np.abs(pairwise).max()


def test_content_model_shapes_and_clipping():
    model = models.ContentModel.init(jax.random.key(0), 3, 5, hidden=(8,), mu=3.5)
    batch = {"user_x": np.ones((4, 3), np.float32) * 100, "item_x": np.ones((4, 5), np.float32), "user": np.arange(4)}
    out = model.predict(batch)
    assert out.shape == (4,) and np.all((out >= 1) & (out <= 5))
    (W1, b1), (W2, b2) = [(np.asarray(d.weight, float), np.asarray(d.bias, float)) for d in model.mlp.layers]
    x = np.concatenate([batch["user_x"], batch["item_x"]], axis=1) / 100   # r̂ = μ + relu(x W1 + b1) W2 + b2
    by_hand = 3.5 + (np.maximum(x @ W1 + b1, 0) @ W2 + b2)[:, 0]
    assert np.allclose(model.score({"user_x": batch["user_x"] / 100, "item_x": batch["item_x"] / 100}), by_hand,
                       atol=1e-5)
    with pytest.raises(ValueError, match=r"`batch\['user_x'\]` and `batch\['item_x'\]` must have d_u \+ d_i = 8"):
        model.score({"user_x": np.ones((4, 2)), "item_x": np.ones((4, 5))})


def test_learned_models_reject_ids_out_of_range():
    mf = models.BiasedMF.init(jax.random.key(0), 7, 11, 4)
    with pytest.raises(ValueError, match=r"`batch\['user'\]` holds ids out of range.*0 <= id < 7"):
        mf.score({"user": np.array([7]), "item": np.array([0])})
    neumf = models.NeuMF.init(jax.random.key(0), 7, 11, gmf_dim=2, mlp_dim=2, hidden=(4,))
    with pytest.raises(ValueError, match=r"`batch\['item'\]` holds ids out of range.*0 <= id < 11"):
        neumf.score({"user": np.array([0]), "item": np.array([11])})


def test_mf_learns_synthetic_structure():
    """Trained with fit on the synthetic data's u1, MF beats the bias baseline on ratings it never saw."""
    import functools

    from recsys_lite import optim, synthetic, train

    ds = synthetic.movielens_like(0)
    tr, te = ds.split("u1")
    arrays = {"user": tr.user.to_numpy(np.int32), "item": tr.item.to_numpy(np.int32),
              "rating": tr.rating.to_numpy(np.float32)}
    model = models.BiasedMF.init(jax.random.key(0), ds.n_users, ds.n_items, 8, mu=float(tr.rating.mean()))
    model, _ = train.fit(model, functools.partial(models.rating_loss, reg=0.1), arrays, optim.adam(0.005),
                         key=jax.random.key(1), epochs=8, batch_size=512, progress=False)
    pairs = {"user": te.user.to_numpy(), "item": te.item.to_numpy()}
    mf_rmse = metrics.rmse(model.predict(pairs), te.rating)
    bias_rmse = metrics.rmse(models.UserItemBias.fit(tr, ds.n_users, ds.n_items).predict(pairs), te.rating)
    assert mf_rmse < bias_rmse - 0.01


def test_user_item_bias_without_shrinkage_gives_unrated_ids_zero_bias():
    """λ = 0 is allowed: an item nobody rated gets b_i = 0 (not 0/0), so its prediction is μ + b_u."""
    ratings = pd.DataFrame({"user": [0, 1, 0], "item": [0, 1, 1], "rating": [4.0, 3.0, 5.0]})
    model = models.UserItemBias.fit(ratings, 2, 3, reg_item=0.0, reg_user=0.0)
    assert float(model.item_bias[2]) == 0.0 and np.isfinite(np.asarray(model.item_bias)).all()


def test_regularised_losses_accept_a_traced_penalty():
    """reg may be traced (jit or vmap over λ): the penalty is then always added, as for a concrete λ > 0."""
    neumf = models.NeuMF.init(jax.random.key(0), 4, 6)
    batch = {"user": jnp.array([0, 1]), "item": jnp.array([1, 2])}
    eager = models.bce_loss(neumf, batch, jax.random.key(1), reg=0.1)
    traced = jax.jit(lambda reg: models.bce_loss(neumf, batch, jax.random.key(1), reg=reg))(0.1)
    np.testing.assert_allclose(traced, eager, rtol=1e-6)
