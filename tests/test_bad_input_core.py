"""Bad input never passes silently: train, metrics, losses, optim, data, parallel, widgets, plots.

Every public entry point of these modules must refuse bad input with a
``ValueError`` or ``TypeError`` (or the library's own error) whose message
names the argument. Part (a) is an explicit table, one row per case; part
(b) lets hypothesis draw bad shapes, dtypes, ids and values; part (c) checks
the NaN guard of ``fit`` and the ``RECSYS_LITE_OFFLINE`` spellings.
"""

from __future__ import annotations

import os
import re
from functools import partial

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recsys_lite import data, losses, metrics, models, optim, parallel, plots, train, widgets
from recsys_lite._pytree import pytree_dataclass
from recsys_lite.train import TrainingDiverged, fit

KEY = jax.random.key(0)
W = {"w": jnp.ones(2)}  # a small pytree of parameters (or gradients)
NAN, INF = float("nan"), float("inf")


# --- small fixtures, built once -------------------------------------------------------

@pytree_dataclass
class Line:
    w: jax.Array
    b: jax.Array


LINE = Line(jnp.zeros(3), jnp.zeros(()))


def _line_loss(model, batch, key):
    return 0.5 * jnp.mean((batch["x"] @ model.w + model.b - batch["y"]) ** 2)


def _toy(m=32):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(m, 3)).astype(np.float32)
    return {"x": x, "y": (x @ np.array([1.0, -2.0, 0.5], np.float32)).astype(np.float32)}


N_USERS, N_ITEMS = 5, 7
MF = models.BiasedMF.init(KEY, N_USERS, N_ITEMS, 4, mu=3.0)
GRU = models.GRU4Rec.init(KEY, N_ITEMS, dim=4, hidden=4)


def _ratings(m=32, **changes):
    rng = np.random.default_rng(1)
    rows = {"user": rng.integers(0, N_USERS, m).astype(np.int32), "item": rng.integers(0, N_ITEMS, m).astype(np.int32),
            "rating": rng.integers(1, 6, m).astype(np.float32)}
    rows.update(changes)
    return rows


def _with(array, index, value):
    out = np.array(array, copy=True)
    out[index] = value
    return out


def _fit(model=LINE, loss_fn=_line_loss, rows=None, optimizer=None, **kwargs):
    kwargs = {"key": KEY, "epochs": 1, "batch_size": 8, "progress": False, **kwargs}
    return fit(model, loss_fn, _toy() if rows is None else rows, optimizer or optim.sgd(0.1), **kwargs)


class _UnhashableLoss:
    __hash__ = None

    def __call__(self, model, batch, key):
        return _line_loss(model, batch, key)


def _gru_fit(history, length):
    rows = {"history": np.array(history, np.int32), "length": np.array(length, np.int32)}
    return fit(GRU, models.gru4rec_loss, rows, optim.adam(0.01), key=KEY, progress=False)


def _mf_fit(**changes):
    return fit(MF, models.rating_loss, _ratings(**changes), optim.adam(0.01), key=KEY, epochs=1, batch_size=8,
               progress=False)


FRAME = pd.DataFrame({"user": [0, 0, 0, 1, 1, 1], "item": [0, 1, 2, 2, 1, 0], "rating": 4,
                      "timestamp": [1, 2, 3, 1, 2, 3]})
SPLIT = data.leave_one_out(FRAME, 2, 3)
SEQ = np.array([[3, 1, 4, 9], [2, 9, 9, 9]], np.int32)  # pad id 9
SEQ_LENGTHS = np.array([3, 1])
SCORES = np.random.default_rng(2).normal(size=(4, 6))
MESH = parallel.make_mesh(1)
MOVIELENS = data.MovieLens("ml-100k", FRAME, pd.DataFrame({"title": ["a", "b", "c"]}),
                           pd.DataFrame({"age": [20, 30]}), {"u1": data.Split(FRAME, FRAME)}, ("Drama",), "a test")


def _draw(a):
    fig, ax = plt.subplots()
    return fig


def _axes():
    fig, ax = plt.subplots()
    plt.close(fig)
    return ax


def _with_env(variable, value, fn):
    old = os.environ.get(variable)
    os.environ[variable] = value
    try:
        return fn()
    finally:
        if old is None:
            del os.environ[variable]
        else:
            os.environ[variable] = old


def _validate_once(value):
    return lambda model: value


# --- (a) the table: (callable, exception type, substring of the message) ----------------------

