"""The cross-sectional network: one LSTM layer, dropout, a sigmoid output; RMSprop on
binary cross-entropy; early stopping on a time-ordered validation tail. Keras 3 on JAX
(``stock_pipeline.backend`` prepares the process); importing this module imports keras,
so callers import it lazily."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from stock_pipeline.backend import keras, layer_seeds
from stock_pipeline.forecasting.network import ShuffledBatches
from stock_pipeline.settings import UniverseSettings


def build_network(length: int, n_features: int, settings: UniverseSettings) -> keras.Model:
    keras.utils.set_random_seed(settings.seed)  # initial weights are part of reproducibility
    # the initializers' seeds from a generator of this thread's own: not the process-wide
    # one a Dask worker's event loop draws from meanwhile (``backend.layer_seeds``)
    with layer_seeds(settings.seed):
        inputs = keras.Input((length, n_features))
        x = keras.layers.LSTM(settings.lstm_units)(inputs)
        x = keras.layers.Dropout(settings.dropout, seed=settings.seed)(x)
        outputs = keras.layers.Dense(1, activation="sigmoid")(x)
        model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.RMSprop(settings.learning_rate),
        loss="binary_crossentropy",
        jit_compile=True,
    )
    return model


@dataclass
class FitResult:
    epochs_run: int
    best_val_loss: float
    train_seconds: float
    samples: int

    @property
    def sequences_per_second(self) -> float:
        return self.samples * self.epochs_run / self.train_seconds if self.train_seconds else 0.0


def validation_start(n: int, fraction: float) -> int:
    """Index of the first validation sample of ``n`` time-ordered samples."""
    start = round(n * (1 - fraction))
    if start < 1 or start >= n:
        raise ValueError(f"{n} training sequences leave no training or no validation sample")
    return start


def fit_network(
    model: keras.Model, x: np.ndarray, y: np.ndarray, settings: UniverseSettings
) -> FitResult:
    """Train on the time-ordered ``x`` (oldest first); the newest ``validation_fraction``
    is held out for early stopping and the best weights are restored."""
    split = validation_start(len(x), settings.validation_fraction)
    keras.utils.set_random_seed(settings.seed)
    stop = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=settings.patience, restore_best_weights=True
    )
    started = time.perf_counter()
    # shuffled within the training span only, by a generator of this fit's own
    batches = ShuffledBatches(x[:split], y[:split], settings.batch_size, settings.seed)
    history = model.fit(
        batches,
        validation_data=(x[split:], y[split:]),
        validation_batch_size=settings.batch_size,
        epochs=settings.epochs,
        shuffle=False,  # Keras' own shuffle of a PyDataset draws from Python's ``random``
        callbacks=[stop],
        verbose=0,
    )
    val = history.history["val_loss"]
    return FitResult(len(val), float(np.min(val)), time.perf_counter() - started, split)


def predict(model: keras.Model, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    if not len(x):
        return np.zeros(0)
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=float)[:, 0]
