"""Intervals, verdicts and comparison tables: metrics.bootstrap_interval, Difference.interval/verdict,
metrics.compare and metrics.summarise, against explicit resampling loops written here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_lite import metrics


def _explicit_resamples(values, groups, resamples, seed, sqrt=False):
    """Rebuild each resample's rows user by user (the definition) and take the statistic."""
    values, groups = np.asarray(values, float), np.asarray(groups)
    ids = np.unique(groups)
    draws = np.random.default_rng(seed).multinomial(len(ids), np.full(len(ids), 1 / len(ids)), size=resamples)
    out = []
    for counts in draws:
        rows = np.concatenate([np.repeat(np.flatnonzero(groups == u), c) for u, c in zip(ids, counts)])
        mean = values[rows].mean()
        out.append(np.sqrt(mean) if sqrt else mean)
    return np.array(out)


def test_bootstrap_interval_equals_numpy_percentiles_of_a_hand_loop():
    rng = np.random.default_rng(0)
    users = rng.integers(0, 30, 400)
    err = rng.normal(0, 1, 400) ** 2
    for sqrt in (False, True):
        boot = _explicit_resamples(err, users, 300, 4, sqrt)
        low, high = metrics.bootstrap_interval(err, groups=users, sqrt=sqrt, level=0.9, resamples=300, seed=4)
        assert (low, high) == pytest.approx(tuple(np.percentile(boot, [5, 95])), rel=1e-12)
    # one row per user: the groups are the rows
    a = rng.normal(0.5, 1, 200)
    boot = _explicit_resamples(a, np.arange(200), 400, 2)
    assert metrics.bootstrap_interval(a, resamples=400, seed=2) == pytest.approx(
        tuple(np.percentile(boot, [2.5, 97.5])), rel=1e-12)


def test_bootstrap_interval_draws_what_bootstrap_se_draws_and_covers_the_mean():
    rng = np.random.default_rng(1)
    a = rng.normal(0, 1, 3_000)
    low, high = metrics.bootstrap_interval(a, resamples=2_000, seed=3)
    se = metrics.bootstrap_se(a, resamples=2_000, seed=3)
    # a normal mean: the 95% percentile interval is ≈ mean ± 1.96 s.e.
    assert low < a.mean() < high
    assert (high - low) / (2 * 1.96 * se) == pytest.approx(1.0, abs=0.05)


def test_difference_interval_and_verdict_agree_with_direction():
    for estimate, se in [(0.5, 0.1), (-0.5, 0.1), (0.1, 0.1), (0.0, 0.0), (0.2, 0.1), (-0.05, 0.0)]:
        d = metrics.Difference(estimate, se)
        for z in (1.0, 2.0, 3.0):
            low, high = d.interval(z)
            assert (low, high) == pytest.approx((estimate - z * se, estimate + z * se))
            inside = low < 0 < high or estimate == 0
            assert (d.direction(z) == 0) == inside
            assert d.direction(z) in (0, np.sign(estimate))
            assert d.verdict("better", "level", "worse", z=z) == {1: "better", 0: "level", -1: "worse"}[d.direction(z)]
    assert metrics.Difference(1.0, 0.1).verdict() == "above"
    assert metrics.Difference(-1.0, 0.1).verdict() == "below"
    assert metrics.Difference(0.1, 0.1).verdict() == "within noise of"


def test_compare_table_matches_bootstrap_difference_row_by_row():
    rng = np.random.default_rng(5)
    base = rng.random(300)
    values = {"A": base + 0.05, "B": base + rng.normal(0, 0.01, 300), "C": base + 0.3 * rng.normal(0, 1, 300)}
    table = metrics.compare(values, [("A", "B"), ("B", "A"), ("C", "B")], resamples=500, seed=7)
    assert list(table.columns) == ["difference", "s.e.", "low", "high", "verdict"]
    assert list(table.index) == ["A \u2212 B", "B \u2212 A", "C \u2212 B"]
    assert table["verdict"].dtype.kind == "i"
    for (a, b), (_, row) in zip([("A", "B"), ("B", "A"), ("C", "B")], table.iterrows()):
        d = metrics.bootstrap_difference(values[a], values[b], resamples=500, seed=7)
        assert row["difference"] == pytest.approx(d.estimate) and row["s.e."] == pytest.approx(d.se)
        assert (row["low"], row["high"]) == pytest.approx(d.interval(2.0))
        assert row["verdict"] == d.direction(2.0)
    assert list(table["verdict"][:2]) == [1, -1]
    # grouped RMSE: squared errors, the users as groups
    users = rng.integers(0, 20, 300)
    grouped = metrics.compare(values, [("A", "C")], groups=users, sqrt=True, z=3.0, resamples=100, seed=1)
    d = metrics.bootstrap_difference(values["A"], values["C"], groups=users, sqrt=True, resamples=100, seed=1)
    assert grouped.loc["A \u2212 C", "s.e."] == pytest.approx(d.se)
    assert grouped.loc["A \u2212 C", "verdict"] == d.direction(3.0)


