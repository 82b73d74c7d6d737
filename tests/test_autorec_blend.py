"""I-AutoRec and the ridge blend (chapter 5), against independent references."""

from __future__ import annotations

import itertools
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from recsys_lite import models, optim, train

N_USERS, N_ITEMS = 12, 9


def _frame(seed=0, n=60):
    rng = np.random.default_rng(seed)
    cells = rng.choice(N_USERS * N_ITEMS, n, replace=False)
    return pd.DataFrame({"user": cells // N_ITEMS, "item": cells % N_ITEMS,
                         "rating": rng.integers(1, 6, n).astype(float)})


def _numpy_loss(model, rows, reg):
    """The masked objective in float64 numpy, written independently of the library."""
    V, bV = np.asarray(model.encoder.weight, np.float64), np.asarray(model.encoder.bias, np.float64)
    W, bW = np.asarray(model.decoder.weight, np.float64), np.asarray(model.decoder.bias, np.float64)
    R = np.asarray(model.ratings, np.float64)
    total = 0.0
    for i in rows:
        h = 1 / (1 + np.exp(-(R[i] @ V + bV)))
        out = h @ W + bW
        seen = R[i] > 0
        total += np.sum((out[seen] - R[i][seen]) ** 2)
    return (total + len(rows) / R.shape[0] * 0.5 * reg * (np.sum(V ** 2) + np.sum(W ** 2))) / len(rows)


@pytest.mark.parametrize("by", ["item", "user"])
def test_rating_matrix_and_score_match_numpy(by):
    frame = _frame()
    model = models.AutoRec.init(jax.random.key(0), frame, N_USERS, N_ITEMS, hidden=5, by=by)
    R = np.asarray(model.ratings)
    assert R.shape == ((N_ITEMS, N_USERS) if by == "item" else (N_USERS, N_ITEMS))
    rows, cols = (frame.item, frame.user) if by == "item" else (frame.user, frame.item)
    assert np.array_equal(R[rows, cols], frame.rating) and (R > 0).sum() == len(frame)
    users, items = np.repeat(np.arange(N_USERS), N_ITEMS), np.tile(np.arange(N_ITEMS), N_USERS)
    V, W = np.asarray(model.encoder.weight, np.float64), np.asarray(model.decoder.weight, np.float64)
    full = (1 / (1 + np.exp(-(R.astype(np.float64) @ V)))) @ W  # biases start at 0
    expected = full[items, users] if by == "item" else full[users, items]
    for n in (len(users), 5):  # more pairs than rows (encode all rows) and fewer (encode the batch's rows)
        got = np.asarray(model.score({"user": users[:n], "item": items[:n]}))
        assert np.max(np.abs(got - expected[:n])) / np.max(np.abs(expected)) < 1e-5
    clipped = np.asarray(model.predict({"user": users, "item": items}))
    assert clipped.min() >= 1.0 and clipped.max() <= 5.0


def test_loss_matches_numpy_and_gradient_matches_finite_differences():
    frame = _frame(1)
    model = models.AutoRec.init(jax.random.key(1), frame, N_USERS, N_ITEMS, hidden=4)
    model = type(model)(type(model.encoder)(model.encoder.weight, 0.1 * jnp.arange(4.0)), model.decoder,
                        model.ratings)
    rows = np.array([0, 3, 3, 7], np.int32)
    loss = models.autorec_loss(model, {"row": rows}, reg=0.3)
    assert float(loss) == pytest.approx(_numpy_loss(model, rows, 0.3), rel=1e-5)
    grads = jax.grad(partial(models.autorec_loss, reg=0.3))(model, {"row": rows})
    assert np.all(np.asarray(grads.ratings) == 0)  # the inputs are held fixed
    # central finite differences of the float64 numpy loss on a few entries of V and W
    for layer in ("encoder", "decoder"):
        weight = np.asarray(getattr(model, layer).weight, np.float64)
        g = np.asarray(getattr(grads, layer).weight)
        for index in [(0, 0), (2, 1), (3, 3)]:
            step = np.zeros_like(weight)
            step[index] = 1e-5
            fd = (_fd_loss(model, rows, 0.3, layer, weight + step) - _fd_loss(model, rows, 0.3, layer, weight - step))
            fd /= 2e-5
            assert g[index] == pytest.approx(fd, rel=1e-3, abs=1e-4)


