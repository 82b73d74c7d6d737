"""The few matplotlib helpers the chapters share: the book's style, a long tail, a training history.

Figures in the book should look alike and be byte-for-byte reproducible (the
website's execution cache and the slider frames depend on it), so every
chapter starts with :func:`use_book_style`.
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

from recsys_lite._checks import as_array, check_finite, check_ndim, check_nonempty, check_positive, check_str, describe
from recsys_lite.train import History

__all__ = ["BOOK_STYLE", "use_book_style", "long_tail", "history"]

BOOK_STYLE = {
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": "medium",
    "font.family": "DejaVu Sans",
    "svg.hashsalt": "recsys-lite",   # deterministic ids in SVG output
    "svg.fonttype": "none",
}


def use_book_style() -> None:
    """Apply the book's matplotlib style and SVG-then-PNG inline figures."""
    mpl.rcParams.update(BOOK_STYLE)
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("svg")
    except ImportError:  # outside IPython there is nothing to configure
        pass


def long_tail(ax: plt.Axes, counts, *, label: str | None = None, head_share: float = 0.2) -> float:
    """Plot interactions per item, most popular first, on a log scale.

    ``counts``: ``(n_items,)`` interactions per item, finite and ≥ 0; the first
    ``head_share`` ∈ (0, 1] of the items, the head, is shaded. Returns the share
    of all interactions that the head receives.
    """
    if not isinstance(ax, plt.Axes):
        raise TypeError(f"`ax` must be a matplotlib Axes, e.g. from plt.subplots(); got {describe(ax)}.")
    counts = np.asarray(as_array("counts", counts))
    check_ndim("counts", counts, 1, "interactions per item")
    check_nonempty("counts", counts, "item")
    check_finite("counts", counts)
    if counts.min() < 0:
        raise ValueError(f"`counts` must be >= 0 (interactions per item); got {counts.min()}.")
    check_str("label", label, allow_none=True)
    check_positive("head_share", head_share)
    if not head_share <= 1:
        raise ValueError(f"`head_share` must be in (0, 1], the share of items called the head; got {head_share!r}.")
    counts = np.sort(counts)[::-1]
    ranks = np.arange(1, len(counts) + 1)
    ax.plot(ranks, np.maximum(counts, 0.8), label=label)
    ax.set_yscale("log")
    head = int(round(head_share * len(counts)))
    ax.axvspan(1, head, alpha=0.12, color="C1")
    ax.set_xlabel("item rank by popularity")
    ax.set_ylabel("interactions (log scale)")
    return float(counts[:head].sum() / max(counts.sum(), 1))


def history(history, ax: plt.Axes | None = None, *, label: str | None = None) -> plt.Axes:
    """Draw a :class:`~recsys_lite.train.History`: the training loss per epoch (left axis), and
    the monitored validation metric (right axis) with a dotted line at the best epoch.

    ``history`` is what :func:`~recsys_lite.train.fit` returned beside the model;
    ``ax`` None draws on a new 6 × 3 inch figure; ``label`` names the loss curve
    (default ``"training loss"``). Returns ``ax``, the axes of the loss; the
    metric's are ``ax.figure.axes[-1]``.
    """
    if not isinstance(history, History):
        raise TypeError(f"`history` must be the History that train.fit returned; got {describe(history)}.")
    if ax is not None and not isinstance(ax, plt.Axes):
        raise TypeError(f"`ax` must be a matplotlib Axes or None; got {describe(ax)}.")
    check_str("label", label, allow_none=True)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3))
    epochs = np.arange(1, history.epochs + 1)
    ax.plot(epochs, history.train_loss, color="C0", label=label or "training loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss", color="C0")
    if history.monitor is not None:
        right = ax.twinx()
        right.plot(epochs, history.metric(history.monitor), color="C1", marker=".", label=history.monitor)
        right.set_ylabel(f"validation {history.monitor}", color="C1")
        right.axvline(history.best_epoch + 1, color="C1", ls=":", lw=1)
        right.grid(False)
    return ax
