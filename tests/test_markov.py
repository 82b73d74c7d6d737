"""The first-order Markov chain against references written another way: transition counts from a plain
Python loop over each user's sorted history, the formula in float64 numpy, its two limits (α → ∞ is
popularity, α = 0 the normalised counts), and the user batch against the history batch."""

from __future__ import annotations

import jax
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys_lite import data, metrics, models

CLEAR = (TypeError, ValueError)


def _interactions(n_users=8, n_items=10, n_rows=120, n_times=15, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"user": rng.integers(0, n_users, n_rows), "item": rng.integers(0, n_items, n_rows),
                         "timestamp": 10 * rng.integers(0, n_times, n_rows)})


def _reference(frame: pd.DataFrame, n_users: int, n_items: int):
    """C, p and the last items by a Python loop over each user's history sorted by (time, row)."""
    counts = np.zeros((n_items, n_items))
    last = {}
    rows = sorted(range(len(frame)), key=lambda k: (frame.user.iat[k], frame.timestamp.iat[k], k))
    previous_user, previous_item = None, None
    for k in rows:
        user, item = int(frame.user.iat[k]), int(frame.item.iat[k])
        if user == previous_user:
            counts[previous_item, item] += 1
        previous_user, previous_item = user, item
        last[user] = item
    popularity = np.bincount(frame.item, minlength=n_items) / len(frame)
    return counts, popularity, last


def _formula(counts, popularity, last_item, alpha):
    """s_j = (C_ij + α p_j) / (Σ_k C_ik + α) in float64, p for no last item or 0 / 0."""
    if last_item is None or counts[last_item].sum() + alpha == 0:
        return popularity
    return (counts[last_item] + alpha * popularity) / (counts[last_item].sum() + alpha)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(1, 8), st.integers(1, 80), st.integers(1, 6), st.integers(0, 10_000),
       st.sampled_from([0.0, 0.5, 3.0, 100.0]))
def test_counts_and_scores_equal_a_python_loop(n_users, n_items, n_rows, n_times, seed, alpha):
    frame = _interactions(n_users, n_items, n_rows, n_times, seed)
    model = models.MarkovChain.fit(frame, n_users, n_items, smoothing=alpha)
    counts, popularity, last = _reference(frame, n_users, n_items)
    np.testing.assert_array_equal(np.asarray(model.transitions), counts)
    np.testing.assert_allclose(np.asarray(model.popularity), popularity, rtol=1e-6)
    assert np.asarray(model.last_item).tolist() == [last.get(u, n_items) for u in range(n_users)]
    users = np.arange(n_users)
    expected = np.stack([_formula(counts, popularity, last.get(u), alpha) for u in users])
    np.testing.assert_allclose(np.asarray(model.scores({"user": users})), expected, rtol=1e-5, atol=1e-7)


def test_rows_are_distributions_and_score_matches_scores():
    frame = _interactions()
    model = models.MarkovChain.fit(frame, 8, 10, smoothing=2.0)
    users = np.arange(8)
    table = np.asarray(model.scores({"user": users}))
    np.testing.assert_allclose(table.sum(axis=1), 1.0, rtol=1e-5)
    items = np.random.default_rng(1).integers(0, 10, 8)
    np.testing.assert_allclose(np.asarray(model.score({"user": users, "item": items})), table[users, items],
                               rtol=1e-6)


def test_large_smoothing_ranks_by_popularity():
    frame = _interactions(n_rows=300)
    popular = models.Popularity.fit(frame, 10)
    users = np.arange(8)
    pop = np.asarray(popular.scores({"user": users}))
    for alpha in (1e4, 1e6):
        table = np.asarray(models.MarkovChain.fit(frame, 8, 10, smoothing=alpha).scores({"user": users}))
        # wherever popularity orders two items, the chain orders them the same way
        for row, ref in zip(table, pop):
            assert np.all((ref[:, None] > ref[None, :]) <= (row[:, None] > row[None, :]))
    far = np.asarray(models.MarkovChain.fit(frame, 8, 10, smoothing=1e6).scores({"user": users}))
    share = pop / pop.sum(axis=1, keepdims=True)
    rel = np.max(np.abs(far - share)) / np.max(share)
    assert rel < 1e-3, rel


