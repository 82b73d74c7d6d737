"""fit(): learns, stops early with the best (or last) parameters, guards NaN, traces once; make_step."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from recsys_lite import config, plots
from recsys_lite._pytree import pytree_dataclass
from recsys_lite.train import History, TrainingDiverged, fit, make_step


@pytree_dataclass
class Line:
    w: jax.Array
    b: jax.Array


def _toy(m=512, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(m, 3)).astype(np.float32)
    y = (x @ np.array([1.5, -2.0, 0.5], np.float32) + 0.3).astype(np.float32)
    return {"x": x, "y": y}


def _mse(model, batch, key):
    pred = batch["x"] @ model.w + model.b
    return 0.5 * jnp.mean((pred - batch["y"]) ** 2)


ZERO = Line(jnp.zeros(3), jnp.zeros(()))


def test_loss_falls_and_the_parameters_are_learned():
    model, history = fit(ZERO, _mse, _toy(), optax.sgd(0.1), key=jax.random.key(0), epochs=20,
                         batch_size=32, progress=False)
    assert history.train_loss[-1] < history.train_loss[0] / 100
    assert np.allclose(model.w, [1.5, -2.0, 0.5], atol=1e-2) and abs(float(model.b) - 0.3) < 1e-2
    assert history.epochs == 20 and history.best_epoch == 19 and not history.stopped_early


def test_same_key_same_result_other_key_other_order():
    run = lambda k: fit(ZERO, _mse, _toy(), optax.sgd(0.01), key=jax.random.key(k), epochs=2,
                        batch_size=64, progress=False)[0]
    a, b, c = run(0), run(0), run(1)
    assert np.array_equal(a.w, b.w)
    assert not np.array_equal(a.w, c.w)


def test_early_stopping_restores_the_best_parameters():
    seen = []
    scores = iter([0.1, 0.5, 0.3, 0.2, 0.1, 0.9])

    def validate(model):
        seen.append(model)
        return {"ndcg": next(scores), "other": 0.0}

    model, history = fit(ZERO, _mse, _toy(), optax.sgd(0.05), key=jax.random.key(0), epochs=6,
                         batch_size=64, validate=validate, patience=2, progress=False)
    assert history.stopped_early and history.epochs == 4
    assert history.best_epoch == 1 and history.monitor == "ndcg"
    assert model is seen[1]
    assert not np.array_equal(model.w, seen[-1].w)
    assert history.metric("ndcg") == [0.1, 0.5, 0.3, 0.2]
    frame = history.to_frame()
    assert list(frame.columns) == ["train_loss", "seconds", "ndcg", "other"] and len(frame) == 4


def test_min_mode_and_monitor():
    losses = iter([3.0, 1.0, 2.0])
    _, history = fit(ZERO, _mse, _toy(), optax.sgd(0.05), key=jax.random.key(0), epochs=3, batch_size=64,
                     validate=lambda m: {"a": 0.0, "rmse": next(losses)}, monitor="rmse", mode="min",
                     progress=False)
    assert history.best_epoch == 1


@pytest.mark.parametrize("scan", [True, False])
def test_the_epoch_is_traced_once(scan):
    traces = []

    def counting_loss(model, batch, key):
        traces.append(1)  # runs only while JAX traces the function
        return _mse(model, batch, key)

    kwargs = dict(key=jax.random.key(0), batch_size=64, progress=False, scan=scan)
    fit(ZERO, counting_loss, _toy(), optax.adam(0.01), epochs=1, **kwargs)
    one_epoch = len(traces)
    traces.clear()
    fit(ZERO, counting_loss, _toy(), optax.adam(0.01), epochs=7, **kwargs)
    assert len(traces) == one_epoch <= 2


def test_a_second_fit_with_the_same_loss_and_optimizer_reuses_the_compiled_epoch():
    traces = []

    def counting_loss(model, batch, key):
        traces.append(1)
        return _mse(model, batch, key)

    adam = optax.adam(0.01)
    first, _ = fit(ZERO, counting_loss, _toy(seed=1), adam, key=jax.random.key(0), epochs=2, batch_size=64,
                   progress=False)
    traced = len(traces)
    second, _ = fit(ZERO, counting_loss, _toy(seed=2), adam, key=jax.random.key(0), epochs=2, batch_size=64,
                    progress=False)
    assert len(traces) == traced  # not traced again: new data of the same shapes are an argument
    assert not np.allclose(first.w, second.w)  # and the new data were used
    fit(ZERO, counting_loss, _toy(seed=2), optax.adam(0.02), key=jax.random.key(0), epochs=1, batch_size=64,
        progress=False)
    assert len(traces) > traced  # another optimizer object: compiled anew


def test_nan_in_the_data_is_refused_before_training():
    data = _toy(m=256)
    data["x"][200, 1] = np.nan
    with pytest.raises(ValueError, match=r"`data\['x'\]` must be finite; it holds 1 NaN"):
        fit(ZERO, _mse, data, optax.sgd(0.01), key=jax.random.key(0), epochs=3, batch_size=32, progress=False)


def test_exploding_parameters_are_named():
    # The first loss is finite (w = 0), but x · (ŷ − y) = 1e38 · (−10) overflows float32.
    data = {"x": np.full((256, 3), 1e38, np.float32), "y": np.full(256, 10.0, np.float32)}
    with pytest.raises(TrainingDiverged, match=r"step 1 of .*gradient of parameter \.w .*became NaN or infinite"):
        fit(ZERO, _mse, data, optax.sgd(1.0), key=jax.random.key(0), epochs=2, batch_size=32, progress=False)


def test_bad_arguments():
    data = _toy(m=10)
    kwargs = dict(key=jax.random.key(0), progress=False)
    with pytest.raises(ValueError, match="`batch_size` must be a positive integer; got 0"):
        fit(ZERO, _mse, data, optax.sgd(0.1), batch_size=0, **kwargs)
    with pytest.raises(ValueError, match=r"`data` arrays must share their first dimension; got lengths "
                                         r"\{'x': 10, 'y': 9\}"):
        fit(ZERO, _mse, {"x": data["x"], "y": data["y"][:9]}, optax.sgd(0.1), **kwargs)
    with pytest.raises(TypeError, match="`data` must be a non-empty dict"):
        fit(ZERO, _mse, [data["x"]], optax.sgd(0.1), **kwargs)
    with pytest.raises(ValueError, match="`mode` must be 'max' or 'min'"):
        fit(ZERO, _mse, data, optax.sgd(0.1), mode="best", **kwargs)
    with pytest.raises(ValueError, match="`monitor` must be one of \\['a'\\]"):
        fit(ZERO, _mse, data, optax.sgd(0.1), validate=lambda m: {"a": 1.0}, monitor="b", **kwargs)


def test_plots_history_draws_both_axes():
    import matplotlib.pyplot as plt

    history = History(train_loss=[3.0, 2.0], valid=[{"ndcg": 0.1}, {"ndcg": 0.2}], monitor="ndcg", best_epoch=1,
                      seconds=[0.1, 0.1])
    ax = plots.history(history)
    assert len(ax.figure.axes) == 2
    assert list(ax.figure.axes[-1].lines[0].get_ydata()) == [0.1, 0.2]
    plt.close(ax.figure)
    _, ax = plt.subplots()
    assert plots.history(History(train_loss=[1.0], seconds=[0.1], best_epoch=0), ax, label="loss") is ax
    assert len(ax.figure.axes) == 1  # no validation: no right axis
    plt.close(ax.figure)


def test_step_by_step_epochs_make_the_same_updates_as_the_scan():
    data = _toy()
    kwargs = dict(key=jax.random.key(3), epochs=3, batch_size=64, progress=False)
    scanned, h_scan = fit(ZERO, _mse, data, optax.adam(0.05), **kwargs)
    looped, h_loop = fit(ZERO, _mse, data, optax.adam(0.05), scan=False, **kwargs)
    np.testing.assert_allclose(looped.w, scanned.w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h_loop.train_loss, h_scan.train_loss, rtol=1e-5)



def test_the_default_epoch_and_both_explicit_ones_make_the_same_updates():
    """scan=None (the default), True (one lax.scan per epoch) and False (one call per step) train a
    convolutional model (whose derivative rule is nn.conv1d's own) to the same parameters up to rounding."""
    from recsys_lite import models

    rng = np.random.default_rng(0)
    data = {"user": rng.integers(0, 7, 96), "history": rng.integers(0, 12, (96, 3)), "item": rng.integers(0, 11, 96)}
    start = models.Caser.init(jax.random.key(0), 7, 11, dim=4, window=3, n_horizontal=2, n_vertical=2, dropout=0.5)
    optimizer, kwargs = optax.adam(0.05), dict(key=jax.random.key(1), epochs=2, batch_size=32, progress=False)
    runs = {scan: fit(start, models.caser_loss, data, optimizer, scan=scan, **kwargs) for scan in (None, True, False)}
    for scan in (True, False):
        for got, want in zip(jax.tree_util.tree_leaves(runs[scan][0]), jax.tree_util.tree_leaves(runs[None][0])):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(runs[scan][1].train_loss, runs[None][1].train_loss, rtol=1e-5)
    moved = [not np.allclose(a, b) for a, b in zip(jax.tree_util.tree_leaves(runs[None][0]),
                                                   jax.tree_util.tree_leaves(start))]
    assert all(moved)  # every parameter was trained (the convolutions included)

def test_keep_last_returns_the_final_epoch_and_still_reports_the_best():
    seen = []
    scores = iter([0.9, 0.1, 0.2])

    def validate(model):
        seen.append(model)
        return next(scores)

    kwargs = dict(key=jax.random.key(0), epochs=3, batch_size=64, progress=False)
    last, history = fit(ZERO, _mse, _toy(), optax.sgd(0.05), validate=validate, keep="last", **kwargs)
    assert last is seen[-1] and history.best_epoch == 0 and history.monitor == "valid"
    plain, _ = fit(ZERO, _mse, _toy(), optax.sgd(0.05), **kwargs)
    np.testing.assert_array_equal(last.w, plain.w)  # validation does not change the training


def test_make_step_is_one_gradient_step():
    """Reference: the update written out with jax.grad and optax."""
    data = {name: value[:64] for name, value in _toy().items()}
    optimizer = optax.adam(0.1)
    state = optimizer.init(ZERO)
    model, new_state, loss = jax.jit(make_step(_mse, optimizer))(ZERO, state, data, jax.random.key(0))
    updates, want_state = optimizer.update(jax.grad(_mse)(ZERO, data, None), state, ZERO)
    want = optax.apply_updates(ZERO, updates)
    np.testing.assert_allclose(model.w, want.w, rtol=1e-6)
    np.testing.assert_allclose(float(loss), float(_mse(ZERO, data, None)), rtol=1e-6)
    assert int(new_state[0].count) == int(want_state[0].count) == 1
    with pytest.raises(ValueError, match=r"`loss_fn` reads batch\['z'\]"):
        make_step(lambda m, b, k: jnp.mean(b["z"]), optimizer)(ZERO, state, data, None)


def test_progress_bar_by_default_and_one_line_while_the_book_builds(monkeypatch, capsys):
    kwargs = dict(key=jax.random.key(0), epochs=2, batch_size=64, desc="toy run")
    monkeypatch.setenv(config.STATIC_WIDGETS, "0")
    fit(ZERO, _mse, _toy(), optax.sgd(0.05), **kwargs)
    out, err = capsys.readouterr()
    assert "toy run" in err and "2/2" in err and out == ""  # tqdm writes its bar to stderr
    monkeypatch.setenv(config.STATIC_WIDGETS, "1")
    fit(ZERO, _mse, _toy(), optax.sgd(0.05), validate=lambda m: {"ndcg": 0.5}, **kwargs)
    out, err = capsys.readouterr()
    assert out.startswith("toy run: 2 epochs in ") and "best validation ndcg 0.5000 at epoch 1" in out
    assert err == ""
    fit(ZERO, _mse, _toy(), optax.sgd(0.05), progress=False, **kwargs)
    assert capsys.readouterr() == ("", "")


def test_all_finite_finds_one_bad_number_in_any_floating_leaf():
    from recsys_lite.train.step import all_finite

    tree = {"w": jnp.ones((3, 4)), "b": jnp.zeros(2, jnp.float16), "ids": jnp.arange(5), "s": jnp.float32(1.0)}
    assert bool(all_finite(tree))
    for leaf, bad in [("w", np.nan), ("b", np.inf), ("s", -np.inf)]:
        broken = dict(tree, **{leaf: tree[leaf].at[(0,) * tree[leaf].ndim].set(bad)})
        assert not bool(all_finite(broken)), leaf
    assert bool(all_finite({"ids": jnp.arange(3)}))  # no floating leaf: nothing to check


def test_all_finite_is_one_reduction_whatever_the_number_of_leaves():
    # one reduction per leaf compiled ~10x slower (0.45 s for a 20-leaf model), paid for every new model
    from recsys_lite.train.step import all_finite

    tree = [jnp.ones((i + 2, 3)) for i in range(12)]
    hlo = all_finite.lower(tree).as_text()
    assert hlo.count("stablehlo.reduce") == 1, hlo.count("stablehlo.reduce")
