"""Conv1D and pooling: the loop version, the fast version, numpy and jax.lax agree."""

from __future__ import annotations

import itertools
import re

import jax
import jax.numpy as jnp
import jax.test_util
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys_lite import nn

RNG = np.random.default_rng(0)
# padding, stride, dilation, width
CONFIGS = list(itertools.product(["valid", "same", "causal"], [1, 2, 3], [1, 2], [1, 2, 4]))


@pytest.mark.parametrize("padding,stride,dilation,width", CONFIGS)
def test_loop_and_vectorised_versions_agree(padding, stride, dilation, width):
    x = RNG.normal(size=(11, 3))
    kernel = RNG.normal(size=(width, 3, 2))
    bias = RNG.normal(size=2)
    kw = dict(stride=stride, dilation=dilation, padding=padding)
    loop = nn.conv1d_loop(x, kernel, bias, **kw)
    fast = np.asarray(nn.conv1d(jnp.asarray(x, jnp.float32), jnp.asarray(kernel, jnp.float32), bias, **kw))
    assert loop.shape == fast.shape == (nn.conv_output_length(11, width, **kw), 2)
    assert np.allclose(loop, fast, atol=1e-5)


@pytest.mark.parametrize("width", [1, 2, 3, 5])
def test_single_channel_matches_numpy_correlate_and_convolve(width):
    a, v = RNG.normal(size=17), RNG.normal(size=width)
    as_conv = lambda kernel, padding: nn.conv1d_loop(a[:, None], kernel[:, None, None], padding=padding)[:, 0]
    # Deep-learning "convolution" is cross-correlation: numpy.correlate.
    assert np.allclose(as_conv(v, "valid"), np.correlate(a, v, "valid"))
    # True convolution flips the kernel: numpy.convolve.
    assert np.allclose(as_conv(v[::-1], "valid"), np.convolve(a, v, "valid"))
    if width % 2 == 1:  # numpy centres 'same' like XLA for odd kernels
        assert np.allclose(as_conv(v, "same"), np.correlate(a, v, "same"))


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("stride,dilation", [(1, 1), (2, 1), (1, 3), (3, 2)])
def test_multichannel_layer_matches_lax_with_its_own_padding(padding, stride, dilation):
    layer = nn.Conv1D.init(jax.random.key(0), 4, 6, 3, stride=stride, dilation=dilation, padding=padding)
    x = jnp.asarray(RNG.normal(size=(2, 5, 13, 4)), jnp.float32)  # two batch dimensions
    ours = layer(x)
    reference = jax.lax.conv_general_dilated(
        x.reshape(10, 13, 4), layer.kernel, (stride,), padding.upper(), rhs_dilation=(dilation,),
        dimension_numbers=("NWC", "WIO", "NWC")).reshape(2, 5, -1, 6) + layer.bias
    assert ours.shape == reference.shape
    assert np.allclose(ours, reference, atol=1e-5)


def test_causal_output_never_sees_the_future():
    layer = nn.Conv1D.init(jax.random.key(1), 2, 3, 3, dilation=2, padding="causal")
    x = jnp.asarray(RNG.normal(size=(10, 2)), jnp.float32)
    changed = x.at[6:].set(100.0)
    assert np.allclose(layer(x)[:6], layer(changed)[:6])
    assert not np.allclose(layer(x)[6:], layer(changed)[6:])


def test_gradients_through_the_convolution():
    with jax.enable_x64():
        x = jnp.asarray(RNG.normal(size=(3, 9, 2)))
        kernel = jnp.asarray(RNG.normal(size=(3, 2, 4)))
        f = lambda x, kernel: jnp.sum(jnp.tanh(nn.conv1d(x, kernel, stride=2, dilation=2, padding="same")))
        jax.test_util.check_grads(f, (x, kernel), order=2, modes=["rev"])