CASES = {
    # train.fit: the data
    "fit NaN feature": (lambda: _fit(rows={**_toy(), "x": _with(_toy()["x"], (3, 1), NAN)}), ValueError, "data['x']"),
    "fit inf target": (lambda: _fit(rows={**_toy(), "y": _with(_toy()["y"], 0, INF)}), ValueError, "data['y']"),
    "fit 0 rows": (lambda: _fit(rows={"x": np.zeros((0, 3), np.float32), "y": np.zeros(0, np.float32)}), ValueError, "at least one row"),
    "fit item id = n_items": (lambda: _mf_fit(item=_with(_ratings()["item"], 5, N_ITEMS)), ValueError, "data['item']"),
    "fit user id = n_users": (lambda: _mf_fit(user=_with(_ratings()["user"], 0, N_USERS)), ValueError, "data['user']"),
    "fit negative user id": (lambda: _mf_fit(user=_with(_ratings()["user"], 0, -1)), ValueError, "data['user']"),
    "fit float item ids": (lambda: _mf_fit(item=_ratings()["item"].astype(np.float32)), TypeError, "data['item']"),
    "fit ids without tables": (lambda: _fit(rows={**_toy(), "user": -np.ones(32, np.int32)}), ValueError, "data['user']"),
    # (a padded sequence may hold the padding id N_ITEMS, not N_ITEMS + 1)
    "fit padded sequence id": (lambda: _gru_fit([[0, 1, N_ITEMS + 1]] * 4, [3] * 4), ValueError, "data['history']"),
    "fit length > width": (lambda: _gru_fit([[0, 1, N_ITEMS]] * 4, [4] * 4), ValueError, "data['length']"),
    "fit string column": (lambda: _fit(rows={**_toy(), "s": np.array(["a"] * 32)}), TypeError, "data['s']"),
    "fit scalar column": (lambda: _fit(rows={**_toy(), "s": np.float32(1.0)}), ValueError, "data['s']"),
    "fit lengths differ": (lambda: _fit(rows={"x": _toy()["x"], "y": _toy()["y"][:9]}), ValueError, "first dimension"),
    "fit data a list": (lambda: _fit(rows=[_toy()["x"]]), TypeError, "`data`"),
    "fit data empty dict": (lambda: _fit(rows={}), TypeError, "`data`"),
    # train.fit: the model, the loss, the optimizer, the key
    "fit NaN in the model": (lambda: _fit(model=Line(jnp.array([0.0, NAN, 0.0]), jnp.zeros(()))), ValueError, "model.w"),
    "fit model without floats": (lambda: _fit(model={"n": jnp.arange(3)}), TypeError, "`model`"),
    "fit model with a string": (lambda: _fit(model={"w": jnp.zeros(3), "name": "line"}), TypeError, "model['name']"),
    "fit loss not callable": (lambda: _fit(loss_fn=None), TypeError, "loss_fn"),
    "fit loss returns a vector": (lambda: _fit(loss_fn=lambda m, b, k: b["x"] @ m.w), ValueError, "loss_fn"),
    "fit loss returns an int": (lambda: _fit(loss_fn=lambda m, b, k: jnp.sum(b["x"] > 0)), ValueError, "loss_fn"),
    "fit loss reads a missing column": (lambda: _fit(loss_fn=lambda m, b, k: jnp.mean(b["rating"])), ValueError, "rating"),
    "fit optimizer a string": (lambda: _fit(optimizer="adam"), TypeError, "optimizer"),
    "fit key an int": (lambda: _fit(key=0), TypeError, "key"),
    "fit key a batch of keys": (lambda: _fit(key=jax.random.split(KEY, 2)), TypeError, "key"),
    # train.fit: the options
    "fit epochs 2.5": (lambda: _fit(epochs=2.5), TypeError, "epochs"),
    "fit epochs 0": (lambda: _fit(epochs=0), ValueError, "epochs"),
    "fit epochs -3": (lambda: _fit(epochs=-3), ValueError, "epochs"),
    "fit batch_size 0": (lambda: _fit(batch_size=0), ValueError, "batch_size"),
    "fit batch_size -8": (lambda: _fit(batch_size=-8), ValueError, "batch_size"),
    "fit batch_size 2.5": (lambda: _fit(batch_size=2.5), TypeError, "batch_size"),
    "fit batch_size True": (lambda: _fit(batch_size=True), TypeError, "batch_size"),
    "fit mode": (lambda: _fit(mode="best"), ValueError, "mode"),
    "fit patience 0": (lambda: _fit(patience=0), ValueError, "patience"),
    "fit patience 1.5": (lambda: _fit(patience=1.5), TypeError, "patience"),
    "fit validate not callable": (lambda: _fit(validate=0.5), TypeError, "validate"),
    "fit monitor not a string": (lambda: _fit(validate=_validate_once({"a": 1.0}), monitor=3), TypeError, "monitor"),
    "fit monitor unknown": (lambda: _fit(validate=_validate_once({"a": 1.0}), monitor="b"), ValueError, "monitor"),
    "fit validate NaN": (lambda: _fit(validate=_validate_once({"ndcg": NAN})), ValueError, "'ndcg' at epoch 1"),
    "fit validate inf": (lambda: _fit(validate=_validate_once(INF)), ValueError, "'valid' at epoch 1"),
    "fit validate a string": (lambda: _fit(validate=_validate_once({"a": "good"})), TypeError, "validate"),
    "fit validate empty": (lambda: _fit(validate=_validate_once({})), ValueError, "validate"),
    "fit progress a string": (lambda: _fit(progress="yes"), TypeError, "progress"),
    "fit scan an int": (lambda: _fit(scan=1), TypeError, "scan"),
    "fit desc None": (lambda: _fit(desc=None), TypeError, "desc"),
    "fit patience without validate": (lambda: _fit(patience=2), ValueError, "patience"),
    "fit keep": (lambda: _fit(keep="first"), ValueError, "keep"),
    "fit loss unhashable": (lambda: _fit(loss_fn=_UnhashableLoss()), TypeError, "loss_fn"),
    "make_step loss None": (lambda: train.make_step(None, optim.adam(0.1)), TypeError, "loss_fn"),
    "make_step optimizer a function": (lambda: train.make_step(_line_loss, optim.adam), TypeError, "optimizer"),
    "plots.history ax a string": (lambda: plots.history(train.History(train_loss=[1.0], seconds=[0.1]), "left"), TypeError, "ax"),
    "plots.history a dict": (lambda: plots.history({"train_loss": [1.0]}), TypeError, "history"),
    "plots.history label 3": (lambda: plots.history(train.History(train_loss=[1.0], seconds=[0.1]), label=3), TypeError, "label"),
    "History.metric unknown": (lambda: train.History(valid=[{"a": 1.0}], train_loss=[1.0]).metric("b"), ValueError, "`name`"),
    # metrics: rating errors
    "rmse NaN target": (lambda: metrics.rmse([1.0, 2.0], [NAN, 2.0]), ValueError, "target"),
    "rmse NaN pred": (lambda: metrics.rmse([NAN], [1.0]), ValueError, "pred"),
    "rmse shapes": (lambda: metrics.rmse([1.0, 2.0], [1.0]), ValueError, "pred"),
    "rmse empty": (lambda: metrics.rmse([], []), ValueError, "pred"),
    "rmse strings": (lambda: metrics.rmse(["a"], [1.0]), TypeError, "pred"),
    "mae inf target": (lambda: metrics.mae([1.0], [INF]), ValueError, "target"),
    "mae None target": (lambda: metrics.mae([1.0], None), TypeError, "target"),
    # metrics: ranks
    "target_ranks 1-D scores": (lambda: metrics.target_ranks(np.zeros(6), [0]), ValueError, "scores"),
    "target_ranks no rows": (lambda: metrics.target_ranks(np.zeros((0, 6)), np.zeros(0, int)), ValueError, "scores"),
    "target_ranks float targets": (lambda: metrics.target_ranks(SCORES, [0.0, 1, 2, 3]), TypeError, "targets"),
    "target_ranks target out of range": (lambda: metrics.target_ranks(SCORES, [0, 1, 2, 6]), ValueError, "targets"),
    "target_ranks target negative": (lambda: metrics.target_ranks(SCORES, [0, 1, 2, -1]), ValueError, "targets"),
    "target_ranks targets shape": (lambda: metrics.target_ranks(SCORES, [0, 1]), ValueError, "targets"),
    "target_ranks NaN scores": (lambda: metrics.target_ranks(_with(SCORES, (1, 1), NAN), [0, 1, 2, 3]), ValueError, "scores"),
    "target_ranks exclude shape": (lambda: metrics.target_ranks(SCORES, [0, 1, 2, 3], np.zeros((4, 5), bool)), ValueError, "exclude"),
    "target_ranks exclude not boolean": (lambda: metrics.target_ranks(SCORES, [0, 1, 2, 3], np.full((4, 6), 2)), ValueError, "exclude"),
    "target_ranks exclude the target": (lambda: metrics.target_ranks(SCORES, [0, 1, 2, 3], np.eye(4, 6, dtype=bool)), ValueError, "exclude"),
    "hit_rate k 0": (lambda: metrics.hit_rate([0, 3], 0), ValueError, "`k`"),
    "hit_rate k 2.5": (lambda: metrics.hit_rate([0, 3], 2.5), TypeError, "`k`"),
    "hit_rate no ranks": (lambda: metrics.hit_rate([], 10), ValueError, "ranks"),
    "hit_rate negative rank": (lambda: metrics.hit_rate([-1, 3], 10), ValueError, "ranks"),
    "ndcg float ranks": (lambda: metrics.ndcg([0.5, 3.0], 10), TypeError, "ranks"),
    "ndcg k None": (lambda: metrics.ndcg([0, 3], None), TypeError, "`k`"),
    "mrr 2-D ranks": (lambda: metrics.mrr([[0, 3]]), ValueError, "ranks"),
    "recall_at_k k 0": (lambda: metrics.recall_at_k(SCORES, SCORES > 0, 0), ValueError, "`k`"),
    "recall_at_k relevant not boolean": (lambda: metrics.recall_at_k(SCORES, np.full((4, 6), 2), 3), ValueError, "relevant"),
    "recall_at_k shapes": (lambda: metrics.recall_at_k(SCORES, np.ones((4, 5), bool), 3), ValueError, "relevant"),
    "recall_at_k nothing relevant": (lambda: metrics.recall_at_k(SCORES, np.zeros((4, 6), bool), 3), ValueError, "relevant"),
    "ranking_metrics ks an int": (lambda: metrics.ranking_metrics([0, 1], ks=10), TypeError, "ks"),
    "ranking_metrics ks [0]": (lambda: metrics.ranking_metrics([0, 1], ks=[0]), ValueError, "ks[0]"),
    # metrics: full evaluation
    "evaluate_ranking user -1": (lambda: metrics.evaluate_ranking(SCORES, [-1], [2]), ValueError, "users"),
    "evaluate_ranking user = n_users": (lambda: metrics.evaluate_ranking(SCORES, [4], [2]), ValueError, "users"),
    "evaluate_ranking float user": (lambda: metrics.evaluate_ranking(SCORES, [1.0], [2]), TypeError, "users"),
    "evaluate_ranking no users": (lambda: metrics.evaluate_ranking(SCORES, [], []), ValueError, "users"),
    "evaluate_ranking 2-D users": (lambda: metrics.evaluate_ranking(SCORES, [[1]], [[2]]), ValueError, "users"),
    "evaluate_ranking shapes": (lambda: metrics.evaluate_ranking(SCORES, [0, 1], [2]), ValueError, "targets"),
    "evaluate_ranking target out of range": (lambda: metrics.evaluate_ranking(SCORES, [0], [6]), ValueError, "targets"),
    "evaluate_ranking chunk_size 0": (lambda: metrics.evaluate_ranking(SCORES, [0], [1], chunk_size=0), ValueError, "chunk_size"),
    "evaluate_ranking bad function": (lambda: metrics.evaluate_ranking(lambda u: np.zeros(6), [0], [1]), ValueError, "scores"),
    "evaluate_ranking function NaN": (lambda: metrics.evaluate_ranking(lambda u: np.full((len(u), 6), NAN), [0], [1]), ValueError, "scores"),
    "evaluate_ranking function negative user": (lambda: metrics.evaluate_ranking(lambda u: SCORES[u], [-2], [1]), ValueError, "users"),
    "evaluate_ranking exclude rows": (lambda: metrics.evaluate_ranking(SCORES, [3], [1], np.zeros((2, 6), bool)), ValueError, "users"),
    "evaluate_ranking ks": (lambda: metrics.evaluate_ranking(SCORES, [0], [1], ks=(0,)), ValueError, "ks[0]"),
    "evaluate_leave_one_out split": (lambda: metrics.evaluate_leave_one_out(SCORES, "u1"), TypeError, "split"),
    "evaluate_leave_one_out stage": (lambda: metrics.evaluate_leave_one_out(np.zeros((2, 3)), SPLIT, "train"), ValueError, "stage"),
    # losses
    "mse shapes": (lambda: losses.mse(jnp.ones(3), jnp.ones(2)), ValueError, "pred"),
    "mse NaN target": (lambda: losses.mse(jnp.ones(2), jnp.array([1.0, NAN])), ValueError, "target"),
    "mse empty": (lambda: losses.mse(jnp.ones(0), jnp.ones(0)), ValueError, "pred"),
    "mse strings": (lambda: losses.mse("a", 1.0), TypeError, "pred"),
    "mae_grad inf pred": (lambda: losses.mae_grad(jnp.array([INF]), jnp.ones(1)), ValueError, "pred"),
    "huber delta 0": (lambda: losses.huber(jnp.ones(2), jnp.ones(2), 0.0), ValueError, "delta"),
    "huber delta a string": (lambda: losses.huber(jnp.ones(2), jnp.ones(2), "one"), TypeError, "delta"),
    "bce labels 2": (lambda: losses.binary_cross_entropy_with_logits(jnp.zeros(2), jnp.array([0.0, 2.0])), ValueError, "labels"),
    "bpr shapes": (lambda: losses.bpr(jnp.zeros(2), jnp.zeros(3)), ValueError, "pos_scores"),
    "softmax float labels": (lambda: losses.softmax_cross_entropy(jnp.zeros((2, 3)), jnp.array([0.0, 1.0])), TypeError, "labels"),
    "softmax label out of range": (lambda: losses.softmax_cross_entropy(jnp.zeros((2, 3)), jnp.array([0, 3])), ValueError, "labels"),
    "softmax labels shape": (lambda: losses.softmax_cross_entropy(jnp.zeros((2, 3)), jnp.array([0])), ValueError, "labels"),
    "softmax scalar logits": (lambda: losses.softmax_cross_entropy(jnp.zeros(()), jnp.array(0)), ValueError, "logits"),
    "softmax NaN logits": (lambda: losses.softmax_cross_entropy(jnp.array([[0.0, NAN]]), jnp.array([0])), ValueError, "logits"),
    "softmax where all False": (lambda: losses.softmax_cross_entropy(jnp.zeros((2, 3)), jnp.array([0, 1]),
                                                                     where=jnp.zeros(2, bool)), ValueError, "where"),
    "softmax where floats": (lambda: losses.softmax_cross_entropy(jnp.zeros((2, 3)), jnp.array([0, 1]), where=jnp.ones(2)), TypeError, "where"),
    "l2_penalty weight -1": (lambda: losses.l2_penalty({"w": jnp.ones(2)}, -1.0), ValueError, "weight"),
    "l2_penalty string leaf": (lambda: losses.l2_penalty({"w": "big"}, 0.1), TypeError, "params['w']"),
    # optim
    "sgd learning_rate True": (lambda: optim.sgd(True), TypeError, "learning_rate"),
    "sgd nesterov without momentum": (lambda: optim.sgd(0.1, nesterov=True), ValueError, "nesterov"),
    "sgd nesterov a string": (lambda: optim.sgd(0.1, momentum=0.9, nesterov="yes"), TypeError, "nesterov"),
    "adam b1 NaN": (lambda: optim.adam(0.1, b1=NAN), ValueError, "b1"),
    "rmsprop decay -0.1": (lambda: optim.rmsprop(0.1, decay=-0.1), ValueError, "decay"),
    "clip_by_global_norm inf": (lambda: optim.clip_by_global_norm(INF), ValueError, "max_norm"),
    "chain of a string": (lambda: optim.chain("adam"), TypeError, "transforms[0]"),
    "chain state too short": (lambda: optim.chain(optim.sgd(0.1), optim.adam(0.1)).update(W, (optim.EmptyState(),)),
                              ValueError, "state"),
    "chain state not a tuple": (lambda: optim.chain(optim.sgd(0.1)).update({"w": jnp.ones(2)}, [optim.EmptyState()]), TypeError, "state"),
    "adam update with sgd state": (lambda: optim.adam(0.1).update({"w": jnp.ones(2)}, optim.sgd(0.1).init({"w": jnp.ones(2)})), TypeError, "state"),
    "adam update grads of another tree": (lambda: optim.adam(0.1).update({"v": jnp.ones(2)}, optim.adam(0.1).init(W)),
                                         ValueError, "grads"),
    "adamw params of another tree": (lambda: optim.adamw(0.1).update(W, optim.adamw(0.1).init(W), {"v": jnp.ones(2)}),
                                     ValueError, "params"),
    "apply_updates trees differ": (lambda: optim.apply_updates({"w": jnp.ones(2)}, {"w": jnp.ones(2), "b": jnp.ones(1)}), ValueError, "updates"),
    "constant_schedule -1": (lambda: optim.constant_schedule(-1.0), ValueError, "value"),
    "linear_warmup NaN peak": (lambda: optim.linear_warmup(0.0, NAN, 10), ValueError, "peak_value"),
    "cosine_decay alpha -0.5": (lambda: optim.cosine_decay_schedule(0.1, 10, alpha=-0.5), ValueError, "alpha"),
    "exponential_decay rate 0": (lambda: optim.exponential_decay(0.1, 10, 0.0), ValueError, "decay_rate"),
    "warmup_cosine end_value inf": (lambda: optim.warmup_cosine_decay_schedule(0.0, 0.1, 5, 10, end_value=INF), ValueError, "end_value"),
    "step with a non-optimizer": (lambda: optim.step(object(), {"w": jnp.ones(2)}, None, {"w": jnp.ones(2)}), TypeError, "optimizer"),
    "step with NaN grads": (lambda: optim.step(optim.sgd(0.1), {"w": jnp.array([NAN, 1.0])}, (optim.EmptyState(),) * 2, W),
                            FloatingPointError, "grads"),
    "trace decay 1": (lambda: optim.trace(1.0), ValueError, "decay"),
    "scale_by_adam eps 0": (lambda: optim.scale_by_adam(eps=0.0), ValueError, "eps"),
    "add_decayed_weights without params": (lambda: optim.add_decayed_weights(0.1).update(W, optim.EmptyState()), ValueError, "params"),
    "scale_by_learning_rate -1": (lambda: optim.scale_by_learning_rate(-1.0), ValueError, "learning_rate"),
    "scale_by_rms with adam state": (lambda: optim.scale_by_rms().update(W, optim.scale_by_adam().init(W)), TypeError, "state"),
    "check_finite name an int": (lambda: optim.check_finite({"w": jnp.ones(2)}, 3), TypeError, "name"),
    "check_finite string leaf": (lambda: optim.check_finite({"w": "abc"}), TypeError, "grads['w']"),
    "global_norm string leaf": (lambda: optim.global_norm({"w": "abc"}), TypeError, "tree['w']"),
    # data: rating tables
    "leave_one_out no timestamp": (lambda: data.leave_one_out(FRAME.drop(columns="timestamp"), 2, 3), ValueError, "timestamp"),
    "leave_one_out not a frame": (lambda: data.leave_one_out(FRAME.to_numpy(), 2, 3), TypeError, "ratings"),
    "leave_one_out n_users 2.5": (lambda: data.leave_one_out(FRAME, 2.5, 3), TypeError, "n_users"),
    "leave_one_out n_items 0": (lambda: data.leave_one_out(FRAME, 2, 0), ValueError, "n_items"),
    "leave_one_out empty": (lambda: data.leave_one_out(FRAME.iloc[:0], 2, 3), ValueError, "ratings"),
    "leave_one_out float timestamps": (lambda: data.leave_one_out(FRAME.assign(timestamp=1.5), 2, 3), TypeError, "timestamp"),
    "leave_one_out ties": (lambda: data.leave_one_out(FRAME, 2, 3, ties="random"), ValueError, "ties"),
    "leave_one_out stage": (lambda: SPLIT.targets("train"), ValueError, "stage"),
    "canonical_splits no item": (lambda: data.canonical_splits(FRAME.drop(columns="item")), ValueError, "item"),
    "user_sequences no timestamp": (lambda: data.user_sequences(FRAME.drop(columns="timestamp"), 2, 3), ValueError, "timestamp"),
    "user_sequences max_len 0": (lambda: data.user_sequences(FRAME, 2, 3, max_len=0), ValueError, "max_len"),
    "user_sequences max_len 2.5": (lambda: data.user_sequences(FRAME, 2, 3, max_len=2.5), TypeError, "max_len"),
    "user_sequences pad_id a real item": (lambda: data.user_sequences(FRAME, 2, 3, pad_id=0), ValueError, "pad_id"),
    "user_sequences item out of range": (lambda: data.user_sequences(FRAME, 2, 2), ValueError, "ratings['item']"),
    "seen_mask n_users 0": (lambda: data.seen_mask(0, 3, [0], [0]), ValueError, "n_users"),
    "seen_mask shapes": (lambda: data.seen_mask(2, 3, [0, 1], [0]), ValueError, "users"),
    "seen_mask float ids": (lambda: data.seen_mask(2, 3, [0.0], [0]), TypeError, "users"),
    # data: sequences and batches
    "sequence_windows window 0": (lambda: data.sequence_windows(SEQ, SEQ_LENGTHS, 0, pad_id=9), ValueError, "window"),
    "sequence_windows 1-D items": (lambda: data.sequence_windows(SEQ[0], SEQ_LENGTHS, 2, pad_id=9), ValueError, "items"),
    "recent_items lengths shape": (lambda: data.recent_items(SEQ, np.array([3]), 2, pad_id=9), ValueError, "lengths"),
    "recent_items length > L": (lambda: data.recent_items(SEQ, np.array([3, 5]), 2, pad_id=9), ValueError, "lengths"),
    "recent_items window -1": (lambda: data.recent_items(SEQ, SEQ_LENGTHS, -1, pad_id=9), ValueError, "window"),
    "next_item_examples pad_id a real item": (lambda: data.next_item_examples(SEQ, SEQ_LENGTHS, 2, pad_id=3), ValueError, "pad_id"),
    "next_item_examples float items": (lambda: data.next_item_examples(SEQ.astype(float), SEQ_LENGTHS, 2, pad_id=9), TypeError, "items"),
    "next_item_examples window 2.5": (lambda: data.next_item_examples(SEQ, SEQ_LENGTHS, 2.5, pad_id=9), TypeError, "window"),
    "next_item_examples float lengths": (lambda: data.next_item_examples(SEQ, SEQ_LENGTHS.astype(float), 2, pad_id=9), TypeError, "lengths"),
    "minibatches key 0": (lambda: next(data.minibatches(0, {"x": np.arange(4)}, 2)), TypeError, "key"),
    "minibatches no rows": (lambda: next(data.minibatches(KEY, {"x": np.arange(0)}, 2)), ValueError, "arrays"),
    "minibatches an array": (lambda: next(data.minibatches(KEY, np.arange(4), 2)), TypeError, "arrays"),
    "minibatches scalar": (lambda: next(data.minibatches(KEY, {"x": 3.0}, 2)), ValueError, "arrays['x']"),
    "minibatches drop_last": (lambda: next(data.minibatches(KEY, {"x": np.arange(4)}, 2, drop_last="no")), TypeError, "drop_last"),
    "content_features not a dataset": (lambda: data.content_features("ml-100k"), TypeError, "dataset"),
    "content_features missing column": (lambda: data.content_features(MOVIELENS), ValueError, "dataset.users"),
    "MovieLens.split unknown": (lambda: MOVIELENS.split("u9"), ValueError, "name"),
    # data: loading
    "load_movielens name": (lambda: data.load_movielens("ml-1m"), ValueError, "name"),
    "load_movielens data_dir an int": (lambda: data.load_movielens(data_dir=3), TypeError, "data_dir"),
    "load_movielens download a string": (lambda: data.load_movielens(download="no"), TypeError, "download"),
    "RECSYS_LITE_OFFLINE maybe": (lambda: _with_env("RECSYS_LITE_OFFLINE", "maybe", data.load_movielens), ValueError, "RECSYS_LITE_OFFLINE"),
    # parallel
    "make_mesh 0 devices": (lambda: parallel.make_mesh(0), ValueError, "n_devices"),
    "make_mesh 1.0 devices": (lambda: parallel.make_mesh(1.0), TypeError, "n_devices"),
    "make_mesh too many devices": (lambda: parallel.make_mesh(jax.device_count() + 1), ValueError, "n_devices"),
    "make_mesh axis an int": (lambda: parallel.make_mesh(axis=3), TypeError, "axis"),
    "shard_batch mesh a string": (lambda: parallel.shard_batch({"x": np.zeros(2)}, "mesh"), TypeError, "mesh"),
    "shard_batch empty": (lambda: parallel.shard_batch({}, MESH), TypeError, "batch"),
    "shard_batch strings": (lambda: parallel.shard_batch({"x": np.array(["a", "b"])}, MESH), TypeError, "batch['x']"),
    "shard_batch scalar": (lambda: parallel.shard_batch({"x": 1.0}, MESH), ValueError, "batch['x']"),
    "shard_batch unknown axis": (lambda: parallel.shard_batch({"x": np.zeros(2)}, MESH, axis="model"), ValueError, "axis"),
    "replicate mesh None": (lambda: parallel.replicate({"w": jnp.ones(2)}, None), TypeError, "mesh"),
    "pad_rows multiple 0": (lambda: parallel.pad_rows(jnp.ones((3, 2)), 0), ValueError, "multiple"),
    "pad_rows strings": (lambda: parallel.pad_rows(np.array(["a"]), 2), TypeError, "table"),
    "shard_rows scalar": (lambda: parallel.shard_rows(jnp.ones(()), MESH), ValueError, "table"),
    "init_optimizer not an optimizer": (lambda: parallel.init_optimizer(None, {"w": jnp.ones(2)}, MESH), TypeError, "optimizer"),
    "data_parallel_step loss None": (lambda: parallel.data_parallel_step(None, optim.adam(0.1)), TypeError, "loss_fn"),
    "data_parallel_step optimizer None": (lambda: parallel.data_parallel_step(_line_loss, None), TypeError, "optimizer"),
    # widgets
    "explore fn not callable": (lambda: widgets.explore(3, a=[1, 2], mode="static"), TypeError, "fn"),
    "explore mode": (lambda: widgets.explore(_draw, a=[1, 2], mode="print"), ValueError, "mode"),
    "explore title an int": (lambda: widgets.explore(_draw, title=3, a=[1, 2], mode="static"), TypeError, "title"),
    "explore continuous a string": (lambda: widgets.explore(_draw, continuous="yes", a=[1, 2], mode="static"), TypeError, "continuous"),
    "explore empty values": (lambda: widgets.explore(_draw, a=[], mode="static"), ValueError, "`a`"),
    "explore NaN value": (lambda: widgets.explore(_draw, a=[1.0, NAN], mode="static"), ValueError, "`a`"),
    "explore no params": (lambda: widgets.explore(_draw, mode="static"), ValueError, "params"),
    "explore image_format": (lambda: widgets.explore(_draw, a=[1], image_format="jpg", mode="static"), ValueError, "image_format"),
    "explore dpi 0": (lambda: widgets.explore(_draw, a=[1], dpi=0, mode="static"), ValueError, "dpi"),
    "explore default not a value": (lambda: widgets.explore(_draw, a=widgets.Param([1, 2], default=3), mode="static"), ValueError, "`a`"),
    "explore flag unreadable": (lambda: _with_env("RECSYS_LITE_STATIC_WIDGETS", "sometimes", lambda: widgets.explore(_draw, a=[1])), ValueError, "RECSYS_LITE_STATIC_WIDGETS"),
    # plots
    "long_tail ax a string": (lambda: plots.long_tail("ax", [3, 1]), TypeError, "ax"),
    "long_tail no counts": (lambda: plots.long_tail(_axes(), []), ValueError, "counts"),
    "long_tail negative count": (lambda: plots.long_tail(_axes(), [3, -1]), ValueError, "counts"),
    "long_tail 2-D counts": (lambda: plots.long_tail(_axes(), [[3, 1]]), ValueError, "counts"),
    "long_tail NaN count": (lambda: plots.long_tail(_axes(), [3, NAN]), ValueError, "counts"),
    "long_tail head_share 0": (lambda: plots.long_tail(_axes(), [3, 1], head_share=0), ValueError, "head_share"),
    "long_tail head_share 1.5": (lambda: plots.long_tail(_axes(), [3, 1], head_share=1.5), ValueError, "head_share"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_refused_with_a_clear_message(case):
    call, error, needle = CASES[case]
    with pytest.raises(error) as info:
        call()
    assert needle in str(info.value), f"{case}: {needle!r} not in {str(info.value)!r}"


def test_the_table_is_large_enough():
    assert len(CASES) >= 90


# --- (b) properties: hypothesis draws the bad input ---------------------------------------

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ERRORS = (ValueError, TypeError)


def _raises_naming(fn, *names):
    try:
        fn()
    except ERRORS as err:
        assert any(name in str(err) for name in names), f"none of {names} in {str(err)!r}"
    else:
        raise AssertionError(f"no error; expected one naming {names}")


def _bad_float():
    return st.sampled_from([NAN, INF, -INF])


bad_ids = st.one_of(st.integers(-10**6, -1), st.integers(0, 10**6).map(lambda i: i + 1000))


@FAST
@given(column=st.sampled_from(["user", "item"]), bad=bad_ids, where=st.integers(0, 31))
def test_fit_refuses_ids_out_of_range(column, bad, where):
    limit = {"user": N_USERS, "item": N_ITEMS}[column]
    bad = bad if bad < 0 else limit + bad - 1000
    rows = _ratings(**{column: _with(_ratings()[column], where, bad)})
    _raises_naming(lambda: fit(MF, models.rating_loss, rows, optim.adam(0.01), key=KEY, progress=False),
                   f"data['{column}']")


@FAST
@given(column=st.sampled_from(["x", "y"]), value=_bad_float(), where=st.integers(0, 31),
       dtype=st.sampled_from([np.float32, np.float64, np.float16]))
def test_fit_refuses_non_finite_floats(column, value, where, dtype):
    rows = {name: array.astype(dtype) for name, array in _toy().items()}
    rows[column] = _with(rows[column], where if column == "y" else (where, where % 3), value)
    _raises_naming(lambda: _fit(rows=rows), f"data['{column}']")


@FAST
@given(dtype=st.sampled_from([np.float32, np.float64, np.complex64, np.bool_, np.str_, object]))
def test_fit_refuses_ids_that_are_not_integers(dtype):
    items = _ratings()["item"].astype(dtype)
    _raises_naming(lambda: _mf_fit(item=items), "data['item']")


@FAST
@given(m_x=st.integers(0, 40), m_y=st.integers(0, 40))
def test_fit_refuses_mismatched_or_empty_data(m_x, m_y):
    rows = {"x": np.zeros((m_x, 3), np.float32), "y": np.zeros(m_y, np.float32)}
    if m_x == m_y and m_x > 0:
        return
    _raises_naming(lambda: _fit(rows=rows), "`data`")


@FAST
@given(value=st.one_of(st.integers(-5, 0), st.floats(allow_nan=True), st.text(max_size=3), st.none()),
       name=st.sampled_from(["epochs", "batch_size", "patience"]))
def test_fit_refuses_bad_sizes(value, name):
    if name == "patience" and value is None:
        return  # patience=None means "never stop early"
    _raises_naming(lambda: _fit(**{name: value}), name)


@FAST
@given(shape_a=st.lists(st.integers(0, 3), max_size=3), shape_b=st.lists(st.integers(0, 3), max_size=3),
       fn=st.sampled_from([metrics.rmse, metrics.mae, losses.mse, losses.mae, losses.bpr]))
def test_pairs_of_arrays_must_match_and_be_non_empty(shape_a, shape_b, fn):
    a, b = np.ones(shape_a, np.float32), np.ones(shape_b, np.float32)
    if tuple(shape_a) == tuple(shape_b) and a.size > 0:
        return
    _raises_naming(lambda: fn(a, b), "pred", "target", "pos_scores", "neg_scores")


@FAST
@given(size=st.integers(1, 20), where=st.integers(0, 19), value=_bad_float(), second=st.booleans(),
       fn=st.sampled_from([metrics.rmse, metrics.mae, losses.mse, losses.huber, losses.mean_squared_error_grad]))
def test_nan_or_inf_in_either_argument_is_refused(size, where, value, second, fn):
    a, b = np.ones(size), np.ones(size)
    (b if second else a)[where % size] = value
    _raises_naming(lambda: fn(a, b), "target" if second else "pred")


@FAST
@given(users=st.lists(st.one_of(st.integers(-50, -1), st.integers(4, 50)), min_size=1, max_size=5),
       as_function=st.booleans())
def test_evaluate_ranking_refuses_users_out_of_range(users, as_function):
    scores = (lambda u: SCORES[u]) if as_function else SCORES
    if as_function and min(users) >= 0:
        return  # only the sign can be checked without a matrix: a function knows its own users
    _raises_naming(lambda: metrics.evaluate_ranking(scores, users, [0] * len(users)), "users")


@FAST
@given(k=st.one_of(st.integers(-5, 0), st.floats(), st.text(max_size=2), st.booleans()),
       fn=st.sampled_from([metrics.hit_rate, metrics.ndcg]))
def test_cutoffs_must_be_positive_integers(k, fn):
    _raises_naming(lambda: fn([0, 2, 5], k), "`k`")


@FAST
@given(ranks=st.one_of(st.lists(st.integers(-5, -1), min_size=1, max_size=4),
                       st.lists(st.floats(allow_nan=True), min_size=1, max_size=4), st.just([])))
def test_ranks_must_be_non_negative_integers(ranks):
    _raises_naming(lambda: metrics.ranking_metrics(ranks), "ranks")


@FAST
@given(n_items=st.integers(1, 6), bad=st.one_of(st.integers(-9, -1), st.integers(0, 9)))
def test_softmax_labels_out_of_range(n_items, bad):
    label = bad if bad < 0 else n_items + bad
    _raises_naming(lambda: losses.softmax_cross_entropy(jnp.zeros((1, n_items)), jnp.array([label])), "labels")


@FAST
@given(window=st.one_of(st.integers(-5, 0), st.floats(), st.none()),
       fn=st.sampled_from([data.recent_items, data.next_item_examples, data.sequence_windows]))
def test_sequence_functions_refuse_bad_windows(window, fn):
    _raises_naming(lambda: fn(SEQ, SEQ_LENGTHS, window, pad_id=9), "window")


@FAST
@given(lengths=st.lists(st.integers(-3, 8), min_size=0, max_size=3),
       fn=st.sampled_from([data.recent_items, data.next_item_examples, data.sequence_windows]))
def test_sequence_functions_refuse_bad_lengths(lengths, fn):
    if len(lengths) == 2 and all(0 <= n <= 4 for n in lengths):
        return
    _raises_naming(lambda: fn(SEQ, np.array(lengths, np.int64), 2, pad_id=9), "lengths")


@FAST
@given(users=st.lists(st.integers(-5, 10), min_size=1, max_size=4), items=st.lists(st.integers(-5, 10), min_size=1, max_size=4))
def test_seen_mask_refuses_bad_ids(users, items):
    if len(users) == len(items) and all(0 <= u < 2 for u in users) and all(0 <= i < 3 for i in items):
        return
    _raises_naming(lambda: data.seen_mask(2, 3, users, items), "users", "items")


@FAST
@given(value=st.one_of(st.floats(max_value=0.0, exclude_max=True), st.sampled_from([NAN, INF, -INF]), st.text(max_size=2)),
       make=st.sampled_from(["sgd", "adam", "adagrad", "rmsprop", "clip"]))
def test_optimizers_refuse_bad_learning_rates(value, make):
    build = {"sgd": optim.sgd, "adam": optim.adam, "adagrad": optim.adagrad, "rmsprop": optim.rmsprop,
             "clip": optim.clip_by_global_norm}[make]
    _raises_naming(lambda: build(value), "learning_rate", "max_norm")


@FAST
@given(value=st.one_of(st.floats(min_value=1.0), st.floats(max_value=-1e-9), st.sampled_from([NAN, INF])),
       name=st.sampled_from(["b1", "b2", "momentum", "decay"]))
def test_decay_rates_must_lie_in_the_unit_interval(value, name):
    build = {"b1": partial(optim.adam, 0.1, b1=value), "b2": partial(optim.adam, 0.1, b2=value),
             "momentum": partial(optim.sgd, 0.1, momentum=value), "decay": partial(optim.rmsprop, 0.1, decay=value)}
    _raises_naming(build[name], name)


ACCEPTED = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False,
            "off": False, "": False}
printable = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=6)
spelled = st.tuples(st.sampled_from(sorted(ACCEPTED)), st.lists(st.booleans(), min_size=5, max_size=5),
                    st.sampled_from(["", " ", "\t"]), st.sampled_from(["", " ", "\n"])).map(
    lambda t: t[2] + "".join(c.upper() if up else c for c, up in zip(t[0], t[1])) + t[3])


