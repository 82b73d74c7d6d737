"""Keeping and using a trained model (chapter 8): ``.npz`` files and ``recommend``.

:func:`save_model` writes every parameter array of a model under its pytree path (``.user_embedding.table``,
``.horizontal.convs[0].kernel`` …) into one ``.npz`` file, with no pickle; :func:`load_model` reads it back
into a model of the same structure (the template ``like``) and says exactly what does not match.
:class:`Recommender` bundles a trained :class:`~recsys_lite.models.hybrid.Hybrid` (any model with
``scores(batch, *, item_features)``) with what it serves from: each user's recent items, what they have
already seen, the user and item features and item popularity. :func:`history_attribution` measures
how much each film of a user's history adds to a recommended film's score (leave-one-out attribution).

A model trained on one page can be reused on another without retraining, safely: :func:`fingerprint`
hashes the data, the training configuration and the library's own source code, and
:func:`save_fingerprinted` / :func:`load_fingerprinted` keep one file per (name, fingerprint), written
atomically, so a page loads a model only if it was trained from the same data by the same code in the
same way, and otherwise trains it itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from recsys_lite._checks import (
    as_array,
    check_batch,
    check_features,
    check_finite,
    check_history,
    check_ids,
    check_ndim,
    check_size,
    describe,
    nonfinite_leaves,
)

__all__ = ["save_model", "load_model", "fingerprint", "save_fingerprinted", "load_fingerprinted",
           "Recommender", "history_attribution"]

_META = "__recsys_lite__"


def _flat(model, name: str = "model", shapes: bool = False) -> dict[str, np.ndarray]:
    """{pytree path: array} of ``model``'s leaves, after checking they are arrays of numbers.

    With ``shapes``, leaves may also be ``jax.ShapeDtypeStruct`` (a template from ``jax.eval_shape``, which
    costs no computation); they come back as empty arrays of that dtype, with ``.shape`` the leaf's."""
    leaves, _ = jax.tree_util.tree_flatten_with_path(model)
    if not leaves:
        raise ValueError(f"`{name}` must be a model whose parameters are arrays; it has none: got {describe(model)}.")
    flat = {}
    for path, leaf in leaves:
        if shapes and isinstance(leaf, jax.ShapeDtypeStruct):
            flat[jax.tree_util.keystr(path)] = np.broadcast_to(np.zeros((), leaf.dtype), leaf.shape)
            continue
        array = np.asarray(leaf) if hasattr(leaf, "dtype") else None
        if array is None or array.dtype.kind not in "biuf":
            if not path:  # the whole thing is one leaf: not a model at all
                raise TypeError(f"`{name}` must be a model (a pytree of arrays); got {describe(leaf)}.")
            raise TypeError(f"`{name}` must hold only arrays of numbers; its leaf {jax.tree_util.keystr(path)} "
                            f"is {describe(leaf)}.")
        flat[jax.tree_util.keystr(path)] = array
    return flat


def _npz_path(path) -> str:
    """``path`` as a string ending in ``.npz`` (added when missing, as ``np.savez`` does)."""
    if not isinstance(path, (str, os.PathLike)) or not isinstance(os.fspath(path), str):
        raise TypeError(f"`path` must be a file name (str or pathlib.Path); got {describe(path)}.")
    path = os.fspath(path)
    return path if path.endswith(".npz") else path + ".npz"


def save_model(path: str | os.PathLike, model) -> None:
    """Write ``model``'s arrays to ``path`` under their pytree paths (``"m"`` writes ``m.npz``, as ``np.savez`` does).

    Raises:
        TypeError: ``path`` is not a str or path, or ``model`` holds a leaf that is not an array of numbers.
        ValueError: ``model`` has no arrays.
    """
    path, arrays = _npz_path(path), _flat(model)
    np.savez(path, **arrays, **{_META: np.array(json.dumps({"class": type(model).__name__, "format": 1}))})


