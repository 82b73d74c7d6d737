"""The benchmark scripts run end to end on a tiny configuration (their numbers are not checked here)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import ROOT, TEST_XLA_FLAGS, _data_root

pytest.importorskip("flax", reason="the `bench` extra is not installed (pip install -e '.[bench]')")
pytest.importorskip("surprise", reason="the `bench` extra is not installed (pip install -e '.[bench]')")
pytest.importorskip("implicit", reason="the `bench` extra is not installed (pip install -e '.[bench]')")


def _run(script: str) -> str:
    env = dict(os.environ)
    if TEST_XLA_FLAGS:  # the level conftest.py set: the benchmark runs at XLA's default, as `make bench` does
        env["XLA_FLAGS"] = env["XLA_FLAGS"].replace(TEST_XLA_FLAGS, "").strip()
    root = _data_root()
    if root is not None:
        env["RECSYS_LITE_DATA"] = str(root)
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--tiny"], env=env,
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_speed_benchmark_runs():
    out = _run("speed.py")
    for model in ("biased MF", "Caser", "GRU4Rec", "GRU recurrence alone"):
        assert f"| {model}" in out
    assert "ratio to Flax's faster" in out and "Surprise" not in out   # the race is benchmarks/mf_race.py's


def test_compile_level_benchmark_runs():
    out = _run("compile_level.py")
    for model in ("biased MF", "Caser", "GRU4Rec", "hybrid"):
        assert f"| {model}" in out
    assert "compile ratio 1/2" in out and "epoch ratio 1/2" in out


def test_quality_benchmark_runs():
    out = _run("quality.py")
    for model in ("user + item biases", "biased MF (recsys_lite)", "Surprise SVD++", "popularity",
                  "NeuMF (recsys_lite)", "Caser (recsys_lite)", "GRU4Rec (recsys_lite)", "implicit ALS"):
        assert f"| {model} |" in out
    assert out.count("| hybrid (recsys_lite) |") == 2  # chapter 8's model, in both tables
