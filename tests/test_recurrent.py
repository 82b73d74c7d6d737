"""Recurrent cells against numpy equations; scan against the loop; masking; gradients through time."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.test_util
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys_lite import nn

RNG = np.random.default_rng(0)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _np(cell):
    return [np.asarray(a, np.float64) for a in (cell.U, cell.W, cell.b)]


def _random(cell):
    """Random, non-trivial weights (biases too), same structure."""
    leaves, tree = jax.tree_util.tree_flatten(cell)
    keys = jax.random.split(jax.random.key(7), len(leaves))
    return tree.unflatten([0.5 * jax.random.normal(k, leaf.shape) for k, leaf in zip(keys, leaves)])


def test_rnn_cell_matches_numpy():
    cell = _random(nn.RNNCell.init(jax.random.key(0), 3, 4))
    h, x = RNG.normal(size=(5, 4)), RNG.normal(size=(5, 3))
    U, W, b = _np(cell)
    expected = np.tanh(h @ W + x @ U + b)
    assert np.allclose(cell(jnp.asarray(h, jnp.float32), jnp.asarray(x, jnp.float32)), expected, atol=1e-5)


def test_gru_cell_matches_numpy():
    cell = _random(nn.GRUCell.init(jax.random.key(1), 3, 4))
    h, x = RNG.normal(size=(5, 4)), RNG.normal(size=(5, 3))
    U, W, b = _np(cell)
    H = 4
    z = _sigmoid(x @ U[:, :H] + h @ W[:, :H] + b[:H])
    r = _sigmoid(x @ U[:, H:2 * H] + h @ W[:, H:2 * H] + b[H:2 * H])
    n = np.tanh(x @ U[:, 2 * H:] + (r * h) @ W[:, 2 * H:] + b[2 * H:])
    expected = (1 - z) * h + z * n
    assert np.allclose(cell(jnp.asarray(h, jnp.float32), jnp.asarray(x, jnp.float32)), expected, atol=1e-5)


def test_lstm_cell_matches_numpy_and_starts_remembering():
    fresh = nn.LSTMCell.init(jax.random.key(2), 3, 4)
    assert np.allclose(fresh.b[4:8], 1.0) and np.allclose(fresh.b[:4], 0.0)
    cell = _random(fresh)
    h, c, x = RNG.normal(size=(5, 4)), RNG.normal(size=(5, 4)), RNG.normal(size=(5, 3))
    U, W, b = _np(cell)
    i, f, g, o = np.split(x @ U + h @ W + b, 4, axis=1)
    c_new = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    h_new = _sigmoid(o) * np.tanh(c_new)
    ours_h, ours_c = cell((jnp.asarray(h, jnp.float32), jnp.asarray(c, jnp.float32)), jnp.asarray(x, jnp.float32))
    assert np.allclose(ours_h, h_new, atol=1e-5) and np.allclose(ours_c, c_new, atol=1e-5)


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_scan_equals_the_loop_unroll(kind):
    layer = nn.Recurrent.init(jax.random.key(3), 3, 5, cell=kind)
    xs = jnp.asarray(RNG.normal(size=(4, 7, 3)), jnp.float32)
    lengths = jnp.array([7, 0, 3, 5])
    out_scan, state_scan = layer(xs, lengths)
    out_loop, state_loop = nn.unroll(layer.cell, xs, lengths)
    assert out_scan.shape == (4, 7, 5)
    assert np.allclose(out_scan, out_loop, atol=1e-6)
    for a, b in zip(jax.tree_util.tree_leaves(state_scan), jax.tree_util.tree_leaves(state_loop)):
        assert np.allclose(a, b, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(lengths=st.lists(st.integers(0, 6), min_size=1, max_size=4), kind=st.sampled_from(["rnn", "gru", "lstm"]))
def test_padding_changes_nothing_on_real_steps(lengths, kind):
    layer = nn.Recurrent.init(jax.random.key(4), 2, 3, cell=kind)
    xs = np.asarray(RNG.normal(size=(len(lengths), 6, 2)), np.float32)
    garbage = xs.copy()
    for row, n in enumerate(lengths):
        garbage[row, n:] = 1e3  # different padding values
    out_a, state_a = layer(xs, np.array(lengths))
    out_b, state_b = layer(garbage, np.array(lengths))
    assert np.allclose(out_a, out_b)
    for a, b in zip(jax.tree_util.tree_leaves(state_a), jax.tree_util.tree_leaves(state_b)):
        assert np.allclose(a, b)
    for row, n in enumerate(lengths):
        assert np.all(np.asarray(out_a)[row, n:] == 0)
        # The final state is the state after the last real step of an unpadded run.
        if n:
            _, alone = layer(xs[row:row + 1, :n])
            final_alone = jax.tree_util.tree_leaves(alone)[0][0]
            assert np.allclose(final_alone, jax.tree_util.tree_leaves(state_a)[0][row], atol=1e-5)


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_gradients_through_time(kind):
    with jax.enable_x64():
        layer = nn.Recurrent.init(jax.random.key(5), 2, 3, cell=kind)
        layer = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), layer)
        xs = jnp.asarray(RNG.normal(size=(2, 5, 2)))
        loss = lambda layer, xs: jnp.sum(layer(xs, jnp.array([5, 3]))[0] ** 2)
        jax.test_util.check_grads(loss, (layer, xs), order=1, modes=["rev"])


def test_the_grus_written_out_backward_pass_equals_jax_grad_of_the_loop():
    """nn.Recurrent's GRU derivative is written by hand (_gru_scan_backward); JAX's derivative of the Python
    loop nn.unroll is the reference: every weight, the inputs and the initial state, for a loss on the outputs
    and on the final state, over a (2, 3) batch of padded sequences (lengths 0 … L), in float64."""
    with jax.enable_x64():
        rng = np.random.default_rng(11)
        layer = nn.Recurrent.init(jax.random.key(8), 3, 4, cell="gru")
        layer = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64) + 0.3 * rng.normal(size=a.shape), layer)
        xs, h0 = jnp.asarray(rng.normal(size=(2, 3, 6, 3))), jnp.asarray(rng.normal(size=(2, 3, 4)))
        lengths = jnp.array([[6, 0, 2], [5, 1, 6]])
        w_out, w_last = jnp.asarray(rng.normal(size=(2, 3, 6, 4))), jnp.asarray(rng.normal(size=(2, 3, 4)))

        def loss(run, cell, xs, h0):
            outputs, last = run(cell, xs, h0)
            return jnp.sum(jnp.tanh(outputs) * w_out) + jnp.sum(last * last * w_last)

        scan = lambda cell, xs, h0: nn.Recurrent(cell)(xs, lengths, h0)       # noqa: E731
        loop = lambda cell, xs, h0: nn.unroll(cell, xs, lengths, h0)           # noqa: E731
        assert np.isclose(loss(scan, layer.cell, xs, h0), loss(loop, layer.cell, xs, h0), rtol=1e-13)
        ours = jax.grad(loss, argnums=(1, 2, 3))(scan, layer.cell, xs, h0)
        reference = jax.grad(loss, argnums=(1, 2, 3))(loop, layer.cell, xs, h0)
        for name, a, b in zip(["U", "W", "b", "xs", "h0"], jax.tree_util.tree_leaves(ours),
                              jax.tree_util.tree_leaves(reference)):
            rel = float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(b)))
            assert rel < 1e-12, f"∂J/∂{name}: relative error {rel:.1e}"


def test_bad_inputs_name_the_problem():
    layer = nn.Recurrent.init(jax.random.key(6), 3, 4)
    xs = jnp.ones((2, 5, 3))
    with pytest.raises(ValueError, match=r"`lengths` must be ≤ the padded length 5; got a length of 6"):
        layer(xs, jnp.array([6, 2]))
    with pytest.raises(ValueError, match="`lengths` must be ≥ 0; got a length of -1"):
        layer(xs, jnp.array([-1, 2]))
    with pytest.raises(ValueError, match=r"`lengths` must have shape \(2,\)"):
        layer(xs, jnp.array([1, 2, 3]))
    with pytest.raises(ValueError, match=r"`xs` must have shape \(\.\.\., steps, 3\)"):
        layer(jnp.ones((2, 5, 4)))
    with pytest.raises(ValueError, match="hidden state must have hidden_size = 4"):
        layer(xs, state=jnp.zeros((2, 7)))
    with pytest.raises(ValueError, match="`cell` must be one of"):
        nn.Recurrent.init(jax.random.key(0), 3, 4, cell="transformer")
    with pytest.raises(ValueError, match="`hidden_size` must be a positive integer"):
        nn.GRUCell.init(jax.random.key(0), 3, 0)


def test_the_gate_has_the_sigmoid_values_and_derivative():
    """gate's hand-given derivative equals jax.grad of jax.nn.sigmoid and a central finite difference."""
    z = jnp.asarray(np.random.default_rng(3).normal(scale=4.0, size=500), jnp.float32)
    np.testing.assert_allclose(nn.gate(z), jax.nn.sigmoid(z), rtol=1e-6, atol=1e-7)
    ours = jax.vmap(jax.grad(nn.gate))(z)
    np.testing.assert_allclose(ours, jax.vmap(jax.grad(jax.nn.sigmoid))(z), rtol=1e-5, atol=1e-7)
    z64 = np.asarray(z, np.float64)
    sigma = lambda x: 1.0 / (1.0 + np.exp(-x))  # noqa: E731
    central = (sigma(z64 + 1e-5) - sigma(z64 - 1e-5)) / 2e-5
    np.testing.assert_allclose(ours, central, rtol=1e-4, atol=1e-7)
    extremes = jnp.array([-1e4, 0.0, 1e4], jnp.float32)
    np.testing.assert_array_equal(jax.vmap(jax.grad(nn.gate))(extremes), [0.0, 0.25, 0.0])


def test_the_gate_equals_the_books_sigmoid_bit_for_bit():
    """gate shares one exponential between the two branches of nn.sigmoid's stable form: the same bits."""
    rng = np.random.default_rng(4)
    for dtype in (jnp.float32, jnp.float64):
        with jax.enable_x64(dtype == jnp.float64):
            z = np.concatenate([rng.normal(scale=s, size=20_000) for s in (0.1, 1.0, 10.0, 1e3)]
                               + [[0.0, -0.0, 88.7, -88.7, 745.0, -745.0, np.inf, -np.inf]])
            z = jnp.asarray(z, dtype)
            np.testing.assert_array_equal(jax.jit(nn.gate)(z), jax.jit(nn.sigmoid)(z))
