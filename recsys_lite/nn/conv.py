"""Convolution over sequences (chapter 6): Conv1D, its loop version, pooling.

A sequence is an array x of shape (..., L, C): L steps (a user's last L
items, say), each a row of C channels (an item embedding). A 1-D convolution
with a kernel W of shape (w, C, C') slides a window of w steps along it:

    y[t, o] = b[o] + Σ_{k=0}^{w−1} Σ_{c} x̃[t·s + k·d, c] · W[k, c, o]

where s is the stride, d the dilation and x̃ the input padded with zeros.
This is *cross-correlation* (no kernel flip), which is what deep-learning
libraries call convolution. Its output has

    L_out = ⌊(L + p_left + p_right − d(w − 1) − 1) / s⌋ + 1

steps. Padding: ``"valid"`` adds none; ``"same"`` pads so L_out = ⌈L/s⌉
(XLA's convention: any odd extra on the right); ``"causal"`` pads
d(w − 1) zeros on the left only, so y[t] sees x[≤ t] and never the future.

:func:`conv1d_loop` computes the formula with Python loops, for reading; :func:`conv1d` and
:class:`Conv1D` with ``lax.conv_general_dilated``. :class:`HorizontalConv` is Caser's (chapters 6, 8).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero

from recsys_lite._checks import as_array, check_flag, check_float_dtype, check_key, check_lengths, check_size, describe
from recsys_lite._pytree import pytree_dataclass
from recsys_lite.nn.core import get_initializer

__all__ = [
    "PADDINGS", "conv_output_length", "conv_padding", "conv1d_loop", "conv1d", "Conv1D",
    "max_pool_over_time", "mean_pool_over_time", "max_pool1d", "HorizontalConv",
]

PADDINGS = ("valid", "same", "causal")


def _check_conv_args(width: Any, stride: Any, dilation: Any, padding: Any, width_name: str = "width") -> None:
    check_size(width_name, width)
    check_size("stride", stride)
    check_size("dilation", dilation)
    if not isinstance(padding, str) or padding not in PADDINGS:
        raise ValueError(f"`padding` must be one of {PADDINGS}; got {padding!r}.")


def conv_padding(steps: int, width: int, *, stride: int = 1, dilation: int = 1,
                 padding: str = "valid") -> tuple[int, int]:
    """Zeros added ``(left, right)`` for an input of ``steps`` steps.

    Raises ``TypeError``/``ValueError`` unless ``steps``, ``width``, ``stride`` and ``dilation`` are
    positive integers and ``padding`` is one of ``PADDINGS``.
    """
    check_size("steps", steps)
    _check_conv_args(width, stride, dilation, padding)
    span = dilation * (width - 1) + 1  # steps one output looks at: its receptive field
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return span - 1, 0
    total = max((math.ceil(steps / stride) - 1) * stride + span - steps, 0)
    return total // 2, total - total // 2


def conv_output_length(steps: int, width: int, *, stride: int = 1, dilation: int = 1,
                       padding: str = "valid") -> int:
    """L_out = ⌊(L + p_left + p_right − d(w − 1) − 1) / s⌋ + 1.

    Raises ``ValueError`` for a kernel spanning more steps than a ``"valid"`` input has, and as
    :func:`conv_padding` does.
    """
    left, right = conv_padding(steps, width, stride=stride, dilation=dilation, padding=padding)
    span = dilation * (width - 1) + 1
    if steps + left + right < span:
        raise ValueError(f"the kernel spans {span} steps (width {width}, dilation {dilation}) but the input (`x`, "
                         f"or `steps`) has only {steps} with padding={padding!r}: use a shorter kernel, or "
                         "'same'/'causal' padding.")
    return (steps + left + right - span) // stride + 1


def _check_x(x, lengths=None, min_length: int = 0):
    """``x`` as an array after checking it is (..., L ≥ 1, C) numbers, and ``lengths`` (...,) ints in
    [min_length, L] (static: also checked under jit)."""
    x = as_array("x", x)
    if x.ndim < 2 or x.shape[-2] < 1:
        raise ValueError(f"`x` must have shape (..., steps, channels) with steps ≥ 1; got {describe(x)}.")
    if lengths is not None:
        check_lengths("lengths", lengths, x.shape[:-2], x.shape[-2], low=min_length)
    return x


def _check_input(x, kernel, bias) -> None:
    """Shapes and dtypes of a convolution's arguments (static: also checked under jit)."""
    x, kernel = _check_x(x), as_array("kernel", kernel)
    if kernel.ndim != 3 or 0 in kernel.shape:
        raise ValueError(f"`kernel` must have shape (width, in_channels, out_channels), all ≥ 1; "
                         f"got {describe(kernel)}.")
    if x.shape[-1] != kernel.shape[1]:
        raise ValueError(f"`x` has {x.shape[-1]} channels in its last dimension but the kernel expects "
                         f"in_channels = {kernel.shape[1]}; got x of shape {tuple(x.shape)}.")
    if bias is not None and tuple(as_array("bias", bias).shape) != (kernel.shape[2],):
        raise ValueError(f"`bias` must have shape ({kernel.shape[2]},), one per output channel, or be None; "
                         f"got {describe(bias)}.")


