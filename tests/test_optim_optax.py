"""recsys_lite.optim against optax: every optimizer and primitive step for step, and the two mixed.

Ours inside optax's ``chain``, ``masked``, ``MultiSteps`` and ``inject_hyperparams``,
optax's inside our ``chain``, and ``jax.vmap`` over a learning rate.
"""

from __future__ import annotations

import functools

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
# leaf); optax also raises β to an int t, we to a float t. The 1-ulp differences
# in m̂_t stay an ulp or two in θ (measured: at most 1.8e-7 in these tests,
# 4.1e-7 with α up to 0.1; |θ| is ~1-2, where an ulp is 1.2e-7 to 2.4e-7), but a
# coordinate passing near 0 on its way makes the *relative* difference there
# large (1e-3 at |θ| ≈ 1e-4), hence an absolute bound: 5e-7, about 4 ulps at |θ| = 1.
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
MASK = {"embed": True, "mlp": ({"w": True, "b": False}, [False, True])}


def _loss(params):
    """J(θ) = Σ_k (θ_k − c_k)² + 0.1 θ_k⁴: a bowl, steeper far out."""
    leaves = zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(CENTRES))
    return sum(jnp.sum((theta - c) ** 2 + 0.1 * theta**4) for theta, c in leaves)


_grad = jax.jit(jax.grad(_loss))


def _flat(tree):
    return np.concatenate([np.ravel(leaf) for leaf in jax.tree_util.tree_leaves(tree)])


def _trajectory(opt, apply_updates=optim.apply_updates, steps=STEPS):
    """Parameters after each of ``steps`` jitted steps, each flattened to a vector; and the last state."""

    @jax.jit
    def step(params, state):
        updates, state = opt.update(_grad(params), state, params)
        return apply_updates(params, updates), state

    params, state = PARAMS, opt.init(PARAMS)
    out = []
    for _ in range(steps):
        params, state = step(params, state)
        out.append(_flat(params))
    return np.stack(out), state


def _assert_same_trajectory(ours, theirs, atol, steps=STEPS):
    mine, my_state = _trajectory(ours, optim.apply_updates, steps)
    reference, their_state = _trajectory(theirs, optax.apply_updates, steps)
    for t in range(steps):
        np.testing.assert_allclose(mine[t], reference[t], rtol=RTOL, atol=atol, err_msg=f"after step {t + 1}")
    return my_state, their_state


# --- every named optimizer, step for step against optax's own -------------------------

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


def _fields(state):
    """The field names of every non-empty state in a (nested) chain state, in order."""
    if isinstance(state, tuple) and not hasattr(state, "_fields"):
        return [f for s in state for f in _fields(s)]
    return [state._fields] if state._fields else []


def _assert_same_state(my_state, their_state, atol):
    """The states mirror optax's: the same fields, holding the same values."""
    assert _fields(my_state) == _fields(their_state)
    pairs = zip(jax.tree_util.tree_leaves(my_state), jax.tree_util.tree_leaves(their_state), strict=True)
    for mine, reference in pairs:
        np.testing.assert_allclose(mine, reference, rtol=RTOL, atol=atol)


def _unflat(vector):
    """The inverse of ``_flat``: a vector back into the shape of PARAMS."""
    leaves, treedef = jax.tree_util.tree_flatten(PARAMS)
    parts = np.split(vector, np.cumsum([leaf.size for leaf in leaves])[:-1])
    return jax.tree_util.tree_unflatten(treedef, [p.reshape(leaf.shape) for p, leaf in zip(parts, leaves)])


@pytest.mark.parametrize("name", list(AGAINST_OPTAX))
def test_named_optimizer_matches_optax_after_every_step(name):
    ours, theirs, atol = AGAINST_OPTAX[name]
    my_state, their_state = _assert_same_trajectory(ours, theirs, atol)
    _assert_same_state(my_state, their_state, atol)


