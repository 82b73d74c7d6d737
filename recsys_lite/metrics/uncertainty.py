"""Uncertainty: the bootstrap over users, and when a difference counts.

A difference between two models on the same test users is judged with the
users as the unit of resampling (the bootstrap): draw n users with
replacement, recompute both statistics on that sample, repeat B times; the
standard deviation of the B differences is the difference's standard error
(s.e.). :func:`bootstrap_difference` gives the difference and its s.e.,
:func:`bootstrap_se` one model's s.e., :func:`bootstrap_interval` one
model's percentile interval, and :meth:`Difference.direction` (or
:meth:`Difference.verdict`, in words) the verdict: a difference counts only
beyond z = 2 standard errors, i.e. when 0 lies outside
:meth:`Difference.interval`. With the same rows and ``seed`` all of them
draw the same resamples. The tables of :mod:`~recsys_lite.metrics.compare`
put these together for several models.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from recsys_lite._checks import (
    as_array,
    check_finite,
    check_flag,
    check_ids,
    check_int_in_range,
    check_ndim,
    check_nonempty,
    check_number,
    check_positive,
    check_same_shape,
    check_size,
    check_str,
)

__all__ = ["Difference", "bootstrap_difference", "bootstrap_se", "bootstrap_interval"]


class Difference(NamedTuple):
    """A difference between two models' statistics and its bootstrap standard error."""

    estimate: float  # statistic(a) − statistic(b) on the data as it is
    se: float        # standard deviation of the difference over the bootstrap resamples

    def direction(self, z: float = 2.0) -> int:
        """+1 if ``estimate`` ≥ z·s.e., −1 if ≤ −z·s.e., else 0 (within noise)."""
        if abs(self.estimate) >= z * self.se and self.estimate != 0:
            return 1 if self.estimate > 0 else -1
        return 0

    def interval(self, z: float = 2.0) -> tuple[float, float]:
        """(estimate − z·s.e., estimate + z·s.e.): :meth:`direction` is 0 exactly when 0 lies strictly inside it.

        Raises ``TypeError``/``ValueError`` unless ``z`` is a finite number > 0.
        """
        check_positive("z", z)
        return float(self.estimate - z * self.se), float(self.estimate + z * self.se)

    def verdict(self, above: str = "above", same: str = "within noise of", below: str = "below", *,
                z: float = 2.0) -> str:
        """The words for :meth:`direction`: ``above`` for +1, ``same`` for 0, ``below`` for −1.

        For a sentence computed, not typed: ``f"MF is {d.verdict('better than', 'level with', 'worse than')}
        popularity"``. Raises ``TypeError`` for words that are not strings or a ``z`` that is not a
        number, ``ValueError`` for ``z`` ≤ 0. The book's chapters glue ``recsys_lite.verdict_word(d.direction())``,
        the same default words in both languages.
        """
        for name, word in (("above", above), ("same", same), ("below", below)):
            check_str(name, word)
        check_positive("z", z)
        return {1: above, 0: same, -1: below}[self.direction(z)]


def _group_sums(name: str, values, groups) -> tuple[np.ndarray, np.ndarray]:
    """Per-group sums of ``values`` and group sizes (each row its own group when ``groups`` is None)."""
    values = np.asarray(as_array(name, values), np.float64)
    check_ndim(name, values, 1, "one value per row")
    check_nonempty(name, values, "value")
    check_finite(name, values)
    if groups is None:
        return values, np.ones(len(values))
    groups = np.asarray(as_array("groups", groups))
    check_same_shape(name, values, "groups", groups)
    _, index = np.unique(check_ids("groups", groups, None, "groups"), return_inverse=True)
    return np.bincount(index, values), np.bincount(index).astype(np.float64)


def _resampling_weights(n: int, resamples: int, rng) -> np.ndarray:
    """(resamples, n) counts w_g: how often each of n groups is drawn when n are drawn with replacement."""
    return rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(np.float64)


def _check_bootstrap(sqrt, resamples, seed) -> int:
    check_flag("sqrt", sqrt)
    check_int_in_range("seed", seed, 0)
    resamples = check_size("resamples", resamples)
    if resamples < 2:
        raise ValueError(f"`resamples` must be at least 2 to estimate a spread; got {resamples}.")
    return resamples


