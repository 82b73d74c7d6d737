"""The synthetic stand-in keeps the pages meaningful: titles say what a film is, order carries taste."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_lite import data, synthetic


@pytest.fixture(scope="module")
def stand_in():
    return synthetic.movielens_like(0)


def test_titles_name_the_films_genres_and_year(stand_in):
    items = stand_in.items
    assert items["title"].is_unique
    for item in range(0, stand_in.n_items, 97):
        title = items["title"].iloc[item]
        named, year = title.rsplit(" #", 1)[0].split("/"), int(title[-5:-1])
        assert set(named) == {genre for genre in data.GENRES if items[genre].iloc[item]}, title
        assert year == items["year"].iloc[item], title


def test_genre_shares_resemble_movielens(stand_in):
    shares = stand_in.items[list(data.GENRES)].mean(axis=0)
    assert shares.idxmax() == "Drama" and shares["unknown"] < 0.02


def test_consecutive_items_resemble_each_other_more_than_shuffled_ones(stand_in):
    """The taste drift: in time order, neighbouring items share more of the latent factors."""
    items, lengths = data.user_sequences(stand_in.ratings, stand_in.n_users, stand_in.n_items)
    q = stand_in.truth["item_factors"]
    rng = np.random.default_rng(0)
    ordered, shuffled = [], []
    for u in range(stand_in.n_users):
        seq = items[u, :lengths[u]]
        ordered.append(np.mean(np.sum(q[seq[1:]] * q[seq[:-1]], axis=1)))
        seq = rng.permutation(seq)
        shuffled.append(np.mean(np.sum(q[seq[1:]] * q[seq[:-1]], axis=1)))
    assert np.mean(ordered) > 3 * np.mean(shuffled) > 0


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(seed=-1), ValueError, "`seed`"),
    (dict(seed=1.5), TypeError, "`seed`"),
    (dict(n_users=0), ValueError, "`n_users`"),
    (dict(n_users=2.5), TypeError, "`n_users`"),
    (dict(n_items=0), ValueError, "`n_items`"),
    (dict(n_factors=0), ValueError, "`n_factors`"),
    (dict(noise=float("nan")), ValueError, "`noise`"),
    (dict(noise=-1.0), ValueError, "`noise`"),
    (dict(n_ratings=10), ValueError, "`n_ratings`"),
])
def test_the_generator_names_a_bad_argument(kwargs, error, words):
    arguments = dict(seed=0, n_users=30, n_items=100, n_ratings=700) | kwargs
    with pytest.raises(error, match=words):
        synthetic.make_ratings(**arguments)


def test_item_and_user_tables_name_a_bad_argument():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="`item_factors`"):
        synthetic.make_items(rng, np.ones(5), data.GENRES)
    with pytest.raises(TypeError, match="`genres`"):
        synthetic.make_items(rng, np.ones((5, 2)), "Drama")
    with pytest.raises(ValueError, match="`n_users`"):
        synthetic.make_users(rng, -1)
