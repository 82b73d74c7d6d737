"""Leave-one-out attribution of a history (chapter 8's faithful explanations) and content-only item vectors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from recsys_lite import models

N_USERS, N_ITEMS, D_U, D_I, L = 6, 12, 3, 2, 4


@pytest.fixture(scope="module")
def setup():
    model = models.Hybrid.init(jax.random.key(3), N_USERS, N_ITEMS, D_U, D_I, dim=8, window=L, n_horizontal=3,
                               hidden=5, dropout=0.0)
    # give the item and history tables some spread, so the scores depend on the history
    model = jax.tree_util.tree_map(lambda x: x * 20 if x.ndim == 2 else x, model)
    rng = np.random.default_rng(0)
    lengths = np.array([4, 3, 1, 2, 4, 0])
    history = np.where(np.arange(L) < lengths[:, None], rng.integers(0, N_ITEMS, (N_USERS, L)), N_ITEMS)
    batch = {"user": np.arange(N_USERS), "history": history.astype(np.int32),
             "user_x": rng.normal(size=(N_USERS, D_U)).astype(np.float32)}
    item_x = jnp.asarray(rng.normal(size=(N_ITEMS, D_I)).astype(np.float32))
    items = rng.integers(0, N_ITEMS, (N_USERS, 3))
    return model, batch, items, item_x, lengths


def _score(model, user, history, user_x, item, item_x):
    batch = {"user": np.array([user]), "history": np.asarray([history], np.int32), "user_x": user_x[None]}
    return float(model.scores(batch, item_features=item_x)[0, item])


def test_attribution_matches_a_direct_recomputation(setup):
    model, batch, items, item_x, lengths = setup
    got = np.asarray(models.history_attribution(model, batch, items, item_features=item_x))
    assert got.shape == (N_USERS, items.shape[1], L)
    ref = np.zeros_like(got)
    for b in range(N_USERS):
        real = [int(i) for i in batch["history"][b] if i < N_ITEMS]
        for k, item in enumerate(items[b]):
            full = _score(model, b, real + [N_ITEMS] * (L - len(real)), batch["user_x"][b], item, item_x)
            for j in range(len(real)):
                rest = real[:j] + real[j + 1:]  # drop position j, shift left, pad on the right
                ref[b, k, j] = full - _score(model, b, rest + [N_ITEMS] * (L - len(rest)), batch["user_x"][b],
                                             item, item_x)
    rel = np.abs(got - ref).max() / np.abs(ref).max()
    assert np.abs(ref).max() > 1e-3  # the history matters, so the check is not vacuous
    assert rel < 1e-5, rel
    for b, n in enumerate(lengths):  # padding positions, and an empty history, attribute nothing
        assert np.all(got[b, :, n:] == 0)


def test_attribution_is_jittable_and_works_for_new_users(setup):
    model, batch, items, item_x, _ = setup
    new = {"history": batch["history"], "user_x": batch["user_x"]}  # no "user": the average user embedding
    eager = models.history_attribution(model, new, items, item_features=item_x)
    jitted = jax.jit(lambda m, b, i: models.history_attribution(m, b, i, item_features=item_x))(model, new, items)
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(eager), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("make, error, words", [
    (lambda m, b, i: (object(), b, i), TypeError, "`model`"),
    (lambda m, b, i: (m, [1, 2], i), TypeError, "`batch`"),
    (lambda m, b, i: (m, {"user": b["user"]}, i), ValueError, "`batch`"),
    (lambda m, b, i: (m, {**b, "history": b["history"] + N_ITEMS + 1}, i), ValueError, "`batch['history']`"),
    (lambda m, b, i: (m, b, i[:, 0]), ValueError, "`items`"),
    (lambda m, b, i: (m, b, i + N_ITEMS), ValueError, "`items`"),
    (lambda m, b, i: (m, b, i.astype(float)), TypeError, "`items`"),
    (lambda m, b, i: (m, b, i[:2]), ValueError, "`items`"),
])
def test_attribution_bad_input_names_the_argument(setup, make, error, words):
    model, batch, items, item_x, _ = setup
    m, b, i = make(model, batch, items)
    with pytest.raises(error, match=words.replace("[", r"\[").replace("]", r"\]")):
        models.history_attribution(m, b, i, item_features=item_x)


def test_content_vectors_are_the_item_vectors_without_the_embedding(setup):
    model, _, _, item_x, _ = setup
    content = np.asarray(model.content_vectors(item_x))
    mlp = model.item_content["content"]
    x = np.asarray(item_x)  # the MLP by hand: relu between layers, none after the last
    for k, layer in enumerate(mlp.layers):
        x = x @ np.asarray(layer.weight) + np.asarray(layer.bias)
        x = np.maximum(x, 0) if k < len(mlp.layers) - 1 else x
    rel = np.abs(content - x).max() / np.abs(x).max()
    assert rel < 1e-5, rel
    both = np.asarray(model.item_vectors(item_x)) - np.asarray(model.item_embedding.table)
    assert np.abs(both - content).max() / np.abs(content).max() < 1e-5


def test_content_vectors_need_item_content(setup):
    _, _, _, item_x, _ = setup
    plain = models.Hybrid.init(jax.random.key(0), N_USERS, N_ITEMS, D_U, D_I, dim=4, window=L, item_content=False)
    with pytest.raises(ValueError, match="item_content=False"):
        plain.content_vectors(item_x)
    model = setup[0]
    with pytest.raises(ValueError, match="`item_features`"):
        model.content_vectors(item_x[:, :1])
