"""Feeding many processes: each reads its own share of every global batch, shuffled by a shared seed.

No process sends examples to another. Every process draws the same
permutation π_e of the m examples for epoch e from (seed, e), cuts it into
global batches of B rows, and reads only its slice of each: with P processes,
process p reads rows π_e[s·B + p·B/P : s·B + (p+1)·B/P] at step s. The P
slices of a step are disjoint and together are the global batch, so the
examples are shuffled across processes each epoch while each process loads
1/P of the data. ``jax.make_array_from_process_local_data`` then assembles
the slices into one global array for the step.
"""

from __future__ import annotations

import numpy as np

from recsys_lite._checks import check_int_in_range, check_size

__all__ = ["epoch_shard"]


def epoch_shard(n_examples: int, batch_size: int, *, epoch: int, seed: int,
                process_index: int = 0, process_count: int = 1) -> np.ndarray:
    """The example indices process ``process_index`` reads in ``epoch``: (n_steps, batch_size / process_count).

    π = numpy ``default_rng([seed, epoch]).permutation(n_examples)``, the same on
    every process; n_steps = ⌊n_examples / batch_size⌋ (the last, partial batch
    sits the epoch out); row s of the result is
    π[s·B + p·B/P : s·B + (p+1)·B/P] for B = ``batch_size``, P = ``process_count``,
    p = ``process_index``.

    Raises:
        TypeError / ValueError: a size that is not a positive integer; ``epoch`` or ``seed`` negative;
            ``process_index`` not in [0, process_count); ``batch_size`` not a multiple of
            ``process_count`` or larger than ``n_examples``.
    """
    n_examples = check_size("n_examples", n_examples)
    batch_size = check_size("batch_size", batch_size)
    process_count = check_size("process_count", process_count)
    process_index = check_int_in_range("process_index", process_index, 0, process_count)
    epoch = check_int_in_range("epoch", epoch, 0)
    seed = check_int_in_range("seed", seed, 0)
    if batch_size % process_count:
        raise ValueError(f"`batch_size` ({batch_size}) must be a multiple of `process_count` ({process_count}), "
                         "so that every process reads as many rows.")
    if batch_size > n_examples:
        raise ValueError(f"`batch_size` ({batch_size}) must be at most `n_examples` ({n_examples}).")
    n_steps = n_examples // batch_size
    order = np.random.default_rng([seed, epoch]).permutation(n_examples)[: n_steps * batch_size]
    share = batch_size // process_count
    return order.reshape(n_steps, process_count, share)[:, process_index]