def test_summarise_table_matches_bootstrap_interval():
    rng = np.random.default_rng(6)
    users = rng.integers(0, 25, 500)
    values = {"MF": rng.random(500) ** 2, "bias": rng.random(500) ** 2 + 0.1}
    table = metrics.summarise(values, groups=users, sqrt=True, level=0.8, resamples=200, seed=3)
    assert isinstance(table, pd.DataFrame) and list(table.columns) == ["value", "low", "high"]
    assert list(table.index) == ["MF", "bias"] and table.index.name == "model"
    for name, v in values.items():
        assert table.loc[name, "value"] == pytest.approx(np.sqrt(v.mean()))
        assert tuple(table.loc[name, ["low", "high"]]) == pytest.approx(
            metrics.bootstrap_interval(v, groups=users, sqrt=True, level=0.8, resamples=200, seed=3))
        assert table.loc[name, "low"] <= table.loc[name, "value"] <= table.loc[name, "high"]


OK = {"a": [0.1, 0.2, 0.3], "b": [0.2, 0.1, 0.4]}


@pytest.mark.parametrize("call, error, words", [
    (lambda: metrics.bootstrap_interval([0.1, 0.2], level=1.0), ValueError, r"`level` must be in \(0, 1\).*1.0"),
    (lambda: metrics.bootstrap_interval([0.1, 0.2], level=0), ValueError, "`level` must be in"),
    (lambda: metrics.bootstrap_interval([0.1, 0.2], level="95%"), TypeError, "`level` must be a number"),
    (lambda: metrics.bootstrap_interval([0.1, np.nan]), ValueError, "`values` must be finite"),
    (lambda: metrics.bootstrap_interval([]), ValueError, "`values` must hold at least one value"),
    (lambda: metrics.bootstrap_interval([0.1, 0.2], resamples=1), ValueError, "`resamples`"),
    (lambda: metrics.bootstrap_interval([0.1, 0.2], groups=[0]), ValueError, "`values` and `groups`"),
    (lambda: metrics.bootstrap_interval([0.1, 0.2], sqrt=1), TypeError, "`sqrt` must be True or False"),
    (lambda: metrics.Difference(0.1, 0.1).interval(-1.0), ValueError, "`z` must be a finite number > 0; got -1.0"),
    (lambda: metrics.Difference(0.1, 0.1).verdict(1, "b", "c"), TypeError, "`above` must be a string; got int 1"),
    (lambda: metrics.Difference(0.1, 0.1).verdict(z=0), ValueError, "`z` must be a finite number > 0"),
    (lambda: metrics.compare([1, 2], [("a", "b")]), TypeError, "`values` must be a mapping"),
    (lambda: metrics.compare({}, [("a", "b")]), ValueError, "`values` must hold at least one model"),
    (lambda: metrics.compare({1: [0.1]}, [(1, 1)]), TypeError, "`values` must have string keys.*1"),
    (lambda: metrics.compare(OK, "ab"), TypeError, "`pairs` must be a non-empty sequence"),
    (lambda: metrics.compare(OK, []), TypeError, "`pairs` must be a non-empty sequence"),
    (lambda: metrics.compare(OK, [("a", "b", "c")]), TypeError, r"`pairs\[0\]` must be a pair"),
    (lambda: metrics.compare(OK, [("a", "b"), ("a", "z")]), ValueError, r"`pairs\[1\]` names 'z'.*\['a', 'b'\]"),
    (lambda: metrics.compare(OK, [("a", "b")], z=0), ValueError, "`z` must be a finite number > 0"),
    (lambda: metrics.compare({"a": [0.1, 0.2], "b": [0.1]}, [("a", "b")]), ValueError, "same shape"),
    (lambda: metrics.summarise(None), TypeError, "`values` must be a mapping"),
    (lambda: metrics.summarise(OK, level=2), ValueError, "`level` must be in"),
    (lambda: metrics.summarise({"a": [0.1, np.inf]}), ValueError, "`values` must be finite"),
])
def test_new_uncertainty_entry_points_refuse_bad_input(call, error, words):
    with pytest.raises(error, match=words):
        call()
