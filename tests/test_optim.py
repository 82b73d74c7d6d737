"""Optimizers and schedules: step for step against optax, swapped with optax, jittable, bad input."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from recsys_lite import optim

# Tolerances, float32 throughout.
#
# RTOL: the parameters after every step must agree with optax's to 1e-6
# relative. SGD (plain, momentum, Nesterov), Adagrad, RMSProp, clipping and the
# schedules do the same float32 operations in the same order as optax and in
# practice agree bit for bit.
RTOL = 1e-6
#
# ADAM_ATOL: Adam and AdamW agree to a few float32 ulps of the parameters,
# not bit for bit, and the bound must be absolute. The bias correction
# m_t / (1 − β₁ᵗ) divides a whole leaf by one scalar, and XLA's simplifier
# sometimes rewrites that as m_t · (1/(1 − β₁ᵗ)), which rounds differently,
# depending on the program around it (in optax's jitted helper it keeps the
# division when several leaves share the divisor and rewrites it for a single
# leaf). The 1-ulp differences in m̂_t stay an ulp or two in θ (measured: at
# most 1.8e-7 in these tests, 4.1e-7 with α up to 0.1; |θ| is ~1-2, where an
# ulp is 1.2e-7 to 2.4e-7), but a coordinate passing near 0 on its way makes
# the *relative* difference there large (1e-3 at |θ| ≈ 1e-4), hence an
# absolute bound: 5e-7, about 4 ulps at |θ| = 1.
ADAM_ATOL = 5e-7
STEPS = 100


# --- a nested pytree of parameters and a fixed quadratic-ish loss ------------------

def _nested_tree(seed, scale=1.0):
    """A dict holding a tuple holding a dict and a list: leaves of shapes (5,3), (3,4), (4,), (2,), ()."""
    rng = np.random.default_rng(seed)

    def leaf(*shape):
        return jnp.asarray(scale * rng.standard_normal(shape), jnp.float32)

    return {"embed": leaf(5, 3), "mlp": ({"w": leaf(3, 4), "b": leaf(4)}, [leaf(2), leaf()])}


PARAMS = _nested_tree(0)
CENTRES = _nested_tree(1, scale=2.0)


def _loss(params):
    """J(θ) = Σ_k (θ_k − c_k)² + 0.1 θ_k⁴: a bowl, steeper far out."""
    leaves = zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(CENTRES))
    return sum(jnp.sum((theta - c) ** 2 + 0.1 * theta**4) for theta, c in leaves)


_grad = jax.jit(jax.grad(_loss))


def _flat(tree):
    return np.concatenate([np.ravel(leaf) for leaf in jax.tree_util.tree_leaves(tree)])


def _unflat(vector):
    """The inverse of ``_flat``: a vector back into the shape of PARAMS."""
    leaves, treedef = jax.tree_util.tree_flatten(PARAMS)
    sizes = np.cumsum([leaf.size for leaf in leaves])[:-1]
    parts = np.split(vector, sizes)
    return jax.tree_util.tree_unflatten(treedef, [p.reshape(leaf.shape) for p, leaf in zip(parts, leaves)])


def _trajectory(opt, apply_updates, steps=STEPS):
    """Parameters after each of ``steps`` jitted steps, each flattened to a vector."""

    @jax.jit
    def step(params, state):
        updates, state = opt.update(_grad(params), state, params)
        return apply_updates(params, updates), state

    params, state = PARAMS, opt.init(PARAMS)
    out = []
    for _ in range(steps):
        params, state = step(params, state)
        out.append(_flat(params))
    return np.stack(out)


# --- step for step against optax ---------------------------------------------------

# The gradient norm starts near 27 and ends below 10 in both chains below.
MAX_NORM = 10.0
OURS_SCHEDULE = optim.warmup_cosine_decay_schedule(0.0, 0.05, 10, STEPS, end_value=0.001)
OPTAX_SCHEDULE = optax.warmup_cosine_decay_schedule(0.0, 0.05, 10, STEPS, end_value=0.001)

# id -> (ours, optax's, absolute tolerance)
AGAINST_OPTAX = {
    "sgd": (optim.sgd(0.01), optax.sgd(0.01), 0.0),
    "sgd_momentum": (optim.sgd(0.01, momentum=0.9), optax.sgd(0.01, momentum=0.9), 0.0),
    "sgd_nesterov": (optim.sgd(0.01, 0.9, nesterov=True), optax.sgd(0.01, 0.9, nesterov=True), 0.0),
    "momentum_alias": (optim.momentum(0.01, beta=0.8), optax.sgd(0.01, momentum=0.8), 0.0),
    "adagrad": (optim.adagrad(0.1), optax.adagrad(0.1), 0.0),
    "rmsprop": (optim.rmsprop(0.01), optax.rmsprop(0.01), 0.0),
    "adam": (optim.adam(0.01), optax.adam(0.01), ADAM_ATOL),
    "adamw": (optim.adamw(0.01, weight_decay=0.1), optax.adamw(0.01, weight_decay=0.1), ADAM_ATOL),
    "sgd_schedule": (optim.sgd(OURS_SCHEDULE, momentum=0.9), optax.sgd(OPTAX_SCHEDULE, momentum=0.9), 0.0),
    "rmsprop_schedule": (
        optim.rmsprop(optim.cosine_decay_schedule(0.01, STEPS, alpha=0.1)),
        optax.rmsprop(optax.cosine_decay_schedule(0.01, STEPS, alpha=0.1)),
        0.0,
    ),
    "chain_clip_sgd": (
        optim.chain(optim.clip_by_global_norm(MAX_NORM), optim.sgd(0.02)),
        optax.chain(optax.clip_by_global_norm(MAX_NORM), optax.sgd(0.02)),
        0.0,
    ),
    "chain_clip_adam_schedule": (
        optim.chain(optim.clip_by_global_norm(MAX_NORM), optim.adam(OURS_SCHEDULE)),
        optax.chain(optax.clip_by_global_norm(MAX_NORM), optax.adam(OPTAX_SCHEDULE)),
        ADAM_ATOL,
    ),
}


@pytest.mark.parametrize("name", list(AGAINST_OPTAX))
def test_matches_optax_after_every_step(name):
    ours, theirs, atol = AGAINST_OPTAX[name]
    mine = _trajectory(ours, optim.apply_updates)
    reference = _trajectory(theirs, optax.apply_updates)
    for t in range(STEPS):
        np.testing.assert_allclose(mine[t], reference[t], rtol=RTOL, atol=atol, err_msg=f"after step {t + 1}")
    assert float(_loss(_unflat(mine[-1]))) < float(_loss(PARAMS))


def test_clipping_in_the_chains_is_both_active_and_idle():
    """The chains above compare clipped steps and unclipped steps, not only one kind."""
    for opt in (optim.sgd(0.02), optim.adam(OURS_SCHEDULE)):
        chained = optim.chain(optim.clip_by_global_norm(MAX_NORM), opt)
        params = [_unflat(row) for row in _trajectory(chained, optim.apply_updates)]
        norms = np.array([float(optim.global_norm(_grad(p))) for p in [PARAMS] + params[:-1]])
        assert (norms > MAX_NORM).sum() >= 10 and (norms < MAX_NORM).sum() >= 10


def test_clip_by_global_norm_matches_optax():
    grads = _grad(PARAMS)
    norm = float(optim.global_norm(grads))
    np.testing.assert_allclose(norm, optax.tree.norm(grads), rtol=RTOL)
    np.testing.assert_allclose(norm, np.linalg.norm(_flat(grads).astype(np.float64)), rtol=RTOL)
    for max_norm in (norm / 3, 3 * norm):
        ours, _ = optim.clip_by_global_norm(max_norm).update(grads, optim.EmptyState())
        theirs, _ = optax.clip_by_global_norm(max_norm).update(grads, optax.EmptyState())
        np.testing.assert_allclose(_flat(ours), _flat(theirs), rtol=RTOL)
        assert float(optim.global_norm(ours)) == pytest.approx(min(norm, max_norm), rel=RTOL)


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


# --- schedules ---------------------------------------------------------------------

SCHEDULES = {
    "constant": (optim.constant_schedule(0.3), optax.constant_schedule(0.3)),
    "step_decay": (optim.step_decay(0.1, 0.5, 30), optax.exponential_decay(0.1, 30, 0.5, staircase=True)),
    "exponential_decay": (optim.exponential_decay(0.1, 30, 0.5), optax.exponential_decay(0.1, 30, 0.5)),
    "linear_warmup": (optim.linear_warmup(0.0, 0.2, 40), optax.linear_schedule(0.0, 0.2, 40)),
    "cosine": (optim.cosine_decay_schedule(0.1, 150), optax.cosine_decay_schedule(0.1, 150)),
    "cosine_alpha": (optim.cosine_decay_schedule(0.1, 150, alpha=0.2), optax.cosine_decay_schedule(0.1, 150, alpha=0.2)),
    "warmup_cosine": (
        optim.warmup_cosine_decay_schedule(0.01, 0.1, 20, 150, end_value=0.002),
        optax.warmup_cosine_decay_schedule(0.01, 0.1, 20, 150, end_value=0.002),
    ),
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_schedule_matches_optax(name):
    ours, theirs = SCHEDULES[name]
    counts = jnp.arange(0, 250, dtype=jnp.int32)  # past the end of every schedule
    expected = np.broadcast_to(np.asarray(theirs(counts), np.float32), counts.shape)
    np.testing.assert_allclose(np.broadcast_to(ours(counts), counts.shape), expected, rtol=RTOL)
    np.testing.assert_allclose(jax.jit(ours)(counts[97]), expected[97], rtol=RTOL)
    for count in (0, 1, 19, 20, 149, 150, 151):  # plain ints, around the boundaries
        assert float(ours(count)) == pytest.approx(float(theirs(count)), rel=RTOL)


def test_schedules_hand_worked():
    assert float(optim.step_decay(0.1, 0.5, 30)(65)) == pytest.approx(0.1 * 0.5**2, rel=RTOL)
    assert float(optim.exponential_decay(0.1, 30, 0.5)(15)) == pytest.approx(0.1 * 0.5**0.5, rel=RTOL)
    assert float(optim.linear_warmup(0.0, 0.2, 40)(10)) == pytest.approx(0.05, rel=RTOL)
    assert float(optim.cosine_decay_schedule(0.1, 150, alpha=0.2)(75)) == pytest.approx(0.1 * (1 + 0.2) / 2, rel=RTOL)
    warmup_cosine = optim.warmup_cosine_decay_schedule(0.0, 0.1, 20, 150, end_value=0.01)
    assert float(warmup_cosine(10)) == pytest.approx(0.05, rel=RTOL)
    assert float(warmup_cosine(20)) == pytest.approx(0.1, rel=RTOL)
    assert float(warmup_cosine(150)) == pytest.approx(0.01, rel=RTOL)


# --- interchangeable with optax ----------------------------------------------------

def _train_against_recsys_lite(opt, steps=60):
    """A loop written against recsys_lite's interface: init, update, optim.apply_updates."""
    params = PARAMS
    state = opt.init(params)
    for _ in range(steps):
        updates, state = opt.update(_grad(params), state, params)
        params = optim.apply_updates(params, updates)
    return params


