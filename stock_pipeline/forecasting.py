"""As-of training and forecasting: the work behind ``windowed_tensors`` and ``lstm_model``.

Plain functions over a DuckDB connection and settings; the Dagster assets only
call them. Every function takes an as-of date d and reads nothing dated after d.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import numpy as np
import pandas as pd

from stock_pipeline import storage
from stock_pipeline.calendar import trading_days
from stock_pipeline.features import (
    FeatureError,
    FeatureTable,
    LabelScaler,
    Scaler,
    build_feature_table,
    fit_label_scaler,
    fit_scaler,
    rows_needed,
    targets,
    training_windows,
    windows,
)
from stock_pipeline.settings import FeatureSettings, Settings


def feature_set_id(features: FeatureSettings) -> str:
    """Stored feature rows depend on the columns only (window/target are applied later)."""
    return Settings(features=FeatureSettings(columns=features.columns)).fingerprint("features")


@dataclass
class FeatureRowsResult:
    ticker: str
    asof: dt.date
    feature_set: str
    rows_total: int
    rows_new: int
    bytes_stored: int
    first_date: dt.date
    windows_available: int


def update_feature_rows(
    con: duckdb.DuckDBPyConnection, ticker: str, asof: dt.date, features: FeatureSettings
) -> FeatureRowsResult:
    """Compute the ticker's feature rows up to ``asof`` and store the ones not yet stored.

    Rows are causal, so rows already stored never change; only windows' *spec* is kept
    (window length, horizon, target), and windows are built as views when training.
    """
    joined = storage.read_joined(con, ticker, end=asof)
    if joined.empty or joined["date"].iloc[-1].date() != asof:
        last = joined["date"].iloc[-1].date() if not joined.empty else None
        raise FeatureError(
            f"{ticker}: no indicator row on {asof} (latest: {last}); materialize "
            "raw_ohlcv and indicators for that date first"
        )
    table = build_feature_table(ticker, joined, features, asof)
    fs = feature_set_id(features)
    con.execute(
        "INSERT OR REPLACE INTO feature_sets VALUES (?, ?, ?, ?, ?)",
        [fs, list(features.columns), features.window, features.horizon, features.target],
    ).fetchall()
    stored = con.execute(
        "SELECT max(date) FROM features WHERE ticker = ? AND feature_set = ?", [ticker, fs]
    ).fetchall()[0][0]
    start = (
        0
        if stored is None
        else int(np.searchsorted(table.dates, np.datetime64(stored, "D"), "right"))
    )
    new_dates = [d.item() for d in table.dates[start:]]
    storage.upsert_features(con, ticker, fs, new_dates, table.values[start:])
    return FeatureRowsResult(
        ticker=ticker,
        asof=asof,
        feature_set=fs,
        rows_total=len(table),
        rows_new=len(new_dates),
        bytes_stored=int(table.values[start:].nbytes),
        first_date=table.dates[0].item(),
        windows_available=max(len(table) - features.window + 1, 0),
    )


def load_feature_table(
    con: duckdb.DuckDBPyConnection, ticker: str, asof: dt.date, features: FeatureSettings
) -> FeatureTable:
    frame = storage.read_features(con, ticker, feature_set_id(features), asof)
    if frame.empty or frame["date"].iloc[-1].date() != asof:
        raise FeatureError(
            f"{ticker}: no feature row on {asof}; materialize windowed_tensors for that date first"
        )
    return FeatureTable(
        ticker=ticker,
        dates=frame["date"].to_numpy().astype("datetime64[D]"),
        values=np.vstack(frame["x"].to_numpy()).astype("float64"),
        columns=tuple(features.columns),
        log_return=frame["log_return"].to_numpy(dtype="float64"),
        adj_close=frame["adj_close"].to_numpy(dtype="float64"),
    )


def next_session(day: dt.date, steps: int, exchange: str = "XNYS") -> dt.date:
    return trading_days(
        day + dt.timedelta(days=1), day + dt.timedelta(days=7 * steps + 14), exchange
    )[steps - 1]


def ticker_dir(models_dir: Path, ticker: str) -> Path:
    return models_dir / quote(ticker, safe="")


_ASOF_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def latest_bundle_before(models_dir: Path, ticker: str, asof: dt.date) -> Path | None:
    folder = ticker_dir(models_dir, ticker)
    if not folder.exists():
        return None
    earlier = sorted(
        p
        for p in folder.iterdir()
        if _ASOF_DIR.match(p.name) and p.name < asof.isoformat() and (p / "bundle.json").exists()
    )
    return earlier[-1] if earlier else None


@dataclass
class ModelRun:
    ticker: str
    asof: dt.date
    mode: str  # "full" or "warm_start"
    reason: str
    epochs_run: int
    best_val_loss: float
    train_seconds: float
    samples_per_second: float
    train_samples: int
    parameter_count: int
    target_date: dt.date
    predicted: float
    model_version: str
    model_path: Path
    extra: dict[str, Any] = field(default_factory=dict)


def train_asof(ticker: str, asof: dt.date, settings: Settings) -> ModelRun:
    """Train (or warm-start) the model of (ticker, asof), save it, store its forecast.

    The warehouse is opened only to read the features and to write the forecast, not
    while training, so other writers are not locked out for minutes.
    """
    from stock_pipeline import model as lstm  # keras/JAX only when a model is needed

    fs, ms = settings.features, settings.model
    with storage.connect(settings.warehouse) as con:
        table = load_feature_table(con, ticker, asof, fs)
    asof_row = len(table) - 1
    needed = rows_needed(fs.window, fs.horizon, ms.min_train_samples, ms.validation_fraction)
    if len(table) < needed:
        raise lstm.TrainingDataError(
            f"{ticker} as of {asof}: {len(table)} usable feature rows (after the indicator "
            f"warm-up), need at least {needed} (window {fs.window} + horizon {fs.horizon} + "
            f"{ms.min_train_samples} training windows + validation)"
        )
    config_hash = settings.fingerprint("features", "model")
    previous = latest_bundle_before(settings.models_dir, ticker, asof)
    prev_bundle: dict[str, Any] | None = None
    if previous is not None:
        prev_model, prev_bundle = lstm.load_bundle(previous)
    mode, reason = "full", "no earlier model"
    if prev_bundle is not None:
        full_asof = np.datetime64(prev_bundle["full_retrain_asof"], "D")
        since_full = int(np.sum(table.dates > full_asof))
        if prev_bundle["config_hash"] != config_hash:
            reason = "configuration changed"
        elif since_full >= ms.retrain_every:
            reason = f"{since_full} sessions since the last full retrain (every {ms.retrain_every})"
        else:
            mode, reason = "warm_start", f"from {previous.name}, {since_full} session(s) since full"

    target = targets(table, fs)
    if mode == "full":
        train_rows = asof_row - fs.horizon + 1  # rows whose windows may train the model
        scaler = fit_scaler(table.values[:train_rows])
    else:
        scaler = Scaler.from_dict(prev_bundle["scaler"])
    scaled = scaler.transform(table.values)
    train = training_windows(scaled, target, fs.window, fs.horizon, asof_row)
    close_at_end = table.adj_close[train.end_rows]
    if mode == "full":
        labels = fit_label_scaler(fs.target, train.y, close_at_end)
        net = lstm.build_model(fs.window, len(fs.columns), ms, fs.target)
        x, y, epochs = train.x, labels.to_label(train.y, close_at_end), ms.epochs
    else:
        labels = LabelScaler(**prev_bundle["labels"])
        net = prev_model
        keep = slice(max(len(train.x) - ms.fine_tune_samples, 0), len(train.x))
        x, y = train.x[keep], labels.to_label(train.y[keep], close_at_end[keep])
        epochs = ms.fine_tune_epochs
    result = lstm.fit(net, x, y.astype("float32"), ms, fs.horizon, epochs)

    last_window = windows(scaled, fs.window)[-1:]
    raw = lstm.predict(result.model, last_window.astype("float32"))
    predicted = float(labels.from_label(raw, table.adj_close[-1:])[0])
    target_date = next_session(asof, fs.horizon, settings.exchange)
    full_asof = asof.isoformat() if mode == "full" else prev_bundle["full_retrain_asof"]
    version = f"lstm-{config_hash}-{full_asof}"
    folder = ticker_dir(settings.models_dir, ticker) / asof.isoformat()
    bundle = {
        "ticker": ticker,
        "asof": asof.isoformat(),
        "config_hash": config_hash,
        "features": fs.model_dump(mode="json"),
        "model": ms.model_dump(mode="json"),
        "feature_set": feature_set_id(fs),
        "scaler": scaler.to_dict(),
        "labels": {"kind": labels.kind, "scale": labels.scale},
        "mode": mode,
        "full_retrain_asof": full_asof,
        "epochs_run": result.epochs_run,
        "best_val_loss": result.best_val_loss,
        "trained_through": table.dates[train.end_rows[-1]].item().isoformat(),
        "model_version": version,
    }
    path = lstm.save_bundle(folder, result.model, bundle)
    forecast = {
        "ticker": ticker,
        "asof_date": asof,
        "target_date": target_date,
        "target_kind": fs.target,
        "predicted": predicted,
        "model_version": version,
    }
    with storage.connect(settings.warehouse) as con:
        storage.upsert_frame(
            con, "forecasts", pd.DataFrame([forecast]), ["ticker", "asof_date", "target_kind"]
        )
    return ModelRun(
        ticker=ticker,
        asof=asof,
        mode=mode,
        reason=reason,
        epochs_run=result.epochs_run,
        best_val_loss=result.best_val_loss,
        train_seconds=result.train_seconds,
        samples_per_second=result.samples_per_second,
        train_samples=result.samples,
        parameter_count=lstm.parameter_count(result.model),
        target_date=target_date,
        predicted=predicted,
        model_version=version,
        model_path=path,
    )


@dataclass
class EvaluationRun:
    ticker: str
    asof: dt.date
    metrics: pd.DataFrame
    verdict: Any
    folds: int
    folds_trained: int
    folds_reused: int
    predictions: int
    seconds: float
    span: tuple[dt.date, dt.date]


def evaluate_asof(ticker: str, asof: dt.date, settings: Settings) -> EvaluationRun:
    """Walk-forward evaluation as of d; writes ``predictions`` and ``evaluation_metrics``."""
    import time

    from stock_pipeline import evaluation

    started = time.perf_counter()
    with storage.connect(settings.warehouse) as con:
        table = load_feature_table(con, ticker, asof, settings.features)
    cache = evaluation.FoldCache(
        ticker_dir(settings.models_dir, ticker), evaluation.cache_key_config(settings)
    )
    result = evaluation.walk_forward(table, len(table) - 1, settings, cache)
    frame = result.predictions
    metrics = evaluation.score(frame, settings.features.target, settings.features.horizon)
    outcome = evaluation.verdict(metrics, ticker)
    predictions = frame[["date", "fold", "model", "predicted", "actual", "target_date"]].assign(
        ticker=ticker, asof_date=asof
    )
    predictions["date"] = predictions["date"].dt.date
    predictions["target_date"] = predictions["target_date"].dt.date
    metric_rows = metrics.assign(ticker=ticker, asof_date=asof)
    metric_rows["fold"] = metric_rows["fold"].astype("Int64")
    with storage.connect(settings.warehouse) as con:
        storage.replace_asof(
            con, {"predictions": predictions, "evaluation_metrics": metric_rows}, ticker, asof
        )
    return EvaluationRun(
        ticker=ticker,
        asof=asof,
        metrics=metrics,
        verdict=outcome,
        folds=len(result.folds),
        folds_trained=result.folds_trained,
        folds_reused=result.folds_reused,
        predictions=len(frame) // len(evaluation.MODELS),
        seconds=time.perf_counter() - started,
        span=(frame["date"].min().date(), frame["date"].max().date()),
    )


def summary_lines(settings: Settings, tickers: list[str], asof: dt.date) -> list[str]:
    """One plain line per ticker: the forecast and whether the LSTM beat naive, with p."""
    from stock_pipeline import evaluation

    lines = []
    with storage.connect(settings.warehouse, read_only=True) as con:
        for ticker in tickers:
            fc = con.execute(
                "SELECT target_date, predicted, target_kind FROM forecasts "
                "WHERE ticker = ? AND asof_date = ?",
                [ticker, asof],
            ).fetchall()
            metrics = con.execute(
                "SELECT model, fold, metric, value FROM evaluation_metrics "
                "WHERE ticker = ? AND asof_date = ?",
                [ticker, asof],
            ).df()
            forecast = (
                f"forecast for {fc[0][0]}: {fc[0][1]:+.5f} ({fc[0][2]})" if fc else "no forecast"
            )
            if metrics.empty:
                lines.append(f"{ticker}: {forecast}; not evaluated")
            else:
                lines.append(f"{evaluation.verdict(metrics, ticker).text}; {forecast}")
    return lines
