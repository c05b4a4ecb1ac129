"""Daily variance estimators and the realized variance of the ``volatility`` target.

The label of row t is the realized variance over t+1..t+h: the sum of h daily variance
estimates, each known at the close of its own day, so it is known on t+h exactly as a
return target is. No keras here.

Daily estimators (``features.volatility_estimator``), for day t:
- squared_return: r_t^2, the squared close-to-close log return of adj_close;
- parkinson: ln(H/L)^2 / (4 ln 2), from the day's high and low;
- garman_klass: 0.5 ln(H/L)^2 - (2 ln 2 - 1) ln(C/O)^2.
The range-based ones measure the open-to-close session only (the overnight gap is not in
them) and are scale-free within a day, so a split or dividend adjustment applied to the
whole bar leaves them unchanged.
"""

from __future__ import annotations

import math

import numpy as np

ESTIMATORS = ("squared_return", "parkinson", "garman_klass")

#: Trailing sessions of the naive volatility forecast ("historical variance", one month).
NAIVE_SESSIONS = 21

#: A variance label below this fraction of the training span's mean is raised to it before
#: its log is taken: a day with a zero return has a zero squared return, whose log would be
#: -inf. 1e-4 of the mean is ~3.6 standard deviations of log(chi2_1) below its mean, so it
#: touches only days that are (almost) exactly flat.
LOG_FLOOR_FRACTION = 1e-4


def daily_variance(log_return: np.ndarray, ohlc: np.ndarray | None, estimator: str) -> np.ndarray:
    """One variance estimate per row, known at that row's close.

    ``ohlc``: (rows, 4) open, high, low, close (range-based estimators only).
    """
    if estimator == "squared_return":
        return np.asarray(log_return, float) ** 2
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown volatility estimator {estimator!r}; known: {ESTIMATORS}")
    if ohlc is None:
        raise ValueError(f"the {estimator} estimator needs open/high/low/close in the table")
    o, hi, lo, c = (np.asarray(ohlc[:, k], float) for k in range(4))
    hl = np.log(hi / lo) ** 2
    if estimator == "parkinson":
        return hl / (4 * math.log(2))
    return 0.5 * hl - (2 * math.log(2) - 1) * np.log(c / o) ** 2


def realized_variance(daily: np.ndarray, horizon: int) -> np.ndarray:
    """sum(daily[t+1 .. t+h]) for each row t (NaN where t + h is past the end)."""
    out = np.full(len(daily), np.nan)
    if len(daily) > horizon:
        csum = np.concatenate([[0.0], np.cumsum(daily)])
        t = np.arange(len(daily) - horizon)
        out[: len(t)] = csum[t + horizon + 1] - csum[t + 1]
    return out


def trailing_mean(daily: np.ndarray, sessions: int) -> np.ndarray:
    """mean(daily[t-sessions+1 .. t]) for each row t (fewer rows at the start)."""
    csum = np.concatenate([[0.0], np.cumsum(daily)])
    t = np.arange(len(daily))
    first = np.maximum(t - sessions + 1, 0)
    return (csum[t + 1] - csum[first]) / (t + 1 - first)
