"""Per-user item sequences, and the windows and examples that sequence models train on.

One padding convention throughout: a sequence is left-aligned, oldest
first, padded on the right with ``pad_id`` (by default ``n_items``, so that
an embedding table with ``n_items + 1`` rows keeps its last row for
padding), and its length travels beside it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys_lite._checks import as_array, check_ids, check_int_in_range, check_lengths, check_ndim, check_size
from recsys_lite.data.dataset import check_ratings, time_order

__all__ = ["user_sequences", "recent_items", "next_item_examples", "sequence_windows"]


def user_sequences(ratings: pd.DataFrame, n_users: int, n_items: int, *, max_len: int | None = None,
                   pad_id: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each user's items in time order (ties by row order), as a padded array.

    Returns ``(items, lengths)``: ``items`` has shape ``(n_users, L)`` with the
    user's items left-aligned, oldest first, and ``pad_id`` after them
    (default ``n_items``: an embedding table with ``n_items + 1`` rows keeps
    its last row for padding); ``lengths`` has shape ``(n_users,)``. With
    ``max_len``, only each user's most recent ``max_len`` items are kept.

    Raises:
        TypeError, ValueError: ``ratings`` not a DataFrame with columns user,
            item, timestamp; ids out of range; sizes or ``max_len`` not
            positive integers; ``pad_id`` not an integer >= ``n_items`` (a
            smaller one would be taken for a real item).
    """
    n_users, n_items = check_size("n_users", n_users), check_size("n_items", n_items)
    check_ratings("ratings", ratings, ("user", "item", "timestamp"), n_users, n_items)
    max_len = None if max_len is None else check_size("max_len", max_len)
    pad_id = n_items if pad_id is None else pad_id
    check_int_in_range("pad_id", pad_id, n_items)
    ordered = ratings.iloc[time_order(ratings)]
    user, item = ordered["user"].to_numpy(), ordered["item"].to_numpy()
    lengths = np.bincount(user, minlength=n_users)
    position = np.arange(len(user)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    padded = np.full((n_users, int(lengths.max())), pad_id, dtype=np.int32)
    padded[user, position] = item
    if max_len is not None:  # each user's most recent max_len items, still left-aligned
        return _windows(padded, np.arange(n_users), lengths, min(max_len, int(lengths.max())), pad_id)
    return padded, lengths.astype(np.int32)


def _check_sequences(items, lengths, window: int, pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """``items`` (n_users, L) and ``lengths`` (n_users,) as from :func:`user_sequences`, checked, as arrays."""
    items = np.asarray(as_array("items", items))
    check_ndim("items", items, 2, "(n_users, L) item ids padded after each sequence, as from user_sequences")
    lengths = np.asarray(as_array("lengths", lengths))
    check_lengths("lengths", lengths, items.shape[:1], items.shape[1])
    check_size("window", window)
    check_int_in_range("pad_id", pad_id, 0)
    real = items[np.arange(items.shape[1])[None, :] < lengths[:, None]]
    check_ids("items", real, None, "items")  # integer ids >= 0
    if (real == pad_id).any():
        raise ValueError(f"`pad_id` must differ from every real item id; got {pad_id}, which `items` holds "
                         "within the lengths (pick an id no item has, such as n_items).")
    return items, lengths


def _windows(items: np.ndarray, rows: np.ndarray, stops: np.ndarray, window: int, pad_id: int):
    """``(history (K, window), length (K,))``: ``items[rows[k], stops[k] - length[k]:stops[k]]``, right-padded."""
    length = np.minimum(stops, window)
    column = (stops - length)[:, None] + np.arange(window)[None, :]
    padded = np.concatenate([items, np.full((len(items), window), pad_id, items.dtype)], axis=1)
    history = np.where(np.arange(window)[None, :] < length[:, None], padded[rows[:, None], column], pad_id)
    return history.astype(np.int32), length.astype(np.int32)


def recent_items(items: np.ndarray, lengths: np.ndarray, window: int, *, pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Each user's last ``window`` items: (n_users, L) → ``(history (n_users, window), length (n_users,))``.

    ``items``/``lengths`` as returned by :func:`user_sequences`. The items are
    left-aligned, oldest first, as in :func:`user_sequences`; a user with
    fewer than ``window`` items is padded with ``pad_id`` on the right, and
    ``length = min(lengths, window)`` says how many are real, so the most
    recent item is ``history[u, length[u] - 1]``.

    Raises:
        TypeError, ValueError: ``items`` not a 2-D integer array; ``lengths``
            not one integer in [0, L] per row; ``window`` not a positive
            integer; ``pad_id`` not an integer >= 0 or equal to a real item.
    """
    items, lengths = _check_sequences(items, lengths, window, pad_id)
    return _windows(items, np.arange(len(lengths)), lengths, window, pad_id)


def next_item_examples(items: np.ndarray, lengths: np.ndarray, window: int, *, pad_id: int) -> dict[str, np.ndarray]:
    """Training examples for next-item prediction: (user, the previous ``window`` items) → next item.

    For every position t ≥ 1 of every user's sequence, the history is the
    ``min(t, window)`` items before t, left-aligned (oldest first) and padded
    with ``pad_id`` on the right, as :func:`recent_items` pads; the target is
    the item at t. Returns a dict of int32 arrays ``user`` (N,), ``history``
    (N, window), ``length`` (N,) (the real items in ``history``) and ``item`` (N,).

    Raises:
        TypeError, ValueError: as :func:`recent_items`.
    """
    items, lengths = _check_sequences(items, lengths, window, pad_id)
    count = np.maximum(lengths.astype(np.int64) - 1, 0)  # targets per user: positions 1 … length - 1
    users = np.repeat(np.arange(len(lengths)), count)
    t = 1 + np.arange(len(users)) - np.repeat(np.cumsum(count) - count, count)
    history, length = _windows(items, users, t, window, pad_id)
    return {"user": users.astype(np.int32), "history": history, "length": length,
            "item": items[users, t].astype(np.int32)}


def sequence_windows(items: np.ndarray, lengths: np.ndarray, window: int, *, pad_id: int) -> dict[str, np.ndarray]:
    """Cut each user's sequence into windows of ``window + 1`` items, newest first, overlapping by one item.

    The training data of a many-to-many recurrent model (chapter 7): in a
    window i_1 … i_{T+1}, each of i_2 … i_{T+1} is the target of the items
    before it. Window ends go back from each user's last item in steps of
    ``window``, so every item after a user's first is a target exactly once.
    ``items`` (n_users, L) and ``lengths`` (n_users,) as from
    :func:`user_sequences` → ``{"history": (N, window + 1)`` left-aligned,
    padded with ``pad_id``; ``"length": (N,)}`` int32 (the model protocol's keys).

    Raises:
        TypeError, ValueError: as :func:`recent_items`.
    """
    items, lengths = _check_sequences(items, lengths, window, pad_id)
    ends = [np.arange(int(n), 1, -window) for n in lengths]  # each user's window ends, newest first
    users = np.repeat(np.arange(len(lengths)), [len(e) for e in ends])
    history, length = _windows(items, users, np.concatenate([np.zeros(0, int), *ends]), window + 1, pad_id)
    return {"history": history, "length": length}
