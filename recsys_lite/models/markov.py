"""The first-order Markov chain: the non-deep baseline that "uses the last item".

A sequence model earns its place only if it beats the simplest model that
reads the order at all: predict the next item from the last one, by counting
which items followed it in the training histories. It is the chain that
FPMC {Rendle et al. 2010} factorises; Caser {Tang & Wang 2018} is compared
with Markov-chain models (FPMC, Fossil), GRU4Rec {Hidasi et al. 2016} with
item-to-item co-occurrence (item-kNN). Counts are sparse, so the chain is blended with
popularity by additive (Dirichlet) smoothing: an item followed by few others
falls back towards the popular films, one followed by many is read from its
own row.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from recsys_lite._checks import check_batch, check_batch_ids, check_history, check_ids, check_positive, check_size
from recsys_lite._pytree import pytree_dataclass
from recsys_lite.data.dataset import check_ratings, time_order

__all__ = ["MarkovChain"]


@pytree_dataclass
class MarkovChain:
    """First-order Markov chain blended with popularity by additive smoothing α:

        C_ij = number of times item j directly follows item i in a user's history     (n_items, n_items)
        p_j  = item j's share of all interactions, Σ_j p_j = 1                        (n_items,)
        s_uj = (C_ij + α p_j) / (Σ_k C_ik + α),   i = the last item of user u

    Each row s_u· is a probability distribution over the next item: the
    transition row of i with α pseudo-counts spread in proportion to
    popularity. α = ``smoothing`` ≥ 0 sets the blend: a row with n_i = Σ_k C_ik
    observed transitions is read mostly from its counts when n_i ≫ α and
    mostly from popularity when n_i ≪ α. The limits: α → ∞ gives s_uj → p_j
    (popularity, the same list for everyone); α = 0 gives C_ij / n_i
    (transitions only; items never seen after i tie at 0, and ties count
    against a model in :mod:`recsys_lite.metrics`). A user without history,
    or whose last item was never followed by anything while α = 0, gets p_j.

    The last item comes from the batch: ``{"user": (B,)}`` uses each user's
    last item in the fitted interactions; ``{"user": (B,), "history": (B, L)}``
    (left-aligned, padded on the right with ``n_items``, as from
    :func:`recsys_lite.data.recent_items`) uses the last real item of each
    row, so the chain is evaluated exactly like Caser:
    ``lambda u: model.scores({"user": u, "history": histories[u]})``.
    """

    transitions: jax.Array  # C: (n_items, n_items) float32 counts, row i = what followed item i
    popularity: jax.Array   # p: (n_items,) float32 shares, summing to 1
    last_item: jax.Array    # (n_users,) int32: each user's last fitted item, n_items for none
    smoothing: jax.Array    # α: () float32 >= 0

    @classmethod
    def fit(cls, interactions: pd.DataFrame, n_users: int, n_items: int, *, smoothing: float = 100.0) -> MarkovChain:
        """Count C, p and each user's last item from ``interactions`` (columns user, item, timestamp).

        Each user's interactions are read in time order, ties by row order, as
        :func:`recsys_lite.data.user_sequences` reads them; every pair of
        consecutive interactions (i, j) of one user adds 1 to C_ij (a user
        with n interactions adds n − 1). Every row adds 1 to its item's count
        of p.

        Raises:
            TypeError, ValueError: ``interactions`` not a DataFrame with
                columns user, item, timestamp, empty, with ids out of range
                or non-integer timestamps; sizes not positive integers;
                ``smoothing`` not a finite number >= 0.
        """
        n_users, n_items = check_size("n_users", n_users), check_size("n_items", n_items)
        check_ratings("interactions", interactions, ("user", "item", "timestamp"), n_users, n_items)
        check_positive("smoothing", smoothing, allow_zero=True)
        ordered = interactions.iloc[time_order(interactions)]
        user, item = ordered["user"].to_numpy().astype(np.int64), ordered["item"].to_numpy().astype(np.int64)
        follows = user[1:] == user[:-1]
        counts = np.bincount(item[:-1][follows] * n_items + item[1:][follows], minlength=n_items * n_items)
        last = np.full(n_users, n_items, np.int32)
        last[user] = item  # the last assignment per user wins: its last item in time order
        popularity = np.bincount(item, minlength=n_items) / len(item)
        return cls(jnp.asarray(counts.reshape(n_items, n_items), jnp.float32), jnp.asarray(popularity, jnp.float32),
                   jnp.asarray(last), jnp.asarray(smoothing, jnp.float32))

    def with_smoothing(self, smoothing: float) -> MarkovChain:
        """The same counts with another α: a validation grid over α needs one fit.

        Raises ``TypeError``/``ValueError`` unless ``smoothing`` is a finite number >= 0 (a traced one passes).
        """
        check_positive("smoothing", smoothing, allow_zero=True)
        return dataclasses.replace(self, smoothing=jnp.asarray(smoothing, jnp.float32))

    @property
    def n_users(self) -> int:
        return self.last_item.shape[0]

    @property
    def n_items(self) -> int:
        return self.popularity.shape[0]

    def last_items(self, batch) -> jax.Array:
        """The item each row's scores condition on: (B,) ids, ``n_items`` where there is none.

        From ``batch["history"]`` (B, L) when present (its last entry that is not the padding
        ``n_items``), else from each ``batch["user"]``'s last fitted item.

        Raises ``TypeError``/``ValueError`` for a batch without ``user``, ids that are not integers,
        a history that is not (B, L) with B the number of users, or (when concrete) ids out of range.
        """
        check_batch("batch", batch, ["user"])
        users = check_ids("batch['user']", batch["user"], self.n_users, "users", ndim=1, meaning="(B,) user ids")
        if "history" not in batch:
            return self.last_item[jnp.asarray(users)]
        check_history("batch['history']", batch["history"], self.n_items, rows=jnp.shape(users)[0])
        history = jnp.asarray(batch["history"])
        real = history < self.n_items
        column = jnp.max(jnp.where(real, jnp.arange(history.shape[1]), -1), axis=1)  # last real column, -1: none
        return jnp.where(column >= 0, jnp.take_along_axis(history, jnp.maximum(column, 0)[:, None], 1)[:, 0],
                         self.n_items)

    def _rows(self, batch):
        """(known (B,), rows C_last,· (B, n_items) zero where there is no last item, denominator n_last + α (B,))."""
        last = self.last_items(batch)
        known = last < self.n_items
        rows = jnp.where(known[:, None], self.transitions[jnp.minimum(last, self.n_items - 1)], 0.0)
        return rows, jnp.sum(rows, axis=1) + self.smoothing

    def scores(self, batch, *, key=None) -> jax.Array:
        """s_uj for every item: batch ``user`` (B,) [and ``history`` (B, L)] → (B, n_items); ``key`` unused.

        Raises as :meth:`last_items`.
        """
        rows, denominator = self._rows(batch)
        positive = (denominator > 0)[:, None]  # 0 / 0 only when α = 0 and the last item was never followed
        blended = (rows + self.smoothing * self.popularity) / jnp.where(positive, denominator[:, None], 1.0)
        return jnp.where(positive, blended, self.popularity)

    def score(self, batch, *, key=None) -> jax.Array:
        """s_uj of the batch's pairs: ``user``, ``item`` (B,) [and ``history`` (B, L)] → (B,); ``key`` unused.

        Raises as :meth:`last_items`, and for item ids that are not integers, of another shape or out of range.
        """
        _, items = check_batch_ids(batch, {"user": self.n_users, "item": self.n_items}, ndim=1)
        rows, denominator = self._rows(batch)
        counts, popularity = jnp.take_along_axis(rows, items[:, None], 1)[:, 0], self.popularity[items]
        positive = denominator > 0
        return jnp.where(positive, (counts + self.smoothing * popularity) / jnp.where(positive, denominator, 1.0),
                         popularity)