def _fd_loss(model, rows, reg, layer, weight):
    V, bV = np.asarray(model.encoder.weight, np.float64), np.asarray(model.encoder.bias, np.float64)
    W, bW = np.asarray(model.decoder.weight, np.float64), np.asarray(model.decoder.bias, np.float64)
    if layer == "encoder":
        V = weight
    else:
        W = weight
    R = np.asarray(model.ratings, np.float64)
    total = sum(np.sum(((1 / (1 + np.exp(-(R[i] @ V + bV)))) @ W + bW - R[i])[R[i] > 0] ** 2) for i in rows)
    return (total + len(rows) / R.shape[0] * 0.5 * reg * (np.sum(V ** 2) + np.sum(W ** 2))) / len(rows)


def test_batches_add_up_to_the_papers_objective():
    """A partition into batches sums to (1/B) × the paper's objective; a random batch averages (1/n) × it."""
    frame = _frame(3)
    model = models.AutoRec.init(jax.random.key(3), frame, N_USERS, N_ITEMS, hidden=4)
    reg = 0.7
    R = np.asarray(model.ratings, np.float64)
    V, W = np.asarray(model.encoder.weight, np.float64), np.asarray(model.decoder.weight, np.float64)
    objective = sum(np.sum(((1 / (1 + np.exp(-(R[i] @ V)))) @ W - R[i])[R[i] > 0] ** 2) for i in range(N_ITEMS))
    objective += 0.5 * reg * (np.sum(V ** 2) + np.sum(W ** 2))  # the paper's, biases at 0
    loss = partial(models.autorec_loss, model, reg=reg)
    batches = np.arange(N_ITEMS, dtype=np.int32).reshape(3, 3)  # B = 3 divides n = 9
    assert sum(float(loss({"row": b})) for b in batches) == pytest.approx(objective / 3, rel=1e-5)
    pairs = [np.array(pair, np.int32) for pair in itertools.combinations(range(N_ITEMS), 2)]  # every batch of B = 2
    assert np.mean([float(loss({"row": b})) for b in pairs]) == pytest.approx(objective / N_ITEMS, rel=1e-5)


def test_unobserved_entries_get_no_gradient_from_the_error():
    """Changing the decoder column of a user who rated none of the batch's films leaves the error term unchanged."""
    frame = pd.DataFrame({"user": [0, 1, 0], "item": [0, 0, 1], "rating": [4.0, 2.0, 5.0]})
    model = models.AutoRec.init(jax.random.key(2), frame, 3, 2, hidden=3)
    grads = jax.grad(models.autorec_loss)(model, {"row": np.array([0, 1], np.int32)})  # reg = 0
    assert np.all(np.asarray(grads.decoder.weight)[:, 2] == 0) and float(grads.decoder.bias[2]) == 0
    assert np.any(np.asarray(grads.decoder.weight)[:, 0] != 0)


def test_training_reduces_the_loss_and_jits():
    frame = _frame(2, n=80)
    model = models.AutoRec.init(jax.random.key(3), frame, N_USERS, N_ITEMS, hidden=8)
    data = {"row": np.arange(N_ITEMS, dtype=np.int32)}
    before = float(models.autorec_loss(model, data))
    fitted, _ = train.fit(model, partial(models.autorec_loss, reg=0.1), data, optim.adam(0.01),
                          key=jax.random.key(0), epochs=30, batch_size=3, progress=False)
    assert float(models.autorec_loss(fitted, data)) < 0.5 * before
    assert np.array_equal(np.asarray(fitted.ratings), np.asarray(model.ratings))
    batch = {"user": jnp.arange(4), "item": jnp.arange(4)}
    assert np.allclose(jax.jit(lambda m, b: m.predict(b))(fitted, batch), fitted.predict(batch), atol=1e-6)