@FAST
@given(value=st.one_of(printable, spelled))
def test_offline_switch_spellings(value):
    from recsys_lite import config

    read = lambda: _with_env("RECSYS_LITE_OFFLINE", value, config.offline)  # noqa: E731
    word = value.strip().lower()
    if word in ACCEPTED:
        assert read() == ACCEPTED[word]
    else:
        _raises_naming(read, "RECSYS_LITE_OFFLINE")


# --- (c) the NaN guard of fit ---------------------------------------------------------

def test_a_nan_feature_is_refused_at_entry_naming_the_array():
    rows = _toy()
    rows["x"][5, 2] = np.nan
    with pytest.raises(ValueError, match=r"`data\['x'\]` must be finite; it holds 1 NaN"):
        _fit(rows=rows)


def test_a_huge_learning_rate_stops_naming_the_step_and_the_parameter():
    rows = _ratings(m=64)
    with pytest.raises(TrainingDiverged) as info:
        fit(MF, models.rating_loss, rows, optim.sgd(1e6), key=KEY, epochs=5, batch_size=8, progress=False)
    message = str(info.value)
    assert re.search(r"epoch \d+, step \d+ of 8: ", message), message
    assert re.search(r"\.(users|items|user_embedding|item_embedding)\.table|\.(user|item)_bias|\.mu", message), message
    assert "(the loss itself overflowed)" not in message


