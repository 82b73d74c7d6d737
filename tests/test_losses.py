"""Losses: hand-derived gradients vs jax.grad, values vs optax and numpy, extremes, bad input."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from recsys_lite import losses

# float32 throughout. A loss and its gradient computed two ways (ours and
# optax's or jax.grad's) differ only in the order of a few float32 operations,
# i.e. by a few units in the last place (2**-23 ≈ 1.2e-7 relative); 1e-6
# leaves room for a mean over a few hundred elements.
RTOL = 1e-6


def assert_grad_close(actual, desired):
    """Entries agree to RTOL relative to the largest entry of ``desired``.

    A gradient entry such as (σ(s) − y)/m is a difference of terms of size up
    to 1/m; when they nearly cancel, the rounding error (an ulp of the terms)
    is large relative to the small result but not relative to 1/m. So the
    absolute tolerance scales with the gradient's own size.
    """
    desired = np.asarray(desired)
    np.testing.assert_allclose(actual, desired, rtol=RTOL, atol=RTOL * np.abs(desired).max())

# Each case pairs a seed with a shape: vectors, matrices and 3-d batches all get tested.
CASES = [(0, (7,)), (1, (4, 5)), (2, (2, 3, 6)), (3, (16,))]
SHAPES = [shape for _, shape in CASES]


# Inputs come from numpy's generator (fast for any shape; jax.random would
# compile anew for every shape) and enter the losses as float32 jax arrays.

def _normal(rng, shape, scale=1.0):
    return jnp.asarray(scale * rng.standard_normal(shape), jnp.float32)


def _regression_inputs(rng, shape):
    return _normal(rng, shape, 2.0), _normal(rng, shape, 2.0)


def _bce_inputs(rng, shape):
    return _normal(rng, shape, 3.0), jnp.asarray(rng.uniform(size=shape), jnp.float32)  # soft labels in [0, 1)


def _bpr_inputs(rng, shape):
    return _normal(rng, shape, 3.0), _normal(rng, shape, 3.0)


def _softmax_inputs(rng, shape):
    return _normal(rng, shape, 3.0), jnp.asarray(rng.integers(0, shape[-1], size=shape[:-1]), jnp.int32)


# name -> (loss, hand-derived gradient, input maker)
LOSSES = {
    "mse": (losses.mse, losses.mse_grad, _regression_inputs),
    "mean_squared_error": (losses.mean_squared_error, losses.mean_squared_error_grad, _regression_inputs),
    "mae": (losses.mae, losses.mae_grad, _regression_inputs),
    "huber": (losses.huber, losses.huber_grad, _regression_inputs),
    "huber_delta_0.3": (
        functools.partial(losses.huber, delta=0.3),
        functools.partial(losses.huber_grad, delta=0.3),
        _regression_inputs,
    ),
    "bce": (losses.binary_cross_entropy_with_logits, losses.binary_cross_entropy_with_logits_grad, _bce_inputs),
    "bpr": (losses.bpr, losses.bpr_grad, _bpr_inputs),
    "softmax_ce": (losses.softmax_cross_entropy, losses.softmax_cross_entropy_grad, _softmax_inputs),
}


@pytest.mark.parametrize("seed, shape", CASES)
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_hand_derived_gradient_equals_jax_grad(name, seed, shape):
    loss, hand_grad, make_inputs = LOSSES[name]
    first, second = make_inputs(np.random.default_rng(seed), shape)
    # jitted: one compilation per case instead of one per operation (faster)
    assert_grad_close(jax.jit(hand_grad)(first, second), jax.jit(jax.grad(loss))(first, second))


@pytest.mark.parametrize("shape", SHAPES)
def test_bpr_gradient_with_respect_to_negatives_is_the_opposite(shape):
    pos, neg = _bpr_inputs(np.random.default_rng(3), shape)
    assert_grad_close(jax.grad(losses.bpr, argnums=1)(pos, neg), -losses.bpr_grad(pos, neg))


def test_l2_penalty_gradient_equals_jax_grad():
    rng = np.random.default_rng(0)
    params = {"w": _normal(rng, (3, 4)), "rest": (_normal(rng, (5,)), [jnp.float32(2.0)])}
    auto = jax.grad(losses.l2_penalty)(params, 0.3)
    hand = losses.l2_penalty_grad(params, 0.3)
    for a, h in zip(jax.tree_util.tree_leaves(auto), jax.tree_util.tree_leaves(hand)):
        assert_grad_close(h, a)


# --- values against optax and numpy -------------------------------------------

OPTAX_COUNTERPARTS = {
    "mse": (losses.mse, optax.l2_loss, _regression_inputs),  # optax.l2_loss is ½(ŷ − y)²
    "mean_squared_error": (losses.mean_squared_error, optax.squared_error, _regression_inputs),
    "huber": (losses.huber, optax.huber_loss, _regression_inputs),
    "huber_delta_0.3": (
        functools.partial(losses.huber, delta=0.3),
        functools.partial(optax.huber_loss, delta=0.3),
        _regression_inputs,
    ),
    "bce": (losses.binary_cross_entropy_with_logits, optax.sigmoid_binary_cross_entropy, _bce_inputs),
    "softmax_ce": (
        losses.softmax_cross_entropy,
        optax.softmax_cross_entropy_with_integer_labels,
        _softmax_inputs,
    ),
}


@pytest.mark.parametrize("seed, shape", CASES)
@pytest.mark.parametrize("name", sorted(OPTAX_COUNTERPARTS))
def test_loss_equals_mean_of_optax_counterpart(name, seed, shape):
    ours, theirs, make_inputs = OPTAX_COUNTERPARTS[name]
    first, second = make_inputs(np.random.default_rng(seed), shape)
    np.testing.assert_allclose(ours(first, second), jnp.mean(theirs(first, second)), rtol=RTOL)


@pytest.mark.parametrize("seed, shape", CASES)
def test_mae_and_bpr_equal_numpy_float64(seed, shape):
    pred, target = (np.asarray(a, np.float64) for a in _regression_inputs(np.random.default_rng(seed), shape))
    np.testing.assert_allclose(losses.mae(pred, target), np.mean(np.abs(pred - target)), rtol=RTOL)
    pos, neg = (np.asarray(a, np.float64) for a in _bpr_inputs(np.random.default_rng(seed), shape))
    sigmoid = 1 / (1 + np.exp(-(pos - neg)))
    np.testing.assert_allclose(losses.bpr(pos, neg), np.mean(-np.log(sigmoid)), rtol=RTOL)


def test_mse_hand_worked():
    # (0² + 1² + 2²) / (2 · 3) = 5/6, and the gradient (ŷ − y)/m = [0, 1, 2]/3
    assert float(losses.mse([1.0, 2.0, 3.0], [1.0, 1.0, 1.0])) == pytest.approx(5 / 6, rel=RTOL)
    np.testing.assert_allclose(losses.mse_grad(jnp.array([1.0, 2.0, 3.0]), jnp.ones(3)), [0, 1 / 3, 2 / 3], rtol=RTOL)
    assert float(losses.mean_squared_error([1.0, 2.0, 3.0], [1.0, 1.0, 1.0])) == pytest.approx(5 / 3, rel=RTOL)


def test_huber_hand_worked():
    # errors 0.5 (quadratic: ½·0.25) and 3 (linear: 1·(3 − ½)), δ = 1
    assert float(losses.huber([0.5, 3.0], [0.0, 0.0])) == pytest.approx((0.125 + 2.5) / 2, rel=RTOL)


def test_l2_penalty_hand_worked():
    params = {"w": jnp.array([1.0, 2.0]), "b": (jnp.array(3.0),)}
    assert float(losses.l2_penalty(params, 0.1)) == pytest.approx(0.1 * 0.5 * (1 + 4 + 9), rel=RTOL)


def test_losses_work_under_jit():
    pred, target = _regression_inputs(np.random.default_rng(0), (4, 5))
    np.testing.assert_allclose(jax.jit(losses.mse)(pred, target), losses.mse(pred, target), rtol=RTOL)
    logits, labels = _softmax_inputs(np.random.default_rng(0), (4, 5))
    np.testing.assert_allclose(
        jax.jit(losses.softmax_cross_entropy)(logits, labels), losses.softmax_cross_entropy(logits, labels), rtol=RTOL
    )
    pred, target = _regression_inputs(np.random.default_rng(1), (6,))  # δ traced, as a jit argument
    np.testing.assert_allclose(jax.jit(losses.huber)(pred, target, 0.5), losses.huber(pred, target, 0.5), rtol=RTOL)


# --- extreme scores -----------------------------------------------------------

EXTREMES = np.array([1e4, -1e4, 1e3, -1e3, 0.0, 30.0, -30.0], np.float32)


def _softplus64(x):
    return np.logaddexp(0.0, np.asarray(x, np.float64))


def test_bce_extreme_logits_are_finite_and_right():
    logits = jnp.asarray(np.concatenate([EXTREMES, EXTREMES]))
    labels = jnp.asarray(np.repeat([0.0, 1.0], EXTREMES.size).astype(np.float32))
    value = losses.binary_cross_entropy_with_logits(logits, labels)
    grad = jax.grad(losses.binary_cross_entropy_with_logits)(logits, labels)
    assert np.isfinite(value) and np.isfinite(grad).all()
    # BCE = softplus(s) − s·y, evaluated in float64 by numpy
    expected = np.mean(_softplus64(logits) - np.float64(1) * np.asarray(logits, np.float64) * np.asarray(labels))
    np.testing.assert_allclose(value, expected, rtol=RTOL)
    assert_grad_close(grad, losses.binary_cross_entropy_with_logits_grad(logits, labels))


def test_bce_gradient_at_zero_logit_is_sigmoid_minus_label():
    # σ(0) − y = ½ − y: where max(s, 0) and |s| have kinks, autodiff must still be right.
    grad = jax.grad(losses.binary_cross_entropy_with_logits)(jnp.zeros(2), jnp.array([0.0, 1.0]))
    np.testing.assert_allclose(grad, [0.5 / 2, -0.5 / 2], rtol=RTOL)


def test_bpr_extreme_scores_are_finite_and_right():
    pos = jnp.asarray(EXTREMES)
    neg = -pos[::-1]
    value = losses.bpr(pos, neg)
    grads = jax.grad(losses.bpr, argnums=(0, 1))(pos, neg)
    assert np.isfinite(value) and all(np.isfinite(g).all() for g in grads)
    expected = np.mean(_softplus64(np.asarray(neg, np.float64) - np.asarray(pos, np.float64)))
    np.testing.assert_allclose(value, expected, rtol=RTOL)


def test_softmax_cross_entropy_extreme_logits_are_finite_and_right():
    logits = jnp.asarray(np.stack([EXTREMES, EXTREMES[::-1], -EXTREMES]))
    labels = jnp.array([1, 0, 4])
    value = losses.softmax_cross_entropy(logits, labels)
    grad = jax.grad(losses.softmax_cross_entropy)(logits, labels)
    assert np.isfinite(value) and np.isfinite(grad).all()
    x = np.asarray(logits, np.float64)
    top = x.max(axis=1)
    log_sum_exp = top + np.log(np.exp(x - top[:, None]).sum(axis=1))
    expected = np.mean(log_sum_exp - x[np.arange(3), np.asarray(labels)])
    np.testing.assert_allclose(value, expected, rtol=RTOL)
    assert_grad_close(grad, losses.softmax_cross_entropy_grad(logits, labels))


# --- bad input ------------------------------------------------------------------

@pytest.mark.parametrize("name", ["mse", "mean_squared_error", "mae", "huber"])
def test_regression_losses_reject_mismatched_shapes(name):
    loss, hand_grad, _ = LOSSES[name]
    for fn in (loss, hand_grad):
        with pytest.raises(ValueError, match=r"`pred` and `target` must have the same shape; got \(3,\) and \(2, 3\)"):
            fn(jnp.zeros(3), jnp.zeros((2, 3)))


def test_mismatched_shapes_fail_under_jit_too():
    with pytest.raises(ValueError,
                       match=r"`pos_scores` and `neg_scores` must have the same shape; got \(4,\) and \(5,\)"):
        jax.jit(losses.bpr)(jnp.zeros(4), jnp.zeros(5))


def test_classification_losses_reject_mismatched_shapes():
    with pytest.raises(ValueError, match=r"`logits` and `labels` must have the same shape; got \(4,\) and \(4, 1\)"):
        losses.binary_cross_entropy_with_logits(jnp.zeros(4), jnp.zeros((4, 1)))
    with pytest.raises(ValueError, match=r"`pos_scores` and `neg_scores`.*\(2,\) and \(3,\)"):
        losses.bpr_grad(jnp.zeros(2), jnp.zeros(3))


def test_empty_input_is_rejected():
    with pytest.raises(ValueError, match=r"`pred` must hold at least one example; got an array of shape \(0,\)"):
        losses.mse(jnp.zeros(0), jnp.zeros(0))


def test_softmax_cross_entropy_rejects_bad_labels():
    logits = jnp.zeros((4, 6))
    with pytest.raises(ValueError, match=r"`labels` must have shape \(4,\) .*got an array of shape \(4, 1\)"):
        losses.softmax_cross_entropy(logits, jnp.zeros((4, 1), jnp.int32))
    with pytest.raises(TypeError,
                       match=r"`labels` must hold integer item ids; got an array of shape \(4,\) and dtype float32"):
        losses.softmax_cross_entropy(logits, jnp.zeros(4))
    with pytest.raises(ValueError, match=r"`labels` holds .*out of range: expected 0 <= id < 6"):
        losses.softmax_cross_entropy_grad(logits, jnp.array([0, 1, 6, 2]))
    with pytest.raises(ValueError, match=r"`logits` must have shape \(\.\.\., n_items\)"):
        losses.softmax_cross_entropy(jnp.float32(1.0), jnp.int32(0))


@pytest.mark.parametrize("delta", [0.0, -1.0, float("nan")])
def test_huber_rejects_non_positive_delta(delta):
    with pytest.raises(ValueError, match=r"`delta` must be a finite number > 0; got"):
        losses.huber(jnp.zeros(3), jnp.zeros(3), delta=delta)


def test_l2_penalty_rejects_negative_weight():
    with pytest.raises(ValueError, match=r"`weight` must be a finite number >= 0; got -0.5"):
        losses.l2_penalty({"w": jnp.ones(2)}, -0.5)


def test_softmax_cross_entropy_where_averages_only_the_real_rows():
    rng = np.random.default_rng(11)
    logits = jnp.asarray(rng.normal(size=(3, 4, 6)), jnp.float32)
    labels = jnp.asarray(rng.integers(0, 6, size=(3, 4)))
    where = jnp.asarray(rng.random((3, 4)) < 0.6).at[0, 0].set(True)
    padded_labels = jnp.where(where, labels, 99)  # out-of-range labels on masked rows are ignored
    ours = losses.softmax_cross_entropy(logits, padded_labels, where=where)
    reference = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    assert np.allclose(ours, np.asarray(reference)[np.asarray(where)].mean(), rtol=1e-6)
    with pytest.raises(ValueError, match="`where` and `labels` must have the same shape"):
        losses.softmax_cross_entropy(logits, labels, where=where[:2])