def load_model(path: str | os.PathLike, like):
    """Read a model saved by :func:`save_model` into the structure of ``like`` (``.npz`` added as it does).

    ``like`` is a model of the same settings, or its shapes alone, ``jax.eval_shape(init)``, which builds
    no arrays (and so compiles nothing).

    Raises:
        TypeError: ``path`` is not a str or path, or ``like`` is not a model of arrays.
        FileNotFoundError: there is no file at ``path``.
        ValueError: the file is not a readable ``.npz`` archive (not one at all,
            truncated or damaged, or holding pickled objects), holds another
            class, or its arrays do not match the template's paths, shapes or
            dtypes (the message lists them). Every message names the file.
    """
    path = _npz_path(path)
    expected = _flat(like, "like", shapes=True)
    stored, meta = _read_npz(path)
    if meta.get("class") not in (None, type(like).__name__):
        raise ValueError(f"{path} holds a {meta['class']}, but `like` is a {type(like).__name__}.")
    missing, extra = sorted(set(expected) - set(stored)), sorted(set(stored) - set(expected))
    wrong = [f"{name}: file {stored[name].shape} {stored[name].dtype}, template {leaf.shape} {leaf.dtype}"
             for name, leaf in expected.items() if name in stored and
             (stored[name].shape, stored[name].dtype) != (leaf.shape, leaf.dtype)]
    if missing or extra or wrong:
        raise ValueError(f"{path} does not fit the template `like` (was it built with the same settings?). "
                         f"Missing: {missing[:5]}; unexpected: {extra[:5]}; mismatched: {wrong[:5]}.")
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(like), [jnp.asarray(stored[n]) for n in expected])


def _library_digest() -> bytes:
    """SHA-256 of every ``.py`` file of the installed ``recsys_lite`` (relative path and bytes, sorted) and the
    versions of jax and numpy: any change to the code that builds, trains or scores a model changes it."""
    import recsys_lite

    root = Path(recsys_lite.__file__).parent
    digest = hashlib.sha256(f"jax {jax.__version__} numpy {np.__version__}".encode())
    for file in sorted(root.rglob("*.py")):
        digest.update(file.relative_to(root).as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.digest()


def _feed(digest, part, name: str) -> None:
    """Add one part to the hash: its kind, then its content in a form that does not depend on the process."""
    import pandas as pd

    if isinstance(part, pd.DataFrame):
        digest.update(b"frame" + json.dumps([str(c) for c in part.columns]).encode()
                      + pd.util.hash_pandas_object(part, index=True).to_numpy().tobytes())
    elif isinstance(part, (np.ndarray, jax.Array)):
        array = np.asarray(part)
        digest.update(f"array {array.dtype.str} {array.shape}".encode() + np.ascontiguousarray(array).tobytes())
    elif isinstance(part, dict):
        digest.update(b"dict")
        for key in sorted(part, key=str):
            digest.update(json.dumps(str(key)).encode())
            _feed(digest, part[key], f"{name}[{key!r}]")
    elif isinstance(part, (list, tuple)):
        digest.update(f"seq {len(part)}".encode())
        for k, item in enumerate(part):
            _feed(digest, item, f"{name}[{k}]")
    elif part is None or isinstance(part, (str, bool, int, float, np.number, np.bool_)):
        digest.update(f"{type(part).__name__} {part!r}".encode())
    else:
        raise TypeError(f"`{name}` must be a DataFrame, an array, a dict, list or tuple of these, or a str, number, "
                        f"bool or None (something with a content, not an identity); got {describe(part)}.")


def fingerprint(*parts) -> str:
    """A 16-hex-digit name for "trained from these data, in this way, by this library".

    SHA-256 over the source code of ``recsys_lite`` (every ``.py`` file; with the versions of jax and numpy),
    then each part in order: a DataFrame by pandas' row hashes and its column names, an array by dtype,
    shape and bytes, a dict by sorted keys, lists and tuples item by item, str/number/bool/None by value.
    Pass the data the model is trained from (e.g. the ratings and the feature arrays) and a dict of its
    training configuration (sizes, learning rate, epochs, batch size, seeds); equal fingerprints mean equal
    inputs to the same code, so the same model up to the machine's floating-point behaviour.

    Raises:
        TypeError: a part of another kind (a function, an optimizer object: describe it by its settings).
    """
    digest = hashlib.sha256(_library_digest())
    for k, part in enumerate(parts):
        _feed(digest, part, f"parts[{k}]")
    return digest.hexdigest()[:16]


def _fingerprinted_path(folder, name, fingerprint_) -> Path:
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"`folder` must be a folder name (str or pathlib.Path); got {describe(folder)}.")
    for what, value in (("name", name), ("fingerprint", fingerprint_)):
        if not isinstance(value, str) or not value or not all(c.isalnum() or c in "-_." for c in value):
            raise ValueError(f"`{what}` must be a non-empty string of letters, digits, '-', '_' or '.'; "
                             f"got {describe(value)}.")
    return Path(folder) / f"{name}-{fingerprint_}.npz"