def _count_loss(model, batch, key):
    """−w, plus 0·√(5.5 − w): finite while w < 5.5, NaN from then on. SGD with α = 1 adds 1 to w per step."""
    return -model["w"] + 0.0 * jnp.sqrt(5.5 - model["w"])


def test_the_replay_finds_the_first_bad_step_in_a_later_epoch():
    rows = {"x": np.zeros(8, np.float32)}  # batch_size 2 → 4 steps per epoch; w = 6 at step 7 = epoch 2, step 3
    with pytest.raises(TrainingDiverged, match=r"epoch 2, step 3 of 4: the loss became nan while every parameter "
                                               r"was still finite \(the largest: \['w'\] \(\|θ\| up to 6\)\)"):
        fit({"w": jnp.zeros(())}, _count_loss, rows, optim.sgd(1.0), key=KEY, epochs=5, batch_size=2, progress=False)


def test_a_gradient_that_goes_bad_first_is_named():
    rows = {"x": np.zeros(8, np.float32)}
    with pytest.raises(TrainingDiverged, match=r"epoch 1, step 1 of 4: the gradient of parameter \['w'\] .*1 inf"):
        fit({"w": jnp.zeros(())}, lambda m, b, k: jnp.sqrt(m["w"]), rows, optim.sgd(1.0), key=KEY, batch_size=2,
            progress=False)


