"""The complete recommender: ablations train, save/load round-trips, recommend behaves."""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from recsys_lite import data, metrics, models, nn, optim, train

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
    loss = functools.partial(models.hybrid_topn_loss, item_features=jnp.asarray(item_x))
    return train.fit(model, loss, examples, optim.adam(0.02), key=jax.random.key(1), epochs=epochs,
                     batch_size=64, progress=False)


def _test_ndcg(world, model):
    split, _, user_x, item_x = world
    hist, _ = data.recent_items(*data.user_sequences(split.history("test"), N_USERS, N_ITEMS), WINDOW, pad_id=N_ITEMS)
    score = lambda u: model.scores({"user": u, "history": hist[u], "user_x": user_x[u]}, item_features=item_x)
    return metrics.evaluate_leave_one_out(score, split, "test")["NDCG@10"]


@pytest.fixture(scope="module")
def trained(world):
    return _train(world, _init())


def test_short_training_beats_popularity_on_structured_data(world, trained):
    model, history = trained
    pop = models.Popularity.fit(world[0].history("test"), N_ITEMS)
    assert history.train_loss[-1] < history.train_loss[0]
    pop_ndcg = metrics.evaluate_leave_one_out(lambda u: pop.scores({"user": u}), world[0], "test")["NDCG@10"]
    assert _test_ndcg(world, model) > pop_ndcg + 0.2


@pytest.mark.parametrize("left_out", models.BRANCHES)
def test_each_branch_can_be_switched_off_and_the_model_still_trains(world, left_out):
    branches = tuple(b for b in models.BRANCHES if b != left_out)
    model, history = _train(world, _init(branches), epochs=4)
    fused = model.fusion["fused"]
    assert fused.dense.in_features == len([b for b in branches if b != "user"]) * 8
    assert history.train_loss[-1] < history.train_loss[0]
    assert model.branches == branches
    paths = [jax.tree_util.keystr(path) for path, _ in jax.tree_util.tree_flatten_with_path(model)[0]]
    assert not [p for p in paths if f"'{left_out}'" in p and "item_content" not in p], \
        f"the {left_out} branch left out still has parameters"
    # the parts that are kept start from the same values as in the full model
    full, start = _init(), _init(branches)
    pairs = [(start.history_embedding, full.history_embedding), (start.item_embedding, full.item_embedding),
             (start.user_embedding, {k: full.user_embedding[k] for k in start.user_embedding})]
    pairs += [(part, full.fusion["fused"].branches.layers[name])
              for name, part in start.fusion["fused"].branches.layers.items()]
    for a, b in pairs:
        assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
        for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
            np.testing.assert_array_equal(x, y)


def test_with_only_the_user_branch_the_hybrid_is_matrix_factorisation(world):
    """r_u = p_u, so s_ui = p_u · q_i + c_i: the same scores as MF's dot product, computed in numpy."""
    model = _init(("user",), item_content=False)
    assert model.fusion == {} and model.item_content == {} and model.branches == ("user",)
    batch = {"user": np.arange(N_USERS), "history": np.full((N_USERS, WINDOW), N_ITEMS)}
    scores = model.scores(batch, item_features=jnp.asarray(world[3]))
    user_table, item_table = model.user_embedding["user"].table, model.item_embedding.table
    by_hand = np.asarray(user_table) @ np.asarray(item_table).T + np.asarray(model.item_bias)
    np.testing.assert_allclose(np.asarray(scores), by_hand, rtol=1e-5, atol=1e-6)


def test_item_content_can_be_switched_off(world):
    model = _init(item_content=False)
    assert np.allclose(model.item_vectors(jnp.asarray(world[3])), model.item_embedding.table)
    assert model.item_content == {}


def test_rating_head_trains(world):
    split, examples, user_x, item_x = world
    rng = np.random.default_rng(1)
    batch = dict(examples, rating=rng.integers(1, 6, len(examples["item"])).astype(np.float32))
    model = _init(mu=3.0)
    loss = functools.partial(models.hybrid_rating_loss, item_features=jnp.asarray(item_x), reg=1e-4)
    model, history = train.fit(model, loss, batch, optim.adam(0.01), key=jax.random.key(2), epochs=3,
                               batch_size=64, progress=False)
    pred = model.predict(batch, item_features=jnp.asarray(item_x))
    np.testing.assert_allclose(pred, np.clip(model.score(batch, item_features=jnp.asarray(item_x)), 1, 5))
    assert pred.shape == (len(batch["item"]),) and np.all((pred >= 1) & (pred <= 5))
    assert history.train_loss[-1] < history.train_loss[0]


