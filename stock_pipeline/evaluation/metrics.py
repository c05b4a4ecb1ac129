"""Scoring the walk-forward's predictions and the plain-words verdict against naive (and,
for a volatility target, against GARCH(1,1): ``volatility_scores``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from stock_pipeline.evaluation import scoring
from stock_pipeline.evaluation.volatility_scores import VOLATILITY_MODELS, score_volatility
from stock_pipeline.forecasting.targets import TARGETS, Target
from stock_pipeline.forecasting.variance import NAIVE_SESSIONS

#: The models of the return, price and direction targets.
MODELS = ("lstm", "naive", "drift", "arima")

#: The models scored for a target, by what it measures (``Target.measures``): a
#: volatility target has its own baselines.
MODELS_BY_MEASURE: dict[str, tuple[str, ...]] = {"return": MODELS, "variance": VOLATILITY_MODELS}


def models_for(target: str) -> tuple[str, ...]:
    """The models scored for ``target`` (``features.target``)."""
    return MODELS_BY_MEASURE[TARGETS[target].measures]


#: Why a Diebold-Mariano test is undefined, stored as the metric ``dm_undefined``.
DM_UNDEFINED = {
    1.0: "too few forecast days",
    2.0: "the LSTM's squared error equals naive's on every day",
    3.0: "the long-run variance of the loss differential is not positive",
}


def _model_scores(part: pd.DataFrame, naive_rmse: float, target: Target) -> dict[str, float]:
    """Every score of one model's predictions (``part``); skill is against naive's RMSE."""
    model = str(part["model"].iloc[0])
    pred_ret, actual_ret = target.implied_return(part)
    values: dict[str, float] = {}
    # a probability has no error in the target's units; its baselines' returns have
    level_ok = not (target.forecasts_probability and model == "lstm")
    if level_ok:
        p, a = part["predicted"].to_numpy(), part["actual"].to_numpy()
        if target.forecasts_probability:  # baselines: score their return forecasts
            p, a = pred_ret, actual_ret
        values["rmse"] = scoring.rmse(p, a)
        values["mae"] = scoring.mae(p, a)
        price_pred = target.implied_price(part, pred_ret)
        values["mape"], _ = scoring.mape(price_pred, part["actual_price"].to_numpy())
        if not target.forecasts_probability:
            values["skill"] = 1 - values["rmse"] / naive_rmse if naive_rmse else math.nan
            # days the model forecast no change, as naive does (a fold shrunk to zero)
            values["naive_day_share"] = float(np.mean(pred_ret == 0))
    acc = scoring.direction_accuracy(pred_ret, actual_ret)
    lo, hi = scoring.wilson_interval(round(acc * len(part)), len(part))
    values.update(direction_accuracy=acc, direction_ci_low=lo, direction_ci_high=hi)
    if "reference_up" in part:
        # naive's direction figure is "always not up" (a zero return is not up); the
        # reference to beat is always betting the training span's majority direction
        reference = part["reference_up"].to_numpy(bool)
        values["direction_reference"] = float(np.mean((actual_ret > 0) == reference))
    values["n"] = float(len(part))
    return values


def score(frame: pd.DataFrame, target_name: str, horizon: int) -> pd.DataFrame:
    """Metrics per model, overall (fold NaN) and per fold: columns model, fold, metric, value.

    The LSTM's overall row also carries the Diebold-Mariano test against naive. A target
    that measures a variance is scored by ``volatility_scores``.
    """
    target = TARGETS[target_name]
    if target.measures == "variance":
        return score_volatility(frame, horizon)
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
            values = _model_scores(part, naive_rmse, target)
            if m == "lstm" and fold is None and "skill" in values:
                dm = scoring.diebold_mariano(
                    part["predicted"].to_numpy() - part["actual"].to_numpy(),
                    naive["predicted"].to_numpy() - naive["actual"].to_numpy(),
                    horizon,
                )
                values.update(dm_stat=dm.statistic, dm_pvalue=dm.pvalue)
                if dm.reason:
                    values["dm_undefined"] = _dm_code(dm.reason, dm.n)
            rows.extend(
                {"model": m, "fold": fold, "metric": k, "value": v} for k, v in values.items()
            )
    return pd.DataFrame(rows)


def _dm_code(reason: str, n: int) -> float:
    if n < 2:
        return 1.0
    return 2.0 if "every day" in reason else 3.0


@dataclass(frozen=True)
class Verdict:
    beats_naive: bool
    significant: bool
    skill: float
    dm_stat: float
    dm_pvalue: float
    text: str
    beats_garch: bool | None = None  # volatility: significantly lower QLIKE than GARCH(1,1)


def verdict(metrics: pd.DataFrame, ticker: str, alpha: float = 0.05) -> Verdict:
    """The LSTM against naive in one plain sentence, from its overall scores."""
    overall = metrics[(metrics["model"] == "lstm") & metrics["fold"].isna()]
    get = dict(zip(overall["metric"], overall["value"], strict=True))
    if "qlike" in get:
        return _volatility_verdict(metrics, get, ticker, alpha)
    if "skill" not in get:
        return _direction_verdict(get, ticker)
    skill, stat, p = (get["skill"], get.get("dm_stat", math.nan), get.get("dm_pvalue", math.nan))
    beats = bool(stat < 0) if math.isfinite(stat) else False
    significant = bool(p < alpha) if math.isfinite(p) else False
    measured = f"skill {skill:+.2%}, DM {stat:.2f}, p={p:.3g}"
    if not math.isfinite(p) and get.get("naive_day_share") == 1.0:
        # every fold was shrunk to zero (model.shrinkage): the LSTM declined to forecast
        text = (
            f"{ticker}: LSTM made the naive forecast (no change) on every day: no fold's "
            f"validation tail showed a signal; skill {skill:+.2%}, no DM test"
        )
    elif not math.isfinite(p):
        why = DM_UNDEFINED.get(get.get("dm_undefined", 1.0), DM_UNDEFINED[1.0])
        text = f"{ticker}: no DM test against the naive forecast ({why}); skill {skill:+.2%}"
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


def _direction_verdict(get: dict, ticker: str) -> Verdict:
    """A direction forecast (a probability) has no squared-error loss to compare with
    naive's; it is judged by its hit rate against the majority-direction reference."""
    acc, ref = get.get("direction_accuracy", math.nan), get.get("direction_reference", math.nan)
    lo, hi = get.get("direction_ci_low", math.nan), get.get("direction_ci_high", math.nan)
    beats = bool(acc > ref)
    significant = bool(lo > ref)
    measured = (
        f"hit rate {acc:.1%} (95% CI {lo:.1%}-{hi:.1%}) against {ref:.1%} for always betting "
        "the training span's majority direction"
    )
    if beats and significant:
        outcome = "BEAT the majority-direction reference"
    elif beats:
        outcome = "did not significantly beat the majority-direction reference"
    else:
        outcome = "LOST to the majority-direction reference"
    text = f"{ticker}: LSTM direction forecasts {outcome} ({measured})"
    return Verdict(beats, significant, math.nan, math.nan, math.nan, text)


