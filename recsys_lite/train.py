"""The training loop every chapter from 4 on uses: :func:`fit`.

One epoch is one jitted function: it draws a permutation from the epoch's
key, cuts the data into minibatches of ``batch_size`` rows and runs the
update for each with ``lax.scan``,

    θ_{t+1} = θ_t + update(∇J_B(θ_t)),      J_B = loss_fn(θ, batch B)

so an epoch costs one call from Python. The function is compiled once for
the whole run (the data's shapes never change) and reused by later calls
with the same ``loss_fn`` and ``optimizer`` objects. With ``scan=False`` the
same steps run as a Python loop of compiled calls, which XLA executes
faster on a CPU for convolutional and recurrent models. Rows that do not
fill a last batch are left out of that epoch; the next epoch's permutation
differs, so every row is used across epochs.

Before anything is compiled, :func:`fit` checks its inputs: every array of
``data`` holds numbers, float arrays are finite, and id columns (``user``,
``item``, ``history``, ``sequence``) hold integers that index the model's
user and item tables. After each epoch it checks, in one reduction, that
the losses and the parameters are finite; if not, it replays the epoch step
by step from the epoch's starting parameters (the shuffling is fixed by the
key) to name the step and the first loss, gradient or parameter that went
bad. Then it calls ``validate(model)``, keeps the best parameters for early
stopping, and updates a progress bar.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from recsys_lite._checks import (
    as_array, check_callable, check_finite, check_flag, check_ids, check_key, check_lengths, check_size, check_str,
    describe, env_flag,
)
from recsys_lite.optim import apply_updates

__all__ = ["fit", "History", "TrainingDiverged"]


class TrainingDiverged(FloatingPointError):
    """The loss or a parameter became NaN or infinite during training."""


@dataclass
class History:
    """What happened during :func:`fit`, one entry per epoch.

    Attributes:
        train_loss: mean minibatch loss of each epoch.
        valid: the dict ``validate`` returned after each epoch (empty without it).
        monitor: the name of the validation metric used for early stopping.
        best_epoch: the epoch whose parameters were returned (0-based).
        stopped_early: whether patience ran out before ``epochs``.
        seconds: wall time of each epoch, validation included.
    """

    train_loss: list[float] = field(default_factory=list)
    valid: list[dict[str, float]] = field(default_factory=list)
    monitor: str | None = None
    best_epoch: int = -1
    stopped_early: bool = False
    seconds: list[float] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    def metric(self, name: str) -> list[float]:
        """The validation metric ``name`` per epoch.

        Raises:
            ValueError: ``name`` is not a metric that ``validate`` returned.
        """
        if not self.valid or name not in self.valid[0]:
            known = sorted(self.valid[0]) if self.valid else []
            raise ValueError(f"`name` must be one of the validation metrics {known}; got {name!r}.")
        return [entry[name] for entry in self.valid]

    def to_frame(self):
        """A pandas DataFrame: one row per epoch, the loss and every validation metric."""
        import pandas as pd

        frame = pd.DataFrame({"train_loss": self.train_loss, "seconds": self.seconds})
        for name in self.valid[0] if self.valid else []:
            frame[name] = self.metric(name)
        frame.index.name = "epoch"
        return frame

    def plot(self, ax=None, *, label: str | None = None):
        """Training loss (left axis) and the monitored metric (right axis) per epoch.

        Raises:
            TypeError: ``ax`` is neither None nor a matplotlib Axes.
        """
        import matplotlib.pyplot as plt

        if ax is not None and not isinstance(ax, plt.Axes):
            raise TypeError(f"`ax` must be a matplotlib Axes or None; got {describe(ax)}.")
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3))
        epochs = np.arange(1, self.epochs + 1)
        ax.plot(epochs, self.train_loss, color="C0", label=label or "training loss")
        ax.set_xlabel("epoch")
        ax.set_ylabel("training loss", color="C0")
        if self.monitor is not None:
            right = ax.twinx()
            right.plot(epochs, self.metric(self.monitor), color="C1", marker=".", label=self.monitor)
            right.set_ylabel(f"validation {self.monitor}", color="C1")
            right.axvline(self.best_epoch + 1, color="C1", ls=":", lw=1)
            right.grid(False)
        return ax


def _progress_enabled(progress: bool | None) -> bool:
    if progress is not None:
        return progress
    quiet = env_flag("RECSYS_LITE_STATIC_WIDGETS") or "PYTEST_CURRENT_TEST" in os.environ
    return not quiet


# Columns of `data` that hold ids, and the kind of table they index: a padded
# item sequence may also hold the padding id, the last row of the largest item table.
_ID_COLUMNS = {"user": "user", "users": "user", "item": "item", "items": "item",
              "history": "padded", "sequence": "padded", "sequences": "padded"}


def _float_leaves(tree) -> list[tuple[str, np.ndarray]]:
    """``(path, values)`` of every floating-point leaf of ``tree``, e.g. ``(".users.table", array)``."""
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return [(jax.tree_util.keystr(path), np.asarray(leaf)) for path, leaf in leaves
            if np.asarray(leaf).dtype.kind in "fc"]


def _check_model(model) -> None:
    """The model must be a pytree of number arrays, some of them floats (the parameters), all finite."""
    for path, leaf in jax.tree_util.tree_flatten_with_path(model)[0]:
        as_array(f"model{jax.tree_util.keystr(path)}", leaf)
    params = _float_leaves(model)
    if not params:
        raise TypeError(f"`model` must be a pytree holding floating-point parameters (a recsys_lite model, a "
                        f"layer, a dict of arrays); got {describe(model)}, which has none.")
    for path, values in params:
        check_finite(f"model{path}", values)


def _key_name(entry) -> str:
    """The name in one step of a pytree path: an attribute, a dict key or an index."""
    for attribute in ("name", "key", "idx"):
        if hasattr(entry, attribute):
            return str(getattr(entry, attribute))
    return str(entry)


def _id_tables(model) -> dict[str, dict[str, int]]:
    """The rows of the model's user and item tables, by path: ``{"user": {".users.table": 943}, "item": {...}}``.

    A table is an :class:`~recsys_lite.nn.Embedding` (rows: ``table.shape[-2]``) or a bias
    vector (rows: ``shape[-1]``) whose name says ``user`` or ``item``; the output tables
    ``out``/``out_bias`` of the sequence models score items. The last axes are read, so a
    stack of copies of a model (a leading grid axis) has the same tables.
    """
    from recsys_lite.nn import Embedding

    tables: dict[str, dict[str, int]] = {"user": {}, "item": {}}
    flat = jax.tree_util.tree_flatten_with_path(model, is_leaf=lambda x: isinstance(x, Embedding))[0]
    for path, leaf in flat:
        name = _key_name(path[-1]).lower() if path else ""
        if isinstance(leaf, Embedding) and np.ndim(leaf.table) >= 2:
            where, rows = jax.tree_util.keystr(path) + ".table", np.shape(leaf.table)[-2]
        elif "bias" in name and np.ndim(leaf) >= 1:
            where, rows = jax.tree_util.keystr(path), np.shape(leaf)[-1]
        else:
            continue
        kind = "user" if "user" in name else "item" if "item" in name or name in ("out", "out_bias") else None
        if kind:
            tables[kind][where] = int(rows)
    return tables


def _check_ids(name: str, ids: np.ndarray, kind: str, tables: dict[str, dict[str, int]]) -> None:
    """Id column ``data[name]``: integers, >= 0, and below the rows of every table it indexes."""
    label = f"data[{name!r}]"
    found = tables["item" if kind == "padded" else kind]
    if found:
        rows = min(found.values())
        if kind == "padded":
            # The padding id is n_items (data.user_sequences): the extra last row of a padded
            # item table, or one past the tables when the model has none (it does not read them).
            rows = max(found.values()) if max(found.values()) > rows else rows + 1
        what = ("items, plus the padding id," if kind == "padded" else f"{kind}s") + \
            f" in the model's table(s) {', '.join(found)}"
        check_ids(label, ids, rows, what)
    else:
        check_ids(label, ids, None, f"{kind}s" if kind != "padded" else "items")


def _check_data(data: Mapping[str, Any], batch_size: int, model) -> dict[str, jax.Array]:
    """``data`` as JAX arrays, after checking it (see :func:`fit`, Raises)."""
    if not isinstance(data, Mapping) or not data:
        raise TypeError(f"`data` must be a non-empty dict of arrays sharing their first dimension; got {describe(data)}.")
    arrays = {}
    for name, value in data.items():
        value = as_array(f"data[{name!r}]", value)
        if np.ndim(value) == 0:
            raise ValueError(f"`data[{name!r}]` must have a first dimension, one entry per row; got {describe(value)}.")
        arrays[name] = jnp.asarray(value)
    lengths = {name: value.shape[0] for name, value in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"`data` arrays must share their first dimension; got lengths {lengths}.")
    if next(iter(lengths.values())) == 0:
        raise ValueError(f"`data` must hold at least one row; got 0 rows in every array {sorted(map(str, data))}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive integer; got {describe(batch_size)}.")
    tables = _id_tables(model)
    for name, value in arrays.items():
        values = np.asarray(value)
        check_finite(f"data[{name!r}]", values)
        if name in _ID_COLUMNS:
            _check_ids(name, values, _ID_COLUMNS[name], tables)
    for lengths_name, sequence_name in (("length", "sequence"), ("lengths", "sequences")):
        if lengths_name in arrays and sequence_name in arrays and arrays[sequence_name].ndim == 2:
            sequences = arrays[sequence_name]
            check_lengths(f"data[{lengths_name!r}]", arrays[lengths_name], sequences.shape[:1], sequences.shape[1])
    return arrays


def _check_options(loss_fn, optimizer, key, epochs, validate, monitor, mode, patience, progress, desc, scan) -> None:
    check_callable("loss_fn", loss_fn, "loss_fn(model, batch, key) -> scalar")
    if not (callable(getattr(optimizer, "init", None)) and callable(getattr(optimizer, "update", None))):
        raise TypeError("`optimizer` must be an optax-shaped GradientTransformation with init(params) and "
                        f"update(grads, state, params), e.g. optim.adam(1e-3); got {describe(optimizer)}.")
    check_key("key", key)
    check_size("epochs", epochs)
    if validate is not None:
        check_callable("validate", validate, "validate(model) -> dict of numbers (or a number), or None")
    check_str("monitor", monitor, allow_none=True)
    if mode not in ("max", "min"):
        raise ValueError(f"`mode` must be 'max' or 'min'; got {mode!r}.")
    if patience is not None:
        check_size("patience", patience)
        if validate is None:
            raise ValueError(f"`patience` needs `validate`: early stopping watches a validation metric; got "
                             f"patience={patience!r} and validate=None.")
    if progress is not None:
        check_flag("progress", progress)
    check_str("desc", desc)
    check_flag("scan", scan)


def fit(model, loss_fn: Callable, data: Mapping[str, Any], optimizer, *, key, epochs: int = 10,
        batch_size: int = 256, validate: Callable | None = None, monitor: str | None = None,
        mode: str = "max", patience: int | None = None, progress: bool | None = None,
        desc: str = "training", scan: bool = True):
    """Train ``model`` by minibatch gradient steps; return the best model and a :class:`History`.

    Args:
        model: any pytree of parameters (a recsys_lite model or layer).
        loss_fn: ``loss_fn(model, batch, key) -> scalar``; ``batch`` is a dict
            like ``data`` with ``batch_size`` rows; ``key`` is a fresh PRNG key
            per step (for dropout or negative sampling; ignore it otherwise).
        data: dict of arrays with the same first dimension ``m``, float
            arrays finite. Columns named ``user``/``users``, ``item``/``items``
            and ``history``/``sequence``/``sequences`` hold integer ids: each
            must index every user (or item) table of the model, i.e. the
            :class:`~recsys_lite.nn.Embedding` tables and bias vectors whose
            names say user or item (a padded item sequence may also hold the
            padding id, the last row of the largest item table); a
            ``length`` column must fit the width of ``sequence``.
        optimizer: an optax-shaped ``GradientTransformation`` (from
            :mod:`recsys_lite.optim` or optax itself).
        key: a ``jax.random`` key; it fixes the shuffling and the step keys.
        epochs: the most epochs to run.
        batch_size: rows per step ``B`` (capped at ``m``).
        validate: optional ``validate(model) -> dict[str, float]`` (or a float),
            called after every epoch, e.g. NDCG@10 on the validation targets.
        monitor: which entry of ``validate``'s dict drives early stopping and
            the choice of the returned model (default: its first entry);
            ignored without ``validate``.
        mode: ``"max"`` if a larger ``monitor`` is better, else ``"min"``.
        patience: stop after this many epochs without improvement (None: never);
            needs ``validate``.
        progress: show a progress bar. None (the default) means yes, except
            while building the book or under pytest, where one summary line
            is printed instead; False means nothing at all.
        desc: the progress bar's label.
        scan: run each epoch as one compiled ``lax.scan`` (the default), or,
            with False, each step as its own compiled call. On a CPU, XLA
            runs convolutions and recurrent layers markedly faster outside a
            loop (an epoch of Caser: 1.6 s instead of 4.0 s; of chapter 8's
            hybrid: 1.8 s instead of 2.8 s), while small models are faster
            inside one (MF: 0.08 s instead of 0.24 s, as each call costs
            about half a millisecond). The updates are the same either way, up
            to floating-point rounding.

    Returns:
        ``(model, history)``: with ``validate``, the parameters of the best
        epoch; without, those after the last epoch.

    Raises:
        TypeError: ``loss_fn`` or ``validate`` not callable, ``optimizer`` without
            ``init``/``update``, ``key`` not a PRNG key, ``epochs``/``patience``
            not integers, a non-numeric array in ``data``, float ids, a
            ``model`` without floating-point parameters, or ``validate``
            returning something that is not a number.
        ValueError: ``data`` empty, with arrays of different lengths or holding
            NaN/inf; ids out of range (below 0, or past the rows of the
            model's user or item tables); non-finite parameters in ``model``;
            ``epochs``, ``batch_size`` or ``patience`` < 1; ``patience``
            without ``validate``; a bad ``mode`` or ``monitor``; ``loss_fn``
            not returning a scalar float or reading a column ``data`` lacks;
            a NaN/inf validation metric (the message names the epoch and the
            metric).
        TrainingDiverged: the loss, a gradient or a parameter became NaN/inf;
            the message names the epoch, the step and the first non-finite
            value with its path in the pytree (e.g. ``.users.table``).
    """
    _check_options(loss_fn, optimizer, key, epochs, validate, monitor, mode, patience, progress, desc, scan)
    _check_model(model)
    arrays = _check_data(data, batch_size, model)
    m = next(iter(arrays.values())).shape[0]
    batch_size = min(int(batch_size), m)
    n_batches = m // batch_size
    run_epoch = partial(_run_epoch if scan else _run_epoch_step_by_step, loss_fn=_Same(loss_fn),
                        optimizer=_Same(optimizer), batch_size=batch_size)

    history = History(monitor=None)
    opt_state = optimizer.init(model)
    best_model, best_score = model, None
    since_best = 0
    show = _progress_enabled(progress)
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, desc=desc, unit="epoch", leave=True)
    started = time.perf_counter()
    for epoch in range(epochs):
        tick = time.perf_counter()
        epoch_key = jax.random.fold_in(key, epoch)
        new_model, new_state, losses = run_epoch(model, opt_state, epoch_key, arrays)
        if not bool(_all_finite((losses, new_model))):  # one reduction and one sync per epoch
            _explain_divergence(loss_fn, optimizer, model, opt_state, _epoch_batches_jit(arrays, epoch_key, batch_size),
                                epoch, n_batches, np.asarray(losses), new_model)
        losses = np.asarray(losses)
        model, opt_state = new_model, new_state
        history.train_loss.append(float(losses.mean()))
        if validate is not None:
            scores = _validation_scores(validate(model), epoch)
            history.valid.append(scores)
            if history.monitor is None:
                history.monitor = monitor or next(iter(scores))
                if history.monitor not in scores:
                    raise ValueError(f"`monitor` must be one of {sorted(scores)}; got {monitor!r}.")
            elif history.monitor not in scores:
                raise ValueError(f"`validate` returned no {history.monitor!r} (the monitored metric) at epoch "
                                 f"{epoch + 1}; it returned {sorted(scores)}.")
            score = scores[history.monitor]
            better = best_score is None or (score > best_score if mode == "max" else score < best_score)
            if better:
                best_model, best_score, since_best, history.best_epoch = model, score, 0, epoch
            else:
                since_best += 1
        else:
            best_model, history.best_epoch = model, epoch
        history.seconds.append(time.perf_counter() - tick)
        if bar is not None:
            postfix = {"loss": f"{history.train_loss[-1]:.4f}"}
            if history.monitor:
                postfix[history.monitor] = f"{history.valid[-1][history.monitor]:.4f}"
            bar.set_postfix(postfix)
            bar.update(1)
        if patience is not None and since_best >= patience:
            history.stopped_early = True
            break
    if bar is not None:
        bar.close()
    elif progress is None:  # quiet because of the book build: say what happened in one line
        _print_summary(desc, history, time.perf_counter() - started)
    return best_model, history


class _Same:
    """A static jit argument that is equal to another only if it wraps the very same object.

    jit's cache keeps the wrapped loss and optimizer alive with their
    compiled epoch, so reuse one object across runs rather than making many.
    """

    def __init__(self, obj):
        self.obj = obj

    def __hash__(self):
        return id(self.obj)

    def __eq__(self, other):
        return isinstance(other, _Same) and other.obj is self.obj


def _validation_scores(result, epoch: int) -> dict[str, float]:
    """What ``validate`` returned after ``epoch``, as ``{name: float}``; NaN/inf is an error."""
    scores = dict(result) if isinstance(result, Mapping) else {"valid": result}
    if not scores:
        raise ValueError(f"`validate` returned an empty dict at epoch {epoch + 1}; it must return at least one metric.")
    out = {}
    for name, value in scores.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"`validate` must return a number or a dict of numbers; at epoch {epoch + 1} its "
                            f"{name!r} is {describe(value)}.") from None
        if not math.isfinite(number):
            raise ValueError(f"`validate` returned {number} for the metric {name!r} at epoch {epoch + 1}: a "
                             "validation metric must be finite (has the model diverged, or is the metric "
                             "undefined on these data?).")
        out[name] = number
    return out


def _scalar_loss(loss_fn: Callable) -> Callable:
    """``loss_fn``, with what it reads and returns checked while JAX traces it (free at run time)."""

    def loss(model, batch, key):
        try:
            value = loss_fn(model, batch, key)
        except KeyError as err:
            missing = err.args[0] if err.args else None
            if isinstance(missing, str) and missing not in batch:
                raise ValueError(f"`loss_fn` reads batch[{missing!r}], but `data` has no such column; it has "
                                 f"{sorted(map(str, batch))}.") from None
            raise
        if jnp.shape(value) != () or not jnp.issubdtype(jnp.result_type(value), jnp.floating):
            raise ValueError(f"`loss_fn` must return one floating-point number (a scalar loss for the batch); "
                             f"got {describe(value)}.")
        return value

    return loss


def _step(carry, batch_and_key, *, loss_fn, optimizer):
    """One update θ ← θ + update(∇J_B(θ)) on one minibatch B."""
    model, opt_state = carry
    batch, step_key = batch_and_key
    loss, grads = jax.value_and_grad(_scalar_loss(loss_fn))(model, batch, step_key)
    updates, opt_state = optimizer.update(grads, opt_state, model)
    return (apply_updates(model, updates), opt_state), loss


@jax.jit
def _all_finite(tree) -> jax.Array:
    """One boolean: does every floating-point leaf of ``tree`` hold only finite numbers?"""
    flags = [jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree_util.tree_leaves(tree)
             if jnp.issubdtype(jnp.result_type(leaf), jnp.inexact)]
    return jnp.all(jnp.stack(flags)) if flags else jnp.array(True)


def _epoch_batches(arrays, epoch_key, batch_size: int):
    """The epoch's shuffled minibatches, stacked: each array (n_batches, batch_size, ...), and a key per step."""
    m = len(next(iter(arrays.values())))
    n_batches = m // batch_size
    shuffle_key, steps_key = jax.random.split(epoch_key)
    order = jax.random.permutation(shuffle_key, m)[: n_batches * batch_size].reshape(n_batches, batch_size)
    return {name: value[order] for name, value in arrays.items()}, jax.random.split(steps_key, n_batches)


@partial(jax.jit, static_argnames=("loss_fn", "optimizer", "batch_size"))
def _run_epoch(model, opt_state, epoch_key, arrays, *, loss_fn, optimizer, batch_size):
    """One epoch as one compiled program: a ``lax.scan`` of :func:`_step` over the minibatches.

    The data are an argument, not a constant baked into the program, and the
    loss and optimizer are static: calling :func:`fit` again with the same
    ``loss_fn`` and ``optimizer`` objects and data of the same shapes reuses
    the compiled epoch instead of compiling it again.
    """
    step = partial(_step, loss_fn=loss_fn.obj, optimizer=optimizer.obj)
    (model, opt_state), losses = jax.lax.scan(step, (model, opt_state), _epoch_batches(arrays, epoch_key, batch_size))
    return model, opt_state, losses


@partial(jax.jit, static_argnames=("loss_fn", "optimizer"))
def _indexed_step(carry, stacked, keys, b, *, loss_fn, optimizer):
    """:func:`_step` on minibatch ``b`` of the epoch's stacked batches (one compiled call per step)."""
    batch = {name: jax.lax.dynamic_index_in_dim(value, b, keepdims=False) for name, value in stacked.items()}
    return _step(carry, (batch, keys[b]), loss_fn=loss_fn.obj, optimizer=optimizer.obj)


_epoch_batches_jit = jax.jit(_epoch_batches, static_argnames=("batch_size",))


def _run_epoch_step_by_step(model, opt_state, epoch_key, arrays, *, loss_fn, optimizer, batch_size):
    """The same epoch as :func:`_run_epoch`, with a Python loop over compiled steps (``fit(scan=False)``)."""
    stacked, keys = _epoch_batches_jit(arrays, epoch_key, batch_size)
    carry, losses = (model, opt_state), []
    for b in range(keys.shape[0]):
        carry, loss = _indexed_step(carry, stacked, keys, b, loss_fn=loss_fn, optimizer=optimizer)
        losses.append(loss)
    return carry[0], carry[1], jnp.stack(losses)


def _print_summary(desc: str, history: History, seconds: float) -> None:
    line = f"{desc}: {history.epochs} epochs in {seconds:.1f} s, final training loss {history.train_loss[-1]:.4f}"
    if history.monitor:
        best = history.valid[history.best_epoch][history.monitor]
        line += f"; best validation {history.monitor} {best:.4f} at epoch {history.best_epoch + 1}"
        if history.stopped_early:
            line += " (stopped early)"
    if "PYTEST_CURRENT_TEST" not in os.environ:
        print(line)


def _inspected_step(model, opt_state, batch, step_key, *, loss_fn, optimizer):
    """:func:`_step`, returning its intermediate values too: loss, gradients, updates, new model and state."""
    loss, grads = jax.value_and_grad(_scalar_loss(loss_fn))(model, batch, step_key)
    updates, new_state = optimizer.update(grads, opt_state, model)
    return loss, grads, updates, apply_updates(model, updates), new_state


def _first_nonfinite(tree) -> str | None:
    """``"<path> (2 NaN, 0 inf of 96 values)"`` for the first leaf of ``tree`` holding NaN or inf, else None."""
    for path, values in _float_leaves(tree):
        if not np.isfinite(values).all():
            return (f"{path or '(the root)'} ({int(np.isnan(values).sum())} NaN, "
                    f"{int(np.isinf(values).sum())} inf of {values.size} values)")
    return None


def _largest(tree, symbol: str) -> str:
    """``"<path> (|θ| up to 3.2e+18)"``: the leaf of ``tree`` with the largest finite magnitude."""
    sizes = [(float(np.max(np.abs(values[np.isfinite(values)]), initial=0.0)), path)
             for path, values in _float_leaves(tree)]
    if not sizes:
        return "none"
    size, path = max(sizes)
    return f"{path or '(the root)'} (|{symbol}| up to {size:.3g})"


def _diagnose(loss, grads, updates, new_model, model, opt_state) -> str | None:
    """What went non-finite first in one step, in the order it is computed, or None if nothing did."""
    loss = float(loss)
    bad_param = _first_nonfinite(model)
    if bad_param is not None:  # cannot happen after finite steps; said plainly if it does
        return f"parameter {bad_param} was already non-finite before this step."
    bad_grad = _first_nonfinite(grads)
    if not math.isfinite(loss):
        grad_note = (f"the first non-finite gradient is that of {bad_grad}" if bad_grad else
                     f"every gradient is finite, the largest {_largest(grads, 'g')}")
        return (f"the loss {'overflowed to' if math.isinf(loss) else 'became'} {loss} while every parameter was "
                f"still finite (the largest: {_largest(model, 'θ')}); {grad_note}.")
    if bad_grad is not None:
        return (f"the gradient of parameter {bad_grad} became NaN or infinite, although the loss was finite "
                f"({loss:.4g}) and so was every parameter (the largest: {_largest(model, 'θ')}).")
    bad_update = _first_nonfinite(updates)
    if bad_update is not None:
        state = _first_nonfinite(opt_state)
        state_note = (f"; the optimizer state was already non-finite at {state}" if state else
                      f"; every gradient was finite, the largest {_largest(grads, 'g')}")
        return f"the optimizer's update of parameter {bad_update} became NaN or infinite (loss {loss:.4g}){state_note}."
    bad_new = _first_nonfinite(new_model)
    if bad_new is not None:
        return (f"parameter {bad_new} became NaN or infinite after the update (loss {loss:.4g}; every gradient "
                f"and update was finite, the largest update {_largest(updates, 'u')}).")
    return None


_ADVICE = ("Try a smaller learning rate or gradient clipping (optim.clip_by_global_norm), or look at this "
           "step's batch.")


def _explain_divergence(loss_fn, optimizer, model, opt_state, epoch_batches, epoch: int, n_batches: int,
                        losses: np.ndarray, new_model):
    """Replay a diverged epoch one step at a time from its starting state and raise with the culprit.

    Only called once an epoch has ended with a non-finite loss or parameter, so
    the normal path pays nothing for it. ``losses`` and ``new_model`` are the
    epoch's results, quoted if the replay (outside ``lax.scan``, rounded a
    little differently) does not diverge.
    """
    stacked, keys = epoch_batches
    inspect = jax.jit(partial(_inspected_step, loss_fn=loss_fn, optimizer=optimizer))
    for b in range(n_batches):
        batch = {name: value[b] for name, value in stacked.items()}
        loss, grads, updates, next_model, next_state = inspect(model, opt_state, batch, keys[b])
        problem = _diagnose(loss, grads, updates, next_model, model, opt_state)
        if problem is not None:
            raise TrainingDiverged(f"Training diverged at epoch {epoch + 1}, step {b + 1} of {n_batches}: "
                                   f"{problem} {_ADVICE}")
        model, opt_state = next_model, next_state
    bad_steps = np.flatnonzero(~np.isfinite(losses))
    seen = (f"the loss of step {bad_steps[0] + 1} of {n_batches} was {losses[bad_steps[0]]}" if bad_steps.size
            else f"parameter {_first_nonfinite(new_model)} was non-finite at its end")
    raise TrainingDiverged(f"Training diverged in epoch {epoch + 1}: {seen}, but replaying the epoch step by step "
                           f"(rounded slightly differently) stayed finite. {_ADVICE}")