def test_autorec_bad_input():
    frame = _frame()
    with pytest.raises(ValueError, match="`by`"):
        models.AutoRec.init(jax.random.key(0), frame, N_USERS, N_ITEMS, by="film")
    with pytest.raises(ValueError, match="`hidden`"):
        models.AutoRec.init(jax.random.key(0), frame, N_USERS, N_ITEMS, hidden=0)
    with pytest.raises(ValueError, match=r"`ratings\['user'\]`"):
        models.AutoRec.init(jax.random.key(0), frame, 3, N_ITEMS)
    with pytest.raises(ValueError, match=r"`ratings\['rating'\]`"):
        models.AutoRec.init(jax.random.key(0), frame.assign(rating=0.0), N_USERS, N_ITEMS)
    model = models.AutoRec.init(jax.random.key(0), frame, N_USERS, N_ITEMS, hidden=3)
    with pytest.raises(ValueError, match=r"`batch\['item'\]`"):
        model.predict({"user": np.array([0]), "item": np.array([N_ITEMS])})
    with pytest.raises(ValueError, match=r"`batch`"):
        model.predict({"user": np.array([0])})
    with pytest.raises(ValueError, match=r"`batch\['row'\]`"):
        models.autorec_loss(model, {"row": np.array([N_ITEMS], np.int32)})
    with pytest.raises(TypeError, match=r"`batch\['row'\]`"):
        models.autorec_loss(model, {"row": np.array([0.5])})
    with pytest.raises(ValueError, match="`reg`"):
        models.autorec_loss(model, {"row": np.array([0], np.int32)}, reg=-1.0)


def test_blend_matches_numpy_lstsq_and_ridge_closed_form():
    rng = np.random.default_rng(0)
    x = rng.normal(3.5, 1.0, (200, 3))
    r = 0.5 + x @ np.array([0.2, 0.5, 0.1]) + rng.normal(0, 0.3, 200)
    blend = models.Blend.fit(x, r)
    expected = np.linalg.lstsq(np.column_stack([np.ones(200), x]), r, rcond=None)[0]
    assert float(blend.intercept) == pytest.approx(expected[0], rel=1e-9)
    assert np.allclose(blend.weights, expected[1:], rtol=1e-9)
    alpha = 7.0
    ridge = models.Blend.fit(x, r, ridge=alpha)
    xc, rc = x - x.mean(0), r - r.mean()
    w = np.linalg.solve(xc.T @ xc + alpha * np.eye(3), xc.T @ rc)
    assert np.allclose(ridge.weights, w, rtol=1e-9)
    assert float(ridge.intercept) == pytest.approx(r.mean() - x.mean(0) @ w, rel=1e-9)
    assert np.allclose(ridge.predict(x, low=-np.inf, high=np.inf), ridge.intercept + x @ w)


def test_blend_hand_case():
    """r = 1 + 2 x exactly: the blend recovers w_0 = 1, w = 2, and clips its predictions to [1, 5]."""
    x = np.array([[0.0], [1.0], [2.0]])
    blend = models.Blend.fit(x, np.array([1.0, 3.0, 5.0]))
    assert float(blend.intercept) == pytest.approx(1.0) and blend.weights == pytest.approx([2.0])
    assert np.allclose(blend.predict(np.array([[0.5], [3.0]])), [2.0, 5.0])


def test_blend_bad_input():
    x = np.ones((4, 2))
    with pytest.raises(ValueError, match="`predictions`"):
        models.Blend.fit(np.ones(4), np.ones(4))
    with pytest.raises(ValueError, match="`ratings`"):
        models.Blend.fit(x, np.ones(3))
    with pytest.raises(ValueError, match="`ridge`"):
        models.Blend.fit(x, np.ones(4), ridge=-1.0)
    with pytest.raises(ValueError, match="`predictions`"):
        models.Blend.fit(x + np.nan, np.ones(4))
    blend = models.Blend.fit(np.arange(8.0).reshape(4, 2), np.arange(4.0), ridge=1.0)
    with pytest.raises(ValueError, match="`predictions`"):
        blend.predict(np.ones((4, 3)))
