"""benchmarks/mf_race.py (MF by ALS against Surprise SVD) runs end to end on a tiny configuration."""

from __future__ import annotations

import pytest
from test_benchmarks import _run

pytest.importorskip("surprise", reason="the `bench` extra is not installed (pip install -e '.[bench]')")


def test_surprise_race_runs():
    out = _run("mf_race.py")
    assert "Surprise SVD's validation RMSE, the target:" in out
    assert "| Surprise SVD (defaults) |" in out and "| recsys_lite MF, ALS (K = " in out
    assert "target met" in out or "target missed" in out
