""":func:`fit`: epochs of :mod:`~recsys_lite.train.step`, with validation, early stopping and progress."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import jax
import numpy as np

from recsys_lite import config
from recsys_lite._checks import check_callable, check_flag, check_key, check_optimizer, check_size, check_str, describe
from recsys_lite.train.inputs import check_data, check_model
from recsys_lite.train.step import all_finite, explain_divergence, run_epoch, run_epoch_steps

__all__ = ["fit", "History"]


@dataclass
class History:
    """What happened during :func:`fit`, one entry per epoch (draw it with :func:`recsys_lite.plots.history`).

    Attributes:
        train_loss: mean minibatch loss of each epoch.
        valid: the dict ``validate`` returned after each epoch (empty without it).
        monitor: the name of the validation metric used for early stopping.
        best_epoch: the epoch (0-based) with the best ``monitor`` value, whose
            parameters ``fit(keep="best")`` returns; the last epoch without ``validate``.
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
        """The validation metric ``name`` per epoch (``ValueError`` if ``validate`` returned no such metric)."""
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


def _monitored(history: History, result, monitor: str | None, epoch: int) -> float:
    """Record what ``validate`` returned after ``epoch`` in ``history`` as ``{name: float}`` (NaN/inf is an
    error); return the monitored metric (``monitor``, else the first one)."""
    scores = dict(result) if isinstance(result, Mapping) else {"valid": result}
    if not scores:
        raise ValueError(f"`validate` returned an empty dict at epoch {epoch + 1}; it must return at least one metric.")
    for name, value in scores.items():
        try:
            scores[name] = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"`validate` must return a number or a dict of numbers; at epoch {epoch + 1} its "
                            f"{name!r} is {describe(value)}.") from None
        if not math.isfinite(scores[name]):
            raise ValueError(f"`validate` returned {scores[name]} for the metric {name!r} at epoch {epoch + 1}: a "
                             "validation metric must be finite (has the model diverged, or is the metric "
                             "undefined on these data?).")
    history.valid.append(scores)
    if history.monitor is None:
        history.monitor = monitor or next(iter(scores))
        if history.monitor not in scores:
            raise ValueError(f"`monitor` must be one of {sorted(scores)}; got {monitor!r}.")
    elif history.monitor not in scores:
        raise ValueError(f"`validate` returned no {history.monitor!r} (the monitored metric) at epoch "
                         f"{epoch + 1}; it returned {sorted(scores)}.")
    return scores[history.monitor]


