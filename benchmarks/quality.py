"""Every model of the book, and well-known peers, on both tasks under the book's protocol.

    .venv/bin/python benchmarks/quality.py           # full run (minutes)
    .venv/bin/python benchmarks/quality.py --tiny    # smoke run, one epoch per model (used by the tests)

Ratings: MovieLens u1.base → u1.test, RMSE and MAE (recsys_lite.metrics).
Top-N: time-ordered leave-one-out, full ranking of every unseen item,
HR@10 / NDCG@10 / MRR (recsys_lite.metrics.evaluate_leave_one_out).

Each book model is trained with the settings, seeds and model selection of
the chapter that introduces it, copied from that chapter's code cells:

- chapter 5 (05_collaborative_filtering): biased MF for ratings (the grid
  over K and λ, the epoch count chosen on a seeded 10 % validation slice of
  u1.base, then a refit on all of u1.base); I-AutoRec (λ ∈ {100, 300} side by
  side, the (λ, epoch) chosen on the same slice, then a refit) and the ridge
  blend of the biases, biased MF and I-AutoRec (weights fitted on the
  validation predictions of the members trained on the fit slice, ridge α by
  5-fold cross-validation there, applied to the refitted members); MF with the
  BPR and the softmax loss, and NeuMF, for top-N;
- chapter 6 (06_convolution): Caser, window L = 5, a cosine learning-rate
  decay over 4 epochs;
- chapter 7 (07_recurrent_layers): GRU4Rec on windows of 10 (+1) films, the
  number of films read at test time chosen on the validation targets;
- chapter 8 (08_a_complete_recommender): the hybrid, its top-N head (seed 0
  of the chapter's three) and its rating head.

Top-N models keep their best epoch by validation NDCG@10; test numbers are
computed once. The rating models of chapter 5 are also run on the five folds
u1–u5 (mean ± standard deviation over the folds), each fold with the
hyperparameters chosen on u1's validation slice (K, λ, epochs, the blend's
ridge α); the blend's weights are fitted on each fold's own validation
slice. Peers: Surprise's SVD, SVD++ and KNNBaseline (ratings) and
implicit's ALS and BPR (top-N), with their default hyperparameters (64
factors for implicit), scored by the same metric code. `seconds` is the wall
time of each model's training, validation-based choices included (for the
peers: their fit). Needs the `bench` extra.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from recsys_lite import data, metrics, models, optim, train

SEED = 0  # every chapter's seed; each model uses its chapter's jax.random.fold_in(key, n) numbers
KEY = jax.random.key(SEED)
L = 5  # history window of Caser and of the hybrid (chapters 6 and 8)


class Setup:
    """What every model needs: sizes, content features, the leave-one-out split, the epoch budget."""

    def __init__(self, ml, tiny: bool):
        self.ml, self.tiny = ml, tiny
        self.n_users, self.n_items = ml.n_users, ml.n_items
        self.user_x, item_x, _, _ = data.content_features(ml)
        self.item_x = jnp.asarray(item_x)
        self.split = data.leave_one_out(ml.ratings, ml.n_users, ml.n_items)

    def epochs(self, n: int) -> int:
        """The chapter's epoch count, or 1 in a --tiny run."""
        return 1 if self.tiny else n

    def ranking(self, scorer, stage: str):
        """The book's protocol: HR@10, NDCG@10, MRR of scorer(users), every unseen film ranked."""
        return metrics.evaluate_leave_one_out(scorer, self.split, stage, chunk_size=512)

    def validated(self, scorer):
        """fit's `validate`: model → the validation metrics of scorer(model, "valid")."""
        return lambda model: self.ranking(scorer(model, "valid"), "valid")


def _key(n: int):
    return jax.random.fold_in(KEY, n)


def _fit(model, loss, examples, optimizer, *, seed, epochs, batch_size, **options):
    """train.fit as the chapters call it (key = fold_in(key, seed)), without a progress bar."""
    return train.fit(model, loss, examples, optimizer, key=_key(seed), epochs=epochs, batch_size=batch_size,
                     progress=False, **options)


