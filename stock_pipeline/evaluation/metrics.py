"""Scoring the walk-forward's predictions and the plain-words verdict against naive."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from stock_pipeline.evaluation import scoring

MODELS = ("lstm", "naive", "drift", "arima")


def implied_return(frame: pd.DataFrame, target_kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(predicted, actual) as h-day log returns, whatever the target kind."""
    if target_kind == "price":
        return (
            np.log(frame["predicted"] / frame["close"]).to_numpy(),
            np.log(frame["actual_price"] / frame["close"]).to_numpy(),
        )
    actual = np.log(frame["actual_price"] / frame["close"]).to_numpy()
    if target_kind == "direction":
        pred = frame["predicted"].to_numpy()
        return (np.where(frame["model"] == "lstm", pred - 0.5, pred), actual)
    return frame["predicted"].to_numpy(), actual


def _model_scores(part: pd.DataFrame, naive_rmse: float, target_kind: str) -> dict[str, float]:
    """Every score of one model's predictions (``part``); skill is against naive's RMSE."""
    model = str(part["model"].iloc[0])
    pred_ret, actual_ret = implied_return(part, target_kind)
    values: dict[str, float] = {}
    level_ok = not (target_kind == "direction" and model == "lstm")
    if level_ok:
        p, a = part["predicted"].to_numpy(), part["actual"].to_numpy()
        if target_kind == "direction":  # baselines: score their return forecasts
            p, a = pred_ret, actual_ret
        values["rmse"] = scoring.rmse(p, a)
        values["mae"] = scoring.mae(p, a)
        price_pred = (
            part["predicted"].to_numpy()
            if target_kind == "price"
            else part["close"].to_numpy() * np.exp(pred_ret)
        )
        values["mape"], _ = scoring.mape(price_pred, part["actual_price"].to_numpy())
        if target_kind != "direction":
            values["skill"] = 1 - values["rmse"] / naive_rmse if naive_rmse else math.nan
    acc = scoring.direction_accuracy(pred_ret, actual_ret)
    lo, hi = scoring.wilson_interval(round(acc * len(part)), len(part))
    values.update(direction_accuracy=acc, direction_ci_low=lo, direction_ci_high=hi)
    values["n"] = float(len(part))
    return values


def score(frame: pd.DataFrame, target_kind: str, horizon: int) -> pd.DataFrame:
    """Metrics per model, overall (fold NaN) and per fold: columns model, fold, metric, value.

    The LSTM's overall row also carries the Diebold-Mariano test against naive.
    """
    if frame.empty:
        return pd.DataFrame(columns=["model", "fold", "metric", "value"])
    rows: list[dict[str, Any]] = []
    blocks = [(None, frame), *((int(f), sub) for f, sub in frame.groupby("fold"))]
    for fold, sub in blocks:
        naive = sub[sub["model"] == "naive"].sort_values("date")
        naive_rmse = scoring.rmse(naive["predicted"].to_numpy(), naive["actual"].to_numpy())
        for m in MODELS:
            part = sub[sub["model"] == m].sort_values("date")
            if part.empty:
                continue
            values = _model_scores(part, naive_rmse, target_kind)
            if m == "lstm" and fold is None and "skill" in values:
                dm = scoring.diebold_mariano(
                    part["predicted"].to_numpy() - part["actual"].to_numpy(),
                    naive["predicted"].to_numpy() - naive["actual"].to_numpy(),
                    horizon,
                )
                values.update(dm_stat=dm.statistic, dm_pvalue=dm.pvalue)
            rows.extend(
                {"model": m, "fold": fold, "metric": k, "value": v} for k, v in values.items()
            )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Verdict:
    beats_naive: bool
    significant: bool
    skill: float
    dm_stat: float
    dm_pvalue: float
    text: str


def verdict(metrics: pd.DataFrame, ticker: str, alpha: float = 0.05) -> Verdict:
    overall = metrics[(metrics["model"] == "lstm") & metrics["fold"].isna()]
    get = dict(zip(overall["metric"], overall["value"], strict=True))
    skill, stat, p = (
        get.get("skill", math.nan),
        get.get("dm_stat", math.nan),
        get.get("dm_pvalue", math.nan),
    )
    beats = bool(stat < 0) if math.isfinite(stat) else False
    significant = bool(p < alpha) if math.isfinite(p) else False
    measured = f"skill {skill:+.2%}, DM {stat:.2f}, p={p:.3g}"
    if not math.isfinite(p):
        text = f"{ticker}: no DM test (target kind without a squared-error loss)"
    elif beats and significant:
        text = f"{ticker}: LSTM BEAT the naive forecast ({measured})"
    elif beats:
        text = f"{ticker}: LSTM did not significantly beat the naive forecast ({measured})"
    else:
        text = (
            f"{ticker}: LSTM LOST to the naive forecast "
            f"({measured}{', significant' if significant else ''})"
        )
    return Verdict(beats, significant, skill, stat, p, text)
