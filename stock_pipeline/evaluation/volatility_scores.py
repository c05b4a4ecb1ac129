"""Scores of the ``volatility`` target: QLIKE and squared error on the variance, and
Diebold-Mariano tests of the LSTM against naive and against GARCH(1,1) on both.

Conventions (stored in ``evaluation_metrics`` like every other score):
- qlike: mean of a/f - log(a/f) - 1 over days, a the realized and f the forecast
  variance (0 for a perfect forecast; robust to noise in the proxy a, Patton 2011). A
  realized variance of exactly 0 (a flat day, h = 1) would make log(a/f) infinite, so a
  is floored at ``QLIKE_FLOOR_FRACTION`` x the mean realized variance of the scored days.
  The floor is the same for every model, and the -log(a) term it enters cancels in the
  difference of two models' losses, so it moves the level, not the comparison;
- mse: mean of (f - a)^2, in squared variance units; rmse its root; mae likewise;
- skill: 1 - qlike_model / qlike_naive (positive: better than the naive forecast);
- dm_{stat,pvalue}_{qlike,mse}: the LSTM against naive; dm_vs_garch_{...}: against
  GARCH(1,1); dm_stat and dm_pvalue repeat the QLIKE test against naive, the figures the
  backtest summary ranks every target by.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from stock_pipeline.evaluation import scoring
from stock_pipeline.evaluation.volatility_baselines import VOLATILITY_BASELINES
from stock_pipeline.warehouse.schema import NETWORK

VOLATILITY_MODELS = (NETWORK, *VOLATILITY_BASELINES)
QLIKE_FLOOR_FRACTION = 1e-4


def qlike_losses(forecast: np.ndarray, actual: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """a/f - log(a/f) - 1 of each day, with a raised to ``floor``."""
    ratio = np.maximum(np.asarray(actual, float), floor) / np.asarray(forecast, float)
    return ratio - np.log(ratio) - 1


def qlike(forecast: np.ndarray, actual: np.ndarray, floor: float = 0.0) -> float:
    return float(np.mean(qlike_losses(forecast, actual, floor)))


def mse(forecast: np.ndarray, actual: np.ndarray) -> float:
    return float(np.mean((np.asarray(forecast, float) - np.asarray(actual, float)) ** 2))


def qlike_floor(actual: np.ndarray) -> float:
    return QLIKE_FLOOR_FRACTION * float(np.mean(actual))


def _scores(part: pd.DataFrame, floor: float) -> dict[str, float]:
    f, a = part["predicted"].to_numpy(float), part["actual"].to_numpy(float)
    values = {"qlike": qlike(f, a, floor), "mse": mse(f, a)}
    values.update(rmse=float(np.sqrt(values["mse"])), mae=float(np.mean(np.abs(f - a))))
    values["n"] = float(len(part))
    return values


def _dm(
    lstm: pd.DataFrame, other: pd.DataFrame, floor: float, horizon: int, prefix: str
) -> dict[str, float]:
    """The LSTM against ``other`` on both losses, as metrics named with ``prefix``."""
    f, a = lstm["predicted"].to_numpy(float), lstm["actual"].to_numpy(float)
    g = other["predicted"].to_numpy(float)
    losses = {
        "qlike": (qlike_losses(f, a, floor), qlike_losses(g, a, floor)),
        "mse": ((f - a) ** 2, (g - a) ** 2),
    }
    out = {}
    for name, (mine, theirs) in losses.items():
        dm = scoring.diebold_mariano_losses(mine, theirs, horizon, name)
        out[f"{prefix}stat_{name}"], out[f"{prefix}pvalue_{name}"] = dm.statistic, dm.pvalue
    return out


def score_volatility(frame: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Metrics per model, overall (fold NaN) and per fold: columns model, fold, metric, value."""
    if frame.empty:
        return pd.DataFrame(columns=["model", "fold", "metric", "value"])
    floor = qlike_floor(frame.loc[frame["model"] == NETWORK, "actual"].to_numpy(float))
    rows: list[dict[str, Any]] = []
    blocks = [(None, frame), *((int(f), sub) for f, sub in frame.groupby("fold"))]
    for fold, sub in blocks:
        parts = {m: sub[sub["model"] == m].sort_values("date") for m in VOLATILITY_MODELS}
        naive_qlike = qlike(parts["naive"]["predicted"], parts["naive"]["actual"], floor)
        for m, part in parts.items():
            if part.empty:
                continue
            values = _scores(part, floor)
            values["skill"] = 1 - values["qlike"] / naive_qlike if naive_qlike else np.nan
            if m == NETWORK and fold is None:
                values.update(_dm(part, parts["naive"], floor, horizon, "dm_"))
                values.update(_dm(part, parts["garch"], floor, horizon, "dm_vs_garch_"))
                values.update(dm_stat=values["dm_stat_qlike"], dm_pvalue=values["dm_pvalue_qlike"])
            rows.extend(
                {"model": m, "fold": fold, "metric": k, "value": v} for k, v in values.items()
            )
    return pd.DataFrame(rows)