def _cosine_adam(lr, n_epochs, n_examples, batch_size, alpha=0.0):
    """Adam with a cosine decay from lr to alpha·lr over n_epochs epochs (chapters 6, 7 and 8)."""
    return optim.adam(optim.cosine_decay_schedule(lr, n_epochs * (n_examples // batch_size), alpha=alpha))


@jax.jit
def _jitted_scores(model, batch, options):
    return model.scores(batch, **options)


def _scorer(model, rows=lambda u: {}, **options):
    """users → model.scores(batch) (the model protocol), the batch's other columns from rows(users), jitted."""
    return lambda u: _jitted_scores(model, {"user": jnp.asarray(u), **rows(u)}, options)


def _timed(rows, name, fit, evaluate):
    """rows[name] = evaluate(fit()) plus the wall time of fit() (training and validation-based choices)."""
    start = time.perf_counter()
    fitted = fit()
    seconds = time.perf_counter() - start
    rows[name] = {**evaluate(fitted), "seconds": seconds}


# ---------------------------------------------------------------------------------------------------- ratings


def rating_rows(s: Setup):
    base, test = s.ml.split("u1")
    in_valid = np.random.default_rng(SEED).random(len(base)) < 0.10  # chapters 5 (c07) and 8 (c14)
    fit_rows = base[~in_valid]

    def arrays(rows, history_rows):
        """Ratings plus each user's last L films of `history_rows` and their features (chapter 8, c14)."""
        last, _ = data.recent_items(*data.user_sequences(history_rows, s.n_users, s.n_items), L, pad_id=s.n_items)
        users = rows.user.to_numpy(np.int32)
        return {"user": users, "item": rows.item.to_numpy(np.int32), "rating": rows.rating.to_numpy(np.float32),
                "history": last[users], "user_x": s.user_x[users]}

    fit_data, valid_data = arrays(fit_rows, fit_rows), arrays(base[in_valid], fit_rows)
    base_data, test_data = arrays(base, base), arrays(test, base)

    def scores(predict):
        pred = np.asarray(predict(test_data))
        return {"RMSE": metrics.rmse(pred, test_data["rating"]), "MAE": metrics.mae(pred, test_data["rating"])}

    rows = {}
    record = partial(_timed, rows, evaluate=scores)  # record(name, fit): fit() → predict(batch of test_data)
    by_id = lambda model: model.predict  # noqa: E731  (the model protocol: predict(batch))
    record("global mean", lambda: by_id(models.GlobalMean.fit(base, s.n_users, s.n_items)))
    record("user + item biases", lambda: by_id(models.UserItemBias.fit(base, s.n_users, s.n_items)))
    start = time.perf_counter()
    pred, s.chosen, target = chapter5_fold(s, base, test)
    seconds = time.perf_counter() - start  # all of chapter 5's rating models, their choices included
    for name in ("biased MF (recsys_lite)", "I-AutoRec (recsys_lite)", "blend (recsys_lite)"):
        rows[name] = {"RMSE": metrics.rmse(pred[name], target), "MAE": metrics.mae(pred[name], target),
                      "seconds": seconds}
    record("hybrid (recsys_lite)", lambda: hybrid_rating(s, fit_data, valid_data, base_data))

    import surprise

    reader = surprise.Reader(rating_scale=(1, 5))
    trainset = surprise.Dataset.load_from_df(base[["user", "item", "rating"]], reader).build_full_trainset()
    quick = {"n_epochs": 1} if s.tiny else {}

    def fit_surprise(algo):
        algo.fit(trainset)
        return lambda b: [algo.predict(u, i).est for u, i in zip(b["user"], b["item"])]

    for name, algo in [("Surprise SVD", surprise.SVD(random_state=0, **quick)),
                       ("Surprise SVD++", surprise.SVDpp(random_state=0, **quick)),
                       ("Surprise KNNBaseline", surprise.KNNBaseline(verbose=False))]:
        record(name, partial(fit_surprise, algo))
    return rows


def fold_rows(s: Setup):
    """Chapter 5's rating models (and Surprise SVD) on u1–u5: RMSE mean ± standard deviation over the folds."""
    import surprise

    per_fold = {}
    for fold in ("u1", "u2", "u3", "u4", "u5"):
        base, test = s.ml.split(fold)
        pred, _, target = chapter5_fold(s, base, test, chosen=s.chosen)
        algo = surprise.SVD(random_state=0, **({"n_epochs": 1} if s.tiny else {}))
        algo.fit(surprise.Dataset.load_from_df(base[["user", "item", "rating"]],
                                               surprise.Reader(rating_scale=(1, 5))).build_full_trainset())
        pred["Surprise SVD"] = np.array([algo.predict(u, i).est for u, i in zip(test.user, test.item)])
        for name, p in pred.items():
            per_fold.setdefault(name, []).append(metrics.rmse(p, target))
    return {name: {"RMSE mean": float(np.mean(v)), "RMSE s.d.": float(np.std(v, ddof=1)),
                   **{f"u{f + 1}": v[f] for f in range(len(v))}} for name, v in per_fold.items()}


def biased_mf(s: Setup, fit_data, valid_data, base_data):
    """Chapter 5, cells c09, c11 and c15: the (K, λ) grid, the λs trained side by side; the best
    (K, λ, epoch count) by validation RMSE; a refit on all of u1.base. Returns (refit, (K, λ, epochs))."""
    dims, lambdas, n_epochs, batch, lr, stddev = (4, 16, 64), (0.01, 0.03, 0.1, 0.3), 12, 2048, 0.01, 0.01
    columns = ("user", "item", "rating")

    def grid_loss(stacked, batch, key=None):
        per_copy = jax.vmap(lambda model, lam: models.rating_loss(model, batch, reg=lam))(stacked, jnp.asarray(lambdas))
        return jnp.sum(per_copy)

    predict_copies = jax.jit(jax.vmap(lambda model, batch: model.predict(batch), in_axes=(0, None)))

    def valid_rmse(stacked):
        preds = np.asarray(predict_copies(stacked, {c: valid_data[c] for c in ("user", "item")}))
        row = {f"λ={lam}": metrics.rmse(pred, valid_data["rating"]) for lam, pred in zip(lambdas, preds)}
        return {"best": min(row.values()), **row}

    curves = {}
    for K in dims:
        init = models.BiasedMF.init(_key(K), s.n_users, s.n_items, K, mu=float(fit_data["rating"].mean()),
                                    stddev=stddev)
        stacked = jax.tree.map(lambda leaf: jnp.stack([leaf] * len(lambdas)), init)
        _, history = _fit(stacked, grid_loss, {c: fit_data[c] for c in columns}, optim.adam(lr), seed=2,
                          epochs=s.epochs(n_epochs), batch_size=batch, validate=valid_rmse, monitor="best", mode="min")
        curves.update({(K, lam): history.metric(f"λ={lam}") for lam in lambdas})
    best_K, best_lam = min(curves, key=lambda kl: min(curves[kl]))
    best_epochs = int(np.argmin(curves[best_K, best_lam])) + 1

    return mf_train(s, base_data, best_K, best_lam, best_epochs), (best_K, best_lam, best_epochs)


def mf_train(s: Setup, rows_data, K, lam, n_epochs):
    """Chapter 5, cell c15: biased MF of size K with penalty λ, n_epochs epochs on rows_data."""
    init = models.BiasedMF.init(_key(K), s.n_users, s.n_items, K, mu=float(rows_data["rating"].mean()), stddev=0.01)
    model, _ = _fit(init, partial(models.rating_loss, reg=lam), {c: rows_data[c] for c in ("user", "item", "rating")},
                    _MF_ADAM, seed=3, epochs=n_epochs, batch_size=2048)
    return model


_MF_ADAM = optim.adam(0.01)       # one optimizer object per model kind: fit compiles once per shape
_AR_ADAM = optim.adam(0.001)
AR_HIDDEN, AR_BATCH, AR_LAMBDAS, AR_EPOCHS = 500, 128, (100.0, 300.0), 30  # frozen: benchmarks/ratings_search.py
BLEND_RIDGES = (0.0, 1.0, 10.0, 100.0)


def _autorec_loss(lams):
    def loss(stacked, batch, key=None):
        return jnp.sum(jax.vmap(lambda model, lam: models.autorec_loss(model, batch, reg=lam))(
            stacked, jnp.asarray(lams)))
    return loss


_AR_LOSSES = {}


def autorec_train(s: Setup, frame, lams, n_epochs, *, seed=43, validate=None):
    """Chapter 5: I-AutoRec copies, one per λ, stacked, on the ratings of `frame` → (stack, history)."""
    init = models.AutoRec.init(_key(42), frame, s.n_users, s.n_items, AR_HIDDEN)
    stacked = jax.tree.map(lambda leaf: jnp.stack([leaf] * len(lams)), init)
    loss = _AR_LOSSES.setdefault(tuple(lams), _autorec_loss(tuple(lams)))
    return _fit(stacked, loss, {"row": np.arange(s.n_items, dtype=np.int32)}, _AR_ADAM, seed=seed, epochs=n_epochs,
                batch_size=AR_BATCH, validate=validate, monitor="best" if validate else None, mode="min")


_predict_copies = jax.jit(jax.vmap(lambda model, rows: model.predict(rows), in_axes=(0, None)))


def _copy(stacked, c):
    return jax.tree.map(lambda leaf: leaf[c], stacked)


def autorec_choose(s: Setup, fit_rows, valid_data):
    """Chapter 5: the (λ, epoch) of I-AutoRec with the best validation RMSE → (λ, epochs, fit-slice model)."""
    def record(stacked):
        preds = np.asarray(_predict_copies(stacked, valid_data))
        row = {f"λ={lam:g}": metrics.rmse(p, valid_data["rating"]) for lam, p in zip(AR_LAMBDAS, preds)}
        return {"best": min(row.values()), **row}

    stacked, history = autorec_train(s, fit_rows, AR_LAMBDAS, s.epochs(AR_EPOCHS), validate=record)
    frame = history.to_frame()[[f"λ={lam:g}" for lam in AR_LAMBDAS]]
    column = frame.min().idxmin()
    lam = float(column.removeprefix("λ="))
    return lam, int(frame[column].idxmin()) + 1, _copy(stacked, AR_LAMBDAS.index(lam))


def blend_choose(x_valid, r_valid):
    """Chapter 5: the ridge α with the best 5-fold cross-validated RMSE on the validation slice."""
    fold = np.random.default_rng(SEED).integers(0, 5, len(r_valid))

    def cv(alpha):
        pred = np.empty(len(r_valid))
        for f in range(5):
            held = fold == f
            pred[held] = models.Blend.fit(x_valid[~held], r_valid[~held], ridge=alpha).predict(x_valid[held])
        return metrics.rmse(pred, r_valid)

    scores = {alpha: cv(alpha) for alpha in BLEND_RIDGES}
    return min(scores, key=scores.get)


def chapter5_fold(s: Setup, base, test, chosen=None):
    """Chapter 5's rating models on one fold → ({name: test predictions}, chosen settings).

    ``chosen=None`` (u1): every choice made on the fold's validation slice; otherwise u1's choices
    (MF's K, λ, epochs; AutoRec's λ, epochs; the blend's α), and only the blend's weights are fitted
    on this fold's validation slice.
    """
    in_valid = np.random.default_rng(SEED).random(len(base)) < 0.10
    fit_rows, valid_rows = base[~in_valid], base[in_valid]
    as_data = lambda rows: {"user": rows.user.to_numpy(np.int32), "item": rows.item.to_numpy(np.int32),  # noqa: E731
                            "rating": rows.rating.to_numpy(np.float32)}
    fit_data, valid_data, base_data, test_data = map(as_data, (fit_rows, valid_rows, base, test))
    if chosen is None:
        mf_base, (K, lam, mf_epochs) = biased_mf(s, fit_data, valid_data, base_data)
        ar_lam, ar_epochs, ar_fit = autorec_choose(s, fit_rows, valid_data)
    else:
        K, lam, mf_epochs, ar_lam, ar_epochs, alpha = chosen
        mf_base = mf_train(s, base_data, K, lam, mf_epochs)
        ar_fit = _copy(autorec_train(s, fit_rows, (ar_lam,), ar_epochs)[0], 0)
    mf_fit = mf_train(s, fit_data, K, lam, mf_epochs)
    bias_fit = models.UserItemBias.fit(fit_rows, s.n_users, s.n_items)
    x_valid = np.column_stack([np.asarray(m.predict(valid_data)) for m in (bias_fit, mf_fit, ar_fit)])
    if chosen is None:
        alpha = blend_choose(x_valid, valid_data["rating"])
    blend = models.Blend.fit(x_valid, valid_data["rating"], ridge=alpha)
    ar_base = _copy(autorec_train(s, base, (ar_lam,), ar_epochs, seed=44)[0], 0)
    pred = {"global mean": models.GlobalMean.fit(base, s.n_users, s.n_items).predict(test_data),
            "user + item biases": models.UserItemBias.fit(base, s.n_users, s.n_items).predict(test_data),
            "biased MF (recsys_lite)": mf_base.predict(test_data),
            "I-AutoRec (recsys_lite)": ar_base.predict(test_data)}
    pred = {name: np.asarray(p) for name, p in pred.items()}
    pred["blend (recsys_lite)"] = blend.predict(np.column_stack(
        [pred[n] for n in ("user + item biases", "biased MF (recsys_lite)", "I-AutoRec (recsys_lite)")]))
    return pred, (K, lam, mf_epochs, ar_lam, ar_epochs, alpha), test_data["rating"]


def hybrid_rating(s: Setup, fit_data, valid_data, base_data):
    """Chapter 8, cell c14: the rating head on the user and content branches; the epoch count chosen on the
    validation slice (at most 14, patience 2), then a refit on all of u1.base → predict(batch)."""
    settings = dict(dim=64, window=L, dropout=0.5, branches=("user", "content"))
    loss = partial(models.hybrid_rating_loss, item_features=s.item_x, reg=3e-4)
    adam = optim.adam(3e-3)
    predict = jax.jit(lambda m, b, ix: m.predict(b, item_features=ix))

    def fit(rows_data, n_epochs, validate=None, seed=30):
        init = models.Hybrid.init(_key(seed), s.n_users, s.n_items, s.user_x.shape[1], s.item_x.shape[1],
                                  mu=float(rows_data["rating"].mean()), **settings)
        return _fit(init, loss, rows_data, adam, seed=seed + 1, epochs=n_epochs, batch_size=1024,
                    validate=validate, monitor="RMSE", mode="min", patience=2 if validate else None)

    _, history = fit(fit_data, s.epochs(14), validate=lambda m: {
        "RMSE": metrics.rmse(predict(m, valid_data, s.item_x), valid_data["rating"])})
    model, _ = fit(base_data, history.best_epoch + 1)
    return lambda b: predict(model, b, s.item_x)


# ---------------------------------------------------------------------------------------------------- top-N


def topn_rows(s: Setup):
    rows = {}
    record = partial(_timed, rows, evaluate=partial(s.ranking, stage="test"))  # record(name, fit): fit() → scorer
    record("popularity", lambda: _scorer(models.Popularity.fit(s.split.history("test"), s.n_items)))
    for name in MF_TOPN:
        record(f"{name} (recsys_lite)", partial(mf_topn, s, name))

    sequences, lengths = data.user_sequences(s.split.train, s.n_users, s.n_items)
    examples = data.next_item_examples(sequences, lengths, L, pad_id=s.n_items)
    recent = {stage: data.recent_items(*data.user_sequences(s.split.history(stage), s.n_users, s.n_items), L,
                                       pad_id=s.n_items)[0] for stage in ("valid", "test")}
    record("Caser (recsys_lite)", lambda: caser(s, examples, recent))
    record("GRU4Rec (recsys_lite)", lambda: gru4rec(s, sequences, lengths))
    record("hybrid (recsys_lite)", lambda: hybrid_topn(s, examples, recent))

    import scipy.sparse
    from implicit.als import AlternatingLeastSquares
    from implicit.bpr import BayesianPersonalizedRanking
    from threadpoolctl import threadpool_limits

    history = s.split.history("test")
    matrix = scipy.sparse.csr_matrix((np.ones(len(history), np.float32), (history.user, history.item)),
                                     shape=(s.n_users, s.n_items))
    quick = {"iterations": 1} if s.tiny else {}

    def fit_implicit(make_algo):
        with threadpool_limits(1, "blas"):  # implicit parallelises itself; nested BLAS threads slow it down
            algo = make_algo(factors=64, random_state=0, **quick)  # built here: it checks the BLAS threads
            algo.fit(matrix, show_progress=False)
        user_f, item_f = np.asarray(algo.user_factors), np.asarray(algo.item_factors)
        return lambda u: user_f[u] @ item_f.T

    for name, make_algo in [("implicit ALS", AlternatingLeastSquares), ("implicit BPR", BayesianPersonalizedRanking)]:
        record(name, partial(fit_implicit, make_algo))
    return rows


# Chapter 5, cell c23: model, loss, Adam's step size, batch size, epochs at most, patience, init seed (fit: + 1)
MF_TOPN = {
    "BPR-MF": (partial(models.BiasedMF.init, dim=64), partial(models.bpr_loss, reg=0.03), 0.01, 1024, 30, 5, 10),
    "softmax MF": (partial(models.BiasedMF.init, dim=64), partial(models.softmax_loss, reg=0.1), 0.01, 1024, 15, 3,
                   12),
    "NeuMF": (partial(models.NeuMF.init, gmf_dim=32, mlp_dim=16, hidden=(32, 16, 8)),
              partial(models.bce_loss, n_negatives=4), 0.01, 4096, 10, 3, 14),
}


def mf_topn(s: Setup, name):
    """Chapter 5, cell c23: one of MF_TOPN on the training pairs, the best validation epoch → test scorer."""
    init, loss, lr, batch, n_epochs, patience, seed = MF_TOPN[name]
    pairs = {"user": s.split.train.user.to_numpy(np.int32), "item": s.split.train.item.to_numpy(np.int32)}
    scorer = lambda m, stage: _scorer(m)  # noqa: E731
    model, _ = _fit(init(_key(seed), s.n_users, s.n_items), loss, pairs, optim.adam(lr), seed=seed + 1,
                    epochs=s.epochs(n_epochs), batch_size=batch, validate=s.validated(scorer), monitor="NDCG@10",
                    patience=patience)
    return scorer(model, "test")


def caser(s: Setup, examples, recent):
    """Chapter 6, cells c27 and c29, window L = 5 → the test scorer."""
    n_epochs, batch = s.epochs(4), 1024
    scorer = lambda m, stage: _scorer(m, lambda u: {"history": recent[stage][u]})  # noqa: E731
    init = models.Caser.init(_key(5), s.n_users, s.n_items, dim=32, window=L, n_horizontal=16, n_vertical=4,
                             dropout=0.5)
    model, _ = _fit(init, models.caser_loss, examples, _cosine_adam(0.008, n_epochs, len(examples["item"]), batch),
                    seed=7, epochs=n_epochs, batch_size=batch, validate=s.validated(scorer), monitor="NDCG@10",
                    patience=2)
    return scorer(model, "test")


def gru4rec(s: Setup, sequences, lengths):
    """Chapter 7, cells c27–c33: trained on windows of T_HIST + 1 films and validated reading the last T_HIST;
    tested reading the number of films (1 … 100) that is best on the validation targets → the test scorer."""
    t_hist, n_epochs, batch = 10, s.epochs(4), 128
    train_windows = data.sequence_windows(sequences, lengths, t_hist, pad_id=s.n_items)

    def scorer(model, stage, T=t_hist):
        seqs, lens = data.user_sequences(s.split.history(stage), s.n_users, s.n_items, max_len=T)
        return _scorer(model, lambda u: {"history": seqs[u], "length": lens[u]})

    init = models.GRU4Rec.init(_key(20), s.n_items, dim=64, hidden=128, dropout=0.25)
    adam = _cosine_adam(0.02, n_epochs, len(train_windows["length"]), batch, alpha=0.05)
    model, _ = _fit(init, models.gru4rec_loss, train_windows, adam, seed=21, epochs=n_epochs, batch_size=batch,
                    validate=s.validated(scorer), monitor="NDCG@10", patience=2)
    t_eval = max([1, 2, 5, 10, 20, 50, 100], key=lambda T: s.ranking(scorer(model, "valid", T), "valid")["NDCG@10"])
    return scorer(model, "test", t_eval)


def hybrid_topn(s: Setup, examples, recent):
    """Chapter 8, cells c07 and c09, seed 0 of the chapter's three → the test scorer."""
    examples = {**examples, "user_x": s.user_x[examples["user"]]}
    n_epochs, batch = s.epochs(4), 1024
    scorer = lambda m, stage: _scorer(m, lambda u: {"history": recent[stage][u], "user_x": s.user_x[u]},  # noqa: E731
                                      item_features=s.item_x)

    init = models.Hybrid.init(_key(0), s.n_users, s.n_items, s.user_x.shape[1], s.item_x.shape[1],
                              dim=64, window=L, n_horizontal=8, hidden=16, dropout=0.5)
    model, _ = _fit(init, partial(models.hybrid_topn_loss, item_features=s.item_x), examples,
                    _cosine_adam(8e-3, n_epochs, len(examples["item"]), batch), seed=1000, epochs=n_epochs,
                    batch_size=batch, validate=s.validated(scorer), monitor="NDCG@10")
    return scorer(model, "test")


# ---------------------------------------------------------------------------------------------------- output


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
    setup = Setup(ml, args.tiny)
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, jax {jax.__version__}; data: {ml.source}\n")
    print("Rating prediction, u1.test:\n")
    print(_table(rating_rows(setup), ["RMSE", "MAE", "seconds"]))
    K, lam, mf_epochs, ar_lam, ar_epochs, alpha = setup.chosen
    print(f"\nChosen on u1's validation slice: biased MF K = {K}, λ = {lam}, {mf_epochs} epochs; I-AutoRec "
          f"λ = {ar_lam:g}, {ar_epochs} epochs; blend ridge α = {alpha:g}. (The three rows share one time: "
          f"chapter 5's rating models, choices and refits included.)")
    print("\nRating prediction, five folds u1–u5 (u1's choices on every fold), RMSE:\n")
    print(_table(fold_rows(setup), ["RMSE mean", "RMSE s.d.", "u1", "u2", "u3", "u4", "u5"]))
    print("\nTop-N, leave-one-out test targets, full ranking:\n")
    print(_table(topn_rows(setup), ["HR@10", "NDCG@10", "MRR", "seconds"]))


if __name__ == "__main__":
    main()
