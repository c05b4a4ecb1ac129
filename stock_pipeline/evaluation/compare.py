"""The model comparison as of a date d (``model_comparison``): every configured model kind
walked forward over the same span as the evaluation, with the baselines, tested as one
family against naive (``comparison``), stored in ``model_comparison``. As the evaluation
stage, in three parts (``load_comparison``, ``compute_comparison`` on any engine,
``store_comparison``)."""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from stock_pipeline.evaluation.family_tests import (
    BENCHMARK,
    FamilyResult,
    FamilySettings,
    compare,
    family_verdict,
)
from stock_pipeline.evaluation.volatility_scores import qlike_floor, qlike_losses
from stock_pipeline.evaluation.walk_forward import walk_forward
from stock_pipeline.forecasting.feature_rows import load_feature_table
from stock_pipeline.forecasting.features import FeatureTable
from stock_pipeline.forecasting.fold_models import FoldCache
from stock_pipeline.forecasting.targets import TARGETS
from stock_pipeline.settings import Settings
from stock_pipeline.warehouse import Warehouse, results

#: The per-model columns of ``FamilyResult.table`` stored as metrics (booleans as 0/1).
STORED = ("mean_loss", "skill", "dm_stat", "dm_pvalue", "holm_pvalue", "mcs_pvalue", "in_mcs")
FAMILY = "family"  # the model name of the family-wide rows (spa_pvalue, models_tested)


@dataclass
class ComparisonRun:
    ticker: str
    asof: dt.date
    result: FamilyResult
    verdict: str
    folds_trained: dict[str, int] = field(default_factory=dict)  # per kind
    days: int = 0
    seconds: float = 0.0


def kind_settings(settings: Settings, kind: str) -> Settings:
    """The settings a model kind is walked forward with: the configured ones, that kind."""
    return settings.with_changes(model={"kind": kind})


def family_settings(settings: Settings) -> FamilySettings:
    ev = settings.evaluation
    return FamilySettings(
        alpha=ev.comparison_alpha,
        mcs_size=ev.mcs_size,
        reps=ev.bootstrap_reps,
        seed=settings.model.seed,
        horizon=settings.features.horizon,
        loss=_comparison_loss(settings.features.target),
    )


