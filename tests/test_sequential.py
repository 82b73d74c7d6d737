"""Caser and GRU4Rec: shapes, padding, the loss, and learning a sequential pattern."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from recsys_lite import data, losses, metrics, models, nn, optim, train

N_USERS, N_ITEMS = 6, 10
PAD = N_ITEMS


def test_caser_shapes_and_padding_is_inert():
    model = models.Caser.init(jax.random.key(0), N_USERS, N_ITEMS, dim=8, window=4, n_horizontal=3, n_vertical=2)
    batch = {"user": jnp.array([0, 1]), "history": jnp.array([[1, 2, PAD, PAD], [3, 4, 5, 6]])}  # left-aligned
    scores = model.scores(batch)
    assert scores.shape == (2, N_ITEMS)
    # The padding row's embedding must not matter: change it and nothing moves.
    table = model.history_embedding.table.at[PAD].set(100.0)
    other = dataclasses.replace(model, history_embedding=nn.Embedding(table))
    assert np.allclose(other.scores(batch), scores)
    # Dropout only with a key.
    assert np.allclose(model.scores(batch), scores)
    noisy = model.scores(batch, key=jax.random.key(1))
    assert not np.allclose(noisy, scores)


def test_score_is_the_pair_entry_of_scores_and_jits():
    """The protocol: score(batch)[b] = scores(batch)[b, item_b], for both sequence models, under jit too."""
    caser = models.Caser.init(jax.random.key(0), N_USERS, N_ITEMS, dim=8, window=4, n_horizontal=3, n_vertical=2)
    gru = models.GRU4Rec.init(jax.random.key(1), N_ITEMS, dim=8, hidden=12)
    batch = {"user": jnp.array([0, 1, 2]), "item": jnp.array([9, 0, 4]), "length": jnp.array([2, 4, 1]),
             "history": jnp.array([[1, 2, PAD, PAD], [3, 4, 5, 6], [7, PAD, PAD, PAD]])}
    for model in (caser, gru):
        expected = model.scores(batch)[jnp.arange(3), batch["item"]]
        np.testing.assert_allclose(model.score(batch), expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(jax.jit(lambda m, b: m.score(b))(model, batch), expected, rtol=1e-5, atol=1e-6)


def test_gru4rec_scores_come_from_the_last_real_step():
    model = models.GRU4Rec.init(jax.random.key(0), N_ITEMS, dim=8, hidden=12)
    seq = jnp.array([[1, 2, 3, PAD, PAD], [4, 5, 6, 7, 8]])
    lengths = jnp.array([3, 5])
    scores = model.scores({"history": seq, "length": lengths})
    alone = model.scores({"history": seq[:1, :3], "length": lengths[:1]})
    assert scores.shape == (2, N_ITEMS)
    assert np.allclose(scores[0], alone[0], atol=1e-5)


def test_gru4rec_loss_equals_the_mean_over_real_next_item_predictions():
    model = models.GRU4Rec.init(jax.random.key(1), N_ITEMS, dim=8, hidden=12, dropout=0.0)
    seq = jnp.array([[1, 2, 3, PAD, PAD], [4, 5, 6, 7, 8]])
    lengths = jnp.array([3, 5])
    ours = models.gru4rec_loss(model, {"history": seq, "length": lengths}, None)
    # By hand: every prefix of every sequence predicts the item after it.
    terms = []
    for row, n in enumerate([3, 5]):
        for t in range(1, n):
            logits = model.scores({"history": seq[row:row + 1, :t], "length": jnp.array([t])})
            terms.append(losses.softmax_cross_entropy(logits, seq[row:row + 1, t]))
    assert np.allclose(ours, np.mean(terms), rtol=1e-5)


def test_caser_loss_is_finite_and_differentiable():
    model = models.Caser.init(jax.random.key(0), N_USERS, N_ITEMS, dim=8, window=3, n_horizontal=2, n_vertical=2)
    batch = {"user": jnp.array([0, 1, 2]), "history": jnp.array([[1, 2, PAD], [3, 4, 5], [9, PAD, PAD]]),
             "item": jnp.array([3, 6, 0])}
    value, grads = jax.jit(jax.value_and_grad(models.caser_loss))(model, batch, jax.random.key(2))
    assert np.isfinite(float(value)) and isinstance(grads, models.Caser)


def test_sequential_models_learn_a_deterministic_successor_rule():
    """Each user walks the catalogue i → i+1: a sequence model must learn it, popularity cannot."""
    rng = np.random.default_rng(0)
    n_users, n_items = 60, 50
    rows = []
    for u in range(n_users):
        start = rng.integers(0, n_items)
        for t in range(12):
            rows.append((u, (start + t) % n_items, 5, t))
    import pandas as pd

    ratings = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    split = data.leave_one_out(ratings, n_users, n_items)
    seqs, lens = data.user_sequences(split.train, n_users, n_items)
    model, _ = train.fit(models.GRU4Rec.init(jax.random.key(0), n_items, dim=16, hidden=32, dropout=0.0),
                         models.gru4rec_loss, {"history": seqs, "length": lens}, optim.adam(0.01),
                         key=jax.random.key(1), epochs=40, batch_size=20, progress=False)
    hist, hist_len = data.user_sequences(split.history("test"), n_users, n_items)
    gru = metrics.evaluate_leave_one_out(lambda u: model.scores({"history": hist[u], "length": hist_len[u]}), split,
                                         "test")
    popularity = models.Popularity.fit(split.history("test"), n_items)
    pop = metrics.evaluate_leave_one_out(lambda u: popularity.scores({"user": u}), split, "test")
    assert gru["HR@10"] > 0.9, gru
    assert pop["HR@10"] < 0.5, pop


def test_models_take_raw_keys_and_check_score_rows():
    """Legacy uint32 keys work as typed ones do; `score` refuses an item column of another length."""
    raw, typed = jax.random.PRNGKey(3), jax.random.key(3)
    for key in (raw, typed):
        caser = models.Caser.init(key, N_USERS, N_ITEMS, dim=4, window=3, n_horizontal=2, n_vertical=1)
        models.Hybrid.init(key, N_USERS, N_ITEMS, 3, 2, dim=4, window=3, n_horizontal=2, hidden=4)
    gru = models.GRU4Rec.init(typed, N_ITEMS, dim=4, hidden=5)
    history = jnp.array([[1, 2, PAD], [3, 4, 5]])
    with pytest.raises(ValueError, match="same shape"):
        caser.score({"user": jnp.array([0, 1]), "item": jnp.array([1]), "history": history})
    with pytest.raises(ValueError, match="one item per history"):
        gru.score({"item": jnp.array([1]), "history": history, "length": jnp.array([2, 3])})
