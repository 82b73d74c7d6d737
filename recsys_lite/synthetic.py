"""The seeded, MovieLens-shaped stand-in with a known ground truth: see :mod:`recsys_lite.data.synthetic`.

It lives in the data package, below the loader that falls back to it; this is its public name.
"""

from recsys_lite.data.synthetic import make_items, make_ratings, make_users, movielens_like

__all__ = ["movielens_like", "make_ratings", "make_items", "make_users"]
