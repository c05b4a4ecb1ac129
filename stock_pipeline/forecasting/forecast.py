"""The deployed model as of a date d (``lstm_model``): the model of the fold holding d
under the one procedure (``folds``), trained if that fold has no model yet, and its
forecast for the next session(s), stored in ``forecasts``. As the evaluation stage, in
three parts (``load_forecast``, ``compute_forecast`` on any engine, ``store_forecast``).

It is the same fold model, with the same scalers, that the walk-forward evaluation uses
for d, so once d's outcome is known the walk-forward's prediction for d is this forecast.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stock_pipeline.forecasting.feature_rows import load_feature_table
from stock_pipeline.forecasting.features import FeatureTable, TrainingDataError
from stock_pipeline.forecasting.fold_models import FoldCache, Forecaster
from stock_pipeline.forecasting.folds import first_origin
from stock_pipeline.market_data.calendar import next_session
from stock_pipeline.market_data.indicators import WARMUP_BARS
from stock_pipeline.settings import Settings
from stock_pipeline.warehouse import Warehouse, results


@dataclass
class ModelRun:
    ticker: str
    asof: dt.date
    mode: str  # "trained" (the fold's model was trained now) or "cached"
    fold_start: str  # the first session of the fold holding the as-of date
    trained_through: str  # the last training window's end date
    epochs_run: int
    best_val_loss: float
    train_seconds: float
    samples_per_second: float
    parameter_count: int
    shrink: float  # the fold's shrink factor (model.shrinkage; 1.0 when none)
    target_date: dt.date
    predicted: float
    model_version: str
    model_path: Path
    replaced: str = ""  # the stored forecast of (ticker, asof) this one replaced, if any


@dataclass
class ForecastJob:
    """What the forecast of (ticker, d) needs: all of it picklable."""

    table: FeatureTable
    asof: dt.date
    settings: Settings


@dataclass
class ForecastOutput:
    """The forecast of (ticker, d), its ``forecasts`` row, and its fold model's facts."""

    row: dict[str, Any]
    run: ModelRun


def load_forecast(
    warehouse: Warehouse, ticker: str, asof: dt.date, settings: Settings
) -> ForecastJob:
    with warehouse.connect(read_only=True) as con:
        table = load_feature_table(con, ticker, asof, settings.features)
    return ForecastJob(table, asof, settings)


def compute_forecast(job: ForecastJob) -> ForecastOutput:
    """The fold's model (trained if the fold has none yet) and its forecast at d; reads
    and writes only the ticker's fold cache."""
    table, asof, settings, ticker = job.table, job.asof, job.settings, job.table.ticker
    fs = settings.features
    asof_row = len(table) - 1
    if asof_row < first_origin(settings):
        need = first_origin(settings) + 1
        raise TrainingDataError(
            f"{ticker} as of {asof}: {len(table)} usable feature rows (after the indicator "
            f"warm-up), need at least {need} (window {fs.window}, horizon {fs.horizon}, "
            f"{settings.model.min_train_samples} training windows, validation and embargo): "
            f"about {need + WARMUP_BARS - 10} sessions of history; materialize the data from "
            f"an earlier --start"
        )
    cache = FoldCache(settings.ticker_models_dir(ticker), settings)
    forecaster = Forecaster(table, settings, cache)
    run = forecaster.forecast(np.array([asof_row]))
    predicted = float(run.values[0])
    (fold,) = run.folds
    start = fold.start_date(table)
    facts = forecaster.fold_facts(start, run)
    # an ensemble has no model of its own: its members' folders are beside each other
    folder = cache.folder.parent if forecaster.members else cache.path(start)
    target_date = next_session(asof, fs.horizon, settings.exchange)
    kind = settings.model.kind
    version = f"{kind}-{cache.folder.name}-{start}-{facts['inputs_digest'][:8]}"
    row = {
        "ticker": ticker,
        "asof_date": asof,
        "target_date": target_date,
        "target_kind": fs.target,
        "predicted": predicted,
        "model_version": version,
    }
    return ForecastOutput(
        row,
        ModelRun(
            ticker=ticker,
            asof=asof,
            mode="trained" if run.trained else "cached",
            fold_start=start,
            trained_through=facts["trained_through"],
            epochs_run=facts["epochs_run"],
            best_val_loss=facts["best_val_loss"],
            train_seconds=facts["train_seconds"] if run.trained else 0.0,
            samples_per_second=facts["samples_per_second"],
            parameter_count=facts.get("parameter_count", 0),
            shrink=float(facts.get("shrink", 1.0)),
            target_date=target_date,
            predicted=predicted,
            model_version=version,
            model_path=folder,
        ),
    )


def store_forecast(warehouse: Warehouse, output: ForecastOutput) -> ModelRun:
    """Writes the ``forecasts`` row of (ticker, d); a different forecast stored for it
    before is kept in ``forecast_history`` and named in ``ModelRun.replaced``."""
    with warehouse.connect() as con:
        old = results.upsert_forecast(con, output.row)
    if old is not None:
        output.run.replaced = replaced_text(output.row, old)
    return output.run


def replaced_text(new: dict[str, Any], old: dict[str, Any]) -> str:
    """'replaced the forecast made on <asof> (for <target>): <old> -> <new>'."""
    text = (
        f"replaced the forecast made on {new['asof_date']} (for {old['target_date']}): "
        f"{old['predicted']:.6g} -> {new['predicted']:.6g}"
    )
    if old["model_version"] != new["model_version"]:
        text += f" (model {old['model_version']} -> {new['model_version']})"
    return text


def forecast_asof(warehouse: Warehouse, ticker: str, asof: dt.date, settings: Settings) -> ModelRun:
    """The forecast made at the close of ``asof`` by its fold's model; stored in ``forecasts``.

    The warehouse is opened only to read the features and to write the forecast, not
    while training, so other writers are not locked out for minutes.
    """
    job = load_forecast(warehouse, ticker, asof, settings)
    return store_forecast(warehouse, compute_forecast(job))