@pytest.mark.parametrize("padding, stride, dilation, width", CONFIGS)
def test_derivatives_match_those_of_xla_convolution(padding, stride, dilation, width):
    """conv1d's own derivative rule (canonical-layout convolutions) against JAX's rule for lax.conv_general_dilated."""
    with jax.enable_x64():
        x = jnp.asarray(RNG.normal(size=(2, 9, 3)))
        kernel = jnp.asarray(RNG.normal(size=(width, 3, 4)))
        pads = nn.conv_padding(9, width, stride=stride, dilation=dilation, padding=padding)

        def reference(x, kernel):
            return jax.lax.conv_general_dilated(x, kernel, (stride,), [pads], rhs_dilation=(dilation,),
                                                dimension_numbers=("NWC", "WIO", "NWC"))

        ours = lambda x, kernel: nn.conv1d(x, kernel, stride=stride, dilation=dilation, padding=padding)  # noqa: E731
        weight = jnp.asarray(RNG.normal(size=reference(x, kernel).shape))
        loss = lambda conv: lambda x, kernel: jnp.sum(weight * jnp.sin(conv(x, kernel)))  # noqa: E731
        for got, want in zip(jax.grad(loss(ours), (0, 1))(x, kernel), jax.grad(loss(reference), (0, 1))(x, kernel)):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
        tangents = (jnp.asarray(RNG.normal(size=x.shape)), jnp.asarray(RNG.normal(size=kernel.shape)))
        np.testing.assert_allclose(jax.jvp(ours, (x, kernel), tangents)[1],
                                   jax.jvp(reference, (x, kernel), tangents)[1], rtol=1e-10, atol=1e-12)
        only_kernel = jax.grad(lambda k: jnp.sum(ours(x, k) ** 2))(kernel)   # x has no tangent: one product only
        np.testing.assert_allclose(only_kernel, jax.grad(lambda k: jnp.sum(reference(x, k) ** 2))(kernel), rtol=1e-10)


@pytest.mark.parametrize("steps, widths, stride, dilation, padding", [
    (11, (3,), 2, 2, "same"), (11, (3,), 1, 2, "causal"), (9, (2, 4), 3, 1, "valid"),
    (5, (1, 2, 3, 4, 5), 1, 1, "valid"),   # Caser's bank: widths 4 and 5 are longer than their outputs
])
def test_gradient_inside_a_scan_compiles_to_canonical_convolutions_only(steps, widths, stride, dilation, padding):
    """XLA's CPU compiler hands a convolution to Eigen only in the canonical layout (NWC input, WIO kernel,
    NWC output) and rewrites other layouts only outside loops. conv1d's derivative rule is written so that a
    training loop (a lax.scan of gradient steps) holds canonical convolutions only: forward, input and kernel
    gradients."""
    layers = [nn.Conv1D.init(jax.random.key(w), 3, 4, w, stride=stride, dilation=dilation, padding=padding)
              for w in widths]
    xs = jnp.asarray(RNG.normal(size=(5, 8, steps, 3)), jnp.float32)

    def epoch(layers, xs):
        def step(carry, x):
            layers, x_grad = carry
            loss = lambda layers, x: sum(jnp.sum(layer(x) ** 2) for layer in layers)  # noqa: E731
            grads, gx = jax.grad(loss, (0, 1))(layers, x)
            return (jax.tree_util.tree_map(lambda p, g: p - 0.01 * g, layers, grads), x_grad + gx), None
        return jax.lax.scan(step, (layers, jnp.zeros_like(xs[0])), xs)[0]

    hlo = jax.jit(epoch).lower(layers, xs).compile().as_text()
    labels = re.findall(r" convolution\(.*?dim_labels=([^,\s]+)", hlo)
    assert labels and set(labels) == {"b0f_0io->b0f"}, labels
    assert "rhs_reversal" not in hlo   # a swapped input gradient would reverse its window


@settings(max_examples=60, deadline=None)
@given(steps=st.integers(1, 30), width=st.integers(1, 6), stride=st.integers(1, 4),
       dilation=st.integers(1, 3), padding=st.sampled_from(["valid", "same", "causal"]))
