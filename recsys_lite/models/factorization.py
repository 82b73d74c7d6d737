"""Learned models of chapters 4–5: content-based MLP, biased MF, NeuMF, and their losses.

The models follow the protocol of :mod:`recsys_lite.models`. Each loss is
shaped ``loss(model, batch, key, *, ...)`` for :func:`recsys_lite.train.fit`;
bind the hyperparameters with ``functools.partial``. Shapes and dtypes are
checked always (while jit traces, for free), id ranges and finiteness only
on concrete arrays.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from recsys_lite import losses, nn
from recsys_lite._checks import (
    as_array,
    check_batch,
    check_batch_ids,
    check_finite,
    check_key,
    check_number,
    check_positive,
    check_same_shape,
    check_size,
    check_sizes,
    describe,
    is_traced,
)
from recsys_lite._pytree import pytree_dataclass
from recsys_lite.models.sampling import NegativeSampler, check_sampler

__all__ = ["ContentModel", "BiasedMF", "NeuMF", "rating_loss", "als_sweep", "bpr_loss", "softmax_loss", "bce_loss"]


@pytree_dataclass(static=("low", "high"))
class ContentModel:
    """r̂_ui = μ + MLP([x_u, x_i]): a rating from user and item features alone.

    x_u = ``batch["user_x"]`` (B, d_u) user features, x_i = ``batch["item_x"]``
    (B, d_i) item features of the pairs (see :func:`recsys_lite.data.content_features`),
    concatenated into (B, d_u + d_i).
    Knows nothing about who rated what, so it works for a brand-new user or
    film: the content-based answer to cold start.
    """

    mu: jax.Array
    mlp: nn.MLP
    low: float = 1.0
    high: float = 5.0

    @classmethod
    def init(cls, key, user_dim: int, item_dim: int, hidden=(64, 32), *, mu: float = 0.0) -> ContentModel:
        """An MLP d_u + d_i → hidden … → 1. Raises ``TypeError``/``ValueError`` for a bad key, a
        size that is not a positive integer, or a ``mu`` that is not a finite number."""
        check_key("key", key)
        user_dim, item_dim = check_size("user_dim", user_dim), check_size("item_dim", item_dim)
        hidden = check_sizes("hidden", hidden, allow_empty=True)
        check_number("mu", mu)
        return cls(jnp.asarray(mu, jnp.float32), nn.MLP.init(key, [user_dim + item_dim, *hidden, 1]))

    def score(self, batch, *, key=None) -> jax.Array:
        """Unclipped r̂: ``batch["user_x"]`` (B, d_u), ``batch["item_x"]`` (B, d_i) → (B,); ``key`` unused.

        Raises ``TypeError`` for features that are not numbers, ``ValueError`` for a batch without
        them, features with other row counts, d_u + d_i other than the model's, or (when concrete)
        NaN or inf.
        """
        check_batch("batch", batch, ["user_x", "item_x"])
        user_x, item_x = as_array("batch['user_x']", batch["user_x"]), as_array("batch['item_x']", batch["item_x"])
        width = self.mlp.sizes[0]
        if user_x.ndim < 1 or item_x.ndim < 1 or user_x.shape[:-1] != item_x.shape[:-1]:
            raise ValueError(f"`batch['user_x']` (B, d_u) and `batch['item_x']` (B, d_i) must have the same leading "
                             f"shape, one row per pair; got {describe(user_x)} and {describe(item_x)}.")
        if user_x.shape[-1] + item_x.shape[-1] != width:
            raise ValueError(f"`batch['user_x']` and `batch['item_x']` must have d_u + d_i = {width} feature columns "
                             f"together (the model's input width); got {user_x.shape[-1]} + {item_x.shape[-1]}.")
        check_finite("batch['user_x']", user_x)
        check_finite("batch['item_x']", item_x)
        return self.mu + self.mlp(jnp.concatenate([user_x, item_x], axis=-1))[..., 0]

    def predict(self, batch) -> jax.Array:
        """r̂ clipped to the rating scale [low, high]; raises as :meth:`score`."""
        return jnp.clip(self.score(batch), self.low, self.high)


@pytree_dataclass(static=("low", "high"))
class BiasedMF:
    """Biased matrix factorisation: r̂_ui = μ + b_u + b_i + p_u · q_i.

    ``user_embedding`` and ``item_embedding`` are :class:`~recsys_lite.nn.Embedding`
    tables P (n_users, K) and Q (n_items, K). For ratings, train with
    :func:`rating_loss`; for top-N with :func:`bpr_loss` or
    :func:`softmax_loss`, where ``scores`` ranks items by b_i + p_u · q_i
    (μ and b_u do not change a user's ranking).
    """

    mu: jax.Array
    user_bias: jax.Array  # (n_users,)
    item_bias: jax.Array  # (n_items,)
    user_embedding: nn.Embedding   # P: (n_users, K)
    item_embedding: nn.Embedding   # Q: (n_items, K)
    low: float = 1.0
    high: float = 5.0

    @classmethod
    def init(cls, key, n_users: int, n_items: int, dim: int, *, mu: float = 0.0, stddev: float = 0.1) -> BiasedMF:
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
        return self.user_embedding.num_embeddings

    @property
    def n_items(self) -> int:
        return self.item_embedding.num_embeddings

    def score(self, batch, *, key=None) -> jax.Array:
        """Unclipped r̂ of the pairs (``batch["user"]``, ``batch["item"]``): ``(B,)`` → ``(B,)``; ``key`` unused.

        Raises ``TypeError`` for ids that are not integers, ``ValueError`` for a batch without them,
        ``user`` and ``item`` of different shapes or (when concrete) ids out of range.
        """
        return self._score_and_rows(batch)[0]

    def _score_and_rows(self, batch) -> tuple[jax.Array, tuple[jax.Array, ...]]:
        """r̂ of the pairs and the rows it reads, (p_u, q_i, b_u, b_i): each looked up once.

        :func:`rating_loss` penalises the very rows the prediction read, so the backward pass
        scatters one summed gradient into each table instead of one per use.
        """
        users, items = check_batch_ids(batch, {"user": self.n_users, "item": self.n_items})
        p, q = self.user_embedding(users), self.item_embedding(items)
        b_u, b_i = self.user_bias[users], self.item_bias[items]
        return self.mu + b_u + b_i + jnp.sum(p * q, axis=-1), (p, q, b_u, b_i)

    def predict(self, batch) -> jax.Array:
        """r̂ clipped to the rating scale [low, high]; raises as :meth:`score`."""
        return jnp.clip(self.score(batch), self.low, self.high)

    def scores(self, batch, *, key=None) -> jax.Array:
        """Top-N scores s_ui = b_i + p_u · q_i for every item: ``batch["user"]`` ``(B,)`` → ``(B, n_items)``.

        Raises ``TypeError``/``ValueError`` unless ``batch["user"]`` is a 1-D array of integer ids (in range
        when concrete).
        """
        (users,) = check_batch_ids(batch, {"user": self.n_users}, ndim=1)
        return self.item_bias[None, :] + self.user_embedding(users) @ self.item_embedding.table.T


def rating_loss(model: BiasedMF, batch, key=None, *, reg: float = 0.0) -> jax.Array:
    """J = 1/(2m) Σ (r̂_ui − r_ui)² + λ/(2m) Σ (‖p_u‖² + ‖q_i‖² + b_u² + b_i²) over the batch.

    The penalty covers the rows the batch touches, as in the SGD of
    {Koren et al. 2009}: a popular item is regularised as often as it is seen.
    ``batch``: dict with ``user``, ``item`` (m,) ints and ``rating`` (m,).

    Raises ``TypeError``/``ValueError`` for a batch without those keys, ratings not of the
    shape of ``user`` (or, when concrete, not finite), a negative ``reg``, or bad ids.
    """
    check_batch("batch", batch, ["user", "item", "rating"])
    check_positive("reg", reg, allow_zero=True)
    check_same_shape("batch['rating']", batch["rating"], "batch['user']", batch["user"])
    check_finite("batch['rating']", batch["rating"])
    score, (p, q, b_u, b_i) = model._score_and_rows(batch)
    err = score - batch["rating"]
    penalty = jnp.sum(p * p, -1) + jnp.sum(q * q, -1) + b_u ** 2 + b_i ** 2
    return 0.5 * jnp.mean(err ** 2) + 0.5 * reg * jnp.mean(penalty)


def als_sweep(model: BiasedMF, batch, *, reg: float) -> BiasedMF:
    """One sweep of alternating least squares on :func:`rating_loss` over ALL of ``batch``: a new BiasedMF.

    Multiplied by 2m, :func:`rating_loss` is
        Σ_(u,i) [(μ + b_u + b_i + p_u·q_i − r_ui)² + λ (‖p_u‖² + ‖q_i‖² + b_u² + b_i²)],
    the sum over the m ratings of the batch. With the items fixed it is, for each user u apart, a ridge
    regression in w_u = [p_u; b_u] (K + 1,) on the user's n_u ratings, with x_i = [q_i; 1] and
    y_ui = r_ui − μ − b_i, whose minimiser solves the normal equations
        (Σ_{i ∈ I_u} x_i x_iᵀ + λ n_u I) w_u = Σ_{i ∈ I_u} x_i y_ui                     ((K+1) × (K+1) each).
    The penalty λ n_u grows with the user's ratings, as in ALS-WR {Zhou et al. 2008}. The sweep solves
    every user's system, then, with the new users fixed, every item's (w_i = [q_i; b_i], x_u = [p_u; 1],
    y_ui = r_ui − μ − b_u, penalty λ n_i): each half-step minimises the loss exactly over its half of
    the parameters, so the loss never goes up. μ is kept (set it to the mean rating at ``init``); a user
    or item without ratings in ``batch`` keeps its row, whose gradient is zero.

    Computed densely: C (n_users, n_items) counts each pair's ratings and S sums them, so every user's
    Σ x_i x_iᵀ is one row of the matrix product C · [x_i ⊗ x_i]_i, (n_users, n_items) @ (n_items, (K+1)²):
    for a MovieLens-sized catalogue and a small K, a few matrix products instead of a loop over ratings.

    ``batch``: ``user``, ``item`` (m,) ids and ``rating`` (m,), the whole training set. ``reg``: λ > 0
    (it keeps each system invertible). Jittable (``jax.jit(functools.partial(als_sweep, reg=λ))``).
    Raises ``TypeError``/``ValueError`` for a model that is not a BiasedMF, a batch without those keys,
    ratings not of the shape of ``user`` (or, when concrete, not finite), ``reg`` not > 0, or bad ids.
    """
    if not isinstance(model, BiasedMF):
        raise TypeError(f"`model` must be a BiasedMF; got {describe(model)}.")
    check_batch("batch", batch, ["user", "item", "rating"])
    check_positive("reg", reg)
    users, items = check_batch_ids(batch, {"user": model.n_users, "item": model.n_items}, ndim=1)
    ratings = as_array("batch['rating']", batch["rating"])
    check_same_shape("batch['rating']", ratings, "batch['user']", users)
    check_finite("batch['rating']", ratings)
    dtype = model.user_embedding.table.dtype
    # C and S in one scatter: layer 0 counts the ratings of each (u, i), layer 1 sums them.
    layer = jnp.repeat(jnp.arange(2), users.shape[0])
    values = jnp.concatenate([jnp.ones_like(ratings, dtype), ratings.astype(dtype)])
    counts, sums = jnp.zeros((2, model.n_users, model.n_items), dtype).at[
        layer, jnp.tile(users, 2), jnp.tile(items, 2)].add(values)
    eye = jnp.eye(model.user_embedding.dim + 1, dtype=dtype)

    def half_step(counts, sums, other_rows, other_bias, rows, bias):
        """Minimise over one side's (rows, bias) given the other side's, for every id at once."""
        x = jnp.concatenate([other_rows, jnp.ones_like(other_bias)[:, None]], axis=1)      # (n_other, K + 1)
        k = x.shape[1]
        gram = (counts @ (x[:, :, None] * x[:, None, :]).reshape(-1, k * k)).reshape(-1, k, k)
        rhs = (sums - counts * (model.mu + other_bias)[None, :]) @ x                      # Σ x (r − μ − b_other)
        rated = counts.sum(axis=1)                                                         # n_u (or n_i)
        system = gram + (reg * jnp.maximum(rated, 1.0))[:, None, None] * eye
        w = jnp.where((rated > 0)[:, None], _solve_spd(system, rhs), jnp.concatenate([rows, bias[:, None]], 1))
        return w[:, :-1], w[:, -1]

    P, b_u = half_step(counts, sums, model.item_embedding.table, model.item_bias,
                       model.user_embedding.table, model.user_bias)
    Q, b_i = half_step(counts.T, sums.T, P, b_u, model.item_embedding.table, model.item_bias)
    return BiasedMF(model.mu, b_u, b_i, nn.Embedding(P), nn.Embedding(Q), model.low, model.high)


def _solve_spd(a: jax.Array, b: jax.Array) -> jax.Array:
    """x with a x = b for a batch of symmetric positive-definite systems: a (n, k, k), b (n, k) → (n, k).

    Gauss–Jordan elimination without row exchanges, one ``lax.fori_loop`` step per column: for j = 0 … k−1,
    divide row j of [a | b] by its pivot a_jj, then subtract a_ij times it from every other row i, which
    leaves the identity on the left and x on the right. A symmetric positive-definite matrix needs no
    pivoting (every pivot is positive and elimination is stable, as for Cholesky). Written as one small
    loop rather than ``jnp.linalg.solve`` because XLA compiles it about four times faster on the CPU
    (LU with pivoting), and for a few-millisecond ALS sweep compilation is most of the cost.
    """
    augmented = jnp.concatenate([a, b[..., None]], axis=-1)     # (n, k, k + 1)

    def eliminate(j, m):
        row = jax.lax.dynamic_index_in_dim(m, j, axis=1, keepdims=False)              # (n, k + 1)
        row = row / jax.lax.dynamic_index_in_dim(row, j, axis=1, keepdims=True)
        column = jax.lax.dynamic_index_in_dim(m, j, axis=2, keepdims=True)            # (n, k, 1)
        return jax.lax.dynamic_update_index_in_dim(m - column * row[:, None, :], row, j, axis=1)

    return jax.lax.fori_loop(0, a.shape[-1], eliminate, augmented)[..., -1]


def bpr_loss(model: BiasedMF, batch, key, *, reg: float = 0.0, negatives: NegativeSampler | None = None) -> jax.Array:
    """BPR: −mean log σ(s_ui − s_uj) + λ/2 · mean(‖p_u‖² + ‖q_i‖² + ‖q_j‖²), one negative j per pair.

    ``batch``: ``user``, ``item`` (m,) observed pairs. ``negatives=None``: j
    uniform, ``jax.random.randint(key, (m,), 0, n_items)``; j may be an item
    the user has seen, as often as the user's seen share of the catalogue
    (large for a heavy user), and is then a false negative: the usual
    approximation. A :class:`~recsys_lite.models.NegativeSampler` draws j
    from ``key`` by its own rule instead, e.g.
    ``NegativeSampler.popularity(train, n_users, n_items, skip_seen=True)``:
    in proportion to popularity, never a seen item.
    Raises ``TypeError``/``ValueError`` for a bad key, a batch without those keys, a negative
    ``reg``, bad ids, or ``negatives`` that is not a sampler for the model's items and users.
    """
    u, i = check_batch_ids(batch, {"user": model.n_users, "item": model.n_items})
    check_key("key", key)
    check_positive("reg", reg, allow_zero=True)
    if negatives is None:
        j = jax.random.randint(key, i.shape, 0, model.n_items)
    else:
        check_sampler("negatives", negatives, model.n_users, model.n_items)
        j = negatives.sample(key, u)
    p, q_i, q_j = model.user_embedding(u), model.item_embedding(i), model.item_embedding(j)
    diff = jnp.sum(p * (q_i - q_j), -1) + model.item_bias[i] - model.item_bias[j]
    penalty = jnp.sum(p * p, -1) + jnp.sum(q_i * q_i, -1) + jnp.sum(q_j * q_j, -1)
    return losses.bpr(diff, jnp.zeros_like(diff)) + 0.5 * reg * jnp.mean(penalty)


def softmax_loss(model, batch, key=None, *, reg: float = 0.0) -> jax.Array:
    """Full softmax cross-entropy, all items as negatives: −mean log softmax(s_u)_i + λ/2 · (mean ‖p_u‖² + ‖Q‖²_F / m).

    ``model.scores(batch)`` gives the logits (m, n_items); affordable because
    the catalogue is small, and free of negative-sampling noise. Raises ``TypeError``/``ValueError``
    for a batch without ``user`` and ``item``, a negative ``reg``, or bad ids.
    """
    u, i = check_batch_ids(batch, {"user": model.n_users, "item": model.n_items}, ndim=1)
    check_positive("reg", reg, allow_zero=True)
    logits = model.scores(batch)
    p = model.user_embedding(u)
    return losses.softmax_cross_entropy(logits, i) + 0.5 * reg * (
        jnp.mean(jnp.sum(p * p, -1)) + jnp.sum(model.item_embedding.table ** 2) / u.shape[0])


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

    gmf_user_embedding: nn.Embedding   # p^G: (n_users, K_G)
    gmf_item_embedding: nn.Embedding   # q^G: (n_items, K_G)
    mlp_user_embedding: nn.Embedding   # p^M: (n_users, K_M)
    mlp_item_embedding: nn.Embedding   # q^M: (n_items, K_M)
    mlp: nn.MLP
    head: nn.Dense

    @classmethod
    def init(cls, key, n_users: int, n_items: int, *, gmf_dim: int = 32, mlp_dim: int = 32,
             hidden=(64, 32, 16), stddev: float = 0.01) -> NeuMF:
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
        return self.gmf_user_embedding.num_embeddings

    @property
    def n_items(self) -> int:
        return self.gmf_item_embedding.num_embeddings

    def _logits(self, gmf_u, mlp_u, gmf_i, mlp_i) -> jax.Array:
        shape = jnp.broadcast_shapes(gmf_u.shape[:-1], gmf_i.shape[:-1])
        mlp_in = jnp.concatenate([jnp.broadcast_to(mlp_u, shape + mlp_u.shape[-1:]),
                                  jnp.broadcast_to(mlp_i, shape + mlp_i.shape[-1:])], axis=-1)
        return self.head(jnp.concatenate([gmf_u * gmf_i, self.mlp(mlp_in)], axis=-1))[..., 0]

    def score(self, batch, *, key=None) -> jax.Array:
        """Logits s_ui of the pairs: ``(B,)``, ``(B,)`` → ``(B,)``; ``key`` unused. Raises as :meth:`BiasedMF.score`.
        """
        users, items = check_batch_ids(batch, {"user": self.n_users, "item": self.n_items})
        return self._logits(self.gmf_user_embedding(users), self.mlp_user_embedding(users),
                            self.gmf_item_embedding(items), self.mlp_item_embedding(items))

    def scores(self, batch, *, key=None) -> jax.Array:
        """Logits for every item: ``batch["user"]`` ``(B,)`` → ``(B, n_items)``. Evaluate in chunks of a few
        hundred users. Raises as :meth:`BiasedMF.scores`.
        """
        (users,) = check_batch_ids(batch, {"user": self.n_users}, ndim=1)
        # [g, h] w + b = (p^G ⊙ w_G) · q^G + h · w_H + b: the GMF half of the head is one matrix product
        k = self.gmf_user_embedding.dim
        w_gmf, w_mlp = self.head.weight[:k, 0], self.head.weight[k:, 0]
        gmf = (self.gmf_user_embedding(users) * w_gmf) @ self.gmf_item_embedding.table.T      # (B, n_items)
        bias = 0.0 if self.head.bias is None else self.head.bias[0]
        return gmf + self._tower_for_every_item(users) @ w_mlp + bias

    def _tower_for_every_item(self, users) -> jax.Array:
        """MLP([p_u^M, q_i^M]) for every item: ``(B,)`` → ``(B, n_items, H)``, its first layer split in two.

        [p, q] W¹ + b¹ = p W¹_p + (q W¹_q + b¹), W¹ = [W¹_p; W¹_q] cut after row K_M: the user half is
        computed once per user and the item half once per item, then added for every pair, instead of
        multiplying all B · n_items concatenations by W¹ (the tower's largest product). Equal to
        :meth:`score`'s values up to float32 rounding (tested).
        """
        first, rest = self.mlp.layers[0], self.mlp.layers[1:]
        k = self.mlp_user_embedding.dim
        user_half = nn.Dense(first.weight[:k], None)(self.mlp_user_embedding(users))                 # (B, H1)
        item_half = nn.Dense(first.weight[k:], first.bias)(self.mlp_item_embedding.table)           # (n_items, H1)
        pre = user_half[:, None, :] + item_half[None]                                               # (B, n_items, H1)
        if not rest:  # a one-layer tower: its only layer is its last
            final = self.mlp.final_activation
            return pre if final is None else nn.get_activation(final, arg="final_activation")(pre)
        first_activation = nn.get_activation(self.mlp.activation, arg="activation")
        return nn.MLP(rest, self.mlp.activation, self.mlp.final_activation)(first_activation(pre))


def bce_loss(model, batch, key, *, n_negatives: int = 4, reg: float = 0.0) -> jax.Array:
    """Binary cross-entropy on each observed pair (label 1) and ``n_negatives`` uniform items (label 0).

    J = −1/m Σ [log σ(s_ui) + Σ_j log(1 − σ(s_uj))] / (1 + n_negatives) + ½λ‖θ‖².

    A uniform item may be one the user has seen (as often as the user's seen
    share of the catalogue) and is then labelled 0 all the same: the usual
    approximation.

    Raises ``TypeError``/``ValueError`` for a bad key, a batch without ``user`` and ``item``,
    an ``n_negatives`` that is not a positive integer, a negative ``reg``, or bad ids.
    """
    u, i = check_batch_ids(batch, {"user": model.n_users, "item": model.n_items})
    check_key("key", key)
    check_size("n_negatives", n_negatives)
    check_positive("reg", reg, allow_zero=True)
    j = jax.random.randint(key, i.shape + (n_negatives,), 0, model.n_items)
    pos = model.score({"user": u, "item": i})
    neg = model.score({"user": jnp.repeat(u[:, None], n_negatives, axis=1), "item": j})
    logits = jnp.concatenate([pos[:, None], neg], axis=1)
    labels = jnp.concatenate([jnp.ones_like(pos)[:, None], jnp.zeros_like(neg)], axis=1)
    penalty = losses.l2_penalty(model, reg) if is_traced(reg) or reg else 0.0
    return losses.binary_cross_entropy_with_logits(logits, labels) + penalty
