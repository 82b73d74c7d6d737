"""Next-item recommenders over a user's time-ordered history (chapters 6–7).

Both models turn the user's recent items into a row vector r_u and score
every item with an output embedding: s_ui = r_u · o_i + c_i. Trained with
the full softmax over the catalogue (:func:`recsys_lite.losses.softmax_cross_entropy`),
which is affordable for a few thousand items and has no sampling noise.

- :class:`Caser` {Tang and Wang 2018}: horizontal convolutions (windows of
  1 … L items) and vertical convolutions (weighted sums over the L steps)
  over the embeddings of the last L items, plus a user embedding.
- :class:`GRU4Rec` {Hidasi et al. 2016}: a GRU reads the whole history; its
  state after each item predicts the next one.

Both follow the model protocol (:mod:`recsys_lite.models`): ``scores(batch, *, key=None)``
→ (B, n_items), dropout on exactly when ``key`` is given. A history is left-aligned, oldest
first, padded on the right with the id ``n_items`` (:func:`recsys_lite.data.recent_items`):
input embedding tables have ``n_items + 1`` rows and padded steps are masked.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from recsys_lite import losses, nn
from recsys_lite._checks import (
    check_batch,
    check_batch_ids,
    check_fraction,
    check_history,
    check_ids,
    check_key,
    check_lengths,
    check_size,
    describe,
)
from recsys_lite._pytree import pytree_dataclass

__all__ = ["Caser", "GRU4Rec", "caser_loss", "gru4rec_loss"]


@pytree_dataclass(static=("dropout",))
class Caser:
    """Convolutional sequence embedding.

        E = embeddings of the last L items                       (L, d)
        o_h = maxpool_t relu(conv_h(E))  for h = 1 … L            (n_h,) each
        o_v = vec(Vᵀ E)                                          (n_v · d,)
        z = relu([o_h …, o_v] W + b)                             (d,)
        s_ui = [z, p_u] · o_i + c_i

    ``horizontal`` is the bank of convolutions of widths 1 … L (:class:`recsys_lite.nn.HorizontalConv`).
    """

    history_embedding: nn.Embedding   # (n_items + 1, d), last row = padding
    user_embedding: nn.Embedding      # p_u: (n_users, d)
    horizontal: nn.HorizontalConv     # widths 1 … L, n_h filters each
    vertical: jax.Array               # V: (L, n_v)
    hidden: nn.Dense                  # (L·n_h + n_v·d) → d
    item_embedding: nn.Embedding      # o_i: (n_items, 2d)
    item_bias: jax.Array              # c: (n_items,)
    dropout: float = 0.5

    @classmethod
    def init(cls, key, n_users: int, n_items: int, *, dim: int = 64, window: int = 5,
             n_horizontal: int = 16, n_vertical: int = 4, dropout: float = 0.5) -> Caser:
        """Raises ``TypeError``/``ValueError`` for a bad key, a size that is not a positive
        integer, or a ``dropout`` outside [0, 1)."""
        check_key("key", key)
        n_users, n_items, dim = check_size("n_users", n_users), check_size("n_items", n_items), check_size("dim", dim)
        window, n_horizontal = check_size("window", window), check_size("n_horizontal", n_horizontal)
        n_vertical = check_size("n_vertical", n_vertical)
        check_fraction("dropout", dropout)
        keys = jax.random.split(key, 5 + window)
        return cls(
            nn.Embedding.init(keys[0], n_items + 1, dim, stddev=1 / dim),
            nn.Embedding.init(keys[1], n_users, dim, stddev=1 / dim),
            nn.HorizontalConv.init(keys[5:], dim, n_horizontal),
            nn.glorot_uniform(keys[2], (window, n_vertical)),
            nn.Dense.init(keys[3], window * n_horizontal + n_vertical * dim, dim),
            nn.Embedding.init(keys[4], n_items, 2 * dim, stddev=1 / dim),
            jnp.zeros(n_items),
            dropout,
        )

    @property
    def window(self) -> int:
        return self.vertical.shape[0]

    @property
    def n_items(self) -> int:
        return self.item_embedding.num_embeddings

    def represent(self, batch, *, key=None) -> jax.Array:
        """r_u = [z, p_u]: batch ``user`` (B,), ``history`` (B, L) item ids → (B, 2d). ``key`` turns dropout on.

        Raises ``TypeError``/``ValueError`` for a batch without those keys, ids that are not
        integers, a history not of shape (B, L) with L the model's window, a bad ``key``, or
        (when concrete) ids out of range.
        """
        check_batch("batch", batch, ["user", "history"])
        check_ids("batch['user']", batch["user"], self.user_embedding.num_embeddings, "users", ndim=1)
        check_history("batch['history']", batch["history"], self.n_items, steps=self.window,
                      rows=jnp.shape(batch["user"])[0])
        check_key("key", key, allow_none=True)
        users, history = jnp.asarray(batch["user"]), jnp.asarray(batch["history"])
        E = jnp.where((history < self.n_items)[..., None], self.history_embedding(history), 0.0)   # (B, L, d)
        vertical = jnp.einsum("bld,lv->bvd", E, self.vertical)
        vertical = vertical.reshape(E.shape[0], vertical.shape[1] * vertical.shape[2])   # (B, n_v·d), also for B = 0
        o = nn.Dropout(self.dropout)(jnp.concatenate([self.horizontal(E), vertical], axis=-1), key=key)
        z = jax.nn.relu(self.hidden(o))
        return jnp.concatenate([z, self.user_embedding(users)], axis=-1)

    def scores(self, batch, *, key=None) -> jax.Array:
        """s_ui for every item: → (B, n_items). Raises as :meth:`represent`."""
        return self.represent(batch, key=key) @ self.item_embedding.table.T + self.item_bias

    def score(self, batch, *, key=None) -> jax.Array:
        """s_ui = r_u · o_i + c_i of the batch's ``item`` (B,) → (B,). Raises as :meth:`represent`, or for bad ids."""
        _, items = check_batch_ids(batch, {"user": self.user_embedding.num_embeddings, "item": self.n_items}, ndim=1)
        return jnp.sum(self.represent(batch, key=key) * self.item_embedding(items), axis=-1) + self.item_bias[items]