def save_fingerprinted(folder, name: str, fingerprint: str, model) -> Path:
    """Write ``model`` (as :func:`save_model`) to ``folder/name-fingerprint.npz`` atomically; return the path.

    The file is written under a temporary name in the same folder, then renamed (``os.replace``), so a
    page running at the same time (another build, a parallel execution) sees either no file or the
    whole file, never a part. ``folder`` is created if needed; an existing file is replaced.

    Raises:
        TypeError, ValueError: ``folder`` not a path, ``name``/``fingerprint`` not a plain non-empty string,
            and as :func:`save_model`.
    """
    path = _fingerprinted_path(folder, name, fingerprint)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{name}-", suffix=".npz", dir=path.parent)
    os.close(handle)
    try:
        save_model(temporary, model)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; the saved model is as readable as save_model's
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path


def load_fingerprinted(folder, name: str, fingerprint: str, like):
    """The model :func:`save_fingerprinted` wrote under (``name``, ``fingerprint``), or ``None`` if there is none.

    A file that is there but cannot be read into ``like`` (damaged, or of another shape) is reported as
    ``None`` too, with a warning naming it: the caller trains the model instead.

    Raises:
        TypeError, ValueError: ``folder`` not a path, ``name``/``fingerprint`` not a plain non-empty string,
            ``like`` not a model of arrays.
    """
    import warnings

    path = _fingerprinted_path(folder, name, fingerprint)
    _flat(like, "like", shapes=True)
    if not path.is_file():
        return None
    try:
        return load_model(path, like)
    except (ValueError, OSError) as error:
        warnings.warn(f"{path} could not be read ({error}); the model is trained again.", stacklevel=2)
        return None