def test_clipping_in_the_chains_is_both_active_and_idle():
    """The chains above compare clipped steps and unclipped steps, not only one kind."""
    for opt in (optim.sgd(0.02), optim.adam(OURS_SCHEDULE)):
        path, _ = _trajectory(optim.chain(optim.clip_by_global_norm(MAX_NORM), opt))
        norms = np.array([float(optim.global_norm(_grad(p))) for p in [PARAMS] + [_unflat(v) for v in path[:-1]]])
        assert (norms > MAX_NORM).sum() >= 10 and (norms < MAX_NORM).sum() >= 10
        assert float(_loss(_unflat(path[-1]))) < float(_loss(PARAMS))


# --- every primitive against optax's primitive ------------------------------------------

GRADS = [_nested_tree(seed, scale=3.0) for seed in range(10, 16)]  # six updates' inputs

# id -> (ours, optax's, absolute tolerance)
PRIMITIVES = {
    "identity": (optim.identity(), optax.identity(), 0.0),
    "scale": (optim.scale(-0.3), optax.scale(-0.3), 0.0),
    "scale_by_schedule": (optim.scale_by_schedule(optim.exponential_decay(0.1, 2, 0.5)),
                          optax.scale_by_schedule(optax.exponential_decay(0.1, 2, 0.5)), 0.0),
    "scale_by_learning_rate": (optim.scale_by_learning_rate(0.1), optax.scale_by_learning_rate(0.1), 0.0),
    "scale_by_learning_rate_schedule": (optim.scale_by_learning_rate(optim.cosine_decay_schedule(0.1, 5)),
                                        optax.scale_by_learning_rate(optax.cosine_decay_schedule(0.1, 5)), 0.0),
    "scale_by_learning_rate_no_flip": (optim.scale_by_learning_rate(0.1, flip_sign=False),
                                       optax.scale_by_learning_rate(0.1, flip_sign=False), 0.0),
    "trace": (optim.trace(0.9), optax.trace(0.9), 0.0),
    "trace_nesterov": (optim.trace(0.8, nesterov=True), optax.trace(0.8, nesterov=True), 0.0),
    "scale_by_rss": (optim.scale_by_rss(), optax.scale_by_rss(), 0.0),
    "scale_by_rss_zero_start": (optim.scale_by_rss(0.0, 1e-3), optax.scale_by_rss(0.0, 1e-3), 0.0),
    "scale_by_rms": (optim.scale_by_rms(0.8, 1e-6), optax.scale_by_rms(0.8, 1e-6), 0.0),
    "scale_by_adam": (optim.scale_by_adam(), optax.scale_by_adam(), 1e-6),
    "add_decayed_weights": (optim.add_decayed_weights(0.1), optax.add_decayed_weights(0.1), 0.0),
    "add_decayed_weights_zero": (optim.add_decayed_weights(0.0), optax.add_decayed_weights(0.0), 0.0),
    "clip_by_global_norm": (optim.clip_by_global_norm(12.0), optax.clip_by_global_norm(12.0), 0.0),
}


@pytest.mark.parametrize("name", list(PRIMITIVES))
def test_primitive_matches_optax(name):
    ours, theirs, atol = PRIMITIVES[name]
    my_state, their_state = ours.init(PARAMS), theirs.init(PARAMS)
    for t, grads in enumerate(GRADS):
        mine, my_state = jax.jit(ours.update)(grads, my_state, PARAMS)
        reference, their_state = jax.jit(theirs.update)(grads, their_state, PARAMS)
        np.testing.assert_allclose(_flat(mine), _flat(reference), rtol=RTOL, atol=atol, err_msg=f"update {t + 1}")
    _assert_same_state(my_state, their_state, atol)


def test_clip_by_global_norm_clips_and_keeps():
    grads = _grad(PARAMS)
    norm = float(optim.global_norm(grads))
    np.testing.assert_allclose(norm, optax.tree.norm(grads), rtol=RTOL)
    np.testing.assert_allclose(norm, np.linalg.norm(_flat(grads).astype(np.float64)), rtol=RTOL)
    for max_norm in (norm / 3, 3 * norm):
        ours, _ = optim.clip_by_global_norm(max_norm).update(grads, optim.EmptyState())
        assert float(optim.global_norm(ours)) == pytest.approx(min(norm, max_norm), rel=RTOL)


