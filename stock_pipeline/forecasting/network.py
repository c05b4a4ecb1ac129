"""The Keras 3 networks on the JAX backend: build, fit, predict, save and load one.

No Dagster here. Importing this module imports keras; ``stock_pipeline/__init__``
has already set ``KERAS_BACKEND=jax``. Training runs on a GPU when a CUDA build of
jaxlib is installed (Keras then uses cuDNN for LSTM: default activations and no
recurrent dropout, as built here); nothing else changes.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

# Importing any stock_pipeline module first runs stock_pipeline/__init__.py, which sets
# KERAS_BACKEND=jax before this keras import.
import jax
import keras
import numpy as np

from stock_pipeline.forecasting import architectures
from stock_pipeline.forecasting.features import TrainingDataError, time_split
from stock_pipeline.settings import ModelSettings

# stock_pipeline/__init__ put the cache settings in the environment, which jax reads
# when it is imported; apply them again in case jax was imported before stock_pipeline.
if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
    jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
if os.environ.get("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"):
    jax.config.update(
        "jax_persistent_cache_min_compile_time_secs",
        float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]),
    )


def build_model(window: int, n_features: int, settings: ModelSettings, target: str) -> keras.Model:
    """The network of ``settings.kind`` (``architectures``), compiled; seeded."""
    settings.loss_for(target)  # a clash of loss and target fails before any work
    keras.utils.set_random_seed(settings.seed)  # initial weights are part of reproducibility
    inputs = keras.Input((window, n_features))
    x = architectures.encode(inputs, window, settings)
    activation = "sigmoid" if target == "direction" else None
    # Zero output weights: the untrained network forecasts its bias (the mean label), and
    # with early stopping the weights only grow where the validation loss rewards them.
    # Random ones start it as a noise generator that early stopping may keep.
    init = "zeros" if settings.zero_init_output else "glorot_uniform"
    outputs = keras.layers.Dense(1, activation=activation, kernel_initializer=init)(x)
    model = keras.Model(inputs, outputs)
    compile_model(model, settings, target)
    return model


KERAS_LOSSES = {"mse": "mse", "huber": "huber", "cross_entropy": "binary_crossentropy"}


def compile_model(model: keras.Model, settings: ModelSettings, target: str) -> None:
    loss = KERAS_LOSSES[settings.loss_for(target)]
    model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate), loss=loss)


@dataclass
class TrainResult:
    model: keras.Model
    epochs_run: int
    best_val_loss: float
    train_seconds: float
    samples: int
    history: dict[str, list[float]] = field(default_factory=dict)

    @property
    def samples_per_second(self) -> float:
        return self.samples * self.epochs_run / self.train_seconds if self.train_seconds else 0.0


def fit(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    settings: ModelSettings,
    horizon: int,
    epochs: int,
) -> TrainResult:
    """Train with EarlyStopping on a time-ordered validation tail; best weights restored."""
    split = time_split(len(x), settings.validation_fraction, gap=horizon)
    n_train = split.train.stop - split.train.start
    if n_train < 1:
        raise TrainingDataError(f"{len(x)} windows leave no training sample after validation")
    keras.utils.set_random_seed(settings.seed)
    stop = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=settings.patience, restore_best_weights=True
    )
    started = time.perf_counter()
    history = model.fit(
        x[split.train],
        y[split.train],
        validation_data=(x[split.validation], y[split.validation]),
        epochs=epochs,
        batch_size=settings.batch_size,
        shuffle=True,  # within the training span only
        callbacks=[stop],
        verbose=0,
    )
    seconds = time.perf_counter() - started
    val = history.history["val_loss"]
    return TrainResult(
        model=model,
        epochs_run=len(val),
        best_val_loss=float(np.min(val)),
        train_seconds=seconds,
        samples=n_train,
        history={k: [float(v) for v in vals] for k, vals in history.history.items()},
    )


def predict(model: keras.Model, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=float)[:, 0]


def parameter_count(model: keras.Model) -> int:
    return int(model.count_params())


def save_network(path: Path, model: keras.Model) -> None:
    """Write ``model`` to ``path`` (a ``.keras`` file) atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.keras")
    model.save(tmp)
    tmp.replace(path)


def load_network(path: Path) -> keras.Model:
    return keras.saving.load_model(path)
