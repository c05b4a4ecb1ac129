"""The Keras model itself: reproducibility, persistence, and that it can learn."""

from __future__ import annotations

import numpy as np
import pytest

from stock_pipeline.forecasting.features import windows
from stock_pipeline.settings import ModelSettings


def _lstm():
    """Import keras on first use, not at collection: a keras/JAX import during collection
    breaks Dagster's stderr capture in the CLI tests that run before this module."""
    from stock_pipeline.forecasting import network as model

    return model


SMALL = ModelSettings(lstm_units=(8,), epochs=3, batch_size=32, patience=2)


def data(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(n + 10, 3))
    x = windows(values, 10)[:-1].astype("float32")
    y = values[10:, 0].astype("float32")
    return x, y


def test_time_split_keeps_order_and_gap() -> None:
    lstm = _lstm()
    split = lstm.time_split(100, 0.2, gap=3)
    assert (split.train.start, split.train.stop) == (0, 77)
    assert (split.validation.start, split.validation.stop) == (80, 100)


def test_same_seed_gives_identical_weights() -> None:
    lstm = _lstm()
    x, y = data()
    trained = []
    for _ in range(2):
        net = lstm.build_model(10, 3, SMALL, "return")
        lstm.fit(net, x, y, SMALL, horizon=1, epochs=3)
        trained.append(net.get_weights())
    for a, b in zip(*trained, strict=True):
        assert np.array_equal(a, b)
    other = lstm.build_model(10, 3, SMALL.model_copy(update={"seed": 7}), "return")
    lstm.fit(other, x, y, SMALL.model_copy(update={"seed": 7}), horizon=1, epochs=3)
    assert not np.array_equal(other.get_weights()[0], trained[0][0])


def test_training_ignores_other_threads_drawing_from_the_process_wide_generators() -> None:
    """A Dask worker's event loop draws from Python's and NumPy's generators while a task
    trains; the model is the one trained in a quiet main thread, which is the one Keras'
    own seeding and shuffling (``fit(shuffle=True)`` on arrays) trains."""
    import random
    import threading

    from stock_pipeline.backend import keras

    lstm = _lstm()
    x, y = data()

    def train() -> list[np.ndarray]:
        net = lstm.build_model(10, 3, SMALL, "return")
        lstm.fit(net, x, y, SMALL, horizon=1, epochs=3)
        return net.get_weights()

    quiet = train()
    split = lstm.time_split(len(x), SMALL.validation_fraction, gap=1)
    keras_own = lstm.build_model(10, 3, SMALL, "return")
    keras.utils.set_random_seed(SMALL.seed)
    keras_own.fit(
        x[split.train],
        y[split.train],
        validation_data=(x[split.validation], y[split.validation]),
        epochs=3,
        batch_size=SMALL.batch_size,
        shuffle=True,
        callbacks=[keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True)],
        verbose=0,
    )

    stop, noisy = threading.Event(), []

    def draw() -> None:
        while not stop.is_set():
            random.random(), np.random.random()

    def train_in_a_thread() -> None:
        noisy.append(train())

    drawer, trainer = threading.Thread(target=draw), threading.Thread(target=train_in_a_thread)
    drawer.start()
    trainer.start()
    trainer.join()
    stop.set()
    drawer.join()
    for trained in (keras_own.get_weights(), noisy[0]):
        for a, b in zip(quiet, trained, strict=True):
            assert np.array_equal(a, b)


def test_save_load_round_trip_predicts_identically(tmp_path) -> None:
    from stock_pipeline.forecasting.features import LabelScaler, Scaler
    from stock_pipeline.forecasting.training import TrainedModel

    lstm = _lstm()
    x, y = data()
    net = lstm.build_model(10, 3, SMALL, "return")
    lstm.fit(net, x, y, SMALL, horizon=1, epochs=2)
    scaler = Scaler(np.array([0.1, 0.2, 0.3]), np.array([1.0, 2.0, 3.0]))
    saved = TrainedModel(net, scaler, LabelScaler("return", 0.01), 0.25, {"fold": 7})
    saved.save(tmp_path / "m")
    loaded = TrainedModel.load(tmp_path / "m")
    assert loaded.meta == {"fold": 7} and loaded.labels == saved.labels
    assert loaded.shrink == 0.25
    assert np.array_equal(loaded.scaler.mean, scaler.mean)
    assert np.array_equal(loaded.scaler.std, scaler.std)
    assert np.array_equal(lstm.predict(net, x), lstm.predict(loaded.net, x))


