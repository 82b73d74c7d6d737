"""Is recsys_lite fast, or only clear? Training-step time against Flax + optax.

    .venv/bin/python benchmarks/speed.py            # full configuration
    .venv/bin/python benchmarks/speed.py --tiny     # a seconds-long smoke run (used by the tests)

For three models — biased MF, the Caser-style conv recommender and the
GRU4Rec-style recurrent one — and for the GRU recurrence alone, the same
architecture, shapes, batch, loss and Adam optimizer are written twice: once
with recsys_lite (layers and optimizer from scratch) and once with Flax Linen +
optax. Ours runs as ``recsys_lite.train.fit`` runs it by default: its own step
(``train.make_step``), a block of steps as one compiled ``lax.scan``. Flax runs
both ways a Flax user might: the same scan, and a jitted step called once per
batch from Python; the ratio is taken against the faster of the two (on this
CPU, XLA runs the transposed convolutions of a convolution's gradient as generic
loops inside a scan, so Flax's Caser is faster as separate calls). After a
warm-up the three timed passes alternate, and each time is the median of the
repeats. Needs the `bench` extra: pip install -e ".[bench]". (The race against
Surprise's SVD is ``benchmarks/mf_race.py``.)
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from recsys_lite import models, nn, optim, train

# ----------------------------------------------------------------------------- timing


def time_side_by_side(ours, theirs, batches, repeats: int) -> tuple[float, float, float]:
    """Median seconds per step: ours in a scan, theirs in a scan, theirs as one jitted call per batch.

    ``ours`` and ``theirs`` are ``(step, state)`` pairs with ``step(*state, batch) -> state``. Every
    pass runs the same ``batches``; all three are compiled and warmed up first, then their passes
    alternate, so a change in the machine's load during the run affects them alike.
    """
    stacked = jax.tree_util.tree_map(lambda *rows: jnp.stack(rows), *batches)

    def scan_pass(step):
        scan = lambda state, stacked: jax.lax.scan(lambda s, b: (step(*s, b), None), state, stacked)[0]  # noqa: E731
        return functools.partial(jax.jit(scan), stacked=stacked)

    def calls_pass(step):
        jitted = jax.jit(lambda state, batch: step(*state, batch))

        def run(state):
            for batch in batches:
                state = jitted(state, batch)
            return state
        return run

    passes = [scan_pass(ours[0]), scan_pass(theirs[0]), calls_pass(theirs[0])]
    states = [jax.block_until_ready(run(state)) for run, state in zip(passes, (ours[1], theirs[1], theirs[1]))]
    times = ([], [], [])
    for _ in range(repeats):
        for k, run in enumerate(passes):
            start = time.perf_counter()
            states[k] = jax.block_until_ready(run(states[k]))
            times[k].append((time.perf_counter() - start) / len(batches))
    return tuple(statistics.median(t) for t in times)


def fit_step(loss, optimizer):
    """recsys_lite's side: the step :func:`recsys_lite.train.fit` scans (no dropout, so no key)."""
    step = train.make_step(lambda model, batch, key: loss(model, batch), optimizer)
    return lambda model, opt_state, batch: step(model, opt_state, batch, None)[:2]


