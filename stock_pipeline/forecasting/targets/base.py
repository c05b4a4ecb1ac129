"""What a forecast target is to every stage: the ``Target`` each target module defines.

A target says how its label is built from a ticker's feature table and how the network's
output maps back to the target's units (``label``, ``fit_scale``, ``to_label``,
``from_label``), which training losses fit it and whether the fold's shrinkage applies,
and, as plain facts the later stages look up, how it is scored and traded. The stages
above forecasting (evaluation, trading, the report) keep the code those facts select,
so this package imports no keras and nothing above it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, NamedTuple

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from stock_pipeline.forecasting.features import FeatureTable, LabelScaler
    from stock_pipeline.settings import FeatureSettings

#: What the target is a function of: the h-day return (return, price and direction are
#: read off it) or that return's variance. It picks the baselines and the scores.
Measure = Literal["return", "variance"]

#: How the backtest trades the forecasts: long/short on an h-day return beyond the
#: threshold, on a probability of an up move beyond the margin, or a long position sized
#: by a variance forecast (``trading/strategies.py``).
TradedAs = Literal["return", "probability", "variance"]


class LabelScale(NamedTuple):
    """The statistics ``fit_scale`` takes from a fold's training labels."""

    scale: float
    center: float = 0.0
    floor: float = 0.0


class Target:
    """One forecast target; each module of this package defines one subclass."""

    name: str
    #: The units of a forecast, as the report names them (its sentences are keyed by it).
    units: Literal["log_return", "price", "probability", "variance"]
    #: The predicted-vs-actual chart's axis labels.
    axis_labels: tuple[str, str]
    default_loss: str = "mse"
    losses: tuple[str, ...] = ("mse", "huber")
    output_activation: str | None = None  # of the network's output layer
    #: Whether ``model.shrinkage`` pulls the fold's forecasts toward zero in label units
    #: (zero must then be the naive forecast).
    shrunk: bool = True
    #: The label is a log, so a least-squares fit forecasts exp(E[log y]): training
    #: multiplies it back to the mean by Duan's smearing factor.
    smeared: bool = False
    measures: Measure = "return"
    #: The network forecasts a probability: it has no error in the target's units and no
    #: skill against naive; it is scored by its hit rate.
    forecasts_probability: bool = False
    #: The daily loss ``model_comparison`` tests the models on (``squared_error`` or
    #: ``qlike``); None: the forecasts have no loss comparable with naive's.
    comparison_loss: str | None = "squared_error"
    traded_as: TradedAs = "return"

    def label(self, table: FeatureTable, features: FeatureSettings) -> np.ndarray:
        """The target of each row t (NaN where t + h is past the end of the table)."""
        raise NotImplementedError

    def fit_scale(self, target: np.ndarray, close_at_end: np.ndarray) -> LabelScale:
        """The label statistics of a fold's training targets."""
        std = float(np.std(target))
        return LabelScale(std if std > 0 else 1.0)

    def to_label(
        self, labels: LabelScaler, target: np.ndarray, close_at_end: np.ndarray
    ) -> np.ndarray:
        """Targets as the numbers the network fits."""
        return target / labels.scale

    def from_label(
        self, labels: LabelScaler, label: np.ndarray, close_at_end: np.ndarray
    ) -> np.ndarray:
        """Network outputs back in the target's units."""
        return label * labels.scale

    def loss(self, configured: str | None) -> str:
        """The training loss for ``model.loss`` (None: the target's default); a ValueError
        naming both settings when it does not fit."""
        loss = configured or self.default_loss
        if loss not in self.losses:
            raise ValueError(
                f"model.loss={loss!r} does not fit features.target={self.name!r}: use "
                f"{' or '.join(self.losses)} (or leave model.loss unset for "
                f"{self.default_loss})"
            )
        return loss

    def implied_return(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(predicted, actual) of prediction rows (``predicted``, ``close``,
        ``actual_price``) as h-day log returns."""
        actual = np.log(frame["actual_price"] / frame["close"]).to_numpy()
        return frame["predicted"].to_numpy(), actual

    def implied_price(self, frame: pd.DataFrame, predicted_return: np.ndarray) -> np.ndarray:
        """The price at t+h a prediction row's forecast implies."""
        return frame["close"].to_numpy() * np.exp(predicted_return)

    def from_return(self, forecast: np.ndarray, close: np.ndarray) -> np.ndarray:
        """h-day log return forecasts (the baselines') in the units they are scored in."""
        return forecast

    def traded_forecast(self, frame: pd.DataFrame) -> np.ndarray:
        """A model's prediction rows in the units ``traded_as`` trades."""
        return frame["predicted"].to_numpy()


def known_log_returns(adj_close: np.ndarray, horizon: int) -> np.ndarray:
    """log(adj_close[t+h] / adj_close[t]) of each row t whose t + h is in the table."""
    return np.log(adj_close[horizon:] / adj_close[:-horizon])


def padded(known: np.ndarray, rows: int) -> np.ndarray:
    """``known`` labels of the first rows, NaN for the last ones (t + h past the end)."""
    out = np.full(rows, np.nan)
    if rows > len(known) > 0:
        out[: len(known)] = known
    return out
