"""``universe.training: sequences``: the pooled network trained over each stock's whole
training span in one pass, instead of one 240-session sequence per (stock, day).

``windows`` (the paper's procedure) runs the LSTM from a zero state over the 240
sessions before every training pair, so consecutive days of a stock recompute 239 of
their 240 steps. Here the same layers (LSTM, dropout, a sigmoid unit on every step) run
once over each stock's sessions R0..R1 of the study period, and the binary cross-entropy
is taken on exactly the (stock, day) pairs ``windows`` trains on, split into the same
training pairs and time-ordered validation tail. A step of gradient descent takes
``sequence_batch`` stocks, each its whole span (750 sessions: no truncation, the state is
never cut); the stocks are shuffled each epoch by a generator of the fit's own.

Missing inputs (a stock before it enters, a missing bar) are 0, the training mean after
standardization; they are never a training pair, as in ``windows``.

The training loop is written out in JAX over Keras's stateless API
(``stateless_call``, ``optimizer.stateless_apply``): ``model.fit`` has no loss masked per
time step that is averaged over the masked pairs only. Importing this module imports
keras; callers import it lazily.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from stock_pipeline.backend import jax, keras, layer_seeds
from stock_pipeline.settings import UniverseSettings
from stock_pipeline.universe.network import FitResult, build_network, validation_start
from stock_pipeline.universe.panel import Panel
from stock_pipeline.universe.periods import Scaler, StudyPeriod

jnp = jax.numpy

#: Stocks per forward pass of the validation loss and of a prediction by state: a pass
#: costs about the same at 16 stocks as at 128 (the scan's steps are sequential), so
#: fewer, wider passes are cheaper. Padded to this size, so each compiles once.
PASS_BATCH = 128


def build_sequence_network(n_features: int, settings: UniverseSettings) -> keras.Model:
    """The windows network's layers with the sigmoid on every step: inputs [B, S, F] of
    any length S, outputs [B, S, 1]. Its weights have the windows network's shapes."""
    with layer_seeds(settings.seed):  # initial weights drawn per thread, from the seed
        inputs = keras.Input((None, n_features))
        x = keras.layers.LSTM(settings.lstm_units, return_sequences=True)(inputs)
        x = keras.layers.Dropout(settings.dropout, seed=settings.seed)(x)
        outputs = keras.layers.Dense(1, activation="sigmoid")(x)
        return keras.Model(inputs, outputs)


@dataclass(frozen=True)
class SpanData:
    """One study period's stocks as whole sequences: ``x`` [N, S, F] standardized inputs
    (0 where missing), ``y`` [N, S] targets (0 where unknown), and the weights of the
    training pairs and of the validation pairs (1 on a pair, else 0)."""

    x: np.ndarray
    y: np.ndarray
    train: np.ndarray
    validation: np.ndarray


def span_inputs(panel: Panel, scaler: Scaler, first: int, last: int) -> np.ndarray:
    """Rows first..last of every ticker, standardized, [N, last - first + 1, F]."""
    block = scaler.apply(panel.features[first : last + 1])
    return np.nan_to_num(np.swapaxes(block, 0, 1), nan=0.0)


def span_data(
    panel: Panel,
    period: StudyPeriod,
    scaler: Scaler,
    targets: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    fraction: float,
) -> SpanData:
    """The pairs (``rows``, ``cols``: ``periods.training_pairs``, time-ordered) on the
    stocks that have one; the first ``validation_start`` pairs train, the rest validate."""
    split = validation_start(len(rows), fraction)
    stocks = np.unique(cols)
    index = np.searchsorted(stocks, cols)
    steps = rows - period.train_first
    shape = (len(stocks), period.train_last - period.train_first + 1)
    train, validation, y = np.zeros(shape, "float32"), np.zeros(shape, "float32"), np.zeros(shape)
    train[index[:split], steps[:split]] = 1
    validation[index[split:], steps[split:]] = 1
    y[index, steps] = targets[rows, cols]
    x = span_inputs(panel, scaler, period.train_first, period.train_last)[stocks]
    return SpanData(x, y.astype("float32"), train, validation)


def _masked_bce(probs, y, w):
    p = jnp.clip(probs[..., 0], 1e-7, 1 - 1e-7)  # Keras's epsilon
    loss = -(y * jnp.log(p) + (1 - y) * jnp.log(1 - p))
    return jnp.sum(loss * w), jnp.sum(w)


