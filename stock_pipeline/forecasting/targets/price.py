"""The ``price`` target: adj_close at t+h.

The network is not asked for a price level (it is scale-free): its label is the simple
return to the window's last close, scaled by the training labels' standard deviation,
and a forecast is turned back into a price at that close. It is scored and traded
through the log return it implies."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from stock_pipeline.forecasting.targets.base import LabelScale, Target, padded

if TYPE_CHECKING:
    from stock_pipeline.forecasting.features import FeatureTable, LabelScaler
    from stock_pipeline.settings import FeatureSettings


class PriceTarget(Target):
    name = "price"
    units = "price"
    axis_labels = ("predicted price at t+h", "actual price at t+h")

    def label(self, table: FeatureTable, features: FeatureSettings) -> np.ndarray:
        return padded(table.adj_close[features.horizon :], len(table))

    def fit_scale(self, target: np.ndarray, close_at_end: np.ndarray) -> LabelScale:
        return super().fit_scale(target / close_at_end - 1, close_at_end)

    def to_label(
        self, labels: LabelScaler, target: np.ndarray, close_at_end: np.ndarray
    ) -> np.ndarray:
        return (target / close_at_end - 1) / labels.scale

    def from_label(
        self, labels: LabelScaler, label: np.ndarray, close_at_end: np.ndarray
    ) -> np.ndarray:
        return (1 + label * labels.scale) * close_at_end

    def implied_return(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return (
            np.log(frame["predicted"] / frame["close"]).to_numpy(),
            np.log(frame["actual_price"] / frame["close"]).to_numpy(),
        )

    def implied_price(self, frame: pd.DataFrame, predicted_return: np.ndarray) -> np.ndarray:
        return frame["predicted"].to_numpy()

    def from_return(self, forecast: np.ndarray, close: np.ndarray) -> np.ndarray:
        return close * np.exp(forecast)

    def traded_forecast(self, frame: pd.DataFrame) -> np.ndarray:
        return self.implied_return(frame)[0]
