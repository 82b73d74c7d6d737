"""Bad input at the public entry points of ``recsys_lite.nn`` and ``recsys_lite.models`` (issue #13).

Every case must fail with ``TypeError``/``ValueError`` (or ``FileNotFoundError`` for a
missing file) and a message naming the argument: never an IndexError, a JAX
tracer error, a bare KeyError, or a silent result. Part (a) is an explicit
table; part (b) lets hypothesis draw bad shapes, dtypes, ids and values.
"""

import dataclasses
import os
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recsys_lite import models, nn

KEY = jax.random.key(0)
N_USERS, N_ITEMS, WINDOW = 4, 6, 3
CLEAR = (TypeError, ValueError)


def _world():
    """Small layers and models, good inputs for them, and files to load."""
    w = SimpleNamespace()
    w.dense = nn.Dense.init(KEY, 3, 2)
    w.emb = nn.Embedding.init(KEY, 5, 2)
    w.mlp = nn.MLP.init(KEY, [3, 4, 2])
    w.conv = nn.Conv1D.init(KEY, 3, 2, 2)
    w.gru = nn.GRUCell.init(KEY, 3, 4)
    w.lstm = nn.LSTMCell.init(KEY, 3, 4)
    w.rnn = nn.Recurrent.init(KEY, 3, 4)
    w.mf = models.BiasedMF.init(KEY, N_USERS, N_ITEMS, 2)
    w.neumf = models.NeuMF.init(KEY, N_USERS, N_ITEMS, gmf_dim=2, mlp_dim=2, hidden=(4,))
    w.content = models.ContentModel.init(KEY, 2, 3, hidden=(4,))
    w.caser = models.Caser.init(KEY, N_USERS, N_ITEMS, dim=4, window=WINDOW, n_horizontal=2, n_vertical=2)
    w.gru4rec = models.GRU4Rec.init(KEY, N_ITEMS, dim=4, hidden=4)
    w.hybrid = models.Hybrid.init(KEY, N_USERS, N_ITEMS, 2, 3, dim=4, window=WINDOW, n_horizontal=2, hidden=4)
    w.frame = pd.DataFrame({"user": [0, 1, 1], "item": [0, 1, 2], "rating": [4.0, 2.0, 5.0]})
    w.bias = models.UserItemBias.fit(w.frame, 2, 3)
    w.pop = models.Popularity.fit(w.frame, 3)
    w.users = np.array([0, 1])
    w.history = np.array([[1, 2, N_ITEMS], [0, 1, 2]])  # left-aligned, padded on the right
    w.user_x = np.ones((2, 2), np.float32)
    w.item_x = np.ones((N_ITEMS, 3), np.float32)
    w.seen = np.zeros((N_USERS, N_ITEMS), bool)
    w.recent = np.full((N_USERS, WINDOW), N_ITEMS)
    w.rec = models.Recommender(w.hybrid, w.recent, w.seen, np.ones((N_USERS, 2), np.float32), w.item_x,
                               np.arange(N_ITEMS))
    nan_items = nn.Embedding(w.hybrid.item_embedding.table.at[0, 0].set(jnp.nan))
    w.nan_rec = dataclasses.replace(w.rec, model=dataclasses.replace(w.hybrid, item_embedding=nan_items))
    return w


W = _world()


def _caser(users, history, **kw):
    return W.caser.scores({"user": users, "history": history}, **kw)


def _gru(history, length):
    return W.gru4rec.scores({"history": history, "length": length})


def _hybrid(users, history, user_x, item_x=None, **kw):
    return W.hybrid.scores({"user": users, "history": history, "user_x": user_x},
                           item_features=W.item_x if item_x is None else item_x, **kw)


