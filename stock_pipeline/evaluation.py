"""Walk-forward evaluation of the LSTM against naive, drift and ARIMA baselines. No Dagster.

Fold schedule. Prediction origins t (the close at which a forecast of the return
from t to t+h is made) are cut into folds of ``retrain_every`` sessions on a grid
anchored at the first origin with enough training data, so fold boundaries do not
move when history grows and fold models can be cached. A fold's models see only
windows whose labels end at least ``embargo`` (>= h) sessions before its first
origin; scalers and every fitted statistic are fitted on those rows only.

The LSTM of fold k is trained from scratch when k is a multiple of
``full_retrain_every_folds`` and fine-tuned from fold k-1 otherwise, so the result
of a fold depends on the grid only, never on which as-of date computed it first.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stock_pipeline import scoring
from stock_pipeline.features import (
    FeatureTable,
    LabelScaler,
    Scaler,
    fit_label_scaler,
    fit_scaler,
    rows_needed,
    targets,
    windows,
)
from stock_pipeline.settings import Settings

log = logging.getLogger(__name__)

MODELS = ("lstm", "naive", "drift", "arima")
BASELINES = ("naive", "drift", "arima")


@dataclass(frozen=True)
class Fold:
    index: int  # position on the grid (stable as history grows)
    start_row: int  # first prediction origin
    end_row: int  # one past the last origin of a complete fold
    train_first_end: int  # first training window's end row
    train_last_end: int  # last training window's end row
    full_retrain: bool


def embargo_of(settings: Settings) -> int:
    e = settings.evaluation.embargo
    return max(settings.features.horizon, e if e is not None else settings.features.horizon)


def first_origin(settings: Settings) -> int:
    """Grid anchor: the first origin whose fold has the minimum training data."""
    fs, ms = settings.features, settings.model
    need = rows_needed(fs.window, fs.horizon, ms.min_train_samples, ms.validation_fraction)
    # need counts rows up to the last training label; origins follow after the embargo
    return need - 1 + embargo_of(settings)


def fold_schedule(n_rows: int, asof_row: int, settings: Settings) -> tuple[list[Fold], int]:
    """Folds whose origins fall in the evaluation span, and how many folds precede them
    in their warm-start chain (computed, cached, not reported).

    Origins t need a known outcome: t + h <= asof_row.
    """
    es, fs = settings.evaluation, settings.features
    anchor = first_origin(settings)
    last_origin = asof_row - fs.horizon
    if last_origin < anchor:
        return [], 0
    span_start = (
        anchor if es.span_sessions is None else max(anchor, last_origin - es.span_sessions + 1)
    )
    first_k = (span_start - anchor) // es.retrain_every
    last_k = (last_origin - anchor) // es.retrain_every
    chain_k = first_k - first_k % es.full_retrain_every_folds
    folds = []
    for k in range(chain_k, last_k + 1):
        start = anchor + k * es.retrain_every
        train_last_end = start - embargo_of(settings) - fs.horizon
        if es.window_kind == "rolling":
            train_first_end = max(fs.window - 1, train_last_end - es.rolling_sessions + 1)
        else:
            train_first_end = fs.window - 1
        folds.append(
            Fold(
                index=k,
                start_row=max(start, span_start) if k >= first_k else start,
                end_row=start + es.retrain_every,
                train_first_end=train_first_end,
                train_last_end=train_last_end,
                full_retrain=k % es.full_retrain_every_folds == 0,
            )
        )
    return folds, first_k - chain_k


def cache_key_config(settings: Settings) -> str:
    """Everything a fold's models depend on; the span is not (it only picks folds)."""
    ev = settings.evaluation.model_copy(update={"span_sessions": None})
    probe = settings.model_copy(update={"evaluation": ev})
    return probe.fingerprint("features", "model", "evaluation")


@dataclass
class FoldOutput:
    fold: Fold
    origins: np.ndarray  # row indices
    predictions: dict[str, np.ndarray]  # model -> prediction in target units
    trained: bool  # False when reused from the cache


class FoldCache:
    """Fold models and their predictions, keyed by (ticker, fold start date, config hash)."""

    def __init__(self, ticker_dir: Path, config_hash: str):
        self.folder = ticker_dir / "walk_forward" / config_hash

    def path(self, start_date: str) -> Path:
        return self.folder / start_date

    def load(self, start_date: str) -> dict[str, Any] | None:
        meta = self.path(start_date) / "fold.json"
        return json.loads(meta.read_text()) if meta.exists() else None

    def save(self, start_date: str, meta: dict[str, Any], model: Any | None) -> None:
        target = self.path(start_date)
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if model is not None:
            model.save(tmp / "model.keras")
        (tmp / "fold.json").write_text(json.dumps(meta))
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)

    def load_model(self, start_date: str):
        from stock_pipeline import model as lstm

        return lstm.keras.saving.load_model(self.path(start_date) / "model.keras")