def _train_optax_style(opt, steps=60):
    """The loop from optax's documentation, with optax.apply_updates."""
    params = PARAMS
    opt_state = opt.init(params)
    for _ in range(steps):
        grads = _grad(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
    return params


@pytest.mark.parametrize(
    "opt",
    [optax.adam(0.05), optax.sgd(0.01, momentum=0.9), optim.chain(optax.clip_by_global_norm(MAX_NORM), optim.sgd(0.02))],
    ids=["optax.adam", "optax.sgd", "our_chain_of_optax_clip"],
)
def test_optax_optimizer_in_our_loop(opt):
    assert float(_loss(_train_against_recsys_lite(opt))) < 0.5 * float(_loss(PARAMS))


@pytest.mark.parametrize(
    "opt",
    [optim.adam(0.05), optim.adamw(0.05), optax.chain(optax.clip_by_global_norm(MAX_NORM), optim.sgd(0.02))],
    ids=["adam", "adamw", "optax_chain_of_ours"],
)
def test_our_optimizer_in_optax_loop(opt):
    assert float(_loss(_train_optax_style(opt))) < 0.5 * float(_loss(PARAMS))


# --- jittable, state is a pytree -----------------------------------------------------

ALL_OPTIMIZERS = {
    "sgd": optim.sgd(0.01),
    "sgd_momentum": optim.sgd(0.01, 0.9),
    "adagrad": optim.adagrad(0.1),
    "rmsprop": optim.rmsprop(0.01),
    "adam": optim.adam(OURS_SCHEDULE),
    "adamw": optim.adamw(0.01),
    "chain": optim.chain(optim.clip_by_global_norm(1.0), optim.adam(0.01)),
}


@pytest.mark.parametrize("name", list(ALL_OPTIMIZERS))
def test_update_is_jittable_and_state_is_a_pytree(name):
    opt = ALL_OPTIMIZERS[name]
    state = opt.init(PARAMS)
    leaves, treedef = jax.tree_util.tree_flatten(state)
    assert leaves and all(isinstance(leaf, jax.Array) for leaf in leaves)
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
    (lambda: optim.sgd(0.0), ValueError, r"`learning_rate` must be a finite number > 0; got 0.0"),
    (lambda: optim.sgd(-0.1), ValueError, r"`learning_rate` must be a finite number > 0; got -0.1"),
    (lambda: optim.adam(math.nan), ValueError, r"`learning_rate` must be a finite number > 0; got nan"),
    (lambda: optim.adam(math.inf), ValueError, r"`learning_rate` must be a finite number > 0; got inf"),
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
    (lambda: optim.step_decay(0.1, 0.5, 0), ValueError, r"`step_size` must be an integer > 0; got int 0"),
    (lambda: optim.cosine_decay_schedule(0.1, 10.5), ValueError, r"`decay_steps` must be an integer > 0; got float 10.5"),
    (lambda: optim.warmup_cosine_decay_schedule(0.0, 0.1, 20, 20), ValueError, r"`decay_steps` must be > warmup_steps = 20"),
]


@pytest.mark.parametrize("make, error, message", BAD, ids=[m for _, _, m in BAD])
def test_bad_hyperparameters_raise_naming_the_argument(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_a_schedule_is_accepted_as_learning_rate():
    optim.adam(optim.constant_schedule(1e-3))  # no error: only a number is range-checked


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
    params, state = optim.step(opt, PARAMS, grads, opt.init(PARAMS))
    updates, _ = opt.update(grads, opt.init(PARAMS))
    np.testing.assert_array_equal(_flat(params), _flat(optim.apply_updates(PARAMS, updates)))
    assert int(state.count) == 1
    grads["embed"] = grads["embed"].at[0, 0].set(jnp.nan)
    with pytest.raises(FloatingPointError, match=r"\['embed'\] \(1 NaN"):
        optim.step(opt, PARAMS, grads, opt.init(PARAMS))