def bootstrap_difference(a, b, *, groups=None, paired: bool = True, sqrt: bool = False,
                         resamples: int = 200, seed: int = 0) -> Difference:
    """statistic(a) − statistic(b), with its standard error from resampling users.

    The statistic is the mean of the per-row values (``sqrt=True``: the
    square root of the mean, i.e. RMSE when the rows hold squared errors).
    Each resample draws the groups (users) with replacement: group g drawn
    w_g times weighs its rows w_g times, so the statistic of a resample is
    Σ_g w_g S_g / Σ_g w_g n_g (S_g the sum of group g's values, n_g its rows).

    Args:
        a, b: per-row values, shape (m,) — e.g. :func:`per_user` values, or
            squared errors ``(r̂ − r)²`` of each test rating.
        groups: (m,) integer group (user) ids of the rows; ``None``: each row
            is its own group (one row per user).
        paired: ``True`` when ``a`` and ``b`` are the same rows scored by two
            models (the same users are drawn for both, which removes the users'
            own variation from the difference); ``False`` for two different
            sets of rows (e.g. two groups of users), drawn independently.
        sqrt: compare square roots of the means (RMSE from squared errors).
        resamples: B, the number of bootstrap resamples.
        seed: the seed of the draws (numpy's ``default_rng``).

    Returns:
        :class:`Difference` ``(estimate, se)``.

    Raises:
        ValueError: shapes that differ when ``paired``; ``groups`` with ``paired=False``; ``resamples`` < 2.
    """
    check_flag("paired", paired)
    resamples = _check_bootstrap(sqrt, resamples, seed)
    if groups is not None and not paired:
        raise ValueError("`groups` needs `paired=True`: the rows of a and b must belong to the same users.")
    sums_a, sizes_a = _group_sums("a", a, groups)
    sums_b, sizes_b = _group_sums("b", b, groups)
    if paired:
        check_same_shape("a", np.asarray(a), "b", np.asarray(b))
    rng = np.random.default_rng(seed)
    weights_a = _resampling_weights(len(sums_a), resamples, rng)
    weights_b = weights_a if paired else _resampling_weights(len(sums_b), resamples, rng)
    finish = np.sqrt if sqrt else (lambda x: x)
    boot = finish(weights_a @ sums_a / (weights_a @ sizes_a)) - finish(weights_b @ sums_b / (weights_b @ sizes_b))
    estimate = finish(sums_a.sum() / sizes_a.sum()) - finish(sums_b.sum() / sizes_b.sum())
    return Difference(float(estimate), float(np.std(boot)))


def _bootstrap_statistics(values, groups, sqrt, resamples, seed) -> tuple[float, np.ndarray]:
    """The statistic on the data and its (resamples,) bootstrap replicates (the draws of bootstrap_difference)."""
    resamples = _check_bootstrap(sqrt, resamples, seed)
    sums, sizes = _group_sums("values", values, groups)
    weights = _resampling_weights(len(sums), resamples, np.random.default_rng(seed))
    finish = np.sqrt if sqrt else (lambda x: x)
    return float(finish(sums.sum() / sizes.sum())), finish(weights @ sums / (weights @ sizes))


def bootstrap_se(values, *, groups=None, sqrt: bool = False, resamples: int = 200, seed: int = 0) -> float:
    """The standard error of one statistic (the mean of ``values``, or its square root) from resampling users.

    Arguments and errors as in :func:`bootstrap_difference`; with the same
    ``seed`` and the same rows, the two draw the same resamples.
    """
    return float(np.std(_bootstrap_statistics(values, groups, sqrt, resamples, seed)[1]))


def bootstrap_interval(values, *, groups=None, sqrt: bool = False, level: float = 0.95, resamples: int = 1000,
                       seed: int = 0) -> tuple[float, float]:
    """The bootstrap percentile interval of one statistic (the mean of ``values``, or its square root).

    The B resampled statistics θ*_1 … θ*_B are drawn as in :func:`bootstrap_se`
    (the same resamples for the same rows and ``seed``); the interval is
    (the (1 − level)/2 quantile, the (1 + level)/2 quantile) of them, numpy's
    linear interpolation between order statistics.

    Args:
        values: (m,) per-row values (e.g. :func:`per_user` NDCG@10, or squared errors).
        groups: (m,) integer user ids of the rows; ``None``: one row per user.
        sqrt: the interval of √mean (RMSE from squared errors).
        level: the coverage, in (0, 1); 0.95 by default.
        resamples: B; seed: numpy's ``default_rng`` seed.

    Returns:
        ``(low, high)`` as floats.

    Raises:
        ``TypeError``/``ValueError`` as :func:`bootstrap_difference`, and for a ``level`` not in (0, 1).
    """
    check_number("level", level)
    if not 0.0 < float(level) < 1.0:
        raise ValueError(f"`level` must be in (0, 1), the coverage of the interval, e.g. 0.95; got {level!r}.")
    _, boot = _bootstrap_statistics(values, groups, sqrt, resamples, seed)
    low, high = np.percentile(boot, [50.0 * (1.0 - level), 50.0 * (1.0 + level)])
    return float(low), float(high)
