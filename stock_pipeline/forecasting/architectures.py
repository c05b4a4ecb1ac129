"""The encoders of the model kinds (``model.kind``): each maps the input window
(batch, T, features) to one vector per sample, which ``network.build_model`` feeds to the
one output layer (zero-initialized) that every kind shares.

Every kind sees only its input window, the rows up to the forecast origin: nothing here
looks past the window's last row, so the forecasts are causal whatever the kind. The
custom layers are registered so that a saved ``.keras`` model loads without this module
having to be named. The ensemble is not a network: ``fold_models.Forecaster`` averages
the forecasts of its members' fold models.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from stock_pipeline.backend import keras
from stock_pipeline.settings import ModelSettings

layers, ops = keras.layers, keras.ops

#: dilations of the tcn's causal convolutions: with kernel k the last output sees
#: 1 + 15 (k - 1) sessions, 31 for the default k = 3 (more than the default T = 20)
TCN_DILATIONS = (1, 2, 4, 8)


@keras.saving.register_keras_serializable(package="stock_pipeline")
class PositionalEncoding(layers.Layer):
    """Adds the fixed sinusoidal encoding of each step's position (Vaswani et al. 2017):
    self-attention alone is blind to the order of the window's rows."""

    def call(self, x):
        steps, width = x.shape[1], x.shape[2]
        position = np.arange(steps)[:, None]
        rates = 1.0 / np.power(10000.0, (2 * (np.arange(width) // 2)) / width)
        angles = position * rates[None, :]
        table = np.where(np.arange(width) % 2 == 0, np.sin(angles), np.cos(angles))
        return x + ops.convert_to_tensor(table[None].astype("float32"))


@keras.saving.register_keras_serializable(package="stock_pipeline")
class PeriodSums(layers.Layer):
    """Non-overlapping sums of ``period`` consecutive rows, aligned to the window's end:
    the last output row sums the last ``period`` rows. Leading rows that do not fill a
    period are dropped, so only the window's own rows enter (a weekly view of the days)."""

    def __init__(self, period: int, **kwargs):
        super().__init__(**kwargs)
        self.period = period

    def call(self, x):
        steps, width = x.shape[1], x.shape[2]
        n = steps // self.period
        kept = x[:, steps - n * self.period :, :]
        return ops.sum(ops.reshape(kept, (-1, n, self.period, width)), axis=2)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1] // self.period, input_shape[2])

    def get_config(self) -> dict:
        return {**super().get_config(), "period": self.period}


def recurrent_stack(x, cell: type, settings: ModelSettings, sequences: bool = False):
    """Stacked ``cell`` layers of ``lstm_units``; the last returns its final state unless
    ``sequences``. Dropout after each layer when set."""
    for i, units in enumerate(settings.lstm_units):
        last = i == len(settings.lstm_units) - 1
        x = cell(units, return_sequences=sequences or not last)(x)
        if settings.dropout:
            x = layers.Dropout(settings.dropout)(x)
    return x


def lstm(x, window: int, settings: ModelSettings):
    return recurrent_stack(x, layers.LSTM, settings)


def gru(x, window: int, settings: ModelSettings):
    return recurrent_stack(x, layers.GRU, settings)


def attention_lstm(x, window: int, settings: ModelSettings):
    """The LSTM stack's state at every step, pooled by learned attention weights (a
    softmax over the window's steps of a learned score of each state)."""
    states = recurrent_stack(x, layers.LSTM, settings, sequences=True)
    weights = layers.Softmax(axis=1)(layers.Dense(1)(states))  # (batch, T, 1)
    pooled = layers.Dot(axes=1)([weights, states])  # (batch, 1, units)
    return layers.Flatten()(pooled)


def transformer(x, window: int, settings: ModelSettings):
    """One encoder block (self-attention, feed-forward, residuals, layer norms) over the
    projected window plus positions, averaged over the steps."""
    width = settings.heads * settings.key_dim
    x = PositionalEncoding()(layers.Dense(width)(x))
    attended = layers.MultiHeadAttention(
        settings.heads, settings.key_dim, dropout=settings.dropout
    )(x, x)
    x = layers.LayerNormalization()(layers.Add()([x, attended]))
    hidden = layers.Dense(2 * width, activation="relu")(x)
    x = layers.LayerNormalization()(layers.Add()([x, layers.Dense(width)(hidden)]))
    return layers.GlobalAveragePooling1D()(x)


def tcn(x, window: int, settings: ModelSettings):
    """Residual blocks of causal convolutions dilated 1, 2, 4, 8; the last step's output.

    Causal padding pads on the left only, so the output at a step sees no later step."""
    for i, dilation in enumerate(TCN_DILATIONS):
        y = layers.Conv1D(
            settings.filters,
            settings.kernel_size,
            padding="causal",
            dilation_rate=dilation,
            activation="relu",
        )(x)
        if i == 0:  # match the channels for the residual sum
            x = layers.Conv1D(settings.filters, 1)(x)
        x = layers.Add()([x, y])
        if settings.dropout:
            x = layers.Dropout(settings.dropout)(x)
    last = layers.Cropping1D((window - 1, 0))(x)
    return layers.Flatten()(last)


def multiscale(x, window: int, settings: ModelSettings):
    """The daily window and its weekly sums (``weekly_period`` rows each), each through an
    LSTM of ``lstm_units[0]`` units; the two final states side by side."""
    period = settings.weekly_period
    if window < 2 * period:
        raise ValueError(
            f"model.kind='multiscale' needs features.window >= 2 x model.weekly_period "
            f"({2 * period}) for two weekly rows; it is {window}"
        )
    units = settings.lstm_units[0]
    daily = layers.LSTM(units)(x)
    weekly = layers.LSTM(units)(PeriodSums(period)(x))
    return layers.Concatenate()([daily, weekly])


ENCODERS: dict[str, Callable] = {
    "lstm": lstm,
    "gru": gru,
    "attention_lstm": attention_lstm,
    "transformer": transformer,
    "tcn": tcn,
    "multiscale": multiscale,
}


def encode(x, window: int, settings: ModelSettings):
    """The encoder of ``settings.kind`` applied to the input tensor ``x``."""
    if settings.kind not in ENCODERS:
        raise ValueError(
            f"model.kind={settings.kind!r} is not one network: an ensemble's forecasts are "
            "the mean of its members' fold models (fold_models.Forecaster); build those"
        )
    return ENCODERS[settings.kind](x, window, settings)