def make_step(loss, optimizer, apply):
    """Flax's side: one training step (not jitted itself: :func:`time_side_by_side` compiles it)."""
    def step(params, opt_state, batch):
        value, grads = jax.value_and_grad(loss)(params, batch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return apply(params, updates), opt_state
    return step


# ----------------------------------------------------------------------------- Flax twins

def flax_models():
    import flax.linen as fnn

    class FlaxMF(fnn.Module):
        n_users: int
        n_items: int
        dim: int

        @fnn.compact
        def __call__(self, u, i):
            p = fnn.Embed(self.n_users, self.dim)(u)
            q = fnn.Embed(self.n_items, self.dim)(i)
            bu = self.param("bu", fnn.initializers.zeros, (self.n_users,))
            bi = self.param("bi", fnn.initializers.zeros, (self.n_items,))
            mu = self.param("mu", fnn.initializers.zeros, ())
            return mu + bu[u] + bi[i] + jnp.sum(p * q, -1), p, q, bu[u], bi[i]

    class FlaxCaser(fnn.Module):
        n_users: int
        n_items: int
        dim: int
        window: int
        n_h: int
        n_v: int

        @fnn.compact
        def __call__(self, users, history):
            E = fnn.Embed(self.n_items + 1, self.dim)(history)
            E = jnp.where((history < self.n_items)[..., None], E, 0.0)
            pooled = [jnp.max(jax.nn.relu(fnn.Conv(self.n_h, (h,), padding="VALID")(E)), axis=1)
                      for h in range(1, self.window + 1)]
            V = self.param("vertical", fnn.initializers.glorot_uniform(), (self.window, self.n_v))
            vertical = jnp.einsum("bld,lv->bvd", E, V).reshape(E.shape[0], -1)
            z = jax.nn.relu(fnn.Dense(self.dim)(jnp.concatenate(pooled + [vertical], -1)))
            r = jnp.concatenate([z, fnn.Embed(self.n_users, self.dim)(users)], -1)
            out = self.param("out", fnn.initializers.normal(1 / self.dim), (self.n_items, 2 * self.dim))
            bias = self.param("out_bias", fnn.initializers.zeros, (self.n_items,))
            return r @ out.T + bias

    class FlaxGRU4Rec(fnn.Module):
        n_items: int
        dim: int
        hidden: int

        @fnn.compact
        def __call__(self, seq, lengths):
            x = fnn.Embed(self.n_items + 1, self.dim)(seq)
            h = fnn.RNN(fnn.GRUCell(self.hidden))(x, seq_lengths=lengths)
            h = jnp.where((jnp.arange(seq.shape[1])[None] < lengths[:, None])[..., None], h, 0.0)
            out = self.param("out", fnn.initializers.normal(1 / self.hidden), (self.n_items, self.hidden))
            bias = self.param("out_bias", fnn.initializers.zeros, (self.n_items,))
            return h @ out.T + bias

    return FlaxMF, FlaxCaser, FlaxGRU4Rec


# ----------------------------------------------------------------------------- the three comparisons

def compare(cfg, rng):
    FlaxMF, FlaxCaser, FlaxGRU4Rec = flax_models()
    n_users, n_items, B, d, reg = cfg["n_users"], cfg["n_items"], cfg["batch"], cfg["dim"], 0.1
    key = jax.random.key(0)
    rows = []

    def batches(make):
        return [make() for _ in range(cfg["steps"])]

    # --- biased MF, rating loss
    mf_batches = batches(lambda: {"user": jnp.asarray(rng.integers(0, n_users, B)),
                                  "item": jnp.asarray(rng.integers(0, n_items, B)),
                                  "rating": jnp.asarray(rng.integers(1, 6, B).astype(np.float32))})
    ours = models.BiasedMF.init(key, n_users, n_items, d, mu=3.5)
    opt = optim.adam(1e-3)
    step = fit_step(lambda m, b: models.rating_loss(m, b, reg=reg), opt)

    flax_mf = FlaxMF(n_users, n_items, d)
    params = flax_mf.init(key, mf_batches[0]["user"], mf_batches[0]["item"])

    def flax_mf_loss(params, b):
        pred, p, q, bu, bi = flax_mf.apply(params, b["user"], b["item"])
        penalty = jnp.sum(p * p, -1) + jnp.sum(q * q, -1) + bu ** 2 + bi ** 2
        return 0.5 * jnp.mean((pred - b["rating"]) ** 2) + 0.5 * reg * jnp.mean(penalty)

    tx = optax.adam(1e-3)
    fstep = make_step(flax_mf_loss, tx, optax.apply_updates)
    times = time_side_by_side((step, (ours, opt.init(ours))), (fstep, (params, tx.init(params))),
                                       mf_batches, cfg["repeats"])
    rows.append(("biased MF (rating loss)", *times))

    # --- Caser, full softmax
    L = cfg["window"]
    caser_batches = batches(lambda: {"user": jnp.asarray(rng.integers(0, n_users, B)),
                                     "history": jnp.asarray(rng.integers(0, n_items + 1, (B, L))),
                                     "item": jnp.asarray(rng.integers(0, n_items, B))})
    ours = models.Caser.init(key, n_users, n_items, dim=d, window=L, n_horizontal=16, n_vertical=4, dropout=0.0)
    step = fit_step(lambda m, b: models.caser_loss(m, b, None), opt)
    flax_caser = FlaxCaser(n_users, n_items, d, L, 16, 4)
    params = flax_caser.init(key, caser_batches[0]["user"], caser_batches[0]["history"])
    def caser_loss(params, b):
        return optax.softmax_cross_entropy_with_integer_labels(
            flax_caser.apply(params, b["user"], b["history"]), b["item"]).mean()
    fstep = make_step(caser_loss, tx, optax.apply_updates)
    times = time_side_by_side((step, (ours, opt.init(ours))), (fstep, (params, tx.init(params))),
                                       caser_batches, cfg["repeats"])
    rows.append(("Caser (conv, full softmax)", *times))

    # --- GRU4Rec, full softmax at every step
    T, H = cfg["seq_len"], cfg["hidden"]
    gru_b = max(B // 8, 2)

    def gru_batch():
        lengths = rng.integers(2, T + 1, gru_b)
        seq = rng.integers(0, n_items, (gru_b, T))
        seq = np.where(np.arange(T)[None] < lengths[:, None], seq, n_items)
        return {"history": jnp.asarray(seq), "length": jnp.asarray(lengths)}

    gru_batches = batches(gru_batch)
    ours = models.GRU4Rec.init(key, n_items, dim=d, hidden=H, dropout=0.0)
    step = fit_step(lambda m, b: models.gru4rec_loss(m, b, None), opt)
    flax_gru = FlaxGRU4Rec(n_items, d, H)
    params = flax_gru.init(key, gru_batches[0]["history"][:, :-1], gru_batches[0]["length"] - 1)

    def flax_gru_loss(params, b):
        seq, length = b["history"], b["length"]
        logits = flax_gru.apply(params, seq[:, :-1], length - 1)
        real = jnp.arange(seq.shape[1] - 1)[None] < (length - 1)[:, None]
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, jnp.where(real, seq[:, 1:], 0))
        return jnp.sum(jnp.where(real, ce, 0.0)) / jnp.maximum(real.sum(), 1)

    fstep = make_step(flax_gru_loss, tx, optax.apply_updates)
    times = time_side_by_side((step, (ours, opt.init(ours))), (fstep, (params, tx.init(params))),
                                       gru_batches, cfg["repeats"])
    rows.append(("GRU4Rec (recurrent, full softmax)", *times))

    # --- the recurrence alone: nn.Recurrent(GRU) against fnn.RNN(GRUCell), forward and gradient, same data
    import flax.linen as fnn

    def rnn_batch():
        lengths = rng.integers(1, T, gru_b)
        return {"x": jnp.asarray(rng.normal(size=(gru_b, T - 1, d)).astype(np.float32)), "length": jnp.asarray(lengths),
                "w": jnp.asarray(rng.normal(size=(gru_b, T - 1, H)).astype(np.float32))}

    rnn_batches = batches(rnn_batch)
    ours = nn.Recurrent.init(key, d, H, cell="gru")
    step = fit_step(lambda m, b: jnp.sum(m(b["x"], b["length"])[0] * b["w"]) / b["x"].shape[0], opt)
    flax_rnn = fnn.RNN(fnn.GRUCell(H))
    params = flax_rnn.init(key, rnn_batches[0]["x"], seq_lengths=rnn_batches[0]["length"])

    def flax_rnn_loss(params, b):
        h = flax_rnn.apply(params, b["x"], seq_lengths=b["length"])
        real = (jnp.arange(h.shape[1])[None] < b["length"][:, None])[..., None]
        return jnp.sum(jnp.where(real, h, 0.0) * b["w"]) / h.shape[0]

    fstep = make_step(flax_rnn_loss, tx, optax.apply_updates)
    times = time_side_by_side((step, (ours, opt.init(ours))), (fstep, (params, tx.init(params))),
                              rnn_batches, cfg["repeats"])
    rows.append(("GRU recurrence alone (B sequences of T − 1 steps)", *times))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="a seconds-long smoke run with small shapes")
    args = parser.parse_args()
    cfg = (dict(n_users=50, n_items=80, batch=32, dim=8, window=3, seq_len=6, hidden=8, steps=3, repeats=2)
           if args.tiny else
           dict(n_users=943, n_items=1682, batch=1024, dim=64, window=5, seq_len=50, hidden=128, steps=20, repeats=7))
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, {jax.devices()[0].platform}, "
          f"jax {jax.__version__}; shapes: {cfg}\n")
    print("| model | recsys_lite, fit's scan (ms/step) | Flax + optax, scan (ms/step) "
          "| Flax + optax, one call per step (ms/step) | ratio to Flax's faster |")
    print("|---|---:|---:|---:|---:|")
    for name, ours, flax_scan, flax_calls in compare(cfg, np.random.default_rng(0)):
        print(f"| {name} | {1e3 * ours:.2f} | {1e3 * flax_scan:.2f} | {1e3 * flax_calls:.2f} "
              f"| {ours / min(flax_scan, flax_calls):.2f} |")

if __name__ == "__main__":
    main()
