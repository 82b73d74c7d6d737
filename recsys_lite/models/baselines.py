"""The baselines of chapter 1: every later model must beat them.

Each follows the model protocol of :mod:`recsys_lite.models` (``score``,
``predict``, ``scores`` on a batch dict) and is jittable: its arrays are
pytree leaves, its sizes static.

- :class:`GlobalMean`:  r̂_ui = μ
- :class:`UserItemBias`: r̂_ui = μ + b_u + b_i, regularised, fitted by
  alternating least squares
- :class:`Popularity`:  s_ui = number of training interactions of item i
- :class:`RandomScores`: s_ui ~ U(0, 1), drawn from an explicit key
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from recsys_lite._checks import (
    as_array,
    check_batch_ids,
    check_columns,
    check_finite,
    check_ids,
    check_key,
    check_positive,
    check_size,
)
from recsys_lite._pytree import pytree_dataclass

__all__ = ["GlobalMean", "UserItemBias", "Popularity", "RandomScores"]


def _ratings_arrays(ratings: pd.DataFrame, n_users: int, n_items: int):
    """(users, items, ratings) as arrays, after checking the frame, the ids and the ratings."""
    check_columns("ratings", ratings, ["user", "item", "rating"], nonempty=True)
    users = check_ids("ratings['user']", ratings["user"].to_numpy(), check_size("n_users", n_users), "users")
    items = check_ids("ratings['item']", ratings["item"].to_numpy(), check_size("n_items", n_items), "items")
    r = as_array("ratings['rating']", ratings["rating"].to_numpy())
    check_finite("ratings['rating']", r)
    return users, items, r.astype(np.float64)


def _shrunk_mean(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Σ residuals / (λ + n) per id; 0 for an id with no ratings when λ = 0 (instead of 0/0)."""
    return np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)


@pytree_dataclass(static=("n_users", "n_items"))
class GlobalMean:
    """r̂_ui = μ, the mean training rating: the floor every model must beat."""

    mu: jax.Array
    n_users: int
    n_items: int

    @classmethod
    def fit(cls, ratings: pd.DataFrame, n_users: int, n_items: int) -> GlobalMean:
        """μ from ``ratings`` (columns user, item, rating).

        Raises ``TypeError``/``ValueError`` for a frame that is not one, lacks a column or is
        empty, sizes that are not positive integers, ids out of range, or non-finite ratings.
        """
        _, _, r = _ratings_arrays(ratings, n_users, n_items)
        return cls(jnp.asarray(r.mean(), jnp.float32), n_users, n_items)

    def score(self, batch, *, key=None) -> jax.Array:
        """μ for each pair (``batch["user"]``, ``batch["item"]``): ``(B,)`` → ``(B,)``; no dropout, ``key`` unused.

        Raises ``TypeError`` for ids that are not integers, ``ValueError`` for a batch without
        them, ids out of range (when concrete) or ``user`` and ``item`` of different shapes.
        """
        users, _ = check_batch_ids(batch, {"user": self.n_users, "item": self.n_items})
        return jnp.full(users.shape, self.mu)

    def predict(self, batch) -> jax.Array:
        """μ again (it lies on the rating scale); raises as :meth:`score`."""
        return self.score(batch)


