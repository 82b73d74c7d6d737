"""fit(): learns, stops early with the best parameters, guards NaN, traces once."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from recsys_lite._pytree import pytree_dataclass
from recsys_lite.train import History, TrainingDiverged, fit


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


def test_the_epoch_is_traced_once():
    traces = []

    def counting_loss(model, batch, key):
        traces.append(1)  # runs only while JAX traces the function
        return _mse(model, batch, key)

    fit(ZERO, counting_loss, _toy(), optax.adam(0.01), key=jax.random.key(0), epochs=1, batch_size=64, progress=False)
    one_epoch = len(traces)
    traces.clear()
    fit(ZERO, counting_loss, _toy(), optax.adam(0.01), key=jax.random.key(0), epochs=7, batch_size=64, progress=False)
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
    with pytest.raises(ValueError, match="`batch_size` must be a positive integer; got int 0"):
        fit(ZERO, _mse, data, optax.sgd(0.1), batch_size=0, **kwargs)
    with pytest.raises(ValueError, match=r"`data` arrays must share their first dimension; got lengths \{'x': 10, 'y': 9\}"):
        fit(ZERO, _mse, {"x": data["x"], "y": data["y"][:9]}, optax.sgd(0.1), **kwargs)
    with pytest.raises(TypeError, match="`data` must be a non-empty dict"):
        fit(ZERO, _mse, [data["x"]], optax.sgd(0.1), **kwargs)
    with pytest.raises(ValueError, match="`mode` must be 'max' or 'min'"):
        fit(ZERO, _mse, data, optax.sgd(0.1), mode="best", **kwargs)
    with pytest.raises(ValueError, match="`monitor` must be one of \\['a'\\]"):
        fit(ZERO, _mse, data, optax.sgd(0.1), validate=lambda m: {"a": 1.0}, monitor="b", **kwargs)


def test_history_plot_draws_both_axes():
    import matplotlib.pyplot as plt

    history = History(train_loss=[3.0, 2.0], valid=[{"ndcg": 0.1}, {"ndcg": 0.2}], monitor="ndcg", best_epoch=1,
                      seconds=[0.1, 0.1])
    ax = history.plot()
    assert len(ax.figure.axes) == 2
    plt.close(ax.figure)


def test_step_by_step_epochs_make_the_same_updates_as_the_scan():
    data = _toy()
    kwargs = dict(key=jax.random.key(3), epochs=3, batch_size=64, progress=False)
    scanned, h_scan = fit(ZERO, _mse, data, optax.adam(0.05), **kwargs)
    looped, h_loop = fit(ZERO, _mse, data, optax.adam(0.05), scan=False, **kwargs)
    np.testing.assert_allclose(looped.w, scanned.w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h_loop.train_loss, h_scan.train_loss, rtol=1e-5)