def test_a_parameter_that_overflows_after_a_finite_update_is_named():
    rows = {"x": np.zeros(8, np.float32)}
    with pytest.raises(TrainingDiverged, match=r"step 1 of 4: parameter \['v'\] .*became NaN or infinite after the update"):
        fit({"v": jnp.full((), 3e38)}, lambda m, b, k: -m["v"], rows, optim.sgd(3e38), key=KEY, batch_size=2,
            progress=False)  # the update 3e38 is finite, but 3e38 + 3e38 overflows float32


def test_the_guard_leaves_the_normal_path_deterministic():
    """Same key, same data: the same bits."""
    a, history_a = _fit(epochs=3)
    b, history_b = _fit(epochs=3)
    assert np.array_equal(a.w, b.w) and history_a.train_loss == history_b.train_loss


# --- (c) RECSYS_LITE_OFFLINE spellings, end to end -------------------------------------------

@pytest.fixture
def no_local_data(monkeypatch, tmp_path):
    monkeypatch.delenv("RECSYS_LITE_DATA", raising=False)
    monkeypatch.setenv("RECSYS_LITE_CACHE", str(tmp_path / "cache"))
    downloads = []

    def fake_download(into):
        downloads.append(into)
        raise OSError("no network in this test")

    monkeypatch.setattr(data.files, "download", fake_download)
    tiny = data.synthetic.movielens_like(0, n_users=5, n_items=60, n_ratings=100)
    monkeypatch.setattr(data.synthetic, "movielens_like", lambda seed: tiny)
    return downloads