def conv1d_loop(x, kernel, bias=None, *, stride: int = 1, dilation: int = 1, padding: str = "valid") -> np.ndarray:
    """The convolution formula with explicit loops, on one sequence (for reading, not training).

    x: (L, C) → (L_out, C') as a float64 numpy array; kernel: (w, C, C'); bias: (C',) or None.
    Raises ``TypeError``/``ValueError`` as :func:`conv1d` does, and for ``x`` that is not one sequence.
    """
    _check_input(x, kernel, bias)
    x, kernel = np.asarray(x, np.float64), np.asarray(kernel, np.float64)
    if x.ndim != 2:
        raise ValueError(f"`x` must be one sequence of shape (steps, channels); got {describe(x)}.")
    width, in_channels, out_channels = kernel.shape
    steps = x.shape[0]
    n_out = conv_output_length(steps, width, stride=stride, dilation=dilation, padding=padding)
    left, right = conv_padding(steps, width, stride=stride, dilation=dilation, padding=padding)
    padded = np.concatenate([np.zeros((left, in_channels)), x, np.zeros((right, in_channels))])
    y = np.zeros((n_out, out_channels))
    for t in range(n_out):
        for o in range(out_channels):
            total = 0.0 if bias is None else float(bias[o])
            for k in range(width):
                for c in range(in_channels):
                    total += padded[t * stride + k * dilation, c] * kernel[k, c, o]
            y[t, o] = total
    return y


def _windows(x, width: int, stride: int, dilation: int, pads: tuple[int, int]) -> jax.Array:
    """im2col: the L_out windows of ``width`` padded steps of x (N, L, C), flattened: (N, L_out, width·C)."""
    padded = jnp.pad(x, ((0, 0), pads, (0, 0)))
    n_out = (padded.shape[1] - dilation * (width - 1) - 1) // stride + 1
    taps = [jax.lax.slice_in_dim(padded, k * dilation, k * dilation + stride * (n_out - 1) + 1, stride, axis=1)
            for k in range(width)]
    return jnp.stack(taps, axis=2).reshape(x.shape[0], n_out, width * x.shape[2])


def _windows_times(x, kernel, stride: int, dilation: int, pads: tuple[int, int]) -> jax.Array:
    """The convolution as one matrix product, windows (N, L_out, w·C) × kernel (w·C, C'): (N, L_out, C')."""
    width, channels, out_channels = kernel.shape
    return _windows(x, width, stride, dilation, pads) @ kernel.reshape(width * channels, out_channels)


def _xla_conv(x, kernel, stride: int, dilation: int, pads: tuple[int, int], dimension_numbers) -> jax.Array:
    return jax.lax.conv_general_dilated(x, kernel, window_strides=(stride,), padding=[pads],
                                        rhs_dilation=(dilation,), dimension_numbers=dimension_numbers)


@partial(jax.custom_jvp, nondiff_argnums=(2, 3, 4))
def _conv(x, kernel, stride: int, dilation: int, pads: tuple[int, int]) -> jax.Array:
    """x (N, L, C) ⋆ kernel (w, C, C') → (N, L_out, C') with XLA's convolution.

    Why a derivative rule of its own: XLA's CPU compiler hands a convolution to its
    fast (Eigen) routine only in the canonical layout (input NWC, kernel WIO, output
    NWC). JAX's rule differentiates a convolution into two convolutions in other
    layouts; XLA rewrites those into the canonical one with transposes, but only
    outside loops, so inside ``lax.scan`` (a training epoch) they ran as slow generic
    loops. The convolution is linear in x and in the kernel, dy = dx ⋆ W + x ⋆ dW,
    and ``_conv_jvp`` writes each term so that its *transpose* (what reverse mode
    runs) is a canonical convolution; see there.
    """
    return _xla_conv(x, kernel, stride, dilation, pads, ("NWC", "WIO", "NWC"))


def _operands_would_swap(steps: int, width: int, stride: int, dilation: int, pads: tuple[int, int]) -> bool:
    """Whether XLA would swap the operands of the input-gradient convolution (its kernel, w taps, longer
    than its input, the L_out output gradients), which leaves the canonical layout (XLA's ConvOperandSwapper)."""
    n_out = (steps + pads[0] + pads[1] - dilation * (width - 1) - 1) // stride + 1
    return width > n_out and not (n_out == 1 and stride == 1 and dilation == 1 and pads == (0, 0))


