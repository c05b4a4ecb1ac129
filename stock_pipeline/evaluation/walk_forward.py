"""Walk-forward evaluation of the LSTM against naive, drift and ARIMA baselines (for a
volatility target: naive, drift, the GARCH family and HAR-RV). No Dagster.

The origins scored as of d are the last ``span_sessions`` sessions whose outcome is known
by d. Each is forecast by the model of its fold under the one procedure
(``forecasting.folds``), exactly as the deployed model forecast it that night; the
baselines are fitted on the same fold's training rows. Fold models and forecasts come from
the fold cache when their inputs are unchanged, and are computed otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from stock_pipeline.evaluation.baselines import Baselines
from stock_pipeline.evaluation.metrics import models_for
from stock_pipeline.evaluation.volatility_baselines import VolatilityBaselines
from stock_pipeline.forecasting.features import FeatureTable, TrainingDataError
from stock_pipeline.forecasting.fold_models import FoldCache, Forecaster, ForecastRun
from stock_pipeline.forecasting.folds import Fold, first_origin, folds_of_origins, span_origins
from stock_pipeline.forecasting.targets import TARGETS
from stock_pipeline.settings import Settings

#: The baselines a target is walked forward with, by what it measures (``Target.measures``).
BASELINES_BY_MEASURE = {"return": Baselines, "variance": VolatilityBaselines}


@dataclass
class WalkForwardResult:
    ticker: str
    predictions: pd.DataFrame  # date, target_date, fold, model, predicted, actual, prices
    folds: int
    folds_trained: int
    folds_reused: int


def walk_forward(
    table: FeatureTable,
    asof_row: int,
    settings: Settings,
    cache: FoldCache | None = None,
    with_baselines: bool = True,
) -> WalkForwardResult:
    """The network's forecasts (model ``lstm``, whatever ``model.kind``) and, unless
    ``with_baselines`` is false, the baselines' on the same days."""
    origins = span_origins(asof_row, settings)
    if not len(origins):
        needed = first_origin(settings) + settings.features.horizon + 1
        raise TrainingDataError(
            f"{table.ticker}: {asof_row + 1} usable feature rows up to the as-of date, need at "
            f"least {needed} for one walk-forward fold"
        )
    forecaster = Forecaster(table, settings, cache)
    measures = TARGETS[settings.features.target].measures
    baselines = BASELINES_BY_MEASURE[measures](table, settings, cache)
    run = ForecastRun(np.empty(0), [])
    parts = []
    for fold, rows in folds_of_origins(table, origins, settings):
        predicted = {"lstm": forecaster.fold_forecasts(fold, rows, run)}
        if with_baselines:
            predicted.update(baselines.fold_forecasts(fold, rows))
        parts.append(_prediction_frame(forecaster, fold, rows, predicted))
    return WalkForwardResult(
        ticker=table.ticker,
        predictions=pd.concat(parts, ignore_index=True),
        folds=len(run.folds),
        folds_trained=len(run.trained),
        folds_reused=len(run.reused),
    )


def _prediction_frame(
    forecaster: Forecaster, fold: Fold, rows: np.ndarray, predicted: dict[str, np.ndarray]
) -> pd.DataFrame:
    table, fs = forecaster.table, forecaster.settings.features
    h = fs.horizon
    # the honest reference for direction: always the training span's majority direction
    ends = np.arange(fold.train_first_end, fold.train_last_end + 1)
    up_share = float(np.mean(table.adj_close[ends + h] > table.adj_close[ends]))
    common = {
        "date": table.dates[rows].astype("datetime64[ns]"),
        "target_date": table.dates[rows + h].astype("datetime64[ns]"),
        "fold": fold.key,
        "reference_up": up_share >= 0.5,
        "actual": forecaster.target[rows],
        "close": table.adj_close[rows],
        "actual_price": table.adj_close[rows + h],
    }
    return pd.concat(
        [
            pd.DataFrame({**common, "model": m, "predicted": predicted[m]})
            for m in models_for(fs.target)
            if m in predicted
        ],
        ignore_index=True,
    )
