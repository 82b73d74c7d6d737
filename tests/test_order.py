"""``data.timestamp_gaps`` and ``data.shuffle_order`` against references written another way: a pandas
groupby-diff, plain Python loops over each user's sorted rows, and invariants drawn by hypothesis."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys_lite import data

CLEAR = (TypeError, ValueError)


def _ratings(n_users=6, n_items=15, n_rows=80, n_times=8, seed=0) -> pd.DataFrame:
    """Random ratings with many tied timestamps (few distinct times), in random row order, with an extra column."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "user": rng.integers(0, n_users, n_rows),
        "item": rng.integers(0, n_items, n_rows),
        "rating": rng.integers(1, 6, n_rows),
        "timestamp": 1000 + 30 * rng.integers(0, n_times, n_rows),
        "tag": [f"row{k}" for k in range(n_rows)],  # identifies a row: every column must travel with its item
    })


frames = st.builds(_ratings, n_users=st.integers(1, 5), n_items=st.integers(1, 9), n_rows=st.integers(1, 60),
                   n_times=st.integers(1, 6), seed=st.integers(0, 10_000))


def _histories(frame: pd.DataFrame) -> dict[int, list[tuple]]:
    """Each user's rows in time order, ties by row order: a plain Python stable sort, not ``time_order``."""
    out: dict[int, list[tuple]] = {}
    for _, row in sorted(enumerate(frame.itertuples(index=False)), key=lambda p: (p[1].user, p[1].timestamp,
                                                                                         p[0])):
        out.setdefault(row.user, []).append(row)
    return out


# --- timestamp_gaps -------------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(frames)
def test_gaps_equal_a_pandas_groupby_diff(frame):
    reference = (frame.sort_values(["user", "timestamp"], kind="stable").groupby("user")["timestamp"].diff()
                 .dropna().to_numpy().astype(np.int64))
    gaps = data.timestamp_gaps(frame)
    assert gaps.dtype == np.int64
    assert len(gaps) == len(frame) - frame["user"].nunique()
    np.testing.assert_array_equal(gaps, reference)


def test_gaps_by_hand():
    frame = pd.DataFrame({"user": [1, 0, 1, 0, 1], "item": [0, 1, 2, 3, 4], "timestamp": [50, 10, 40, 10, 100]})
    np.testing.assert_array_equal(data.timestamp_gaps(frame), [0, 10, 50])


def test_movielens_shares(ml100k):
    gaps = data.timestamp_gaps(ml100k.ratings)
    assert len(gaps) == 100_000 - 943
    assert 0.5 < (gaps == 0).mean() < 0.52  # the 51 %
    assert 0.85 < (gaps <= 60).mean() < 0.87  # and 86 % within a minute


# --- shuffle_order ----------------------------------------------------------------------------------------

SCOPES = [("ties", None), ("blocks", 1), ("blocks", 3), ("all", None)]


@settings(max_examples=40, deadline=None)
@given(frames, st.sampled_from(SCOPES), st.integers(0, 2**31))
def test_shuffle_keeps_each_users_rows_and_timestamps(frame, scope_block, seed):
    scope, block = scope_block
    out = data.shuffle_order(frame, scope=scope, seed=seed, block=block)
    assert list(out.columns) == list(frame.columns) and len(out) == len(frame)
    before, after = _histories(frame), _histories(out)
    assert sorted(before) == sorted(after)
    for user in before:
        # timestamps unchanged position by position; the rows (everything but the timestamp) the same multiset
        assert [r.timestamp for r in after[user]] == [r.timestamp for r in before[user]]
        assert sorted(r.tag for r in after[user]) == sorted(r.tag for r in before[user])
        rows = {r.tag: (r.item, r.rating) for r in before[user]}
        assert all(rows[r.tag] == (r.item, r.rating) for r in after[user])  # columns travel together
    # the result is already in time order, so every reader sees the order it holds
    np.testing.assert_array_equal(data.dataset.time_order(out), np.arange(len(out)))


@settings(max_examples=40, deadline=None)
@given(frames, st.integers(0, 2**31))
def test_ties_only_permute_within_equal_user_and_timestamp(frame, seed):
    out = data.shuffle_order(frame, scope="ties", seed=seed)
    before, after = _histories(frame), _histories(out)
    for user in before:
        original_time = {r.tag: r.timestamp for r in before[user]}
        assert all(original_time[r.tag] == r.timestamp for r in after[user])  # no row left its timestamp