def _hybrid_pairs(users, items):
    return {"user": users, "item": items, "history": W.history, "user_x": W.user_x}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A good save, and files that are not one: text, truncated, a .npy, an object array."""
    folder = tmp_path_factory.mktemp("npz")
    models.save_model(folder / "good", W.mf)  # writes good.npz
    good = (folder / "good.npz").read_bytes()
    (folder / "text.npz").write_text("not an archive")
    (folder / "truncated.npz").write_bytes(good[: len(good) // 2])
    np.save(folder / "array.npy", np.ones(3))
    os.replace(folder / "array.npy", folder / "array.npz")
    np.savez(folder / "objects.npz", **{".mu": np.array([{"a": 1}], dtype=object)})
    return folder


def _pair(users, items):
    return {"user": jnp.array(users), "item": jnp.array(items)}


def _xs(user_x, item_x):
    return {"user_x": user_x, "item_x": item_x}


# --------------------------------------------------------------------------- (a) the table

CASES = [
    # activations and initialisers
    ("sigmoid str", lambda: nn.sigmoid("a"), TypeError, "`z`"),
    ("relu object", lambda: nn.relu([None]), TypeError, "`z`"),
    ("softmax axis", lambda: nn.softmax(jnp.ones(3), axis=2), ValueError, "`axis`"),
    ("softmax scalar", lambda: nn.softmax(1.0), ValueError, "`axis`"),
    ("leaky_relu slope", lambda: nn.leaky_relu(jnp.ones(3), "x"), TypeError, "`negative_slope`"),
    ("gelu approximate", lambda: nn.gelu(jnp.ones(3), approximate="no"), TypeError, "`approximate`"),
    ("get_activation", lambda: nn.get_activation("swish"), ValueError, "`activation`"),
    ("get_initializer", lambda: nn.get_initializer(3), ValueError, "`weight_init`"),
    ("compute_fans int", lambda: nn.compute_fans(5), TypeError, "`shape`"),
    ("compute_fans zero", lambda: nn.compute_fans((0, 3)), ValueError, "`shape[0]`"),
    ("glorot key", lambda: nn.glorot_uniform(0, (2, 2)), TypeError, "`key`"),
    ("glorot int dtype", lambda: nn.glorot_uniform(KEY, (2, 2), jnp.int32), TypeError, "`dtype`"),
    ("he_normal negative", lambda: nn.he_normal(KEY, (2, -1)), ValueError, "`shape[1]`"),
    ("zeros float size", lambda: nn.zeros(KEY, (2.5, 1)), TypeError, "`shape[0]`"),
    ("normal stddev", lambda: nn.normal(-1.0), ValueError, "`stddev`"),
    # Dense, Embedding, MLP, Dropout
    ("Dense key", lambda: nn.Dense.init(None, 3, 2), TypeError, "`key`"),
    ("Dense in_features 0", lambda: nn.Dense.init(KEY, 0, 2), ValueError, "`in_features`"),
    ("Dense out_features float", lambda: nn.Dense.init(KEY, 3, 2.0), TypeError, "`out_features`"),
    ("Dense dtype", lambda: nn.Dense.init(KEY, 3, 2, dtype="int8"), TypeError, "`dtype`"),
    ("Dense use_bias", lambda: nn.Dense.init(KEY, 3, 2, use_bias="yes"), TypeError, "`use_bias`"),
    ("Dense x str", lambda: W.dense(np.array(["a", "b", "c"])), TypeError, "`x`"),
    ("Dense x width", lambda: W.dense(jnp.ones((2, 4))), ValueError, "`x`"),
    ("Dense x scalar", lambda: W.dense(1.0), ValueError, "`x`"),
    ("Dense x None", lambda: W.dense(None), TypeError, "NoneType"),
    ("Embedding dim 0", lambda: nn.Embedding.init(KEY, 5, 0), ValueError, "`dim`"),
    ("Embedding stddev", lambda: nn.Embedding.init(KEY, 5, 2, stddev=0), ValueError, "`stddev`"),
    ("Embedding float ids", lambda: W.emb(jnp.array([1.0])), TypeError, "`ids`"),
    ("Embedding bool ids", lambda: W.emb(jnp.array([True])), TypeError, "`ids`"),
    ("Embedding id too big", lambda: W.emb(jnp.array([5])), ValueError, "`ids`"),
    ("Embedding id negative", lambda: W.emb(np.array([-1])), ValueError, "`ids`"),
    ("MLP sizes int", lambda: nn.MLP.init(KEY, 5), TypeError, "`sizes`"),
    ("MLP sizes short", lambda: nn.MLP.init(KEY, [3]), ValueError, "`sizes`"),
    ("MLP sizes negative", lambda: nn.MLP.init(KEY, [3, -1]), ValueError, "`sizes[1]`"),
    ("MLP x width", lambda: W.mlp(jnp.ones((2, 2))), ValueError, "`x`"),
    ("Dropout rate 1.5", lambda: nn.Dropout(1.5), ValueError, "`rate`"),
    ("Dropout rate str", lambda: nn.Dropout("half"), TypeError, "`rate`"),
    ("Dropout key int", lambda: nn.Dropout(0.5)(jnp.ones(3), key=3), TypeError, "`key`"),
    # convolution and pooling
    ("Conv1D width 0", lambda: nn.Conv1D.init(KEY, 3, 2, 0), ValueError, "`width`"),
    ("Conv1D stride float", lambda: nn.Conv1D.init(KEY, 3, 2, 2, stride=1.5), TypeError, "`stride`"),
    ("Conv1D padding None", lambda: nn.Conv1D.init(KEY, 3, 2, 2, padding=None), ValueError, "`padding`"),
    ("Conv1D in_channels", lambda: nn.Conv1D.init(KEY, -3, 2, 2), ValueError, "`in_channels`"),
    ("Conv1D x channels", lambda: W.conv(jnp.ones((4, 5))), ValueError, "`x`"),
    ("Conv1D x no steps", lambda: W.conv(jnp.ones((0, 3))), ValueError, "`x`"),
    ("Conv1D x rank 1", lambda: W.conv(jnp.ones(3)), ValueError, "`x`"),
    ("Conv1D x str", lambda: W.conv(np.full((4, 3), "a")), TypeError, "`x`"),
    ("Conv1D kernel too long", lambda: W.conv(jnp.ones((1, 3))), ValueError, "kernel spans"),
    ("conv1d bias shape", lambda: nn.conv1d(jnp.ones((4, 3)), jnp.ones((2, 3, 2)), jnp.ones(3)), ValueError,
     "`bias`"),
    ("conv1d kernel rank", lambda: nn.conv1d(jnp.ones((4, 3)), jnp.ones((3, 2))), ValueError, "`kernel`"),
    ("conv1d int kernel", lambda: nn.conv1d(jnp.ones((4, 3)), jnp.ones((2, 3, 2), int)), TypeError, "`kernel`"),
    ("conv1d_loop str", lambda: nn.conv1d_loop([["a"]], np.ones((1, 1, 1))), TypeError, "`x`"),
    ("conv1d_loop batch", lambda: nn.conv1d_loop(np.ones((2, 4, 1)), np.ones((1, 1, 1))), ValueError, "`x`"),
    ("conv_padding steps", lambda: nn.conv_padding(-1, 2), ValueError, "`steps`"),
    ("conv_output_length dilation", lambda: nn.conv_output_length(5, 2, dilation=0), ValueError, "`dilation`"),
    ("max_pool lengths float", lambda: nn.max_pool_over_time(jnp.ones((2, 3, 1)), jnp.array([1.5, 2.0])),
     TypeError, "`lengths`"),
    ("max_pool lengths 0", lambda: nn.max_pool_over_time(jnp.ones((2, 3, 1)), jnp.array([0, 2])), ValueError,
     "`lengths`"),
    ("max_pool lengths long", lambda: nn.max_pool_over_time(jnp.ones((2, 3, 1)), jnp.array([4, 2])), ValueError,
     "`lengths`"),
    ("mean_pool lengths shape", lambda: nn.mean_pool_over_time(jnp.ones((2, 3, 1)), jnp.array([1])), ValueError,
     "`lengths`"),
    ("max_pool rank 1", lambda: nn.max_pool_over_time(jnp.ones(3)), ValueError, "`x`"),
    ("max_pool1d window", lambda: nn.max_pool1d(jnp.ones((3, 1)), 0), ValueError, "`window`"),
    ("max_pool1d stride", lambda: nn.max_pool1d(jnp.ones((3, 1)), 2, 0), ValueError, "`stride`"),
    # recurrent layers
    ("RNNCell hidden 0", lambda: nn.RNNCell.init(KEY, 3, 0), ValueError, "`hidden_size`"),
    ("RNNCell activation", lambda: nn.RNNCell.init(KEY, 3, 2, activation="swish"), ValueError, "`activation`"),
    ("GRUCell key", lambda: nn.GRUCell.init("key", 3, 2), TypeError, "`key`"),
    ("GRUCell tuple state", lambda: W.gru((jnp.zeros(4), jnp.zeros(4)), jnp.ones(3)), TypeError, "`h`"),
    ("GRUCell x width", lambda: W.gru(jnp.zeros(4), jnp.ones(2)), ValueError, "`x`"),
    ("GRUCell batch", lambda: W.gru(jnp.zeros((3, 4)), jnp.ones((2, 3))), ValueError, "`h`"),
    ("GRUCell project width", lambda: W.gru.project(jnp.ones((2, 5))), ValueError, "`x`"),
    ("LSTMCell array state", lambda: W.lstm(jnp.zeros((2, 4)), jnp.ones((2, 3))), TypeError, "`state`"),
    ("initial_state int", lambda: W.gru.initial_state(3), TypeError, "`batch_shape`"),
    ("Recurrent cell list", lambda: nn.Recurrent.init(KEY, 3, 4, cell=["gru"]), ValueError, "`cell`"),
    ("Recurrent lengths float", lambda: W.rnn(jnp.ones((2, 3, 3)), jnp.array([1.0, 2.0])), TypeError, "`lengths`"),
    ("Recurrent lengths long", lambda: W.rnn(jnp.ones((2, 3, 3)), jnp.array([1, 4])), ValueError, "`lengths`"),
    ("Recurrent no steps", lambda: W.rnn(jnp.ones((2, 0, 3))), ValueError, "`xs`"),
    ("Recurrent state", lambda: W.rnn(jnp.ones((2, 3, 3)), state=jnp.zeros((2, 5))), ValueError, "`state`"),
    ("unroll xs str", lambda: nn.unroll(W.gru, np.full((1, 2, 3), "a")), TypeError, "`xs`"),
    # baselines
    ("GlobalMean not a frame", lambda: models.GlobalMean.fit({"a": 1}, 2, 3), TypeError, "`ratings`"),
    ("GlobalMean empty", lambda: models.GlobalMean.fit(W.frame.iloc[:0], 2, 3), ValueError, "`ratings`"),
    ("GlobalMean NaN rating", lambda: models.GlobalMean.fit(W.frame.assign(rating=np.nan), 2, 3), ValueError,
     "rating"),
    ("GlobalMean n_users", lambda: models.GlobalMean.fit(W.frame, 0, 3), ValueError, "`n_users`"),
    ("GlobalMean predict float", lambda: models.GlobalMean.fit(W.frame, 2, 3).predict({"user": [0.5], "item": [1]}),
     TypeError, "`batch['user']`"),
    ("GlobalMean predict no item", lambda: models.GlobalMean.fit(W.frame, 2, 3).predict({"user": [0]}), ValueError,
     "`batch` lacks the key(s) ['item']"),
    ("UserItemBias pair shapes", lambda: W.bias.predict({"user": [0, 1], "item": [0]}), ValueError,
     "`batch['user']` and `batch['item']`"),
    ("UserItemBias sweeps", lambda: models.UserItemBias.fit(W.frame, 2, 3, sweeps=0), ValueError, "`sweeps`"),
    ("UserItemBias reg", lambda: models.UserItemBias.fit(W.frame, 2, 3, reg_item=-1), ValueError, "`reg_item`"),
    ("UserItemBias scores 2-D", lambda: W.bias.scores({"user": [[0]]}), ValueError, "`batch['user']`"),
    ("UserItemBias scores range", lambda: W.bias.scores({"user": [2]}), ValueError, "`batch['user']`"),
    ("UserItemBias scores not a dict", lambda: W.bias.scores([0]), TypeError, "`batch`"),
    ("Popularity no item column", lambda: models.Popularity.fit(W.frame[["user"]], 3), ValueError,
     "`interactions`"),
    ("Popularity scores float", lambda: W.pop.scores({"user": [0.5]}), TypeError, "`batch['user']`"),
    ("Popularity scores scalar", lambda: W.pop.scores({"user": 0}), ValueError, "`batch['user']`"),
    ("Popularity scores negative", lambda: W.pop.scores({"user": [-1]}), ValueError, "`batch['user']`"),
    ("RandomScores n_items", lambda: models.RandomScores(KEY, 0), ValueError, "`n_items`"),
    ("RandomScores key", lambda: models.RandomScores(7, 3).scores({"user": [0]}), TypeError, "`key`"),
    ("Popularity score item range", lambda: W.pop.score({"user": [0], "item": [3]}), ValueError, "`batch['item']`"),
    ("RandomScores score pair shapes", lambda: models.RandomScores(KEY, 3).score({"user": [0, 1], "item": [0]}),
     ValueError, "`batch['user']` and `batch['item']`"),
    # factorisation models
    ("BiasedMF n_users -5", lambda: models.BiasedMF.init(KEY, -5, 3, 2), ValueError, "`n_users`"),
    ("BiasedMF dim 0", lambda: models.BiasedMF.init(KEY, 5, 3, 0), ValueError, "`dim`"),
    ("BiasedMF mu NaN", lambda: models.BiasedMF.init(KEY, 5, 3, 2, mu=float("nan")), ValueError, "`mu`"),
    ("BiasedMF float users", lambda: W.mf.score(_pair([0.5], [1])), TypeError, "`batch['user']`"),
    ("BiasedMF item range", lambda: W.mf.score(_pair([0], [N_ITEMS])), ValueError, "`batch['item']`"),
    ("BiasedMF pair shapes", lambda: W.mf.score(_pair([0, 1], [1])), ValueError,
     "`batch['user']` and `batch['item']`"),
    ("BiasedMF scores 2-D", lambda: W.mf.scores({"user": jnp.array([[0]])}), ValueError, "`batch['user']`"),
    ("BiasedMF predict str", lambda: W.mf.predict({"user": ["a"], "item": [0]}), TypeError, "`batch['user']`"),
    ("BiasedMF score no item", lambda: W.mf.score({"user": W.users}), ValueError, "`batch` lacks"),
    ("rating_loss keys", lambda: models.rating_loss(W.mf, {"user": W.users}), ValueError, "`batch`"),
    ("rating_loss not a dict", lambda: models.rating_loss(W.mf, [1, 2]), TypeError, "`batch`"),
    ("rating_loss NaN rating", lambda: models.rating_loss(
        W.mf, {"user": W.users, "item": W.users, "rating": np.array([1.0, np.nan])}), ValueError, "rating"),
    ("rating_loss reg", lambda: models.rating_loss(
        W.mf, {"user": W.users, "item": W.users, "rating": np.ones(2)}, reg=-1.0), ValueError, "`reg`"),
    ("bpr_loss key", lambda: models.bpr_loss(W.mf, {"user": W.users, "item": W.users}, None), TypeError, "`key`"),
    ("softmax_loss item range", lambda: models.softmax_loss(W.mf, {"user": W.users, "item": W.users + N_ITEMS}),
     ValueError, "item"),
    ("bce_loss n_negatives", lambda: models.bce_loss(W.neumf, {"user": W.users, "item": W.users}, KEY,
                                                     n_negatives=0), ValueError, "`n_negatives`"),
    ("NeuMF hidden empty", lambda: models.NeuMF.init(KEY, 3, 3, hidden=()), ValueError, "`hidden`"),
    ("NeuMF gmf_dim", lambda: models.NeuMF.init(KEY, 3, 3, gmf_dim=-1), ValueError, "`gmf_dim`"),
    ("NeuMF user range", lambda: W.neumf.score(_pair([N_USERS], [0])), ValueError, "`batch['user']`"),
    ("NeuMF scores not a dict", lambda: W.neumf.scores(W.users), TypeError, "`batch`"),
    ("ContentModel user_dim", lambda: models.ContentModel.init(KEY, -5, 10), ValueError, "`user_dim`"),
    ("ContentModel hidden", lambda: models.ContentModel.init(KEY, 2, 3, hidden=5), TypeError, "`hidden`"),
    ("ContentModel rows", lambda: W.content.score(_xs(np.ones((2, 2)), np.ones((3, 3)))), ValueError,
     "`batch['user_x']`"),
    ("ContentModel width", lambda: W.content.score(_xs(np.ones((2, 1)), np.ones((2, 3)))), ValueError,
     "`batch['user_x']`"),
    ("ContentModel NaN", lambda: W.content.predict(_xs(np.full((2, 2), np.nan), np.ones((2, 3)))), ValueError,
     "`batch['user_x']`"),
    ("ContentModel inf", lambda: W.content.score(_xs(np.ones((2, 2)), np.full((2, 3), np.inf))), ValueError,
     "`batch['item_x']`"),
    ("ContentModel no item_x", lambda: W.content.score({"user_x": np.ones((2, 2))}), ValueError, "`batch` lacks"),
    # sequential models
    ("Caser dropout 1.5", lambda: models.Caser.init(KEY, 3, 3, dropout=1.5), ValueError, "`dropout`"),
    ("Caser window 0", lambda: models.Caser.init(KEY, 3, 3, window=0), ValueError, "`window`"),
    ("Caser history rank 1", lambda: _caser(W.users, jnp.array([1, 2, 3])), ValueError, "`batch['history']`"),
    ("Caser history short", lambda: _caser(W.users, W.history[:, :2]), ValueError, "`batch['history']`"),
    ("Caser history range", lambda: _caser(W.users, W.history + 1), ValueError, "`batch['history']`"),
    ("Caser history float", lambda: _caser(W.users, W.history * 1.0), TypeError, "`batch['history']`"),
    ("Caser rows", lambda: _caser(W.users[:1], W.history), ValueError, "`batch['history']`"),
    ("Caser key", lambda: _caser(W.users, W.history, key=1), TypeError, "`key`"),
    ("Caser no user", lambda: W.caser.scores({"history": W.history}), ValueError, "`batch` lacks"),
    ("caser_loss keys", lambda: models.caser_loss(W.caser, {"user": W.users}, KEY), ValueError, "`batch`"),
    ("GRU4Rec hidden", lambda: models.GRU4Rec.init(KEY, 3, hidden=0), ValueError, "`hidden`"),
    ("GRU4Rec length 0", lambda: _gru(W.history, jnp.array([0, 2])), ValueError, "`batch['length']`"),
    ("GRU4Rec float history", lambda: _gru(W.history * 1.0, jnp.array([1, 2])), TypeError, "`batch['history']`"),
    ("GRU4Rec lengths shape", lambda: W.gru4rec.states({"history": W.history, "length": jnp.array([1])}),
     ValueError, "`batch['length']`"),
    ("gru4rec_loss keys", lambda: models.gru4rec_loss(W.gru4rec, {"history": W.history}, KEY), ValueError,
     "`batch`"),
    # the hybrid
    ("Hybrid window 0", lambda: models.Hybrid.init(KEY, 4, 6, 2, 3, window=0), ValueError, "`window`"),
    ("Hybrid dim 0", lambda: models.Hybrid.init(KEY, 4, 6, 2, 3, dim=0), ValueError, "`dim`"),
    ("Hybrid branches str", lambda: models.Hybrid.init(KEY, 4, 6, 2, 3, branches="user"), TypeError,
     "`branches`"),
    ("Hybrid branches twice", lambda: models.Hybrid.init(KEY, 4, 6, 2, 3, branches=("gru", "gru")), ValueError,
     "`branches`"),
    ("Hybrid dropout", lambda: models.Hybrid.init(KEY, 4, 6, 2, 3, dropout=-0.1), ValueError, "`dropout`"),
    ("Hybrid item_content", lambda: models.Hybrid.init(KEY, 4, 6, 2, 3, item_content=1), TypeError,
     "`item_content`"),
    ("Hybrid history rank 1", lambda: _hybrid(W.users, jnp.array([1, 2, 3]), W.user_x), ValueError,
     "`batch['history']`"),
    ("Hybrid history short", lambda: _hybrid(W.users, W.history[:, :2], W.user_x), ValueError,
     "`batch['history']`"),
    ("Hybrid user_x rows", lambda: _hybrid(W.users, W.history, W.user_x[:1]), ValueError, "`batch['user_x']`"),
    ("Hybrid user_x NaN", lambda: _hybrid(W.users, W.history, W.user_x * np.nan), ValueError, "`batch['user_x']`"),
    ("Hybrid no user_x", lambda: W.hybrid.scores({"history": W.history}, item_features=W.item_x), ValueError,
     "`batch` lacks"),
    ("Hybrid item_features width", lambda: _hybrid(W.users, W.history, W.user_x, W.item_x[:, :2]), ValueError,
     "`item_features`"),
    ("Hybrid item_vectors inf", lambda: W.hybrid.item_vectors(W.item_x * np.inf), ValueError, "`item_features`"),
    ("Hybrid users range", lambda: _hybrid(W.users + N_USERS, W.history, W.user_x), ValueError, "`batch['user']`"),
    ("Hybrid users rows", lambda: _hybrid(W.users[:1], W.history, W.user_x), ValueError, "`batch['user']`"),
    ("Hybrid score new user", lambda: W.hybrid.score({"item": W.users, "history": W.history, "user_x": W.user_x},
                                                     item_features=W.item_x), ValueError, "`batch` lacks"),
    ("Hybrid predict items range", lambda: W.hybrid.predict(_hybrid_pairs(W.users, W.users + N_ITEMS),
                                                            item_features=W.item_x), ValueError, "`batch['item']`"),
    ("hybrid_topn_loss keys", lambda: models.hybrid_topn_loss(W.hybrid, {"user": W.users}, KEY,
                                                              item_features=W.item_x), ValueError, "`batch`"),
    # serving
    ("recommend float history", lambda: W.rec.recommend(None, history=[1.7, 2.2]), TypeError, "`history`"),
    ("recommend history range", lambda: W.rec.recommend(None, history=[N_ITEMS]), ValueError, "`history`"),
    ("recommend history 2-D", lambda: W.rec.recommend(None, history=[[1]]), ValueError, "`history`"),
    ("recommend history None", lambda: W.rec.recommend(None, history=None), TypeError, "`history`"),
    ("recommend user_x NaN", lambda: W.rec.recommend(None, user_x=[np.nan, 1.0]), ValueError, "`user_x`"),
    ("recommend user_x str", lambda: W.rec.recommend(None, user_x=["a", "b"]), TypeError, "`user_x`"),
    ("recommend user_x shape", lambda: W.rec.recommend(None, user_x=[1.0]), ValueError, "`user_x`"),
    ("recommend NaN model", lambda: W.nan_rec.recommend(0), ValueError, ".item_embedding.table"),
    ("recommend k str", lambda: W.rec.recommend(0, k="3"), TypeError, "`k`"),
    ("recommend k 0", lambda: W.rec.recommend(0, k=0), ValueError, "`k`"),
    ("recommend user float", lambda: W.rec.recommend(1.0), TypeError, "`user`"),
    ("Recommender seen not bool", lambda: models.Recommender(W.hybrid, W.recent, W.seen * 1.0, np.ones((4, 2)),
                                                             W.item_x, np.arange(6)), TypeError, "`seen`"),
    ("Recommender recent window", lambda: models.Recommender(W.hybrid, W.recent[:, :2], W.seen, np.ones((4, 2)),
                                                             W.item_x, np.arange(6)), ValueError, "`recent`"),
    ("Recommender user_x NaN", lambda: models.Recommender(W.hybrid, W.recent, W.seen, np.full((4, 2), np.nan),
                                                          W.item_x, np.arange(6)), ValueError, "`user_x`"),
    ("Recommender popularity", lambda: models.Recommender(W.hybrid, W.recent, W.seen, np.ones((4, 2)), W.item_x,
                                                          -np.arange(6)), ValueError, "`popularity`"),
    ("Recommender model", lambda: models.Recommender("hybrid", W.recent, W.seen, np.ones((4, 2)), W.item_x,
                                                     np.arange(6)), TypeError, "`model`"),
    ("save_model not a model", lambda: models.save_model("/tmp/never", "abc"), TypeError, "`model`"),
    ("save_model path int", lambda: models.save_model(3, W.mf), TypeError, "`path`"),
]


@pytest.mark.parametrize("call, error, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_clearly(call, error, words):
    with pytest.raises(error) as caught:
        call()
    assert words in str(caught.value)


FILE_CASES = [
    ("text.npz", ValueError, "does not start like a zip archive"),
    ("truncated.npz", ValueError, "truncated or damaged"),
    ("array.npz", ValueError, "not an .npz file"),
    ("objects.npz", ValueError, "Python objects"),
    ("missing.npz", FileNotFoundError, "no such file"),
]


@pytest.mark.parametrize("name, error, words", FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_load_model_names_the_file_and_the_problem(files, name, error, words):
    path = files / name
    with pytest.raises(error) as caught:
        models.load_model(path, like=W.mf)
    assert str(path) in str(caught.value) and words in str(caught.value)


def test_save_and_load_agree_on_the_npz_suffix(files):
    loaded = models.load_model(files / "good", like=W.mf)  # save_model wrote good.npz
    pairs = zip(jax.tree_util.tree_leaves(loaded), jax.tree_util.tree_leaves(W.mf))
    assert all(np.array_equal(a, b) for a, b in pairs)
    with pytest.raises(TypeError, match="`like`"):
        models.load_model(files / "good", like="x")


def test_checks_keep_jit_working_and_still_catch_static_mistakes():
    """Under jit, ids are abstract: shapes and dtypes are checked, values are not (and nothing breaks)."""
    users, items = jnp.array([0, 1]), jnp.array([2, 3])
    score = jax.jit(lambda model, batch: model.score(batch))
    scores = jax.jit(lambda model, *args: model.scores(*args))
    assert np.allclose(score(W.mf, _pair(users, items)), W.mf.score(_pair(users, items)), rtol=1e-6)
    hybrid_scores = jax.jit(lambda model, batch, x: model.scores(batch, item_features=x))
    hybrid_batch = {"user": W.users, "history": W.history, "user_x": W.user_x}
    assert np.allclose(hybrid_scores(W.hybrid, hybrid_batch, W.item_x), _hybrid(W.users, W.history, W.user_x),
                       rtol=1e-6)
    score(W.mf, _pair(users + 100, items))  # values are not checked under jit (JAX clamps): check before jitting
    with pytest.raises(TypeError, match=r"`batch\['user'\]`"):
        score(W.mf, _pair(users * 1.0, items))
    with pytest.raises(ValueError, match=r"`batch\['history'\]`"):
        scores(W.caser, {"user": W.users, "history": W.history[:, :2]})
    with pytest.raises(ValueError, match=r"`batch\['user_x'\]`"):
        hybrid_scores(W.hybrid, dict(hybrid_batch, user_x=W.user_x[:, :1]), W.item_x)


# --------------------------------------------------------------------------- (b) properties

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

not_a_size = st.one_of(st.integers(max_value=0), st.floats(allow_nan=True), st.text(max_size=3), st.none(),
                       st.booleans(), st.lists(st.integers(1, 3), max_size=2))
bad_float = st.sampled_from([np.nan, np.inf, -np.inf])


def _raises_naming(call, name, errors=CLEAR):
    with pytest.raises(errors) as caught:
        call()
    assert f"`{name}`" in str(caught.value), str(caught.value)


LAYER_SIZES = {
    "Dense.in_features": lambda v: nn.Dense.init(KEY, v, 2),
    "Dense.out_features": lambda v: nn.Dense.init(KEY, 2, v),
    "Embedding.num_embeddings": lambda v: nn.Embedding.init(KEY, v, 2),
    "Embedding.dim": lambda v: nn.Embedding.init(KEY, 3, v),
    "Conv1D.width": lambda v: nn.Conv1D.init(KEY, 2, 2, v),
    "Conv1D.out_channels": lambda v: nn.Conv1D.init(KEY, 2, v, 1),
    "GRUCell.hidden_size": lambda v: nn.GRUCell.init(KEY, 2, v),
    "LSTMCell.input_size": lambda v: nn.LSTMCell.init(KEY, v, 2),
    "MLP.sizes[1]": lambda v: nn.MLP.init(KEY, [2, v, 1]),
}


@FAST
@given(which=st.sampled_from(sorted(LAYER_SIZES)), value=not_a_size)
def test_layer_constructors_refuse_bad_sizes(which, value):
    _raises_naming(lambda: LAYER_SIZES[which](value), which.split(".")[1])


MODEL_SIZES = {
    "BiasedMF": (lambda **kw: models.BiasedMF.init(KEY, **{"n_users": 3, "n_items": 3, "dim": 2, **kw}),
                 ["n_users", "n_items", "dim"]),
    "NeuMF": (lambda **kw: models.NeuMF.init(KEY, **{"n_users": 3, "n_items": 3, "gmf_dim": 2, **kw}),
              ["n_users", "n_items", "gmf_dim", "mlp_dim"]),
    "ContentModel": (lambda **kw: models.ContentModel.init(KEY, **{"user_dim": 2, "item_dim": 2, **kw}),
                     ["user_dim", "item_dim"]),
    "Caser": (lambda **kw: models.Caser.init(KEY, **{"n_users": 3, "n_items": 3, "dim": 2, "window": 2, **kw}),
              ["n_users", "n_items", "dim", "window", "n_horizontal", "n_vertical"]),
    "GRU4Rec": (lambda **kw: models.GRU4Rec.init(KEY, **{"n_items": 3, "dim": 2, "hidden": 2, **kw}),
                ["n_items", "dim", "hidden"]),
    "Hybrid": (lambda **kw: models.Hybrid.init(KEY, **{"n_users": 3, "n_items": 3, "user_dim": 2, "item_dim": 2,
                                                      "dim": 2, "window": 2, **kw}),
               ["n_users", "n_items", "user_dim", "item_dim", "dim", "window", "n_horizontal", "hidden"]),
}


@FAST
@given(data=st.data(), value=not_a_size)
def test_model_init_refuses_bad_sizes(data, value):
    model = data.draw(st.sampled_from(sorted(MODEL_SIZES)))
    build, names = MODEL_SIZES[model]
    name = data.draw(st.sampled_from(names))
    _raises_naming(lambda: build(**{name: value}), name)


@FAST
@given(model=st.sampled_from(["Caser", "GRU4Rec", "Hybrid"]),
       rate=st.one_of(st.floats(1.0, 1e6), st.floats(max_value=-1e-9), st.just(np.nan), st.text(max_size=2)))
def test_dropout_rates_outside_0_1_are_refused_at_init(model, rate):
    _raises_naming(lambda: MODEL_SIZES[model][0](dropout=rate), "dropout")


id_models = {
    "Embedding": (lambda ids: W.emb(ids), 5, "ids"),
    "BiasedMF users": (lambda ids: W.mf.score({"user": ids, "item": np.zeros(np.shape(ids), int)}), N_USERS,
                       "batch['user']"),
    "BiasedMF items": (lambda ids: W.mf.predict({"user": np.zeros(np.shape(ids), int), "item": ids}), N_ITEMS,
                       "batch['item']"),
    "BiasedMF scores": (lambda ids: W.mf.scores({"user": ids}), N_USERS, "batch['user']"),
    "NeuMF items": (lambda ids: W.neumf.score({"user": np.zeros(np.shape(ids), int), "item": ids}), N_ITEMS,
                    "batch['item']"),
    "NeuMF scores": (lambda ids: W.neumf.scores({"user": ids}), N_USERS, "batch['user']"),
    "UserItemBias scores": (lambda ids: W.bias.scores({"user": ids}), 2, "batch['user']"),
    "Hybrid users": (lambda ids: _hybrid(ids, np.resize(W.history, (len(ids), WINDOW)), np.ones((len(ids), 2))),
                     N_USERS, "batch['user']"),
    "Recommender history": (lambda ids: W.rec.recommend(None, history=ids), N_ITEMS, "history"),
}


@FAST
@given(data=st.data(), size=st.integers(1, 4))
def test_ids_out_of_range_are_refused(data, size):
    which = data.draw(st.sampled_from(sorted(id_models)))
    call, n, name = id_models[which]
    good = data.draw(st.lists(st.integers(0, n - 1), min_size=size, max_size=size))
    bad = data.draw(st.one_of(st.integers(max_value=-1), st.integers(min_value=n)).filter(lambda v: abs(v) < 2**31))
    at = data.draw(st.integers(0, size - 1))
    good[at] = bad
    _raises_naming(lambda: call(np.array(good)), name, ValueError)


@FAST
@given(data=st.data(), size=st.integers(1, 4),
       dtype=st.sampled_from([np.float32, np.float64, np.bool_, np.complex64, np.str_]))
def test_ids_of_a_non_integer_dtype_are_refused(data, size, dtype):
    which = data.draw(st.sampled_from(sorted(id_models)))
    call, n, name = id_models[which]
    ids = np.arange(size) % n
    _raises_naming(lambda: call(ids.astype(dtype)), name, TypeError)


def _hybrid_scores(x, rows):
    return _hybrid(np.arange(rows) % N_USERS, np.resize(W.history, (rows, WINDOW)), x)


FEATURES = {  # feature matrix x (rows, width) → a call, the width, the argument's name
    "ContentModel user_x": (lambda x, rows: W.content.score(_xs(x, np.ones((rows, 3)))), 2, "batch['user_x']"),
    "ContentModel item_x": (lambda x, rows: W.content.predict(_xs(np.ones((rows, 2)), x)), 3, "batch['item_x']"),
    "Hybrid user_x": (_hybrid_scores, 2, "batch['user_x']"),
}


@FAST
@given(data=st.data(), rows=st.integers(1, 3), value=bad_float)
def test_nan_and_inf_features_are_refused(data, rows, value):
    call, width, name = FEATURES[data.draw(st.sampled_from(sorted(FEATURES)))]
    x = np.ones((rows, width), np.float32)
    x[data.draw(st.integers(0, rows - 1)), data.draw(st.integers(0, width - 1))] = value
    _raises_naming(lambda: call(x, rows), name, ValueError)
    user_x = np.ones(2)
    user_x[data.draw(st.integers(0, 1))] = value
    _raises_naming(lambda: W.rec.recommend(None, user_x=user_x), "user_x", ValueError)


@FAST
@given(data=st.data(), shape=st.lists(st.integers(0, 4), min_size=0, max_size=3))
def test_features_of_a_wrong_shape_are_refused(data, shape):
    call, width, name = FEATURES[data.draw(st.sampled_from(sorted(FEATURES)))]
    shape = tuple(shape)
    if not (len(shape) == 2 and shape[1] == width):  # (rows, width) is good, even with 0 rows
        _raises_naming(lambda: call(np.ones(shape), shape[0] if shape else 1), name)
    if shape != (2,):  # a new user's features: (d_u,) = (2,)
        _raises_naming(lambda: W.rec.recommend(None, user_x=np.ones(shape)), "user_x")


@FAST
@given(shape=st.lists(st.integers(0, 4), min_size=0, max_size=3), model=st.sampled_from(["Caser", "Hybrid"]))
def test_histories_of_a_wrong_shape_are_refused(shape, model):
    shape = tuple(shape)
    if len(shape) == 2 and shape[1] == WINDOW and shape[0] == 2:
        return
    history = np.full(shape, N_ITEMS)
    if model == "Caser":
        call = lambda: _caser(W.users, history)
    else:
        call = lambda: _hybrid(W.users, history, W.user_x)
    _raises_naming(call, "batch['history']")


@FAST
@given(x=st.lists(st.integers(0, 5), min_size=0, max_size=3), dtype=st.sampled_from([np.float32, np.int32]))
def test_layer_calls_refuse_inputs_of_the_wrong_shape(x, dtype):
    shape = tuple(x)
    array = np.ones(shape, dtype)
    if not (len(shape) >= 1 and shape[-1] == 3):
        _raises_naming(lambda: W.dense(array), "x", ValueError)
    if not (len(shape) >= 2 and shape[-1] == 3 and shape[-2] >= 2):  # the kernel spans 2 steps
        _raises_naming(lambda: W.conv(array), "x", ValueError)
    if not (len(shape) >= 2 and shape[-1] == 3 and shape[-2] >= 1):
        _raises_naming(lambda: W.rnn(array), "xs", ValueError)


@FAST
@given(lengths=st.lists(st.integers(-5, 10), min_size=2, max_size=2).filter(lambda v: min(v) < 0 or max(v) > 3))
def test_recurrent_lengths_outside_0_L_are_refused(lengths):
    _raises_naming(lambda: W.rnn(jnp.ones((2, 3, 3)), jnp.array(lengths)), "lengths", ValueError)


@FAST
@given(k=st.one_of(st.integers(max_value=0), st.floats(), st.text(max_size=2), st.none(), st.booleans()),
       user=st.sampled_from([0, None]))
def test_recommend_refuses_bad_k(k, user):
    _raises_naming(lambda: W.rec.recommend(user, k=k), "k")


@FAST
@given(history=st.one_of(st.lists(st.floats(0, 5), min_size=1, max_size=3),
                         st.lists(st.lists(st.integers(0, 5), min_size=1, max_size=2), min_size=1, max_size=2),
                         st.text(min_size=1, max_size=3)))
def test_recommend_refuses_bad_histories(history):
    _raises_naming(lambda: W.rec.recommend(None, history=history), "history")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blob=st.binary(max_size=64), cut=st.floats(0.0, 0.95))
def test_load_model_refuses_damaged_files_and_names_them(tmp_path, blob, cut):
    good = tmp_path / "model.npz"
    models.save_model(good, W.mf)
    data = good.read_bytes()
    for name, content in [("random.npz", blob), ("cut.npz", data[: int(len(data) * cut)])]:
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ValueError) as caught:
            models.load_model(path, like=W.mf)
        assert str(path) in str(caught.value)


@FAST
@given(path=st.one_of(st.integers(), st.none(), st.binary(min_size=1, max_size=3), st.lists(st.text(), max_size=2)))
def test_save_and_load_refuse_paths_that_are_not_paths(path):
    _raises_naming(lambda: models.save_model(path, W.mf), "path", TypeError)
    _raises_naming(lambda: models.load_model(path, like=W.mf), "path", TypeError)
