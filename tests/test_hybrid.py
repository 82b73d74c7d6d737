"""The complete recommender: ablations train, save/load round-trips, recommend behaves."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from recsys_lite import data, metrics, models, optim, train

N_USERS, N_ITEMS, WINDOW = 40, 30, 4


@pytest.fixture(scope="module")
def world():
    """Users walk the catalogue i → i + 1 from a random start; features are random but fixed."""
    rng = np.random.default_rng(0)
    rows = []
    for u in range(N_USERS):
        start = rng.integers(0, N_ITEMS)
        rows += [(u, (start + t) % N_ITEMS, 4, t) for t in range(10)]
    ratings = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    split = data.leave_one_out(ratings, N_USERS, N_ITEMS)
    seqs, lens = data.user_sequences(split.train, N_USERS, N_ITEMS)
    examples = data.next_item_examples(seqs, lens, WINDOW, pad_id=N_ITEMS)
    user_x = rng.normal(size=(N_USERS, 3)).astype(np.float32)
    item_x = rng.normal(size=(N_ITEMS, 2)).astype(np.float32)
    examples["user_x"] = user_x[examples["user"]]
    return split, examples, user_x, item_x


def _init(branches=models.BRANCHES, **kwargs):
    return models.Hybrid.init(jax.random.key(0), N_USERS, N_ITEMS, 3, 2, dim=8, window=WINDOW, n_horizontal=4,
                              hidden=8, branches=branches, dropout=0.0, **kwargs)


def _train(world, model, epochs=30):
    split, examples, user_x, item_x = world
    loss = functools.partial(models.hybrid_topn_loss, item_x=jnp.asarray(item_x))
    return train.fit(model, loss, examples, optim.adam(0.02), key=jax.random.key(1), epochs=epochs,
                     batch_size=64, progress=False)


def _test_ndcg(world, model):
    split, _, user_x, item_x = world
    hist = data.recent_items(*data.user_sequences(split.history("test"), N_USERS, N_ITEMS), WINDOW, pad_id=N_ITEMS)
    score = lambda u: model.scores(jnp.asarray(u), jnp.asarray(hist[u]), jnp.asarray(user_x[u]), jnp.asarray(item_x))
    return metrics.evaluate_leave_one_out(score, split, "test")["NDCG@10"]


@pytest.fixture(scope="module")
def trained(world):
    return _train(world, _init())


def test_short_training_beats_popularity_on_structured_data(world, trained):
    model, history = trained
    pop = models.Popularity.fit(world[0].history("test"), N_ITEMS)
    assert history.train_loss[-1] < history.train_loss[0]
    assert _test_ndcg(world, model) > metrics.evaluate_leave_one_out(pop.scores, world[0], "test")["NDCG@10"] + 0.2


@pytest.mark.parametrize("left_out", models.BRANCHES)
def test_each_branch_can_be_switched_off_and_the_model_still_trains(world, left_out):
    branches = tuple(b for b in models.BRANCHES if b != left_out)
    model, history = _train(world, _init(branches), epochs=4)
    assert model.fuse.in_features == len([b for b in branches if b != "user"]) * 8
    assert history.train_loss[-1] < history.train_loss[0]
    left_out_parts = {"user": [model.user_emb], "content": [model.user_mlp], "conv": [model.conv_out, *model.convs],
                      "gru": [model.gru, model.gru_out]}[left_out]
    assert all(part is None for part in left_out_parts), f"the {left_out} branch left out still has parameters"
    full = _init()
    kept = [name for name in ("user_emb", "user_mlp", "conv_out", "gru", "gru_out", "items", "history_items")
            if getattr(model, name) is not None]
    for name in kept:  # the parts that are kept start from the same values as in the full model
        for a, b in zip(jax.tree_util.tree_leaves(getattr(_init(branches), name)),
                        jax.tree_util.tree_leaves(getattr(full, name))):
            np.testing.assert_array_equal(a, b)


def test_with_only_the_user_branch_the_hybrid_is_matrix_factorisation(world):
    """r_u = p_u, so s_ui = p_u · q_i + c_i: the same scores as MF's dot product, computed in numpy."""
    model = _init(("user",), item_content=False)
    assert model.fuse is None
    users = np.arange(N_USERS)
    history = np.full((N_USERS, WINDOW), N_ITEMS)
    scores = model.scores(users, history, jnp.zeros((N_USERS, 3)), jnp.asarray(world[3]))
    by_hand = np.asarray(model.user_emb.table) @ np.asarray(model.items.table).T + np.asarray(model.item_bias)
    np.testing.assert_allclose(np.asarray(scores), by_hand, rtol=1e-5, atol=1e-6)


def test_item_content_can_be_switched_off(world):
    model = _init(item_content=False)
    assert np.allclose(model.item_vectors(jnp.asarray(world[3])), model.items.table)
    assert model.item_mlp is None