def test_a_models_forecasts_are_its_network_output_times_its_shrink_factor() -> None:
    from stock_pipeline.forecasting.features import LabelScaler, Scaler
    from stock_pipeline.forecasting.training import TrainedModel
    from stock_pipeline_tests.support.synthetic import ar_table

    lstm = _lstm()
    table = ar_table(60, 0.3, seed=0)
    net = lstm.build_model(10, 1, SMALL.model_copy(update={"zero_init_output": False}), "return")
    scaler, labels = Scaler(np.array([0.0]), np.array([0.01])), LabelScaler("return", 0.01)
    origins = np.arange(20, 30)
    raw = lstm.predict(
        net, (table.values[:, 0] / 0.01)[np.arange(10)[None] + origins[:, None] - 9, None]
    )
    full = TrainedModel(net, scaler, labels, 1.0).predict(table, origins, 10)
    quarter = TrainedModel(net, scaler, labels, 0.25).predict(table, origins, 10)
    np.testing.assert_allclose(full, raw * 0.01, rtol=1e-5)  # label units -> log return
    np.testing.assert_allclose(quarter, 0.25 * full, rtol=1e-6)
    assert np.any(full < 0) and np.any(full > 0)
    gated = TrainedModel(net, scaler, labels, 0.0).predict(table, origins, 10)
    assert (gated == 0).all() and not np.signbit(gated).any()  # shown as 0, never "-0"


def test_learns_a_planted_autoregressive_signal() -> None:
    """r[t+1] = 0.6 r[t] + noise: the best forecast has 64% of naive's error; demand < 80%."""
    lstm = _lstm()
    rng = np.random.default_rng(3)
    n = 2400
    r = np.zeros(n)
    for t in range(1, n):
        r[t] = 0.6 * r[t - 1] + rng.normal()
    values = r[:, None]
    x = windows(values, 10)[:-1].astype("float32")
    y = r[10:].astype("float32")
    cut = len(x) - 400
    settings = ModelSettings(lstm_units=(16,), epochs=40, patience=5, batch_size=64)
    net = lstm.build_model(10, 1, settings, "return")
    result = lstm.fit(net, x[:cut], y[:cut], settings, horizon=1, epochs=settings.epochs)
    pred = lstm.predict(net, x[cut:])
    mse_model = np.mean((pred - y[cut:]) ** 2)
    mse_naive = np.mean(y[cut:] ** 2)  # "tomorrow's return is zero" (price unchanged)
    assert mse_model < 0.8 * mse_naive, (mse_model, mse_naive, result.epochs_run)


def test_too_little_data_is_an_error() -> None:
    lstm = _lstm()
    x, y = data(2)  # two windows: one for validation, one lost to the horizon gap
    with pytest.raises(lstm.TrainingDataError, match="no training sample"):
        lstm.fit(lstm.build_model(10, 3, SMALL, "return"), x, y, SMALL, horizon=1, epochs=1)


# Trains on the compute engine of the settings the environment gives, as a run does: the
# engine applies the backend's settings (the compilation cache) before the first compile.
TRAIN_IN_A_NEW_PROCESS = """
import numpy as np
from stock_pipeline.compute import open_engine
from stock_pipeline.settings import ModelSettings, Settings

def train():
    from stock_pipeline.backend import jax
    from stock_pipeline.forecasting import network as lstm
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 10, 3)).astype("float32")
    y = rng.normal(size=64).astype("float32")
    settings = ModelSettings(lstm_units=(8,), epochs=2, batch_size=32, patience=2)
    net = lstm.build_model(10, 3, settings, "return")
    lstm.fit(net, x, y, settings, 1, 2)
    return jax.config.jax_compilation_cache_dir, float(lstm.predict(net, x).sum())

with open_engine(Settings.from_env().compute) as engine:
    (outcome,) = engine.map(train, [()])
cache_dir, prediction = outcome.value
print(cache_dir or "none")
print(repr(prediction))
"""


def _train_in_subprocess(env: dict[str, str]) -> tuple[str, str]:
    import os
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", TRAIN_IN_A_NEW_PROCESS],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    cache_dir, prediction = out.stdout.strip().splitlines()[-2:]
    return cache_dir, prediction


def test_compiled_programs_are_cached_on_disk_and_change_nothing(tmp_path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg"), "JAX_COMPILATION_CACHE_DIR": ""}
    cache = tmp_path / "xdg" / "stock_pipeline" / "jax"
    first_dir, first = _train_in_subprocess(env)
    assert first_dir == str(cache)
    stored = {p.name for p in cache.iterdir()}
    assert any(name.startswith("jit_") for name in stored)
    _, second = _train_in_subprocess(env)  # compiled programs now come from the cache
    assert second == first

    off_dir, off = _train_in_subprocess(
        {**env, "XDG_CACHE_HOME": str(tmp_path / "off"), "STOCK_PIPELINE_JAX_CACHE": "off"}
    )
    assert off_dir == "none" and not (tmp_path / "off" / "stock_pipeline").exists()
    assert off == first
