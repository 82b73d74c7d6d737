"""Optimizers, transformations and schedules by hand, jittable, bad input (against optax: test_optim_optax.py)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from recsys_lite import optim

RTOL = 1e-6  # float32 throughout
ADAM_ATOL = 5e-7  # see test_optim_optax.py

# A dict holding a tuple holding a dict and a list: leaves of shapes (5,3), (3,4), (4,), (2,), ().
_draw = np.random.default_rng(0).standard_normal
PARAMS = {"embed": _draw((5, 3)), "mlp": ({"w": _draw((3, 4)), "b": _draw(4)}, [_draw(2), _draw(())])}
PARAMS = jax.tree_util.tree_map(lambda leaf: jnp.asarray(leaf, jnp.float32), PARAMS)


def _loss(params):
    """J(θ) = Σ_k (θ_k − 1)² + 0.1 θ_k⁴."""
    return sum(jnp.sum((theta - 1) ** 2 + 0.1 * theta**4) for theta in jax.tree_util.tree_leaves(params))


_grad = jax.jit(jax.grad(_loss))


def _flat(tree):
    return np.concatenate([np.ravel(leaf) for leaf in jax.tree_util.tree_leaves(tree)])


# --- hand-worked steps (independent of optax) --------------------------------------

def test_sgd_hand_worked():
    opt = optim.sgd(0.1)
    params, grads = {"w": jnp.array([1.0, -2.0])}, {"w": jnp.array([2.0, 4.0])}
    updates, _ = opt.update(grads, opt.init(params))
    # θ − α ∇J = [1 − 0.2, −2 − 0.4]
    np.testing.assert_allclose(optim.apply_updates(params, updates)["w"], [0.8, -2.4], rtol=RTOL)


def test_momentum_hand_worked():
    opt = optim.momentum(0.1, beta=0.5)
    state = opt.init(jnp.zeros(1))
    first, state = opt.update(jnp.array([1.0]), state)  # m_1 = 1
    second, state = opt.update(jnp.array([1.0]), state)  # m_2 = 0.5·1 + 1
    np.testing.assert_allclose([first[0], second[0]], [-0.1, -0.15], rtol=RTOL)


def test_adam_first_step_is_learning_rate_times_sign():
    # m̂_1 = g and v̂_1 = g², so the first step is −α g / (|g| + ε) ≈ −α sign(g).
    # β₁ = 0.5 and β₂ = 0.75 are exact in float32. (With β₂ = 0.999, float32
    # rounds 1 − β₂ and 1 − β₂¹ differently, and v̂_1 = g²·(1 + 1.3e-5): optax too.)
    opt = optim.adam(0.01, b1=0.5, b2=0.75)
    grads = np.array([3.0, -0.5, 1e-3])
    updates, _ = opt.update(jnp.asarray(grads, jnp.float32), opt.init(jnp.zeros(3)))
    np.testing.assert_allclose(updates, -0.01 * grads / (np.abs(grads) + 1e-8), rtol=RTOL)


def test_adagrad_hand_worked():
    # G_1 = 0.1 + 2² = 4.1, u_1 = −α g / √(G_1 + ε); then G_2 = 4.1 + 1 = 5.1.
    opt = optim.adagrad(0.5)
    state = opt.init(jnp.zeros(1))
    first, state = opt.update(jnp.array([2.0]), state)
    second, state = opt.update(jnp.array([1.0]), state)
    np.testing.assert_allclose([first[0], second[0]], [-0.5 * 2 / math.sqrt(4.1), -0.5 / math.sqrt(5.1)], rtol=RTOL)
    np.testing.assert_allclose(state[0].sum_of_squares, [5.1], rtol=RTOL)


def test_rmsprop_and_adamw_hand_worked():
    # v_1 = (1 − ρ) g² = 0.1·4 → u_1 = −α g / √(0.4 + ε)
    rms, _ = optim.rmsprop(0.1).update(jnp.array([2.0]), optim.rmsprop(0.1).init(jnp.zeros(1)))
    np.testing.assert_allclose(rms, [-0.1 * 2 / math.sqrt(0.4)], rtol=RTOL)
    # AdamW's first step: −α (sign(g) + λ θ), with β₁, β₂ exact in float32
    opt = optim.adamw(0.01, b1=0.5, b2=0.75, weight_decay=0.1)
    theta = jnp.array([2.0, -1.0])
    updates, _ = opt.update(jnp.array([3.0, 0.5]), opt.init(theta), theta)
    np.testing.assert_allclose(updates, [-0.01 * (1 + 0.2), -0.01 * (1 - 0.1)], rtol=1e-5)


def test_each_optimizer_is_its_chain():
    """A named optimizer and the chain its docstring names take the same steps, bit for bit."""
    pairs = [
        (optim.sgd(0.1, momentum=0.9, nesterov=True), optim.chain(optim.trace(0.9, nesterov=True), optim.scale(-0.1))),
        (optim.adagrad(0.1), optim.chain(optim.scale_by_rss(), optim.scale_by_learning_rate(0.1))),
        (optim.rmsprop(0.1), optim.chain(optim.scale_by_rms(), optim.scale_by_learning_rate(0.1))),
        (optim.adamw(0.1, weight_decay=0.1),
         optim.chain(optim.scale_by_adam(), optim.add_decayed_weights(0.1), optim.scale_by_learning_rate(0.1))),
    ]
    for named, chained in pairs:
        outputs = []
        for opt in (named, chained):
            params, state = PARAMS, opt.init(PARAMS)
            for _ in range(5):
                params, state = optim.step(opt, _grad(params), state, params)
            outputs.append(_flat(params))
        np.testing.assert_array_equal(*outputs)


# --- schedules (against optax: tests/test_optim_optax.py) ------------------------

def test_schedules_hand_worked():
    assert float(optim.step_decay(0.1, 30, 0.5)(65)) == pytest.approx(0.1 * 0.5**2, rel=RTOL)
    assert float(optim.exponential_decay(0.1, 30, 0.5)(15)) == pytest.approx(0.1 * 0.5**0.5, rel=RTOL)
    assert float(optim.linear_warmup(0.0, 0.2, 40)(10)) == pytest.approx(0.05, rel=RTOL)
    assert float(optim.cosine_decay_schedule(0.1, 150, alpha=0.2)(75)) == pytest.approx(0.1 * (1 + 0.2) / 2, rel=RTOL)
    warmup_cosine = optim.warmup_cosine_decay_schedule(0.0, 0.1, 20, 150, end_value=0.01)
    assert float(warmup_cosine(10)) == pytest.approx(0.05, rel=RTOL)
    assert float(warmup_cosine(20)) == pytest.approx(0.1, rel=RTOL)
    assert float(warmup_cosine(150)) == pytest.approx(0.01, rel=RTOL)


# --- jittable, state is a pytree -----------------------------------------------------

ALL_OPTIMIZERS = {
    "sgd": optim.sgd(0.01),
    "sgd_momentum": optim.sgd(0.01, 0.9),
    "adagrad": optim.adagrad(0.1),
    "rmsprop": optim.rmsprop(0.01),
    "adam": optim.adam(optim.warmup_cosine_decay_schedule(0.0, 0.05, 10, 100)),
    "adamw": optim.adamw(0.01),
    "chain": optim.chain(optim.clip_by_global_norm(1.0), optim.adam(0.01)),
}


@pytest.mark.parametrize("name", list(ALL_OPTIMIZERS))
def test_update_is_jittable_and_state_is_a_pytree(name):
    opt = ALL_OPTIMIZERS[name]
    state = opt.init(PARAMS)
    leaves, treedef = jax.tree_util.tree_flatten(state)
    assert all(isinstance(leaf, jax.Array) for leaf in leaves) and (leaves or name == "sgd")  # plain SGD: none
    assert jax.tree_util.tree_unflatten(treedef, leaves) == state
    grads = _grad(PARAMS)
    jitted_updates, jitted_state = jax.jit(opt.update)(grads, state, PARAMS)
    eager_updates, eager_state = opt.update(grads, state, PARAMS)
    assert jax.tree_util.tree_structure(jitted_state) == treedef == jax.tree_util.tree_structure(eager_state)
    np.testing.assert_allclose(_flat(jitted_updates), _flat(eager_updates), rtol=RTOL, atol=ADAM_ATOL)
    assert jax.tree_util.tree_structure(jitted_updates) == jax.tree_util.tree_structure(PARAMS)


def test_adamw_update_needs_params():
    opt = optim.adamw(0.01)
    with pytest.raises(ValueError, match=r"needs `params`"):
        opt.update(PARAMS, opt.init(PARAMS))


# --- bad hyperparameters ---------------------------------------------------------------

BAD = [
    (lambda: optim.sgd(-0.1), ValueError, r"`learning_rate` must be a finite number >= 0; got -0.1"),
    (lambda: optim.adam(math.nan), ValueError, r"`learning_rate` must be a finite number >= 0; got nan"),
    (lambda: optim.adam(math.inf), ValueError, r"`learning_rate` must be a finite number >= 0; got inf"),
    (lambda: optim.adam(jnp.array(-1e-3)), ValueError, r"`learning_rate` must be a finite number >= 0; got Array"),
    (lambda: optim.adam(jnp.array([1e-3, 1e-2])), TypeError, r"`learning_rate` must be a number; got an array"),
    (lambda: optim.adagrad("fast"), TypeError, r"`learning_rate` must be a number; got str 'fast'"),
    (lambda: optim.sgd(0.1, momentum=1.0), ValueError, r"`momentum` must be in \[0, 1\); got 1.0"),
    (lambda: optim.momentum(0.1, beta=-0.1), ValueError, r"`beta` must be a finite number >= 0; got -0.1"),
    (lambda: optim.adam(0.1, b1=1.0), ValueError, r"`b1` must be in \[0, 1\); got 1.0"),
    (lambda: optim.adamw(0.1, b2=1.5), ValueError, r"`b2` must be in \[0, 1\); got 1.5"),
    (lambda: optim.adam(0.1, eps=0.0), ValueError, r"`eps` must be a finite number > 0; got 0.0"),
    (lambda: optim.adagrad(0.1, eps=-1e-7), ValueError, r"`eps` must be a finite number > 0; got -1e-07"),
    (lambda: optim.adagrad(0.1, initial_accumulator_value=-1.0), ValueError, r"`initial_accumulator_value`"),
    (lambda: optim.rmsprop(0.1, decay=1.0), ValueError, r"`decay` must be in \[0, 1\); got 1.0"),
    (lambda: optim.adamw(0.1, weight_decay=-1e-4), ValueError, r"`weight_decay` must be a finite number >= 0"),
    (lambda: optim.clip_by_global_norm(0.0), ValueError, r"`max_norm` must be a finite number > 0; got 0.0"),
    (lambda: optim.trace(1.0), ValueError, r"`decay` must be in \[0, 1\); got 1.0"),
    (lambda: optim.scale_by_adam(b2=jnp.array(1.0)), ValueError, r"`b2` must be in \[0, 1\)"),
    (lambda: optim.add_decayed_weights(math.nan), ValueError, r"`weight_decay` must be a finite number >= 0"),
    (lambda: optim.step_decay(0.1, 0, 0.5), ValueError, r"`transition_steps` must be a positive integer; got 0"),
    (lambda: optim.step_decay(0.1, 30, -0.5), ValueError, r"`decay_rate` must be a finite number > 0; got -0.5"),
    (lambda: optim.cosine_decay_schedule(0.1, 10.5), TypeError, r"`decay_steps` must be a positive integer; got float"),
    (lambda: optim.warmup_cosine_decay_schedule(0.0, 0.1, 20, 20), ValueError, r"`decay_steps` must be > warmup_steps"),
]


@pytest.mark.parametrize("make, error, message", BAD, ids=[m for _, _, m in BAD])
def test_bad_hyperparameters_raise_naming_the_argument(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_numbers_arrays_schedules_and_tracers_are_accepted():
    optim.adam(optim.constant_schedule(1e-3))  # a schedule: its values are not range-checked
    optim.sgd(0.0)  # a zero learning rate, as where a warmup starts (optax too)
    optim.adamw(jnp.float32(1e-3), b1=np.float64(0.8), weight_decay=jnp.array(0.0))  # concrete arrays: checked
    jax.jit(lambda lr: optim.adam(lr, b1=lr).init(PARAMS))(jnp.float32(-1.0))  # traced: known only at run time


# --- non-finite gradients ------------------------------------------------------------

def test_check_finite_names_the_leaf_path():
    grads = jax.tree_util.tree_map(jnp.zeros_like, PARAMS)
    optim.check_finite(grads)  # finite: no error
    grads["mlp"][0]["w"] = grads["mlp"][0]["w"].at[1, 2].set(jnp.nan)
    grads["mlp"][1][1] = jnp.float32(jnp.inf)
    with pytest.raises(FloatingPointError, match=r"`grads` must be finite") as info:
        optim.check_finite(grads)
    assert "['mlp'][0]['w'] (1 NaN, 0 inf" in str(info.value)
    assert "['mlp'][1][1] (0 NaN, 1 inf" in str(info.value)
    assert "['embed']" not in str(info.value)


def test_check_finite_refuses_to_run_under_jit():
    with pytest.raises(TypeError, match=r"cannot run inside jax.jit"):
        jax.jit(optim.check_finite)(PARAMS)


def test_step_updates_finite_gradients_and_refuses_nan():
    opt = optim.sgd(0.1)
    grads = _grad(PARAMS)
    params, state = optim.step(opt, grads, opt.init(PARAMS), PARAMS)  # the order of opt.update's arguments
    updates, _ = opt.update(grads, opt.init(PARAMS))
    np.testing.assert_array_equal(_flat(params), _flat(optim.apply_updates(PARAMS, updates)))
    assert state == opt.init(PARAMS)  # plain SGD remembers nothing
    grads["embed"] = grads["embed"].at[0, 0].set(jnp.nan)
    with pytest.raises(FloatingPointError, match=r"\['embed'\] \(1 NaN"):
        optim.step(opt, grads, opt.init(PARAMS), PARAMS)