def test_zero_smoothing_is_the_normalised_transition_counts():
    frame = _interactions(n_rows=300)
    model = models.MarkovChain.fit(frame, 8, 10, smoothing=0.0)
    counts, popularity, last = _reference(frame, 8, 10)
    users = np.array(sorted(last))
    table = np.asarray(model.scores({"user": users}))
    for row, user in zip(table, users):
        total = counts[last[user]].sum()
        expected = counts[last[user]] / total if total else popularity  # never followed: popularity
        np.testing.assert_allclose(row, expected, rtol=1e-6)


def test_a_user_without_history_gets_popularity():
    frame = pd.DataFrame({"user": [0, 0, 0], "item": [2, 1, 2], "timestamp": [1, 2, 3]})
    model = models.MarkovChain.fit(frame, 3, 4, smoothing=1.0)
    np.testing.assert_allclose(np.asarray(model.scores({"user": np.array([1, 2])})),
                               np.tile([0, 1 / 3, 2 / 3, 0], (2, 1)), rtol=1e-6)
    empty = np.full((1, 3), 4)  # a history of padding only
    np.testing.assert_allclose(np.asarray(model.scores({"user": np.array([0]), "history": empty}))[0],
                               [0, 1 / 3, 2 / 3, 0], rtol=1e-6)
    # user 0's last item is 2, followed once by nothing… and 2 → 1 once: (C_2j + p_j) / (1 + 1)
    np.testing.assert_allclose(np.asarray(model.scores({"user": np.array([0])}))[0],
                               [0, (1 + 1 / 3) / 2, (2 / 3) / 2, 0], rtol=1e-6)


def test_history_batch_agrees_with_user_batch_and_is_jittable(ml100k_loo):
    split = ml100k_loo
    n_users, n_items = split.n_users, split.n_items
    model = models.MarkovChain.fit(split.train, n_users, n_items, smoothing=100.0)
    histories, _ = data.recent_items(*data.user_sequences(split.train, n_users, n_items), 5, pad_id=n_items)
    users = np.arange(n_users)
    by_user = np.asarray(model.scores({"user": users}))
    by_history = np.asarray(jax.jit(lambda m, u, h: m.scores({"user": u, "history": h}))(model, users, histories))
    np.testing.assert_allclose(by_history, by_user, rtol=1e-6)  # jit may round the last bit differently
    targets, exclude = split.targets("valid")[1], split.exclusions("valid")
    np.testing.assert_array_equal(metrics.target_ranks(by_user, targets, exclude),
                                  metrics.target_ranks(np.asarray(model.scores({"user": users, "history": histories})),
                                                       targets, exclude))
    # evaluated exactly like Caser; far better than popularity on the validation target
    valid_hist, _ = data.recent_items(*data.user_sequences(split.history("valid"), n_users, n_items), 5,
                                      pad_id=n_items)
    chain = metrics.evaluate_leave_one_out(lambda u: model.scores({"user": u, "history": valid_hist[u]}), split,
                                           "valid")
    popular = models.Popularity.fit(split.train, n_items)
    pop = metrics.evaluate_leave_one_out(lambda u: popular.scores({"user": u}), split, "valid")
    assert chain["NDCG@10"] > 1.5 * pop["NDCG@10"]


def test_with_smoothing_equals_a_refit_and_smoothing_can_be_traced():
    frame = _interactions()
    model = models.MarkovChain.fit(frame, 8, 10, smoothing=1.0)
    users = np.arange(8)
    refit = models.MarkovChain.fit(frame, 8, 10, smoothing=7.0)
    np.testing.assert_array_equal(np.asarray(model.with_smoothing(7.0).scores({"user": users})),
                                  np.asarray(refit.scores({"user": users})))
    traced = jax.jit(lambda a: model.with_smoothing(a).scores({"user": users}))(7.0)
    np.testing.assert_allclose(np.asarray(traced), np.asarray(refit.scores({"user": users})), rtol=1e-6)


