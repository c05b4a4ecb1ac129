"""The ``return`` target: the h-day log return, log(adj_close[t+h] / adj_close[t]).

Its label is the return divided by the training targets' standard deviation (daily log
returns are ~0.01, too small for a well-conditioned fit); the naive forecast is zero."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from stock_pipeline.forecasting.targets.base import Target, known_log_returns, padded

if TYPE_CHECKING:
    from stock_pipeline.forecasting.features import FeatureTable
    from stock_pipeline.settings import FeatureSettings


class ReturnTarget(Target):
    name = "return"
    units = "log_return"
    axis_labels = ("predicted h-day log return", "actual h-day log return")

    def label(self, table: FeatureTable, features: FeatureSettings) -> np.ndarray:
        return padded(known_log_returns(table.adj_close, features.horizon), len(table))
