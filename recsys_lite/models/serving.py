"""Keeping and using a trained model (chapter 8): ``.npz`` files and ``recommend``.

:func:`save_model` writes every parameter array of a model under its pytree
path (``.users.table``, ``.convs[0].kernel`` …) into one ``.npz`` file, with
no pickle. :func:`load_model` reads it back into a model of the same
structure, given one as a template (``like``), and says exactly what does
not match when the file and the template differ.

:class:`Recommender` bundles a trained :class:`~recsys_lite.models.hybrid.Hybrid`
with what it needs at serving time: each user's recent items, what they have
already seen, the user and item features and item popularity.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from recsys_lite._checks import check_ids, describe

__all__ = ["save_model", "load_model", "Recommender"]

_META = "__recsys_lite__"


def _flat(model) -> dict[str, np.ndarray]:
    leaves, _ = jax.tree_util.tree_flatten_with_path(model)
    return {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in leaves}


def save_model(path: str | os.PathLike, model) -> None:
    """Write ``model``'s arrays to ``path`` (``.npz``) under their pytree paths."""
    arrays = _flat(model)
    meta = json.dumps({"class": type(model).__name__, "format": 1})
    np.savez(path, **arrays, **{_META: np.array(meta)})


def load_model(path: str | os.PathLike, like):
    """Read a model saved by :func:`save_model` into the structure of ``like``.

    Raises:
        ValueError: the file holds another class, or its arrays do not match
            the template's paths, shapes or dtypes (the message lists them).
    """
    with np.load(path, allow_pickle=False) as archive:
        stored = {name: archive[name] for name in archive.files}
    meta = json.loads(str(stored.pop(_META, np.array("{}"))))
    if meta.get("class") not in (None, type(like).__name__):
        raise ValueError(f"{path} holds a {meta['class']}, but `like` is a {type(like).__name__}.")
    leaves, _ = jax.tree_util.tree_flatten_with_path(like)
    expected = {jax.tree_util.keystr(p): leaf for p, leaf in leaves}
    missing = sorted(set(expected) - set(stored))
    extra = sorted(set(stored) - set(expected))
    wrong = [f"{name}: file {stored[name].shape} {stored[name].dtype}, template {np.shape(leaf)} {jnp.asarray(leaf).dtype}"
             for name, leaf in expected.items()
             if name in stored and (stored[name].shape != np.shape(leaf) or stored[name].dtype != jnp.asarray(leaf).dtype)]
    if missing or extra or wrong:
        raise ValueError(
            f"{path} does not fit the template `like` (was it built with the same settings?). "
            f"Missing: {missing[:5]}; unexpected: {extra[:5]}; mismatched: {wrong[:5]}."
        )
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(like),
                                        [jnp.asarray(stored[name]) for name in expected])


@dataclass(frozen=True)
class Recommender:
    """A trained hybrid model and the data it serves from.

    Attributes:
        model: a :class:`~recsys_lite.models.hybrid.Hybrid`.
        recent: (n_users, L) each user's last L items, right-aligned, padded with n_items.
        seen: (n_users, n_items) bool, what each user has interacted with.
        user_x: (n_users, d_u) user features; item_x: (n_items, d_i) item features.
        popularity: (n_items,) interaction counts, for the cold-start path.
    """

    model: object
    recent: np.ndarray
    seen: np.ndarray
    user_x: np.ndarray
    item_x: np.ndarray
    popularity: np.ndarray

    @property
    def n_users(self) -> int:
        return self.recent.shape[0]

    @property
    def n_items(self) -> int:
        return self.seen.shape[1]

    def recommend(self, user: int | None, k: int = 10, *, history=(), user_x=None) -> tuple[np.ndarray, np.ndarray]:
        """The top ``k`` unseen items for a user, best first: ``(items, scores)``.

        Args:
            user: a known user id, or None for a new user.
            k: how many items (1 ≤ k ≤ number of unseen items).
            history: for a new user, the items they interacted with, oldest first.
            user_x: for a new user, their features (d_u,); None uses the average user.

        A known user is scored by the model from their stored history. A new
        user with some history is scored by the model from that history
        (the user branch gets the average user). A new user with no history
        takes the cold-start path: standardised log-popularity plus the
        standardised model score from content alone, so popular films lead
        and the user's features reorder them.
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"`k` must be a positive integer; got {describe(k)}.")
        if user is not None:
            if isinstance(user, bool) or not isinstance(user, (int, np.integer)):
                raise TypeError(f"`user` must be a user id (int) or None for a new user; got {describe(user)}.")
            if not 0 <= user < self.n_users:
                raise ValueError(f"`user` {user} is unknown: ids run from 0 to {self.n_users - 1}. "
                                 "For a new user pass user=None with their history.")
            if len(history) or user_x is not None:
                raise ValueError("`history` and `user_x` are only for a new user (user=None); "
                                 "a known user's are stored in the Recommender.")
            history_row, features, seen = self.recent[user], self.user_x[user], self.seen[user]
            scores = self._scores(np.array([user]), history_row, features)
        else:
            history = check_ids("history", np.asarray(history, dtype=np.int64).reshape(-1), self.n_items, "items")
            features = self.user_x.mean(axis=0) if user_x is None else np.asarray(user_x, np.float32)
            if features.shape != self.user_x.shape[1:]:
                raise ValueError(f"`user_x` must have shape {self.user_x.shape[1:]}; got {features.shape}.")
            seen = np.zeros(self.n_items, bool)
            seen[history] = True
            window = self.recent.shape[1]
            history_row = np.full(window, self.n_items, np.int32)
            recent = history[-window:]
            if len(recent):
                history_row[window - len(recent):] = recent
            scores = self._scores(None, history_row, features)
            if not len(history):
                scores = _standardise(np.log1p(self.popularity)) + _standardise(scores)
        candidates = int((~seen).sum())
        if k > candidates:
            raise ValueError(f"`k` must be at most the {candidates} items this user has not seen; got {k}.")
        scores = np.where(seen, -np.inf, scores)
        top = np.argsort(-scores, kind="stable")[:k]
        return top, scores[top]

    def _scores(self, users, history_row, features) -> np.ndarray:
        scores = _score_one(self.model, None if users is None else jnp.asarray(users), jnp.asarray(history_row)[None],
                            jnp.asarray(features, jnp.float32)[None], jnp.asarray(self.item_x))
        return np.asarray(scores[0], np.float64)


@jax.jit
def _score_one(model, users, history, user_x, item_x):
    return model.scores(users, history, user_x, item_x)


def _standardise(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / (x.std() + 1e-12)
