"""The baselines every forecast is compared with: naive (zero return, "tomorrow equals
today"), drift (the training span's mean return) and ARIMA, fitted on a fold's training
rows only, on the same days as the LSTM.

Like the LSTM's, their forecasts are cached per fold (``baselines.json`` beside the fold
model): the fit is reused while the training returns are unchanged at float32 precision,
a forecast of date t while the returns up to t are.
"""

from __future__ import annotations

import hashlib
import warnings

import numpy as np

from stock_pipeline.forecasting.features import FeatureTable
from stock_pipeline.forecasting.fold_models import (
    FoldCache,
    load_fitted,
    running_digests,
    stale_forecasts,
)
from stock_pipeline.forecasting.folds import Fold
from stock_pipeline.forecasting.targets import TARGETS
from stock_pipeline.settings import Settings

BASELINES = ("naive", "drift", "arima")
BASELINES_FILE = "baselines.json"


def arima_forecasts(
    returns: np.ndarray, params: np.ndarray, origins: np.ndarray, order, horizon: int
) -> np.ndarray:
    """h-step ARIMA forecasts from each origin with fixed ``params`` (data up to t only)."""
    from statsmodels.tsa.arima.model import ARIMA

    if len(origins) == 0:
        return np.empty(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        last = int(origins[-1])
        applied = ARIMA(returns[: last + 1], order=order, trend="c").filter(params)
        if horizon == 1:
            # one-step prediction of row t+1 uses data up to t only (Kalman filter)
            pred = applied.get_prediction(start=int(origins[0]) + 1, end=last + 1).predicted_mean
            return np.asarray(pred, dtype=float)[origins - origins[0]]
        steps = [
            ARIMA(returns[: int(t) + 1], order=order, trend="c").filter(params).forecast(horizon)
            for t in origins
        ]
        return np.array([float(np.sum(step)) for step in steps])


def arima_fit(returns: np.ndarray, order) -> np.ndarray:
    from statsmodels.tsa.arima.model import ARIMA

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(ARIMA(returns, order=order, trend="c").fit().params, dtype=float)


class Baselines:
    """Baseline forecasts of one ticker's feature table, fold by fold."""

    def __init__(self, table: FeatureTable, settings: Settings, cache: FoldCache | None):
        self.table, self.settings, self.cache = table, settings, cache
        returns = table.log_return.copy()
        returns[0] = 0.0 if not np.isfinite(returns[0]) else returns[0]
        self.returns = returns
        self.digests = running_digests(returns[:, None])

    def fold_forecasts(self, fold: Fold, origins: np.ndarray) -> dict[str, np.ndarray]:
        """naive, drift and ARIMA forecasts in target units at ``origins`` of ``fold``."""
        h, order = self.settings.features.horizon, self.settings.evaluation.arima_order
        first = max(1, fold.train_first_end - self.settings.features.window + 1)
        known_end = fold.train_last_end + h  # the returns known when the last label was
        fit_returns = self.returns[first : known_end + 1]
        fit_digest = hashlib.sha256(
            fit_returns.astype("float32").tobytes() + repr(order).encode()
        ).hexdigest()
        start = fold.start_date(self.table)
        cached = load_fitted(self.cache, start, BASELINES_FILE, fit_digest)
        dates = [str(self.table.dates[t]) for t in origins]
        by_date = cached["by_date"]
        missing = stale_forecasts(by_date, origins, dates, self.digests)
        if missing:
            if "params" not in cached:
                cached["params"] = arima_fit(fit_returns, order).tolist()
                cached["drift"] = float(np.mean(fit_returns))
            rows = origins[missing]
            arima = arima_forecasts(
                self.returns[first:], np.asarray(cached["params"]), rows - first, order, h
            )
            for i, value in zip(missing, arima, strict=True):
                by_date[dates[i]] = [self.digests[origins[i]], h * cached["drift"], float(value)]
            if self.cache is not None:
                self.cache.save_forecasts(start, cached, BASELINES_FILE)
        values = np.array([by_date[d][1:] for d in dates]).reshape(len(dates), 2)
        ret = {"naive": np.zeros(len(origins)), "drift": values[:, 0], "arima": values[:, 1]}
        target, close = TARGETS[self.settings.features.target], self.table.adj_close[origins]
        return {m: target.from_return(r, close) for m, r in ret.items()}
