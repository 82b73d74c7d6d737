"""A seeded, MovieLens-shaped stand-in with a known ground truth.

When the real data cannot be had (offline, nothing cached), the book runs on
this instead, and says so. It has ML-100K's shape — 943 users, 1,682 items,
100,000 ratings from 1 to 5 with ML-100K's rating distribution, at least 20
ratings per user, a long tail of item popularity, timestamps over the same
seven months with many ties, 19 genre flags, user age/gender/occupation/zip —
and, unlike real data, a known truth that models can try to recover:

    r*_ui = μ + b_u + b_i + p_u · q_i + ε,   ε ~ N(0, σ²)

The observed rating is r*_ui cut into 1..5 at the quantiles that give
ML-100K's rating shares. Which items a user rates depends on popularity and
on p_u · q_i, so top-N models have structure to find too. The order in which
a user rates them follows a drift of taste: items are sorted along a
direction d_u in factor space (q_i · d_u plus noise), so consecutive items
resemble each other and sequence models have an order to find. Genres
depend on the item factors, and each title says what the film is (all its
genres, a number and a year, e.g. ``"Sci-Fi/Action #12 (1995)"``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys_lite._checks import check_features, check_int_in_range, check_positive, check_size, describe
from recsys_lite.data.dataset import GENRES, MovieLens
from recsys_lite.data.splits import canonical_splits

__all__ = ["movielens_like", "make_ratings", "make_items", "make_users"]

# Shares of ratings 1..5 in ML-100K (u.data: 6,110 / 11,370 / 27,145 / 34,174 / 21,201).
RATING_SHARES = np.array([6110, 11370, 27145, 34174, 21201]) / 100_000
OCCUPATIONS = (
    "administrator", "artist", "doctor", "educator", "engineer", "entertainment", "executive",
    "healthcare", "homemaker", "lawyer", "librarian", "marketing", "none", "other", "programmer",
    "retired", "salesman", "scientist", "student", "technician", "writer",
)
# Films per genre in ML-100K's u.item (unknown, Action, …, Western): the prior of the genre draw.
GENRE_COUNTS = np.array([2, 251, 135, 42, 122, 505, 109, 50, 725, 22, 24, 92, 56, 61, 247, 101, 251, 71, 27])
FIRST_SECOND, LAST_SECOND = 874_724_710, 893_286_638  # ML-100K's first and last timestamps


def _activity(rng, n_users, n_ratings, n_items, minimum=20):
    """Ratings per user: at least ``minimum``, long-tailed, summing to ``n_ratings``."""
    extra = rng.lognormal(mean=0.0, sigma=1.1, size=n_users)
    extra = extra / extra.sum() * (n_ratings - minimum * n_users)
    counts = np.minimum(minimum + np.floor(extra).astype(int), int(0.45 * n_items))
    shortfall = n_ratings - counts.sum()
    while shortfall > 0:  # hand out what rounding and capping took away
        room = np.flatnonzero(counts < int(0.45 * n_items))
        chosen = rng.choice(room, size=min(shortfall, len(room)), replace=False)
        counts[chosen] += 1
        shortfall = n_ratings - counts.sum()
    return counts


def _timestamps(rng, n):
    """Times of one user's ``n`` ratings: a few sessions, many in the same second."""
    start = rng.integers(FIRST_SECOND, LAST_SECOND - 86_400)
    span = min(LAST_SECOND - start, int(rng.exponential(40 * 86_400)) + 3_600)
    n_sessions = 1 + rng.poisson(n / 25)
    session_start = np.sort(start + rng.integers(0, span, size=n_sessions))
    session = np.sort(rng.integers(0, n_sessions, size=n))
    gaps = np.where(rng.random(n) < 0.5, 0, rng.exponential(40, size=n).astype(int) + 1)
    within = np.zeros(n, dtype=np.int64)
    for s in range(n_sessions):
        members = np.flatnonzero(session == s)
        within[members] = np.cumsum(gaps[members]) - gaps[members[0]] if len(members) else 0
    return np.minimum(session_start[session] + within, LAST_SECOND)


def _drift_order(rng, factors, noise=0.5):
    """An order of a user's items in which taste drifts: by q_i · d_u + noise, d_u random.

    ``factors`` (n, K) are the item factors q_i; returns a permutation of 0..n-1.
    """
    direction = rng.normal(0, 1, factors.shape[1])
    position = factors @ direction
    return np.argsort(position + noise * position.std() * rng.normal(size=len(position)), kind="stable")


