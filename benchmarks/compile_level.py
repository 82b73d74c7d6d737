"""XLA's backend optimisation level 1 against the default 2: compile time and epoch time, side by side.

    .venv/bin/python benchmarks/compile_level.py            # MovieLens-100K shapes
    .venv/bin/python benchmarks/compile_level.py --tiny     # a seconds-long smoke run (used by the tests)

The book's build compiles at level 1 (``BUILD_XLA_FLAGS`` in book/_ext/recsys_lite_book.py), because
compilation is about half of every chapter's execution time. This checks the trade on the book's own
programs: for each model, ``recsys_lite.train``'s compiled epoch (``run_epoch``: a ``lax.scan`` of Adam
steps over shuffled minibatches, as ``fit`` runs it) is lowered once and compiled at both levels
(``compiler_options``, in one process), and the two executables then run alternating passes over the same
data; each time is the median of the passes. Shapes are MovieLens-100K's (943 users, 1682 films, about
99,000 training rows), the data random: compile and step times do not depend on the values.
"""

from __future__ import annotations

import argparse
import functools
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from recsys_lite import models, optim
from recsys_lite.train.step import run_epoch

LEVELS = (2, 1)


def configs(tiny: bool):
    """(name, model, loss_fn, data, batch size) for the book's four kinds of model."""
    n_users, n_items, rows = (50, 80, 2_000) if tiny else (943, 1682, 99_057)
    d, window, seq = (8, 3, 4) if tiny else (64, 5, 10)
    rng = np.random.default_rng(0)
    key = jax.random.key(0)
    users, items = rng.integers(0, n_users, rows).astype(np.int32), rng.integers(0, n_items, rows).astype(np.int32)
    history = rng.integers(0, n_items + 1, (rows, window)).astype(np.int32)
    user_x, item_x = rng.random((rows, 23)).astype(np.float32), jnp.asarray(rng.random((n_items, 20)), jnp.float32)
    ratings = {"user": users, "item": items, "rating": rng.integers(1, 6, rows).astype(np.float32)}
    sequences = {"history": rng.integers(0, n_items + 1, (rows // 4, seq)).astype(np.int32),
                 "length": rng.integers(1, seq + 1, rows // 4).astype(np.int32),
                 "target": rng.integers(0, n_items, (rows // 4, seq)).astype(np.int32)}
    topn = {"user": users, "history": history, "item": items}
    return [
        ("biased MF (rating loss)", models.BiasedMF.init(key, n_users, n_items, d, mu=3.5),
         functools.partial(models.rating_loss, reg=0.1), ratings, 256),
        ("Caser (conv, full softmax)", models.Caser.init(key, n_users, n_items, dim=d // 2, window=window,
                                                         n_horizontal=16, n_vertical=4, dropout=0.5),
         models.caser_loss, topn, 1024),
        ("GRU4Rec (full softmax)", models.GRU4Rec.init(key, n_items, dim=d, hidden=2 * d, dropout=0.25),
         models.gru4rec_loss, sequences, 128),
        ("hybrid (four branches)", models.Hybrid.init(key, n_users, n_items, 23, 20, dim=d, window=window,
                                                      n_horizontal=8, hidden=16, dropout=0.5),
         functools.partial(models.hybrid_topn_loss, item_features=item_x), dict(topn, user_x=user_x), 1024),
    ]


def measure(model, loss_fn, data, batch_size: int, passes: int, first: int) -> dict[int, tuple[float, float]]:
    """{level: (compile seconds, median epoch seconds)} for one model's compiled epoch, compiling at level
    ``first`` first (the caller alternates it between models: the first compile of a process warms LLVM up)."""
    optimizer = optim.adam(1e-3)
    state = optimizer.init(model)
    arrays = {name: jax.device_put(value) for name, value in data.items()}
    lowered = run_epoch.lower(model, state, jax.random.key(1), arrays, loss_fn=loss_fn, optimizer=optimizer,
                              batch_size=batch_size)
    compiled, compile_seconds = {}, {}
    for level in sorted(LEVELS, key=lambda level: level != first):
        start = time.perf_counter()
        compiled[level] = lowered.compile(compiler_options={"xla_backend_optimization_level": level})
        compile_seconds[level] = time.perf_counter() - start
    times = {level: [] for level in LEVELS}
    for p in range(passes + 1):  # the first pass warms both up and is not counted
        for level in (LEVELS if p % 2 == 0 else LEVELS[::-1]):
            start = time.perf_counter()
            jax.block_until_ready(compiled[level](model, state, jax.random.key(2 + p), arrays))
            if p:
                times[level].append(time.perf_counter() - start)
    return {level: (compile_seconds[level], statistics.median(times[level])) for level in LEVELS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="a seconds-long smoke run with small shapes")
    args = parser.parse_args()
    passes = 2 if args.tiny else 7
    print(f"Machine: {platform.machine()}, {jax.device_count()} {jax.default_backend()} device(s); "
          f"jax {jax.__version__}; {passes} alternating passes, medians\n")
    print("| model | compile, level 2 (s) | compile, level 1 (s) | compile ratio 1/2 "
          "| epoch, level 2 (s) | epoch, level 1 (s) | epoch ratio 1/2 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for i, (name, model, loss_fn, data, batch_size) in enumerate(configs(args.tiny)):
        r = measure(model, loss_fn, data, batch_size, passes, first=LEVELS[i % 2])
        (c2, e2), (c1, e1) = r[2], r[1]
        print(f"| {name} | {c2:.2f} | {c1:.2f} | {c1 / c2:.2f} | {e2:.3f} | {e1:.3f} | {e1 / e2:.2f} |", flush=True)


if __name__ == "__main__":
    main()