def comparison_predictions(
    table: FeatureTable, settings: Settings, models_dir
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Forecasts of every kind in ``evaluation.compare_kinds`` and of the baselines on the
    same days (columns date, model, predicted, actual), and the folds each kind trained.

    Each kind has its own fold cache (the kind is part of the cache key). The baselines
    and the kind the evaluation uses come from the evaluation's own cache, so after
    ``walk_forward_evaluation`` they cost a lookup here, not a refit."""
    asof_row, columns = len(table) - 1, ["date", "model", "predicted", "actual"]
    evaluated = walk_forward(table, asof_row, settings, FoldCache(models_dir, settings))
    frame = evaluated.predictions[columns]
    parts, trained = [frame[frame["model"] != "lstm"]], {}
    for kind in settings.evaluation.compare_kinds:
        if kind == settings.model.kind:
            run, network = evaluated, frame[frame["model"] == "lstm"]
        else:
            ks = kind_settings(settings, kind)
            run = walk_forward(table, asof_row, ks, FoldCache(models_dir, ks), False)
            network = run.predictions[columns]
        parts.append(network.assign(model=kind))
        trained[kind] = run.folds_trained
    return pd.concat(parts, ignore_index=True), trained


def squared_errors(predicted: pd.Series, actual: pd.Series) -> pd.Series:
    return (predicted - actual) ** 2


def floored_qlike(predicted: pd.Series, actual: pd.Series) -> np.ndarray:
    """QLIKE, floored as ``evaluation_metrics`` does."""
    floor = qlike_floor(actual.to_numpy(float))
    return qlike_losses(predicted.to_numpy(float), actual.to_numpy(float), floor)


#: The daily loss of each ``Target.comparison_loss``.
DAILY_LOSSES = {"squared_error": squared_errors, "qlike": floored_qlike}


def _comparison_loss(target: str, ticker: str = "") -> str:
    """The target's comparison loss; a ValueError naming the setting if it has none."""
    loss = TARGETS[target].comparison_loss
    if loss is None:
        *most, last = [name for name, t in TARGETS.items() if t.comparison_loss]
        raise ValueError(
            f"{ticker + ': ' if ticker else ''}model_comparison needs a {', '.join(most)} or "
            f"{last} target (features.target is {target}: its forecasts have no loss "
            "comparable with naive's)"
        )
    return loss


def daily_losses(predictions: pd.DataFrame, target: str) -> pd.DataFrame:
    """Daily losses, a column per model, rows by date: the target's comparison loss
    (squared errors in the target's units, or QLIKE for a volatility target)."""
    loss = DAILY_LOSSES[_comparison_loss(target)](predictions["predicted"], predictions["actual"])
    losses = predictions.assign(loss=loss).pivot(index="date", columns="model", values="loss")
    if losses.isna().any().any():
        raise ValueError("models were not scored on the same days; cannot compare them")
    return losses


@dataclass
class ComparisonJob:
    """What the comparison of (ticker, d) needs: all of it picklable."""

    table: FeatureTable
    asof: dt.date
    settings: Settings
    load_seconds: float


def load_comparison(
    warehouse: Warehouse, ticker: str, asof: dt.date, settings: Settings
) -> ComparisonJob:
    started = time.perf_counter()
    _comparison_loss(settings.features.target, ticker)  # fails before any work
    with warehouse.connect(read_only=True) as con:
        table = load_feature_table(con, ticker, asof, settings.features)
    return ComparisonJob(table, asof, settings, time.perf_counter() - started)


def compute_comparison(job: ComparisonJob) -> ComparisonRun:
    """Every kind walked forward and the family tested; reads and writes only the
    ticker's fold caches."""
    started = time.perf_counter()
    table, settings, ticker = job.table, job.settings, job.table.ticker
    predictions, trained = comparison_predictions(
        table, settings, settings.ticker_models_dir(ticker)
    )
    losses = daily_losses(predictions, settings.features.target)
    losses = losses[[BENCHMARK, *[m for m in losses if m != BENCHMARK]]]
    result = compare(losses, family_settings(settings))
    return ComparisonRun(
        ticker=ticker,
        asof=job.asof,
        result=result,
        verdict=family_verdict(ticker, result, settings.evaluation.comparison_alpha),
        folds_trained=trained,
        days=len(losses),
        seconds=job.load_seconds + time.perf_counter() - started,
    )


def store_comparison(warehouse: Warehouse, run: ComparisonRun) -> ComparisonRun:
    """Writes the ``model_comparison`` rows of (ticker, d)."""
    started = time.perf_counter()
    with warehouse.connect() as con:
        results.replace_comparison(
            con, run.ticker, run.asof, comparison_rows(run.result, run.ticker, run.asof)
        )
    run.seconds += time.perf_counter() - started
    return run


def compare_asof(
    warehouse: Warehouse, ticker: str, asof: dt.date, settings: Settings
) -> ComparisonRun:
    """Walk every kind forward as of d, test the family, write ``model_comparison``."""
    job = load_comparison(warehouse, ticker, asof, settings)
    return store_comparison(warehouse, compute_comparison(job))


def comparison_rows(result: FamilyResult, ticker: str, asof: dt.date) -> pd.DataFrame:
    """``model_comparison`` rows: the per-model ``STORED`` columns, plus family rows."""
    long = result.table.melt(id_vars="model", value_vars=list(STORED), var_name="metric")
    superior = result.table[["model"]].assign(
        metric="superior", value=result.table["superior"].astype(float)
    )
    family = pd.DataFrame(
        {
            "model": FAMILY,
            "metric": ["spa_pvalue", "models_tested"],
            "value": [result.spa_pvalue, float(result.models_tested)],
        }
    )
    rows = pd.concat([long, superior, family], ignore_index=True)
    rows["value"] = rows["value"].astype(float)
    return rows.assign(ticker=ticker, asof_date=asof)[
        ["ticker", "asof_date", "model", "metric", "value"]
    ]


def comparison_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The stored rows back as one row per model (for the report and the UI), best first."""
    per_model = rows[rows["model"] != FAMILY].pivot(index="model", columns="metric", values="value")
    return per_model.sort_values("mean_loss")


def spa_pvalue(rows: pd.DataFrame) -> float:
    found = rows[(rows["model"] == FAMILY) & (rows["metric"] == "spa_pvalue")]["value"]
    return float(found.iloc[0]) if len(found) else math.nan


def best_kind(table: pd.DataFrame, kinds: tuple[str, ...]) -> str:
    """The kind with the lowest ``mean_loss`` in ``table`` (indexed by model; ties: the
    first configured)."""
    present = [k for k in kinds if k in table.index]
    return min(present, key=lambda k: table.at[k, "mean_loss"])
