"""Walk-forward evaluation of the LSTM against naive, drift and ARIMA baselines. No Dagster.

Each fold on the grid (``folds``) gets a model trained by the one training step
(``forecasting.training.train_model``) on the windows known before the fold starts, and
predicts the fold's origins; the baselines are fitted on the same rows. Fold models and
their predictions are cached on disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from stock_pipeline.evaluation.baselines import baseline_predictions
from stock_pipeline.evaluation.folds import Fold, FoldCache, first_origin, fold_schedule
from stock_pipeline.evaluation.metrics import MODELS
from stock_pipeline.forecasting.features import FeatureTable, TrainingDataError, targets
from stock_pipeline.settings import Settings


@dataclass
class FoldOutput:
    fold: Fold
    origins: np.ndarray  # row indices
    predictions: dict[str, np.ndarray]  # model -> prediction in target units
    trained: bool  # False when reused from the cache


@dataclass
class WalkForwardResult:
    ticker: str
    predictions: pd.DataFrame  # origin_date, fold, model, predicted, actual (+ helper columns)
    folds: list[Fold]
    folds_trained: int
    folds_reused: int


@dataclass
class _Run:
    """What every fold of one walk-forward shares."""

    table: FeatureTable
    target: np.ndarray
    returns: np.ndarray
    last_origin: int
    settings: Settings
    cache: FoldCache | None


def walk_forward(
    table: FeatureTable, asof_row: int, settings: Settings, cache: FoldCache | None = None
) -> WalkForwardResult:
    fs = settings.features
    folds, warmup = fold_schedule(len(table), asof_row, settings)
    if not folds:
        needed = first_origin(settings) + fs.horizon + 1
        raise TrainingDataError(
            f"{table.ticker}: {asof_row + 1} usable feature rows up to the as-of date, need at "
            f"least {needed} for one walk-forward fold"
        )
    returns = table.log_return.copy()
    returns[0] = 0.0 if not np.isfinite(returns[0]) else returns[0]
    run = _Run(table, targets(table, fs), returns, asof_row - fs.horizon, settings, cache)
    previous: Any = None  # the last fold's TrainedModel, or its cache key (loaded lazily)
    outputs: list[FoldOutput] = []
    trained = reused = 0
    for i, fold in enumerate(folds):
        report = i >= warmup
        out, previous = _run_fold(run, fold, report, previous)
        trained += out.trained
        reused += not out.trained
        if report:
            outputs.append(out)
    return WalkForwardResult(
        ticker=table.ticker,
        predictions=_prediction_frame(run, outputs),
        folds=[o.fold for o in outputs],
        folds_trained=trained,
        folds_reused=reused,
    )


def _run_fold(run: _Run, fold: Fold, report: bool, previous: Any) -> tuple[FoldOutput, Any]:
    """One fold: reuse what the cache holds, else train; returns what the next fold
    may warm-start from (a model, or the cache key to load it from)."""
    table, settings, cache = run.table, run.settings, run.cache
    key = str(table.dates[first_origin(settings) + fold.index * settings.evaluation.retrain_every])
    origins = np.arange(fold.start_row, min(fold.end_row, run.last_origin + 1))
    cached = cache.load(key) if cache else None
    complete = fold.end_row - 1 <= run.last_origin
    if cached is not None and (not report or cached.get("complete")):
        # A warm-up fold only lends its model to the next fold (loaded lazily); a complete
        # fold's predictions are final, so no model is needed at all.
        rows = np.asarray(cached["origins"], int)
        keep = np.isin(rows, origins)
        preds = {m: np.asarray(cached["predictions"][m], float)[keep] for m in MODELS}
        return FoldOutput(fold, rows[keep], preds, False), key
    if cached is not None:
        model, was_trained = cache.load_model(key), False
    else:
        model, was_trained = _train_fold(run, fold, previous), True
    preds = {"lstm": model.predict(table, origins, settings.features.window)}
    preds.update(baseline_predictions(table, run.returns, fold, origins, settings))
    if cache is not None and (was_trained or complete):
        model.meta = {
            "complete": complete,
            "origins": origins.tolist(),
            "predictions": {m: np.asarray(p, float).tolist() for m, p in preds.items()},
            "train_last_end_date": str(table.dates[fold.train_last_end]),
        }
        cache.save(key, model)
    return FoldOutput(fold, origins, preds, was_trained), model


def _train_fold(run: _Run, fold: Fold, previous: Any):
    """Train the fold's model: from scratch on a full-retrain fold (or with nothing to
    start from), else fine-tuned from the previous fold's model."""
    from stock_pipeline.forecasting.training import TrainingRows, train_model

    if isinstance(previous, str) and not fold.full_retrain and run.cache is not None:
        previous = run.cache.load_model(previous)
    warm_from = None if fold.full_retrain or isinstance(previous, str) else previous
    rows = TrainingRows(fold.train_first_end, fold.train_last_end)
    model, _ = train_model(run.table, run.target, rows, run.settings, warm_from)
    return model


def _prediction_frame(run: _Run, outputs: list[FoldOutput]) -> pd.DataFrame:
    table, h = run.table, run.settings.features.horizon
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
                        "actual": run.target[out.origins],
                        "close": table.adj_close[out.origins],
                        "actual_price": table.adj_close[out.origins + h],
                    }
                )
            )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