def fit(model, loss_fn: Callable, data: Mapping[str, Any], optimizer, *, key, epochs: int = 10,
        batch_size: int = 256, validate: Callable | None = None, monitor: str | None = None,
        mode: str = "max", patience: int | None = None, keep: str = "best", progress: bool | None = None,
        desc: str = "training", scan: bool | None = None):
    """Train ``model`` by minibatch gradient steps; return the kept model and a :class:`History`.

    Each epoch draws its key ``fold_in(key, epoch)``, shuffles the rows with
    it and takes one :func:`~recsys_lite.train.make_step` step per minibatch.
    After the epoch it checks that the losses and parameters are finite,
    calls ``validate(model)``, remembers the best epoch, stops when
    ``patience`` runs out, and reports progress.

    Args:
        model: any pytree of parameters (a recsys_lite model or layer).
        loss_fn: ``loss_fn(model, batch, key) -> scalar``; ``batch`` is a dict
            like ``data`` with ``batch_size`` rows; ``key`` is a fresh PRNG key
            per step (for dropout or negative sampling; ignore it otherwise).
        data: dict of arrays with the same first dimension ``m``, float arrays
            finite; the id columns ``user``, ``item`` and ``history`` must index the
            model's user and item tables, ``length`` must fit ``history``'s width
            (:mod:`~recsys_lite.train.inputs` says how).
        optimizer: an optax-shaped ``GradientTransformation`` (from
            :mod:`recsys_lite.optim` or optax itself).
        key: a ``jax.random`` key; it fixes the shuffling and the step keys.
        epochs: the most epochs to run.
        batch_size: rows per step ``B`` (capped at ``m``).
        validate: optional ``validate(model) -> dict[str, float]`` (or a float),
            called after every epoch, e.g. NDCG@10 on the validation targets.
        monitor: the entry of ``validate``'s dict that picks the best epoch and
            drives early stopping (default: its first entry).
        mode: ``"max"`` if a larger ``monitor`` is better, else ``"min"``.
        patience: stop after this many epochs without improvement (None: never);
            needs ``validate``.
        keep: ``"best"``: return the parameters of the best validated epoch
            (of the last epoch without ``validate``); ``"last"``: of the last epoch.
        progress: True shows a progress bar, False nothing; None (the default) the
            bar, or one summary line while the book builds (:func:`recsys_lite.config.book_build`).
        desc: the progress bar's label.
        scan: how an epoch runs. None (the default) or True: as one compiled
            ``lax.scan`` of its steps, the fast way for every model of the book;
            False: each step as its own compiled call (about 0.5 ms of Python and
            dispatch per step). The updates agree up to floating-point rounding.
            Earlier, convolutional models ran 2–2.5 times slower inside the scan
            on a CPU: XLA's CPU compiler rewrites a convolution into the layout
            its fast (Eigen) routine needs only outside loops, and JAX's gradient
            of a convolution is a convolution in another layout, so inside the
            scan it ran as generic loops. :func:`recsys_lite.nn.conv1d` now
            writes its derivatives as convolutions already in that layout (a
            matrix product where XLA would swap them out of it), fast anywhere.

    Returns:
        ``(model, history)``, ``model`` as ``keep`` says.

    Raises:
        TypeError: an argument of the wrong kind (``loss_fn``/``validate`` not callable, ``loss_fn``/``optimizer``
            not hashable, ``optimizer`` without ``init``/``update``, ``key`` not a PRNG key, sizes not
            integers, non-numeric data, float ids, a model without float parameters), or ``validate``
            returning something that is not a number.
        ValueError: empty ``data``, arrays of different lengths, NaN/inf in ``data`` or ``model``, ids out
            of range of the model's tables, sizes < 1, ``patience`` without ``validate``, a bad ``mode``,
            ``keep`` or ``monitor``; ``loss_fn`` not returning a scalar float or reading a column ``data``
            lacks; a NaN/inf validation metric (the message names the epoch and the metric).
        TrainingDiverged: the loss, a gradient or a parameter became NaN/inf; the message names the epoch,
            the step and the first non-finite value by its pytree path (e.g. ``.user_embedding.table``).
    """
    check_callable("loss_fn", loss_fn, "loss_fn(model, batch, key) -> scalar")
    check_optimizer("optimizer", optimizer)
    for name, value in (("loss_fn", loss_fn), ("optimizer", optimizer)):
        try:  # they are static arguments of the jitted epoch, which is kept per (loss_fn, optimizer)
            hash(value)
        except TypeError:
            raise TypeError(f"`{name}` must be hashable (a function, a functools.partial, an optax "
                            f"transformation), as jit keys the compiled epoch by it; got {describe(value)}.") from None
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
    if keep not in ("best", "last"):
        raise ValueError(f"`keep` must be 'best' (the best validated epoch's model) or 'last'; got {keep!r}.")
    if progress is not None:
        check_flag("progress", progress)
    check_str("desc", desc)
    if scan is not None and not isinstance(scan, (bool, np.bool_)):
        raise TypeError(f"`scan` must be None (the default: the fast way), True or False; got {describe(scan)}.")
    check_model(model)
    arrays = check_data(data, batch_size, model)

    batch_size = min(int(batch_size), next(iter(arrays.values())).shape[0])
    epoch_of = partial(run_epoch if scan is None or scan else run_epoch_steps, loss_fn=loss_fn, optimizer=optimizer,
                       batch_size=batch_size)
    history, opt_state, best_model, best_score = History(), optimizer.init(model), model, None
    bar = None  # a bar over the epochs, unless progress=False, or None while the book builds
    if progress is not False and (progress is not None or not config.book_build()):
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, desc=desc, unit="epoch", leave=True)
    started = time.perf_counter()
    for epoch in range(epochs):
        tick = time.perf_counter()
        epoch_key = jax.random.fold_in(key, epoch)
        new_model, new_state, losses = epoch_of(model, opt_state, epoch_key, arrays)
        if not bool(all_finite((losses, new_model))):  # one reduction and one sync per epoch
            explain_divergence(loss_fn, optimizer, model, opt_state, arrays, epoch_key, batch_size, epoch,
                               np.asarray(losses), new_model)
        model, opt_state = new_model, new_state
        history.train_loss.append(float(np.asarray(losses).mean()))
        postfix = {"loss": f"{history.train_loss[-1]:.4f}"}
        if validate is None:
            best_model, history.best_epoch = model, epoch
        else:
            score = _monitored(history, validate(model), monitor, epoch)
            postfix[history.monitor] = f"{score:.4f}"
            if best_score is None or (score > best_score if mode == "max" else score < best_score):
                best_model, best_score, history.best_epoch = model, score, epoch
        history.seconds.append(time.perf_counter() - tick)
        if bar is not None:
            bar.set_postfix(postfix)
            bar.update(1)
        if patience is not None and epoch - history.best_epoch >= patience:
            history.stopped_early = True
            break
    if bar is not None:
        bar.close()
    elif progress is None:  # the book build: one line instead of a progress bar
        line = (f"{desc}: {history.epochs} epochs in {time.perf_counter() - started:.1f} s, final training loss "
                f"{history.train_loss[-1]:.4f}")
        if history.monitor:
            best = history.valid[history.best_epoch][history.monitor]
            line += f"; best validation {history.monitor} {best:.4f} at epoch {history.best_epoch + 1}"
        print(line + (" (stopped early)" if history.stopped_early else ""))
    return (best_model if keep == "best" else model), history
