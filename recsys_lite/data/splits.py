"""The book's splits: ML-100K's canonical u1 … u5, ua, ub, and time-ordered leave-one-out.

Also :func:`seen_mask`, the (user, item) pairs a split has already shown,
which a ranking must exclude.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recsys_lite._checks import as_array, check_ids, check_ndim, check_same_shape, check_size, describe
from recsys_lite.data.dataset import Split, check_ratings, time_order

__all__ = ["canonical_splits", "LeaveOneOut", "leave_one_out", "seen_mask"]


def _sorted_by_user_item(frame: pd.DataFrame) -> pd.DataFrame:
    order = np.lexsort((frame["item"].to_numpy(), frame["user"].to_numpy()))
    return frame.iloc[order].reset_index(drop=True)


def canonical_splits(ratings: pd.DataFrame) -> dict[str, Split]:
    """Rebuild the splits of ML-100K's ``mku.sh`` from the ratings in ``u.data`` order.

    ``u1`` … ``u5``: five disjoint blocks of consecutive rows (20,000 each for
    ML-100K) as test sets, the other rows as training. ``ua``/``ub``: each
    user's 1st–10th / 11th–20th rating in row order as test (``allbut.pl``).
    Every table is sorted by (user, item), as the official files are.

    Raises:
        TypeError, ValueError: ``ratings`` not a DataFrame, lacking a column
            user/item, or empty.
    """
    check_ratings("ratings", ratings, ("user", "item"))
    row = np.arange(len(ratings))
    bounds = np.linspace(0, len(ratings), 6).astype(int)
    in_test = {f"u{fold + 1}": (row >= bounds[fold]) & (row < bounds[fold + 1]) for fold in range(5)}
    position = ratings.groupby("user").cumcount().to_numpy() + 1  # 1-based count per user, row order
    in_test.update(ua=(position >= 1) & (position <= 10), ub=(position >= 11) & (position <= 20))
    return {name: Split(_sorted_by_user_item(ratings[~test]), _sorted_by_user_item(ratings[test]))
            for name, test in in_test.items()}


@dataclass(frozen=True)
class LeaveOneOut:
    """Time-ordered leave-one-out: last interaction → test, second-to-last → valid.

    ``train``, ``valid`` and ``test`` are rating tables; ``valid`` and ``test``
    have exactly one row per user, sorted by user.
    """

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    n_users: int
    n_items: int

    def targets(self, stage: str) -> tuple[np.ndarray, np.ndarray]:
        """``(users, items)`` to rank for ``stage`` (``"valid"`` or ``"test"``)."""
        frame = self._stage(stage)
        return frame["user"].to_numpy(), frame["item"].to_numpy()

    def exclusions(self, stage: str) -> np.ndarray:
        """Boolean ``(n_users, n_items)`` mask of items not to rank for ``stage``.

        Validation excludes the training items; test excludes the training
        items and the validation item: everything the user interacted with
        before the target.
        """
        frame = self.history(stage)
        return seen_mask(self.n_users, self.n_items, frame["user"], frame["item"])

    def history(self, stage: str) -> pd.DataFrame:
        """The interactions before the ``stage`` target (train, plus valid for test)."""
        self._stage(stage)
        return self.train if stage == "valid" else pd.concat([self.train, self.valid], ignore_index=True)

    def _stage(self, stage: str) -> pd.DataFrame:
        if not isinstance(stage, str):
            raise TypeError(f"`stage` must be 'valid' or 'test'; got {describe(stage)}.")
        if stage not in ("valid", "test"):
            raise ValueError(f"`stage` must be 'valid' or 'test'; got {stage!r}.")
        return getattr(self, stage)


def leave_one_out(ratings: pd.DataFrame, n_users: int, n_items: int, *, ties: str = "row_order") -> LeaveOneOut:
    """Split each user's time-ordered interactions: ... train | valid | test.

    Timestamps tie often (a user rates several films in the same second), so
    the order among equal timestamps must be fixed by a rule. The book's rule,
    ``ties="row_order"``, keeps the row order of ``u.data`` (a stable sort on
    time). ``ties="item_id"`` (for comparison only) puts the highest item id
    last, which leaks id order into the target.

    Args:
        ratings: table with columns user, item, timestamp, in ``u.data`` order.
        n_users, n_items: sizes of the id spaces.
        ties: ``"row_order"`` (default) or ``"item_id"``.

    Raises:
        TypeError: ``ratings`` not a DataFrame; non-integer ids, timestamps or sizes.
        ValueError: a missing column (user, item, timestamp), an empty table,
            a user with fewer than 3 interactions, ids out of range, sizes
            < 1, or a bad ``ties``.
    """
    n_users, n_items = check_size("n_users", n_users), check_size("n_items", n_items)
    if not isinstance(ties, str) or ties not in ("row_order", "item_id"):
        raise ValueError(f"`ties` must be 'row_order' or 'item_id'; got {ties!r}.")
    check_ratings("ratings", ratings, ("user", "item", "timestamp"), n_users, n_items)
    ordered = ratings.iloc[time_order(ratings, ties)].reset_index(drop=True)
    few = np.flatnonzero(np.bincount(ordered["user"], minlength=n_users) < 3)
    if few.size:
        raise ValueError(f"`ratings` must hold at least 3 interactions per user for leave-one-out; "
                         f"{len(few)} user(s) have fewer, e.g. user {few[0]}.")
    stage = np.minimum(ordered.groupby("user").cumcount(ascending=False).to_numpy(), 2)  # 2 train, 1 valid, 0 test
    train, valid, test = (ordered[stage == k].reset_index(drop=True) for k in (2, 1, 0))
    return LeaveOneOut(train, valid, test, n_users, n_items)


def seen_mask(n_users: int, n_items: int, users, items) -> np.ndarray:
    """Boolean ``(n_users, n_items)`` matrix, True where (user, item) occurs; ``users``, ``items``: (m,).

    Raises:
        TypeError, ValueError: sizes not positive integers; ids not integers,
            out of range, or ``users`` and ``items`` of different shapes.
    """
    n_users, n_items = check_size("n_users", n_users), check_size("n_items", n_items)
    users = check_ids("users", np.asarray(as_array("users", users)), n_users, "users")
    items = check_ids("items", np.asarray(as_array("items", items)), n_items, "items")
    check_ndim("users", users, 1, "one user id per interaction")
    check_same_shape("users", users, "items", items)
    mask = np.zeros((n_users, n_items), bool)
    mask[users, items] = True
    return mask
