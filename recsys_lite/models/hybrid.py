"""The book's complete recommender (chapter 8), made only of the book's layers.

A user is represented by up to four branches. Three of them read what the
user is and did, each giving a row of d numbers,

    content:  MLP(x_u)                              age, gender, occupation (chapter 4)
    conv:     Dense(HorizontalConv(E))              the last L items (chapter 6)
    gru:      Dense(GRU(E)_last)                    the same history, in order (chapter 7)

and run side by side, stax-style (:class:`recsys_lite.nn.compose.Parallel`):
z_u = relu([branches] W_f + b_f); the fourth is the user's own embedding
p_u (chapter 5), added to the fused row as in MF:

    r_u = z_u + p_u

so with only the user branch (and no item content) the model *is* matrix
factorisation. An item is its embedding plus its content, o_i = q_i + MLP(x_i)
(genres, year), so a film nobody rated yet still has a place. Then

    top-N:    s_ui = r_u · o_i + c_i                (full softmax over items)
    ratings:  r̂_ui = μ + b_u + b_i + r_u · o_i       (½-MSE on u1)

Leaving a branch out (chapter 8's ablation) leaves it absent: no parameters, no ``None`` field.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from recsys_lite import losses, nn
from recsys_lite._checks import (
    check_batch,
    check_batch_ids,
    check_features,
    check_flag,
    check_fraction,
    check_history,
    check_ids,
    check_key,
    check_number,
    check_positive,
    check_size,
    describe,
    is_traced,
)
from recsys_lite._pytree import pytree_dataclass
from recsys_lite.nn import Parallel, Serial

__all__ = ["Hybrid", "BRANCHES", "hybrid_topn_loss", "hybrid_rating_loss"]

BRANCHES = ("user", "content", "conv", "gru")


@pytree_dataclass
class GRUBranch:
    """Dense(h_last), the GRU's state after the last real item: (E (B, L, d), length (B,)) → (B, H) → (B, d)."""
    gru: nn.Recurrent
    out: nn.Dense

    def __call__(self, inputs) -> jax.Array:
        return self.out(self.gru(*inputs)[1])


@pytree_dataclass(static=("dropout",))
class Fusion:
    """z_u = relu(Dense(dropout([branches]))), the fused branches side by side: (B, k·d) → (B, d).

    ``branches`` reads ``inputs["content"]`` = x_u (B, d_u), ``inputs["conv"]`` = E (B, L, d), the
    history's embeddings (zero on padding), and ``inputs["gru"]`` = (E, lengths (B,)).
    """
    branches: Parallel
    dense: nn.Dense
    dropout: float = 0.3

    def __call__(self, inputs, *, key=None) -> jax.Array:
        fused = self.branches(inputs)
        return jax.nn.relu(self.dense(nn.Dropout(self.dropout)(fused, key=key)))


