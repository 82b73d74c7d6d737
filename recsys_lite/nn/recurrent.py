"""Recurrent layers (chapter 7): RNN, GRU and LSTM cells and a masked scan over time.

A recurrent layer reads a sequence x_1 … x_L (rows of C features) one step
at a time and carries a hidden state h_t (a row of H numbers):

    h_t = g(h_{t−1} W + x_t U + b)          W: (H, H),  U: (C, H),  b: (H,)

A *cell* computes one step, ``h_t = cell(h_{t−1}, x_t)``; :class:`Recurrent`
applies a cell along a batch of padded sequences with ``lax.scan``. Padding:
sequences of different lengths are stored left-aligned in an array of shape
(B, L, C) with their ``lengths`` (B,); on a padded step (t ≥ length) the state
is carried over unchanged and the output is zero, so padding changes nothing.
:func:`unroll` does the same with a Python loop, for reading.

Gated cells (GRU, LSTM) replace g(…) by a mix of the old state and a
candidate, controlled by gates in (0, 1): the gradient can then flow through
the ``(1 − z_t) ⊙ h_{t−1}`` path without being squashed at every step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from recsys_lite._checks import as_array, check_int_in_range, check_key, check_lengths, check_size, describe
from recsys_lite._pytree import pytree_dataclass
from recsys_lite.nn.activations import get_activation
from recsys_lite.nn.initializers import get_initializer

__all__ = ["RNNCell", "GRUCell", "LSTMCell", "Recurrent", "unroll", "gate"]


@jax.custom_jvp
def gate(z):
    """σ(z) for the gates of GRU and LSTM cells, with its derivative σ'(z) = σ(z)(1 − σ(z)).

    The same values as :func:`recsys_lite.nn.sigmoid`, bit for bit, with one exponential
    instead of two: with e = e^{−|z|} ≤ 1, σ(z) = 1 / (1 + e) for z ≥ 0 and e / (1 + e)
    for z < 0 are the two branches of the stable form, sharing e. And JAX is handed the
    derivative derived in chapter 4 instead of differentiating the two branches: in a
    recurrent cell, called at every step of every sequence, this made JAX's backward pass
    about a third faster (the single exponential saved about 6 % more of a GRU's step).
    The GRU in :class:`Recurrent` now has its own backward pass, which does not use it.
    """
    e = jnp.exp(-jnp.abs(z))
    return jnp.where(z >= 0, 1.0, e) / (1.0 + e)


@gate.defjvp
def _gate_jvp(primals, tangents):
    s = gate(primals[0])
    return s, s * (1.0 - s) * tangents[0]


def _init_weights(key, input_size, hidden_size, n_blocks, weight_init):
    """U: (C, n·H) Glorot, W: (H, n·H) orthogonal per block (keeps ‖h W‖ ≈ ‖h‖), b = 0."""
    check_key("key", key)
    input_size, hidden_size = check_size("input_size", input_size), check_size("hidden_size", hidden_size)
    u_key, w_key = jax.random.split(key)
    U = get_initializer(weight_init)(u_key, (input_size, n_blocks * hidden_size))
    orthogonal = jax.nn.initializers.orthogonal()
    blocks = [orthogonal(k, (hidden_size, hidden_size)) for k in jax.random.split(w_key, n_blocks)]
    return U, jnp.concatenate(blocks, axis=1), jnp.zeros((n_blocks * hidden_size,))


def _batch_shape(batch_shape) -> tuple[int, ...]:
    """``batch_shape`` as a tuple after checking it holds integers ≥ 0."""
    if not isinstance(batch_shape, (tuple, list)):
        raise TypeError(f"`batch_shape` must be a tuple of integers ≥ 0, e.g. () or (32,); "
                        f"got {describe(batch_shape)}.")
    return tuple(check_int_in_range(f"batch_shape[{i}]", n, 0) for i, n in enumerate(batch_shape))


def _check_width(cell, x) -> None:
    """Raise unless ``x`` is numbers with the cell's input_size features in its last dimension."""
    x = as_array("x", x)
    if x.ndim < 1 or x.shape[-1] != cell.input_size:
        raise ValueError(f"`x` must have {cell.input_size} features in its last dimension (the cell's "
                         f"input_size); got {describe(x)}.")


def _check_step(cell, h, x, name: str | None = None) -> None:
    """Shapes and dtypes of one step's state ``h`` and input ``x`` (static: also checked under jit)."""
    _check_width(cell, x)
    x = as_array("x", x)
    is_lstm = isinstance(cell, LSTMCell)
    name = name or ("state" if is_lstm else "h")
    if is_lstm != (isinstance(h, tuple) and len(h) == 2):
        wanted = "a tuple (h, c) of two arrays" if is_lstm else "one array (not a tuple)"
        raise TypeError(f"`{name}`, the state of a {type(cell).__name__}, must be {wanted}; got {describe(h)}.")
    for part in h if is_lstm else (h,):
        part = as_array(name, part)
        if part.shape[-1:] != (cell.hidden_size,):
            raise ValueError(f"the hidden state must have hidden_size = {cell.hidden_size} features in its last "
                             f"dimension; got `{name}` = {describe(part)}.")
        if part.shape[:-1] != x.shape[:-1]:
            raise ValueError(f"the hidden state `{name}` and the input `x` must have the same batch shape; got "
                             f"{tuple(part.shape[:-1])} and {tuple(x.shape[:-1])}.")


class _Cell:
    """What every cell shares. A cell holds ``U``: (C, nH), ``W``: (H, nH), ``b``: (nH,) for its n blocks
    and writes its own equations in ``step(state, xu)``; the members below are the same for all three."""

    input_size = property(lambda self: self.U.shape[0])
    hidden_size = property(lambda self: self.W.shape[0])

    def initial_state(self, batch_shape=()) -> jax.Array:
        """The zero state h_0: (*batch_shape, H)."""
        return jnp.zeros(_batch_shape(batch_shape) + (self.hidden_size,))

    def project(self, x) -> jax.Array:
        """The input's share x U + b of every block: (..., C) → (..., nH); one matmul for all steps at once."""
        _check_width(self, x)
        return x @ self.U + self.b

    def scan(self, state, xs, real):
        """Run the cell along time-major ``xs`` (L, ..., C), ``real`` (L, ..., 1) True on real steps:
        ``(final state, outputs (L, ..., H))``, the state carried over and the output zero on padded
        steps. One ``lax.scan`` in which each step computes its own x_t U + b, differentiated by JAX
        (the GRU overrides this, see :class:`Recurrent`)."""
        def step(state, inputs):
            x_t, real_t = inputs
            new = self.step(state, x_t @ self.U + self.b)
            return _masked(real_t, new, state), jnp.where(real_t, _output(new), 0.0)

        return jax.lax.scan(step, state, (xs, real))

    def __call__(self, state, x):
        """One step from the raw input x_t; raises ``TypeError``/``ValueError`` for a state or input of the
        wrong kind or shape."""
        _check_step(self, state, x)
        return self.step(state, self.project(x))


@pytree_dataclass(static=("activation",))
class RNNCell(_Cell):
    """The plain recurrent step h_t = g(h_{t−1} W + x_t U + b); g = tanh by default.

    ``U``: (C, H), ``W``: (H, H), ``b``: (H,). h: (..., H), x: (..., C) → (..., H).
    """

    U: jax.Array
    W: jax.Array
    b: jax.Array
    activation: str | Callable = "tanh"

    @classmethod
    def init(cls, key, input_size: int, hidden_size: int, *, activation: str | Callable = "tanh",
             weight_init: str | Callable = "glorot_uniform") -> RNNCell:
        get_activation(activation)
        return cls(*_init_weights(key, input_size, hidden_size, 1, weight_init), activation)

    def step(self, h, xu) -> jax.Array:
        """One step from the projected input ``xu = project(x_t)``."""
        return get_activation(self.activation)(h @ self.W + xu)


@pytree_dataclass
class GRUCell(_Cell):
    """Gated recurrent unit {Cho et al. 2014}, row-vector form:

        z_t = σ(x_t U_z + h_{t−1} W_z + b_z)              update gate
        r_t = σ(x_t U_r + h_{t−1} W_r + b_r)              reset gate
        ñ_t = tanh(x_t U_n + (r_t ⊙ h_{t−1}) W_n + b_n)   candidate
        h_t = (1 − z_t) ⊙ h_{t−1} + z_t ⊙ ñ_t

    ``U``: (C, 3H), ``W``: (H, 3H), ``b``: (3H,), blocks in the order z, r, n.
    """

    U: jax.Array
    W: jax.Array
    b: jax.Array

    @classmethod
    def init(cls, key, input_size: int, hidden_size: int, *,
             weight_init: str | Callable = "glorot_uniform") -> GRUCell:
        return cls(*_init_weights(key, input_size, hidden_size, 3, weight_init))

    def step(self, h, xu) -> jax.Array:
        """One step from the projected input ``xu = project(x_t)``."""
        H = self.hidden_size
        return _gru_step(h, xu[..., :2 * H], xu[..., 2 * H:], self.W[:, :2 * H], self.W[:, 2 * H:])[0]

    def scan(self, h, xs, real):
        """:meth:`_Cell.scan` for the GRU, with its backward pass written out (:func:`_gru_scan`)."""
        return _gru_scan(self.U, self.W, self.b, h, xs, real)


def _gru_step(h, x_zr, x_n, W_zr, W_n):
    """The GRU equations above from the input terms x_t [U_z U_r] + [b_z b_r] (..., 2H) and
    x_t U_n + b_n (..., H): returns h_t and the gates (z_t, r_t, ñ_t), which the backward pass reuses.

    Both gates' h_{t−1} W_z and h_{t−1} W_r come from one (H, 2H) product; the candidate's
    (r_t ⊙ h_{t−1}) W_n must wait for r_t, so a step has two rounds of products whatever is done.
    """
    z, r = jnp.split(gate(x_zr + h @ W_zr), 2, axis=-1)
    n = jnp.tanh(x_n + (r * h) @ W_n)
    return (1 - z) * h + z * n, (z, r, n)


def _gru_forward(U, W, b, h, xs, real):
    """The GRU along time-major ``xs`` (L, ..., C): (h_L, outputs (L, ..., H), what the backward pass
    needs). The input terms x_t U + b of all L steps are one product before the loop (they do not
    depend on the state); the loop computes only what does."""
    H = W.shape[0]
    W_zr, W_n = W[:, :2 * H], W[:, 2 * H:]

    def step(h, inputs):
        xu, real_t = inputs
        new, gates = _gru_step(h, xu[..., :2 * H], xu[..., 2 * H:], W_zr, W_n)
        return jnp.where(real_t, new, h), (jnp.where(real_t, new, 0.0), h, gates)

    h_last, (outputs, h_before, gates) = jax.lax.scan(step, h, (xs @ U + b, real))
    return h_last, outputs, (h_before, gates)


@jax.custom_vjp
def _gru_scan(U, W, b, h, xs, real):
    """The GRU along time-major ``xs`` (L, ..., C) from the state ``h`` (..., H), with ``real``
    (L, ..., 1) marking real steps: ``(h_L, outputs (L, ..., H))``. Its derivative is
    :func:`_gru_scan_backward`."""
    h_last, outputs, _ = _gru_forward(U, W, b, h, xs, real)
    return h_last, outputs


def _gru_scan_forward(U, W, b, h, xs, real):
    h_last, outputs, (h_before, gates) = _gru_forward(U, W, b, h, xs, real)
    return (h_last, outputs), (U, W, xs, real, h_before, gates)


def _gru_scan_backward(saved, cotangents):
    """Backpropagation through time for the GRU, as chapter 7 derives it (exercise 7.6).

    With h̄_t the whole gradient that reaches h_t (from the output at t and from step t + 1), the
    loop goes back from t = L carrying only what step t + 1 sends back, and emits the gradients of
    the three pre-activations:

        δⁿ_t = h̄_t ⊙ z_t ⊙ (1 − ñ_t²),   δᶻ_t = h̄_t ⊙ (ñ_t − h_{t−1}) ⊙ z_t(1 − z_t),
        δʳ_t = (δⁿ_t W_nᵀ) ⊙ h_{t−1} ⊙ r_t(1 − r_t);

    step t sends back h̄_t ⊙ (1 − z_t) + [δᶻ_t δʳ_t][W_z W_r]ᵀ + (δⁿ_t W_nᵀ) ⊙ r_t. On a padded step
    h̄ passes through unchanged and the δ are zero. The weight gradients are sums over the steps of
    outer products (eq-ch07-bptt-weights), ∂J/∂[W_z W_r] = Σ_t h_{t−1}ᵀ [δᶻ_t δʳ_t],
    ∂J/∂W_n = Σ_t (r_t ⊙ h_{t−1})ᵀ δⁿ_t, ∂J/∂U = Σ_t x_tᵀ δ_t and ∂J/∂b = Σ_t δ_t, and
    ∂J/∂x_t = δ_t Uᵀ, with δ_t = [δᶻ_t δʳ_t δⁿ_t]: each is one matrix product (or sum) over all
    L·B rows after the loop, where JAX's own derivative of the scan adds them up step by step
    inside it.
    """
    U, W, xs, real, h_before, (z, r, n) = saved
    d_last, d_outputs = cotangents
    H = W.shape[0]
    W_zr_T, W_n_T = W[:, :2 * H].T, W[:, 2 * H:].T

    def step_back(from_next, inputs):
        d_out, real_t, h, z, r, n = inputs
        d_new = jnp.where(real_t, from_next + d_out, 0.0)    # h̄_t, the step's new state's gradient; 0 on padding
        d_z = d_new * (n - h) * z * (1 - z)
        d_n = d_new * z * (1 - n * n)
        to_rh = d_n @ W_n_T                                  # ∂J/∂(r_t ⊙ h_{t−1})
        d_r = to_rh * h * r * (1 - r)
        d_zr = jnp.concatenate([d_z, d_r], axis=-1)
        sent_back = d_new * (1 - z) + d_zr @ W_zr_T + to_rh * r + jnp.where(real_t, 0.0, from_next)
        return sent_back, (d_zr, d_n)

    d_h, (d_zr, d_n) = jax.lax.scan(step_back, d_last, (d_outputs, real, h_before, z, r, n), reverse=True)
    rows = lambda a: a.reshape(-1, a.shape[-1])          # noqa: E731  (L, ..., k) → (L·B, k)
    d_pre = jnp.concatenate([d_zr, d_n], axis=-1)        # [δᶻ δʳ δⁿ] of every step: (L, ..., 3H)
    d_W = jnp.concatenate([rows(h_before).T @ rows(d_zr), rows(r * h_before).T @ rows(d_n)], axis=-1)
    return rows(xs).T @ rows(d_pre), d_W, rows(d_pre).sum(0), d_h, d_pre @ U.T, None


_gru_scan.defvjp(_gru_scan_forward, _gru_scan_backward)


@pytree_dataclass
class LSTMCell(_Cell):
    """Long short-term memory {Hochreiter and Schmidhuber 1997}; the state is (h, c):

        [i, f, g, o] = x_t U + h_{t−1} W + b           (each (..., H))
        c_t = σ(f) ⊙ c_{t−1} + σ(i) ⊙ tanh(g)
        h_t = σ(o) ⊙ tanh(c_t)

    ``U``: (C, 4H), ``W``: (H, 4H), ``b``: (4H,) with the forget bias set to 1
    at initialisation (so the cell starts by remembering).
    """

    U: jax.Array
    W: jax.Array
    b: jax.Array

    @classmethod
    def init(cls, key, input_size: int, hidden_size: int, *,
             weight_init: str | Callable = "glorot_uniform") -> LSTMCell:
        U, W, b = _init_weights(key, input_size, hidden_size, 4, weight_init)
        return cls(U, W, b.at[hidden_size:2 * hidden_size].set(1.0))

    def initial_state(self, batch_shape=()) -> tuple[jax.Array, jax.Array]:
        """The zero state (h_0, c_0), each (*batch_shape, H)."""
        zeros = super().initial_state(batch_shape)
        return zeros, zeros

    def step(self, state, xu) -> tuple[jax.Array, jax.Array]:
        """One step from the projected input ``xu = project(x_t)``."""
        h, c = state
        i, f, g, o = jnp.split(xu + h @ self.W, 4, axis=-1)
        c = gate(f) * c + gate(i) * jnp.tanh(g)
        return gate(o) * jnp.tanh(c), c


def _output(state):
    return state[0] if isinstance(state, tuple) else state


def _masked(real, new, old):
    """The state after one step: ``new`` where the step is real, ``old`` (carried over) on padding."""
    return jax.tree_util.tree_map(lambda n, o: jnp.where(real, n, o), new, old)


def _check_sequences(cell, xs, lengths, state):
    """xs and lengths as arrays, after checking shapes, dtypes and (when concrete) 0 ≤ lengths ≤ L."""
    as_array("xs", xs)
    xs = jnp.asarray(xs)
    if xs.ndim < 2 or xs.shape[-1] != cell.input_size or xs.shape[-2] < 1:
        raise ValueError(f"`xs` must have shape (..., steps, {cell.input_size}) with steps ≥ 1; got {describe(xs)}.")
    if state is not None:
        _check_step(cell, state, xs[..., 0, :], "state")
    steps = xs.shape[-2]
    if lengths is None:
        return xs, jnp.full(xs.shape[:-2], steps)
    check_lengths("lengths", lengths, xs.shape[:-2], steps)
    return xs, jnp.asarray(lengths)


@pytree_dataclass
class Recurrent:
    """Apply ``cell`` along padded sequences with ``lax.scan``.

    ``layer(xs, lengths=None, state=None)``: xs (..., L, C), lengths (...,)
    → ``(outputs, final_state)`` with outputs (..., L, H), zero on padded
    steps, and the state after each sequence's last real step.

    Each cell runs its own loop (``cell.scan``). The RNN and the LSTM compute
    x_t U + b inside the loop, next to h_{t−1} W, and JAX differentiates the
    scan; with JAX's derivative, a GRU that computed the input terms of all
    steps before the loop was measured slower (the step took 1.8 × Flax's
    ``RNN(GRUCell)``, B = 128, L = 49, C = 64, H = 128, before the other
    changes ``benchmarks/RESULTS.md`` lists). The GRU, the cell the
    book trains, has its backward pass written out instead (chapter 7's
    exercise 7.6, :func:`_gru_scan_backward`): JAX's derivative of a scan adds
    each step's share of every weight's gradient inside the backward loop, one
    small (· × B)(B × k) product per weight and step; written out, the loop
    carries only the gradient sent back to the state, and each weight gradient
    is one product over all L·B rows after it. The input terms of all steps are
    then computed before the loop, in one product (as fast as inside it, and
    simpler). A GRU's gradient step went from 1.07 to 0.86 × Flax's on the
    book's CPU (one run each of ``benchmarks/speed.py``). Forward-mode
    derivatives (``jax.jvp``, ``jax.jacfwd``) of a GRU layer are therefore not
    available; :func:`unroll` has them.
    """

    cell: Any

    @classmethod
    def init(cls, key, input_size: int, hidden_size: int, *, cell: str = "gru", **kwargs) -> Recurrent:
        cells = {"rnn": RNNCell, "gru": GRUCell, "lstm": LSTMCell}
        if not isinstance(cell, str) or cell not in cells:
            raise ValueError(f"`cell` must be one of {sorted(cells)}; got {cell!r}.")
        return cls(cells[cell].init(key, input_size, hidden_size, **kwargs))

    def __call__(self, xs, lengths=None, state=None):
        """Raises ``TypeError``/``ValueError`` for ``xs`` not of shape (..., L ≥ 1, C), ``lengths`` not
        integers of shape xs.shape[:-2] (or, when concrete, outside [0, L]), or a ``state`` that does
        not fit the cell and batch."""
        xs, lengths = _check_sequences(self.cell, xs, lengths, state)
        if state is None:
            state = self.cell.initial_state(xs.shape[:-2])

        steps = xs.shape[-2]
        t = jnp.arange(steps).reshape((steps,) + (1,) * lengths.ndim)
        real = (t < lengths)[..., None]      # (L, ..., 1): step t of each sequence is not padding
        state, outputs = self.cell.scan(state, jnp.moveaxis(xs, -2, 0), real)
        return jnp.moveaxis(outputs, 0, -2), state


def unroll(cell, xs, lengths=None, state=None):
    """The same as :class:`Recurrent`, with a Python loop over time (for reading). Raises as it does."""
    xs, lengths = _check_sequences(cell, xs, lengths, state)
    state = cell.initial_state(xs.shape[:-2]) if state is None else state
    outputs = []
    for t in range(xs.shape[-2]):
        new = cell(state, xs[..., t, :])
        real = (t < lengths)[..., None]
        state = _masked(real, new, state)
        outputs.append(jnp.where(real, _output(new), 0.0))
    return jnp.stack(outputs, axis=-2), state
