"""Loss functions J(θ), and their gradients derived by hand.

Notation (book/notation.md): predictions ŷ_i = h_θ(x_i), targets y_i,
m examples (every element of ``pred`` counts as one example), J(θ) the loss.
For classifiers the prediction is a score (logit) s_i and σ(s) = 1/(1+e^{-s}).

Every loss is a pure function of JAX arrays: it works under ``jax.jit`` and
``jax.grad``. Shapes and dtypes are checked even while tracing; values (NaN/inf,
label ids, δ, λ) whenever they are known, i.e. outside jit. Non-numeric input
raises ``TypeError``; mismatched shapes, no examples, NaN/inf or values out of
range raise ``ValueError``, naming the argument.

Beside each loss sits ``<loss>_grad``: ∂J/∂(first argument), written exactly
as the chapter derives it. The tests check each one against ``jax.grad``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from recsys_lite._checks import (
    as_array,
    check_finite,
    check_ids,
    check_nonempty,
    check_positive,
    check_same_shape,
    describe,
    is_traced,
)

__all__ = [
    "mse", "mse_grad", "mean_squared_error", "mean_squared_error_grad", "mae", "mae_grad", "huber", "huber_grad",
    "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_grad", "bpr", "bpr_grad",
    "softmax_cross_entropy", "softmax_cross_entropy_grad", "l2_penalty", "l2_penalty_grad",
]

# --- input checks --------------------------------------------------------------

def _pair(name_a: str, a: Any, name_b: str, b: Any) -> tuple[jax.Array, jax.Array]:
    """Return ``a`` and ``b`` as arrays after checking: numbers, one shape, m > 0, finite when known."""
    a, b = jnp.asarray(as_array(name_a, a)), jnp.asarray(as_array(name_b, b))
    check_same_shape(name_a, a, name_b, b)
    check_nonempty(name_a, a, "example")
    check_finite(name_a, a)
    check_finite(name_b, b)
    return a, b


def _probabilities(name: str, labels: jax.Array) -> None:
    """Raise unless known ``labels`` lie in [0, 1] (binary labels or soft targets)."""
    if not is_traced(labels):
        values = np.asarray(labels)
        if values.size and (values.min() < 0 or values.max() > 1):
            raise ValueError(f"`{name}` must lie in [0, 1] (0/1 labels or probabilities); got values from "
                             f"{values.min()} to {values.max()}.")


def _class_labels(logits: Any, labels: Any) -> tuple[jax.Array, jax.Array]:
    """Return ``logits`` (..., n) and integer ``labels`` (...) as arrays after checking them."""
    logits, labels = jnp.asarray(as_array("logits", logits)), jnp.asarray(as_array("labels", labels))
    if logits.ndim < 1:
        raise ValueError(f"`logits` must have shape (..., n_items), at least 1 dimension; got {describe(logits)}.")
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        raise TypeError(f"`labels` must hold integer item ids; got {describe(labels)}.")
    if labels.shape != logits.shape[:-1]:
        raise ValueError(f"`labels` must have shape {logits.shape[:-1]} (the leading dimensions of `logits` "
                         f"{logits.shape}); got {describe(labels)}.")
    check_nonempty("labels", labels, "example")
    check_ids("labels", labels, logits.shape[-1], "items")  # values only when known (outside jit)
    check_finite("logits", logits)
    return logits, labels


# --- regression -------------------------------------------------------------

def mse(pred, target):
    """Mean squared error, the book's seed form with the ½: J(θ) = 1/(2m) Σ_i (ŷ_i − y_i)².

    pred, target: same shape, m = size. The ½ cancels the 2 of the derivative: ∂J/∂ŷ_i = (ŷ_i − y_i)/m.
    """
    pred, target = _pair("pred", pred, "target", target)
    return 0.5 * jnp.mean((pred - target) ** 2)


def mse_grad(pred, target):
    """∂J/∂ŷ_i = (ŷ_i − y_i)/m for J = 1/(2m) Σ (ŷ_i − y_i)². Shape of ``pred``."""
    pred, target = _pair("pred", pred, "target", target)
    return (pred - target) / pred.size


def mean_squared_error(pred, target):
    """Plain mean squared error, without the ½: J(θ) = 1/m Σ_i (ŷ_i − y_i)²; pred, target: same shape, m = size."""
    pred, target = _pair("pred", pred, "target", target)
    return jnp.mean((pred - target) ** 2)


def mean_squared_error_grad(pred, target):
    """∂J/∂ŷ_i = 2(ŷ_i − y_i)/m for J = 1/m Σ (ŷ_i − y_i)². Shape of ``pred``."""
    pred, target = _pair("pred", pred, "target", target)
    return 2 * (pred - target) / pred.size


def mae(pred, target):
    """Mean absolute error: J(θ) = 1/m Σ_i |ŷ_i − y_i|; pred, target: same shape, m = size."""
    pred, target = _pair("pred", pred, "target", target)
    return jnp.mean(jnp.abs(pred - target))


def mae_grad(pred, target):
    """∂J/∂ŷ_i = sign(ŷ_i − y_i)/m. Shape of ``pred``.

    At a tie ŷ_i = y_i, |·| has no derivative: any value in [−1/m, 1/m] is a
    subgradient. This returns 0 there; ``jax.grad`` happens to pick +1/m.
    """
    pred, target = _pair("pred", pred, "target", target)
    return jnp.sign(pred - target) / pred.size


def huber(pred, target, delta=1.0):
    """Huber loss: quadratic for small errors, linear for large ones.

    With e_i = ŷ_i − y_i,
        ℓ(e) = ½ e²                 if |e| ≤ δ
        ℓ(e) = δ (|e| − ½ δ)        if |e| > δ
    J(θ) = 1/m Σ_i ℓ(e_i)         pred, target: same shape, m = size; ``delta`` (δ) a number > 0.
    """
    pred, target = _pair("pred", pred, "target", target)
    check_positive("delta", delta)  # a traced δ passes
    abs_error = jnp.abs(pred - target)
    quadratic = jnp.minimum(abs_error, delta)
    linear = abs_error - quadratic
    return jnp.mean(0.5 * quadratic**2 + delta * linear)


def huber_grad(pred, target, delta=1.0):
    """∂J/∂ŷ_i = clip(ŷ_i − y_i, −δ, δ)/m. Shape of ``pred``."""
    pred, target = _pair("pred", pred, "target", target)
    check_positive("delta", delta)  # a traced δ passes
    return jnp.clip(pred - target, -delta, delta) / pred.size


# --- classification and ranking ---------------------------------------------

def binary_cross_entropy_with_logits(logits, labels):
    """Binary cross-entropy of scores s_i against labels y_i ∈ [0, 1].

    J(θ) = −1/m Σ_i [y_i log σ(s_i) + (1 − y_i) log(1 − σ(s_i))]
         =  1/m Σ_i [softplus(s_i) − s_i y_i],
    where softplus(s) = log(1 + eˢ) = max(s, 0) + log(1 + e^{−|s|}): the last form never exponentiates a
    large positive number, so J stays finite for any finite score (``jax.nn.softplus`` computes it that way,
    and its derivative σ(s) is right at s = 0, where max and |·| have a kink). logits, labels: same shape, m = size.
    """
    logits, labels = _pair("logits", logits, "labels", labels)
    _probabilities("labels", labels)
    return jnp.mean(jax.nn.softplus(logits) - logits * labels)


def binary_cross_entropy_with_logits_grad(logits, labels):
    """∂J/∂s_i = (σ(s_i) − y_i)/m. Shape of ``logits``."""
    logits, labels = _pair("logits", logits, "labels", labels)
    _probabilities("labels", labels)
    return (jax.nn.sigmoid(logits) - labels) / logits.size


def bpr(pos_scores, neg_scores):
    """Bayesian personalised ranking: a seen item should outscore an unseen one.

    J(θ) = −1/m Σ_i log σ(s⁺_i − s⁻_i) = 1/m Σ_i softplus(−(s⁺_i − s⁻_i)),
    with softplus(x) = log(1 + eˣ) computed stably.
    pos_scores, neg_scores: same shape, one (positive, negative) pair per element.
    """
    pos_scores, neg_scores = _pair("pos_scores", pos_scores, "neg_scores", neg_scores)
    return jnp.mean(jax.nn.softplus(neg_scores - pos_scores))


def bpr_grad(pos_scores, neg_scores):
    """∂J/∂s⁺_i = −σ(s⁻_i − s⁺_i)/m = (σ(s⁺_i − s⁻_i) − 1)/m; ∂J/∂s⁻_i is its negative."""
    pos_scores, neg_scores = _pair("pos_scores", pos_scores, "neg_scores", neg_scores)
    return -jax.nn.sigmoid(neg_scores - pos_scores) / pos_scores.size


def softmax_cross_entropy(logits, labels, where=None):
    """Softmax cross-entropy over all items, with integer labels.

    For row i with scores s_i ∈ ℝⁿ and true item y_i,
        J(θ) = 1/m Σ_i [log Σ_j e^{s_ij} − s_{i,y_i}],
    the log-sum-exp taken stably (shifted by max_j s_ij).
    logits: (..., n_items) float; labels: (...) int in [0, n_items); m = number of rows (product of the
    leading dimensions). ``where``: optional boolean mask shaped like ``labels``; only rows where it is True
    count, and m is their number (e.g. the real, unpadded steps of padded sequences; their labels are ignored).
    """
    if where is not None:
        where = as_array("where", where)
        if not (jnp.issubdtype(where.dtype, jnp.bool_) or jnp.issubdtype(where.dtype, jnp.integer)):
            raise TypeError(f"`where` must be a boolean mask; got {describe(where)}.")
        where = jnp.asarray(where, bool)
        labels = as_array("labels", labels)
        check_same_shape("where", where, "labels", labels)
        if not is_traced(where) and not bool(where.any()):
            raise ValueError("`where` must keep at least one row; it is False everywhere.")
        labels = jnp.where(where, labels, 0)
    logits, labels = _class_labels(logits, labels)
    per_row = jax.nn.logsumexp(logits, axis=-1) - jnp.take_along_axis(logits, labels[..., None], axis=-1)[..., 0]
    if where is None:
        return jnp.mean(per_row)
    return jnp.sum(jnp.where(where, per_row, 0.0)) / jnp.maximum(jnp.sum(where), 1)


def softmax_cross_entropy_grad(logits, labels):
    """∂J/∂s_ij = (softmax(s_i)_j − [j = y_i])/m. Shape of ``logits``."""
    logits, labels = _class_labels(logits, labels)
    one_hot = jax.nn.one_hot(labels, logits.shape[-1], dtype=logits.dtype)
    m = logits.size // logits.shape[-1]
    return (jax.nn.softmax(logits, axis=-1) - one_hot) / m


# --- regularisation ---------------------------------------------------------

def l2_penalty(params, weight):
    """L2 penalty over every leaf of a pytree, with the ½ convention; a scalar.

    R(θ) = ½ λ ‖θ‖² = ½ λ Σ_leaves Σ_k θ_k²      (λ = ``weight`` ≥ 0); its gradient is simply λθ.
    """
    _check_params(params, weight)
    squares = [jnp.sum(leaf**2) for leaf in jax.tree_util.tree_leaves(params)]
    return 0.5 * weight * sum(squares)


def l2_penalty_grad(params, weight):
    """∂R/∂θ = λθ for R = ½ λ ‖θ‖². A pytree shaped like ``params``."""
    _check_params(params, weight)
    return jax.tree_util.tree_map(lambda leaf: weight * leaf, params)


def _check_params(params, weight) -> None:
    """``weight`` must be a number >= 0, and every leaf of ``params`` an array of numbers."""
    check_positive("weight", weight, allow_zero=True)
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        as_array(f"params{jax.tree_util.keystr(path)}", leaf)
