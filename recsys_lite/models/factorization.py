"""Learned models of chapters 4–5: content-based MLP, biased MF, NeuMF, and their losses.

Each loss is shaped ``loss(model, batch, key, *, ...)`` for
:func:`recsys_lite.train.fit`; bind the hyperparameters with
``functools.partial``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from recsys_lite import losses, nn
from recsys_lite._checks import (
    as_array, check_batch, check_finite, check_id_array, check_key, check_number, check_positive, check_size,
    check_sizes, describe, is_traced,
)
from recsys_lite._pytree import pytree_dataclass

__all__ = ["ContentModel", "BiasedMF", "NeuMF", "rating_loss", "bpr_loss", "softmax_loss", "bce_loss"]

# Checks: shapes and dtypes always (also while jit traces, where they cost
# nothing at run time); id ranges and finiteness only on concrete arrays.


def _check_pairs(users, items, n_users: int, n_items: int) -> None:
    """Raise unless ``users`` and ``items`` are integer ids of one shape, in range when concrete."""
    check_id_array("users", users, n_users, "users")
    check_id_array("items", items, n_items, "items")
    if jnp.shape(users) != jnp.shape(items):
        raise ValueError(f"`users` and `items` must have the same shape, one (user, item) pair per entry; "
                         f"got {tuple(jnp.shape(users))} and {tuple(jnp.shape(items))}.")


def _check_user_list(users, n_users: int) -> None:
    """Raise unless ``users`` is a 1-D array of integer ids, in range when concrete."""
    check_id_array("users", users, n_users, "users", ndim=1, meaning="(n,) user ids")


def _check_reg(reg) -> None:
    if not is_traced(reg):
        check_positive("reg", reg, allow_zero=True)

@pytree_dataclass(static=("low", "high"))
class ContentModel:
    """r̂_ui = μ + MLP([x_u, x_i]): a rating from user and item features alone.

    x_u: (m, d_u) user features, x_i: (m, d_i) item features (see
    :func:`recsys_lite.data.content_features`), concatenated into (m, d_u + d_i).
    Knows nothing about who rated what, so it works for a brand-new user or
    film: the content-based answer to cold start.
    """

    mu: jax.Array
    mlp: nn.MLP
    low: float = 1.0
    high: float = 5.0

    @classmethod
    def init(cls, key, user_dim: int, item_dim: int, hidden=(64, 32), *, mu: float = 0.0) -> "ContentModel":
        """An MLP d_u + d_i → hidden … → 1. Raises ``TypeError``/``ValueError`` for a bad key, a
        size that is not a positive integer, or a ``mu`` that is not a finite number."""
        check_key("key", key)
        user_dim, item_dim = check_size("user_dim", user_dim), check_size("item_dim", item_dim)
        hidden = check_sizes("hidden", hidden, allow_empty=True)
        check_number("mu", mu)
        return cls(jnp.asarray(mu, jnp.float32), nn.MLP.init(key, [user_dim + item_dim, *hidden, 1]))

    def __call__(self, user_x, item_x) -> jax.Array:
        """Unclipped r̂; ``user_x`` (m, d_u), ``item_x`` (m, d_i) → (m,).

        Raises ``TypeError`` for features that are not numbers, ``ValueError`` for features
        with other row counts, d_u + d_i other than the model's, or (when concrete) NaN or inf.
        """
        user_x, item_x = as_array("user_x", user_x), as_array("item_x", item_x)
        width = self.mlp.sizes[0]
        if user_x.ndim < 1 or item_x.ndim < 1 or user_x.shape[:-1] != item_x.shape[:-1]:
            raise ValueError(f"`user_x` (m, d_u) and `item_x` (m, d_i) must have the same leading shape, one row "
                             f"per pair; got {describe(user_x)} and {describe(item_x)}.")
        if user_x.shape[-1] + item_x.shape[-1] != width:
            raise ValueError(f"`user_x` and `item_x` must have d_u + d_i = {width} feature columns together "
                             f"(the model's input width); got {user_x.shape[-1]} + {item_x.shape[-1]}.")
        check_finite("user_x", user_x)
        check_finite("item_x", item_x)
        return self.mu + self.mlp(jnp.concatenate([user_x, item_x], axis=-1))[..., 0]

    def predict(self, user_x, item_x) -> jax.Array:
        """r̂ clipped to the rating scale; raises as calling the model does."""
        return jnp.clip(self(user_x, item_x), self.low, self.high)


@pytree_dataclass(static=("low", "high"))
class BiasedMF:
    """Biased matrix factorisation: r̂_ui = μ + b_u + b_i + p_u · q_i.

    ``users`` and ``items`` are :class:`~recsys_lite.nn.Embedding` tables P
    (n_users, K) and Q (n_items, K). For ratings, train with
    :func:`rating_loss`; for top-N with :func:`bpr_loss` or
    :func:`softmax_loss`, where ``scores`` ranks items by b_i + p_u · q_i
    (μ and b_u do not change a user's ranking).
    """

    mu: jax.Array
    user_bias: jax.Array  # (n_users,)
    item_bias: jax.Array  # (n_items,)
    users: nn.Embedding   # P: (n_users, K)
    items: nn.Embedding   # Q: (n_items, K)
    low: float = 1.0
    high: float = 5.0

    @classmethod
    def init(cls, key, n_users: int, n_items: int, dim: int, *, mu: float = 0.0, stddev: float = 0.1) -> "BiasedMF":
        """Biases at 0, embeddings ~ N(0, stddev²); μ is usually the mean training rating.

        Raises ``TypeError``/``ValueError`` for a bad key, a size that is not a positive
        integer, a ``mu`` that is not a finite number or a ``stddev`` that is not > 0.
        """
        check_key("key", key)
        n_users, n_items, dim = check_size("n_users", n_users), check_size("n_items", n_items), check_size("dim", dim)
        check_number("mu", mu)
        check_positive("stddev", stddev)
        user_key, item_key = jax.random.split(key)
        return cls(jnp.asarray(mu, jnp.float32), jnp.zeros(n_users), jnp.zeros(n_items),
                   nn.Embedding.init(user_key, n_users, dim, stddev=stddev),
                   nn.Embedding.init(item_key, n_items, dim, stddev=stddev))

    @property
    def n_users(self) -> int:
        return self.users.num_embeddings

    @property
    def n_items(self) -> int:
        return self.items.num_embeddings

    def __call__(self, users, items) -> jax.Array:
        """Unclipped r̂ for (user, item) pairs; ``(m,)``, ``(m,)`` → ``(m,)``.

        Raises ``TypeError`` for ids that are not integers, ``ValueError`` for ``users`` and
        ``items`` of different shapes or (when concrete) ids out of range.
        """
        _check_pairs(users, items, self.n_users, self.n_items)
        users, items = jnp.asarray(users), jnp.asarray(items)
        p, q = self.users(users), self.items(items)
        return self.mu + self.user_bias[users] + self.item_bias[items] + jnp.sum(p * q, axis=-1)

    def predict(self, users, items) -> jax.Array:
        """r̂ clipped to the rating scale; raises as calling the model does."""
        return jnp.clip(self(users, items), self.low, self.high)

    def scores(self, users) -> jax.Array:
        """Top-N scores s_ui = b_i + p_u · q_i for every item; ``(n,)`` → ``(n, n_items)``.

        Raises ``TypeError``/``ValueError`` unless ``users`` is a 1-D array of integer ids (in range when concrete).
        """
        _check_user_list(users, self.n_users)
        users = jnp.asarray(users)
        return self.item_bias[None, :] + self.users(users) @ self.items.table.T


def rating_loss(model: BiasedMF, batch, key=None, *, reg: float = 0.0) -> jax.Array:
    """J = 1/(2m) Σ (r̂_ui − r_ui)² + λ/(2m) Σ (‖p_u‖² + ‖q_i‖² + b_u² + b_i²) over the batch.

    The penalty covers the rows the batch touches, as in the SGD of
    {Koren et al. 2009}: a popular item is regularised as often as it is seen.
    ``batch``: dict with ``user``, ``item`` (m,) ints and ``rating`` (m,).

    Raises ``TypeError``/``ValueError`` for a batch without those keys, ratings not of the
    shape of ``user`` (or, when concrete, not finite), a negative ``reg``, or bad ids.
    """
    check_batch("batch", batch, ["user", "item", "rating"])
    _check_reg(reg)
    u, i = batch["user"], batch["item"]
    if jnp.shape(batch["rating"]) != jnp.shape(u):
        raise ValueError(f"`batch['rating']` must have the shape of `batch['user']`, {tuple(jnp.shape(u))}; "
                         f"got {describe(batch['rating'])}.")
    check_finite("batch['rating']", batch["rating"])
    err = model(u, i) - batch["rating"]
    p, q = model.users(u), model.items(i)
    penalty = jnp.sum(p * p, -1) + jnp.sum(q * q, -1) + model.user_bias[u] ** 2 + model.item_bias[i] ** 2
    return 0.5 * jnp.mean(err ** 2) + 0.5 * reg * jnp.mean(penalty)


def _uniform_negatives(key, shape, n_items: int) -> jax.Array:
    return jax.random.randint(key, shape, 0, n_items)


def bpr_loss(model: BiasedMF, batch, key, *, reg: float = 0.0) -> jax.Array:
    """BPR: −mean log σ(s_ui − s_uj) + λ/2 · mean(‖p_u‖² + ‖q_i‖² + ‖q_j‖²), j drawn uniformly.

    ``batch``: ``user``, ``item`` (m,) observed pairs; one negative j per pair
    from ``key`` (it may, rarely, be an item the user has seen: the usual
    approximation). Raises ``TypeError``/``ValueError`` for a bad key, a batch without
    those keys, a negative ``reg`` or bad ids.
    """
    check_batch("batch", batch, ["user", "item"])
    check_key("key", key)
    _check_reg(reg)
    u, i = batch["user"], batch["item"]
    j = _uniform_negatives(key, i.shape, model.n_items)
    p, q_i, q_j = model.users(u), model.items(i), model.items(j)
    diff = jnp.sum(p * (q_i - q_j), -1) + model.item_bias[i] - model.item_bias[j]
    penalty = jnp.sum(p * p, -1) + jnp.sum(q_i * q_i, -1) + jnp.sum(q_j * q_j, -1)
    return losses.bpr(diff, jnp.zeros_like(diff)) + 0.5 * reg * jnp.mean(penalty)


def softmax_loss(model, batch, key=None, *, reg: float = 0.0) -> jax.Array:
    """Full softmax cross-entropy: −mean log softmax(s_u)_i + λ/2 · mean ‖p_u‖², all items as negatives.

    ``model.scores(users)`` gives the logits (m, n_items); affordable because
    the catalogue is small, and free of negative-sampling noise. Raises ``TypeError``/``ValueError``
    for a batch without ``user`` and ``item``, a negative ``reg``, or bad ids.
    """
    check_batch("batch", batch, ["user", "item"])
    _check_reg(reg)
    u, i = batch["user"], batch["item"]
    check_id_array("batch['item']", i, model.n_items, "items")
    logits = model.scores(u)
    p = model.users(u)
    return losses.softmax_cross_entropy(logits, i) + 0.5 * reg * (jnp.mean(jnp.sum(p * p, -1))
                                                                   + jnp.sum(model.items.table ** 2) / u.shape[0])


@pytree_dataclass
class NeuMF:
    """Neural matrix factorisation {He et al. 2017}: GMF and an MLP side by side.

        GMF:  g = p_u^G ⊙ q_i^G                       (K_G,)
        MLP:  h = MLP([p_u^M, q_i^M])                 (H,)
        s_ui = [g, h] w + b                          (a logit)

    Four embedding tables (GMF and MLP parts have their own), an MLP with
    ReLU after every layer, and a Dense head. Trained on implicit feedback with
    :func:`bce_loss` (sampled negatives) or :func:`bpr_loss`-style pairs.
    """

    gmf_users: nn.Embedding
    gmf_items: nn.Embedding
    mlp_users: nn.Embedding
    mlp_items: nn.Embedding
    mlp: nn.MLP
    head: nn.Dense

    @classmethod
    def init(cls, key, n_users: int, n_items: int, *, gmf_dim: int = 32, mlp_dim: int = 32,
             hidden=(64, 32, 16), stddev: float = 0.01) -> "NeuMF":
        """Raises ``TypeError``/``ValueError`` for a bad key, a size that is not a positive integer,
        an empty ``hidden`` or a ``stddev`` that is not > 0."""
        check_key("key", key)
        n_users, n_items = check_size("n_users", n_users), check_size("n_items", n_items)
        gmf_dim, mlp_dim = check_size("gmf_dim", gmf_dim), check_size("mlp_dim", mlp_dim)
        hidden = check_sizes("hidden", hidden)
        check_positive("stddev", stddev)
        keys = jax.random.split(key, 6)
        return cls(
            nn.Embedding.init(keys[0], n_users, gmf_dim, stddev=stddev),
            nn.Embedding.init(keys[1], n_items, gmf_dim, stddev=stddev),
            nn.Embedding.init(keys[2], n_users, mlp_dim, stddev=stddev),
            nn.Embedding.init(keys[3], n_items, mlp_dim, stddev=stddev),
            nn.MLP.init(keys[4], [2 * mlp_dim, *hidden], activation="relu", final_activation="relu"),
            nn.Dense.init(keys[5], gmf_dim + hidden[-1], 1),
        )

    @property
    def n_users(self) -> int:
        return self.gmf_users.num_embeddings

    @property
    def n_items(self) -> int:
        return self.gmf_items.num_embeddings

    def _logits(self, gmf_u, mlp_u, gmf_i, mlp_i) -> jax.Array:
        shape = jnp.broadcast_shapes(gmf_u.shape[:-1], gmf_i.shape[:-1])
        mlp_in = jnp.concatenate([jnp.broadcast_to(mlp_u, shape + mlp_u.shape[-1:]),
                                  jnp.broadcast_to(mlp_i, shape + mlp_i.shape[-1:])], axis=-1)
        return self.head(jnp.concatenate([gmf_u * gmf_i, self.mlp(mlp_in)], axis=-1))[..., 0]

    def __call__(self, users, items) -> jax.Array:
        """Logits s_ui for (user, item) pairs; ``(m,)``, ``(m,)`` → ``(m,)``. Raises as :meth:`BiasedMF.__call__`."""
        _check_pairs(users, items, self.n_users, self.n_items)
        return self._logits(self.gmf_users(users), self.mlp_users(users), self.gmf_items(items), self.mlp_items(items))

    def scores(self, users) -> jax.Array:
        """Logits for every item; ``(n,)`` → ``(n, n_items)``. Evaluate in chunks of a few hundred users.

        Raises as :meth:`BiasedMF.scores`.
        """
        _check_user_list(users, self.n_users)
        return self._logits(self.gmf_users(users)[:, None, :], self.mlp_users(users)[:, None, :],
                            self.gmf_items.table[None], self.mlp_items.table[None])


def bce_loss(model, batch, key, *, n_negatives: int = 4, reg: float = 0.0) -> jax.Array:
    """Binary cross-entropy on each observed pair (label 1) and ``n_negatives`` uniform items (label 0).

    J = −1/m Σ [log σ(s_ui) + Σ_j log(1 − σ(s_uj))] / (1 + n_negatives) + ½λ‖θ‖².

    Raises ``TypeError``/``ValueError`` for a bad key, a batch without ``user`` and ``item``,
    an ``n_negatives`` that is not a positive integer, a negative ``reg``, or bad ids.
    """
    check_batch("batch", batch, ["user", "item"])
    check_key("key", key)
    check_size("n_negatives", n_negatives)
    _check_reg(reg)
    u, i = batch["user"], batch["item"]
    j = _uniform_negatives(key, i.shape + (n_negatives,), model.n_items)
    pos = model(u, i)
    neg = model(jnp.repeat(u[:, None], n_negatives, axis=1), j)
    logits = jnp.concatenate([pos[:, None], neg], axis=1)
    labels = jnp.concatenate([jnp.ones_like(pos)[:, None], jnp.zeros_like(neg)], axis=1)
    penalty = losses.l2_penalty(model, reg) if reg else 0.0
    return losses.binary_cross_entropy_with_logits(logits, labels) + penalty