@pytree_dataclass(static=("low", "high"))
class Hybrid:
    """See the module docstring. ``batch`` (the protocol of :mod:`recsys_lite.models`): ``user`` (B,)
    (absent: a new user, who gets the mean user embedding); ``history`` (B, L) the last L item ids,
    left-aligned, padded on the right with n_items; ``user_x`` (B, d_u); ``item`` (B,) for the rating
    head. ``item_features`` (n_items, d_i) is a keyword. Features are data, never trained.
    """

    history_embedding: nn.Embedding   # (n_items + 1, d) input embeddings, last row = padding
    fusion: dict                      # {"fused": Fusion} when any of content, conv, gru is used, else {}
    user_embedding: dict              # {"user": p_u (n_users, d)} with the user branch, else {}
    item_embedding: nn.Embedding      # q_i: (n_items, d)
    item_content: dict                # {"content": MLP d_i → d} with item content, else {}
    item_bias: jax.Array              # c_i: (n_items,)
    rating_user_bias: jax.Array       # b_u (n_users,), rating head only
    rating_item_bias: jax.Array       # b_i (n_items,), rating head only
    mu: jax.Array
    low: float = 1.0
    high: float = 5.0

    @classmethod
    def init(cls, key, n_users: int, n_items: int, user_dim: int, item_dim: int, *, dim: int = 64, window: int = 5,
             n_horizontal: int = 16, hidden: int = 64, branches=BRANCHES, item_content: bool = True,
             dropout: float = 0.3, mu: float = 0.0) -> Hybrid:
        """Raises ``TypeError``/``ValueError`` for a bad key, a size that is not a positive integer,
        ``branches`` that are not a non-empty tuple of distinct names from ``BRANCHES``, a
        non-bool ``item_content``, a ``dropout`` outside [0, 1) or a ``mu`` that is not finite."""
        check_key("key", key)
        n_users, n_items = check_size("n_users", n_users), check_size("n_items", n_items)
        user_dim, item_dim = check_size("user_dim", user_dim), check_size("item_dim", item_dim)
        dim, window = check_size("dim", dim), check_size("window", window)
        n_horizontal, hidden = check_size("n_horizontal", n_horizontal), check_size("hidden", hidden)
        if isinstance(branches, (str, bytes)) or not isinstance(branches, (tuple, list)):
            raise TypeError(f"`branches` must be a tuple of names from {BRANCHES}, e.g. ('user',); "
                            f"got {describe(branches)}.")
        branches = tuple(branches)
        if not branches or any(b not in BRANCHES for b in branches) or len(set(branches)) != len(branches):
            raise ValueError(f"`branches` must be a non-empty subset of {BRANCHES}, each named once; got {branches}.")
        check_flag("item_content", item_content)
        check_fraction("dropout", dropout)
        check_number("mu", mu)
        # Keys in a fixed order, drawn whether or not a branch is used, so the user-side
        # parts that are kept start from the same values whatever is left out (the item
        # side's keys shift by one when no branch is fused: the fuse key is not drawn).
        k = jax.random.split(key, 12 + window)
        history_key, user_key, content_key, conv_keys = k[0], k[1], k[2], k[3:3 + window]
        conv_out_key, gru_key, gru_out_key = k[3 + window], k[4 + window], k[5 + window]
        fused = {"content": nn.MLP.init(content_key, [user_dim, dim, dim]),
                 "conv": Serial((nn.HorizontalConv.init(conv_keys, dim, n_horizontal),
                                 nn.Dense.init(conv_out_key, window * n_horizontal, dim))),
                 "gru": GRUBranch(nn.Recurrent.init(gru_key, dim, hidden, cell="gru"),
                                  nn.Dense.init(gru_out_key, hidden, dim))}
        fused = {name: branch for name, branch in fused.items() if name in branches}
        rest = iter(k[6 + window:])  # the fuse key is drawn only with fused branches, as it always was
        fusion = {"fused": Fusion(Parallel(fused), nn.Dense.init(next(rest), len(fused) * dim, dim), dropout)} \
            if fused else {}
        items_key, item_mlp_key = next(rest), next(rest)

        def embedding(key, rows):
            return nn.Embedding.init(key, rows, dim, stddev=1.0 / dim)

        return cls(embedding(history_key, n_items + 1), fusion,
                   {"user": embedding(user_key, n_users)} if "user" in branches else {}, embedding(items_key, n_items),
                   {"content": nn.MLP.init(item_mlp_key, [item_dim, dim, dim])} if item_content else {},
                   jnp.zeros(n_items), jnp.zeros(n_users), jnp.zeros(n_items), jnp.asarray(mu, jnp.float32))

    @property
    def fused(self) -> dict:  # the fused branches in use, by name
        return self.fusion["fused"].branches.layers if self.fusion else {}

    @property
    def branches(self) -> tuple[str, ...]:
        """The user branches in use, in the order of ``BRANCHES``."""
        return tuple(b for b in BRANCHES if b in self.fused or b in self.user_embedding)

    @property
    def window(self) -> int | None:
        """L, the history length the conv branch reads (None without it: any L ≥ 1 then)."""
        return self.fused["conv"].layers[0].window if "conv" in self.fused else None

    @property
    def n_items(self) -> int:
        return self.item_embedding.num_embeddings

    @property
    def n_users(self) -> int:
        return self.rating_user_bias.shape[0]

    def item_vectors(self, item_features) -> jax.Array:
        """o_i = q_i (+ MLP(x_i) with item content) for every item: (n_items, d_i) → (n_items, d).

        Raises ``TypeError``/``ValueError`` (with item content) unless ``item_features`` is
        (n_items, d_i) numbers, finite when concrete.
        """
        q = self.item_embedding.table
        for mlp in self.item_content.values():
            check_features("item_features", item_features, rows=self.n_items, width=mlp.sizes[0],
                           meaning="one row of item features per item")
            q = q + mlp(item_features)
        return q

    def content_vectors(self, item_features) -> jax.Array:
        """MLP(x_i), the content part of o_i alone: (n_items, d_i) → (n_items, d).

        The vector of a film that has no trained embedding yet (item cold start): a new film's score for
        user u is r_u · MLP(x_i), with neither q_i nor the popularity bias c_i, which only ratings can train.

        Raises ``ValueError`` for a model built with ``item_content=False`` (it has no content part), and
        as :meth:`item_vectors` for bad ``item_features``.
        """
        if not self.item_content:
            raise ValueError("this model has no item content (it was built with item_content=False), so it "
                             "cannot place a film from its features alone.")
        mlp = self.item_content["content"]
        check_features("item_features", item_features, rows=self.n_items, width=mlp.sizes[0],
                       meaning="one row of item features per item")
        return mlp(item_features)

    def represent(self, batch, *, key=None) -> jax.Array:
        """r_u: batch ``user`` (B,) (optional), ``history`` (B, L), ``user_x`` (B, d_u) → (B, d). ``key``: dropout.

        Raises ``TypeError``/``ValueError`` for a batch without ``history`` (or ``user_x``
        with the content branch), ids that are not integers, a history not of shape (B, L)
        (L the conv branch's window), ``user_x`` not of shape (B, d_u), a bad ``key``, or
        (when concrete) ids out of range and NaN or inf features.
        """
        check_batch("batch", batch, ["history", "user_x"] if "content" in self.fused else ["history"])
        check_history("batch['history']", batch["history"], self.n_items, steps=self.window)
        rows = jnp.shape(batch["history"])[0]
        if "user" in batch:
            check_ids("batch['user']", batch["user"], self.n_users, "users", ndim=1)
            if jnp.shape(batch["user"])[0] != rows:
                raise ValueError(f"`batch['user']` and `batch['history']` must have one row per user: got "
                                 f"{jnp.shape(batch['user'])[0]} users and {rows} rows of history.")
        if "content" in self.fused:
            check_features("batch['user_x']", batch["user_x"], rows=rows, width=self.fused["content"].sizes[0],
                           meaning="one row of user features per row of `history`")
        check_key("key", key, allow_none=True)
        history = jnp.asarray(batch["history"])
        real = history < self.n_items
        E = jnp.where(real[..., None], self.history_embedding(history), 0.0)   # (B, L, d)
        inputs = {"content": batch.get("user_x"), "conv": E, "gru": (E, real.sum(axis=1))}
        r = jnp.zeros((rows, self.item_embedding.dim))
        for fusion in self.fusion.values():
            r = fusion(inputs, key=key)
        for table in self.user_embedding.values():
            r = r + (table(jnp.asarray(batch["user"])) if "user" in batch else table.table.mean(0))
        return r

    def scores(self, batch, *, item_features, key=None) -> jax.Array:
        """Top-N scores s_ui for every item: → (B, n_items). Raises as :meth:`represent` and :meth:`item_vectors`."""
        return self.represent(batch, key=key) @ self.item_vectors(item_features).T + self.item_bias

    def score(self, batch, *, item_features, key=None) -> jax.Array:
        """Unclipped r̂_ui = μ + b_u + b_i + r_u · o_i for the pairs (batch ``user``, ``item``): → (B,).

        Raises as :meth:`represent`, and for a batch without ``user`` (b_u needs a known
        user) or ``item`` (B,) integer ids (in range when concrete).
        """
        users, items = check_batch_ids(batch, {"user": self.n_users, "item": self.n_items}, ndim=1)
        r = self.represent(batch, key=key)
        o = self.item_vectors(item_features)[items]
        return self.mu + self.rating_user_bias[users] + self.rating_item_bias[items] + jnp.sum(r * o, axis=-1)

    def predict(self, batch, *, item_features) -> jax.Array:
        """r̂ clipped to the rating scale [low, high]. Raises as :meth:`score`."""
        return jnp.clip(self.score(batch, item_features=item_features), self.low, self.high)


def hybrid_topn_loss(model: Hybrid, batch, key, *, item_features) -> jax.Array:
    """Softmax cross-entropy of the next item; batch: user, history, user_x, item.

    Raises ``TypeError``/``ValueError`` for a batch without those keys, or bad inputs (see :meth:`Hybrid.scores`).
    """
    check_batch_ids(batch, {"user": model.n_users, "item": model.n_items}, ndim=1)
    return losses.softmax_cross_entropy(model.scores(batch, item_features=item_features, key=key), batch["item"])


def hybrid_rating_loss(model: Hybrid, batch, key, *, item_features, reg: float = 0.0) -> jax.Array:
    """½-MSE of the rating head, plus ½λ‖θ‖² when ``reg`` > 0; batch: user, item, history, user_x, rating.

    Raises ``TypeError``/``ValueError`` for a batch without those keys, a negative ``reg``, or bad inputs.
    """
    check_batch("batch", batch, ["rating"])
    check_positive("reg", reg, allow_zero=True)    # concrete values only: a traced λ passes
    penalty = losses.l2_penalty(model, reg) if is_traced(reg) or reg else 0.0
    return losses.mse(model.score(batch, item_features=item_features, key=key), batch["rating"]) + penalty