def test_rating_head_trains(world):
    split, examples, user_x, item_x = world
    rng = np.random.default_rng(1)
    batch = dict(examples, rating=rng.integers(1, 6, len(examples["item"])).astype(np.float32))
    model = _init(mu=3.0)
    loss = functools.partial(models.hybrid_rating_loss, item_x=jnp.asarray(item_x), reg=1e-4)
    model, history = train.fit(model, loss, batch, optim.adam(0.01), key=jax.random.key(2), epochs=3,
                               batch_size=64, progress=False)
    pred = model.predict(batch["user"], batch["item"], batch["history"], batch["user_x"], jnp.asarray(item_x))
    assert pred.shape == (len(batch["item"]),) and np.all((pred >= 1) & (pred <= 5))
    assert history.train_loss[-1] < history.train_loss[0]


def test_save_then_load_gives_identical_predictions(world, tmp_path):
    split, examples, user_x, item_x = world
    model = jax.tree_util.tree_map(lambda x: x + 0.01, _init())
    path = tmp_path / "hybrid.npz"
    models.save_model(path, model)
    loaded = models.load_model(path, like=_init())
    args = (jnp.asarray(examples["user"][:5]), jnp.asarray(examples["history"][:5]),
            jnp.asarray(examples["user_x"][:5]), jnp.asarray(item_x))
    assert np.array_equal(model.scores(*args), loaded.scores(*args))
    with np.load(path, allow_pickle=False) as archive:  # no pickle anywhere
        assert ".users.table" not in archive.files and ".user_emb.table" in archive.files
    with pytest.raises(ValueError, match="does not fit the template.*Missing"):
        models.load_model(path, like=_init(("user", "conv")))
    with pytest.raises(ValueError, match="holds a Hybrid, but `like` is a BiasedMF"):
        models.load_model(path, like=models.BiasedMF.init(jax.random.key(0), 2, 2, 2))


@pytest.fixture(scope="module")
def recommender(world, trained):
    split, examples, user_x, item_x = world
    model, _ = trained
    seqs, lens = data.user_sequences(split.history("test"), N_USERS, N_ITEMS)
    history = split.history("test")
    return models.Recommender(
        model=model, recent=data.recent_items(seqs, lens, WINDOW, pad_id=N_ITEMS),
        seen=data.seen_mask(N_USERS, N_ITEMS, history.user, history.item), user_x=user_x, item_x=item_x,
        popularity=np.bincount(history.item, minlength=N_ITEMS))


def test_recommend_returns_k_distinct_unseen_items(recommender):
    for user in range(N_USERS):
        items, scores = recommender.recommend(user, k=5)
        assert len(set(items.tolist())) == 5
        assert not recommender.seen[user, items].any()
        assert np.all(np.diff(scores) <= 0)


def test_recommend_for_new_users(recommender):
    cold, _ = recommender.recommend(None, k=5)
    assert len(set(cold.tolist())) == 5
    few, _ = recommender.recommend(None, k=5, history=[3, 4])
    assert 3 not in few and 4 not in few
    assert 5 in few  # the successor rule, learned from other users' histories


def test_recommend_rejects_bad_requests(recommender):
    with pytest.raises(ValueError, match="`user` 40 is unknown: ids run from 0 to 39"):
        recommender.recommend(40)
    with pytest.raises(ValueError, match="`k` must be a positive integer"):
        recommender.recommend(0, k=0)
    with pytest.raises(ValueError, match="`k` must be at most the"):
        recommender.recommend(0, k=N_ITEMS)
    with pytest.raises(ValueError, match="only for a new user"):
        recommender.recommend(0, history=[1])
    with pytest.raises(ValueError, match="`history` holds ids out of range"):
        recommender.recommend(None, history=[N_ITEMS])


def test_rating_head_without_sequence_branches_accepts_padded_histories(world):
    """Chapter 8's rating model (user + content) trains on rows whose history holds the padding id n_items;
    one past the padding id is still refused."""
    split, examples, user_x, item_x = world
    batch = dict(examples, rating=np.full(len(examples["item"]), 4.0, np.float32))
    assert (batch["history"] == N_ITEMS).any()
    model = _init(("user", "content"), mu=3.0)
    loss = functools.partial(models.hybrid_rating_loss, item_x=jnp.asarray(item_x), reg=1e-4)
    train.fit(model, loss, batch, optim.adam(0.01), key=jax.random.key(2), epochs=1, batch_size=64, progress=False)
    batch["history"] = batch["history"].copy()
    batch["history"][0, 0] = N_ITEMS + 1
    with pytest.raises(ValueError, match=r"`data\['history'\]` holds ids out of range"):
        train.fit(model, loss, batch, optim.adam(0.01), key=jax.random.key(2), epochs=1, batch_size=64,
                  progress=False)
