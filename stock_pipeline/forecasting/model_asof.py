"""The deployed model as of a date d (``lstm_model``): trained (or warm-started) on
windows whose targets are known by d, saved, and its next-session forecast stored."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stock_pipeline.forecasting.bundle import has_bundle, read_meta
from stock_pipeline.forecasting.feature_rows import feature_set_id, load_feature_table
from stock_pipeline.forecasting.features import (
    FeatureTable,
    TrainingDataError,
    rows_needed,
    targets,
)
from stock_pipeline.forecasting.training import TrainedModel, TrainingRows, train_model
from stock_pipeline.market_data.calendar import next_session
from stock_pipeline.settings import Settings
from stock_pipeline.warehouse import Warehouse, results

_ASOF_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def latest_bundle_before(folder: Path, asof: dt.date) -> Path | None:
    """The newest as-of model folder in ``folder`` (a ticker's models) dated before ``asof``."""
    if not folder.exists():
        return None
    earlier = sorted(
        p
        for p in folder.iterdir()
        if _ASOF_DIR.match(p.name) and p.name < asof.isoformat() and has_bundle(p)
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


def check_enough_rows(table: FeatureTable, asof: dt.date, settings: Settings) -> None:
    fs, ms = settings.features, settings.model
    needed = rows_needed(fs.window, fs.horizon, ms.min_train_samples, ms.validation_fraction)
    if len(table) < needed:
        raise TrainingDataError(
            f"{table.ticker} as of {asof}: {len(table)} usable feature rows (after the "
            f"indicator warm-up), need at least {needed} (window {fs.window} + horizon "
            f"{fs.horizon} + {ms.min_train_samples} training windows + validation)"
        )


def training_mode(
    table: FeatureTable, previous: Path | None, settings: Settings
) -> tuple[str, str, dict[str, Any] | None]:
    """("full" | "warm_start", why, the previous bundle's facts when warm-starting)."""
    if previous is None:
        return "full", "no earlier model", None
    meta = read_meta(previous)
    since_full = int(np.sum(table.dates > np.datetime64(meta["full_retrain_asof"], "D")))
    every = settings.model.retrain_every
    if meta["config_hash"] != settings.fingerprint("features", "model"):
        return "full", "configuration changed", None
    if since_full >= every:
        return "full", f"{since_full} sessions since the last full retrain (every {every})", None
    return "warm_start", f"from {previous.name}, {since_full} session(s) since full", meta


def model_facts(settings: Settings, full_asof: str) -> dict[str, Any]:
    """What identifies the as-of model: its configuration and its last full retrain."""
    config_hash = settings.fingerprint("features", "model")
    return {
        "config_hash": config_hash,
        "features": settings.features.model_dump(mode="json"),
        "model": settings.model.model_dump(mode="json"),
        "feature_set": feature_set_id(settings.features),
        "full_retrain_asof": full_asof,
        "model_version": f"lstm-{config_hash}-{full_asof}",
    }


def train_asof(warehouse: Warehouse, ticker: str, asof: dt.date, settings: Settings) -> ModelRun:
    """Train (or warm-start) the model of (ticker, asof), save it, store its forecast.

    The warehouse is opened only to read the features and to write the forecast, not
    while training, so other writers are not locked out for minutes.
    """
    fs = settings.features
    with warehouse.connect(read_only=True) as con:
        table = load_feature_table(con, ticker, asof, fs)
    check_enough_rows(table, asof, settings)
    previous = latest_bundle_before(settings.ticker_models_dir(ticker), asof)
    mode, reason, prev_meta = training_mode(table, previous, settings)
    warm_from = TrainedModel.load(previous) if prev_meta is not None else None
    asof_row = len(table) - 1
    rows = TrainingRows(first_end=fs.window - 1, last_end=asof_row - fs.horizon)
    trained, result = train_model(table, targets(table, fs), rows, settings, warm_from)
    predicted = float(trained.predict(table, np.array([asof_row]), fs.window)[0])
    full_asof = asof.isoformat() if prev_meta is None else prev_meta["full_retrain_asof"]
    trained.meta = {
        "ticker": ticker,
        "asof": asof.isoformat(),
        **model_facts(settings, full_asof),
        "mode": mode,
        "epochs_run": result.epochs_run,
        "best_val_loss": result.best_val_loss,
        "trained_through": table.dates[rows.last_end].item().isoformat(),
    }
    version = trained.meta["model_version"]
    path = trained.save(settings.ticker_models_dir(ticker) / asof.isoformat())
    target_date = next_session(asof, fs.horizon, settings.exchange)
    with warehouse.connect() as con:
        results.upsert_forecast(
            con,
            {
                "ticker": ticker,
                "asof_date": asof,
                "target_date": target_date,
                "target_kind": fs.target,
                "predicted": predicted,
                "model_version": version,
            },
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
        parameter_count=int(trained.net.count_params()),
        target_date=target_date,
        predicted=predicted,
        model_version=version,
        model_path=path,
    )
