"""Negative items for pairwise losses (BPR): uniform, or in proportion to popularity with seen items skipped.

A pairwise loss compares an observed pair (u, i) with a negative item j.
Which j it sees decides what it learns: a uniform j is almost always an
obscure film, easy to rank below i; a popular j is a hard negative that the
model must learn to separate from i by the user's taste, not by popularity.
:class:`NegativeSampler` holds the distribution; :func:`recsys_lite.models.bpr_loss`
takes it as ``negatives=``.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from recsys_lite._checks import check_columns, check_flag, check_ids, check_key, check_number, check_size, describe
from recsys_lite._pytree import pytree_dataclass

__all__ = ["NegativeSampler"]

TRIES = 16  # redraws from w before the exact masked draw
FEW = 64    # rows the exact draw handles cheaply; more fall back to the whole batch


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
      the user has seen is redrawn until it is not, so that
      P(j | u) = w_j [j unseen by u] / Σ_k w_k [k unseen by u]. Inside
      ``jax.jit`` (no open-ended loop): up to 16 redraws from w, then, for
      the pairs still seen, one exact draw from the user's masked weights
      (inverting their cumulative sum); the result has exactly that
      distribution. A user with no unseen item of positive weight gets a
      draw from w unmasked.
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
        return _draw(self.weights, self.seen, key, users.reshape(-1), self.skip_seen).reshape(users.shape)


@partial(jax.jit, static_argnames="skip_seen")
def _draw(weights, seen, key, users, skip_seen: bool) -> jax.Array:
    """(B,) users → (B,) items, j ~ w, redrawn while (u, j) is seen when ``skip_seen`` (one compilation per shape).

    Up to TRIES redraws from w; an accepted redraw is distributed as w restricted to the unseen items. The
    pairs still seen after them (a user who has seen most of the popular items) get the exact draw from
    their masked weights: cheaply for at most FEW rows, for the whole batch in the rare case of more.
    """
    n_items = weights.shape[0]
    cdf = jnp.cumsum(weights)

    def draw(k):  # j ~ w by inverting the cumulative weights: P(j) = w_j / Σ w
        r = jax.random.uniform(k, users.shape) * cdf[-1]
        return jnp.minimum(jnp.searchsorted(cdf, r, side="right"), n_items - 1)

    j = draw(key)
    if not skip_seen:
        return j
    j = jax.lax.fori_loop(1, TRIES, lambda t, j: jnp.where(seen[users, j], draw(jax.random.fold_in(key, t)), j), j)
    bad = seen[users, j]
    fix_key = jax.random.fold_in(key, TRIES)
    few = min(FEW, users.shape[0])

    def fix_few(j):
        rows = jnp.nonzero(bad, size=few, fill_value=0)[0]
        return j.at[rows].set(jnp.where(bad[rows], _masked_draw(weights, seen, fix_key, users[rows]), j[rows]))

    def fix_all(j):
        return jnp.where(bad, _masked_draw(weights, seen, fix_key, users), j)

    return jax.lax.cond(jnp.any(bad), lambda j: jax.lax.cond(jnp.sum(bad) > few, fix_all, fix_few, j), lambda j: j, j)


def _masked_draw(weights, seen, key, users) -> jax.Array:
    """(B,) users → (B,) items with P(j | u) ∝ w_j over u's unseen items (w unmasked if they have no mass)."""
    masked = jnp.where(seen[users], 0.0, weights)                            # (B, n_items)
    masked = jnp.where(jnp.sum(masked, -1, keepdims=True) > 0, masked, weights)
    cdf = jnp.cumsum(masked, axis=-1)
    r = jax.random.uniform(key, users.shape) * cdf[:, -1]
    j = jax.vmap(lambda c, v: jnp.searchsorted(c, v, side="right"))(cdf, r)
    return jnp.minimum(j, weights.shape[0] - 1)


def check_sampler(name: str, sampler, n_users: int, n_items: int) -> None:
    """Raise unless ``sampler`` is a :class:`NegativeSampler` for ``n_items`` items (and ``n_users`` users)."""
    if not isinstance(sampler, NegativeSampler):
        raise TypeError(f"`{name}` must be None or a NegativeSampler, e.g. NegativeSampler.popularity(train, "
                        f"n_users, n_items); got {describe(sampler)}.")
    if sampler.n_items != n_items:
        raise ValueError(f"`{name}` draws from {sampler.n_items} items; the model has {n_items}.")
    if sampler.skip_seen and sampler.seen.shape[0] != n_users:
        raise ValueError(f"`{name}` knows {sampler.seen.shape[0]} users' seen items; the model has {n_users} users.")

