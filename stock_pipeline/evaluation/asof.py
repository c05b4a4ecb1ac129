"""The evaluation stage as of a date d (``walk_forward_evaluation``): walk forward over
the span ending at d, score every model on the same days, store predictions and scores."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import pandas as pd

from stock_pipeline.evaluation.metrics import Verdict, models_for, score, verdict
from stock_pipeline.evaluation.walk_forward import walk_forward
from stock_pipeline.forecasting.feature_rows import load_feature_table
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
    seconds: float
    span: tuple[dt.date, dt.date]


def evaluate_asof(
    warehouse: Warehouse, ticker: str, asof: dt.date, settings: Settings
) -> EvaluationRun:
    """Walk-forward evaluation as of d; writes ``predictions`` and ``evaluation_metrics``."""
    started = time.perf_counter()
    with warehouse.connect(read_only=True) as con:
        table = load_feature_table(con, ticker, asof, settings.features)
    cache = FoldCache(settings.ticker_models_dir(ticker), settings)
    result = walk_forward(table, len(table) - 1, settings, cache)
    frame = result.predictions
    metrics = score(frame, settings.features.target, settings.features.horizon)
    predictions = frame[["date", "fold", "model", "predicted", "actual", "target_date"]].assign(
        ticker=ticker, asof_date=asof
    )
    predictions["date"] = predictions["date"].dt.date
    predictions["target_date"] = predictions["target_date"].dt.date
    metric_rows = metrics.assign(ticker=ticker, asof_date=asof)
    metric_rows["fold"] = metric_rows["fold"].astype("Int64")
    with warehouse.connect() as con:
        results.replace_evaluation(con, ticker, asof, predictions, metric_rows)
    return EvaluationRun(
        ticker=ticker,
        asof=asof,
        metrics=metrics,
        verdict=verdict(metrics, ticker),
        folds=result.folds,
        folds_trained=result.folds_trained,
        folds_reused=result.folds_reused,
        predictions=len(frame) // len(models_for(settings.features.target)),
        seconds=time.perf_counter() - started,
        span=(frame["date"].min().date(), frame["date"].max().date()),
    )
