"""Layers as pytrees: activations vs jax.nn, derivatives vs jax.grad, layers vs numpy, init statistics."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from recsys_lite import nn

# float32 throughout, except where said. Two float32 computations of the same
# formula in a different order differ by a few ulps (2**-23 ≈ 1.2e-7 relative);
# a matmul over n terms accumulates up to ~n ulps of its largest partial sum,
# so layer outputs are compared to float64 numpy with a tolerance scaled by
# the size of the terms.
RTOL = 1e-6


def _normal(rng, shape, scale=1.0):
    return jnp.asarray(scale * rng.standard_normal(shape), jnp.float32)


def _away_from_zero(rng, shape, scale=3.0):
    """Random points with |z| ≥ 0.01: clear of the ReLU kink at 0."""
    return jnp.asarray(rng.choice([-1.0, 1.0], shape) * (0.01 + scale * np.abs(rng.standard_normal(shape))),
                       jnp.float32)


def assert_close_scaled(actual, desired, rtol=1e-5):
    """Entries agree to ``rtol`` relative to the largest entry of ``desired`` (see the note above)."""
    desired = np.asarray(desired)
    np.testing.assert_allclose(np.asarray(actual, np.float64), desired, rtol=rtol,
                               atol=rtol * max(np.abs(desired).max(), 1.0))


# --- activations ---------------------------------------------------------------

ACTIVATION_PAIRS = {
    "sigmoid": (nn.sigmoid, jax.nn.sigmoid),
    "tanh": (nn.tanh, jnp.tanh),
    "relu": (nn.relu, jax.nn.relu),
    "leaky_relu": (nn.leaky_relu, jax.nn.leaky_relu),
    "leaky_relu_0.2": (functools.partial(nn.leaky_relu, negative_slope=0.2),
                       functools.partial(jax.nn.leaky_relu, negative_slope=0.2)),
    "gelu_tanh": (nn.gelu, functools.partial(jax.nn.gelu, approximate=True)),
    "gelu_exact": (functools.partial(nn.gelu, approximate=False),
                   functools.partial(jax.nn.gelu, approximate=False)),
    "softmax": (nn.softmax, jax.nn.softmax),
    "softmax_axis0": (functools.partial(nn.softmax, axis=0), functools.partial(jax.nn.softmax, axis=0)),
    "identity": (nn.identity, lambda z: z),
}


@pytest.mark.parametrize("name", ACTIVATION_PAIRS)
def test_activation_matches_jax_nn(name):
    ours, theirs = ACTIVATION_PAIRS[name]
    z = _normal(np.random.default_rng(0), (4, 5, 6), 4.0)
    out = ours(z)
    assert out.shape == z.shape
    np.testing.assert_allclose(out, theirs(z), rtol=RTOL, atol=RTOL)


def test_gelu_flavours_differ():
    """The `approximate` flag is honoured: tanh approximation and erf form differ (slightly)."""
    z = jnp.linspace(-3.0, 3.0, 61)
    gap = np.abs(np.asarray(nn.gelu(z, approximate=True) - nn.gelu(z, approximate=False))).max()
    assert 1e-5 < gap < 1e-2


@pytest.mark.parametrize("name", ACTIVATION_PAIRS)
def test_activation_finite_at_extremes(name):
    ours, theirs = ACTIVATION_PAIRS[name]
    z = jnp.array([-1e4, -100.0, -1.0, 0.0, 1.0, 100.0, 1e4], jnp.float32)
    out = ours(z)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, theirs(z), rtol=RTOL, atol=RTOL)
    if name.startswith("softmax"):
        grad = jax.grad(lambda z: ours(z)[0])(z)
    else:
        grad = jax.vmap(jax.grad(ours))(z)
    assert np.all(np.isfinite(grad)), grad


def test_sigmoid_limits_exact():
    """At ±1e4 the stable form gives exactly 0 and 1, and σ'(±1e4) = 0 rather than nan."""
    z = jnp.array([-1e4, 0.0, 1e4], jnp.float32)
    np.testing.assert_array_equal(nn.sigmoid(z), [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(jax.vmap(jax.grad(nn.sigmoid))(z), [0.0, 0.25, 0.0])


DERIVATIVES = {
    "sigmoid": (nn.sigmoid, nn.sigmoid_grad),
    "tanh": (nn.tanh, nn.tanh_grad),
    "relu": (nn.relu, nn.relu_grad),
    "leaky_relu": (nn.leaky_relu, nn.leaky_relu_grad),
    "leaky_relu_0.3": (functools.partial(nn.leaky_relu, negative_slope=0.3),
                       functools.partial(nn.leaky_relu_grad, negative_slope=0.3)),
}


@pytest.mark.parametrize("name", DERIVATIVES)
def test_hand_written_derivative_matches_jax_grad(name):
    g, g_grad = DERIVATIVES[name]
    z = _away_from_zero(np.random.default_rng(1), (200,))
    np.testing.assert_allclose(g_grad(z), jax.vmap(jax.grad(g))(z), rtol=RTOL, atol=1e-7)
    # and elementwise on a batch shape, compared with the gradient of Σ g(z)
    z = _away_from_zero(np.random.default_rng(2), (3, 4, 5))
    np.testing.assert_allclose(g_grad(z), jax.grad(lambda z: jnp.sum(g(z)))(z), rtol=RTOL, atol=1e-7)


def test_derivative_conventions_at_the_kink():
    """At z = 0 the hand-written derivative takes the same side as jax.grad of our function."""
    for g, g_grad in DERIVATIVES.values():
        assert float(g_grad(jnp.float32(0.0))) == float(jax.grad(g)(jnp.float32(0.0)))
    assert float(nn.relu_grad(jnp.float32(0.0))) == 0.0


def test_get_activation():
    for name, fn in nn.ACTIVATIONS.items():
        assert nn.get_activation(name) is fn
    custom = lambda z: z**3  # noqa: E731
    assert nn.get_activation(custom) is custom
    with pytest.raises(ValueError, match=r"`activation` must be one of \[.*'relu'.*\].*got str 'swish'"):
        nn.get_activation("swish")
    with pytest.raises(ValueError, match=r"`activation` must be one of .* got int 3"):
        nn.get_activation(3)


# --- initialisers -----------------------------------------------------------

def test_compute_fans_hand_worked():
    assert nn.compute_fans((3, 4)) == (3, 4)  # dense: (n_in, n_out)
    assert nn.compute_fans((5, 3, 4)) == (15, 20)  # conv1d: (width, in_ch, out_ch)
    assert nn.compute_fans((2, 5, 3, 4)) == (30, 40)  # conv2d: (h, w, in_ch, out_ch)
    with pytest.raises(ValueError, match=r"`shape` must have at least 2 dimensions.*got \(7,\)"):
        nn.compute_fans((7,))


# A non-square shape, so that swapping fan_in and fan_out shows. With n = 10⁶
# draws, the sample variance has relative standard error √(2/n) ≈ 0.14 % for
# a normal (less for a uniform): 2 % is over 10 standard errors, while any
# wrong formula (fans swapped, Glorot for He, a missing factor) is off by > 20 %.
FAN_IN, FAN_OUT = 400, 2500
INIT_VARIANCES = {
    "glorot_uniform": 2.0 / (FAN_IN + FAN_OUT),
    "glorot_normal": 2.0 / (FAN_IN + FAN_OUT),
    "he_uniform": 2.0 / FAN_IN,
    "he_normal": 2.0 / FAN_IN,
}


@pytest.mark.parametrize("name", INIT_VARIANCES)
def test_initializer_variance(name):
    w = np.asarray(nn.get_initializer(name)(jax.random.key(3), (FAN_IN, FAN_OUT)), np.float64)
    assert w.shape == (FAN_IN, FAN_OUT) and w.dtype == np.float64
    var = INIT_VARIANCES[name]
    assert abs(w.var() / var - 1.0) < 0.02, (w.var(), var)
    assert abs(w.mean()) < 5 * np.sqrt(var / w.size)
    # the right family: P(|w| < σ) = σ/l = 1/√3 ≈ 0.577 for U(−l, l), 0.683 for a normal
    inside = np.mean(np.abs(w) < np.sqrt(var))
    expected = 1 / np.sqrt(3) if name.endswith("uniform") else 0.6827
    assert abs(inside - expected) < 0.005, inside


@pytest.mark.parametrize("name, fans_sum", [("glorot_uniform", FAN_IN + FAN_OUT), ("he_uniform", None)])
def test_uniform_bound_exact(name, fans_sum):
    w = np.abs(np.asarray(nn.get_initializer(name)(jax.random.key(4), (FAN_IN, FAN_OUT))))
    limit = np.sqrt(6.0 / fans_sum) if fans_sum else np.sqrt(6.0 / FAN_IN)
    assert w.max() <= np.float32(limit)
    assert w.max() > 0.999 * limit  # 10⁶ draws reach the bound


def test_initializer_on_conv_kernel_uses_receptive_field():
    """A (width, in, out) kernel: Var = 2/(w·in + w·out), not 2/(in + out)."""
    w = np.asarray(nn.glorot_normal(jax.random.key(5), (5, 40, 60)), np.float64)
    assert abs(w.var() / (2.0 / (5 * 40 + 5 * 60)) - 1.0) < 0.03


def test_normal_and_zeros():
    w = np.asarray(nn.normal(0.3)(jax.random.key(6), (1000, 100)), np.float64)
    assert abs(w.std() / 0.3 - 1.0) < 0.01
    assert nn.get_initializer("normal")(jax.random.key(6), (4,)).shape == (4,)
    np.testing.assert_array_equal(nn.zeros(jax.random.key(6), (2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"`stddev` must be a finite number > 0; got -1"):
        nn.normal(-1.0)
    with pytest.raises(ValueError, match=r"`weight_init` must be one of \[.*'glorot_uniform'.*\].*'xavier'"):
        nn.get_initializer("xavier")


# --- Dense ---------------------------------------------------------------------

def _random_dense(rng, n_in, n_out):
    return nn.Dense(_normal(rng, (n_in, n_out)), _normal(rng, (n_out,)))


@pytest.mark.parametrize("x_shape", [(8, 5), (2, 3, 5), (5,)])
def test_dense_forward_matches_numpy(x_shape):
    rng = np.random.default_rng(7)
    layer, x = _random_dense(rng, 5, 4), _normal(rng, x_shape)
    w, b, x64 = (np.asarray(a, np.float64) for a in (layer.weight, layer.bias, x))
    out = layer(x)
    assert out.shape == x_shape[:-1] + (4,)
    assert_close_scaled(out, x64 @ w + b)


def test_dense_init():
    layer = nn.Dense.init(jax.random.key(8), 3, 7)
    assert layer.weight.shape == (3, 7) and layer.bias.shape == (7,)
    assert (layer.in_features, layer.out_features) == (3, 7)
    np.testing.assert_array_equal(layer.bias, np.zeros(7))
    assert len(jax.tree.leaves(layer)) == 2
    no_bias = nn.Dense.init(jax.random.key(8), 3, 7, use_bias=False, weight_init="he_normal")
    assert no_bias.bias is None and len(jax.tree.leaves(no_bias)) == 1
    x = _normal(np.random.default_rng(9), (6, 3))
    assert_close_scaled(no_bias(x), np.asarray(x, np.float64) @ np.asarray(no_bias.weight, np.float64))


def test_dense_backward_matches_hand_derived_formulas():
    """L = Σ (xW + b)·c, so δ = ∂L/∂z = c and ∂L/∂W = xᵀδ, ∂L/∂b = Σ_rows δ, ∂L/∂x = δWᵀ."""
    rng = np.random.default_rng(10)
    layer, x, c = _random_dense(rng, 5, 3), _normal(rng, (8, 5)), _normal(rng, (8, 3))
    loss = lambda layer, x: jnp.sum(layer(x) * c)  # noqa: E731
    g_layer, g_x = jax.grad(loss, argnums=(0, 1))(layer, x)
    assert isinstance(g_layer, nn.Dense)
    w, x64, c64 = (np.asarray(a, np.float64) for a in (layer.weight, x, c))
    assert_close_scaled(g_layer.weight, x64.T @ c64)
    assert_close_scaled(g_layer.bias, c64.sum(axis=0))
    assert_close_scaled(g_x, c64 @ w.T)


def test_dense_check_grads_second_order():
    """Finite differences in float64 through a nonlinearity, to second order, for W, b and x."""
    rng = np.random.default_rng(11)
    with jax.enable_x64(True):
        w, b, x, c = (jnp.asarray(rng.standard_normal(s)) for s in [(4, 3), (3,), (6, 4), (6, 3)])
        assert w.dtype == jnp.float64
        f = lambda w, b, x: jnp.sum(jnp.tanh(nn.Dense(w, b)(x)) * c)  # noqa: E731
        check_grads(f, (w, b, x), order=2, modes=["rev"])


# --- MLP -----------------------------------------------------------------------

def _np_forward(mlp, x, g, g_out):
    a = np.asarray(x, np.float64)
    for i, layer in enumerate(mlp.layers):
        z = a @ np.asarray(layer.weight, np.float64) + np.asarray(layer.bias, np.float64)
        a = g_out(z) if i == len(mlp.layers) - 1 else g(z)
    return a


NP_ACTIVATIONS = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0.0),
                  "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)), None: lambda z: z}


@pytest.mark.parametrize("activation, final, x_shape", [
    ("relu", None, (10, 4)), ("tanh", "sigmoid", (10, 4)), ("tanh", None, (2, 5, 4))])
def test_mlp_forward_matches_numpy(activation, final, x_shape):
    rng = np.random.default_rng(12)
    mlp = nn.MLP.init(jax.random.key(12), [4, 8, 6, 3], activation=activation, final_activation=final)
    # random biases, so that a bias applied in the wrong place would show
    mlp = nn.MLP(tuple(nn.Dense(d.weight, _normal(rng, d.bias.shape)) for d in mlp.layers), activation, final)
    x = _normal(rng, x_shape)
    out = mlp(x)
    assert out.shape == x_shape[:-1] + (3,)
    assert_close_scaled(out, _np_forward(mlp, x, NP_ACTIVATIONS[activation], NP_ACTIVATIONS[final]))


def test_mlp_is_a_pytree_and_jits():
    mlp = nn.MLP.init(jax.random.key(13), [4, 8, 6, 3], activation="tanh")
    assert mlp.sizes == (4, 8, 6, 3)
    leaves = jax.tree.leaves(mlp)
    assert len(leaves) == 2 * len(mlp.layers) == 6
    assert [leaf.shape for leaf in leaves] == [(4, 8), (8,), (8, 6), (6,), (6, 3), (3,)]
    x = _normal(np.random.default_rng(13), (5, 4))
    grads = jax.grad(lambda m: jnp.sum(m(x) ** 2))(mlp)
    assert isinstance(grads, nn.MLP)
    assert jax.tree.structure(grads) == jax.tree.structure(mlp)  # static fields kept
    assert all(np.any(np.asarray(g) != 0) for g in jax.tree.leaves(grads))
    np.testing.assert_allclose(jax.jit(lambda m, x: m(x))(mlp, x), mlp(x), rtol=RTOL, atol=RTOL)
    # the activation is static metadata: a different one is a different tree structure
    relu_mlp = nn.MLP(mlp.layers, "relu", None)
    assert jax.tree.structure(relu_mlp) != jax.tree.structure(mlp)


def test_layers_compare_and_hash_by_identity():
    """pytree_dataclass(eq=False): == is identity and hash works, where the dataclass default raised."""
    a = nn.Dense.init(jax.random.key(14), 3, 2)
    b = jax.tree.map(lambda leaf: leaf, a)  # the same parameters in a new object
    assert a == a and a != b and not (a == b)
    assert hash(a) == hash(a) and {a: 1, b: 2}[b] == 2
    assert jax.tree.all(jax.tree.map(jnp.array_equal, a, b))  # parameters compared explicitly
    mlp = nn.MLP.init(jax.random.key(15), [3, 4, 2])
    assert mlp == mlp and len({mlp, nn.Dropout(0.5), nn.GRUCell.init(jax.random.key(16), 3, 4)}) == 3
    # a layer can be a static argument of jit (hashed by identity, like a function)
    np.testing.assert_array_equal(jax.jit(lambda m, x: m(x), static_argnums=0)(a, jnp.ones(3)), a(jnp.ones(3)))


def test_mlp_gradient_descent_fits_a_1d_function():
    """h_θ(x) ≈ sin(x) on [−π, π]; θ_{t+1} = θ_t − α ∇J(θ_t) on J = 1/(2m) Σ (h_θ(x_i) − y_i)²."""
    x = jnp.linspace(-jnp.pi, jnp.pi, 64)[:, None]
    y = jnp.sin(x)
    mlp = nn.MLP.init(jax.random.key(14), [1, 16, 16, 1], activation="tanh")
    loss = lambda m: 0.5 * jnp.mean((m(x) - y) ** 2)  # noqa: E731

    @jax.jit
    def step(m):
        return jax.tree.map(lambda p, g: p - 0.1 * g, m, jax.grad(loss)(m))

    start = float(loss(mlp))
    for _ in range(400):
        mlp = step(mlp)
    end = float(loss(mlp))
    assert isinstance(mlp, nn.MLP)
    assert end < start / 10, (start, end)


# --- Embedding -------------------------------------------------------------------

def test_embedding_lookup_matches_numpy_indexing():
    emb = nn.Embedding.init(jax.random.key(15), 10, 4)
    table = np.asarray(emb.table)
    assert table.shape == (10, 4) and (emb.num_embeddings, emb.dim) == (10, 4)
    for ids in [np.array([3, 0, 9, 3]), np.array([[1, 2], [9, 0], [5, 5]]), jnp.array([7]), [2, 4]]:
        out = emb(ids)
        assert out.shape == np.shape(ids) + (4,)
        np.testing.assert_array_equal(out, table[np.asarray(ids)])


def test_embedding_init_scale():
    emb = nn.Embedding.init(jax.random.key(16), 1000, 64, stddev=0.1)
    assert abs(float(np.std(np.asarray(emb.table, np.float64))) / 0.1 - 1.0) < 0.02


@pytest.mark.parametrize("ids", [np.array([0, 10]), np.array([-1, 2]), jnp.array([3, 12]), [[0, 1], [99, 2]]])
def test_embedding_rejects_out_of_range_ids_eagerly(ids):
    emb = nn.Embedding.init(jax.random.key(17), 10, 4)
    with pytest.raises(ValueError, match=r"`ids` holds ids out of range: expected 0 <= id < 10"):
        emb(ids)


def test_embedding_rejects_float_ids():
    emb = nn.Embedding.init(jax.random.key(17), 10, 4)
    with pytest.raises(TypeError, match=r"`ids` must hold integer ids"):
        emb(np.array([1.0, 2.0]))


def test_embedding_under_jit_is_unchecked_and_clamps():
    """The documented sharp edge: inside jit an id of 10 silently reads row 9."""
    emb = nn.Embedding.init(jax.random.key(18), 10, 4)
    out = jax.jit(lambda e, ids: e(ids))(emb, jnp.array([10, 2]))
    np.testing.assert_array_equal(out, np.asarray(emb.table)[[9, 2]])


def test_embedding_gradient_only_on_looked_up_rows():
    """∂/∂E of Σ E[ids]·c is c scattered (added) onto rows ids; other rows get exactly 0."""
    rng = np.random.default_rng(19)
    emb = nn.Embedding.init(jax.random.key(19), 10, 4)
    ids = np.array([1, 3, 3, 7])
    c = _normal(rng, (4, 4))
    grads = jax.grad(lambda e: jnp.sum(e(ids) * c))(emb)
    assert isinstance(grads, nn.Embedding)
    expected = np.zeros((10, 4))
    np.add.at(expected, ids, np.asarray(c, np.float64))
    assert_close_scaled(grads.table, expected)
    untouched = np.setdiff1d(np.arange(10), ids)
    np.testing.assert_array_equal(np.asarray(grads.table)[untouched], 0.0)


# --- Dropout -------------------------------------------------------------------

def test_dropout_without_a_key_is_identity():
    """Dropout is on exactly when a key is passed, as in the models."""
    x = _normal(np.random.default_rng(20), (5, 6))
    np.testing.assert_array_equal(nn.Dropout(0.5)(x), x)
    np.testing.assert_array_equal(nn.Dropout(0.5)(x, key=None), x)
    np.testing.assert_array_equal(nn.Dropout(0.0)(x, key=jax.random.key(0)), x)
    assert jax.tree.leaves(nn.Dropout(0.5)) == []  # no parameters


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_dropout_statistics(rate):
    """10⁶ entries: kept fraction 1 − p (s.e. ≤ 5e-4) and E[a] = x (s.e. ≤ 2e-3) within ~6 s.e."""
    x = jnp.ones((1000, 1000))
    out = np.asarray(nn.Dropout(rate)(x, key=jax.random.key(21)), np.float64)
    kept = out != 0
    assert abs(kept.mean() - (1 - rate)) < 0.003
    np.testing.assert_allclose(out[kept], 1.0 / (1.0 - rate), rtol=1e-6)  # survivors scaled by 1/(1−p)
    assert abs(out.mean() - 1.0) < 0.012


def test_dropout_mask_follows_the_key():
    x = _normal(np.random.default_rng(22), (50, 40))
    drop = nn.Dropout(0.3)
    a, b, other = (drop(x, key=jax.random.key(k)) for k in (1, 1, 2))
    np.testing.assert_array_equal(a, b)
    assert np.any(np.asarray(a) != np.asarray(other))
    # each entry is either dropped or x/(1 − p)
    a, x = np.asarray(a), np.asarray(x)
    np.testing.assert_allclose(a[a != 0], x[a != 0] / 0.7, rtol=1e-6)
    # and it works under jit with the key as an argument
    np.testing.assert_array_equal(jax.jit(lambda d, x, k: d(x, key=k))(drop, x, jax.random.key(1)), b)


def test_dropout_errors():
    with pytest.raises(TypeError, match=r"`key` must be None or a PRNG key"):
        nn.Dropout(0.5)(jnp.ones(3), key=3)
    for bad in [1.0, -0.1, 1.5, float("nan")]:
        with pytest.raises(ValueError, match=r"`rate` must be a number in \[0, 1\) .*; got float"):
            nn.Dropout(bad)
    for bad in ["0.5", None]:
        with pytest.raises(TypeError, match=r"`rate` must be a number in \[0, 1\)"):
            nn.Dropout(bad)


# --- bad input -------------------------------------------------------------------

def test_dense_wrong_last_dimension():
    layer = nn.Dense.init(jax.random.key(23), 3, 4)
    pattern = r"`x` must have shape \(\.\.\., 3\).*in_features = 3; got an array of shape \(4, 5\)"
    with pytest.raises(ValueError, match=pattern):
        layer(jnp.ones((4, 5)))
    with pytest.raises(ValueError, match=pattern):  # static shapes: still checked under jit
        jax.jit(lambda d, x: d(x))(layer, jnp.ones((4, 5)))
    with pytest.raises(ValueError, match=r"`x` must have shape \(\.\.\., 3\).*shape \(\)"):
        layer(jnp.float32(1.0))


def test_unknown_names():
    key = jax.random.key(24)
    with pytest.raises(ValueError, match=r"`activation` must be one of \[.*'tanh'\].*'swish'"):
        nn.MLP.init(key, [2, 3, 1], activation="swish")
    with pytest.raises(ValueError, match=r"`final_activation` must be one of .*'softplus'"):
        nn.MLP.init(key, [2, 3, 1], final_activation="softplus")
    with pytest.raises(ValueError, match=r"`weight_init` must be one of .*'he_uniform'.*'kaiming'"):
        nn.Dense.init(key, 2, 3, weight_init="kaiming")
    with pytest.raises(ValueError, match=r"`weight_init` must be one of .*'kaiming'"):
        nn.MLP.init(key, [2, 3, 1], weight_init="kaiming")


@pytest.mark.parametrize("build, pattern", [
    (lambda k: nn.Dense.init(k, 0, 3), r"`in_features` must be a positive integer; got 0"),
    (lambda k: nn.Dense.init(k, 3, -2), r"`out_features` must be a positive integer; got -2"),
    (lambda k: nn.MLP.init(k, [3]), r"`sizes` must have at least 2 entries .*got \[3\]"),
    (lambda k: nn.MLP.init(k, [3, 0, 1]), r"`sizes\[1\]` must be a positive integer; got 0"),
    (lambda k: nn.Embedding.init(k, 0, 4), r"`num_embeddings` must be a positive integer; got 0"),
    (lambda k: nn.Embedding.init(k, 5, -1), r"`dim` must be a positive integer; got -1"),
    (lambda k: nn.Embedding.init(k, 5, 4, stddev=0.0), r"`stddev` must be a finite number > 0; got 0.0"),
])
def test_non_positive_sizes(build, pattern):
    with pytest.raises(ValueError, match=pattern):
        build(jax.random.key(25))


def test_non_integer_size():
    with pytest.raises(TypeError, match=r"`in_features` must be a positive integer; got float 2.5"):
        nn.Dense.init(jax.random.key(26), 2.5, 3)