@pytest.mark.parametrize("spelling", ["1", "true", "TRUE", " yes ", "On"])
def test_truthy_offline_spellings_forbid_the_download(no_local_data, monkeypatch, spelling):
    monkeypatch.setenv("RECSYS_LITE_OFFLINE", spelling)
    with pytest.warns(data.SyntheticDataWarning, match="RECSYS_LITE_OFFLINE is on, which forbids downloading"):
        stand_in = data.load_movielens()
    assert stand_in.n_users == 5 and "RECSYS_LITE_OFFLINE is on" in stand_in.notice
    assert no_local_data == []


@pytest.mark.parametrize("spelling", ["0", "false", "No", " off", ""])
def test_falsy_offline_spellings_allow_the_download(no_local_data, monkeypatch, spelling):
    monkeypatch.setenv("RECSYS_LITE_OFFLINE", spelling)
    with pytest.warns(data.SyntheticDataWarning, match="download from GroupLens failed"):
        data.load_movielens()
    assert len(no_local_data) == 1


@pytest.mark.parametrize("spelling", ["maybe", "2", "y", "offline"])
def test_other_offline_values_are_an_error(no_local_data, monkeypatch, spelling):
    monkeypatch.setenv("RECSYS_LITE_OFFLINE", spelling)
    with pytest.raises(ValueError, match=rf"RECSYS_LITE_OFFLINE.*1/true/yes/on.*got '{spelling}'"):
        data.load_movielens()
    assert no_local_data == []


def test_a_cache_path_that_is_a_file_is_named(monkeypatch, tmp_path):
    monkeypatch.delenv("RECSYS_LITE_DATA", raising=False)
    monkeypatch.setenv("RECSYS_LITE_OFFLINE", "0")
    cache = tmp_path / "cache"
    cache.write_text("not a folder")
    monkeypatch.setenv("RECSYS_LITE_CACHE", str(cache))
    with pytest.raises(ValueError, match=r"cache path .*cache \(RECSYS_LITE_CACHE\) is not a folder"):
        data.load_movielens()
