"""A linear blend of rating models, its weights fitted on held-out predictions (chapter 5).

The Netflix Prize's lesson {Töscher et al. 2009; Koren 2009}: the winning
entries were blends of many models, each combined with weights fitted by
(ridge) least squares on a *probe* set that no model had trained on. Fitting
the weights on the models' own training ratings would favour the model that
memorised them best, not the one that generalises.
"""

from __future__ import annotations

import numpy as np

from recsys_lite._checks import as_array, check_finite, check_positive, describe
from recsys_lite._pytree import pytree_dataclass

__all__ = ["Blend"]


def _design(name: str, predictions, n_members: int | None = None) -> np.ndarray:
    """(m, k) float64 matrix of k members' predictions, checked."""
    x = as_array(name, predictions)
    if np.ndim(x) != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"`{name}` must be a non-empty (m, k) matrix: one row per rating, one column per model; "
                         f"got {describe(x)}.")
    if n_members is not None and x.shape[1] != n_members:
        raise ValueError(f"`{name}` must have one column per member of the blend, {n_members}; got {describe(x)}.")
    check_finite(name, x)
    return np.asarray(x, np.float64)


@pytree_dataclass
class Blend:
    """r̂ = w_0 + Σ_k w_k r̂_k: ``intercept`` w_0 () and ``weights`` w (k,), one per member model.

    Fitted by :meth:`fit`, ridge least squares with an unpenalised intercept on
    held-out (validation) predictions X (m, k) of the k members and the true
    ratings r (m,):

        (w_0, w) = argmin ‖r − w_0 − X w‖² + α ‖w‖²,

    solved on centred data, w = (X_cᵀX_c + α I)⁻¹ X_cᵀ r_c (by least squares on
    [X_c; √α I] w ≈ [r_c; 0]), with
    X_c = X − x̄, r_c = r − r̄, and w_0 = r̄ − x̄ w. ``α = 0`` is ordinary least squares.
    """

    intercept: np.ndarray
    weights: np.ndarray

    @classmethod
    def fit(cls, predictions, ratings, *, ridge: float = 0.0) -> Blend:
        """Weights for the members' ``predictions`` (m, k) of ``ratings`` (m,), penalty ``ridge`` = α ≥ 0.

        Raises ``TypeError``/``ValueError`` for predictions that are not a non-empty finite (m, k) matrix,
        ratings not finite and of length m, or a negative ``ridge``.
        """
        x = _design("predictions", predictions)
        r = as_array("ratings", ratings)
        if np.ndim(r) != 1 or r.shape[0] != x.shape[0]:
            raise ValueError(f"`ratings` must be a (m,) vector with one entry per row of `predictions` "
                             f"(m = {x.shape[0]}); got {describe(r)}.")
        check_finite("ratings", r)
        check_positive("ridge", ridge, allow_zero=True)
        r = np.asarray(r, np.float64)
        x_mean, r_mean = x.mean(axis=0), r.mean()
        xc, rc = x - x_mean, r - r_mean
        k = x.shape[1]  # least squares on [X_c; √α I] w ≈ [r_c; 0]: the ridge solution, and a stable one at α = 0
        augmented = np.vstack([xc, np.sqrt(ridge) * np.eye(k)])
        weights = np.linalg.lstsq(augmented, np.concatenate([rc, np.zeros(k)]), rcond=None)[0]
        return cls(np.asarray(r_mean - x_mean @ weights), weights)

    def predict(self, predictions, *, low: float = 1.0, high: float = 5.0) -> np.ndarray:
        """w_0 + X w for the members' ``predictions`` X (m, k), clipped to [low, high]: (m,).

        Raises ``TypeError``/``ValueError`` unless X is a finite (m, k) matrix with k the number of weights.
        """
        x = _design("predictions", predictions, len(self.weights))
        return np.clip(self.intercept + x @ self.weights, low, high)