def test_save_then_load_gives_identical_predictions(world, tmp_path):
    split, examples, user_x, item_x = world
    model = jax.tree_util.tree_map(lambda x: x + 0.01, _init())
    path = tmp_path / "hybrid.npz"
    models.save_model(path, model)
    loaded = models.load_model(path, like=_init())
    batch = {name: examples[name][:5] for name in ("user", "history", "user_x")}
    assert np.array_equal(model.scores(batch, item_features=item_x), loaded.scores(batch, item_features=item_x))
    with np.load(path, allow_pickle=False) as archive:  # no pickle anywhere
        assert ".user_embedding['user'].table" in archive.files
        assert ".fusion['fused'].branches.layers['conv'].layers[0].convs[0].kernel" in archive.files
    with pytest.raises(ValueError, match="does not fit the template.*Missing"):
        models.load_model(path, like=_init(("user", "conv")))
    with pytest.raises(ValueError, match="holds a Hybrid, but `like` is a BiasedMF"):
        models.load_model(path, like=models.BiasedMF.init(jax.random.key(0), 2, 2, 2))


def _fingerprint_parts(world, **config):
    split, examples, user_x, item_x = world
    return split.train, user_x, item_x, {"dim": 8, "window": WINDOW, "lr": 0.02, "epochs": 3, **config}


def test_a_fingerprinted_model_restored_scores_exactly_as_the_same_model_retrained(world, tmp_path):
    """What chapter 9 relies on: the model chapter 8 saved, loaded, gives the numbers a retrain gives."""
    split, examples, user_x, item_x = world
    key = models.fingerprint(*_fingerprint_parts(world))
    assert models.load_fingerprinted(tmp_path, "hybrid", key, _init()) is None  # nothing saved yet: train
    first, _ = _train(world, _init(), epochs=3)
    path = models.save_fingerprinted(tmp_path, "hybrid", key, first)
    assert path == tmp_path / f"hybrid-{key}.npz" and [p.name for p in tmp_path.iterdir()] == [path.name]
    restored = models.load_fingerprinted(tmp_path, "hybrid", key, _init())
    from_shapes = models.load_fingerprinted(tmp_path, "hybrid", key, jax.eval_shape(_init))  # no arrays built
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(restored),
                                                    jax.tree_util.tree_leaves(from_shapes)))
    retrained, _ = _train(world, _init(), epochs=3)  # the same training again, from scratch
    batch = {name: examples[name] for name in ("user", "history", "user_x")}
    scores = [np.asarray(m.scores(batch, item_features=item_x)) for m in (first, restored, retrained)]
    assert np.array_equal(scores[0], scores[1]) and np.array_equal(scores[0], scores[2])
    assert _test_ndcg(world, restored) == _test_ndcg(world, retrained)


def test_the_fingerprint_follows_the_data_the_configuration_and_nothing_else(world):
    split, examples, user_x, item_x = world
    key = models.fingerprint(*_fingerprint_parts(world))
    assert len(key) == 16 and key == models.fingerprint(*_fingerprint_parts(world))
    assert key != models.fingerprint(*_fingerprint_parts(world, epochs=4))  # another configuration
    other = _fingerprint_parts(world)
    assert key != models.fingerprint(other[0].iloc[1:], *other[1:])  # other data
    changed = user_x.copy()
    changed[0, 0] += 1.0
    assert key != models.fingerprint(other[0], changed, *other[2:])
    assert key != models.fingerprint(*other[:3], {**other[3], "lr": 0.0200001})
    # another process (another page's kernel) computes the same fingerprint from the same inputs
    import subprocess
    import sys
    code = ("import numpy as np, pandas as pd; from recsys_lite import models; "
            "print(models.fingerprint(pd.DataFrame({'user': [0, 1], 'item': [2, 3]}), np.arange(4.0), "
            "{'b': 1, 'a': (2.5, 'x', None)}))")
    here = models.fingerprint(pd.DataFrame({"user": [0, 1], "item": [2, 3]}), np.arange(4.0),
                              {"a": (2.5, "x", None), "b": 1})
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert there == here


def test_fingerprinted_files_are_refused_or_reported_cleanly(world, tmp_path):
    key = models.fingerprint(*_fingerprint_parts(world))
    (tmp_path / f"hybrid-{key}.npz").write_bytes(b"not a zip at all")  # a damaged file: train again, with a warning
    with pytest.warns(UserWarning, match="could not be read"):
        assert models.load_fingerprinted(tmp_path, "hybrid", key, _init()) is None
    models.save_fingerprinted(tmp_path, "hybrid", key, _init())  # replaces it, atomically
    assert models.load_fingerprinted(tmp_path, "hybrid", key, _init()) is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"hybrid-{key}.npz"]  # no temporary file left
    with pytest.warns(UserWarning, match="does not fit the template"):  # saved with other settings
        assert models.load_fingerprinted(tmp_path, "hybrid", key, _init(("user", "conv"))) is None
    with pytest.raises(TypeError, match="`parts\\[0\\]\\['loss'\\]` must be a DataFrame"):
        models.fingerprint({"loss": models.hybrid_topn_loss})
    with pytest.raises(ValueError, match="`name` must be a non-empty string"):
        models.save_fingerprinted(tmp_path, "../up", key, _init())
    with pytest.raises(TypeError, match="`folder` must be a folder name"):
        models.load_fingerprinted(3, "hybrid", key, _init())


