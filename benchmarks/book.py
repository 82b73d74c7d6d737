"""Time the book: a clean build from scratch, its phases, and each chapter's execution.

    .venv/bin/python benchmarks/book.py              # one clean build (two notebooks at a time) in a temp dir
    .venv/bin/python benchmarks/book.py --jobs 1 2   # a serial clean build, then a parallel one
    .venv/bin/python benchmarks/book.py --keep DIR   # ... and keep the (last) build in DIR

Each build goes into a new output folder, so nothing comes from the execution
cache or from the build's JAX compilation cache (book/_ext/recsys_lite_book.py
scopes that cache to the build folder: a clean build starts cold). The wall
time is split by the build's own log into start-up, reading (myst-nb executes
every notebook while Sphinx reads it) and rendering (Sphinx's resolving and
writing of the HTML pages, after the environment is pickled). Each notebook's
execution time comes from the build's jupyter-cache records; when two
notebooks run at a time it is the wall time of a notebook sharing the
machine with another one. Prints Markdown tables for benchmarks/RESULTS.md.
The budgets (the issue's targets on this 2-core CPU): 90 s per chapter, 300 s
for the whole clean build, execution and rendering together.
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
CHAPTER_BUDGET_SECONDS = 90
BUILD_BUDGET_SECONDS = 300
# Sphinx's log: "updating environment" just before it reads (and myst-nb executes) the pages — with
# workers, "reading sources..." only appears as each one finishes — and "pickling environment" once every
# page has been read, before resolving and writing.
READING_STARTS = "updating environment"
RENDERING_STARTS = "pickling environment"


def budget(chapter: str) -> int:
    return CHAPTER_BUDGET_SECONDS


def build(output: Path, jobs: int) -> dict[str, float]:
    """Build the book into ``output`` with ``jobs`` worker processes; the wall time of each phase, in seconds."""
    env = dict(os.environ, RECSYS_LITE_BOOK_JOBS=str(jobs))
    env.pop("RECSYS_LITE_JAX_CACHE", None)  # a clean build: its own compilation cache, starting empty
    command = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT), "--path-output", str(output)]
    start = time.perf_counter()
    timed = []
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        for line in proc.stdout:
            timed.append((time.perf_counter() - start, line))
    total = time.perf_counter() - start
    if proc.returncode:
        sys.exit(f"the build failed (exit {proc.returncode}):\n{''.join(line for _, line in timed[-40:])}")
    return phases(timed, total)


def phases(timed: list[tuple[float, str]], total: float) -> dict[str, float]:
    """Start-up, reading and rendering from the build's log lines, each with its time since the start."""
    def first(text: str, default: float) -> float:
        return next((t for t, line in timed if text in line), default)

    reading = first(READING_STARTS, 0.0)
    rendering = max(first(RENDERING_STARTS, total), reading)
    return {"start-up": reading, "reading (executing the notebooks)": rendering - reading,
            "rendering (resolving and writing the pages)": total - rendering, "whole build": total}


def chapter_times(output: Path) -> dict[str, float]:
    from jupyter_cache import get_cache

    cache = get_cache(output / "_build" / ".jupyter_cache")
    return {Path(r.uri).name: r.data.get("execution_seconds", float("nan")) for r in cache.list_cache_records()}


def jax_cache_entries(output: Path) -> int:
    folder = output / "_build" / ".jax_cache"
    return sum(1 for path in folder.iterdir() if path.is_file()) if folder.is_dir() else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", type=Path, help="build into this folder instead of a temporary one")
    parser.add_argument("--jobs", type=int, nargs="+", default=[2],
                        help="notebooks executed at a time; several values build once each, in turn (default: 2)")
    args = parser.parse_args()
    if any(j < 1 for j in args.jobs):
        parser.error(f"--jobs must be whole numbers >= 1; got {args.jobs}")
    phases, chapters, entries = {}, {}, {}
    for jobs in args.jobs:
        with tempfile.TemporaryDirectory() as tmp:
            output = args.keep if args.keep and jobs == args.jobs[-1] else Path(tmp)
            phases[jobs] = build(output, jobs)
            chapters[jobs] = chapter_times(output)
            entries[jobs] = jax_cache_entries(output)
    data = os.environ.get("RECSYS_LITE_DATA", "(unset: cache, download or synthetic fallback)")
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"RECSYS_LITE_DATA={data}\n")
    label = {j: "serial" if j == 1 else f"{j} at a time" for j in args.jobs}
    print("| chapter | " + " | ".join(f"execution (s), {label[j]}" for j in args.jobs) + " | budget (s) | within |")
    print("|---|" + "---:|" * len(args.jobs) + "---:|:---:|")
    for name in sorted(chapters[args.jobs[0]]):
        seconds = [chapters[j].get(name, float("nan")) for j in args.jobs]
        within = all(s <= budget(name) for s in seconds)
        print(f"| {name} | " + " | ".join(f"{s:.1f}" for s in seconds)
              + f" | {budget(name)} | {'yes' if within else '**no**'} |")
    print("| sum of the chapters | " + " | ".join(f"{sum(chapters[j].values()):.1f}" for j in args.jobs) + " | | |")
    print()
    print("| clean build, wall time (s) | " + " | ".join(label[j] for j in args.jobs) + " | budget (s) |")
    print("|---|" + "---:|" * len(args.jobs) + "---:|")
    for phase in phases[args.jobs[0]]:
        whole = phase == "whole build"
        cells = " | ".join(f"**{phases[j][phase]:.1f}**" if whole else f"{phases[j][phase]:.1f}" for j in args.jobs)
        print(f"| {'**whole build**' if whole else phase} | {cells} | {BUILD_BUDGET_SECONDS if whole else ''} |")
    print("| JAX compilation cache entries written | " + " | ".join(str(entries[j]) for j in args.jobs) + " | |")
    for j in args.jobs:
        verdict = "within" if phases[j]["whole build"] <= BUILD_BUDGET_SECONDS else "over"
        print(f"\n{label[j]}: whole clean build {phases[j]['whole build']:.1f} s, {verdict} the "
              f"{BUILD_BUDGET_SECONDS} s budget; slowest chapter {max(chapters[j].values()):.1f} s "
              f"(budget {CHAPTER_BUDGET_SECONDS} s).")


if __name__ == "__main__":
    main()
