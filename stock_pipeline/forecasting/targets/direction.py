"""The ``direction`` target: 1.0 if the h-day log return is > 0, else 0.0.

The network's sigmoid output is the probability of an up move, fitted by cross-entropy
on the unscaled 0/1 label. A probability has no error in return units and no loss
comparable with naive's, so it is scored by its hit rate and left out of the model
comparison; it is never shrunk (zero is not its naive forecast). Its baselines still
forecast returns and are scored as such."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from stock_pipeline.forecasting.targets.base import LabelScale, Target, known_log_returns, padded

if TYPE_CHECKING:
    from stock_pipeline.forecasting.features import FeatureTable, LabelScaler
    from stock_pipeline.settings import FeatureSettings


class DirectionTarget(Target):
    name = "direction"
    units = "probability"
    axis_labels = ("predicted probability of an up move", "actual direction (1 = up)")
    default_loss = "cross_entropy"
    losses = ("cross_entropy",)
    output_activation = "sigmoid"
    shrunk = False
    forecasts_probability = True
    comparison_loss = None
    traded_as = "probability"

    def label(self, table: FeatureTable, features: FeatureSettings) -> np.ndarray:
        up = known_log_returns(table.adj_close, features.horizon) > 0
        return padded(up.astype(float), len(table))

    def fit_scale(self, target: np.ndarray, close_at_end: np.ndarray) -> LabelScale:
        return LabelScale(1.0)

    def to_label(
        self, labels: LabelScaler, target: np.ndarray, close_at_end: np.ndarray
    ) -> np.ndarray:
        return target

    def from_label(
        self, labels: LabelScaler, label: np.ndarray, close_at_end: np.ndarray
    ) -> np.ndarray:
        return label

    def implied_return(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The network's probability p as p - 0.5 (its sign is the direction called); the
        baselines' rows are return forecasts already."""
        predicted, actual = super().implied_return(frame)
        return np.where(frame["model"] == "lstm", predicted - 0.5, predicted), actual