def caser_loss(model: Caser, batch, key) -> jax.Array:
    """Softmax cross-entropy of the next item; ``batch``: user (B,), history (B, L), item (B,).

    Raises ``TypeError``/``ValueError`` for a batch without those keys, a bad key, or bad ids.
    """
    check_batch_ids(batch, {"item": model.n_items}, ndim=1)
    return losses.softmax_cross_entropy(model.scores(batch, key=key), batch["item"])


@pytree_dataclass(static=("dropout",))
class GRU4Rec:
    """A GRU over the item sequence; its state h_t scores the next item:

        x_t = e_{i_t},   h_t = GRU(h_{t−1}, x_t),   s_t = h_t Oᵀ + c

    ``history_embedding``: input embeddings (n_items + 1, d); ``rnn``: a GRU
    sequence layer d → H; ``item_embedding``: output embeddings O (n_items, H);
    ``item_bias`` c (n_items,).
    """

    history_embedding: nn.Embedding
    rnn: nn.Recurrent
    item_embedding: nn.Embedding
    item_bias: jax.Array
    dropout: float = 0.25

    @classmethod
    def init(cls, key, n_items: int, *, dim: int = 64, hidden: int = 128, dropout: float = 0.25) -> GRU4Rec:
        """Raises ``TypeError``/``ValueError`` for a bad key, a size that is not a positive
        integer, or a ``dropout`` outside [0, 1)."""
        check_key("key", key)
        n_items, dim, hidden = check_size("n_items", n_items), check_size("dim", dim), check_size("hidden", hidden)
        check_fraction("dropout", dropout)
        k1, k2, k3 = jax.random.split(key, 3)
        return cls(nn.Embedding.init(k1, n_items + 1, dim, stddev=1 / dim),
                   nn.Recurrent.init(k2, dim, hidden, cell="gru"),
                   nn.Embedding.init(k3, n_items, hidden, stddev=1 / hidden),
                   jnp.zeros(n_items), dropout)

    @property
    def n_items(self) -> int:
        return self.item_embedding.num_embeddings

    def states(self, batch, *, key=None, min_length: int = 0) -> jax.Array:
        """h_t after every item: batch ``history`` (B, T) ids, ``length`` (B,) → (B, T, H), zero on padding.

        Raises ``TypeError``/``ValueError`` for a batch without those keys, ids or lengths that
        are not integers, shapes that do not fit, a bad ``key``, or (when concrete) ids out of
        range or lengths outside [min_length, T].
        """
        check_batch("batch", batch, ["history", "length"])
        check_history("batch['history']", batch["history"], self.n_items)
        check_lengths("batch['length']", batch["length"], jnp.shape(batch["history"])[:1],
                      jnp.shape(batch["history"])[1], low=min_length)
        check_key("key", key, allow_none=True)
        x = nn.Dropout(self.dropout)(self.history_embedding(batch["history"]), key=key)
        outputs, _ = self.rnn(x, batch["length"])
        return outputs

    def last_state(self, batch, *, key=None) -> jax.Array:
        """h at each history's last real step: → (B, H). Raises as :meth:`states`, and (when
        concrete) for a length of 0: an empty history has no state."""
        outputs = self.states(batch, key=key, min_length=1)
        last = jnp.maximum(jnp.asarray(batch["length"]) - 1, 0)
        return jnp.take_along_axis(outputs, last[:, None, None], axis=1)[:, 0]

    def scores(self, batch, *, key=None) -> jax.Array:
        """s_t = h Oᵀ + c for every item, h at each history's last real step: → (B, n_items)."""
        return self.last_state(batch, key=key) @ self.item_embedding.table.T + self.item_bias

    def score(self, batch, *, key=None) -> jax.Array:
        """h · o_i + c_i for the batch's ``item`` (B,), the item after each history → (B,)."""
        (items,) = check_batch_ids(batch, {"item": self.n_items}, ndim=1)
        check_batch("batch", batch, ["history"])
        if items.shape[0] != jnp.shape(batch["history"])[0]:
            raise ValueError(f"`batch['item']` must hold one item per history, {jnp.shape(batch['history'])[0]}; "
                             f"got {describe(items)}.")
        return jnp.sum(self.last_state(batch, key=key) * self.item_embedding(items), axis=-1) + self.item_bias[items]