def _conv_jvp(stride, dilation, pads, primals, tangents):
    """dy = dx ⋆ W + x ⋆ dW, written so that reverse mode runs canonical convolutions only.

    JAX transposes ``conv_general_dilated`` by swapping axis roles in its dimension
    numbers. So each tangent term is the same sum as ``_conv``, with its operands laid
    out so that the swapped roles come out canonical:

    - dx ⋆ W reads the kernel as Wᵀ (w, C', C) in layout "WOI"; its transpose in dx,
      the input gradient g ⋆ flip(W), reads Wᵀ as "WIO": canonical.
    - x ⋆ dW reads x as (C, L, N) "CWN", dW as (C, w, C') "IWO" and writes (L_out, N, C')
      "WNC"; its transpose in dW, the kernel gradient Σ_n x[n] ⋆ g[n], is a canonical
      convolution of x (C, L, N) with g (L_out, N, C'), giving (C, w, C').

    The few transposes are explicit array ops, which XLA runs fast anywhere. Where XLA
    would swap the input-gradient convolution's operands (kernel longer than the output),
    dx ⋆ W is taken as im2col windows × kernel instead (:func:`_windows_times`). Forward
    mode (``jax.jvp``) runs these terms as written: correct, in other layouts. A tangent
    JAX knows to be zero is skipped.
    """
    x, kernel = primals
    dx, dkernel = tangents
    y = _conv(x, kernel, stride, dilation, pads)
    parts = []
    if not isinstance(dx, SymbolicZero):
        if _operands_would_swap(x.shape[1], kernel.shape[0], stride, dilation, pads):
            parts.append(_windows_times(dx, kernel, stride, dilation, pads))
        else:
            parts.append(_xla_conv(dx, jnp.swapaxes(kernel, 1, 2), stride, dilation, pads, ("NWC", "WOI", "NWC")))
    if not isinstance(dkernel, SymbolicZero):
        out = _xla_conv(jnp.transpose(x, (2, 1, 0)), jnp.transpose(dkernel, (1, 0, 2)), stride, dilation, pads,
                        ("CWN", "IWO", "WNC"))
        parts.append(jnp.transpose(out, (1, 0, 2)))
    return y, sum(parts[1:], parts[0])


_conv.defjvp(_conv_jvp, symbolic_zeros=True)


def conv1d(x, kernel, bias=None, *, stride: int = 1, dilation: int = 1, padding: str = "valid") -> jax.Array:
    """The same formula, vectorised with ``lax.conv_general_dilated``.

    x: (..., L, C) → (..., L_out, C'); kernel: (w, C, C'); bias: (C',) or None.
    Derivatives (``jax.grad``, ``jax.jvp``) are JAX's to rounding, written so that the
    gradient's convolutions are in the layout XLA's CPU compiler runs fast inside
    ``lax.scan`` too (see ``_conv``).
    An integer or bool ``x`` is promoted to the kernel's dtype, as ``x @ W`` would be.

    Raises:
        TypeError: arguments that are not arrays of numbers.
        ValueError: ``x`` without a steps and a channel axis, a channel count other than the kernel's, a
            ``bias`` not of shape (C',), a kernel longer than the ``"valid"`` input, or settings as in
            :func:`conv_padding`.
    """
    _check_input(x, kernel, bias)
    x, kernel = jnp.asarray(x), jnp.asarray(kernel)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(x, kernel))
    if x.dtype != kernel.dtype:
        raise TypeError(f"`x` and `kernel` must have the same floating dtype; got {x.dtype} and {kernel.dtype}.")
    steps = x.shape[-2]
    conv_output_length(steps, kernel.shape[0], stride=stride, dilation=dilation, padding=padding)
    pads = conv_padding(steps, kernel.shape[0], stride=stride, dilation=dilation, padding=padding)
    y = _conv(x.reshape((-1,) + x.shape[-2:]), kernel, stride, dilation, pads)
    y = y.reshape(x.shape[:-2] + y.shape[-2:])
    return y if bias is None else y + bias