def _read_npz(path: str) -> tuple[dict[str, np.ndarray], dict]:
    """The arrays and the metadata stored in ``path``, with errors that name the file and what is wrong."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file (save_model writes one).")
    with open(path, "rb") as file:
        head = file.read(4)
    if head not in (b"PK\x03\x04", b"PK\x05\x06"):  # a zip archive (.npz), or an empty one
        raise ValueError(f"{path} is not an .npz file: it does not start like a zip archive (its first bytes "
                         f"are {head!r}). Write models with save_model.")
    try:
        with np.load(path, allow_pickle=False) as archive:
            stored = {name: archive[name] for name in archive.files}
    except (ValueError, zipfile.BadZipFile, OSError, EOFError, KeyError) as error:
        if isinstance(error, ValueError) and "pickle" in str(error):  # numpy's word for an object array
            raise ValueError(f"{path} holds arrays of Python objects, which cannot be read without pickle "
                             f"(and pickle is off): {error}") from error
        raise ValueError(f"{path} is not a readable .npz archive: it may be truncated or damaged "
                         f"({type(error).__name__}: {error}).") from error
    try:
        meta = json.loads(str(stored.pop(_META, np.array("{}"))))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} has a damaged {_META} entry (not JSON): {error}.") from error
    if not isinstance(meta, dict):
        raise ValueError(f"{path} has a damaged {_META} entry: expected a JSON object; got {describe(meta)}.")
    return stored, meta


@dataclass(frozen=True)
class Recommender:
    """A trained hybrid model and the data it serves from.

    Attributes:
        model: a :class:`~recsys_lite.models.hybrid.Hybrid`.
        recent: (n_users, L) each user's last L items, left-aligned, padded on the right with n_items
            (the history of :func:`recsys_lite.data.recent_items`).
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

    def __post_init__(self):
        """Raises ``TypeError``/``ValueError`` when the parts do not fit together (see the attributes)."""
        if not callable(getattr(self.model, "scores", None)):
            raise TypeError(f"`model` must be a trained Hybrid (with a `scores` method); got {describe(self.model)}.")
        seen = as_array("seen", self.seen)
        check_ndim("seen", seen, 2, "(n_users, n_items) bool")
        if seen.dtype != np.bool_:
            raise TypeError(f"`seen` must be a bool array (True where the user has interacted); got {describe(seen)}.")
        n_users, n_items = seen.shape
        check_history("recent", self.recent, n_items, steps=getattr(self.model, "window", None), rows=n_users)
        if getattr(self.model, "n_items", n_items) != n_items:
            raise ValueError(f"`seen` has {n_items} items but the model scores {self.model.n_items}.")
        check_features("user_x", self.user_x, rows=n_users, meaning="one row of features per user")
        check_features("item_x", self.item_x, rows=n_items, meaning="one row of features per item")
        popularity = as_array("popularity", self.popularity)
        if popularity.shape != (n_items,):
            raise ValueError(f"`popularity` must have shape ({n_items},), one count per item; "
                             f"got {describe(popularity)}.")
        check_finite("popularity", popularity)
        if popularity.size and popularity.min() < 0:
            raise ValueError(f"`popularity` must be counts ≥ 0; got {popularity.min()}.")

    @property
    def n_users(self) -> int:
        return self.recent.shape[0]

    @property
    def n_items(self) -> int:
        return self.seen.shape[1]

    def recommend(self, user: int | None, k: int = 10, *, history=(), user_x=None) -> tuple[np.ndarray, np.ndarray]:
        """The top ``k`` unseen items for a user, best first: ``(items, scores)``.

        The model scores a known user from their stored history and embedding, a new user from ``history``
        and their features ``user_x`` (the average user's when None), with the mean row of the user
        embedding table in place of their own. A new user with no history takes the cold-start path:
        standardised log-popularity plus the standardised model score, so popular films lead and the
        user's features reorder them.

        Args:
            user: a known user id, or None for a new user.
            k: how many items (1 ≤ k ≤ number of unseen items).
            history: for a new user, the items they interacted with, oldest first.
            user_x: for a new user, their features (d_u,); None uses the average user.

        Raises:
            TypeError: ``k`` or ``user`` that is not an integer; ``history`` that is not integer
                item ids; ``user_x`` that is not numbers.
            ValueError: an unknown user, ``k`` < 1 or more than the unseen items, ``history``
                or ``user_x`` given for a known user, ids out of range, ``user_x`` of the wrong
                shape or not finite, or a model whose scores are not finite (the message names
                the parameters that hold NaN or inf).
        """
        check_size("k", k)
        history = as_array("history", history)
        check_ndim("history", history, 1, "the new user's item ids, oldest first")
        if user is not None:
            if isinstance(user, bool) or not isinstance(user, (int, np.integer)):
                raise TypeError(f"`user` must be a user id (int) or None for a new user; got {describe(user)}.")
            if not 0 <= user < self.n_users:
                raise ValueError(f"`user` {user} is unknown: ids run from 0 to {self.n_users - 1}. "
                                 "For a new user pass user=None with their history.")
            if history.size or user_x is not None:
                raise ValueError("`history` and `user_x` are only for a new user (user=None); "
                                 "a known user's are stored in the Recommender.")
            seen = self.seen[user]
            scores = self._scores({"user": np.array([user]), "history": self.recent[user:user + 1],
                                   "user_x": self.user_x[user:user + 1]})
        else:
            history = check_ids("history", history, self.n_items, "items")
            features = self.user_x.mean(axis=0) if user_x is None else as_array("user_x", user_x)
            if features.shape != self.user_x.shape[1:]:
                raise ValueError(f"`user_x` must have shape {self.user_x.shape[1:]}, the new user's features; "
                                 f"got {describe(features)}.")
            check_finite("user_x", features)
            seen = np.zeros(self.n_items, bool)
            seen[history] = True
            recent = history[-self.recent.shape[1]:]
            row = np.full((1, self.recent.shape[1]), self.n_items, np.int32)
            row[0, :len(recent)] = recent  # left-aligned, oldest first; no "user": the mean user embedding
            scores = self._scores({"history": row, "user_x": np.asarray(features, np.float32)[None]})
            if not len(history):
                scores = _standardise(np.log1p(self.popularity)) + _standardise(scores)
        candidates = int((~seen).sum())
        if k > candidates:
            raise ValueError(f"`k` must be at most the {candidates} items this user has not seen; got {k}.")
        scores = np.where(seen, -np.inf, scores)
        top = np.argsort(-scores, kind="stable")[:k]
        return top, scores[top]

    def _scores(self, batch) -> np.ndarray:
        scores = np.asarray(_score_one(self.model, batch, jnp.asarray(self.item_x))[0], np.float64)
        if not np.isfinite(scores).all():
            bad = nonfinite_leaves(self.model)
            where = (f"parameter(s) holding NaN or inf: {', '.join(bad[:5])}" if bad
                     else "every parameter is finite, so the scores overflowed")
            raise ValueError(f"the model's scores are not finite ({int((~np.isfinite(scores)).sum())} of "
                             f"{scores.size}); {where}.")
        return scores


