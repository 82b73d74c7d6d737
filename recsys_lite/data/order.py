"""How much order a rating table really holds: the gaps between a user's ratings, and shuffled orders.

A sequence model reads each user's ratings in time order, ties by row order
(:func:`~recsys_lite.data.dataset.time_order`). In MovieLens many
consecutive ratings of a user share the identical timestamp (a burst of
ratings entered in one sitting), and ``u.data`` is randomly ordered, so the
order inside a burst is a random permutation. :func:`timestamp_gaps`
measures this; :func:`shuffle_order` builds the tables of the
shuffled-order experiment: the same ratings with the order inside each
user's history destroyed at a chosen scope, the timestamps left where they
were.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys_lite._checks import check_int_in_range, check_size, describe
from recsys_lite.data.dataset import check_ratings, time_order

__all__ = ["timestamp_gaps", "shuffle_order", "SHUFFLE_SCOPES"]

SHUFFLE_SCOPES = ("ties", "blocks", "all")


def timestamp_gaps(ratings: pd.DataFrame) -> np.ndarray:
    """The gaps in seconds between each user's consecutive ratings in time order: (n_rows − n_users,) int64.

    For a user with ratings at times t_1 ≤ t_2 ≤ … ≤ t_n the gaps are
    g_k = t_{k+1} − t_k, k = 1 … n − 1 (so n − 1 values; a user with one
    rating gives none). Users follow each other by id, each user's gaps in
    time order. ``(gaps == 0).mean()`` is the share of consecutive ratings
    that tie (their relative order is not in the data),
    ``(gaps <= 60).mean()`` the share within a minute.

    Raises:
        TypeError, ValueError: ``ratings`` not a DataFrame with columns user
            and timestamp, empty, negative or non-integer user ids, or
            timestamps that are not integers.
    """
    check_ratings("ratings", ratings, ("user", "timestamp"))
    order = time_order(ratings)
    user = ratings["user"].to_numpy()[order]
    time = ratings["timestamp"].to_numpy().astype(np.int64)[order]
    same_user = user[1:] == user[:-1]
    return np.diff(time)[same_user]


def shuffle_order(ratings: pd.DataFrame, *, scope: str, seed: int = 0, block: int | None = None) -> pd.DataFrame:
    """The same ratings with each user's order shuffled at ``scope``; timestamps stay at their positions.

    Take each user's ratings in time order (ties by row order, as
    :func:`~recsys_lite.data.user_sequences` and
    :func:`~recsys_lite.data.leave_one_out` read them), positions
    k = 1 … n_u with timestamps t_1 ≤ … ≤ t_n. Cut the positions into groups
    and draw a uniform random permutation π inside each group; the row at
    position k then holds the item (and rating and every other column) of
    position π(k), with the timestamp t_k of position k and the same user.
    The groups, by ``scope``:

    - ``"ties"``: positions with the same (user, timestamp). Only the order
      the data do not record changes; the result is another equally valid
      reading of the same table.
    - ``"blocks"``: consecutive runs of ``block`` positions of a user,
      (1 … b), (b + 1 … 2b), … (the last may be shorter). The order inside a
      block is gone, recency at the granularity of blocks is kept.
    - ``"all"``: all of a user's positions: both order and recency are gone;
      only the set of items (and its size) is left.

    The result is sorted by user, then time, with a fresh index, so that
    ``time_order``, ``user_sequences`` and ``leave_one_out`` read the new
    order. The multiset of rows of each user (all columns but ``timestamp``)
    and the multiset of each user's timestamps are unchanged. Deterministic:
    the same ``seed`` gives the same table.

    To shuffle only what a model trains on, shuffle the training table of a
    split, e.g. ``shuffle_order(split.train, scope="ties", seed=s)``, and
    keep the targets.

    Raises:
        TypeError, ValueError: ``ratings`` not a DataFrame with columns user,
            item and timestamp, empty, or with bad ids or timestamps;
            ``scope`` not one of "ties", "blocks", "all"; ``seed`` not an
            integer ≥ 0; ``block`` not a positive integer with
            ``scope="blocks"``, or given with another scope.
    """
    check_ratings("ratings", ratings, ("user", "item", "timestamp"))
    if not isinstance(scope, str) or scope not in SHUFFLE_SCOPES:
        raise ValueError(f"`scope` must be one of {list(SHUFFLE_SCOPES)}; got {describe(scope)}.")
    seed = check_int_in_range("seed", seed, 0)
    if scope == "blocks":
        if block is None:
            raise ValueError("`block` must be a positive integer (the number of consecutive ratings shuffled "
                             "together) when scope='blocks'; got None.")
        block = check_size("block", block)
    elif block is not None:
        raise ValueError(f"`block` is only used with scope='blocks'; got block={describe(block)} with "
                         f"scope={scope!r} (leave it None).")
    ordered = ratings.iloc[time_order(ratings)].reset_index(drop=True)
    user = ordered["user"].to_numpy()
    if scope == "ties":
        time = ordered["timestamp"].to_numpy()
        starts = np.r_[True, (user[1:] != user[:-1]) | (time[1:] != time[:-1])]
    else:
        first = np.r_[True, user[1:] != user[:-1]]
        if scope == "all":
            starts = first
        else:
            begin = np.flatnonzero(first)
            position = np.arange(len(user)) - np.repeat(begin, np.diff(np.r_[begin, len(user)]))
            starts = position % block == 0
    group = np.cumsum(starts)  # groups are runs of consecutive rows: sorting by (group, random) permutes inside each
    permutation = np.lexsort((np.random.default_rng(seed).random(len(user)), group))
    shuffled = ordered.iloc[permutation].reset_index(drop=True)
    shuffled["timestamp"] = ordered["timestamp"].to_numpy()
    return shuffled[list(ratings.columns)]
