"""Negative items for pairwise losses (BPR): uniform, or in proportion to popularity with seen items skipped.

A pairwise loss compares an observed pair (u, i) with a negative item j.
Which j it sees decides what it learns: a uniform j is almost always an
obscure film, easy to rank below i; a popular j is a hard negative that the
model must learn to separate from i by the user's taste, not by popularity.
:class:`NegativeSampler` holds the distribution; :func:`recsys_lite.models.bpr_loss`
takes it as ``negatives=``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from recsys_lite._checks import check_columns, check_flag, check_ids, check_key, check_number, check_size, describe
from recsys_lite._pytree import pytree_dataclass

__all__ = ["NegativeSampler"]


@pytree_dataclass(static=("n_items", "kind", "skip_seen"))
class NegativeSampler:
    """Draws one negative item j per user: P(j) ∝ w_j, over the user's unseen items when ``skip_seen``.

    - :meth:`uniform`: w_j = 1 for every item; the draw is exactly
      ``jax.random.randint(key, users.shape, 0, n_items)``, the draw
      :func:`~recsys_lite.models.bpr_loss` makes without a sampler (so the
      numbers do not move), and it may be an item the user has seen.
    - :meth:`popularity`: w_j = count_j^exponent, count_j the number of
      training users of item j (w_j = 0 when count_j = 0). With exponent 1
      this is the item of a random training interaction, as `implicit`'s BPR
      draws it; exponent 0 is uniform over the items with interactions,
      0.75 word2vec's compromise. With ``skip_seen`` a draw that is an item
      the user has seen is redrawn until it is not: the result has
      P(j | u) = w_j [j unseen by u] / Σ_k w_k [k unseen by u], which is
      drawn exactly, with one uniform number per user, by inverting the
      cumulative sum of the user's masked weights (no loop of retries, so it
      runs inside ``jax.jit`` at a fixed cost of O(n_items) per user). A user
      with no unseen item of positive weight gets a draw from w unmasked.
    """

    weights: jax.Array  # w: (n_items,) float32
    seen: jax.Array     # (n_users, n_items) bool when skip_seen, else (0, n_items)
    n_items: int
    kind: str = "popularity"  # "uniform" or "popularity"
    skip_seen: bool = False

    @classmethod
    def uniform(cls, n_items: int) -> NegativeSampler:
        """j ~ U{0, …, n_items − 1}. Raises ``TypeError``/``ValueError`` unless ``n_items`` is a positive integer."""
        n_items = check_size("n_items", n_items)
        return cls(jnp.ones(n_items, jnp.float32), jnp.zeros((0, n_items), bool), n_items, "uniform", False)

    @classmethod
    def popularity(cls, interactions: pd.DataFrame, n_users: int, n_items: int, *, exponent: float = 1.0,
                   skip_seen: bool = True) -> NegativeSampler:
        """P(j) ∝ count_j^exponent from ``interactions`` (columns user, item; a repeated pair counts once).

        Raises ``TypeError``/``ValueError`` for a frame that is not one, lacks ``user`` or ``item`` or is
        empty, sizes that are not positive integers, ids out of range, an ``exponent`` that is not a
        finite number ≥ 0, or a ``skip_seen`` that is not True or False.
        """
        check_columns("interactions", interactions, ["user", "item"], nonempty=True)
        n_users, n_items = check_size("n_users", n_users), check_size("n_items", n_items)
        check_number("exponent", exponent)
        if float(exponent) < 0:
            raise ValueError(f"`exponent` must be a finite number >= 0 (0: uniform over the items with "
                             f"interactions, 1: in proportion to popularity); got {exponent!r}.")
        check_flag("skip_seen", skip_seen)
        users = check_ids("interactions['user']", interactions["user"].to_numpy(), n_users, "users")
        items = check_ids("interactions['item']", interactions["item"].to_numpy(), n_items, "items")
        seen = np.zeros((n_users, n_items), bool)
        seen[users, items] = True
        counts = seen.sum(axis=0).astype(np.float64)
        weights = np.where(counts > 0, counts ** float(exponent), 0.0)
        return cls(jnp.asarray(weights, jnp.float32), jnp.asarray(seen if skip_seen else seen[:0]), n_items,
                   "popularity", bool(skip_seen))

    def probabilities(self) -> jax.Array:
        """P(j) = w_j / Σ_k w_k before any seen item is skipped: ``(n_items,)``."""
        return self.weights / jnp.sum(self.weights)

    def sample(self, key, users) -> jax.Array:
        """One negative item per user: ``users`` (...) int ids → (...) item ids; jittable.

        Raises ``TypeError`` for a bad key or ids that are not integers, ``ValueError`` for user ids
        out of range (when concrete and ``skip_seen``).
        """
        check_key("key", key)
        users = check_ids("users", users, self.seen.shape[0] if self.skip_seen else None, "users")
        users = jnp.asarray(users)
        if self.kind == "uniform":
            return jax.random.randint(key, users.shape, 0, self.n_items)
        r = jax.random.uniform(key, users.shape)
        if not self.skip_seen:
            cdf = jnp.cumsum(self.weights)
            return jnp.minimum(jnp.searchsorted(cdf, r * cdf[-1], side="right"), self.n_items - 1)
        masked = jnp.where(self.seen[users], 0.0, self.weights)                # (..., n_items)
        masked = jnp.where(jnp.sum(masked, -1, keepdims=True) > 0, masked, self.weights)
        cdf = jnp.cumsum(masked, axis=-1)
        flat_cdf, flat_r = cdf.reshape(-1, self.n_items), (r * cdf[..., -1]).reshape(-1)
        j = jax.vmap(lambda c, v: jnp.searchsorted(c, v, side="right"))(flat_cdf, flat_r)
        return jnp.minimum(j, self.n_items - 1).reshape(users.shape)


def check_sampler(name: str, sampler, n_users: int, n_items: int) -> None:
    """Raise unless ``sampler`` is a :class:`NegativeSampler` for ``n_items`` items (and ``n_users`` users)."""
    if not isinstance(sampler, NegativeSampler):
        raise TypeError(f"`{name}` must be None or a NegativeSampler, e.g. NegativeSampler.popularity(train, "
                        f"n_users, n_items); got {describe(sampler)}.")
    if sampler.n_items != n_items:
        raise ValueError(f"`{name}` draws from {sampler.n_items} items; the model has {n_items}.")
    if sampler.skip_seen and sampler.seen.shape[0] != n_users:
        raise ValueError(f"`{name}` knows {sampler.seen.shape[0]} users' seen items; the model has {n_users} users.")

