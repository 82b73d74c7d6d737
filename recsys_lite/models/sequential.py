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

Item id ``n_items`` is padding (:func:`recsys_lite.data.user_sequences`):
input embedding tables have ``n_items + 1`` rows and padded steps are masked.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from recsys_lite import losses, nn
from recsys_lite._checks import (
    as_array, check_batch, check_fraction, check_id_array, check_key, check_lengths, check_ndim, check_size,
    describe,
)
from recsys_lite._pytree import pytree_dataclass
from recsys_lite.models.factorization import _check_user_list

__all__ = ["Caser", "GRU4Rec", "caser_loss", "gru4rec_loss"]


def _check_history(name: str, history, n_items: int, *, steps: int | None = None, rows=None) -> None:
    """Raise unless ``history`` is (B, steps) integer item ids in [0, n_items] (n_items is padding).

    ``rows`` (an array) asks for one row per entry of it. Values are checked only when concrete.
    """
    history = as_array(name, history)
    meaning = "(batch, steps) item ids" if steps is None else f"(batch, {steps}) item ids, the last {steps}"
    check_ndim(name, history, 2, meaning)
    if not jnp.issubdtype(history.dtype, jnp.integer):
        raise TypeError(f"`{name}` must hold integer item ids (0 … {n_items - 1}, and {n_items} for padding); "
                        f"got {describe(history)}.")
    check_id_array(name, history, n_items + 1, f"ids: {n_items} items and the padding id {n_items}")
    if history.shape[1] < 1:
        raise ValueError(f"`{name}` must have at least one step (column); got {describe(history)}.")
    if steps is not None and history.shape[1] != steps:
        raise ValueError(f"`{name}` must have {steps} columns, the window the model was built for (the last "
                         f"{steps} items, padded with {n_items}); got {describe(history)}.")
    if rows is not None and history.shape[0] != jnp.shape(rows)[0]:
        raise ValueError(f"`{name}` must have one row per entry of `users` ({jnp.shape(rows)[0]}); "
                         f"got {describe(history)}.")


def _check_dropout_key(key) -> None:
    check_key("key", key, allow_none=True)


def _dropout(x, rate: float, key):
    return x if key is None or rate == 0.0 else nn.Dropout(rate)(x, key=key)