@jax.jit
def _score_one(model, batch, item_x):
    return model.scores(batch, item_features=item_x)


def _standardise(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / (x.std() + 1e-12)


def history_attribution(model, batch, items, *, item_features) -> jax.Array:
    """Leave-one-out attribution: how much each history item adds to the score of each given item.

    For row b with history h = (h_1, …, h_n, pad, …) (left-aligned, as the model reads it) and item i = items[b, k],

        a[b, k, j] = s(i | h) − s(i | h without h_j)

    where "h without h_j" drops position j, shifts the later items left and pads on the right; s is
    ``model.scores`` (top-N score, no dropout), everything else in the batch (user, features) unchanged. For a
    history shorter than the window that is the window of a user who never rated h_j; for a full window it is
    not quite (the item before the window would slide in): only the window is known here. a > 0: the item
    scores higher because h_j is there. Positions holding padding get 0. Costs one forward pass per position
    plus one for the full window: B·(L + 1) rows.

    Args:
        model: a model with ``scores(batch, *, item_features)`` that reads ``batch["history"]``, e.g. a Hybrid.
        batch: the model's batch, with ``history`` (B, L) item ids padded with n_items; other keys row-aligned.
        items: (B, K) item ids whose scores are explained (e.g. each user's top K).
        item_features: the model's item feature table, passed on.

    Returns:
        (B, K, L) float array.

    Raises:
        TypeError/ValueError: ``model`` without ``scores`` and ``n_items``; ``batch`` not a mapping with
        ``history`` of (B, L) ids; ``items`` not (B, K) integer ids in range (when concrete); and the model's
        own errors for the rest of the batch.
    """
    if not callable(getattr(model, "scores", None)) or not isinstance(getattr(model, "n_items", None), int):
        raise TypeError(f"`model` must be a top-N model with `scores(batch, *, item_features)` and `n_items`, "
                        f"e.g. a trained Hybrid; got {describe(model)}.")
    check_batch("batch", batch, ["history"])
    n_items = model.n_items
    check_history("batch['history']", batch["history"], n_items)
    history = jnp.asarray(batch["history"])
    rows, steps = history.shape
    items = check_ids("items", items, n_items, "items", ndim=2, meaning="(B, K) item ids, one row per history row")
    if jnp.shape(items)[0] != rows:
        raise ValueError(f"`items` must have one row per row of `batch['history']` ({rows}); got "
                         f"{jnp.shape(items)[0]} rows.")
    # position t of the history without position j: t < j keeps h_t, t ≥ j takes h_{t+1} (the last: padding)
    t, j = np.arange(steps)[None, :], np.arange(steps)[:, None]
    source = np.where(t < j, t, t + 1)                                           # (L, L): [j, t]
    padded = jnp.concatenate([history, jnp.full((rows, 1), n_items, history.dtype)], axis=1)
    removed = padded[:, source]                                                  # (B, L, L): [b, j, t]
    variants = jnp.concatenate([history[:, None, :], removed], axis=1)           # (B, 1 + L, L)
    repeated = {name: jnp.repeat(jnp.asarray(value), steps + 1, axis=0)
                for name, value in batch.items() if name != "history"}
    repeated["history"] = variants.reshape(rows * (steps + 1), steps)
    scores = model.scores(repeated, item_features=item_features).reshape(rows, steps + 1, -1)
    picked = jnp.take_along_axis(scores, jnp.asarray(items)[:, None, :], axis=2)  # (B, 1 + L, K)
    attribution = picked[:, :1, :] - picked[:, 1:, :]                            # (B, L, K)
    real = history < n_items                                                     # (B, L)
    return jnp.where(real[:, :, None], attribution, 0.0).transpose(0, 2, 1)

