"""The communication arithmetic, and the collectives read from a compiled program to check it against.

Per step and per device, with D devices and a message of N bytes:

- ring all-reduce (sum N bytes over D devices): reduce-scatter then all-gather,
  each D − 1 hops of N/D bytes, so every device sends 2(D − 1)/D · N bytes;
- all-gather or reduce-scatter alone (N the size of the whole result or input): (D − 1)/D · N;
- embedding look-up of B ids (K values each) in a table split by rows, two plans:
  gather the ids and reduce-scatter the rows (what :func:`~recsys_lite.parallel.sharded_lookup`
  does): (D − 1)/D · B·(b_id + K·b_val); or route each id to its owner and the row back
  (all-to-all, ids spread evenly, no padding): (D − 1)/D · (B/D)·(b_id + K·b_val).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from recsys_lite._checks import check_positive, check_size, describe

__all__ = ["hlo_collectives", "ring_all_reduce_bytes", "lookup_bytes"]

COLLECTIVES = ("all-reduce", "all-gather", "all-to-all", "reduce-scatter", "collective-permute")
_BYTES = {"pred": 1, "s8": 1, "u8": 1, "s16": 2, "u16": 2, "f16": 2, "bf16": 2,
          "s32": 4, "u32": 4, "f32": 4, "s64": 8, "u64": 8, "f64": 8, "c64": 8, "c128": 16}
_LINE = re.compile(r"=\s*(\(.*?\)|\S+)\s+(" + "|".join(COLLECTIVES) + r")(?:-start)?\(")
_SHAPE = re.compile(r"\b(" + "|".join(_BYTES) + r")\[([\d,]*)\]")


def hlo_collectives(hlo_text: Any) -> list[dict]:
    """The collective operations in a compiled program's text, one dict per operation.

    ``hlo_text``: ``jax.jit(f).lower(...).compile().as_text()``. Each dict has
    ``operation`` (all-reduce, all-gather, all-to-all, reduce-scatter,
    collective-permute; an asynchronous ``-start`` counts once), ``shapes``
    (the result's arrays, e.g. ``["f32[32,4]"]``: an all-reduce may carry many)
    and ``bytes``: Σ over those arrays of (number of elements × bytes per
    element), the per-device size of the result. (On backends that run
    collectives asynchronously, an ``all-gather-start`` or
    ``collective-permute-start`` returns a tuple that holds its operand too,
    and ``bytes`` then counts both; the CPU programs of this book have none.)

    Raises:
        TypeError: ``hlo_text`` not a string.
    """
    if not isinstance(hlo_text, str):
        raise TypeError(f"`hlo_text` must be the program's text, from .compile().as_text(); got {describe(hlo_text)}.")
    found = []
    for line in hlo_text.splitlines():
        match = _LINE.search(line)
        if not match:
            continue
        shapes = _SHAPE.findall(match.group(1))
        size = sum(_BYTES[dtype] * int(np.prod([int(d) for d in dims.split(",") if d], dtype=np.int64))
                   for dtype, dims in shapes)
        found.append({"operation": match.group(2), "shapes": [f"{t}[{d}]" for t, d in shapes], "bytes": int(size)})
    return found


def ring_all_reduce_bytes(n_bytes: Any, n_devices: Any) -> float:
    """Bytes each device sends in a ring all-reduce of ``n_bytes``: 2(D − 1)/D · N.

    (D = 1: nothing to send.) Raises if ``n_bytes`` is negative or ``n_devices`` not a positive integer.
    """
    check_positive("n_bytes", n_bytes, allow_zero=True)
    d = check_size("n_devices", n_devices)
    return 2 * (d - 1) / d * float(n_bytes)


def lookup_bytes(batch_size: Any, dim: Any, n_devices: Any, *, id_bytes: int = 4, value_bytes: int = 4) -> dict:
    """Bytes each device sends per look-up of ``batch_size`` ids (B) of ``dim`` values (K) over D devices.

    ``"gather ids + reduce-scatter rows"``: (D − 1)/D · (B·b_id + B·K·b_val)
    (every device sees every id, and reduces a (B, K) block);
    ``"all-to-all (ideal)"``: (D − 1)/D · (B/D)·(b_id + K·b_val): a device's B/D
    ids, all but the 1/D it owns, go to their owners and the rows come back
    (ids spread evenly over the devices; real systems pad each message to a
    fixed capacity, which adds to this). Gradients travel back the same way, in
    the same amounts.

    Raises if a size is not a positive integer.
    """
    b, k, d = check_size("batch_size", batch_size), check_size("dim", dim), check_size("n_devices", n_devices)
    id_bytes, value_bytes = check_size("id_bytes", id_bytes), check_size("value_bytes", value_bytes)
    share = (d - 1) / d
    return {"gather ids + reduce-scatter rows": share * (b * id_bytes + b * k * value_bytes),
            "all-to-all (ideal)": share * (b / d) * (id_bytes + k * value_bytes)}
