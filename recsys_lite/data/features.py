"""Side information as numbers: the user and item features of content-based and hybrid models."""

from __future__ import annotations

import numpy as np

from recsys_lite._checks import check_columns, describe
from recsys_lite.data.dataset import MovieLens

__all__ = ["content_features"]


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
