"""Every model of the book, and well-known peers, on both tasks under the book's protocol.

    .venv/bin/python benchmarks/quality.py           # full run (minutes)
    .venv/bin/python benchmarks/quality.py --tiny    # smoke run on a slice (used by the tests)

Ratings: MovieLens u1.base → u1.test, RMSE and MAE (recsys_lite.metrics).
Top-N: time-ordered leave-one-out, full ranking of every unseen item,
HR@10 / NDCG@10 / MRR (recsys_lite.metrics.evaluate_leave_one_out).
Epoch counts come from early stopping on the validation targets (top-N) or a
seeded 10 % validation slice of u1.base (ratings); test numbers are computed
once. Peers: Surprise's SVD, SVD++ and KNNBaseline (ratings) and implicit's
ALS and BPR (top-N), with their default hyperparameters except where noted,
scored by the same metric code. Needs the `bench` extra.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

from recsys_lite import data, metrics, models, optim, train


def _arrays(frame, rating=True):
    out = {"user": frame.user.to_numpy(np.int32), "item": frame.item.to_numpy(np.int32)}
    if rating:
        out["rating"] = frame.rating.to_numpy(np.float32)
    return out


def rating_rows(ml, epochs):
    train_df, test_df = ml.split("u1")
    pairs = (test_df.user.to_numpy(), test_df.item.to_numpy())
    rows = {}

    def record(name, pred, seconds):
        rows[name] = {"RMSE": metrics.rmse(pred, test_df.rating), "MAE": metrics.mae(pred, test_df.rating), "seconds": seconds}

    for name, cls in [("global mean", models.GlobalMean), ("user + item biases", models.UserItemBias)]:
        start = time.perf_counter()
        record(name, cls.fit(train_df, ml.n_users, ml.n_items).predict(*pairs), time.perf_counter() - start)

    rng = np.random.default_rng(0)
    valid_rows = rng.permutation(len(train_df))[: len(train_df) // 10]
    is_valid = np.zeros(len(train_df), bool)
    is_valid[valid_rows] = True
    fit_df, valid_df = train_df[~is_valid], train_df[is_valid]
    start = time.perf_counter()
    loss = functools.partial(models.rating_loss, reg=0.1)
    valid = _arrays(valid_df)
    model0 = models.BiasedMF.init(jax.random.key(0), ml.n_users, ml.n_items, 64, mu=float(fit_df.rating.mean()))
    _, history = train.fit(model0, loss, _arrays(fit_df), optim.adam(0.003), key=jax.random.key(1), epochs=epochs,
                           batch_size=256, mode="min", patience=3, progress=False,
                           validate=lambda m: {"rmse": metrics.rmse(m.predict(valid["user"], valid["item"]), valid["rating"])})
    model0 = models.BiasedMF.init(jax.random.key(0), ml.n_users, ml.n_items, 64, mu=float(train_df.rating.mean()))
    model, _ = train.fit(model0, loss, _arrays(train_df), optim.adam(0.003), key=jax.random.key(1),
                         epochs=history.best_epoch + 1, batch_size=256, progress=False)
    record("biased MF (recsys_lite)", model.predict(*pairs), time.perf_counter() - start)

    import surprise

    reader = surprise.Reader(rating_scale=(1, 5))
    trainset = surprise.Dataset.load_from_df(train_df[["user", "item", "rating"]], reader).build_full_trainset()
    quick = {"n_epochs": 1} if epochs == 1 else {}
    for name, algo in [("Surprise SVD", surprise.SVD(random_state=0, **quick)),
                       ("Surprise SVD++", surprise.SVDpp(random_state=0, **quick)),
                       ("Surprise KNNBaseline", surprise.KNNBaseline(verbose=False))]:
        start = time.perf_counter()
        algo.fit(trainset)
        record(name, np.array([algo.predict(u, i).est for u, i in zip(*pairs)]), time.perf_counter() - start)
    return rows


def topn_rows(ml, epochs):
    n_users, n_items = ml.n_users, ml.n_items
    split = data.leave_one_out(ml.ratings, n_users, n_items)
    rows = {}

    def evaluate(score_fn, stage="test"):
        return metrics.evaluate_leave_one_out(score_fn, split, stage, chunk_size=512)

    def record(name, score_fn, seconds):
        rows[name] = {**evaluate(score_fn), "seconds": seconds}

    start = time.perf_counter()
    pop = models.Popularity.fit(split.history("test"), n_items)
    record("popularity", pop.scores, time.perf_counter() - start)

    pairs = _arrays(split.train, rating=False)
    score_mf = jax.jit(lambda m, u: m.scores(u))
    for name, model0, loss, lr in [
        ("BPR-MF (recsys_lite)", models.BiasedMF.init(jax.random.key(0), n_users, n_items, 64),
         functools.partial(models.bpr_loss, reg=0.01), 0.003),
        ("softmax MF (recsys_lite)", models.BiasedMF.init(jax.random.key(0), n_users, n_items, 64),
         functools.partial(models.softmax_loss, reg=0.01), 0.003),
        ("NeuMF (recsys_lite)", models.NeuMF.init(jax.random.key(0), n_users, n_items),
         functools.partial(models.bce_loss, n_negatives=4), 0.001),
    ]:
        start = time.perf_counter()
        model, _ = train.fit(model0, loss, pairs, optim.adam(lr), key=jax.random.key(1), epochs=epochs, batch_size=512,
                             validate=lambda m: evaluate(lambda u: score_mf(m, jnp.asarray(u)), "valid"),
                             monitor="NDCG@10", patience=3, progress=False)
        record(name, lambda u: score_mf(model, jnp.asarray(u)), time.perf_counter() - start)

    window = 5
    seqs, lens = data.user_sequences(split.train, n_users, n_items)
    examples = data.next_item_examples(seqs, lens, window, pad_id=n_items)
    recent = {s: data.recent_items(*data.user_sequences(split.history(s), n_users, n_items), window, pad_id=n_items)
              for s in ("valid", "test")}
    score_caser = jax.jit(lambda m, u, h: m.scores(u, h))
    start = time.perf_counter()
    model, _ = train.fit(models.Caser.init(jax.random.key(0), n_users, n_items, dim=64, window=window),
                         models.caser_loss, examples, optim.adam(1e-3), key=jax.random.key(1), epochs=epochs,
                         batch_size=256, monitor="NDCG@10", patience=3, progress=False,
                         validate=lambda m: evaluate(lambda u: score_caser(m, jnp.asarray(u), jnp.asarray(recent["valid"][u])), "valid"))
    record("Caser (recsys_lite)", lambda u: score_caser(model, jnp.asarray(u), jnp.asarray(recent["test"][u])),
           time.perf_counter() - start)

    max_len = 50
    seq, length = data.user_sequences(split.train, n_users, n_items, max_len=max_len)
    hist = {s: data.user_sequences(split.history(s), n_users, n_items, max_len=max_len) for s in ("valid", "test")}
    score_gru = jax.jit(lambda m, s, l: m.scores(s, l))
    gru_fn = lambda m, s: (lambda u: score_gru(m, jnp.asarray(hist[s][0][u]), jnp.asarray(hist[s][1][u])))
    start = time.perf_counter()
    model, _ = train.fit(models.GRU4Rec.init(jax.random.key(0), n_items), models.gru4rec_loss,
                         {"sequence": seq, "length": length}, optim.adam(0.005), key=jax.random.key(1),
                         epochs=4 * epochs, batch_size=32, monitor="NDCG@10", patience=4, progress=False,
                         validate=lambda m: evaluate(gru_fn(m, "valid"), "valid"))
    record("GRU4Rec (recsys_lite)", gru_fn(model, "test"), time.perf_counter() - start)

    import scipy.sparse
    from implicit.als import AlternatingLeastSquares
    from implicit.bpr import BayesianPersonalizedRanking
    from threadpoolctl import threadpool_limits

    history = split.history("test")
    matrix = scipy.sparse.csr_matrix((np.ones(len(history), np.float32), (history.user, history.item)),
                                     shape=(n_users, n_items))
    quick = {"iterations": 1} if epochs == 1 else {}
    for name, algo in [("implicit ALS", AlternatingLeastSquares(factors=64, random_state=0, **quick)),
                       ("implicit BPR", BayesianPersonalizedRanking(factors=64, random_state=0, **quick))]:
        start = time.perf_counter()
        with threadpool_limits(1, "blas"):  # implicit parallelises itself; nested BLAS threads slow it down
            algo.fit(matrix, show_progress=False)
        user_f, item_f = np.asarray(algo.user_factors), np.asarray(algo.item_factors)
        record(name, lambda u: user_f[u] @ item_f.T, time.perf_counter() - start)
    return rows


def _table(rows, columns):
    lines = ["| model | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for name, values in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{values[c]:.4f}" if c != "seconds" else f"{values[c]:.1f}"
                                                 for c in columns) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="one epoch (iteration) per model: checks the script runs")
    args = parser.parse_args()
    ml = data.load_movielens("ml-100k")
    epochs = 1 if args.tiny else 40
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, jax {jax.__version__}; data: {ml.source}\n")
    print("Rating prediction, u1.test:\n")
    print(_table(rating_rows(ml, epochs), ["RMSE", "MAE", "seconds"]))
    print("\nTop-N, leave-one-out test targets, full ranking:\n")
    print(_table(topn_rows(ml, epochs), ["HR@10", "NDCG@10", "MRR", "seconds"]))


if __name__ == "__main__":
    main()