def make_ratings(seed: int = 0, n_users: int = 943, n_items: int = 1682, n_ratings: int = 100_000,
                 n_factors: int = 8, noise: float = 0.5):
    """Draw ratings and the truth behind them.

    Returns:
        ``(ratings, truth)``: ``ratings`` has columns user, item, rating,
        timestamp in a shuffled row order (as ``u.data``); ``truth`` holds
        ``mu``, ``user_bias`` (n_users,), ``item_bias`` (n_items,),
        ``user_factors`` (n_users, K), ``item_factors`` (n_items, K), and
        ``popularity`` (n_items,), the exposure weights.

    Raises:
        TypeError: a size or ``seed`` that is not an integer.
        ValueError: ``seed`` < 0, a size < 1, ``noise`` negative or not
            finite, or ``n_ratings`` outside [20·n_users, ⌊0.45·n_items⌋·n_users]
            (every user rates at least 20 items and at most 45 % of them).
    """
    check_int_in_range("seed", seed, 0)
    n_users, n_items, n_factors = (check_size(name, value) for name, value in
                                   (("n_users", n_users), ("n_items", n_items), ("n_factors", n_factors)))
    check_positive("noise", noise, allow_zero=True)
    # every user rates at least 20 items and at most 45 % of the catalogue
    check_int_in_range("n_ratings", n_ratings, 20 * n_users, int(0.45 * n_items) * n_users + 1)
    rng = np.random.default_rng(seed)
    scale = 1 / np.sqrt(n_factors)
    truth = {
        "mu": 3.53,
        "user_bias": rng.normal(0, 0.35, n_users),
        "item_bias": rng.normal(0, 0.45, n_items),
        "user_factors": rng.normal(0, 1, (n_users, n_factors)) * scale,
        "item_factors": rng.normal(0, 1, (n_items, n_factors)) * scale,
        "popularity": rng.permutation(1.0 / np.arange(1, n_items + 1) ** 0.95),
    }
    affinity = truth["user_factors"] @ truth["item_factors"].T  # (n_users, n_items)
    # Which items a user rates: top-n of log-popularity + taste + Gumbel noise
    # (0.75 tempers the head: the most-rated film reaches about 830 of 943 users).
    keys = (0.75 * np.log(truth["popularity"]) + 0.15 * truth["item_bias"]) + 1.5 * affinity
    keys = keys + rng.gumbel(size=keys.shape)
    counts = _activity(rng, n_users, n_ratings, n_items)
    users, items, times = [], [], []
    for u, n in enumerate(counts):
        chosen = np.argpartition(-keys[u], n - 1)[:n]
        users.append(np.full(n, u))
        items.append(chosen[_drift_order(rng, truth["item_factors"][chosen])])
        times.append(_timestamps(rng, n))
    user, item = np.concatenate(users), np.concatenate(items)
    latent = (truth["mu"] + truth["user_bias"][user] + truth["item_bias"][item]
              + np.einsum("nk,nk->n", truth["user_factors"][user], truth["item_factors"][item])
              + rng.normal(0, noise, len(user)))
    cuts = np.quantile(latent, np.cumsum(RATING_SHARES)[:-1])
    rating = 1 + np.searchsorted(cuts, latent)
    frame = pd.DataFrame({"user": user, "item": item, "rating": rating, "timestamp": np.concatenate(times)})
    frame = frame.astype(np.int64).iloc[rng.permutation(len(frame))].reset_index(drop=True)
    return frame, truth


def make_items(rng, item_factors, genres):
    """Titles, years and genre flags; genres correlate with the item factors.

    A title names the item's genres (most likely first), a running number
    within that combination and the year: ``"Comedy/Romance #3 (1996)"``.
    """
    check_features("item_factors", item_factors, meaning="(n_items, K) item factors")
    if not isinstance(genres, (tuple, list)) or not genres or not all(isinstance(g, str) for g in genres):
        raise TypeError(f"`genres` must be a non-empty tuple of genre names; got {describe(genres)}.")
    n_items, n_factors = item_factors.shape
    n_genres = len(genres)
    loading = rng.normal(0, 1, (n_factors, n_genres))
    prior = GENRE_COUNTS if n_genres == len(GENRE_COUNTS) else np.ones(n_genres)
    logits = item_factors @ loading * 2.0 + np.log(prior / prior.sum())
    flags = np.zeros((n_items, n_genres), bool)
    n_flags = rng.choice([1, 2, 3], size=n_items, p=[0.45, 0.38, 0.17])
    names, running = [], {}
    for i in range(n_items):
        p = np.exp(logits[i] - logits[i].max())
        drawn = rng.choice(n_genres, size=n_flags[i], replace=False, p=p / p.sum())
        flags[i, drawn] = True
        label = "/".join(genres[g] for g in sorted(drawn, key=lambda g: -logits[i, g]))
        running[label] = running.get(label, 0) + 1
        names.append(f"{label} #{running[label]}")
    year = np.clip(1998 - np.floor(rng.exponential(6, n_items)).astype(int), 1922, 1998)
    return pd.DataFrame({"title": [f"{name} ({y})" for name, y in zip(names, year)], "year": year.astype("float64"),
                         "release_date": pd.to_datetime([f"{y}-01-01" for y in year]),
                         **dict(zip(genres, flags.T))}).rename_axis("item")


def make_users(rng, n_users):
    """Age, gender, occupation and zip code, with ML-100K-like shares."""
    n_users = check_size("n_users", n_users)
    return pd.DataFrame({
        "age": np.clip(rng.normal(34, 12, n_users).round().astype(int), 7, 73),
        "gender": np.where(rng.random(n_users) < 0.71, "M", "F"),
        "occupation": rng.choice(OCCUPATIONS, size=n_users),
        "zip": [f"{z:05d}" for z in rng.integers(0, 100_000, n_users)],
    }).rename_axis("user")


def movielens_like(seed: int = 0, n_users: int = 943, n_items: int = 1682,
                   n_ratings: int = 100_000) -> MovieLens:
    """A :class:`~recsys_lite.data.MovieLens` of synthetic data, ``truth`` attached.

    The result has ``synthetic=True``, the canonical splits rebuilt by
    :func:`recsys_lite.data.canonical_splits`, and the generating parameters
    in ``dataset.truth`` (see :func:`make_ratings`).

    Raises:
        TypeError, ValueError: as :func:`make_ratings`.
    """
    ratings, truth = make_ratings(seed, n_users, n_items, n_ratings)
    rng = np.random.default_rng([seed, 1])
    return MovieLens("ml-100k", ratings, make_items(rng, truth["item_factors"], GENRES), make_users(rng, n_users),
                     canonical_splits(ratings), GENRES, f"synthetic stand-in (recsys_lite.synthetic, seed={seed})",
                     synthetic=True, truth=truth)