@dataclass
class WalkForwardResult:
    ticker: str
    predictions: pd.DataFrame  # origin_date, fold, model, predicted, actual (+ helper columns)
    folds: list[Fold]
    folds_trained: int
    folds_reused: int
    extra: dict[str, Any] = field(default_factory=dict)


def _arima_predictions(
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


def walk_forward(
    table: FeatureTable,
    asof_row: int,
    settings: Settings,
    cache: FoldCache | None = None,
    on_fold: Callable[[FoldOutput], None] | None = None,
) -> WalkForwardResult:
    from stock_pipeline import model as lstm

    fs, ms, es = settings.features, settings.model, settings.evaluation
    h = fs.horizon
    folds, warmup = fold_schedule(len(table), asof_row, settings)
    if not folds:
        needed = first_origin(settings) + h + 1
        raise lstm.TrainingDataError(
            f"{table.ticker}: {asof_row + 1} usable feature rows up to the as-of date, need at "
            f"least {needed} for one walk-forward fold"
        )
    target = targets(table, fs)
    last_origin = asof_row - h
    returns = table.log_return.copy()
    returns[0] = 0.0 if not np.isfinite(returns[0]) else returns[0]
    prev_model = None
    prev_from_cache: str | None = None
    outputs: list[FoldOutput] = []
    trained = reused = 0
    for i, fold in enumerate(folds):
        report = i >= warmup
        grid_start = str(table.dates[first_origin(settings) + fold.index * es.retrain_every])
        origins = np.arange(fold.start_row, min(fold.end_row, last_origin + 1))
        cached = cache.load(grid_start) if cache else None
        complete = fold.end_row - 1 <= last_origin
        if cached is not None and (not report or cached.get("complete")):
            # Reused: a warm-up fold only lends its model to the next fold (loaded lazily);
            # a complete fold's predictions are final, so no model is needed at all.
            if report:
                rows = np.asarray(cached["origins"], int)
                keep = np.isin(rows, origins)
                preds = {m: np.asarray(cached["predictions"][m], float)[keep] for m in MODELS}
                outputs.append(FoldOutput(fold, rows[keep], preds, False))
            reused += 1
            prev_model, prev_from_cache = None, grid_start
            continue
        if cached is not None:
            net = cache.load_model(grid_start)
            scaler = Scaler.from_dict(cached["scaler"])
            labels = LabelScaler(**cached["labels"])
            reused += 1
            was_trained = False
        else:
            first_row = fold.train_first_end - fs.window + 1
            scaler = fit_scaler(table.values[first_row : fold.train_last_end + 1])
            scaled = scaler.transform(table.values)
            x_all = windows(scaled[: fold.train_last_end + 1], fs.window)
            ends = np.arange(fs.window - 1, fold.train_last_end + 1)
            sel = slice(fold.train_first_end - (fs.window - 1), len(ends))
            x, y_raw, ends = x_all[sel], target[ends[sel]], ends[sel]
            labels = fit_label_scaler(fs.target, y_raw, table.adj_close[ends])
            y = labels.to_label(y_raw, table.adj_close[ends]).astype("float32")
            if prev_model is None and prev_from_cache is not None and not fold.full_retrain:
                prev_model = cache.load_model(prev_from_cache) if cache else None
            if fold.full_retrain or prev_model is None:
                net = lstm.build_model(fs.window, len(fs.columns), ms, fs.target)
                lstm.fit(net, x, y, ms, h, ms.epochs)
            else:
                net = prev_model
                tail = slice(max(len(x) - ms.fine_tune_samples, 0), len(x))
                lstm.fit(net, x[tail], y[tail], ms, h, ms.fine_tune_epochs)
            trained += 1
            was_trained = True
        scaled = scaler.transform(table.values)
        all_windows = windows(scaled, fs.window)
        x_pred = all_windows[origins - (fs.window - 1)].astype("float32") if len(origins) else None
        raw = lstm.predict(net, x_pred) if x_pred is not None else np.empty(0)
        close = table.adj_close[origins]
        preds = {"lstm": labels.from_label(raw, close) if len(origins) else raw}
        preds.update(_baselines(table, returns, fold, origins, settings))
        if cache is not None and (was_trained or complete):
            cache.save(
                grid_start,
                {
                    "complete": complete,
                    "origins": origins.tolist(),
                    "predictions": {m: np.asarray(p, float).tolist() for m, p in preds.items()},
                    "scaler": scaler.to_dict(),
                    "labels": {"kind": labels.kind, "scale": labels.scale},
                    "train_last_end_date": str(table.dates[fold.train_last_end]),
                },
                net,
            )
        prev_model, prev_from_cache = net, grid_start
        out = FoldOutput(fold, origins, preds, was_trained)
        if report:
            outputs.append(out)
        if on_fold:
            on_fold(out)
    return WalkForwardResult(
        ticker=table.ticker,
        predictions=_prediction_frame(table, target, outputs, settings),
        folds=[o.fold for o in outputs],
        folds_trained=trained,
        folds_reused=reused,
    )


def _baselines(
    table: FeatureTable, returns: np.ndarray, fold: Fold, origins: np.ndarray, settings: Settings
) -> dict[str, np.ndarray]:
    """Naive, drift and ARIMA forecasts in target units, fitted on the fold's training rows."""
    fs, h = settings.features, settings.features.horizon
    known_end = fold.train_last_end + h  # returns known when the last training label was
    first = max(1, fold.train_first_end - fs.window + 1)
    mu = float(np.mean(returns[first : known_end + 1]))
    arima = _arima_predictions(
        returns[first:], known_end - first, origins - first, settings.evaluation.arima_order, h
    )
    ret = {"naive": np.zeros(len(origins)), "drift": np.full(len(origins), h * mu), "arima": arima}
    close = table.adj_close[origins]
    if fs.target == "price":
        return {m: close * np.exp(r) for m, r in ret.items()}
    return ret


def _prediction_frame(
    table: FeatureTable, target: np.ndarray, outputs: list[FoldOutput], settings: Settings
) -> pd.DataFrame:
    h = settings.features.horizon
    parts = []
    for out in outputs:
        if not len(out.origins):
            continue
        for m in MODELS:
            parts.append(
                pd.DataFrame(
                    {
                        "date": table.dates[out.origins].astype("datetime64[ns]"),
                        "target_date": table.dates[out.origins + h].astype("datetime64[ns]"),
                        "fold": out.fold.index,
                        "model": m,
                        "predicted": out.predictions[m],
                        "actual": target[out.origins],
                        "close": table.adj_close[out.origins],
                        "actual_price": table.adj_close[out.origins + h],
                    }
                )
            )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


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


def score(frame: pd.DataFrame, target_kind: str, horizon: int) -> pd.DataFrame:
    """Metrics per model, overall (fold NaN) and per fold: columns model, fold, metric, value."""
    rows: list[dict[str, Any]] = []

    def block(sub: pd.DataFrame, fold: int | None) -> None:
        naive = sub[sub["model"] == "naive"].sort_values("date")
        naive_rmse = scoring.rmse(naive["predicted"].to_numpy(), naive["actual"].to_numpy())
        for m in MODELS:
            part = sub[sub["model"] == m].sort_values("date")
            if part.empty:
                continue
            pred_ret, actual_ret = implied_return(part, target_kind)
            values: dict[str, float] = {}
            level_ok = not (target_kind == "direction" and m == "lstm")
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
            if m == "lstm" and fold is None and level_ok and target_kind != "direction":
                dm = scoring.diebold_mariano(
                    part["predicted"].to_numpy() - part["actual"].to_numpy(),
                    naive["predicted"].to_numpy() - naive["actual"].to_numpy(),
                    horizon,
                )
                values.update(dm_stat=dm.statistic, dm_pvalue=dm.pvalue)
            rows.extend(
                {"model": m, "fold": fold, "metric": k, "value": v} for k, v in values.items()
            )

    if frame.empty:
        return pd.DataFrame(columns=["model", "fold", "metric", "value"])
    block(frame, None)
    for fold, sub in frame.groupby("fold"):
        block(sub, int(fold))
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
    if not math.isfinite(p):
        text = f"{ticker}: no DM test (target kind without a squared-error loss)"
    elif beats and significant:
        text = (
            f"{ticker}: LSTM BEAT the naive forecast (skill {skill:+.2%}, DM {stat:.2f}, p={p:.3g})"
        )
    elif beats:
        text = (
            f"{ticker}: LSTM did not significantly beat the naive forecast "
            f"(skill {skill:+.2%}, DM {stat:.2f}, p={p:.3g})"
        )
    else:
        text = (
            f"{ticker}: LSTM LOST to the naive forecast (skill {skill:+.2%}, DM {stat:.2f}, "
            f"p={p:.3g}{', significant' if significant else ''})"
        )
    return Verdict(beats, significant, skill, stat, p, text)
