"""The book's complete recommender (chapter 8), made only of the book's layers.

A user is represented by up to four branches. Three of them read what the
user is and did, each giving a row of d numbers,

    content:  MLP(x_u)                              age, gender, occupation (chapter 4)
    conv:     Dense(maxpool relu(conv_h(E)) …)      the last L items (chapter 6)
    gru:      Dense(GRU(E)_last)                    the same history, in order (chapter 7)

and are fused by z_u = relu([branches] W_f + b_f); the fourth is the user's
own embedding p_u (chapter 5), added to the fused row as in MF:

    r_u = z_u + p_u

so with only the user branch (and no item content) the model *is* matrix
factorisation, and the other branches learn what the embedding cannot (the order of recent films,
a user never seen in training). An item is its embedding plus its content,
o_i = q_i + MLP(x_i) (genres, year), so a film nobody rated yet still has a
place. Then

    top-N:    s_ui = r_u · o_i + c_i                (full softmax over items)
    ratings:  r̂_ui = μ + b_u + b_i + r_u · o_i       (½-MSE on u1)

``branches`` (static) names the user branches in use; leaving one out is
the ablation of chapter 8, and the model still trains. ``item_content``
switches the item-content term. A branch or term that is left out has no
parameters at all (its fields are None, or an empty tuple of convolutions).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from recsys_lite import losses, nn
from recsys_lite._checks import (
    check_batch, check_features, check_flag, check_fraction, check_id_array, check_key, check_number,
    check_size, describe,
)
from recsys_lite._pytree import pytree_dataclass
from recsys_lite.models.factorization import _check_reg, _check_user_list
from recsys_lite.models.sequential import _check_dropout_key, _check_history

__all__ = ["Hybrid", "BRANCHES", "hybrid_topn_loss", "hybrid_rating_loss"]

BRANCHES = ("user", "content", "conv", "gru")


@pytree_dataclass(static=("branches", "item_content", "dropout", "window", "low", "high"))
class Hybrid:
    """See the module docstring. Inputs of every method:

    users (B,) ids; history (B, L) the last L item ids, right-aligned, padded
    with id n_items on the left; user_x (B, d_u) user features; item_x
    (n_items, d_i) the item features. Features are data, not parameters:
    they are passed in, never trained.
    """

    history_items: nn.Embedding       # (n_items + 1, d) input embeddings, last row = padding
    user_emb: nn.Embedding | None     # (n_users, d)                      user branch
    user_mlp: nn.MLP | None           # d_u → d                           content branch
    convs: tuple                      # Conv1D kernels of widths 1 … L    conv branch
    conv_out: nn.Dense | None         # L·n_h → d                         conv branch
    gru: nn.Recurrent | None          # d → H                             gru branch
    gru_out: nn.Dense | None          # H → d                             gru branch
    fuse: nn.Dense | None             # (number of non-user branches)·d → d; None if there are none
    items: nn.Embedding               # q_i: (n_items, d)
    item_mlp: nn.MLP | None           # d_i → d                           item content term
    item_bias: jax.Array              # c_i: (n_items,)
    rating_user_bias: jax.Array       # b_u (n_users,), rating head only
    rating_item_bias: jax.Array       # b_i (n_items,), rating head only
    mu: jax.Array
    branches: tuple = BRANCHES
    item_content: bool = True
    dropout: float = 0.3
    window: int = 5                   # L, the history length the model reads
    low: float = 1.0
    high: float = 5.0

    @classmethod
    def init(cls, key, n_users: int, n_items: int, user_dim: int, item_dim: int, *, dim: int = 64, window: int = 5,
             n_horizontal: int = 16, hidden: int = 64, branches=BRANCHES, item_content: bool = True,
             dropout: float = 0.3, mu: float = 0.0) -> "Hybrid":
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
        unknown = [b for b in branches if b not in BRANCHES]
        if not branches or unknown or len(set(branches)) != len(branches):
            raise ValueError(f"`branches` must be a non-empty subset of {BRANCHES}, each named once; got {branches}.")
        check_flag("item_content", item_content)
        check_fraction("dropout", dropout)
        check_number("mu", mu)
        fused = [b for b in branches if b != "user"]
        k = iter(jax.random.split(key, 12 + window))
        small = 1.0 / dim
        # Keys in a fixed order, drawn whether or not a part is used, so the parts
        # that are kept start from the same values whatever is left out.
        history_key, user_key, content_key = next(k), next(k), next(k)
        conv_keys = [next(k) for _ in range(window)]
        conv_out_key, gru_key, gru_out_key = next(k), next(k), next(k)
        fuse_key = next(k) if fused else None
        items_key, item_mlp_key = next(k), next(k)
        use = set(branches)
        return cls(
            history_items=nn.Embedding.init(history_key, n_items + 1, dim, stddev=small),
            user_emb=nn.Embedding.init(user_key, n_users, dim, stddev=small) if "user" in use else None,
            user_mlp=nn.MLP.init(content_key, [user_dim, dim, dim]) if "content" in use else None,
            convs=tuple(nn.Conv1D.init(conv_key, dim, n_horizontal, h) for h, conv_key in enumerate(conv_keys, 1))
            if "conv" in use else (),
            conv_out=nn.Dense.init(conv_out_key, window * n_horizontal, dim) if "conv" in use else None,
            gru=nn.Recurrent.init(gru_key, dim, hidden, cell="gru") if "gru" in use else None,
            gru_out=nn.Dense.init(gru_out_key, hidden, dim) if "gru" in use else None,
            fuse=nn.Dense.init(fuse_key, len(fused) * dim, dim) if fused else None,
            items=nn.Embedding.init(items_key, n_items, dim, stddev=small),
            item_mlp=nn.MLP.init(item_mlp_key, [item_dim, dim, dim]) if item_content else None,
            item_bias=jnp.zeros(n_items),
            rating_user_bias=jnp.zeros(n_users),
            rating_item_bias=jnp.zeros(n_items),
            mu=jnp.asarray(mu, jnp.float32),
            branches=branches, item_content=item_content, dropout=dropout, window=window,
        )

    @property
    def n_items(self) -> int:
        return self.items.num_embeddings

    @property
    def n_users(self) -> int:
        return self.rating_user_bias.shape[0]

    def _check_inputs(self, users, history, user_x, *, allow_new_user: bool = True) -> None:
        """Shapes and dtypes of a batch (values too, when concrete): see the class docstring."""
        _check_history("history", history, self.n_items, steps=self.window)
        batch = jnp.shape(history)[0]
        if users is None and not allow_new_user:
            raise TypeError("`users` must be an array of user ids; None (a new user) has no rating biases b_u.")
        if users is not None:
            _check_user_list(users, self.n_users)
            if jnp.shape(users)[0] != batch:
                raise ValueError(f"`users` and `history` must have one entry per user: got {jnp.shape(users)[0]} "
                                 f"users and {batch} rows of history.")
        if "content" in self.branches:
            check_features("user_x", user_x, rows=batch, width=self.user_mlp.sizes[0],
                           meaning="one row of user features per row of `history`")

    def item_vectors(self, item_x) -> jax.Array:
        """o_i for every item: (n_items, d_i) → (n_items, d).

        Raises ``TypeError``/``ValueError`` (with item content) unless ``item_x`` is
        (n_items, d_i) numbers, finite when concrete.
        """
        if self.item_content:
            check_features("item_x", item_x, rows=self.n_items, width=self.item_mlp.sizes[0],
                           meaning="one row of item features per item")
        q = self.items.table
        return q + self.item_mlp(item_x) if self.item_content else q

    def represent(self, users, history, user_x, *, key=None) -> jax.Array:
        """r_u: (B,), (B, L), (B, d_u) → (B, d). ``key`` turns dropout on.

        ``users=None`` is a user the model has never seen: the user branch
        then gets the mean user embedding.

        Raises ``TypeError``/``ValueError`` for ids that are not integers, a history not of
        shape (B, L) with L = ``window``, ``user_x`` (with the content branch) not of shape
        (B, d_u), a bad ``key``, or (when concrete) ids out of range and NaN or inf features.
        """
        self._check_inputs(users, history, user_x)
        _check_dropout_key(key)
        history = jnp.asarray(history)
        users = None if users is None else jnp.asarray(users)
        real = history < self.n_items
        E = jnp.where(real[..., None], self.history_items(history), 0.0)        # (B, L, d)
        parts = []
        for branch in self.branches:
            if branch == "content":
                parts.append(self.user_mlp(user_x))
            elif branch == "conv":
                pooled = [nn.max_pool_over_time(jax.nn.relu(conv(E))) for conv in self.convs]
                parts.append(self.conv_out(jnp.concatenate(pooled, axis=-1)))
            elif branch == "gru":  # the history is right-aligned; move its real steps first, in order
                order = jnp.argsort(~real, axis=1, stable=True)
                aligned = jnp.take_along_axis(E, order[..., None], axis=1)
                _, state = self.gru(aligned, real.sum(axis=1))
                parts.append(self.gru_out(state))
        r = jnp.zeros((history.shape[0], self.items.dim))
        if parts:
            fused = jnp.concatenate(parts, axis=-1)
            if key is not None and self.dropout > 0:
                fused = nn.Dropout(self.dropout)(fused, key=key)
            r = jax.nn.relu(self.fuse(fused))
        if "user" in self.branches:
            table = self.user_emb.table
            r = r + (jnp.broadcast_to(table.mean(0), r.shape) if users is None else self.user_emb(users))
        return r

    def scores(self, users, history, user_x, item_x, *, key=None) -> jax.Array:
        """Top-N scores s_ui for every item: → (B, n_items). Raises as :meth:`represent` and :meth:`item_vectors`."""
        return self.represent(users, history, user_x, key=key) @ self.item_vectors(item_x).T + self.item_bias

    def rate(self, users, items, history, user_x, item_x, *, key=None) -> jax.Array:
        """Unclipped r̂_ui = μ + b_u + b_i + r_u · o_i for (user, item) pairs: → (B,).

        Raises as :meth:`represent`, and for ``users=None`` (b_u needs a known user) or
        ``items`` that are not (B,) integer ids (in range when concrete).
        """
        self._check_inputs(users, history, user_x, allow_new_user=False)
        check_id_array("items", items, self.n_items, "items", ndim=1, meaning="(B,) item ids, one per user")
        if jnp.shape(items) != jnp.shape(users):
            raise ValueError(f"`users` and `items` must have the same shape, one (user, item) pair per entry; "
                             f"got {tuple(jnp.shape(users))} and {tuple(jnp.shape(items))}.")
        users, items = jnp.asarray(users), jnp.asarray(items)
        r = self.represent(users, history, user_x, key=key)
        o = self.item_vectors(item_x)[items]
        return self.mu + self.rating_user_bias[users] + self.rating_item_bias[items] + jnp.sum(r * o, axis=-1)

    def predict(self, users, items, history, user_x, item_x) -> jax.Array:
        """r̂ clipped to the rating scale."""
        return jnp.clip(self.rate(users, items, history, user_x, item_x), self.low, self.high)


def hybrid_topn_loss(model: Hybrid, batch, key, *, item_x) -> jax.Array:
    """Softmax cross-entropy of the next item; batch: user, history, user_x, item.

    Raises ``TypeError``/``ValueError`` for a batch without those keys, or bad inputs (see :meth:`Hybrid.scores`).
    """
    check_batch("batch", batch, ["user", "history", "user_x", "item"])
    check_id_array("batch['item']", batch["item"], model.n_items, "items", ndim=1)
    logits = model.scores(batch["user"], batch["history"], batch["user_x"], item_x, key=key)
    return losses.softmax_cross_entropy(logits, batch["item"])


def hybrid_rating_loss(model: Hybrid, batch, key, *, item_x, reg: float = 0.0) -> jax.Array:
    """½-MSE of the rating head, plus ½λ‖θ‖² when ``reg`` > 0; batch: user, item, history, user_x, rating.

    Raises ``TypeError``/``ValueError`` for a batch without those keys, a negative ``reg``, or bad inputs.
    """
    check_batch("batch", batch, ["user", "item", "history", "user_x", "rating"])
    _check_reg(reg)
    pred = model.rate(batch["user"], batch["item"], batch["history"], batch["user_x"], item_x, key=key)
    penalty = losses.l2_penalty(model, reg) if reg else 0.0
    return losses.mse(pred, batch["rating"]) + penalty
