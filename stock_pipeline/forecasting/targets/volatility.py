"""The ``volatility`` target: the realized variance over t+1..t+h, the sum of h daily
variance estimates (``features.volatility_estimator``, ``forecasting/variance.py``).

The label is the log of the variance (floored at ``floor``), centred and scaled by the
training labels' mean and standard deviation. The log makes the label's noise additive
and roughly homoscedastic (log r^2 = log sigma^2 + log z^2), and exp() of any network
output is a positive variance, which QLIKE needs. A least-squares fit in logs forecasts
exp(E[log RV]), below E[RV]; the label scaler's ``smear`` (Duan's smearing factor, set
by ``train_model``) multiplies it back to the mean.

Shrinkage would pull a forecast toward the training span's geometric-mean variance,
which is neither naive nor a forecast we test, so a volatility target is never shrunk.
It has its own baselines and is scored by QLIKE; a variance has no direction, so it is
traded by sizing a long position."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from stock_pipeline.forecasting import variance
from stock_pipeline.forecasting.targets.base import LabelScale, Target

if TYPE_CHECKING:
    from stock_pipeline.forecasting.features import FeatureTable, LabelScaler
    from stock_pipeline.settings import FeatureSettings


def table_daily_variance(table: FeatureTable, settings: FeatureSettings) -> np.ndarray:
    """The daily variance estimate of each row (``variance``); the first row's return may
    reach back before the table (unknown): its estimate is 0 then, as the baselines take
    its return to be."""
    daily = variance.daily_variance(table.log_return, table.ohlc, settings.volatility_estimator)
    if len(daily) and not np.isfinite(daily[0]):
        daily[0] = 0.0
    return daily


class VolatilityTarget(Target):
    name = "volatility"
    units = "variance"
    axis_labels = ("predicted h-day variance", "realized h-day variance")
    shrunk = False
    smeared = True
    measures = "variance"
    comparison_loss = "qlike"
    traded_as = "variance"

    def label(self, table: FeatureTable, features: FeatureSettings) -> np.ndarray:
        return variance.realized_variance(table_daily_variance(table, features), features.horizon)

    def fit_scale(self, target: np.ndarray, close_at_end: np.ndarray) -> LabelScale:
        floor = variance.LOG_FLOOR_FRACTION * float(np.mean(target))
        logs = np.log(np.maximum(target, floor))
        std = float(np.std(logs))
        return LabelScale(std if std > 0 else 1.0, float(np.mean(logs)), floor)

    def to_label(
        self, labels: LabelScaler, target: np.ndarray, close_at_end: np.ndarray
    ) -> np.ndarray:
        return (np.log(np.maximum(target, labels.floor)) - labels.center) / labels.scale

    def from_label(
        self, labels: LabelScaler, label: np.ndarray, close_at_end: np.ndarray
    ) -> np.ndarray:
        return np.exp(labels.center + label * labels.scale) * labels.smear