@pytree_dataclass(static=("n_users", "n_items", "low", "high"))
class UserItemBias:
    """r̂_ui = μ + b_u + b_i, clipped to the rating scale.

    Fitted by minimising Σ (r_ui − μ − b_u − b_i)² + λ_u Σ b_u² + λ_i Σ b_i²
    with alternating least squares: holding b_u fixed, each b_i has the
    closed form b_i = Σ_{u∈R(i)} (r_ui − μ − b_u) / (λ_i + |R(i)|), and
    symmetrically for b_u. A few sweeps converge. μ is fixed at the mean
    training rating (as in Surprise's baseline), not learned jointly, so a
    gradient method that also learns μ can reach a slightly lower objective.
    """

    mu: jax.Array
    user_bias: jax.Array  # (n_users,)
    item_bias: jax.Array  # (n_items,)
    n_users: int
    n_items: int
    low: float = 1.0
    high: float = 5.0

    @classmethod
    def fit(cls, ratings: pd.DataFrame, n_users: int, n_items: int, *, reg_user: float = 15.0,
            reg_item: float = 10.0, sweeps: int = 10) -> UserItemBias:
        """Fit the biases; λ_u = ``reg_user``, λ_i = ``reg_item``; raises as :meth:`GlobalMean.fit`, and for
        a negative λ or ``sweeps`` that is not a positive integer."""
        check_positive("reg_user", reg_user, allow_zero=True)
        check_positive("reg_item", reg_item, allow_zero=True)
        check_size("sweeps", sweeps)
        users, items, r = _ratings_arrays(ratings, n_users, n_items)
        mu = r.mean()
        b_user, b_item = np.zeros(n_users), np.zeros(n_items)
        n_per_user = np.bincount(users, minlength=n_users)
        n_per_item = np.bincount(items, minlength=n_items)
        for _ in range(sweeps):
            b_item = _shrunk_mean(np.bincount(items, r - mu - b_user[users], n_items), reg_item + n_per_item)
            b_user = _shrunk_mean(np.bincount(users, r - mu - b_item[items], n_users), reg_user + n_per_user)
        as32 = partial(jnp.asarray, dtype=jnp.float32)
        return cls(as32(mu), as32(b_user), as32(b_item), n_users, n_items, float(r.min()), float(r.max()))

    def score(self, batch, *, key=None) -> jax.Array:
        """Unclipped r̂ for each pair: ``(B,)`` → ``(B,)``. Raises as :meth:`GlobalMean.score`."""
        users, items = check_batch_ids(batch, {"user": self.n_users, "item": self.n_items})
        return self.mu + self.user_bias[users] + self.item_bias[items]

    def predict(self, batch) -> jax.Array:
        """r̂ clipped to the rating scale [low, high]; raises as :meth:`score`."""
        return jnp.clip(self.score(batch), self.low, self.high)

    def scores(self, batch, *, key=None) -> jax.Array:
        """Unclipped μ + b_u + b_i for every item: ``batch["user"]`` ``(B,)`` → ``(B, n_items)``.

        Raises ``TypeError``/``ValueError`` unless ``batch["user"]`` is a 1-D array of ids (in range when concrete).
        """
        (users,) = check_batch_ids(batch, {"user": self.n_users}, ndim=1)
        return self.mu + self.user_bias[users][:, None] + self.item_bias[None, :]


@pytree_dataclass(static=("n_items",))
class Popularity:
    """s_ui = how many training interactions item i has: the same list for everyone."""

    counts: jax.Array  # (n_items,)
    n_items: int

    @classmethod
    def fit(cls, interactions: pd.DataFrame, n_items: int) -> Popularity:
        """Count each item's rows in ``interactions`` (a frame with an ``item`` column).

        Raises ``TypeError``/``ValueError`` for a frame that is not one, lacks ``item`` or is
        empty, an ``n_items`` that is not a positive integer, or item ids out of range.
        """
        check_columns("interactions", interactions, ["item"], nonempty=True)
        items = check_ids("interactions['item']", interactions["item"].to_numpy(), check_size("n_items", n_items),
                          "items")
        return cls(jnp.asarray(np.bincount(items, minlength=n_items), jnp.float32), n_items)

    def score(self, batch, *, key=None) -> jax.Array:
        """s_ui for each pair: the count of ``batch["item"]``; ``(B,)`` → ``(B,)``. Raises as :meth:`scores`, and
        for item ids out of range."""
        _, items = check_batch_ids(batch, {"user": None, "item": self.n_items})
        return self.counts[items]

    def scores(self, batch, *, key=None) -> jax.Array:
        """The counts for every user: ``batch["user"]`` ``(B,)`` → ``(B, n_items)``.

        Raises ``TypeError``/``ValueError`` unless ``batch["user"]`` is a 1-D array of integer ids ≥ 0.
        """
        (users,) = check_batch_ids(batch, {"user": None}, ndim=1)
        return jnp.broadcast_to(self.counts, (users.shape[0], self.n_items))


@pytree_dataclass(static=("n_items",))
class RandomScores:
    """s_ui ~ U(0, 1), fixed per user by folding the user id into ``key``."""

    key: jax.Array
    n_items: int

    def __post_init__(self):
        check_size("n_items", self.n_items)

    def _row(self, user) -> jax.Array:
        """User ``user``'s scores of every item, (n_items,)."""
        return jax.random.uniform(jax.random.fold_in(self.key, user), (self.n_items,))

    def score(self, batch, *, key=None) -> jax.Array:
        """The entries (user, item) of :meth:`scores`, for each pair: ``(B,)`` → ``(B,)``. Raises as :meth:`scores`,
        and for item ids out of range."""
        check_key("key", self.key)
        users, items = check_batch_ids(batch, {"user": None, "item": self.n_items})
        return jax.vmap(lambda u, i: self._row(u)[i])(users.ravel(), items.ravel()).reshape(users.shape)

    def scores(self, batch, *, key=None) -> jax.Array:
        """Uniform scores: ``batch["user"]`` ``(B,)`` → ``(B, n_items)``; the model's own key draws them, not ``key``.

        Raises ``TypeError``/``ValueError`` unless ``batch["user"]`` is a 1-D array of integer ids ≥ 0
        and the field ``key`` a PRNG key.
        """
        check_key("key", self.key)
        (users,) = check_batch_ids(batch, {"user": None}, ndim=1)
        return jax.vmap(self._row)(users)