def test_output_length_formula(steps, width, stride, dilation, padding):
    kw = dict(stride=stride, dilation=dilation, padding=padding)
    span = dilation * (width - 1) + 1
    if padding == "valid" and steps < span:
        with pytest.raises(ValueError, match="the kernel spans"):
            nn.conv_output_length(steps, width, **kw)
        return
    expected = nn.conv_output_length(steps, width, **kw)
    out = nn.conv1d(jnp.ones((steps, 1)), jnp.ones((width, 1, 1)), **kw)
    assert out.shape == (expected, 1)
    if padding != "valid":
        assert expected == -(-steps // stride)  # ⌈L / s⌉


def test_bad_inputs_name_the_problem():
    layer = nn.Conv1D.init(jax.random.key(0), 3, 2, 4)
    with pytest.raises(ValueError, match="the kernel spans 4 steps .* only 3"):
        layer(jnp.ones((3, 3)))
    with pytest.raises(ValueError, match="`x` has 5 channels .* in_channels = 3"):
        layer(jnp.ones((8, 5)))
    with pytest.raises(ValueError, match=r"`x` must have shape \(\.\.\., steps, channels\)"):
        layer(jnp.ones(8))
    with pytest.raises(ValueError, match="`stride` must be a positive integer; got 0"):
        nn.Conv1D.init(jax.random.key(0), 3, 2, 4, stride=0)
    with pytest.raises(ValueError, match="`dilation` must be a positive integer; got -1"):
        nn.Conv1D.init(jax.random.key(0), 3, 2, 4, dilation=-1)
    with pytest.raises(ValueError, match="`padding` must be one of"):
        nn.Conv1D.init(jax.random.key(0), 3, 2, 4, padding="full")


def test_conv_layer_is_a_pytree_with_static_settings():
    layer = nn.Conv1D.init(jax.random.key(0), 3, 2, 4, stride=2, padding="same")
    assert len(jax.tree_util.tree_leaves(layer)) == 2
    grads = jax.grad(lambda conv: jnp.sum(conv(jnp.ones((9, 3)))))(layer)
    assert isinstance(grads, nn.Conv1D) and grads.stride == 2 and grads.padding == "same"


def test_pooling_over_time_respects_lengths():
    x = RNG.normal(size=(4, 6, 3)).astype(np.float32)
    lengths = np.array([6, 1, 3, 4])
    x_padded = x.copy()
    for i, n in enumerate(lengths):
        x_padded[i, n:] = 1e6  # padding must not leak into the pool
    ours_max = np.asarray(nn.max_pool_over_time(x_padded, lengths))
    ours_mean = np.asarray(nn.mean_pool_over_time(x_padded, lengths))
    for i, n in enumerate(lengths):
        assert np.allclose(ours_max[i], x[i, :n].max(axis=0))
        assert np.allclose(ours_mean[i], x[i, :n].mean(axis=0), atol=1e-6)
    assert np.allclose(nn.max_pool_over_time(x), x.max(axis=1))


def test_windowed_max_pool():
    x = RNG.normal(size=(2, 7, 3)).astype(np.float32)
    out = np.asarray(nn.max_pool1d(x, 3, 2))
    expected = np.stack([x[:, t:t + 3].max(axis=1) for t in range(0, 5, 2)], axis=1)
    assert out.shape == (2, 3, 3) and np.allclose(out, expected)


def test_horizontal_conv_bank_matches_numpy():
    """Caser's bank: for each width h = 1 … L, max over time of relu(Σ window · kernel + b); concatenated."""
    bank = nn.HorizontalConv.init(jax.random.split(jax.random.key(3), 4), 3, 2)
    assert bank.window == 4 and [conv.width for conv in bank.convs] == [1, 2, 3, 4]
    bank = jax.tree_util.tree_map(lambda p: p + 0.1, bank)  # nonzero biases
    x = RNG.normal(size=(5, 4, 3)).astype(np.float32)
    expected = []
    for conv in bank.convs:
        k, b, h = np.asarray(conv.kernel), np.asarray(conv.bias), conv.width
        windows = np.stack([x[:, t:t + h] for t in range(4 - h + 1)], axis=1)       # (B, L − h + 1, h, C)
        expected.append(np.maximum(np.einsum("bthc,hco->bto", windows, k) + b, 0).max(axis=1))
    np.testing.assert_allclose(bank(x), np.concatenate(expected, axis=-1), rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="`key`"):
        nn.HorizontalConv.init([jax.random.key(0), 3], 3, 2)
    with pytest.raises(TypeError, match="`keys` must be L ≥ 1 PRNG keys"):
        nn.HorizontalConv.init([], 3, 2)
