"""The baselines every forecast is compared with: naive (zero return, "tomorrow equals
today"), drift (the training span's mean return) and ARIMA, fitted on a fold's training
rows only."""

from __future__ import annotations

import warnings

import numpy as np

from stock_pipeline.evaluation.folds import Fold
from stock_pipeline.forecasting.features import FeatureTable
from stock_pipeline.settings import Settings

BASELINES = ("naive", "drift", "arima")


def arima_predictions(
    returns: np.ndarray, fit_end: int, origins: np.ndarray, order, horizon: int
) -> np.ndarray:
    """ARIMA fitted on returns[:fit_end + 1]; h-step forecasts from each origin (no refit)."""
    from statsmodels.tools.sm_exceptions import ConvergenceWarning
    from statsmodels.tsa.arima.model import ARIMA

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        fitted = ARIMA(returns[: fit_end + 1], order=order, trend="c").fit()
        if len(origins) == 0:
            return np.empty(0)
        last = int(origins[-1])
        applied = fitted.apply(returns[: last + 1])
        if horizon == 1:
            # one-step prediction of row t+1 uses data up to t only (Kalman filter)
            pred = applied.get_prediction(start=int(origins[0]) + 1, end=last + 1).predicted_mean
            return np.asarray(pred, dtype=float)
        out = []
        for t in origins:
            step = fitted.apply(returns[: int(t) + 1]).forecast(horizon)
            out.append(float(np.sum(step)))
        return np.asarray(out)


def baseline_predictions(
    table: FeatureTable, returns: np.ndarray, fold: Fold, origins: np.ndarray, settings: Settings
) -> dict[str, np.ndarray]:
    """Naive, drift and ARIMA forecasts in target units, fitted on the fold's training rows."""
    fs, h = settings.features, settings.features.horizon
    known_end = fold.train_last_end + h  # returns known when the last training label was
    first = max(1, fold.train_first_end - fs.window + 1)
    mu = float(np.mean(returns[first : known_end + 1]))
    arima = arima_predictions(
        returns[first:], known_end - first, origins - first, settings.evaluation.arima_order, h
    )
    ret = {"naive": np.zeros(len(origins)), "drift": np.full(len(origins), h * mu), "arima": arima}
    close = table.adj_close[origins]
    if fs.target == "price":
        return {m: close * np.exp(r) for m, r in ret.items()}
    return ret
