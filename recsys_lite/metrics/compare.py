"""Tables that compare models: each statistic with its interval, each difference with its verdict.

The chapters' comparison tables are built here from per-row values of
several models on the SAME rows (the same test users, or the same test
ratings): :func:`summarise` gives each model's statistic and its bootstrap
percentile interval, :func:`compare` each requested difference with its
paired bootstrap s.e., the interval estimate ± z·s.e. and the verdict (+1, 0
or −1, as :meth:`~recsys_lite.metrics.uncertainty.Difference.direction`).
Every row uses the same ``seed``, so every model and pair is judged on the
same resamples of users.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from recsys_lite._checks import check_positive, describe
from recsys_lite.metrics.uncertainty import bootstrap_difference, bootstrap_interval

__all__ = ["compare", "summarise"]

MINUS = "\u2212"  # the row label of a difference, "a − b"


def _check_values(values) -> dict:
    """``values`` as a dict {name: array}, after checking it is a non-empty mapping with string keys."""
    if not isinstance(values, Mapping):
        raise TypeError(f"`values` must be a mapping from model names to per-row values, e.g. "
                        f"{{'MF': ndcg_mf, 'popularity': ndcg_pop}}; got {describe(values)}.")
    if not values:
        raise ValueError("`values` must hold at least one model; got an empty mapping.")
    bad = [name for name in values if not isinstance(name, str)]
    if bad:
        raise TypeError(f"`values` must have string keys (model names); got the key {bad[0]!r}.")
    return dict(values)


def compare(values: Mapping, pairs: Sequence, *, groups=None, sqrt: bool = False, z: float = 2.0,
            resamples: int = 1000, seed: int = 0) -> pd.DataFrame:
    """One row per pair (a, b): statistic(a) − statistic(b), its paired bootstrap s.e. and verdict.

    For pair (a, b), with d = statistic(values[a]) − statistic(values[b]) and
    s its s.e. from :func:`~recsys_lite.metrics.bootstrap_difference`
    (``paired=True``): ``difference`` d, ``s.e.`` s, ``low`` d − z·s,
    ``high`` d + z·s, ``verdict`` +1 (a above b), 0 (within noise) or −1.

    Args:
        values: {model name: (m,) per-row values}, every array the same rows.
        pairs: a sequence of (a, b) name pairs, e.g. ``[("EASE", "popularity")]``.
        groups: (m,) user ids of the rows (``None``: one row per user).
        sqrt: compare √mean (RMSE from squared errors).
        z: the verdict's threshold in standard errors (2 by default).
        resamples, seed: as :func:`~recsys_lite.metrics.bootstrap_difference`.

    Returns:
        A DataFrame indexed by ``"a − b"`` with columns ``difference``, ``s.e.``,
        ``low``, ``high`` (floats) and ``verdict`` (int).

    Raises:
        TypeError/ValueError: ``values`` not a non-empty mapping with string keys;
        ``pairs`` not a non-empty sequence of pairs of names in ``values``; a
        ``z`` not > 0; and the errors of :func:`bootstrap_difference`.
    """
    values = _check_values(values)
    check_positive("z", z)
    if isinstance(pairs, (str, bytes, Mapping)) or not isinstance(pairs, Sequence) or not pairs:
        raise TypeError(f"`pairs` must be a non-empty sequence of (a, b) name pairs, e.g. "
                        f"[('EASE', 'popularity')]; got {describe(pairs)}.")
    rows = {}
    for k, pair in enumerate(pairs):
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise TypeError(f"`pairs[{k}]` must be a pair (a, b) of model names; got {describe(pair)}.")
        for name in pair:
            if name not in values:
                raise ValueError(f"`pairs[{k}]` names {name!r}, which is not in `values`; "
                                 f"expected one of {sorted(values)}.")
        a, b = pair
        diff = bootstrap_difference(values[a], values[b], groups=groups, sqrt=sqrt, resamples=resamples, seed=seed)
        low, high = diff.interval(z)
        rows[f"{a} {MINUS} {b}"] = {"difference": diff.estimate, "s.e.": diff.se, "low": low, "high": high,
                                    "verdict": diff.direction(z)}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "comparison"
    return table.astype({"verdict": int})


def summarise(values: Mapping, *, groups=None, sqrt: bool = False, level: float = 0.95, resamples: int = 1000,
              seed: int = 0) -> pd.DataFrame:
    """One row per model: its statistic (the mean of its values, or √mean) and the bootstrap percentile interval.

    Args:
        values: {model name: (m,) per-row values}; e.g. per-user NDCG@10, or
            squared errors of the test ratings with ``sqrt=True`` and
            ``groups=`` the users of the rows for RMSE.
        groups, sqrt, level, resamples, seed: as :func:`~recsys_lite.metrics.bootstrap_interval`.

    Returns:
        A DataFrame indexed by model name (``model``) with columns ``value``, ``low``, ``high``.

    Raises:
        TypeError/ValueError: ``values`` not a non-empty mapping with string keys,
        and the errors of :func:`bootstrap_interval`.
    """
    values = _check_values(values)
    rows = {}
    for name, v in values.items():
        low, high = bootstrap_interval(v, groups=groups, sqrt=sqrt, level=level, resamples=resamples, seed=seed)
        value = np.asarray(v, np.float64).mean()  # Σ values / rows: the statistic bootstrap_interval resamples
        rows[name] = {"value": float(np.sqrt(value) if sqrt else value), "low": low, "high": high}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "model"
    return table
