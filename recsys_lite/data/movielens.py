"""Loading ml-100k into a :class:`MovieLens`, or, when it cannot be had, the synthetic stand-in, announced."""

from __future__ import annotations

import dataclasses
import io
import os
import warnings

import numpy as np
import pandas as pd

from recsys_lite import config
from recsys_lite._checks import check_flag
from recsys_lite.data import files, synthetic
from recsys_lite.data.dataset import GENRES, RATING_COLUMNS, MovieLens, Split

__all__ = ["SPLIT_NAMES", "SyntheticDataWarning", "load_movielens"]

SPLIT_NAMES = ("u1", "u2", "u3", "u4", "u5", "ua", "ub")


class SyntheticDataWarning(UserWarning):
    """The real MovieLens data could not be loaded; the synthetic stand-in is used."""


def _read_table(raw: bytes, sep: str, names: list[str], ids: list[str], **options) -> pd.DataFrame:
    frame = pd.read_csv(io.BytesIO(raw), sep=sep, header=None, names=names, **options)
    frame[ids] -= 1  # 1-based in the files, 0-based here
    return frame


def _read_ratings(raw: bytes) -> pd.DataFrame:
    return _read_table(raw, "\t", RATING_COLUMNS, ["user", "item"], dtype=np.int64)


def _read_items(raw: bytes) -> pd.DataFrame:
    columns = ["item", "title", "release_date", "video_release_date", "imdb_url", *GENRES]
    frame = _read_table(raw, "|", columns, ["item"], encoding="latin-1", dtype={"title": str, "release_date": str})
    frame = frame.set_index("item")
    frame["release_date"] = pd.to_datetime(frame["release_date"], format="%d-%b-%Y", errors="coerce")
    frame["year"] = frame["release_date"].dt.year.astype("float64")
    frame[list(GENRES)] = frame[list(GENRES)].astype(bool)
    return frame[["title", "year", "release_date", *GENRES]]


def _read(location, source: str) -> MovieLens:
    checked = files.CheckedFiles(location)
    ratings, items = _read_ratings(checked.read("u.data")), _read_items(checked.read("u.item"))
    users = _read_table(checked.read("u.user"), "|", ["user", "age", "gender", "occupation", "zip"], ["user"],
                        dtype={"zip": str}).set_index("user")
    genres = tuple(line.split("|")[0] for line in checked.read("u.genre").decode("latin-1").splitlines() if line)
    splits = {name: Split(_read_ratings(checked.read(f"{name}.base")), _read_ratings(checked.read(f"{name}.test")))
              for name in SPLIT_NAMES}
    return MovieLens("ml-100k", ratings, items, users, splits, genres, source, synthetic=False)


def load_movielens(name: str = "ml-100k", data_dir: str | os.PathLike | None = None, *,
                   download: bool = True) -> MovieLens:
    """Load MovieLens, verified by checksum, or the announced synthetic stand-in.

    Where it looks is in :mod:`recsys_lite.data.files`. When nothing is found
    and nothing can be downloaded, it returns ``synthetic.movielens_like(seed=0)``
    with the reason in its ``notice`` (a notebook shows it as a warning box)
    and warns with a :class:`SyntheticDataWarning`.

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
    offline = config.offline()  # read first: a bad value is an error wherever the data are
    if name != "ml-100k":
        raise ValueError(f"`name` must be 'ml-100k' (the data set this book is built on); got {name!r}. "
                         "Other MovieLens sizes are not supported yet.")
    found, label = files.locate_movielens(data_dir)
    if found is not None:
        return _read(found, f"{found} ({label})")
    cache = files.cache_dir()
    reason = f"No local copy of ml-100k was found (data_dir, {config.DATA} and the cache are empty)"
    if download and not offline:
        try:
            archive = files.download(cache)
        except Exception as err:  # network errors come in many types
            reason += f", and the download from GroupLens failed ({type(err).__name__})."
        else:
            return _read(archive, f"{archive} (downloaded from GroupLens)")
    else:
        reason += f", and {config.OFFLINE} is on, which forbids downloading." if offline else ", and download=False."
    notice = (
        f"USING SYNTHETIC DATA, NOT MOVIELENS. {reason} Every number on this page comes from a seeded "
        "stand-in of the same shape (recsys_lite.synthetic), not from real users. To use the real data, "
        f"download {files.URL} and set {config.DATA} to the folder holding it (or ml-100k.zip), "
        "or run once with network access so the loader can cache it."
    )
    warnings.warn(notice, SyntheticDataWarning, stacklevel=2)
    return dataclasses.replace(synthetic.movielens_like(seed=0), notice=notice)