def gru4rec_loss(model: GRU4Rec, batch, key) -> jax.Array:
    """Mean over real steps t < length − 1 of −log softmax(s_t)[i_{t+1}].

    ``batch``: ``history`` (B, T) left-aligned item ids padded with n_items,
    ``length`` (B,) (:func:`recsys_lite.data.sequence_windows`). Every step of
    every sequence is a training example.

    Raises ``TypeError``/``ValueError`` for a batch without those keys, a bad key, or bad
    ids or lengths (see :meth:`GRU4Rec.states`).
    """
    check_batch("batch", batch, ["history", "length"])
    seq, length = batch["history"], batch["length"]
    check_history("batch['history']", seq, model.n_items)
    if jnp.shape(seq)[1] < 2:
        raise ValueError(f"`batch['history']` must have at least 2 steps (an item and the next); got {describe(seq)}.")
    check_lengths("batch['length']", length, jnp.shape(seq)[:1], jnp.shape(seq)[1])
    h = model.states({"history": seq[:, :-1], "length": jnp.maximum(length - 1, 0)}, key=key)
    logits = h @ model.item_embedding.table.T + model.item_bias                # (B, T−1, n_items)
    real = jnp.arange(seq.shape[1] - 1)[None, :] < (length - 1)[:, None]
    return losses.softmax_cross_entropy(logits, seq[:, 1:], where=real)
