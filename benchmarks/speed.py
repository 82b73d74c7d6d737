"""Is recsys_lite fast, or only clear? Training-step time against Flax + optax.

    .venv/bin/python benchmarks/speed.py            # full configuration
    .venv/bin/python benchmarks/speed.py --tiny     # a seconds-long smoke run (used by the tests)

For three models — biased MF, the Caser-style conv recommender and the
GRU4Rec-style recurrent one — the same architecture, shapes, batch, loss and
Adam optimizer are written twice: once with recsys_lite (layers and
optimizer from scratch) and once with Flax Linen + optax. Each jitted
training step is timed side by side in one run: after warm-up, the median
of several repeats of a block of steps run as one compiled ``lax.scan`` (as
``recsys_lite.train.fit`` runs them), the two implementations' repeats
alternating. Prints the ratio recsys_lite / Flax.

Then MF against Surprise's SVD on MovieLens u1: the wall time each needs to
reach Surprise SVD's u1.test RMSE (Surprise trains with its defaults; our MF
is timed epoch by epoch until its test RMSE is at least as good), both
measured in the same run. Needs the `bench` extra: pip install -e ".[bench]".
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

from recsys_lite import data, metrics, models, optim

# ----------------------------------------------------------------------------- timing


def time_side_by_side(ours, theirs, batches, repeats: int) -> tuple[float, float]:
    """Median seconds per step of two ``(step, state)`` pairs over the same ``batches``.

    Each pass runs all the batches as one compiled ``lax.scan`` of training
    steps, the way :func:`recsys_lite.train.fit` runs an epoch, so Python's
    per-call overhead (which dominates sub-millisecond steps) is not timed.
    Both are compiled and warmed up first; then their passes alternate, so a
    change in the machine's load during the run affects both alike.
    """
    stacked = jax.tree_util.tree_map(lambda *rows: jnp.stack(rows), *batches)

    def compile_pass(step):
        scan = lambda state, stacked: jax.lax.scan(lambda s, b: (step(*s, b), None), state, stacked)[0]  # noqa: E731
        return jax.jit(scan)

    passes = [compile_pass(step) for step, _ in (ours, theirs)]
    states = [jax.block_until_ready(run(state, stacked)) for run, (_, state) in zip(passes, (ours, theirs))]
    times = ([], [])
    for _ in range(repeats):
        for k, run in enumerate(passes):
            start = time.perf_counter()
            states[k] = jax.block_until_ready(run(states[k], stacked))
            times[k].append((time.perf_counter() - start) / len(batches))
    return statistics.median(times[0]), statistics.median(times[1])


def make_step(loss, optimizer, apply):
    """One training step (not jitted itself: :func:`time_side_by_side` compiles a scan of them)."""
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
    step = make_step(lambda m, b: models.rating_loss(m, b, reg=reg), opt, optim.apply_updates)

    flax_mf = FlaxMF(n_users, n_items, d)
    params = flax_mf.init(key, mf_batches[0]["user"], mf_batches[0]["item"])

    def flax_mf_loss(params, b):
        pred, p, q, bu, bi = flax_mf.apply(params, b["user"], b["item"])
        penalty = jnp.sum(p * p, -1) + jnp.sum(q * q, -1) + bu ** 2 + bi ** 2
        return 0.5 * jnp.mean((pred - b["rating"]) ** 2) + 0.5 * reg * jnp.mean(penalty)

    tx = optax.adam(1e-3)
    fstep = make_step(flax_mf_loss, tx, optax.apply_updates)
    t_ours, t_flax = time_side_by_side((step, (ours, opt.init(ours))), (fstep, (params, tx.init(params))),
                                       mf_batches, cfg["repeats"])
    rows.append(("biased MF (rating loss)", t_ours, t_flax))

    # --- Caser, full softmax
    L = cfg["window"]
    caser_batches = batches(lambda: {"user": jnp.asarray(rng.integers(0, n_users, B)),
                                     "history": jnp.asarray(rng.integers(0, n_items + 1, (B, L))),
                                     "item": jnp.asarray(rng.integers(0, n_items, B))})
    ours = models.Caser.init(key, n_users, n_items, dim=d, window=L, n_horizontal=16, n_vertical=4, dropout=0.0)
    step = make_step(lambda m, b: models.caser_loss(m, b, None), opt, optim.apply_updates)
    flax_caser = FlaxCaser(n_users, n_items, d, L, 16, 4)
    params = flax_caser.init(key, caser_batches[0]["user"], caser_batches[0]["history"])
    def caser_loss(params, b):
        return optax.softmax_cross_entropy_with_integer_labels(
            flax_caser.apply(params, b["user"], b["history"]), b["item"]).mean()
    fstep = make_step(caser_loss, tx, optax.apply_updates)
    t_ours, t_flax = time_side_by_side((step, (ours, opt.init(ours))), (fstep, (params, tx.init(params))),
                                       caser_batches, cfg["repeats"])
    rows.append(("Caser (conv, full softmax)", t_ours, t_flax))

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
    step = make_step(lambda m, b: models.gru4rec_loss(m, b, None), opt, optim.apply_updates)
    flax_gru = FlaxGRU4Rec(n_items, d, H)
    params = flax_gru.init(key, gru_batches[0]["history"][:, :-1], gru_batches[0]["length"] - 1)

    def flax_gru_loss(params, b):
        seq, length = b["history"], b["length"]
        logits = flax_gru.apply(params, seq[:, :-1], length - 1)
        real = jnp.arange(seq.shape[1] - 1)[None] < (length - 1)[:, None]
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, jnp.where(real, seq[:, 1:], 0))
        return jnp.sum(jnp.where(real, ce, 0.0)) / jnp.maximum(real.sum(), 1)

    fstep = make_step(flax_gru_loss, tx, optax.apply_updates)
    t_ours, t_flax = time_side_by_side((step, (ours, opt.init(ours))), (fstep, (params, tx.init(params))),
                                       gru_batches, cfg["repeats"])
    rows.append(("GRU4Rec (recurrent, full softmax)", t_ours, t_flax))
    return rows


def against_surprise(tiny: bool):
    """Wall time for our MF and Surprise SVD to reach Surprise SVD's u1.test RMSE."""
    import surprise

    ml = data.load_movielens("ml-100k")
    train, test = ml.split("u1")
    if tiny:
        train, test = train.iloc[:5000], test.iloc[:1000]
    reader = surprise.Reader(rating_scale=(1, 5))
    trainset = surprise.Dataset.load_from_df(train[["user", "item", "rating"]], reader).build_full_trainset()
    start = time.perf_counter()
    svd = surprise.SVD(random_state=0, n_epochs=2 if tiny else 20)
    svd.fit(trainset)
    preds = np.array([svd.predict(u, i).est for u, i in zip(test.user, test.item)])
    t_svd = time.perf_counter() - start
    target = metrics.rmse(preds, test.rating)

    arrays = {"user": jnp.asarray(train.user.to_numpy(np.int32)), "item": jnp.asarray(train.item.to_numpy(np.int32)),
              "rating": jnp.asarray(train.rating.to_numpy(np.float32))}
    start = time.perf_counter()
    model = models.BiasedMF.init(jax.random.key(0), ml.n_users, ml.n_items, 64, mu=float(train.rating.mean()))
    opt = optim.adam(0.003)
    state = opt.init(model)
    loss = functools.partial(models.rating_loss, reg=0.1)
    m, B = len(train), 256
    n_batches = m // B

    @jax.jit
    def epoch(model, state, key):
        order = jax.random.permutation(key, m)[: n_batches * B].reshape(n_batches, B)

        def step(carry, idx):
            model, state = carry
            batch = {k: v[idx] for k, v in arrays.items()}
            grads = jax.grad(loss)(model, batch, None)
            updates, state = opt.update(grads, state, model)
            return (optim.apply_updates(model, updates), state), None

        return jax.lax.scan(step, (model, state), order)[0]

    compiled = epoch.lower(model, state, jax.random.key(0)).compile()  # the one-off cost, timed on its own
    t_compile = time.perf_counter() - start
    ours_rmse, epochs = float("inf"), 0
    while ours_rmse > target and epochs < 30:
        model, state = compiled(model, state, jax.random.key(epochs))
        epochs += 1
        ours_rmse = metrics.rmse(model.predict({"user": test.user.to_numpy(), "item": test.item.to_numpy()}),
                                 test.rating)
    t_ours = time.perf_counter() - start
    return target, t_svd, ours_rmse, epochs, t_ours, t_compile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="a seconds-long smoke run with small shapes")
    args = parser.parse_args()
    cfg = (dict(n_users=50, n_items=80, batch=32, dim=8, window=3, seq_len=6, hidden=8, steps=3, repeats=2)
           if args.tiny else
           dict(n_users=943, n_items=1682, batch=1024, dim=64, window=5, seq_len=50, hidden=128, steps=20, repeats=7))
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, {jax.devices()[0].platform}, "
          f"jax {jax.__version__}; shapes: {cfg}\n")
    print("| model | recsys_lite (ms/step) | Flax + optax (ms/step) | ratio |")
    print("|---|---:|---:|---:|")
    for name, ours, theirs in compare(cfg, np.random.default_rng(0)):
        print(f"| {name} | {1e3 * ours:.2f} | {1e3 * theirs:.2f} | {ours / theirs:.2f} |")
    target, t_svd, ours_rmse, epochs, t_ours, t_compile = against_surprise(args.tiny)
    print(f"\nSurprise SVD (defaults): u1.test RMSE {target:.4f} in {t_svd:.2f} s.")
    verdict = "reached" if ours_rmse <= target else "did not reach"
    print(f"recsys_lite MF (d=64, Adam 0.003, λ=0.1, batch 256) {verdict} it: RMSE {ours_rmse:.4f} "
          f"after {epochs} epochs in {t_ours:.2f} s, of which {t_compile:.2f} s compiling the epoch; "
          f"ratio {t_ours / t_svd:.2f} with compilation, {(t_ours - t_compile) / t_svd:.2f} without.")


if __name__ == "__main__":
    main()
