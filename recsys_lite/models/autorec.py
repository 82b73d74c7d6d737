"""AutoRec (chapter 5): an autoencoder of each film's column of ratings {Sedhain et al. 2015}.

I-AutoRec sees film i as the vector r_i ∈ R^{n_users} of the ratings users
gave it (0 where nobody rated it), encodes it into a hidden code and decodes
the code back into a full vector of ratings:

    h_i = g(r_i V + b_V),   r̂_i = f(h_i W + b_W),   r̂_ui = (r̂_i)_u

with V (n_users, h) and W (h, n_users) two :class:`~recsys_lite.nn.Dense`
layers, g = sigmoid and f = identity, as in the paper. The model follows the
protocol of :mod:`recsys_lite.models`: ``score``/``predict`` answer a batch of
(user, item) pairs. It keeps the training ratings it reads its input from
(``ratings``, shape (n_rows, n_cols)); :func:`autorec_loss` holds them fixed
(``jax.lax.stop_gradient``), so their gradient is zero and an optimizer leaves
them where they are. ``by="user"`` gives U-AutoRec, which encodes each user's
row of ratings instead (n_rows = n_users, n_cols = n_items).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from recsys_lite import nn
from recsys_lite._checks import (
    as_array,
    check_batch,
    check_batch_ids,
    check_columns,
    check_key,
    check_ndim,
    check_positive,
    check_size,
    describe,
    lookup,
)
from recsys_lite._pytree import pytree_dataclass

__all__ = ["AutoRec", "autorec_loss", "rating_matrix"]


def rating_matrix(ratings, n_users: int, n_items: int, *, by: str = "item") -> np.ndarray:
    """The observed ratings as a dense float32 matrix, 0 where a cell is missing.

    ``ratings``: a frame with ``user``, ``item``, ``rating`` columns (ratings > 0).
    ``by="item"``: shape (n_items, n_users), row i = film i's ratings r_i;
    ``by="user"``: shape (n_users, n_items). Raises ``TypeError``/``ValueError`` for a frame without
    those columns, ids out of range, or ratings that are not finite and > 0 (0 means "missing").
    """
    check_columns("ratings", ratings, ["user", "item", "rating"])
    n_users, n_items = check_size("n_users", n_users), check_size("n_items", n_items)
    lookup("by", by, {"item": None, "user": None}, "orientation")
    users, items = ratings["user"].to_numpy(), ratings["item"].to_numpy()
    values = ratings["rating"].to_numpy(np.float32)
    for name, ids, n in [("user", users, n_users), ("item", items, n_items)]:
        if len(ids) and (ids.min() < 0 or ids.max() >= n):
            raise ValueError(f"`ratings['{name}']` must hold ids in [0, {n}); got ids from {ids.min()} to {ids.max()}.")
    if len(values) and not (np.isfinite(values).all() and values.min() > 0):
        raise ValueError(f"`ratings['rating']` must be finite and > 0 (0 marks a missing cell); got values from "
                         f"{np.nanmin(values)} to {np.nanmax(values)}.")
    matrix = np.zeros((n_items, n_users) if by == "item" else (n_users, n_items), np.float32)
    rows, cols = (items, users) if by == "item" else (users, items)
    matrix[rows, cols] = values
    return matrix


@pytree_dataclass(static=("by", "low", "high"))
class AutoRec:
    """I-AutoRec (``by="item"``) or U-AutoRec (``by="user"``): r̂ = f(g(r V + b_V) W + b_W), g = sigmoid, f = identity.

    ``encoder`` V: Dense (n_cols, h); ``decoder`` W: Dense (h, n_cols);
    ``ratings`` (n_rows, n_cols): the training ratings the inputs are read from,
    0 where missing. For I-AutoRec the rows are films and the columns users, and
    r̂_ui is entry u of film i's reconstructed vector.
    """

    encoder: nn.Dense
    decoder: nn.Dense
    ratings: jax.Array
    by: str = "item"
    low: float = 1.0
    high: float = 5.0

    @classmethod
    def init(cls, key, ratings, n_users: int, n_items: int, hidden: int = 500, *, by: str = "item") -> AutoRec:
        """Glorot-uniform V and W, zero biases; ``ratings`` a frame of the training ratings (see
        :func:`rating_matrix`). Raises ``TypeError``/``ValueError`` for a bad key, a size that is not a
        positive integer, a bad ``by`` or a bad frame."""
        check_key("key", key)
        hidden = check_size("hidden", hidden)
        matrix = rating_matrix(ratings, n_users, n_items, by=by)
        enc_key, dec_key = jax.random.split(key)
        n_cols = matrix.shape[1]
        return cls(nn.Dense.init(enc_key, n_cols, hidden), nn.Dense.init(dec_key, hidden, n_cols),
                   jnp.asarray(matrix), by)

    @property
    def n_users(self) -> int:
        return self.ratings.shape[-1] if self.by == "item" else self.ratings.shape[-2]

    @property
    def n_items(self) -> int:
        return self.ratings.shape[-2] if self.by == "item" else self.ratings.shape[-1]

    def encode(self, rows) -> jax.Array:
        """h = sigmoid(r V + b_V): (B, n_cols) input vectors → (B, hidden) codes."""
        return nn.sigmoid(self.encoder(rows))

    def reconstruct(self, rows) -> jax.Array:
        """r̂ = h W + b_W: (B, n_cols) input vectors → (B, n_cols) reconstructed ratings (every entry)."""
        return self.decoder(self.encode(rows))

    def score(self, batch, *, key=None) -> jax.Array:
        """Unclipped r̂_ui of the pairs (``batch["user"]``, ``batch["item"]``): ``(B,)`` → ``(B,)``; ``key`` unused.

        Encodes the input row of each pair (film i's ratings for I-AutoRec) and reads entry u (or i) of
        its decoding: r̂_ui = h_i · W[:, u] + b_W[u]. Raises ``TypeError`` for ids that are not integers,
        ``ValueError`` for a batch without them, shapes that differ or (when concrete) ids out of range.
        """
        users, items = check_batch_ids(batch, {"user": self.n_users, "item": self.n_items})
        rows, cols = (items, users) if self.by == "item" else (users, items)
        flat_rows, flat_cols = rows.reshape(-1), cols.reshape(-1)
        inputs = jax.lax.stop_gradient(self.ratings)
        if flat_rows.shape[0] > inputs.shape[0]:  # more pairs than rows: encode every row once, then look up
            codes = self.encode(inputs)[flat_rows]
        else:
            codes = self.encode(inputs[flat_rows])
        out = jnp.sum(codes * self.decoder.weight.T[flat_cols], axis=-1) + self.decoder.bias[flat_cols]
        return out.reshape(rows.shape)

    def predict(self, batch) -> jax.Array:
        """r̂ clipped to the rating scale [low, high]; raises as :meth:`score`."""
        return jnp.clip(self.score(batch), self.low, self.high)


def autorec_loss(model: AutoRec, batch, key=None, *, reg: float = 0.0) -> jax.Array:
    """J_B = (1/B) [ Σ_{i∈B} Σ_{u observed} (r_ui − r̂_ui)² + (B/n_rows) (λ/2) (‖V‖² + ‖W‖²) ].

    ``batch["row"]`` (B,) ids of the input rows (films for I-AutoRec). Only the
    observed entries of each row (r_ui > 0) count: a missing entry is unknown,
    not 0, so its reconstruction gets no gradient. Over n_rows/B minibatches
    that hold every row once, J_B adds up to exactly (1/B) times the paper's
    objective Σ_i ‖r_i − r̂_i‖²_O + (λ/2)(‖V‖² + ‖W‖²), and a batch of B rows
    drawn at random has expectation (1/n_rows) times it (``train.fit`` drops the
    n_rows mod B rows a shuffled epoch leaves over); biases are not penalised.

    Raises ``TypeError``/``ValueError`` for a batch without ``row``, ids that are not integers or out of
    range (when concrete), or a negative ``reg``.
    """
    check_batch("batch", batch, ["row"])
    check_positive("reg", reg, allow_zero=True)
    rows = as_array("batch['row']", batch["row"])
    if not jnp.issubdtype(rows.dtype, jnp.integer):
        raise TypeError(f"`batch['row']` must hold integer row ids ((B,) ids of the films, or users for "
                        f"U-AutoRec); got {describe(rows)}.")
    check_ndim("batch['row']", rows, 1, "(B,) row ids")
    n_rows = model.ratings.shape[0]
    if not isinstance(rows, jax.core.Tracer) and len(rows) and (int(rows.min()) < 0 or int(rows.max()) >= n_rows):
        raise ValueError(f"`batch['row']` must hold ids in [0, {n_rows}); got ids from {int(rows.min())} to "
                         f"{int(rows.max())}.")
    target = jax.lax.stop_gradient(model.ratings)[rows]          # (B, n_cols)
    err = jnp.where(target > 0, model.reconstruct(target) - target, 0.0)
    penalty = jnp.sum(model.encoder.weight ** 2) + jnp.sum(model.decoder.weight ** 2)
    b = rows.shape[0]
    return (jnp.sum(err ** 2) + (b / n_rows) * 0.5 * reg * penalty) / b

