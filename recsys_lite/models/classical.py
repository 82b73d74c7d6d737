"""Strong classical top-N baselines: item-kNN, EASE and implicit ALS.

Every later model is judged against the best non-neural answer, not only
against popularity. Each is fitted in closed form (or by exact alternating
solves) on an interactions frame (columns ``user``, ``item``; one row per
interaction, a repeated (user, item) pair counts once), from the binary
matrix X (n_users, n_items), x_ui = 1 if user u interacted with item i.
Each follows the model protocol of :mod:`recsys_lite.models`:
``score(batch)`` (B,) and ``scores({"user": (B,)})`` (B, n_items), jittable,
inputs checked. Vectors are rows: x_u is row u of X.

They hold dense (n_items, n_items) or (n_users, n_items) arrays and fit with
dense linear algebra: EASE costs O(n_items³) (one inverse), item-kNN
O(n_users · n_items²), an ALS iteration O(n_users · n_items · K²) plus
(n_users + n_items) K × K solves. On MovieLens-100K (943 × 1682) each fit
takes seconds at most on two CPU cores; a catalogue of tens of thousands of
items needs the sparse versions of these algorithms.

- :class:`ItemKNN`: s_u = x_u S, S the top-k cosine similarities between item columns {Sarwar et al. 2001};
- :class:`EASE`: s_u = x_u B, B the ridge regression of X on itself with a zero diagonal {Steck 2019};
- :class:`ImplicitALS`: s_ui = x_u y_iᵀ, confidence-weighted factorisation by alternating least squares
  {Hu, Koren & Volinsky 2008}; :func:`als_half_step` is one of its exact half-steps.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from recsys_lite import nn
from recsys_lite._checks import (
    as_array,
    check_batch_ids,
    check_columns,
    check_features,
    check_history,
    check_ids,
    check_int_in_range,
    check_positive,
    check_size,
)
from recsys_lite._pytree import pytree_dataclass

__all__ = ["ItemKNN", "EASE", "ImplicitALS", "als_half_step", "interaction_matrix"]


def interaction_matrix(interactions: pd.DataFrame, n_users: int, n_items: int) -> np.ndarray:
    """The binary matrix X (n_users, n_items) float32: x_ui = 1 if (u, i) is a row of ``interactions``.

    A pair that appears several times counts once. Raises ``TypeError``/``ValueError`` for a frame
    that is not one, lacks ``user`` or ``item`` or is empty, sizes that are not positive integers,
    or ids out of range.
    """
    check_columns("interactions", interactions, ["user", "item"], nonempty=True)
    n_users, n_items = check_size("n_users", n_users), check_size("n_items", n_items)
    users = check_ids("interactions['user']", interactions["user"].to_numpy(), n_users, "users")
    items = check_ids("interactions['item']", interactions["item"].to_numpy(), n_items, "items")
    x = np.zeros((n_users, n_items), np.float32)
    x[users, items] = 1.0
    return x


def _user_rows(model, batch, with_items: bool):
    """The checked ids of ``batch`` (users, or users and items) for a model with ``user_items`` X."""
    n_users, n_items = model.user_items.shape
    if with_items:
        return check_batch_ids(batch, {"user": n_users, "item": n_items})
    return check_batch_ids(batch, {"user": n_users}, ndim=1)


@pytree_dataclass
class ItemKNN:
    """Item-based nearest neighbours {Sarwar et al. 2001}: s_ui = Σ_j x_uj S_ji.

    S (n_items, n_items) holds the cosine similarity of the item columns of X,
    S_ji = x_·jᵀ x_·i / (‖x_·j‖ ‖x_·i‖ + shrink) (0 for an item without
    interactions), with S_jj = 0; each row j keeps only its k = ``neighbours``
    largest entries (its k most similar items), the rest set to 0. A user's
    score for item i sums the similarities of i to the items the user has.
    ``shrink`` > 0 damps similarities built on few co-occurrences.

    The items summed over come from the batch: ``{"user": (B,)}`` uses every
    item of the user in the fitted interactions (x_u above); ``{"user": (B,),
    "history": (B, L)}`` (left-aligned, padded on the right with ``n_items``,
    as from :func:`recsys_lite.data.recent_items`) uses only the SET of the
    row's real items, in no order — the order-free kNN over the last L items:

        s_ui = Σ_{l : h_l < n_items} S_{h_l, i}      (a position of padding adds nothing)

    so ``lambda u: model.scores({"user": u, "history": windows[u]})`` scores
    from each user's last films; a window holding the whole history gives
    ``scores({"user": u})`` (an item repeated in the window counts as often as it appears).
    """

    similarity: jax.Array  # S: (n_items, n_items), row j = item j's k neighbours
    user_items: jax.Array  # X: (n_users, n_items) binary, the fitted interactions

    @classmethod
    def fit(cls, interactions: pd.DataFrame, n_users: int, n_items: int, *, neighbours: int = 100,
            shrink: float = 0.0) -> ItemKNN:
        """S from ``interactions`` (columns user, item). k = min(``neighbours``, n_items − 1) per row.

        Raises ``TypeError``/``ValueError`` as :func:`interaction_matrix`, and for ``neighbours`` that is
        not a positive integer or a ``shrink`` that is not a finite number ≥ 0.
        """
        neighbours = check_size("neighbours", neighbours)
        check_positive("shrink", shrink, allow_zero=True)
        x = interaction_matrix(interactions, n_users, n_items)
        gram = (x.T @ x).astype(np.float64)  # co-occurrence counts: exact in float32 below 2^24
        norms = np.sqrt(np.diag(gram))
        denom = np.outer(norms, norms) + float(shrink)
        sim = np.divide(gram, denom, out=np.zeros_like(gram), where=denom > 0)
        np.fill_diagonal(sim, -np.inf)  # never one's own neighbour
        k = min(neighbours, n_items - 1)
        kept = np.zeros(sim.shape, bool)
        if k > 0:
            np.put_along_axis(kept, np.argpartition(-sim, k - 1, axis=1)[:, :k], True, axis=1)
        sim = np.where(kept, sim, 0.0)
        return cls(jnp.asarray(sim, jnp.float32), jnp.asarray(x))

    @property
    def n_users(self) -> int:
        return self.user_items.shape[0]

    @property
    def n_items(self) -> int:
        return self.user_items.shape[1]

    def _history(self, batch, users) -> tuple[jax.Array, jax.Array] | None:
        """(``batch["history"]`` (B, L) with the padding replaced by item 0, real (B, L)); None without one."""
        if "history" not in batch:
            return None
        check_history("batch['history']", batch["history"], self.n_items, rows=jnp.shape(users)[0])
        history = jnp.asarray(batch["history"])
        return jnp.minimum(history, self.n_items - 1), history < self.n_items

    def score(self, batch, *, key=None) -> jax.Array:
        """s_ui of the pairs (``batch["user"]``, ``batch["item"]``) [``history`` (B, L)]: ``(B,)``; ``key`` unused.

        Raises ``TypeError`` for ids that are not integers, ``ValueError`` for a batch without them,
        ``user`` and ``item`` of different shapes or (when concrete) ids out of range, and as
        :meth:`scores` for a bad ``history``.
        """
        users, items = _user_rows(self, batch, True)
        window = self._history(batch, users)
        if window is not None:  # Σ_l S_{h_l, i}: one entry of S per position, 0 at the padding
            ids, real = window
            return jnp.sum(jnp.where(real, self.similarity[ids, items[:, None]], 0.0), axis=1)
        return jnp.sum(self.user_items[users] * self.similarity.T[items], axis=-1)

    def scores(self, batch, *, key=None) -> jax.Array:
        """s_u for every item: ``batch["user"]`` ``(B,)`` [and ``history`` ``(B, L)``] → ``(B, n_items)``.

        Without a history s_u = x_u S (every fitted item of the user); with one, Σ over the row's real
        items of S's rows (the class docstring).

        Raises ``TypeError``/``ValueError`` unless ``batch["user"]`` is a 1-D array of integer ids (in range
        when concrete), and for a ``history`` that is not (B, L) integer ids in [0, n_items] with B the
        number of users.
        """
        (users,) = _user_rows(self, batch, False)
        window = self._history(batch, users)
        if window is not None:  # Σ_l S_{h_l, ·}: the rows of the window's real items, (B, L, n_items) summed over L
            ids, real = window
            return jnp.sum(jnp.where(real[..., None], self.similarity[ids], 0.0), axis=1)
        return self.user_items[users] @ self.similarity


@pytree_dataclass
class EASE:
    """Embarrassingly shallow autoencoder {Steck 2019}: s_u = x_u B.

    B minimises ‖X − X B‖²_F + λ‖B‖²_F subject to diag(B) = 0 (an item may
    not predict itself). With G = XᵀX + λI and P = G⁻¹ the solution is
    closed form: B_ij = −P_ij / P_jj for i ≠ j, B_jj = 0. Column j of B is
    the ridge regression of item j's column on all other columns,
    B_{−j,j} = (X_{−j}ᵀ X_{−j} + λI)⁻¹ X_{−j}ᵀ x_·j.
    """

    weights: jax.Array     # B: (n_items, n_items), zero diagonal
    user_items: jax.Array  # X: (n_users, n_items) binary, the fitted interactions

    @classmethod
    def fit(cls, interactions: pd.DataFrame, n_users: int, n_items: int, *, reg: float = 250.0) -> EASE:
        """B from ``interactions`` (columns user, item) with λ = ``reg``, solved in float64.

        Raises ``TypeError``/``ValueError`` as :func:`interaction_matrix`, and for a ``reg`` that is not
        a finite number > 0.
        """
        check_positive("reg", reg)
        x = interaction_matrix(interactions, n_users, n_items)
        gram = (x.T @ x).astype(np.float64) + float(reg) * np.eye(n_items)
        p = np.linalg.inv(gram)
        b = -p / np.diag(p)[None, :]
        np.fill_diagonal(b, 0.0)
        return cls(jnp.asarray(b, jnp.float32), jnp.asarray(x))

    n_users = ItemKNN.n_users
    n_items = ItemKNN.n_items

    def score(self, batch, *, key=None) -> jax.Array:
        """s_ui of the pairs: ``(B,)``, ``(B,)`` → ``(B,)``; ``key`` unused. Raises as :meth:`ItemKNN.score`."""
        users, items = _user_rows(self, batch, True)
        return jnp.sum(self.user_items[users] * self.weights.T[items], axis=-1)

    def scores(self, batch, *, key=None) -> jax.Array:
        """s_u = x_u B for every item: ``batch["user"]`` ``(B,)`` → ``(B, n_items)``. Raises as
        :meth:`ItemKNN.scores`."""
        (users,) = _user_rows(self, batch, False)
        return self.user_items[users] @ self.weights


@jax.jit
def _half_step(x, fixed, reg, alpha):
    """Rows' factors given the other side's: see :func:`als_half_step` (checked there)."""
    k = fixed.shape[1]
    upper = np.triu_indices(k)                                  # Yᵀ C_u Y is symmetric: K(K+1)/2 distinct entries
    full = np.zeros((k, k), np.int32)
    full[upper] = full.T[upper] = np.arange(len(upper[0]))     # (k, l) → its entry in the upper triangle
    outer = fixed[:, upper[0]] * fixed[:, upper[1]]             # y_iᵀ y_i, upper triangle: (m, K(K+1)/2)
    a = fixed.T @ fixed + reg * jnp.eye(k) + alpha * (x @ outer)[:, full]  # Yᵀ C_u Y + λI: (rows, K, K)
    b = (1.0 + alpha) * (x @ fixed)                             # p_u C_u Y: (rows, K)
    return jnp.linalg.solve(a, b[..., None])[..., 0]            # A symmetric: x_u = b_u A⁻¹


def als_half_step(x, fixed, *, reg: float = 0.1, alpha: float = 10.0) -> jax.Array:
    """One exact half-step of implicit ALS: every row's factors given the other side's.

    For each row u of the binary ``x`` (rows, m), with Y = ``fixed`` (m, K),
    c_ui = 1 + α x_ui and p_ui = x_ui, the minimiser of
    Σ_i c_ui (p_ui − x_u y_iᵀ)² + λ‖x_u‖² is

        x_u = p_u C_u Y (Yᵀ C_u Y + λI)⁻¹,  Yᵀ C_u Y = YᵀY + α Σ_{i: x_ui = 1} y_iᵀ y_i

    (C_u = diag(c_u·); the sum runs over the observed items only, so YᵀY is
    computed once for all rows). Users given items: ``als_half_step(X, Y)``;
    items given users: ``als_half_step(X.T, P)``. Returns (rows, K) float32.

    Raises ``TypeError``/``ValueError`` for matrices that are not 2-D arrays of finite numbers, an
    ``x`` whose columns do not match ``fixed``'s rows, a λ that is not a finite number > 0 (it keeps
    every system solvable) or an α that is not one ≥ 0.
    """
    x, fixed = as_array("x", x), as_array("fixed", fixed)
    check_features("x", x, meaning="(rows, m) binary interactions")
    check_features("fixed", fixed, rows=x.shape[1], meaning="(m, K): a row of factors per column of x")
    check_positive("reg", reg)
    check_positive("alpha", alpha, allow_zero=True)
    return _half_step(jnp.asarray(x, jnp.float32), jnp.asarray(fixed, jnp.float32), reg, alpha)


@pytree_dataclass
class ImplicitALS:
    """Implicit-feedback matrix factorisation {Hu, Koren & Volinsky 2008}: s_ui = x_u y_iᵀ.

    Preferences p_ui = 1 if u interacted with i, else 0; confidences
    c_ui = 1 + α p_ui. Minimises, over every cell of the matrix (not only the
    observed ones),

        J = Σ_ui c_ui (p_ui − x_u y_iᵀ)² + λ (Σ_u ‖x_u‖² + Σ_i ‖y_i‖²)

    by alternating exact solves (:func:`als_half_step`): all users given the
    items, then all items given the users, ``iterations`` times. Y starts at
    N(0, 0.01²) drawn from ``seed``; J never increases. ``user_embedding``
    holds the x_u (n_users, K), ``item_embedding`` the y_i (n_items, K).
    """

    user_embedding: nn.Embedding  # X: (n_users, K)
    item_embedding: nn.Embedding  # Y: (n_items, K)

    @classmethod
    def fit(cls, interactions: pd.DataFrame, n_users: int, n_items: int, *, factors: int = 64, reg: float = 0.1,
            alpha: float = 10.0, iterations: int = 15, seed: int = 0) -> ImplicitALS:
        """Fit on ``interactions`` (columns user, item); K = ``factors``, λ = ``reg``, α = ``alpha``.

        Raises ``TypeError``/``ValueError`` as :func:`interaction_matrix`, for ``factors`` or ``iterations``
        that are not positive integers, a λ or α as :func:`als_half_step` refuses, or a negative ``seed``.
        """
        factors, iterations = check_size("factors", factors), check_size("iterations", iterations)
        check_positive("reg", reg)
        check_positive("alpha", alpha, allow_zero=True)
        seed = check_int_in_range("seed", seed, 0)
        x = jnp.asarray(interaction_matrix(interactions, n_users, n_items))
        y = 0.01 * jax.random.normal(jax.random.key(seed), (n_items, factors))
        reg, alpha = jnp.float32(reg), jnp.float32(alpha)
        for _ in range(iterations):
            p = _half_step(x, y, reg, alpha)
            y = _half_step(x.T, p, reg, alpha)
        return cls(nn.Embedding(p), nn.Embedding(y))

    @property
    def n_users(self) -> int:
        return self.user_embedding.num_embeddings

    @property
    def n_items(self) -> int:
        return self.item_embedding.num_embeddings

    def score(self, batch, *, key=None) -> jax.Array:
        """s_ui = x_u y_iᵀ of the pairs: ``(B,)``, ``(B,)`` → ``(B,)``; ``key`` unused. Raises as
        :meth:`ItemKNN.score`."""
        users, items = check_batch_ids(batch, {"user": self.n_users, "item": self.n_items})
        return jnp.sum(self.user_embedding(users) * self.item_embedding(items), axis=-1)

    def scores(self, batch, *, key=None) -> jax.Array:
        """x_u Yᵀ for every item: ``batch["user"]`` ``(B,)`` → ``(B, n_items)``. Raises as :meth:`ItemKNN.scores`."""
        (users,) = check_batch_ids(batch, {"user": self.n_users}, ndim=1)
        return self.user_embedding(users) @ self.item_embedding.table.T