# --- ours inside optax, optax's inside ours ---------------------------------------------

def _masked_pair(inner_ours, inner_theirs):
    """``inner`` on the leaves of MASK, a plain step −0.01·g on the others."""
    rest = jax.tree_util.tree_map(lambda m: not m, MASK)
    return (optax.chain(optax.masked(inner_ours, MASK), optax.masked(optax.scale(-0.01), rest)),
            optax.chain(optax.masked(inner_theirs, MASK), optax.masked(optax.scale(-0.01), rest)))


MIXED = {  # id -> (a mix holding ours, the same made of optax's alone, absolute tolerance)
    "optax_chain_of_ours": (optax.chain(optax.clip_by_global_norm(MAX_NORM), optim.adam(0.01)),
                            optax.chain(optax.clip_by_global_norm(MAX_NORM), optax.adam(0.01)), ADAM_ATOL),
    "optax_chain_of_our_primitives": (
        optax.chain(optim.scale_by_adam(), optax.add_decayed_weights(0.1), optim.scale_by_learning_rate(0.01)),
        optax.adamw(0.01, weight_decay=0.1), ADAM_ATOL),
    "optax_masked_adam": (*_masked_pair(optim.adam(0.01), optax.adam(0.01)), ADAM_ATOL),
    "optax_masked_momentum": (*_masked_pair(optim.sgd(0.01, 0.9), optax.sgd(0.01, 0.9)), 0.0),
    "optax_multisteps_adam": (optax.MultiSteps(optim.adam(0.02), 3).gradient_transformation(),
                              optax.MultiSteps(optax.adam(0.02), 3).gradient_transformation(), ADAM_ATOL),
    "optax_multisteps_adagrad": (optax.MultiSteps(optim.adagrad(0.1), 2).gradient_transformation(),
                                 optax.MultiSteps(optax.adagrad(0.1), 2).gradient_transformation(), 0.0),
    "our_chain_of_optax": (optim.chain(optax.clip_by_global_norm(MAX_NORM), optax.sgd(0.02)),
                           optax.chain(optax.clip_by_global_norm(MAX_NORM), optax.sgd(0.02)), 0.0),
    "our_chain_of_optax_primitives": (
        optim.chain(optax.scale_by_adam(), optim.add_decayed_weights(0.1), optax.scale_by_learning_rate(0.01)),
        optax.adamw(0.01, weight_decay=0.1), ADAM_ATOL),
}


@pytest.mark.parametrize("name", list(MIXED))
def test_mixed_with_optax_matches_optax_alone(name):
    ours, theirs, atol = MIXED[name]
    _assert_same_trajectory(ours, theirs, atol, steps=30)


# --- hyperparameters as arrays or tracers -------------------------------------------------

# id -> (our factory, optax's, hyperparameters: the same for both)
INJECTED = {
    "sgd": (optim.sgd, optax.sgd, {"learning_rate": 0.02}),
    "sgd_nesterov": (optim.sgd, optax.sgd, {"learning_rate": 0.01, "momentum": 0.9, "nesterov": True}),
    "adagrad": (optim.adagrad, optax.adagrad, {"learning_rate": 0.1, "initial_accumulator_value": 0.2}),
    "rmsprop": (optim.rmsprop, optax.rmsprop, {"learning_rate": 0.01, "decay": 0.8}),
    "adam": (optim.adam, optax.adam, {"learning_rate": 0.01, "b1": 0.8, "b2": 0.99}),
    "adamw": (optim.adamw, optax.adamw, {"learning_rate": 0.01, "weight_decay": 0.1}),
    "adam_schedule": (optim.adam, optax.adam, {"learning_rate": OPTAX_SCHEDULE}),
    "scale_by_adam": (optim.scale_by_adam, optax.scale_by_adam, {"b1": 0.5}),
}


