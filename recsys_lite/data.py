"""MovieLens loading, the book's splits, per-user sequences and minibatches.

``load_movielens("ml-100k")`` looks for the data in this order and uses the
first place that has it:

1. the ``data_dir`` argument;
2. the folder named by the environment variable ``RECSYS_LITE_DATA``;
3. the per-user cache (``RECSYS_LITE_CACHE``, else ``~/.cache/recsys_lite``);
4. a download of the official archive from GroupLens into that cache.

Each place may hold the official ``ml-100k.zip`` or the unzipped ``ml-100k/``
folder. Every file read is checked against the official checksums; a
mismatch is an error that names the file and the fix. Only when no place has
the data and the download fails does the loader fall back to the synthetic
stand-in of :mod:`recsys_lite.synthetic`, and it says so loudly.

Ids are 0-based and contiguous: user ``u`` in the files is ``u - 1`` here.

``RECSYS_LITE_OFFLINE`` turns the download off when it is 1, true, yes or on
(any case); 0, false, no, off or empty leave it on; any other value is an
error, so that a typo never means "online" by accident.

Every function checks its input first: a rating table lacking a column, ids
out of range, a size or window that is not a positive integer, or sequences
whose shapes disagree raise ``ValueError`` or ``TypeError`` naming the
argument, what was received and what was expected.

MovieLens may not be redistributed (see its README): this module downloads it
from GroupLens for each reader and never ships it.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, NamedTuple

import numpy as np
import pandas as pd

from recsys_lite._checks import (
    as_array, check_columns, check_flag, check_ids, check_int_in_range, check_key, check_lengths, check_ndim,
    check_size, check_str, describe, env_flag,
)

__all__ = [
    "DataIntegrityError",
    "SyntheticDataWarning",
    "MovieLens",
    "Split",
    "LeaveOneOut",
    "load_movielens",
    "canonical_splits",
    "leave_one_out",
    "user_sequences",
    "seen_mask",
    "minibatches",
    "cache_dir",
    "locate_movielens",
    "content_features",
    "recent_items",
    "next_item_examples",
    "sequence_windows",
]

URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
ARCHIVE_MD5 = "0e33842e24a9c977be4e0107933c0723"

# SHA-256 of the official files in ml-100k.zip (the files this module reads).
FILE_SHA256 = {
    "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
    "u.genre": "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb",
    "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
    "u.user": "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c",
    "u1.base": "ce253ec86c448b44fb3ba9a30d12dcfc2e9210cbde71efada3730c22e9ac212a",
    "u1.test": "18c6014a4b2c7324f250a63f8904a7b16b2b19f911129e346141507b0cbac950",
    "u2.base": "6c06f0b5df4b256da1a994f3ac66edc8da4d3f09bc9282df6b14d893366d703e",
    "u2.test": "4de658d1e04ed9104629509a2e2528fce833ac8e048280183f1df167632038c3",
    "u3.base": "afdc155c291c6edc41c0407e39d7462eb98d341e064f0b0a12175b80b3c4af5d",
    "u3.test": "0f548b51c78327de4c156461d3e430b7e5579fe2b5681586a59416e48fd35f6d",
    "u4.base": "219f0f4d40dfe9c5141d425f53fa91ee23ed275f14e280bbf1b50117afb064ca",
    "u4.test": "7c02ad0a1e7ab1083c8b9d4b627203a051dd7b5eab46d99fa44de33470de8db9",
    "u5.base": "a9574e59ce961eec2121627760b6e9b0974ce1637b3fe69ac32cb14a4bfab485",
    "u5.test": "351cc52e0d15b6c721466276fc24671d40936899e3d01fadeaf312915b8c5634",
    "ua.base": "67b5bcdb380c29f85d56a012ecd88612ae020f30a6730d117a334ee8203b91f2",
    "ua.test": "d0497e202417720f57a184ec8c66be2d1afa4ff41bb53787c57b28d6bf79bc42",
    "ub.base": "237254d253b6ad7de84f919d041055428646254f34ed8f562703c899430cd881",
    "ub.test": "d54a72d05730d5892062734b2bec73e976f9b713d18c828a18b968d6cce442da",
}
SPLIT_NAMES = ("u1", "u2", "u3", "u4", "u5", "ua", "ub")
GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)
RATING_COLUMNS = ["user", "item", "rating", "timestamp"]


class DataIntegrityError(RuntimeError):
    """A data file is missing, truncated or corrupt (its checksum does not match)."""


class SyntheticDataWarning(UserWarning):
    """The real MovieLens data could not be loaded; the synthetic stand-in is used."""


class Split(NamedTuple):
    """A train/test pair of rating tables (columns user, item, rating, timestamp)."""

    train: pd.DataFrame
    test: pd.DataFrame


@dataclass(frozen=True)
class MovieLens:
    """A loaded MovieLens data set.

    Attributes:
        name: ``"ml-100k"``.
        ratings: one row per rating, in the row order of ``u.data``; columns
            ``user`` and ``item`` (0-based ids), ``rating`` (1..5) and
            ``timestamp`` (Unix seconds).
        items: indexed by item id; ``title``, ``year``, ``release_date`` and one
            boolean column per genre (see ``genres``).
        users: indexed by user id; ``age``, ``gender``, ``occupation``, ``zip``.
        splits: the canonical splits ``u1`` … ``u5``, ``ua``, ``ub``.
        genres: the 19 genre names, in the order of ``u.genre``.
        source: where the data came from, in words.
        synthetic: True when this is the synthetic stand-in, not MovieLens.
        truth: for synthetic data, the parameters that generated it; else None.
    """

    name: str
    ratings: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame
    splits: Mapping[str, Split]
    genres: tuple[str, ...]
    source: str
    synthetic: bool = False
    truth: Mapping[str, np.ndarray] | None = None

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def split(self, name: str) -> Split:
        """The canonical split ``name`` (``"u1"`` … ``"u5"``, ``"ua"``, ``"ub"``).

        Raises:
            ValueError: an unknown ``name``.
        """
        if not isinstance(name, str) or name not in self.splits:
            raise ValueError(f"`name` must be one of {sorted(self.splits)}; got {name!r}.")
        return self.splits[name]

    def __repr__(self) -> str:
        kind = "SYNTHETIC stand-in" if self.synthetic else "MovieLens"
        return (
            f"<{kind} {self.name}: {self.n_users:,} users, {self.n_items:,} items, "
            f"{len(self.ratings):,} ratings; source: {self.source}>"
        )


# ----------------------------------------------------------------------------
# Finding the files


def _cache_path() -> Path:
    env = os.environ.get("RECSYS_LITE_CACHE")
    if env:
        return Path(env).expanduser()
    import pooch

    return Path(pooch.os_cache("recsys_lite"))


def cache_dir() -> Path:
    """The per-user cache: ``$RECSYS_LITE_CACHE``, else the OS cache folder.

    Raises:
        ValueError: the path exists but is not a folder (a file, say).
    """
    path = _cache_path()
    if path.exists() and not path.is_dir():
        source = "RECSYS_LITE_CACHE" if os.environ.get("RECSYS_LITE_CACHE") else "the default cache path"
        raise ValueError(f"The cache path {path} ({source}) is not a folder: it is a file. Point "
                         "RECSYS_LITE_CACHE to a folder (or to a path that does not exist yet), or remove the file.")
    return path


def _fix_hint(where: Path) -> str:
    return (
        f"Fix: delete {where} and get a fresh copy of the official archive from {URL} "
        "(unzipped or as the zip); or unset RECSYS_LITE_DATA / empty the cache "
        f"({_cache_path()}) so that the loader downloads it again."
    )


class _Files:
    """Reads the checked files of ml-100k from a folder or from the zip."""

    def __init__(self, location: Path):
        self.location = location
        self.zip = None
        if location.suffix == ".zip":
            # Each member is checked by its SHA-256 on reading, so a re-packed
            # zip of the official files is as good as the official archive.
            try:
                self.zip = zipfile.ZipFile(location)
            except (zipfile.BadZipFile, OSError) as err:
                raise DataIntegrityError(
                    f"{location} is not a readable zip ({err}): it is corrupt or incomplete. "
                    f"{_fix_hint(location)}"
                ) from None

    def read(self, name: str) -> bytes:
        if self.zip is not None:
            try:
                raw = self.zip.read(f"ml-100k/{name}")
            except zipfile.BadZipFile as err:
                raise DataIntegrityError(f"{self.location}: ml-100k/{name} is corrupt ({err}). {_fix_hint(self.location)}") from None
            except KeyError:
                raise DataIntegrityError(f"{self.location} has no member ml-100k/{name}. {_fix_hint(self.location)}")
            where = self.location
        else:
            path = self.location / name
            if not path.is_file():
                raise DataIntegrityError(
                    f"{path} is missing: the folder {self.location} holds only part of ml-100k. "
                    f"{_fix_hint(self.location)}"
                )
            raw = path.read_bytes()
            where = path
        actual = hashlib.sha256(raw).hexdigest()
        if actual != FILE_SHA256[name]:
            raise DataIntegrityError(
                f"ml-100k/{name} ({where}, {len(raw):,} bytes) has SHA-256 {actual}, "
                f"expected {FILE_SHA256[name]}: the file is corrupt, truncated or not the "
                f"official one. {_fix_hint(where)}"
            )
        return raw


def _find_in(folder: Path) -> Path | None:
    """The ml-100k folder or zip inside ``folder`` (or ``folder`` itself), if any."""
    for candidate in (folder / "ml-100k", folder):
        if (candidate / "u.data").is_file():
            return candidate
    if (folder / "ml-100k.zip").is_file():
        return folder / "ml-100k.zip"
    if folder.suffix == ".zip" and folder.is_file():
        return folder
    return None


def _download(into: Path) -> Path:
    import pooch

    into.mkdir(parents=True, exist_ok=True)
    path = pooch.retrieve(
        URL,
        known_hash=f"md5:{ARCHIVE_MD5}",
        fname="ml-100k.zip",
        path=into,
        downloader=pooch.HTTPDownloader(progressbar=True, timeout=30),
    )
    return Path(path)


# ----------------------------------------------------------------------------
# Parsing


def _read_ratings(raw: bytes) -> pd.DataFrame:
    frame = pd.read_csv(io.BytesIO(raw), sep="\t", header=None, names=RATING_COLUMNS, dtype=np.int64)
    frame["user"] -= 1
    frame["item"] -= 1
    return frame


def _read_items(raw: bytes) -> pd.DataFrame:
    columns = ["item", "title", "release_date", "video_release_date", "imdb_url", *GENRES]
    frame = pd.read_csv(
        io.BytesIO(raw), sep="|", header=None, names=columns, encoding="latin-1",
        dtype={"title": str, "release_date": str},
    )
    frame["item"] -= 1
    frame = frame.set_index("item")
    frame["release_date"] = pd.to_datetime(frame["release_date"], format="%d-%b-%Y", errors="coerce")
    frame["year"] = frame["release_date"].dt.year.astype("float64")
    frame[list(GENRES)] = frame[list(GENRES)].astype(bool)
    return frame[["title", "year", "release_date", *GENRES]]


def _read_users(raw: bytes) -> pd.DataFrame:
    frame = pd.read_csv(
        io.BytesIO(raw), sep="|", header=None, names=["user", "age", "gender", "occupation", "zip"],
        dtype={"zip": str},
    )
    frame["user"] -= 1
    return frame.set_index("user")


def _load_real(location: Path, source: str) -> MovieLens:
    files = _Files(location)
    ratings = _read_ratings(files.read("u.data"))
    items = _read_items(files.read("u.item"))
    users = _read_users(files.read("u.user"))
    genres = tuple(
        line.split("|")[0] for line in files.read("u.genre").decode("latin-1").splitlines() if line
    )
    splits = {
        name: Split(_read_ratings(files.read(f"{name}.base")), _read_ratings(files.read(f"{name}.test")))
        for name in SPLIT_NAMES
    }
    return MovieLens("ml-100k", ratings, items, users, splits, genres, source, synthetic=False)


def _announce_synthetic(reason: str) -> None:
    message = (
        "USING SYNTHETIC DATA, NOT MOVIELENS. "
        f"{reason} Every number on this page comes from a seeded stand-in of the same "
        "shape (recsys_lite.synthetic), not from real users. To use the real data, "
        f"download {URL} and set RECSYS_LITE_DATA to the folder holding it (or ml-100k.zip), "
        "or run once with network access so the loader can cache it."
    )
    warnings.warn(message, SyntheticDataWarning, stacklevel=3)
    try:  # In a notebook, also show it as a visible box in the output.
        from IPython import get_ipython
        from IPython.display import HTML, display

        if get_ipython() is not None and getattr(get_ipython(), "kernel", None) is not None:
            display(HTML(
                '<div class="admonition warning" style="border-left:4px solid #d9822b;'
                'padding:0.5em 1em;background:#fff4e5"><p class="admonition-title">'
                f"Synthetic data</p><p>{message}</p></div>"
            ))
    except ImportError:
        pass


def locate_movielens(data_dir: str | os.PathLike | None = None) -> tuple[Path | None, str]:
    """Where :func:`load_movielens` would read ml-100k from, without reading it.

    Returns ``(path, label)``: the ``ml-100k`` folder or zip and which place
    it was found in (``"the `data_dir` argument"``, ``"RECSYS_LITE_DATA"`` or
    ``"cache"``), or ``(None, "")`` when only a download could provide it.

    Raises:
        FileNotFoundError: ``data_dir`` or ``RECSYS_LITE_DATA`` is set but
            holds no data (an explicit place must not be silently skipped).
        TypeError: ``data_dir`` is not a path.
        ValueError: the cache path is not a folder.
    """
    if data_dir is not None and not isinstance(data_dir, (str, os.PathLike)):
        raise TypeError(f"`data_dir` must be a folder path (str or pathlib.Path) or None; got {describe(data_dir)}.")
    explicit = [("the `data_dir` argument", data_dir), ("RECSYS_LITE_DATA", os.environ.get("RECSYS_LITE_DATA"))]
    for label, folder in explicit:
        if folder:
            folder = Path(folder).expanduser()
            found = _find_in(folder)
            if found is None:
                raise FileNotFoundError(
                    f"{label} points to {folder}, which holds neither ml-100k/ (with u.data) "
                    f"nor ml-100k.zip. Put the official archive from {URL} there, unzipped or "
                    "as the zip, or point it to the folder that holds it."
                )
            return found, label
    found = _find_in(cache_dir())
    return (found, "cache") if found is not None else (None, "")


def load_movielens(name: str = "ml-100k", data_dir: str | os.PathLike | None = None, *, download: bool = True) -> MovieLens:
    """Load MovieLens, verified by checksum, or the announced synthetic stand-in.

    Args:
        name: the data set; ``"ml-100k"`` (943 users, 1,682 items, 100,000 ratings).
        data_dir: a folder holding ``ml-100k/`` or ``ml-100k.zip`` (or the
            ``ml-100k`` folder itself). When given, it must hold the data.
        download: whether to try GroupLens when nothing local is found
            (``RECSYS_LITE_OFFLINE`` set to 1, true, yes or on, in any case,
            also turns it off).

    Returns:
        A :class:`MovieLens` with ratings, item and user tables and the
        canonical splits.

    Raises:
        ValueError: an unknown ``name``; ``RECSYS_LITE_OFFLINE`` set to a value
            that is neither on nor off; a cache path that is not a folder.
        TypeError: ``data_dir`` not a path, ``download`` not a bool.
        FileNotFoundError: ``data_dir`` or ``RECSYS_LITE_DATA`` holds no data.
        DataIntegrityError: a file found is truncated or corrupt.
    """
    check_flag("download", download)
    offline = env_flag("RECSYS_LITE_OFFLINE")  # read first: a bad value is an error wherever the data are
    if name != "ml-100k":
        raise ValueError(
            f"`name` must be 'ml-100k' (the data set this book is built on); got {name!r}. "
            "Other MovieLens sizes are not supported yet."
        )
    found, label = locate_movielens(data_dir)
    if found is not None:
        return _load_real(found, f"{found} ({label})")
    cache = cache_dir()

    reason = "No local copy of ml-100k was found (data_dir, RECSYS_LITE_DATA and the cache are empty)"
    if download and not offline:
        try:
            archive = _download(cache)
        except Exception as err:  # network errors come in many types
            reason += f", and the download from GroupLens failed ({type(err).__name__})."
        else:
            return _load_real(archive, f"{archive} (downloaded from GroupLens)")
    else:
        setting = os.environ.get("RECSYS_LITE_OFFLINE", "").strip()
        reason += f", and RECSYS_LITE_OFFLINE={setting} forbids downloading." if offline else ", and download=False."

    from recsys_lite import synthetic

    _announce_synthetic(reason)
    return synthetic.movielens_like(seed=0)


# ----------------------------------------------------------------------------
# Splits


def _sorted_by_user_item(frame: pd.DataFrame) -> pd.DataFrame:
    order = np.lexsort((frame["item"].to_numpy(), frame["user"].to_numpy()))
    return frame.iloc[order].reset_index(drop=True)


def canonical_splits(ratings: pd.DataFrame) -> dict[str, Split]:
    """Rebuild the splits of ML-100K's ``mku.sh`` from the ratings in ``u.data`` order.

    ``u1`` … ``u5``: five disjoint blocks of consecutive rows (20,000 each for
    ML-100K) as test sets, the other rows as training. ``ua``/``ub``: each
    user's 1st–10th / 11th–20th rating in row order as test (``allbut.pl``).
    Every table is sorted by (user, item), as the official files are.

    Raises:
        TypeError, ValueError: ``ratings`` not a DataFrame, lacking a column
            user/item, or empty.
    """
    _check_ratings("ratings", ratings, ("user", "item"))
    n = len(ratings)
    bounds = np.linspace(0, n, 6).astype(int)
    splits = {}
    for fold in range(5):
        in_test = np.zeros(n, bool)
        in_test[bounds[fold]:bounds[fold + 1]] = True
        splits[f"u{fold + 1}"] = Split(_sorted_by_user_item(ratings[~in_test]), _sorted_by_user_item(ratings[in_test]))
    position = ratings.groupby("user").cumcount().to_numpy() + 1  # 1-based count per user, row order
    for name, (start, stop) in {"ua": (1, 10), "ub": (11, 20)}.items():
        in_test = (position >= start) & (position <= stop)
        splits[name] = Split(_sorted_by_user_item(ratings[~in_test]), _sorted_by_user_item(ratings[in_test]))
    return splits


def _check_ratings(name: str, ratings, columns: tuple[str, ...], n_users: int | None = None,
                   n_items: int | None = None) -> None:
    """A rating table: a DataFrame with ``columns``, at least one row, numbers, ids in range."""
    check_columns(name, ratings, columns)
    if len(ratings) == 0:
        raise ValueError(f"`{name}` must hold at least one row; got an empty table with columns "
                         f"{[str(c) for c in ratings.columns]}.")
    for column in columns:
        as_array(f"{name}[{column!r}]", ratings[column].to_numpy())
    sizes = {"user": n_users, "item": n_items}
    for column in ("user", "item"):
        if column in columns:
            check_ids(f"{name}[{column!r}]", ratings[column].to_numpy(), sizes[column], f"{column}s")
    if "timestamp" in columns and not np.issubdtype(ratings["timestamp"].to_numpy().dtype, np.integer):
        raise TypeError(f"`{name}['timestamp']` must hold integer Unix seconds; "
                        f"got {describe(ratings['timestamp'].to_numpy())}.")


def _time_order(ratings: pd.DataFrame, ties: str) -> np.ndarray:
    """Row indices sorted by user, then time; equal times keep row order or item order."""
    user = ratings["user"].to_numpy()
    time = ratings["timestamp"].to_numpy()
    if ties == "row_order":  # np.lexsort is stable: equal keys keep u.data's row order
        return np.lexsort((time, user))
    if ties == "item_id":
        return np.lexsort((ratings["item"].to_numpy(), time, user))
    raise ValueError(f"`ties` must be 'row_order' or 'item_id'; got {ties!r}.")


@dataclass(frozen=True)
class LeaveOneOut:
    """Time-ordered leave-one-out: last interaction → test, second-to-last → valid.

    ``train``, ``valid`` and ``test`` are rating tables; ``valid`` and ``test``
    have exactly one row per user, sorted by user.
    """

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    n_users: int
    n_items: int

    def targets(self, stage: str) -> tuple[np.ndarray, np.ndarray]:
        """``(users, items)`` to rank for ``stage`` (``"valid"`` or ``"test"``)."""
        frame = self._stage(stage)
        return frame["user"].to_numpy(), frame["item"].to_numpy()

    def exclusions(self, stage: str) -> np.ndarray:
        """Boolean ``(n_users, n_items)`` mask of items not to rank for ``stage``.

        Validation excludes the training items; test excludes the training
        items and the validation item: everything the user interacted with
        before the target.
        """
        self._stage(stage)
        seen = [self.train] if stage == "valid" else [self.train, self.valid]
        frame = pd.concat(seen)
        return seen_mask(self.n_users, self.n_items, frame["user"], frame["item"])

    def history(self, stage: str) -> pd.DataFrame:
        """The interactions before the ``stage`` target (train, plus valid for test)."""
        self._stage(stage)
        return self.train if stage == "valid" else pd.concat([self.train, self.valid], ignore_index=True)

    def _stage(self, stage: str) -> pd.DataFrame:
        if not isinstance(stage, str):
            raise TypeError(f"`stage` must be 'valid' or 'test'; got {describe(stage)}.")
        if stage == "valid":
            return self.valid
        if stage == "test":
            return self.test
        raise ValueError(f"`stage` must be 'valid' or 'test'; got {stage!r}.")


def leave_one_out(ratings: pd.DataFrame, n_users: int, n_items: int, *, ties: str = "row_order") -> LeaveOneOut:
    """Split each user's time-ordered interactions: ... train | valid | test.

    Timestamps tie often (a user rates several films in the same second), so
    the order among equal timestamps must be fixed by a rule. The book's rule,
    ``ties="row_order"``, keeps the row order of ``u.data`` (a stable sort on
    time). ``ties="item_id"`` (for comparison only) puts the highest item id
    last, which leaks id order into the target.

    Args:
        ratings: table with columns user, item, timestamp, in ``u.data`` order.
        n_users, n_items: sizes of the id spaces.
        ties: ``"row_order"`` (default) or ``"item_id"``.

    Raises:
        TypeError: ``ratings`` not a DataFrame; non-integer ids, timestamps or sizes.
        ValueError: a missing column (user, item, timestamp), an empty table,
            a user with fewer than 3 interactions, ids out of range, sizes
            < 1, or a bad ``ties``.
    """
    n_users, n_items = check_size("n_users", n_users), check_size("n_items", n_items)
    if not isinstance(ties, str) or ties not in ("row_order", "item_id"):
        raise ValueError(f"`ties` must be 'row_order' or 'item_id'; got {ties!r}.")
    _check_ratings("ratings", ratings, ("user", "item", "timestamp"), n_users, n_items)
    ordered = ratings.iloc[_time_order(ratings, ties)].reset_index(drop=True)
    counts = ordered.groupby("user").size()
    if counts.min() < 3 or len(counts) < n_users:
        few = counts[counts < 3].index.tolist() + sorted(set(range(n_users)) - set(counts.index))
        raise ValueError(
            f"`ratings` must hold at least 3 interactions per user for leave-one-out; "
            f"{len(few)} user(s) have fewer, e.g. user {few[0]}."
        )
    from_end = ordered.groupby("user").cumcount(ascending=False).to_numpy()
    return LeaveOneOut(
        train=ordered[from_end >= 2].reset_index(drop=True),
        valid=ordered[from_end == 1].reset_index(drop=True),
        test=ordered[from_end == 0].reset_index(drop=True),
        n_users=n_users,
        n_items=n_items,
    )


# ----------------------------------------------------------------------------
# Arrays for models


def seen_mask(n_users: int, n_items: int, users, items) -> np.ndarray:
    """Boolean ``(n_users, n_items)`` matrix, True where (user, item) occurs; ``users``, ``items``: (m,).

    Raises:
        TypeError, ValueError: sizes not positive integers; ids not integers,
            out of range, or ``users`` and ``items`` of different shapes.
    """
    n_users, n_items = check_size("n_users", n_users), check_size("n_items", n_items)
    users = check_ids("users", np.asarray(as_array("users", users)), n_users, "users")
    items = check_ids("items", np.asarray(as_array("items", items)), n_items, "items")
    check_ndim("users", users, 1, "one user id per interaction")
    if users.shape != items.shape:
        raise ValueError(f"`users` and `items` must have the same shape, one pair per interaction; got "
                         f"{users.shape} and {items.shape}.")
    mask = np.zeros((n_users, n_items), bool)
    mask[users, items] = True
    return mask


def user_sequences(ratings: pd.DataFrame, n_users: int, n_items: int, *, max_len: int | None = None,
                   pad_id: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each user's items in time order (ties by row order), as a padded array.

    Returns ``(items, lengths)``: ``items`` has shape ``(n_users, L)`` with the
    user's items left-aligned, oldest first, and ``pad_id`` after them
    (default ``n_items``: an embedding table with ``n_items + 1`` rows keeps
    its last row for padding); ``lengths`` has shape ``(n_users,)``. With
    ``max_len``, only each user's most recent ``max_len`` items are kept.

    Raises:
        TypeError, ValueError: ``ratings`` not a DataFrame with columns user,
            item, timestamp; ids out of range; sizes or ``max_len`` not
            positive integers; ``pad_id`` not an integer >= ``n_items`` (a
            smaller one would be taken for a real item).
    """
    n_users, n_items = check_size("n_users", n_users), check_size("n_items", n_items)
    _check_ratings("ratings", ratings, ("user", "item", "timestamp"), n_users, n_items)
    if max_len is not None:
        check_size("max_len", max_len)
    pad_id = n_items if pad_id is None else pad_id
    check_int_in_range("pad_id", pad_id, n_items)
    ordered = ratings.iloc[_time_order(ratings, "row_order")]
    user = ordered["user"].to_numpy()
    item = ordered["item"].to_numpy()
    lengths = np.bincount(user, minlength=n_users)
    if max_len is not None:
        from_end = ordered.groupby("user").cumcount(ascending=False).to_numpy()
        keep = from_end < max_len
        user, item = user[keep], item[keep]
        lengths = np.minimum(lengths, max_len)
    position = np.arange(len(user)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    width = int(lengths.max()) if len(lengths) else 0
    padded = np.full((n_users, width), pad_id, dtype=np.int32)
    padded[user, position] = item
    return padded, lengths.astype(np.int32)


def minibatches(key, arrays: Mapping[str, np.ndarray] | tuple, batch_size: int, *,
                drop_last: bool = False) -> Iterator:
    """Yield shuffled minibatches of ``arrays``, the order drawn from ``key``.

    Args:
        key: a ``jax.random`` key; the same key gives the same order.
        arrays: a dict or tuple of arrays sharing their first dimension ``m``.
        batch_size: rows per batch ``B``; the last batch may be smaller
            unless ``drop_last``.

    Raises:
        TypeError: ``key`` not a PRNG key; ``arrays`` not a dict or tuple of
            arrays of numbers; ``drop_last`` not a bool.
        ValueError: no arrays, arrays without rows or of different lengths,
            ``batch_size`` not a positive integer.
    """
    import jax

    check_key("key", key)
    if not isinstance(arrays, (Mapping, tuple, list)):
        raise TypeError(f"`arrays` must be a dict or tuple of arrays; got {describe(arrays)}.")
    names = [f"arrays[{k!r}]" for k in arrays] if isinstance(arrays, Mapping) else \
        [f"arrays[{i}]" for i in range(len(arrays))]
    leaves = [as_array(name, leaf) for name, leaf in
              zip(names, arrays.values() if isinstance(arrays, Mapping) else arrays)]
    if not leaves:
        raise ValueError("`arrays` must hold at least one array; got an empty collection.")
    for name, leaf in zip(names, leaves):
        if np.ndim(leaf) == 0:
            raise ValueError(f"`{name}` must have a first dimension, one entry per row; got {describe(leaf)}.")
    m = len(leaves[0])
    for leaf in leaves:
        if len(leaf) != m:
            raise ValueError(
                f"`arrays` must share their first dimension; got lengths {[len(x) for x in leaves]}."
            )
    if m == 0:
        raise ValueError("`arrays` must hold at least one row; got 0 rows.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive integer; got {describe(batch_size)}.")
    check_flag("drop_last", drop_last)
    order = np.asarray(jax.random.permutation(key, m))
    stop = m - m % batch_size if drop_last else m
    for start in range(0, stop, batch_size):
        index = order[start:start + batch_size]
        if isinstance(arrays, Mapping):
            yield {name: np.asarray(value)[index] for name, value in arrays.items()}
        else:
            yield tuple(np.asarray(value)[index] for value in arrays)


def content_features(dataset: MovieLens) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Side information as numbers, for content-based models.

    Users: age (standardised), gender (1 = F), occupation (one-hot).
    Items: the 19 genre flags and the release year (standardised; a missing
    year gets the mean, i.e. 0).

    Returns:
        ``(user_x, item_x, user_names, item_names)``: float32 arrays of shape
        ``(n_users, d_u)`` and ``(n_items, d_i)`` and their column names.

    Raises:
        TypeError, ValueError: ``dataset`` not a :class:`MovieLens`, or its
            tables lacking a column used here.
    """
    if not isinstance(dataset, MovieLens):
        raise TypeError(f"`dataset` must be a MovieLens (from load_movielens); got {describe(dataset)}.")
    check_columns("dataset.users", dataset.users, ("age", "gender", "occupation"))
    check_columns("dataset.items", dataset.items, (*dataset.genres, "year"))
    users, items = dataset.users, dataset.items
    age = users["age"].to_numpy(np.float64)
    occupations = sorted(users["occupation"].unique())
    user_x = np.column_stack([
        (age - age.mean()) / age.std(),
        (users["gender"].to_numpy() == "F").astype(np.float64),
        *[(users["occupation"].to_numpy() == name).astype(np.float64) for name in occupations],
    ])
    year = items["year"].to_numpy(np.float64)
    year = np.where(np.isnan(year), np.nanmean(year), year)
    item_x = np.column_stack([items[list(dataset.genres)].to_numpy(np.float64), (year - year.mean()) / year.std()])
    user_names = ["age", "gender=F", *[f"occupation={name}" for name in occupations]]
    item_names = [*dataset.genres, "year"]
    return user_x.astype(np.float32), item_x.astype(np.float32), user_names, item_names


def _check_sequences(items, lengths, window: int, pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """``items`` (n_users, L) and ``lengths`` (n_users,) as from :func:`user_sequences`, checked, as arrays."""
    items = np.asarray(as_array("items", items))
    check_ndim("items", items, 2, "(n_users, L) item ids padded after each sequence, as from user_sequences")
    if not np.issubdtype(items.dtype, np.integer):
        raise TypeError(f"`items` must hold integer item ids; got {describe(items)}.")
    lengths = np.asarray(as_array("lengths", lengths))
    check_lengths("lengths", lengths, items.shape[:1], items.shape[1])
    check_size("window", window)
    check_int_in_range("pad_id", pad_id, 0)
    real = items[np.arange(items.shape[1])[None, :] < lengths[:, None]]
    check_ids("items", real, None, "items")
    if (real == pad_id).any():
        raise ValueError(f"`pad_id` must differ from every real item id; got {pad_id}, which `items` holds "
                         "within the lengths (pick an id no item has, such as n_items).")
    return items, lengths


def _windows(items: np.ndarray, rows: np.ndarray, stops: np.ndarray, window: int, pad_id: int):
    """``items[rows[k], max(0, stops[k] - window):stops[k]]`` for every k, left-aligned and padded on
    the right with ``pad_id``: ``(history (K, window), length (K,))``."""
    length = np.minimum(stops, window)
    column = (stops - length)[:, None] + np.arange(window)[None, :]
    padded = np.concatenate([items, np.full((len(items), window), pad_id, items.dtype)], axis=1)
    history = np.where(np.arange(window)[None, :] < length[:, None], padded[rows[:, None], column], pad_id)
    return history.astype(np.int32), length.astype(np.int32)


def recent_items(items: np.ndarray, lengths: np.ndarray, window: int, *, pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Each user's last ``window`` items: (n_users, L) → ``(history (n_users, window), length (n_users,))``.

    ``items``/``lengths`` as returned by :func:`user_sequences`. The items are
    left-aligned, oldest first, as in :func:`user_sequences`; a user with
    fewer than ``window`` items is padded with ``pad_id`` on the right, and
    ``length = min(lengths, window)`` says how many are real, so the most
    recent item is ``history[u, length[u] - 1]``.

    Raises:
        TypeError, ValueError: ``items`` not a 2-D integer array; ``lengths``
            not one integer in [0, L] per row; ``window`` not a positive
            integer; ``pad_id`` not an integer >= 0 or equal to a real item.
    """
    items, lengths = _check_sequences(items, lengths, window, pad_id)
    return _windows(items, np.arange(len(lengths)), lengths, window, pad_id)


def next_item_examples(items: np.ndarray, lengths: np.ndarray, window: int, *, pad_id: int) -> dict[str, np.ndarray]:
    """Training examples for next-item prediction: (user, the previous ``window`` items) → next item.

    For every position t ≥ 1 of every user's sequence, the history is the
    ``min(t, window)`` items before t, left-aligned (oldest first) and padded
    with ``pad_id`` on the right, as :func:`recent_items` pads; the target is
    the item at t. Returns a dict of int32 arrays ``user`` (N,), ``history``
    (N, window), ``length`` (N,) (the real items in ``history``) and ``item`` (N,).

    Raises:
        TypeError, ValueError: as :func:`recent_items`.
    """
    items, lengths = _check_sequences(items, lengths, window, pad_id)
    count = np.maximum(lengths.astype(np.int64) - 1, 0)  # targets per user: positions 1 … length - 1
    users = np.repeat(np.arange(len(lengths)), count)
    t = 1 + np.arange(len(users)) - np.repeat(np.cumsum(count) - count, count)
    history, length = _windows(items, users, t, window, pad_id)
    return {"user": users.astype(np.int32), "history": history, "length": length,
            "item": items[users, t].astype(np.int32)}


def sequence_windows(items: np.ndarray, lengths: np.ndarray, window: int, *, pad_id: int) -> dict[str, np.ndarray]:
    """Cut each user's sequence into windows of ``window + 1`` items, newest first, overlapping by one item.

    The training data of a many-to-many recurrent model (chapter 7): in a
    window i_1 … i_{T+1}, each of i_2 … i_{T+1} is the target of the items
    before it. Window ends go back from each user's last item in steps of
    ``window``, so every item after a user's first is a target exactly once.
    ``items`` (n_users, L) and ``lengths`` (n_users,) as from
    :func:`user_sequences` → ``{"sequence": (N, window + 1)`` left-aligned,
    padded with ``pad_id``; ``"length": (N,)}`` int32.

    Raises:
        TypeError, ValueError: as :func:`recent_items`.
    """
    items, lengths = _check_sequences(items, lengths, window, pad_id)
    rows = [items[u, max(0, end - window - 1):end] for u in range(len(lengths))
            for end in range(int(lengths[u]), 1, -window)]
    out = np.full((len(rows), window + 1), pad_id, np.int32)
    for r, row in enumerate(rows):
        out[r, :len(row)] = row
    return {"sequence": out, "length": np.array([len(row) for row in rows], np.int32)}