@pytree_dataclass(static=("dropout",))
class Caser:
    """Convolutional sequence embedding.

        E = embeddings of the last L items                       (L, d)
        o_h = maxpool_t relu(conv_h(E))  for h = 1 … L            (n_h,) each
        o_v = vec(Vᵀ E)                                          (n_v · d,)
        z = relu([o_h …, o_v] W + b)                             (d,)
        s_ui = [z, p_u] · o_i + c_i

    ``horizontal[h−1]`` is a Conv1D with kernel (h, d, n_h); ``vertical`` V is
    (L, n_v); ``out`` holds the output item embeddings o_i (n_items, 2d) and
    ``out_bias`` c (n_items,).
    """

    items: nn.Embedding       # (n_items + 1, d), last row = padding
    users: nn.Embedding       # (n_users, d)
    horizontal: tuple         # of nn.Conv1D
    vertical: jax.Array       # (L, n_v)
    hidden: nn.Dense          # (L·n_h + n_v·d) → d
    out: nn.Embedding         # (n_items, 2d)
    out_bias: jax.Array       # (n_items,)
    dropout: float = 0.5

    @classmethod
    def init(cls, key, n_users: int, n_items: int, *, dim: int = 64, window: int = 5,
             n_horizontal: int = 16, n_vertical: int = 4, dropout: float = 0.5) -> "Caser":
        """Raises ``TypeError``/``ValueError`` for a bad key, a size that is not a positive
        integer, or a ``dropout`` outside [0, 1)."""
        check_key("key", key)
        n_users, n_items, dim = check_size("n_users", n_users), check_size("n_items", n_items), check_size("dim", dim)
        window, n_horizontal = check_size("window", window), check_size("n_horizontal", n_horizontal)
        n_vertical = check_size("n_vertical", n_vertical)
        check_fraction("dropout", dropout)
        keys = jax.random.split(key, 5 + window)
        horizontal = tuple(nn.Conv1D.init(keys[5 + h], dim, n_horizontal, h + 1) for h in range(window))
        return cls(
            nn.Embedding.init(keys[0], n_items + 1, dim, stddev=1 / dim),
            nn.Embedding.init(keys[1], n_users, dim, stddev=1 / dim),
            horizontal,
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
        return self.out.num_embeddings

    def represent(self, users, history, *, key=None) -> jax.Array:
        """r_u = [z, p_u]: users (B,), history (B, L) item ids → (B, 2d). ``key`` turns dropout on.

        Raises ``TypeError``/``ValueError`` for ids that are not integers, a history not of
        shape (B, L) with L the model's window, or (when concrete) ids out of range.
        """
        _check_user_list(users, self.users.num_embeddings)
        _check_history("history", history, self.n_items, steps=self.window, rows=users)
        _check_dropout_key(key)
        users, history = jnp.asarray(users), jnp.asarray(history)
        real = (history < self.n_items)[..., None]
        E = jnp.where(real, self.items(history), 0.0)                     # (B, L, d)
        pooled = [nn.max_pool_over_time(jax.nn.relu(conv(E))) for conv in self.horizontal]
        vertical = jnp.einsum("bld,lv->bvd", E, self.vertical)
        vertical = vertical.reshape(E.shape[0], vertical.shape[1] * vertical.shape[2])   # (B, n_v·d), also for B = 0
        o = _dropout(jnp.concatenate(pooled + [vertical], axis=-1), self.dropout, key)
        z = jax.nn.relu(self.hidden(o))
        return jnp.concatenate([z, self.users(users)], axis=-1)

    def scores(self, users, history, *, key=None) -> jax.Array:
        """s_ui for every item: (B,), (B, L) → (B, n_items). Raises as :meth:`represent`."""
        return self.represent(users, history, key=key) @ self.out.table.T + self.out_bias


def caser_loss(model: Caser, batch, key) -> jax.Array:
    """Softmax cross-entropy of the next item; ``batch``: user (B,), history (B, L), item (B,).

    Raises ``TypeError``/``ValueError`` for a batch without those keys, a bad key, or bad ids.
    """
    check_batch("batch", batch, ["user", "history", "item"])
    check_id_array("batch['item']", batch["item"], model.n_items, "items", ndim=1)
    logits = model.scores(batch["user"], batch["history"], key=key)
    return losses.softmax_cross_entropy(logits, batch["item"])


@pytree_dataclass(static=("dropout",))
class GRU4Rec:
    """A GRU over the item sequence; its state h_t scores the next item:

        x_t = e_{i_t},   h_t = GRU(h_{t−1}, x_t),   s_t = h_t Oᵀ + c

    ``items``: input embeddings (n_items + 1, d); ``rnn``: a GRU sequence
    layer d → H; ``out``: output embeddings O (n_items, H) and bias c.
    """

    items: nn.Embedding
    rnn: nn.Recurrent
    out: nn.Embedding
    out_bias: jax.Array
    dropout: float = 0.25

    @classmethod
    def init(cls, key, n_items: int, *, dim: int = 64, hidden: int = 128, dropout: float = 0.25) -> "GRU4Rec":
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
        return self.out.num_embeddings

    def states(self, sequences, lengths, *, key=None) -> jax.Array:
        """h_t after every item: sequences (B, T) ids, lengths (B,) → (B, T, H), zero on padding.

        Raises ``TypeError``/``ValueError`` for ids or lengths that are not integers, shapes
        that do not fit, or (when concrete) ids out of range or lengths outside [0, T].
        """
        _check_history("sequences", sequences, self.n_items)
        check_lengths("lengths", lengths, jnp.shape(sequences)[:1], jnp.shape(sequences)[1])
        _check_dropout_key(key)
        x = _dropout(self.items(sequences), self.dropout, key)
        outputs, _ = self.rnn(x, lengths)
        return outputs

    def scores(self, sequences, lengths) -> jax.Array:
        """Scores of the item after each history: (B, T), (B,) → (B, n_items), from h at the last real step.

        Raises as :meth:`states`, and (when concrete) for a length of 0: an empty history has no state.
        """
        _check_history("sequences", sequences, self.n_items)
        check_lengths("lengths", lengths, jnp.shape(sequences)[:1], jnp.shape(sequences)[1], low=1)
        outputs = self.states(sequences, lengths)
        lengths = jnp.asarray(lengths)
        last = jnp.take_along_axis(outputs, jnp.maximum(lengths - 1, 0)[:, None, None], axis=1)[:, 0]
        return last @ self.out.table.T + self.out_bias


def gru4rec_loss(model: GRU4Rec, batch, key) -> jax.Array:
    """Mean over real steps t < length − 1 of −log softmax(s_t)[i_{t+1}].

    ``batch``: ``sequence`` (B, T) left-aligned item ids padded with n_items,
    ``length`` (B,). Every step of every sequence is a training example.

    Raises ``TypeError``/``ValueError`` for a batch without those keys, a bad key, or bad
    ids or lengths (see :meth:`GRU4Rec.states`).
    """
    check_batch("batch", batch, ["sequence", "length"])
    _check_history("batch['sequence']", batch["sequence"], model.n_items)
    if jnp.shape(batch["sequence"])[1] < 2:
        raise ValueError(f"`batch['sequence']` must have at least 2 steps (an item and the next); "
                         f"got {describe(batch['sequence'])}.")
    check_lengths("batch['length']", batch["length"], jnp.shape(batch["sequence"])[:1],
                  jnp.shape(batch["sequence"])[1])
    seq, length = batch["sequence"], batch["length"]
    h = model.states(seq[:, :-1], jnp.maximum(length - 1, 0), key=key)
    logits = h @ model.out.table.T + model.out_bias                     # (B, T−1, n_items)
    real = jnp.arange(seq.shape[1] - 1)[None, :] < (length - 1)[:, None]
    return losses.softmax_cross_entropy(logits, seq[:, 1:], where=real)