@pytest.mark.parametrize("name", list(INJECTED))
def test_inject_hyperparams_around_ours_matches_optax(name):
    ours, theirs, hyperparameters = INJECTED[name]
    atol = ADAM_ATOL if "adam" in name else 0.0
    mine = optax.inject_hyperparams(ours)(**hyperparameters)
    reference = optax.inject_hyperparams(theirs)(**hyperparameters)
    my_state, their_state = _assert_same_trajectory(mine, reference, atol, steps=40)
    # a number changed in the state between steps reaches our transformation, as optax's
    changed = "b1" if name == "scale_by_adam" else "learning_rate"
    if callable(hyperparameters.get(changed)):
        return
    grads, steps = _grad(PARAMS), []
    for opt, state in ((mine, my_state), (reference, their_state), (mine, my_state)):
        if len(steps) == 2:
            state.hyperparams[changed] = state.hyperparams[changed] * 0.5
        steps.append(_flat(jax.jit(opt.update)(grads, state, PARAMS)[0]))
    np.testing.assert_allclose(steps[0], steps[1], rtol=RTOL, atol=atol)
    assert not np.allclose(steps[0], steps[2], rtol=1e-3)


# id -> (factory of a learning rate, learning rates)
VMAPPED = {
    "sgd": (lambda lr: optim.sgd(lr), [0.005, 0.02]),
    "momentum": (lambda lr: optim.momentum(lr, beta=0.9, nesterov=True), [0.002, 0.01]),
    "adagrad": (lambda lr: optim.adagrad(lr), [0.05, 0.3]),
    "rmsprop": (lambda lr: optim.rmsprop(lr), [0.003, 0.03]),
    "adam": (lambda lr: optim.adam(lr), [0.003, 0.03]),
    "adamw": (lambda lr: optim.adamw(lr, weight_decay=0.1), [0.003, 0.03]),
    "chain_clip_adam": (lambda lr: optim.chain(optim.clip_by_global_norm(MAX_NORM), optim.adam(lr)), [0.01, 0.03]),
}


def _run(make, learning_rate, steps=25):
    """θ after ``steps`` steps of ``make(learning_rate)``, as one jittable (and vmappable) scan."""
    opt = make(learning_rate)

    def body(carry, _):
        params, state = carry
        updates, state = opt.update(jax.grad(_loss)(params), state, params)
        return (optim.apply_updates(params, updates), state), None

    (params, _), _ = jax.lax.scan(body, (PARAMS, opt.init(PARAMS)), None, length=steps)
    return params


@pytest.mark.parametrize("name", list(VMAPPED))
def test_vmap_over_the_learning_rate_equals_separate_runs(name):
    make, learning_rates = VMAPPED[name]
    together = jax.jit(jax.vmap(lambda lr: _run(make, lr)))(jnp.asarray(learning_rates, jnp.float32))
    atol = ADAM_ATOL if "adam" in name else 0.0
    for k, lr in enumerate(learning_rates):
        alone = jax.jit(functools.partial(_run, make, lr))()  # α a Python number here
        copy_k = jax.tree_util.tree_map(lambda leaf, k=k: leaf[k], together)
        np.testing.assert_allclose(_flat(copy_k), _flat(alone), rtol=RTOL, atol=atol, err_msg=f"α = {lr}")
        assert float(_loss(alone)) < float(_loss(PARAMS))


# --- schedules ---------------------------------------------------------------------

SCHEDULES = {
    "constant": (optim.constant_schedule(0.3), optax.constant_schedule(0.3)),
    "step_decay": (optim.step_decay(0.1, 30, 0.5), optax.exponential_decay(0.1, 30, 0.5, staircase=True)),
    "exponential_decay": (optim.exponential_decay(0.1, 30, 0.5), optax.exponential_decay(0.1, 30, 0.5)),
    "linear_warmup": (optim.linear_warmup(0.0, 0.2, 40), optax.linear_schedule(0.0, 0.2, 40)),
    "cosine": (optim.cosine_decay_schedule(0.1, 150), optax.cosine_decay_schedule(0.1, 150)),
    "cosine_alpha": (optim.cosine_decay_schedule(0.1, 150, 0.2), optax.cosine_decay_schedule(0.1, 150, alpha=0.2)),
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