@settings(max_examples=40, deadline=None)
@given(frames, st.integers(1, 5), st.integers(0, 2**31))
def test_blocks_only_permute_within_blocks(frame, block, seed):
    out = data.shuffle_order(frame, scope="blocks", seed=seed, block=block)
    before, after = _histories(frame), _histories(out)
    for user in before:
        block_of = {r.tag: k // block for k, r in enumerate(before[user])}
        assert all(block_of[r.tag] == k // block for k, r in enumerate(after[user]))


def test_block_of_one_changes_nothing():
    frame = _ratings()
    out = data.shuffle_order(frame, scope="blocks", block=1, seed=3)
    reference = frame.iloc[data.dataset.time_order(frame)].reset_index(drop=True)
    pd.testing.assert_frame_equal(out, reference)


@pytest.mark.parametrize("scope, block", [("ties", None), ("blocks", 4), ("all", None)])
def test_shuffle_is_deterministic_per_seed_and_seeds_differ(scope, block):
    frame = _ratings(n_rows=400, n_times=20)
    first = data.shuffle_order(frame, scope=scope, seed=7, block=block)
    pd.testing.assert_frame_equal(first, data.shuffle_order(frame, scope=scope, seed=7, block=block))
    other = data.shuffle_order(frame, scope=scope, seed=8, block=block)
    assert not first["tag"].equals(other["tag"])


def test_all_moves_items_across_timestamps_and_user_sequences_reads_the_new_order():
    frame = _ratings(n_users=2, n_rows=200, n_times=50)
    out = data.shuffle_order(frame, scope="all", seed=0)
    before, after = _histories(frame), _histories(out)
    moved = sum(a.tag != b.tag for user in before for a, b in zip(before[user], after[user]))
    assert moved > 150
    items, lengths = data.user_sequences(out, 2, 15)
    for user in after:
        assert items[user, : lengths[user]].tolist() == [r.item for r in after[user]]


def test_shuffling_the_training_table_keeps_the_leave_one_out_targets(ml100k_loo):
    split = ml100k_loo
    shuffled = data.shuffle_order(split.train, scope="all", seed=0)
    assert len(shuffled) == len(split.train)
    assert (data.timestamp_gaps(shuffled) == data.timestamp_gaps(split.train)).all()
    a = shuffled.sort_values(["user", "item"]).reset_index(drop=True).drop(columns="timestamp")
    b = split.train.sort_values(["user", "item"]).reset_index(drop=True).drop(columns="timestamp")
    pd.testing.assert_frame_equal(a, b)


# --- bad input --------------------------------------------------------------------------------------------

GOOD = _ratings(n_rows=10)
BAD = [
    (lambda: data.timestamp_gaps([1, 2]), TypeError, "`ratings`"),
    (lambda: data.timestamp_gaps(GOOD.drop(columns="timestamp")), ValueError, "`ratings` lacks"),
    (lambda: data.timestamp_gaps(GOOD.iloc[:0]), ValueError, "at least one row"),
    (lambda: data.timestamp_gaps(GOOD.assign(timestamp=GOOD.timestamp * 1.0)), TypeError, "`ratings['timestamp']`"),
    (lambda: data.timestamp_gaps(GOOD.assign(user=-GOOD.user - 1)), ValueError, "`ratings['user']`"),
    (lambda: data.shuffle_order(GOOD.drop(columns="item"), scope="all"), ValueError, "`ratings` lacks"),
    (lambda: data.shuffle_order(GOOD, scope="session"), ValueError, "`scope` must be one of"),
    (lambda: data.shuffle_order(GOOD, scope=None), ValueError, "`scope` must be one of"),
    (lambda: data.shuffle_order(GOOD), TypeError, "scope"),  # keyword-only and required
    (lambda: data.shuffle_order(GOOD, scope="all", seed=-1), ValueError, "`seed`"),
    (lambda: data.shuffle_order(GOOD, scope="all", seed=1.5), TypeError, "`seed`"),
    (lambda: data.shuffle_order(GOOD, scope="blocks"), ValueError, "`block` must be a positive integer"),
    (lambda: data.shuffle_order(GOOD, scope="blocks", block=0), ValueError, "`block`"),
    (lambda: data.shuffle_order(GOOD, scope="blocks", block=2.0), TypeError, "`block`"),
    (lambda: data.shuffle_order(GOOD, scope="ties", block=3), ValueError, "only used with scope='blocks'"),
    (lambda: data.shuffle_order(GOOD.assign(item=GOOD.item + 0.5), scope="all"), TypeError, "`ratings['item']`"),
]


@pytest.mark.parametrize("call, error, words", BAD)
def test_bad_input_is_refused_with_a_clear_message(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert error in CLEAR and words in str(info.value), str(info.value)
