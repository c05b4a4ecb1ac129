"""The evaluation stage as of a date d (``walk_forward_evaluation``): walk forward over
the span ending at d, score every model on the same days, store predictions and scores.

In three parts so that the walk-forward can run on a compute engine's workers while the
warehouse stays with the caller: ``load_evaluation`` (read the feature table),
``compute_evaluation`` (pure but for the fold cache on disk: frames out) and
``store_evaluation`` (the one write). ``evaluate_asof`` is the three in turn.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import pandas as pd

from stock_pipeline.evaluation.metrics import Verdict, score, verdict
from stock_pipeline.evaluation.walk_forward import walk_forward
from stock_pipeline.forecasting.feature_rows import load_feature_table
from stock_pipeline.forecasting.features import FeatureTable
from stock_pipeline.forecasting.fold_models import FoldCache
from stock_pipeline.settings import Settings
from stock_pipeline.warehouse import Warehouse, results


@dataclass
class EvaluationRun:
    ticker: str
    asof: dt.date
    metrics: pd.DataFrame
    verdict: Verdict
    folds: int
    folds_trained: int
    folds_reused: int
    predictions: int
    seconds: float  # reading, computing and writing (not time queued on an engine)
    span: tuple[dt.date, dt.date]
    write_seconds: float = 0.0  # of which the warehouse write


@dataclass
class EvaluationJob:
    """What the walk-forward of (ticker, d) needs: all of it picklable."""

    table: FeatureTable
    asof: dt.date
    settings: Settings
    load_seconds: float


@dataclass
class EvaluationFrames:
    """The walk-forward's rows for ``predictions`` and ``evaluation_metrics``."""

    ticker: str
    asof: dt.date
    predictions: pd.DataFrame
    metrics: pd.DataFrame  # as scored (``metrics.score``), without ticker and date
    verdict: Verdict  # at the level ``evaluation.verdict_level``
    folds: int
    folds_trained: int
    folds_reused: int
    span: tuple[dt.date, dt.date]
    seconds: float  # loading and computing


def load_evaluation(
    warehouse: Warehouse, ticker: str, asof: dt.date, settings: Settings
) -> EvaluationJob:
    started = time.perf_counter()
    with warehouse.connect(read_only=True) as con:
        table = load_feature_table(con, ticker, asof, settings.features)
    return EvaluationJob(table, asof, settings, time.perf_counter() - started)


def compute_evaluation(job: EvaluationJob) -> EvaluationFrames:
    """The walk-forward and its scores; reads and writes only the ticker's fold cache."""
    started = time.perf_counter()
    table, settings, ticker = job.table, job.settings, job.table.ticker
    cache = FoldCache(settings.ticker_models_dir(ticker), settings)
    result = walk_forward(table, len(table) - 1, settings, cache)
    frame = result.predictions
    metrics = score(frame, settings.features.target, settings.features.horizon)
    predictions = frame[["date", "fold", "model", "predicted", "actual", "target_date"]].assign(
        ticker=ticker, asof_date=job.asof
    )
    predictions["date"] = predictions["date"].dt.date
    predictions["target_date"] = predictions["target_date"].dt.date
    return EvaluationFrames(
        ticker=ticker,
        asof=job.asof,
        predictions=predictions,
        metrics=metrics,
        verdict=verdict(metrics, ticker, settings.evaluation.verdict_level),
        folds=result.folds,
        folds_trained=result.folds_trained,
        folds_reused=result.folds_reused,
        span=(frame["date"].min().date(), frame["date"].max().date()),
        seconds=job.load_seconds + time.perf_counter() - started,
    )


def store_evaluation(warehouse: Warehouse, frames: EvaluationFrames) -> EvaluationRun:
    """Writes ``predictions`` and ``evaluation_metrics`` of (ticker, d)."""
    started = time.perf_counter()
    ticker, asof, metrics = frames.ticker, frames.asof, frames.metrics
    metric_rows = metrics.assign(ticker=ticker, asof_date=asof)
    metric_rows["fold"] = metric_rows["fold"].astype("Int64")
    with warehouse.connect() as con:
        results.replace_evaluation(con, ticker, asof, frames.predictions, metric_rows)
    written = time.perf_counter() - started
    return EvaluationRun(
        ticker=ticker,
        asof=asof,
        metrics=metrics,
        verdict=frames.verdict,
        folds=frames.folds,
        folds_trained=frames.folds_trained,
        folds_reused=frames.folds_reused,
        predictions=int(frames.predictions["date"].nunique()),  # days scored
        seconds=frames.seconds + written,
        span=frames.span,
        write_seconds=written,
    )


def evaluate_asof(
    warehouse: Warehouse, ticker: str, asof: dt.date, settings: Settings
) -> EvaluationRun:
    """Walk-forward evaluation as of d; writes ``predictions`` and ``evaluation_metrics``."""
    job = load_evaluation(warehouse, ticker, asof, settings)
    return store_evaluation(warehouse, compute_evaluation(job))