def test_the_last_real_item_of_a_padded_history_is_used():
    frame = pd.DataFrame({"user": [0, 0, 0, 1], "item": [0, 1, 2, 1], "timestamp": [1, 2, 3, 1]})
    model = models.MarkovChain.fit(frame, 2, 3, smoothing=0.0)
    history = np.array([[2, 0, 3, 3], [0, 3, 3, 3], [2, 2, 2, 0]])  # last real items 0, 0, 0
    table = np.asarray(model.scores({"user": np.array([1, 1, 1]), "history": history}))
    np.testing.assert_allclose(table, np.tile([0, 1, 0], (3, 1)))  # 0 → 1 is the only transition from 0


# --- bad input --------------------------------------------------------------------------------------------

FRAME = _interactions()
MODEL = models.MarkovChain.fit(FRAME, 8, 10)
BAD = [
    (lambda: models.MarkovChain.fit(FRAME.drop(columns="timestamp"), 8, 10), ValueError, "`interactions` lacks"),
    (lambda: models.MarkovChain.fit(FRAME.to_numpy(), 8, 10), TypeError, "`interactions`"),
    (lambda: models.MarkovChain.fit(FRAME.iloc[:0], 8, 10), ValueError, "at least one row"),
    (lambda: models.MarkovChain.fit(FRAME, 8, 5), ValueError, "`interactions['item']`"),
    (lambda: models.MarkovChain.fit(FRAME, 3, 10), ValueError, "`interactions['user']`"),
    (lambda: models.MarkovChain.fit(FRAME, 0, 10), ValueError, "`n_users`"),
    (lambda: models.MarkovChain.fit(FRAME, 8, 10.0), TypeError, "`n_items`"),
    (lambda: models.MarkovChain.fit(FRAME, 8, 10, smoothing=-1.0), ValueError, "`smoothing`"),
    (lambda: models.MarkovChain.fit(FRAME, 8, 10, smoothing=float("nan")), ValueError, "`smoothing`"),
    (lambda: models.MarkovChain.fit(FRAME, 8, 10, smoothing="big"), TypeError, "`smoothing`"),
    (lambda: models.MarkovChain.fit(FRAME.assign(timestamp=FRAME.timestamp * 1.0), 8, 10), TypeError,
     "`interactions['timestamp']`"),
    (lambda: MODEL.with_smoothing(-2), ValueError, "`smoothing`"),
    (lambda: MODEL.scores([0, 1]), TypeError, "`batch`"),
    (lambda: MODEL.scores({"history": np.zeros((1, 3), int)}), ValueError, "`batch` lacks"),
    (lambda: MODEL.scores({"user": np.array([8])}), ValueError, "`batch['user']`"),
    (lambda: MODEL.scores({"user": np.array([0.5])}), TypeError, "`batch['user']`"),
    (lambda: MODEL.scores({"user": 0}), ValueError, "`batch['user']`"),
    (lambda: MODEL.scores({"user": np.array([0]), "history": np.array([[11, 1]])}), ValueError,
     "`batch['history']`"),
    (lambda: MODEL.scores({"user": np.array([0]), "history": np.array([1, 2])}), ValueError, "`batch['history']`"),
    (lambda: MODEL.scores({"user": np.array([0, 1]), "history": np.array([[1, 2]])}), ValueError,
     "`batch['history']`"),
    (lambda: MODEL.score({"user": np.array([0])}), ValueError, "`batch` lacks"),
    (lambda: MODEL.score({"user": np.array([0]), "item": np.array([10])}), ValueError, "`batch['item']`"),
    (lambda: MODEL.score({"user": np.array([0, 1]), "item": np.array([1])}), ValueError, "shape"),
]


@pytest.mark.parametrize("call, error, words", BAD)
def test_bad_input_is_refused_with_a_clear_message(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert error in CLEAR and words in str(info.value), str(info.value)


def test_scores_under_jit_check_shapes():
    with pytest.raises(ValueError, match="batch\\['history'\\]"):
        jax.jit(lambda h: MODEL.scores({"user": np.array([0, 1]), "history": h}))(np.zeros((3, 2), np.int32))
