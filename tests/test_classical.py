"""Item-kNN, EASE and implicit ALS against references we did not write the same way: per-column
least squares (numpy), a double loop of the cosine definition, a hand-worked case, jax.grad of the
weighted loss, and the `implicit` package."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from recsys_lite import models


def _frame(x: np.ndarray, duplicate: bool = True) -> pd.DataFrame:
    """The interactions of a binary matrix, with every pair of the first row listed twice."""
    users, items = np.nonzero(x)
    frame = pd.DataFrame({"user": users, "item": items})
    return pd.concat([frame, frame[frame.user == users[0]]], ignore_index=True) if duplicate else frame


def _random_matrix(n_users=30, n_items=12, density=0.3, seed=0) -> np.ndarray:
    x = (np.random.default_rng(seed).random((n_users, n_items)) < density).astype(np.float64)
    x[0, :3] = 1.0
    return x


def _rel(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(np.asarray(b))))


# --- EASE ---------------------------------------------------------------------------------------------

def test_ease_columns_are_least_squares_without_the_items_own_column():
    x = _random_matrix()
    reg = 3.0
    model = models.EASE.fit(_frame(x), *x.shape, reg=reg)
    b = np.asarray(model.weights)
    assert np.all(np.diag(b) == 0.0)
    for j in range(x.shape[1]):
        others = np.delete(np.arange(x.shape[1]), j)
        xo = x[:, others]
        ref = np.linalg.solve(xo.T @ xo + reg * np.eye(len(others)), xo.T @ x[:, j])
        assert _rel(b[others, j], ref) < 1e-5, j
    users = jnp.arange(x.shape[0])
    assert _rel(model.scores({"user": users}), x @ b) < 1e-6
    pairs = {"user": jnp.array([0, 5, 7]), "item": jnp.array([1, 0, 11])}
    assert _rel(model.score(pairs), (x @ b)[[0, 5, 7], [1, 0, 11]]) < 1e-6


def test_duplicate_rows_count_once_and_models_are_jittable():
    x = _random_matrix(seed=3)
    users = jnp.arange(x.shape[0])
    for fit in (lambda f: models.EASE.fit(f, *x.shape, reg=2.0),
                lambda f: models.ItemKNN.fit(f, *x.shape, neighbours=4),
                lambda f: models.ImplicitALS.fit(f, *x.shape, factors=4, iterations=3)):
        once, twice = fit(_frame(x, duplicate=False)), fit(_frame(x, duplicate=True))
        assert np.array_equal(once.scores({"user": users}), twice.scores({"user": users}))
        jitted = jax.jit(lambda m, b: m.scores(b))(once, {"user": users})
        assert _rel(jitted, once.scores({"user": users})) < 1e-6
        pair = {"user": jnp.array([1, 2]), "item": jnp.array([3, 4])}
        expected = once.scores({"user": pair["user"]})[jnp.array([0, 1]), jnp.array([3, 4])]
        assert _rel(jax.jit(lambda m, b: m.score(b))(once, pair), expected) < 1e-5


# --- ItemKNN --------------------------------------------------------------------------------------------

def test_itemknn_hand_worked_4x4():
    # items 0, 1 always together; item 2 with 0 once; item 3 alone
    x = np.array([[1, 1, 0, 0], [1, 1, 1, 0], [0, 0, 1, 0], [0, 0, 0, 1]], float)
    model = models.ItemKNN.fit(_frame(x), 4, 4, neighbours=3)
    # ‖x_0‖ = ‖x_1‖ = ‖x_2‖ = √2, ‖x_3‖ = 1; x_0·x_1 = 2, x_0·x_2 = x_1·x_2 = 1
    expected = np.array([[0, 1, 0.5, 0], [1, 0, 0.5, 0], [0.5, 0.5, 0, 0], [0, 0, 0, 0]])
    assert np.allclose(model.similarity, expected)
    # user 2 has only item 2: s = S_2· = (0.5, 0.5, 0, 0)
    assert np.allclose(model.scores({"user": jnp.array([2])}), [[0.5, 0.5, 0, 0]])
    # one neighbour each: item 2 keeps one of its two equal neighbours (0.5), items 0, 1 each other
    one = np.asarray(models.ItemKNN.fit(_frame(x), 4, 4, neighbours=1).similarity)
    assert np.count_nonzero(one[:2]) == 2 and one[0, 1] == one[1, 0] == 1.0
    assert np.isclose(one[2].sum(), 0.5) and np.count_nonzero(one[2]) == 1
    # shrink: S_01 = 2 / (√2·√2 + 1)
    assert np.isclose(models.ItemKNN.fit(_frame(x), 4, 4, shrink=1.0).similarity[0, 1], 2 / 3)


def test_itemknn_equals_a_double_loop_of_the_cosine_and_keeps_k_per_item():
    x = _random_matrix(40, 15, 0.25, seed=1)
    x[:, 14] = 0.0  # an item nobody has: similarity 0, not NaN
    shrink, k = 2.0, 5
    ref = np.zeros((15, 15))
    for j in range(15):
        for i in range(15):
            if i != j:
                denom = np.sqrt(x[:, j] @ x[:, j]) * np.sqrt(x[:, i] @ x[:, i]) + shrink
                ref[j, i] = (x[:, j] @ x[:, i]) / denom
    full = np.asarray(models.ItemKNN.fit(_frame(x), 40, 15, neighbours=100, shrink=shrink).similarity)
    assert _rel(full, ref) < 1e-6
    top = models.ItemKNN.fit(_frame(x), 40, 15, neighbours=k, shrink=shrink)
    s = np.asarray(top.similarity)
    for j in range(15):
        kept = np.flatnonzero(s[j])
        assert len(kept) <= k and np.all(s[j, kept] == pytest.approx(ref[j, kept], rel=1e-6))
        # the k kept are the k largest: every dropped entry is ≤ the smallest kept one
        threshold = np.sort(np.delete(ref[j], j))[-k]
        assert np.all(np.delete(s[j], j)[np.delete(ref[j], j) > threshold] > 0)
        assert np.sum(s[j] > 0) == min(k, np.sum(np.delete(ref[j], j) > 0))
    # exactly k per item where ties at zero do not hide it: a dense matrix
    dense = (np.random.default_rng(2).random((50, 10)) < 0.7).astype(float)
    s = np.asarray(models.ItemKNN.fit(_frame(dense), 50, 10, neighbours=4).similarity)
    assert np.all(np.count_nonzero(s, axis=1) == 4) and np.all(np.diag(s) == 0)
    assert _rel(top.scores({"user": jnp.arange(40)}), x @ np.asarray(top.similarity)) < 1e-6


# --- ImplicitALS ---------------------------------------------------------------------------------------

def _als_loss(p, y, x, reg, alpha):
    """Σ_ui c_ui (p_ui − x_u y_iᵀ)² + λ(‖X‖² + ‖Y‖²) over every cell, written from the definition."""
    c = 1.0 + alpha * x
    return jnp.sum(c * (x - p @ y.T) ** 2) + reg * (jnp.sum(p ** 2) + jnp.sum(y ** 2))


def test_als_half_step_is_the_exact_minimiser_and_the_loss_never_increases():
    x = _random_matrix(25, 18, 0.3, seed=4)
    reg, alpha, k = 0.5, 5.0, 4
    y = jax.random.normal(jax.random.key(1), (18, k))
    p = models.als_half_step(x, y, reg=reg, alpha=alpha)
    grad_p = jax.grad(_als_loss)(p, y, x, reg, alpha)
    scale = jnp.max(jnp.abs(jax.grad(_als_loss)(jnp.zeros_like(p), y, x, reg, alpha)))
    assert float(jnp.max(jnp.abs(grad_p)) / scale) < 1e-4
    y2 = models.als_half_step(x.T, p, reg=reg, alpha=alpha)
    grad_y = jax.grad(_als_loss, argnums=1)(p, y2, x, reg, alpha)
    scale = jnp.max(jnp.abs(jax.grad(_als_loss, argnums=1)(p, jnp.zeros_like(y2), x, reg, alpha)))
    assert float(jnp.max(jnp.abs(grad_y)) / scale) < 1e-4
    losses = []
    for iterations in range(1, 7):
        m = models.ImplicitALS.fit(_frame(x), 25, 18, factors=k, reg=reg, alpha=alpha, iterations=iterations, seed=2)
        losses.append(float(_als_loss(m.user_embedding.table, m.item_embedding.table, x, reg, alpha)))
    assert all(b <= a * (1 + 1e-6) for a, b in zip(losses, losses[1:])), losses
    again = models.ImplicitALS.fit(_frame(x), 25, 18, factors=k, reg=reg, alpha=alpha, iterations=6, seed=2)
    assert np.array_equal(again.item_embedding.table, m.item_embedding.table)  # deterministic given seed
    assert _rel(m.scores({"user": jnp.arange(25)}), m.user_embedding.table @ m.item_embedding.table.T) < 1e-6


@pytest.mark.filterwarnings("ignore:OpenBLAS is configured")
def test_als_matches_the_implicit_package_for_one_iteration():
    als = pytest.importorskip("implicit.cpu.als")
    sparse = pytest.importorskip("scipy.sparse")
    x = _random_matrix(30, 20, 0.3, seed=5).astype(np.float32)
    reg, alpha, k = 0.3, 4.0, 5
    rng = np.random.default_rng(0)
    p0, y0 = rng.random((30, k), np.float32) * 0.01, rng.random((20, k), np.float32) * 0.01
    # implicit's confidence is its alpha times the matrix entry (c = 1 + α here, so its alpha = 1 + α);
    # its solve is A = YᵀY + λI + Σ (c − 1) y_iᵀ y_i, b = Σ c y_i: the same system
    ref = als.AlternatingLeastSquares(factors=k, regularization=reg, alpha=1.0 + alpha, iterations=1, use_cg=False,
                                      calculate_training_loss=False, random_state=0)
    ref.user_factors, ref.item_factors = p0.copy(), y0.copy()
    ref.fit(sparse.csr_matrix(x), show_progress=False)
    p = models.als_half_step(x, y0, reg=reg, alpha=alpha)
    y = models.als_half_step(x.T, p, reg=reg, alpha=alpha)
    assert _rel(p, ref.user_factors) < 1e-4
    assert _rel(y, ref.item_factors) < 1e-4


# --- ItemKNN over a window of recent items ---------------------------------------------------------------

def _window_model_and_history(seed=3):
    x = _random_matrix(25, 11, 0.35, seed=seed)
    model = models.ItemKNN.fit(_frame(x), 25, 11, neighbours=4)
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 6, size=25)  # 0: an empty window (all padding)
    history = np.where(np.arange(5) < lengths[:, None], rng.integers(0, 11, size=(25, 5)), 11).astype(np.int32)
    return model, history


def test_item_knn_window_is_the_sum_of_the_rows_of_its_real_items():
    """Against the two implementations it replaces (chapter 8's LastFilmsKNN, chapter 9's knn_rows: the
    similarity rows gathered from a table with a zero row for the padding id and summed) and a loop by hand."""
    model, history = _window_model_and_history()
    users = jnp.arange(25)
    got = np.asarray(model.scores({"user": users, "history": history}))
    table = jnp.concatenate([model.similarity, jnp.zeros((1, 11))])  # the pages' copy: padding id -> a zero row
    assert np.array_equal(got, np.asarray(table[history].sum(axis=1)))  # the same float32 sums, bit for bit
    s = np.asarray(model.similarity, np.float64)
    by_hand = np.array([sum((s[j] for j in row if j < 11), np.zeros(11)) for row in history])
    assert _rel(got, by_hand) < 1e-6
    assert np.allclose(got[history[:, 0] == 11], 0.0)  # an empty window scores nothing
    items = np.arange(25) % 11
    pairs = np.asarray(model.score({"user": users, "item": jnp.asarray(items), "history": history}))
    assert np.array_equal(pairs, got[np.arange(25), items])
    jitted = jax.jit(lambda m, b: m.scores(b))(model, {"user": users, "history": jnp.asarray(history)})
    assert np.array_equal(np.asarray(jitted), got)


def test_item_knn_window_holding_every_fitted_item_gives_the_whole_history_scores():
    x = _random_matrix(25, 11, 0.35, seed=4)
    model = models.ItemKNN.fit(_frame(x, duplicate=False), 25, 11, neighbours=4)
    width = int(x.sum(axis=1).max())
    history = np.full((25, width), 11, np.int32)
    for u in range(25):  # every item of the user, in a shuffled order: the window is a set
        items = np.random.default_rng(u).permutation(np.flatnonzero(x[u]))
        history[u, :len(items)] = items
    whole = np.asarray(model.scores({"user": jnp.arange(25)}))
    window = np.asarray(model.scores({"user": jnp.arange(25), "history": history}))
    assert _rel(window, whole) < 1e-6  # float32 sums in another order


# --- bad input ------------------------------------------------------------------------------------------

X4 = pd.DataFrame({"user": [0, 1, 2], "item": [0, 1, 2]})
EASE4 = models.EASE.fit(X4, 3, 4)
KNN4 = models.ItemKNN.fit(X4, 3, 4)
ALS4 = models.ImplicitALS.fit(X4, 3, 4, factors=2, iterations=1)


@pytest.mark.parametrize("call, error, words", [
    (lambda: models.EASE.fit(X4.values, 3, 4), TypeError, "`interactions` must be a pandas DataFrame"),
    (lambda: models.EASE.fit(X4.rename(columns={"item": "film"}), 3, 4), ValueError,
     r"`interactions` lacks the column\(s\) \['item'\]"),
    (lambda: models.EASE.fit(X4.iloc[:0], 3, 4), ValueError, "`interactions` must hold at least one row"),
    (lambda: models.EASE.fit(X4, 3, 2), ValueError, r"`interactions\['item'\]` holds ids out of range.*< 2"),
    (lambda: models.EASE.fit(X4, 0, 4), ValueError, "`n_users` must be a positive integer; got 0"),
    (lambda: models.EASE.fit(X4, 3, 4, reg=0.0), ValueError, "`reg` must be a finite number > 0; got 0.0"),
    (lambda: models.EASE.fit(X4.assign(user=[0.5, 1, 2]), 3, 4), TypeError, r"`interactions\['user'\]` must hold "
     "integer ids"),
    (lambda: models.ItemKNN.fit(X4, 3, 4, neighbours=0), ValueError, "`neighbours` must be a positive integer"),
    (lambda: models.ItemKNN.fit(X4, 3, 4, neighbours=2.5), TypeError, "`neighbours` must be a positive integer"),
    (lambda: models.ItemKNN.fit(X4, 3, 4, shrink=-1), ValueError, "`shrink` must be a finite number >= 0; got -1"),
    (lambda: models.ImplicitALS.fit(X4, 3, 4, factors=0), ValueError, "`factors` must be a positive integer"),
    (lambda: models.ImplicitALS.fit(X4, 3, 4, iterations=1.0), TypeError, "`iterations` must be a positive integer"),
    (lambda: models.ImplicitALS.fit(X4, 3, 4, reg=0), ValueError, "`reg` must be a finite number > 0"),
    (lambda: models.ImplicitALS.fit(X4, 3, 4, alpha=-1.0), ValueError, "`alpha` must be a finite number >= 0"),
    (lambda: models.ImplicitALS.fit(X4, 3, 4, seed=-3), ValueError, "`seed` must be an integer >= 0; got -3"),
    (lambda: models.als_half_step(np.ones((3, 4)), np.ones((5, 2))), ValueError, r"`fixed` must have shape \(4, d\)"),
    (lambda: models.als_half_step(np.ones(3), np.ones((3, 2))), ValueError, "`x` must have 2 dimension"),
    (lambda: models.als_half_step(np.ones((3, 4)), np.full((4, 2), np.nan)), ValueError, "`fixed` must be finite"),
    (lambda: EASE4.scores({"user": jnp.array([3])}), ValueError, r"`batch\['user'\]` holds ids out of range.*< 3"),
    (lambda: EASE4.scores({"item": jnp.array([0])}), ValueError, r"`batch` lacks the key\(s\) \['user'\]"),
    (lambda: EASE4.score({"user": jnp.array([0]), "item": jnp.array([0.5])}), TypeError,
     r"`batch\['item'\]` must hold integer ids"),
    (lambda: EASE4.score({"user": jnp.array([0, 1]), "item": jnp.array([0])}), ValueError, "must have the same shape"),
    (lambda: KNN4.scores({"user": jnp.array([[0]])}), ValueError, r"`batch\['user'\]` must have 1 dimension"),
    (lambda: KNN4.score({"user": jnp.array([0]), "item": jnp.array([4])}), ValueError,
     r"`batch\['item'\]` holds ids out of range.*< 4"),
    (lambda: KNN4.scores({"user": jnp.array([0, 1]), "history": jnp.array([[0, 4]])}), ValueError,
     r"`batch\['history'\]` must have one row per user \(2\)"),
    (lambda: KNN4.scores({"user": jnp.array([0]), "history": jnp.array([[0, 5]])}), ValueError,
     r"`batch\['history'\]` holds ids out of range"),
    (lambda: KNN4.scores({"user": jnp.array([0]), "history": jnp.array([0, 1])}), ValueError,
     r"`batch\['history'\]` must have 2 dimension"),
    (lambda: KNN4.score({"user": jnp.array([0]), "item": jnp.array([1]), "history": jnp.array([[0.5]])}),
     TypeError, r"`batch\['history'\]` must hold integer ids"),
    (lambda: ALS4.scores({"user": jnp.array([-1])}), ValueError, r"`batch\['user'\]` holds ids out of range"),
    (lambda: ALS4.score([0, 1]), TypeError, "`batch` must be a dict of arrays"),
    (lambda: models.interaction_matrix(X4, 3, "4"), TypeError, "`n_items` must be a positive integer; got str"),
])
def test_classical_models_refuse_bad_input(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_users_and_items_without_interactions_score_finitely_and_models_save_and_load(tmp_path):
    x = _random_matrix(20, 10, 0.3, seed=6)
    x[3] = 0.0      # a user with no interactions
    x[:, 7] = 0.0   # an item nobody has
    frame = _frame(x)
    fitted = [models.EASE.fit(frame, 20, 10, reg=1.0), models.ItemKNN.fit(frame, 20, 10, neighbours=3),
              models.ImplicitALS.fit(frame, 20, 10, factors=3, iterations=2)]
    for model in fitted:
        s = np.asarray(model.scores({"user": jnp.arange(20)}))
        assert s.shape == (20, 10) and np.all(np.isfinite(s))
        assert np.allclose(s[3], 0.0) and np.allclose(s[:, 7], 0.0, atol=1e-6), type(model).__name__
        models.save_model(tmp_path / type(model).__name__, model)
        back = models.load_model(tmp_path / type(model).__name__, model)
        assert np.array_equal(back.scores({"user": jnp.arange(20)}), s)
