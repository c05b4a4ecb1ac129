"""Forecast scores and the Diebold-Mariano test, written out from their definitions.

Conventions (the report states them too):
- rmse, mae: in the target's units (log return, or price for a price target);
- mape: percent error of the price implied by the forecast, mean over days whose actual
  price is non-zero (days with a zero price are skipped and counted, never divided by);
- direction: "up" means > 0; a forecast of exactly 0 (the naive forecast) and an actual
  return of exactly 0 both count as "not up", so ties are scored, not dropped;
- direction_ci_low/high: 95% Wilson score interval of the direction accuracy;
- skill: 1 - RMSE_model / RMSE_naive (positive: better than "tomorrow equals today");
- DM: loss differential d_t = e_model^2 - e_naive^2 (negative statistic: model better),
  long-run variance with h-1 autocovariances, Harvey-Leybourne-Newbold correction,
  two-sided p-value from Student's t with n-1 degrees of freedom.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

WILSON_Z = 1.959963984540054  # the 97.5% normal quantile


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    return float(np.sqrt(np.mean((predicted - actual) ** 2)))


def mae(predicted: np.ndarray, actual: np.ndarray) -> float:
    return float(np.mean(np.abs(predicted - actual)))


def mape(predicted_price: np.ndarray, actual_price: np.ndarray) -> tuple[float, int]:
    """(MAPE in percent over non-zero actual prices, number of days skipped)."""
    usable = actual_price != 0
    skipped = int((~usable).sum())
    if not usable.any():
        return float("nan"), skipped
    errors = np.abs(predicted_price[usable] - actual_price[usable]) / np.abs(actual_price[usable])
    return float(100 * errors.mean()), skipped


def direction_accuracy(predicted: np.ndarray, actual: np.ndarray) -> float:
    return float(np.mean((predicted > 0) == (actual > 0)))


def wilson_interval(successes: int, n: int, z: float = WILSON_Z) -> tuple[float, float]:
    if n == 0:
        return float("nan"), float("nan")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


@dataclass(frozen=True)
class DMResult:
    statistic: float
    pvalue: float
    n: int
    mean_loss_differential: float
    reason: str = ""  # why the test is undefined, when it is (statistic and p are NaN)


def diebold_mariano(
    errors_model: np.ndarray, errors_benchmark: np.ndarray, horizon: int = 1
) -> DMResult:
    """DM test of equal squared-error loss with the HLN small-sample correction."""
    return diebold_mariano_losses(
        np.asarray(errors_model, float) ** 2, np.asarray(errors_benchmark, float) ** 2, horizon
    )


def diebold_mariano_losses(
    loss_model: np.ndarray,
    loss_benchmark: np.ndarray,
    horizon: int = 1,
    loss_name: str = "squared error",
) -> DMResult:
    """DM test of equal expected loss on daily losses of any kind (QLIKE, squared error):
    d_t = loss_model_t - loss_benchmark_t, as ``diebold_mariano`` describes."""
    d = np.asarray(loss_model, float) - np.asarray(loss_benchmark, float)
    n = len(d)
    if n < 2:
        return DMResult(math.nan, math.nan, n, math.nan, f"{n} forecast day(s): too few")
    mean = float(d.mean())
    centred = d - mean
    gamma = [float(centred @ centred) / n]
    for k in range(1, horizon):
        gamma.append(float(centred[k:] @ centred[:-k]) / n)
    variance = gamma[0] + 2 * sum(gamma[1:])
    if variance <= 0:
        reason = (
            f"the two forecasts have the same {loss_name} on every day"
            if not np.any(d)
            else "the long-run variance of the loss differential is not positive"
        )
        return DMResult(math.nan, math.nan, n, mean, reason)
    dm = mean / math.sqrt(variance / n)
    correction = math.sqrt((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n)
    statistic = dm * correction
    pvalue = float(2 * stats.t.sf(abs(statistic), df=n - 1))
    return DMResult(statistic, pvalue, n, mean)


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values: the i-th smallest of m times (m - i + 1), made
    non-decreasing in that order, at most 1. Written out because statsmodels'
    ``multipletests(method="holm")`` runs ``gc.collect()`` on every call, which costs
    0.1-1 s in a process that holds a Dagster run or Keras models."""
    p = np.asarray(pvalues, float)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(p[order] * (len(p) - np.arange(len(p))))
    adjusted = np.empty(len(p))
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted
