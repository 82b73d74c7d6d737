"""The validation search behind chapter 5's AutoRec and blend (never reads u1.test).

Validation slice: chapter 5's (and chapters 3-4's) seeded 10 % of u1.base,
``np.random.default_rng(0).random(len(base)) < 0.10``. Trains I-AutoRec copies
(one per λ, stacked and vmapped) on the fit slice, records validation RMSE after
every epoch, and prints the best (λ, epoch) for each (hidden, learning rate, batch).

    .venv/bin/python benchmarks/ratings_search.py [--hidden 500] [--lrs 0.001] [--lams 1,10,100] [--epochs 60]

Runs made (2026-11-30, validation RMSE, best (λ, epoch) of each copy; hidden 500, sigmoid/identity):

- Adam 0.001, batch 32 films, λ 1/10/100/1000, 40 epochs: 0.9318 (5) / 0.9308 (5) / 0.9238 (13) / 0.9823 (38);
  noisy curves, overfitting after epoch 5 for λ ≤ 10;
- Adam 0.0003, batch 64, λ 30/100/300, 30 epochs: 0.9167 (29) / 0.9121 (30) / 0.9160 (29), still falling;
- Adam 0.001, batch 128, λ 100/300/1000, 60 epochs: 0.9017 (34) / 0.9026 (44) / 0.9538 (44); the curves
  flatten near 0.905 from epoch 20 on.

FROZEN for chapter 5 and benchmarks/quality.py (chosen on these validation runs only, before any test number):
I-AutoRec with 500 sigmoid units, identity output, Adam 0.001, batches of 128 films, λ ∈ {100, 300} trained
side by side for 30 epochs; the (λ, epoch) with the best validation RMSE is kept, then refitted on all of
u1.base for that many epochs. U-AutoRec: the same settings at the chosen λ (validation only). The blend:
user + item biases, biased MF (chapter 5's chosen cell) and I-AutoRec, each trained on the fit slice,
combined by ridge least squares with an intercept on their validation predictions, ridge α ∈ {0, 1, 10, 100}
chosen by 5-fold cross-validation on the validation slice (seed 0), the weights then fitted on the whole
slice and applied to the test predictions of the members refitted on u1.base.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from recsys_lite import data, metrics, models, optim, train


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hidden", default="500")
    parser.add_argument("--lrs", default="0.001")
    parser.add_argument("--lams", default="1,10,100")
    parser.add_argument("--batches", default="32")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--by", default="item")
    args = parser.parse_args()
    ml = data.load_movielens("ml-100k")
    base = ml.split("u1")[0]  # u1.base only: the test half of the split is never read here
    n_users, n_items = ml.n_users, ml.n_items
    in_valid = np.random.default_rng(0).random(len(base)) < 0.10
    fit_rows, valid_rows = base[~in_valid], base[in_valid]
    valid = {"user": valid_rows.user.to_numpy(np.int32), "item": valid_rows.item.to_numpy(np.int32)}
    target = valid_rows.rating.to_numpy(np.float32)
    lams = [float(x) for x in args.lams.split(",")]
    predict = jax.jit(jax.vmap(lambda m, b: m.predict(b), in_axes=(0, None)))
    for hidden in map(int, args.hidden.split(",")):
        for lr in map(float, args.lrs.split(",")):
            for batch in map(int, args.batches.split(",")):
                init = models.AutoRec.init(jax.random.key(0), fit_rows, n_users, n_items, hidden, by=args.by)
                stacked = jax.tree.map(lambda leaf: jnp.stack([leaf] * len(lams)), init)
                lam_stack = jnp.asarray(lams)

                def loss(st, b, k, lam_stack=lam_stack):
                    return jnp.sum(jax.vmap(lambda m, r: models.autorec_loss(m, b, reg=r))(st, lam_stack))

                def record(st):
                    preds = np.asarray(predict(st, valid))
                    return {f"λ={lam:g}": metrics.rmse(p, target) for lam, p in zip(lams, preds)}

                n_rows = init.ratings.shape[0]
                t = time.time()
                _, hist = train.fit(stacked, loss, {"row": np.arange(n_rows, dtype=np.int32)}, optim.adam(lr),
                                    key=jax.random.key(1), epochs=args.epochs, batch_size=batch, validate=record,
                                    monitor=f"λ={lams[0]:g}", mode="min", keep="last", progress=False)
                frame = hist.to_frame()
                for lam in lams:
                    col = frame[f"λ={lam:g}"]
                    print(f"{args.by} hidden={hidden} lr={lr} batch={batch} λ={lam:g}: best valid RMSE "
                          f"{col.min():.4f} at epoch {int(col.idxmin()) + 1}; last {col.iloc[-1]:.4f}  "
                          f"[{time.time() - t:.0f} s]", flush=True)
                print(frame.round(4).to_string(), flush=True)


if __name__ == "__main__":
    main()
