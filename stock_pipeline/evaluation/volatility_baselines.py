"""The baselines of the ``volatility`` target, fitted on a fold's training span only.

Every forecast is of the h-day realized variance (the target's units) made at the close
of an origin t from data dated <= t:
- naive: h x the mean daily variance estimate of the last ``NAIVE_SESSIONS`` (21)
  sessions, "historical variance". Yesterday's estimate alone is not used: a squared
  return is a one-observation estimate, often near zero, and QLIKE punishes a forecast
  near zero without bound; a month's mean is the textbook no-model forecast;
- drift: h x the training span's mean daily variance (the unconditional variance);
- garch, gjr, egarch: GARCH(1,1), GJR-GARCH(1,1,1) and EGARCH(1,1) with its asymmetry
  term (Nelson's form: arch's o=1), zero mean, normal quasi-likelihood, fitted by ``arch``
  on the training span's daily log returns in percent; the parameters are then fixed and
  the model filtered over the later returns, so the forecast at t uses returns <= t.
  They model squared close-to-close returns whatever the target's estimator; with a
  range-based one (which leaves out the overnight gap, so its level differs) their
  forecasts are multiplied by the training span's mean estimate over its mean squared
  return, a level calibration on training data only (exactly 1 for squared_return);
- har: HAR-RV, OLS of the h-day realized variance on the daily estimate, its 5-day and
  its 22-day means (plus a constant), fitted on the fold's training label rows; a forecast
  is floored at ``HAR_FLOOR_FRACTION`` of the training mean target so it stays positive.

Forecasts are cached per fold (``volatility_baselines.json``) like the other baselines.
"""

from __future__ import annotations

import hashlib
import warnings

import numpy as np

from stock_pipeline.forecasting.features import FeatureTable, targets
from stock_pipeline.forecasting.fold_models import (
    FoldCache,
    load_fitted,
    running_digests,
    stale_forecasts,
)
from stock_pipeline.forecasting.folds import Fold
from stock_pipeline.forecasting.targets.volatility import table_daily_variance
from stock_pipeline.forecasting.variance import NAIVE_SESSIONS, trailing_mean
from stock_pipeline.settings import Settings

VOLATILITY_BASELINES = ("naive", "drift", "garch", "gjr", "egarch", "har")
VOLATILITY_FILE = "volatility_baselines.json"
GARCH_SPECS: dict[str, dict[str, int | str]] = {
    "garch": {"vol": "GARCH", "p": 1, "o": 0, "q": 1},
    "gjr": {"vol": "GARCH", "p": 1, "o": 1, "q": 1},
    "egarch": {"vol": "EGARCH", "p": 1, "o": 1, "q": 1},
}
PERCENT = 100.0  # arch's optimizer is best conditioned on returns in percent
HAR_LAGS = (5, 22)
HAR_FLOOR_FRACTION = 0.01
EGARCH_SIMULATIONS = 1000  # EGARCH has no analytic multi-step forecast


def _model(returns: np.ndarray, kind: str):
    from arch import arch_model

    return arch_model(
        returns * PERCENT, mean="Zero", dist="normal", rescale=False, **GARCH_SPECS[kind]
    )


