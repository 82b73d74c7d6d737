"""Time the book: a clean build from scratch, and each chapter's execution.

    .venv/bin/python benchmarks/book.py            # fresh build in a temp dir
    .venv/bin/python benchmarks/book.py --keep DIR # ... and keep it in DIR

Builds the whole book into a new output folder (so nothing comes from the
execution cache), then reads each notebook's execution time from the build's
own jupyter-cache records. Prints a Markdown table for benchmarks/RESULTS.md.
The budget is 90 s per chapter on a 2-core CPU, 180 s for chapter 8 (which
trains more than a dozen models).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUDGET_SECONDS = 90
BUDGET_EXCEPTIONS = {"08_a_complete_recommender.ipynb": 180}


def budget(chapter: str) -> int:
    return BUDGET_EXCEPTIONS.get(chapter, BUDGET_SECONDS)


def build(output: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT), "--path-output", str(output)],
        check=True, stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def chapter_times(output: Path) -> dict[str, float]:
    from jupyter_cache import get_cache

    cache = get_cache(output / "_build" / ".jupyter_cache")
    return {Path(r.uri).name: r.data.get("execution_seconds", float("nan")) for r in cache.list_cache_records()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", type=Path, help="build into this folder instead of a temporary one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        output = args.keep or Path(tmp)
        total = build(output)
        times = chapter_times(output)
    data = os.environ.get("RECSYS_LITE_DATA", "(unset: cache, download or synthetic fallback)")
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"RECSYS_LITE_DATA={data}\n")
    print("| chapter | execution (s) | budget (s) | within |")
    print("|---|---:|---:|:---:|")
    for name, seconds in sorted(times.items()):
        print(f"| {name} | {seconds:.1f} | {budget(name)} | {'yes' if seconds <= budget(name) else '**no**'} |")
    print(f"| **whole build** (clean, all chapters executed) | {total:.1f} | | |")


if __name__ == "__main__":
    main()
