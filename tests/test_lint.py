"""ruff (pinned in requirements.txt, configured in pyproject.toml) finds nothing in the code we ship and test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ["recsys_lite", "tests", "benchmarks", "book/_ext", "book/pdf.py"]


def test_ruff_finds_nothing():
    try:
        import ruff  # noqa: F401
    except ImportError as error:
        raise AssertionError("ruff is not installed: pip install -r requirements.txt") from error
    ruff = [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise"]
    result = subprocess.run([*ruff, *CHECKED], cwd=ROOT, capture_output=True, text=True)
    command = f"ruff check {' '.join(CHECKED)}"
    assert result.returncode == 0, f"{command} (most are fixed by {command} --fix):\n{result.stdout}{result.stderr}"