def garch_fit(returns: np.ndarray, kind: str) -> np.ndarray:
    """The parameters of ``kind`` fitted to ``returns`` (daily log returns)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = _model(returns, kind).fit(disp="off", show_warning=False)
    return np.asarray(result.params, dtype=float)


def garch_forecasts(
    returns: np.ndarray, params: np.ndarray, kind: str, origins: np.ndarray, horizon: int
) -> np.ndarray:
    """The h-day variance (sum of the 1..h-step forecasts, in squared log-return units)
    made at each origin row of ``returns`` with fixed ``params`` from returns <= origin.

    The recursion starts at ``returns[0]`` with arch's backcast from the first returns, so
    callers pass the series from the fit's first return for the fit's initial variance."""
    if len(origins) == 0:
        return np.empty(0)
    last, first = int(origins[-1]), int(origins[0])
    simulated = kind == "egarch" and horizon > 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fixed = _model(returns[: last + 1], kind).fix(params)
        forecast = fixed.forecast(
            horizon=horizon,
            start=first,
            reindex=False,
            method="simulation" if simulated else "analytic",
            simulations=EGARCH_SIMULATIONS,
            random_state=np.random.RandomState(0) if simulated else None,
        )
    variance = np.asarray(forecast.variance, dtype=float)  # rows: origins first..last
    return variance[origins - first].sum(axis=1) / PERCENT**2


def har_design(daily: np.ndarray) -> np.ndarray:
    """[1, daily_t, mean of the last 5, mean of the last 22] for every row t."""
    columns = [np.ones(len(daily)), daily, *(trailing_mean(daily, n) for n in HAR_LAGS)]
    return np.column_stack(columns)


def har_fit(daily: np.ndarray, target: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """OLS coefficients of ``target[rows]`` on ``har_design(daily)[rows]``."""
    coef, *_ = np.linalg.lstsq(har_design(daily)[rows], target[rows], rcond=None)
    return coef


class VolatilityBaselines:
    """Volatility baseline forecasts of one ticker's feature table, fold by fold."""

    def __init__(self, table: FeatureTable, settings: Settings, cache: FoldCache | None):
        self.table, self.settings, self.cache = table, settings, cache
        returns = table.log_return.copy()
        returns[0] = 0.0 if not np.isfinite(returns[0]) else returns[0]
        self.returns = returns
        self.daily = table_daily_variance(table, settings.features)
        self.target = targets(table, settings.features)
        self.digests = running_digests(np.column_stack([returns, self.daily]))

    def _fit(self, fold: Fold, first: int) -> dict:
        """Every baseline's parameters from the fold's training span."""
        h = self.settings.features.horizon
        known_end = fold.train_last_end + h  # the last return known when the fold trained
        rows = np.arange(max(fold.train_first_end, HAR_LAGS[-1] - 1), fold.train_last_end + 1)
        fit = {m: garch_fit(self.returns[first : known_end + 1], m).tolist() for m in GARCH_SPECS}
        mean_daily = float(np.mean(self.daily[first : known_end + 1]))
        squared = float(np.mean(self.returns[first : known_end + 1] ** 2))
        fit["drift"] = h * mean_daily
        fit["level"] = mean_daily / squared if squared > 0 else 1.0
        fit["har"] = har_fit(self.daily, self.target, rows).tolist()
        fit["har_floor"] = HAR_FLOOR_FRACTION * float(np.mean(self.target[rows]))
        return fit

    def fold_forecasts(self, fold: Fold, origins: np.ndarray) -> dict[str, np.ndarray]:
        """Every volatility baseline's forecasts at ``origins`` of ``fold``."""
        fs = self.settings.features
        h = fs.horizon
        first = max(1, fold.train_first_end - fs.window + 1)
        known_end = fold.train_last_end + h
        span = np.column_stack([self.returns, self.daily])[first : known_end + 1]
        fit_digest = hashlib.sha256(
            span.astype("float32").tobytes() + repr((fs.volatility_estimator, h)).encode()
        ).hexdigest()
        start = fold.start_date(self.table)
        cached = load_fitted(self.cache, start, VOLATILITY_FILE, fit_digest)
        dates = [str(self.table.dates[t]) for t in origins]
        by_date = cached["by_date"]
        missing = stale_forecasts(by_date, origins, dates, self.digests)
        if missing:
            if "params" not in cached:
                cached["params"] = self._fit(fold, first)
            rows = origins[missing]
            values = self._forecasts(cached["params"], rows, first)
            for i, row in zip(missing, values, strict=True):
                by_date[dates[i]] = [self.digests[origins[i]], *map(float, row)]
            if self.cache is not None:
                self.cache.save_forecasts(start, cached, VOLATILITY_FILE)
        values = np.array([by_date[d][1:] for d in dates]).reshape(len(dates), -1)
        return {m: values[:, k] for k, m in enumerate(VOLATILITY_BASELINES)}

    def _forecasts(self, params: dict, rows: np.ndarray, first: int) -> np.ndarray:
        """(rows, baselines) forecasts in VOLATILITY_BASELINES order."""
        h = self.settings.features.horizon
        naive = h * trailing_mean(self.daily, NAIVE_SESSIONS)[rows]
        drift = np.full(len(rows), params["drift"])
        garch = [
            params["level"]
            * garch_forecasts(self.returns[first:], np.asarray(params[m]), m, rows - first, h)
            for m in GARCH_SPECS
        ]
        har = har_design(self.daily)[rows] @ np.asarray(params["har"])
        har = np.maximum(har, params["har_floor"])
        return np.column_stack([naive, drift, *garch, har])
