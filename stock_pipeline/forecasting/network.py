"""The Keras 3 networks on the JAX backend: build, fit, predict, save and load one.

No Dagster here. Importing this module imports keras; ``stock_pipeline/__init__``
has already set ``KERAS_BACKEND=jax``. Training runs on a GPU when a CUDA build of
jaxlib is installed (Keras then uses cuDNN for LSTM: default activations and no
recurrent dropout, as built here); nothing else changes.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from stock_pipeline.forecasting.allocator import keep_freed_memory

keep_freed_memory()  # before JAX starts its threads: see allocator's docstring

# Importing any stock_pipeline module first runs stock_pipeline/__init__.py, which sets
# KERAS_BACKEND=jax before this keras import.
import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras.src.random import seed_generator as _keras_seed_generator  # noqa: E402

from stock_pipeline.forecasting import architectures  # noqa: E402
from stock_pipeline.forecasting.features import TrainingDataError, time_split  # noqa: E402
from stock_pipeline.forecasting.targets import TARGETS  # noqa: E402
from stock_pipeline.settings import ModelSettings  # noqa: E402

# stock_pipeline/__init__ put the cache settings in the environment, which jax reads
# when it is imported; apply them again in case jax was imported before stock_pipeline.
if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
    jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
if os.environ.get("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"):
    jax.config.update(
        "jax_persistent_cache_min_compile_time_secs",
        float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]),
    )


# Reproducible in any thread. Keras draws its randomness from two process-wide generators
# that ``keras.utils.set_random_seed`` seeds: Python's ``random`` (the seed of every
# initializer and seed generator a layer makes without one) and NumPy's (the permutation
# of each epoch in ``fit(shuffle=True)``). Other threads of the process draw from them
# too: on a Dask worker the event loop samples Python's for ``sizeof`` of every heartbeat
# and NumPy's for ``sizeof`` of a pandas result it sends, at times of their own, and a
# draw between the seeding and Keras' own draws changed a fold model's initial weights or
# batches (the cluster run's forecasts then differed from the in-process run's). So the
# layers draw their seeds from a generator of this thread's own (``layer_seeds``) and the
# training batches are shuffled by one of the fit's own (``ShuffledBatches``): the same
# sequences the seeded process-wide generators give when nothing else draws from them,
# so the models are those trained before, whatever else runs in the process.


class _LayerSeeds:
    """Stands in for the ``random`` module in ``keras.src.random.seed_generator``, whose
    ``make_default_seed`` (``random.randint``) seeds every initializer and seed generator
    made without a seed: inside ``layer_seeds`` from a generator of this thread's own,
    elsewhere from the process-wide one, as before."""

    def __init__(self) -> None:
        self.local = threading.local()

    def randint(self, a: int, b: int) -> int:
        return (getattr(self.local, "rng", None) or random).randint(a, b)

    def __getattr__(self, name: str):
        return getattr(random, name)


_installed = getattr(_keras_seed_generator, "python_random", None)
if _installed is random:
    _keras_seed_generator.python_random = _LayerSeeds()
elif type(_installed).__name__ != _LayerSeeds.__name__:  # not already ours (a reload)
    raise ImportError(  # a Keras that seeds its layers otherwise: check before upgrading
        "keras.src.random.seed_generator no longer draws default seeds from "
        "`python_random`; network.layer_seeds needs updating"
    )


@contextmanager
def layer_seeds(seed: int) -> Iterator[None]:
    """Layers made in this block (in this thread) draw their default seeds from
    ``random.Random(seed)``: what ``random.seed(seed)`` gives when no other thread draws."""
    local = _keras_seed_generator.python_random.local
    previous = getattr(local, "rng", None)
    local.rng = random.Random(seed)
    try:
        yield
    finally:
        local.rng = previous


class ShuffledBatches(keras.utils.PyDataset):
    """The training windows in batches of ``batch_size``, in a new order at each pass (each
    epoch, and the one batch Keras peeks at before training) drawn from
    ``np.random.RandomState(seed)``: the batches ``fit(x, y, shuffle=True)`` makes after
    ``np.random.seed(seed)`` when no other thread draws from NumPy's generator."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int):
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size
        self.rng = np.random.RandomState(seed)
        self.order = np.arange(len(x))

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if index == 0:  # Keras asks for a pass's batches in order, one pass at a time
            self.order = self.rng.permutation(len(self.x))
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        return self.x[rows], self.y[rows]


def build_model(window: int, n_features: int, settings: ModelSettings, target: str) -> keras.Model:
    """The network of ``settings.kind`` (``architectures``), compiled; seeded."""
    TARGETS[target].loss(settings.loss)  # a clash of loss and target fails before any work
    keras.utils.set_random_seed(settings.seed)  # initial weights are part of reproducibility
    with layer_seeds(settings.seed):
        inputs = keras.Input((window, n_features))
        x = architectures.encode(inputs, window, settings)
        activation = TARGETS[target].output_activation
        # Zero output weights: the untrained network forecasts its bias (the mean label),
        # and with early stopping the weights only grow where the validation loss rewards
        # them. Random ones start it as a noise generator that early stopping may keep.
        init = "zeros" if settings.zero_init_output else "glorot_uniform"
        outputs = keras.layers.Dense(1, activation=activation, kernel_initializer=init)(x)
        model = keras.Model(inputs, outputs)
    compile_model(model, settings, target)
    return model


KERAS_LOSSES = {"mse": "mse", "huber": "huber", "cross_entropy": "binary_crossentropy"}


def compile_model(model: keras.Model, settings: ModelSettings, target: str) -> None:
    loss = KERAS_LOSSES[TARGETS[target].loss(settings.loss)]
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
    # shuffled within the training span only, by a generator of this fit's own
    batches = ShuffledBatches(x[split.train], y[split.train], settings.batch_size, settings.seed)
    history = model.fit(
        batches,
        validation_data=(x[split.validation], y[split.validation]),
        epochs=epochs,
        shuffle=False,  # Keras' own shuffle of a PyDataset draws from Python's ``random``
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
