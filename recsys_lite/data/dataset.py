"""The data set type that the loader and the synthetic stand-in both build, and the rating tables' rules.

A rating table is a DataFrame with one row per rating and the columns
``user``, ``item`` (0-based ids), ``rating`` (1..5) and ``timestamp`` (Unix
seconds). Its time order is by user, then time; equal times keep the row
order of ``u.data``.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from recsys_lite._checks import as_array, check_columns, check_ids, describe

__all__ = ["GENRES", "RATING_COLUMNS", "Split", "MovieLens", "check_ratings", "time_order"]

GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)
RATING_COLUMNS = ["user", "item", "rating", "timestamp"]
# The synthetic-data box sets its text colour and background as a pair: the website theme's (pydata-sphinx-theme's
# variables, which follow its light and dark modes), else fixed colours that read on each other (a plain Jupyter).
_BANNER_STYLE = ("border-left:4px solid #d9822b;padding:0.5em 1em;background:var(--pst-color-warning-bg, #fff4e5);"
                 "color:var(--pst-color-text-base, #1f2328)")


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
        notice: what a reader must be told before trusting any number drawn
            from these data (the loader's reason for the stand-in); "" for MovieLens.
            A notebook shows it as a warning box wherever the data set is displayed.
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
    notice: str = ""

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
        return (f"<{kind} {self.name}: {self.n_users:,} users, {self.n_items:,} items, "
                f"{len(self.ratings):,} ratings; source: {self.source}>")

    def _repr_html_(self) -> str | None:
        """In a notebook: the notice in an orange warning box above the summary; None (plain text) without one."""
        if not self.notice:
            return None
        return (f'<div class="admonition warning" style="{_BANNER_STYLE}"><p class="admonition-title">'
                f"Synthetic data</p><p>{html.escape(self.notice)}</p></div><pre>{html.escape(repr(self))}</pre>")


def check_ratings(name: str, ratings, columns: tuple[str, ...], n_users: int | None = None,
                  n_items: int | None = None) -> None:
    """Raise unless ``ratings`` is a DataFrame with ``columns`` and rows of numbers: ids in [0, n_users) and
    [0, n_items) in ``user``/``item`` (None: only >= 0), integer Unix seconds in ``timestamp``."""
    check_columns(name, ratings, columns, nonempty=True)
    for column in columns:
        values = as_array(f"{name}[{column!r}]", ratings[column].to_numpy())
        if column in ("user", "item"):
            check_ids(f"{name}[{column!r}]", values, n_users if column == "user" else n_items, f"{column}s")
    if "timestamp" in columns and not np.issubdtype(ratings["timestamp"].to_numpy().dtype, np.integer):
        raise TypeError(f"`{name}['timestamp']` must hold integer Unix seconds; "
                        f"got {describe(ratings['timestamp'].to_numpy())}.")


def time_order(ratings: pd.DataFrame, ties: str = "row_order") -> np.ndarray:
    """Row indices sorted by user, then time; equal times keep row order (``ties="row_order"``) or item order."""
    keys = (ratings["timestamp"].to_numpy(), ratings["user"].to_numpy())  # np.lexsort: the last key sorts first; stable
    return np.lexsort(keys if ties == "row_order" else (ratings["item"].to_numpy(), *keys))