def _volatility_verdict(metrics: pd.DataFrame, get: dict, ticker: str, alpha: float) -> Verdict:
    """Whether the LSTM's variance forecasts beat GARCH(1,1) (and naive) on QLIKE."""
    overall = metrics[metrics["fold"].isna() & (metrics["metric"] == "qlike")]
    qlike = dict(zip(overall["model"], overall["value"], strict=True))
    mine = get["qlike"]

    def against(name: str, prefix: str) -> tuple[bool, bool, str]:
        stat, p = get.get(f"{prefix}stat_qlike", math.nan), get.get(f"{prefix}pvalue_qlike")
        p = math.nan if p is None else p
        better = bool(stat < 0) if math.isfinite(stat) else False
        significant = bool(p < alpha) if math.isfinite(p) else False
        theirs = qlike.get(name, math.nan)
        return better, significant, f"QLIKE {mine:.4g} vs {theirs:.4g}, DM p={p:.3g}"

    better, significant, measured = against("garch", "dm_vs_garch_")
    if better and significant:
        outcome = "BEAT GARCH(1,1)"
    elif better:  # a lower QLIKE, within what chance gives
        outcome = "did not significantly beat GARCH(1,1)"
    elif not significant:
        outcome = "did not beat GARCH(1,1)"
    else:
        outcome = "LOST to GARCH(1,1)"
    naive_better, naive_significant, naive_measured = against("naive", "dm_")
    text = (
        f"{ticker}: volatility: LSTM {outcome} ({measured}); against the naive "
        f"{NAIVE_SESSIONS}-session historical variance: {naive_measured}"
    )
    return Verdict(
        naive_better,
        naive_significant,
        get.get("skill", math.nan),
        get.get("dm_stat", math.nan),
        get.get("dm_pvalue", math.nan),
        text,
        beats_garch=better and significant,
    )
