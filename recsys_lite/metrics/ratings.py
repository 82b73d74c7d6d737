"""Rating prediction (explicit feedback), over m test pairs:

    RMSE = sqrt( 1/m Σ (r̂_ui − r_ui)² )        MAE = 1/m Σ |r̂_ui − r_ui|

Both raise ``TypeError`` for non-numeric input and ``ValueError`` for
different shapes, no predictions, or NaN/inf in ``pred`` or ``target``.
"""

from __future__ import annotations

import numpy as np

from recsys_lite._checks import as_array, check_finite, check_nonempty, check_same_shape

__all__ = ["rmse", "mae"]


def _predictions(pred, target) -> tuple[np.ndarray, np.ndarray]:
    """``pred`` and ``target`` as float64 arrays, after checking: numbers, one shape, non-empty, finite."""
    pred = np.asarray(as_array("pred", pred), np.float64)
    target = np.asarray(as_array("target", target), np.float64)
    check_same_shape("pred", pred, "target", target)
    check_nonempty("pred", pred, "prediction")
    check_finite("pred", pred)
    check_finite("target", target)
    return pred, target


def rmse(pred, target) -> float:
    """Root mean squared error, sqrt(1/m Σ (r̂ − r)²); ``pred``, ``target``: shape (m,)."""
    pred, target = _predictions(pred, target)
    return float(np.sqrt(np.mean((pred - target) ** 2)))


def mae(pred, target) -> float:
    """Mean absolute error, 1/m Σ |r̂ − r|; ``pred``, ``target``: shape (m,)."""
    pred, target = _predictions(pred, target)
    return float(np.mean(np.abs(pred - target)))