@pytest.fixture(scope="module")
def recommender(world, trained):
    split, examples, user_x, item_x = world
    model, _ = trained
    seqs, lens = data.user_sequences(split.history("test"), N_USERS, N_ITEMS)
    history = split.history("test")
    return models.Recommender(
        model=model, recent=data.recent_items(seqs, lens, WINDOW, pad_id=N_ITEMS)[0],
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



def test_recommend_for_a_new_user_by_features_matches_a_reference(recommender):
    """The user_x path, rebuilt independently: the mean user embedding as the mean of every known user's r_u
    (r_u is linear in p_u), then the blend standardised log-popularity + standardised score by hand."""
    model, item_x = recommender.model, jnp.asarray(recommender.item_x)
    x = np.asarray(recommender.user_x[7], np.float32) * 3.0 + 1.0  # features no known user has
    empty = np.full((N_USERS, WINDOW), N_ITEMS, np.int32)
    r_each = np.asarray(model.represent({"user": np.arange(N_USERS), "history": empty,
                                         "user_x": np.tile(x, (N_USERS, 1))}), np.float64)
    o = np.asarray(model.item_vectors(item_x), np.float64)
    score = r_each.mean(axis=0) @ o.T + np.asarray(model.item_bias, np.float64)
    log_pop = np.log1p(recommender.popularity.astype(np.float64))
    blend = (log_pop - log_pop.mean()) / log_pop.std() + (score - score.mean()) / score.std()
    items, scores = recommender.recommend(None, k=5, user_x=x)
    np.testing.assert_array_equal(items, np.argsort(-blend, kind="stable")[:5])
    rel = np.abs(scores - blend[items]).max() / np.abs(blend[items]).max()
    assert rel < 1e-4, rel
    # without user_x: the average user's features; with a history: the model's score alone, no blend
    mean_items, _ = recommender.recommend(None, k=5, user_x=recommender.user_x.mean(axis=0))
    np.testing.assert_array_equal(mean_items, recommender.recommend(None, k=5)[0])
    hist = np.full(WINDOW, N_ITEMS, np.int32)
    hist[:2] = [3, 4]
    warm = np.array(model.scores({"history": hist[None], "user_x": x[None]}, item_features=item_x))[0]
    warm[[3, 4]] = -np.inf
    np.testing.assert_array_equal(recommender.recommend(None, k=5, history=[3, 4], user_x=x)[0],
                                  np.argsort(-warm, kind="stable")[:5])

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
    loss = functools.partial(models.hybrid_rating_loss, item_features=jnp.asarray(item_x), reg=1e-4)
    train.fit(model, loss, batch, optim.adam(0.01), key=jax.random.key(2), epochs=1, batch_size=64, progress=False)
    batch["history"] = batch["history"].copy()
    batch["history"][0, 0] = N_ITEMS + 1
    with pytest.raises(ValueError, match=r"`data\['history'\]` holds ids out of range"):
        train.fit(model, loss, batch, optim.adam(0.01), key=jax.random.key(2), epochs=1, batch_size=64,
                  progress=False)


def test_padding_is_inert_and_the_gru_reads_only_the_real_items(world):
    """Histories are left-aligned: the padding row's embedding never matters, and a short history scores as the
    same items would without padding (the GRU stops at the length; content and user branches see no history)."""
    model = _init(("user", "content", "gru"))
    item_x = jnp.asarray(world[3])
    batch = {"user": np.array([0, 1]), "history": np.array([[3, 4, N_ITEMS, N_ITEMS], [5, N_ITEMS, N_ITEMS, N_ITEMS]]),
             "user_x": world[2][:2]}
    scores = model.scores(batch, item_features=item_x)
    table = model.history_embedding.table.at[N_ITEMS].set(100.0)
    other = dataclasses.replace(model, history_embedding=nn.Embedding(table))
    np.testing.assert_allclose(other.scores(batch, item_features=item_x), scores, rtol=1e-6)
    short = dict(batch, history=batch["history"][:, :2])  # no conv branch: any window
    np.testing.assert_allclose(model.scores(short, item_features=item_x), scores, rtol=1e-6)