@pytree_dataclass(static=("stride", "dilation", "padding"))
class Conv1D:
    """A 1-D convolution layer: y = conv1d(x, W) + b (see the module docstring).

    ``kernel`` W: (w, C, C'); ``bias`` b: (C',) or None. x: (..., L, C) →
    (..., L_out, C'). The initialiser's fans count the receptive field:
    fan_in = w·C, fan_out = w·C'.
    """

    kernel: jax.Array
    bias: jax.Array | None
    stride: int = 1
    dilation: int = 1
    padding: str = "valid"

    @classmethod
    def init(cls, key, in_channels: int, out_channels: int, width: int, *, stride: int = 1, dilation: int = 1,
             padding: str = "valid", use_bias: bool = True,
             weight_init: str | Callable = "glorot_uniform", dtype=jnp.float32) -> Conv1D:
        """Kernel from ``weight_init`` with shape (width, in_channels, out_channels), bias 0.

        Raises ``TypeError``/``ValueError`` for a bad key, size, setting, flag, initialiser or dtype.
        """
        check_key("key", key)
        _check_conv_args(width, stride, dilation, padding)
        shape = (int(width), check_size("in_channels", in_channels), check_size("out_channels", out_channels))
        check_flag("use_bias", use_bias)
        check_float_dtype("dtype", dtype)
        kernel = get_initializer(weight_init)(key, shape, dtype)
        return cls(kernel, jnp.zeros((shape[2],), dtype) if use_bias else None, int(stride), int(dilation), padding)

    @property
    def width(self) -> int:
        return self.kernel.shape[0]

    def __call__(self, x) -> jax.Array:
        return conv1d(x, self.kernel, self.bias, stride=self.stride, dilation=self.dilation, padding=self.padding)


def _step_mask(x, lengths):
    """(..., L, 1) True on the first ``lengths`` steps of each sequence."""
    steps = jnp.arange(x.shape[-2])
    return (steps < jnp.asarray(lengths)[..., None])[..., None]


def max_pool_over_time(x, lengths=None) -> jax.Array:
    """max_t x[t, c] over the valid steps: (..., L, C) → (..., C); with ``lengths`` (...,), steps t ≥ length ignored.

    Raises ``TypeError``/``ValueError`` for ``x`` that is not (..., L ≥ 1, C) numbers, or ``lengths`` not of
    shape x.shape[:-2], not integers, or (when concrete) outside [1, L] (a max over no steps would be −inf).
    """
    x = jnp.asarray(_check_x(x, lengths, 1))
    if lengths is not None:
        x = jnp.where(_step_mask(x, lengths), x, -jnp.inf)
    return jnp.max(x, axis=-2)


def mean_pool_over_time(x, lengths=None) -> jax.Array:
    """(1/L) Σ_t x[t, c] over the valid steps: (..., L, C) → (..., C); a length of 0 gives 0.

    Raises as :func:`max_pool_over_time`, with lengths allowed in [0, L].
    """
    x = jnp.asarray(_check_x(x, lengths))
    if lengths is None:
        return jnp.mean(x, axis=-2)
    mask = _step_mask(x, lengths)
    count = jnp.maximum(jnp.sum(mask, axis=-2), 1)
    return jnp.sum(jnp.where(mask, x, 0.0), axis=-2) / count


def max_pool1d(x, window: int, stride: int | None = None) -> jax.Array:
    """Max over sliding windows of ``window`` steps ('valid'): (..., L, C) → (..., L_out, C).

    Raises ``TypeError``/``ValueError`` for ``x`` that is not (..., L ≥ 1, C) numbers, a
    ``window`` or ``stride`` that is not a positive integer, or a window longer than L.
    """
    x = jnp.asarray(_check_x(x))
    stride = window if stride is None else stride
    _check_conv_args(window, stride, 1, "valid", width_name="window")
    conv_output_length(x.shape[-2], window, stride=stride)
    dims = (1,) * (x.ndim - 2) + (window, 1)
    strides = (1,) * (x.ndim - 2) + (stride, 1)
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, dims, strides, "VALID")


@pytree_dataclass
class HorizontalConv:
    """Caser's horizontal convolutions {Tang and Wang 2018}: widths h = 1 … L over the L steps.

        g_h = maxpool_t relu(conv_h(E))      (n_h,) for each h,   out = [g_1, …, g_L]   (L·n_h,)

    ``convs[h−1]`` is a 'valid' Conv1D with kernel (h, d, n_h). E: (..., L, d) → (..., L·n_h).
    """

    convs: tuple

    @classmethod
    def init(cls, keys, in_channels: int, n_filters: int) -> HorizontalConv:
        """One convolution per key of ``keys`` (L keys, e.g. ``jax.random.split(key, L)``): widths 1 … L.

        Raises ``TypeError``/``ValueError`` for ``keys`` that are not L ≥ 1 PRNG keys, or bad sizes.
        """
        if not isinstance(keys, (tuple, list, jax.Array, np.ndarray)) or not len(keys):
            raise TypeError(f"`keys` must be L ≥ 1 PRNG keys, one per width 1 … L; got {describe(keys)}.")
        return cls(tuple(Conv1D.init(key, in_channels, n_filters, h) for h, key in enumerate(keys, 1)))  # checks each

    @property
    def window(self) -> int:
        """L, the number of steps (and widths) the bank is built for."""
        return len(self.convs)

    def __call__(self, x) -> jax.Array:
        """Raises ``ValueError`` for ``x`` not of shape (..., L, d) (see :func:`conv1d`)."""
        return jnp.concatenate([max_pool_over_time(jax.nn.relu(conv(x))) for conv in self.convs], axis=-1)