class SequenceTrainer:
    """The jitted training step and validation pass of one network."""

    def __init__(self, model: keras.Model, settings: UniverseSettings):
        self.model = model
        self.optimizer = keras.optimizers.RMSprop(settings.learning_rate)
        self.optimizer.build(model.trainable_variables)

        def loss_fn(trainable, fixed, x, y, w):
            probs, fixed = model.stateless_call(trainable, fixed, x, training=True)
            total, count = _masked_bce(probs, y, w)
            return total / jnp.maximum(count, 1.0), fixed

        grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

        def step(state, x, y, w):
            trainable, fixed, opt = state
            (loss, fixed), grads = grad_fn(trainable, fixed, x, y, w)
            trainable, opt = self.optimizer.stateless_apply(opt, grads, trainable)
            return (trainable, fixed, opt), loss

        def evaluate(trainable, fixed, x, y, w):
            probs, _ = model.stateless_call(trainable, fixed, x, training=False)
            return _masked_bce(probs, y, w)

        self.step = jax.jit(step, donate_argnums=0)
        self.evaluate = jax.jit(evaluate)

    def state(self):
        return (
            [v.value for v in self.model.trainable_variables],
            [v.value for v in self.model.non_trainable_variables],
            [v.value for v in self.optimizer.variables],
        )

    def assign(self, trainable, fixed) -> None:
        for variable, value in zip(self.model.trainable_variables, trainable, strict=True):
            variable.assign(value)
        for variable, value in zip(self.model.non_trainable_variables, fixed, strict=True):
            variable.assign(value)


def batches(n: int, size: int, order: np.ndarray) -> list[np.ndarray]:
    """``order`` in groups of ``size``; the last group is padded with -1 (weight 0), so
    every step has one shape and compiles once."""
    padded = np.full(-(-n // size) * size, -1)
    padded[:n] = order
    return list(padded.reshape(-1, size))


def _take(array: np.ndarray, group: np.ndarray) -> np.ndarray:
    out = array[np.maximum(group, 0)]
    out[group < 0] = 0
    return out


def fit_sequences(model: keras.Model, data: SpanData, settings: UniverseSettings) -> FitResult:
    """Train with early stopping on the validation pairs (patience in epochs, an epoch one
    pass over every stock); the best weights are restored."""
    trainer = SequenceTrainer(model, settings)
    state = trainer.state()
    rng = np.random.default_rng(settings.seed)
    n, size = len(data.x), settings.sequence_batch
    best, best_weights, wait, epochs = np.inf, None, 0, 0
    started = time.perf_counter()
    for epoch in range(settings.epochs):
        epochs = epoch + 1
        for group in batches(n, size, rng.permutation(n)):
            w = _take(data.train, group)
            state, _ = trainer.step(state, _take(data.x, group), _take(data.y, group), w)
        val = validation_loss(trainer, state, data)
        if val < best:
            best, wait = val, 0
            best_weights = ([np.asarray(v) for v in state[0]], [np.asarray(v) for v in state[1]])
        else:
            wait += 1
            if wait >= settings.patience:
                break
    trainer.assign(*best_weights)
    return FitResult(epochs, float(best), time.perf_counter() - started, int(data.train.sum()))


def validation_loss(trainer: SequenceTrainer, state, data: SpanData) -> float:
    total, count = 0.0, 0.0
    for group in batches(len(data.x), PASS_BATCH, np.arange(len(data.x))):
        t, c = trainer.evaluate(
            state[0], state[1], _take(data.x, group), _take(data.y, group),
            _take(data.validation, group),
        )  # fmt: skip
        total, count = total + float(t), count + float(c)
    return total / count


def predict_state(
    model: keras.Model,
    panel: Panel,
    scaler: Scaler,
    period: StudyPeriod,
    rows: np.ndarray,
    cols: np.ndarray,
) -> np.ndarray:
    """Probabilities at (``rows``, ``cols``) from one pass over each stock's rows from the
    period's first training row on: the state at row t has read rows R0..t only. The pass
    always spans the whole period (padded at its end) so that it compiles once."""
    if not len(rows):
        return np.zeros(0)
    stocks = np.unique(cols)
    length = period.signal_last - period.train_first + 1
    last = min(int(rows.max()), period.signal_last)
    x = np.zeros((len(stocks), length, panel.features.shape[-1]), "float32")
    x[:, : last - period.train_first + 1] = span_inputs(panel, scaler, period.train_first, last)[
        stocks
    ]
    forward = jax.jit(lambda t, f, x: model.stateless_call(t, f, x, training=False)[0])
    trainable = [v.value for v in model.trainable_variables]
    fixed = [v.value for v in model.non_trainable_variables]
    groups = batches(len(stocks), PASS_BATCH, np.arange(len(stocks)))
    probs = np.concatenate(
        [np.asarray(forward(trainable, fixed, _take(x, g)))[..., 0] for g in groups]
    )
    return probs[np.searchsorted(stocks, cols), rows - period.train_first].astype(float)


def windows_network(model: keras.Model, length: int, settings: UniverseSettings) -> keras.Model:
    """The paper's windows network carrying ``model``'s trained weights."""
    windows = build_network(length, model.input_shape[-1], settings)
    windows.set_weights(model.get_weights())
    return windows
