"""Asset group ``evaluation``: ``walk_forward_evaluation`` and ``model_comparison``.

Wiring only; the logic is in ``stock_pipeline/evaluation``. The walk-forwards run on the
``compute`` engine (a call per ticker); the warehouse is read and written here.
"""

from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    Definitions,
    MaterializeResult,
    MetadataValue,
    asset,
)

from stock_pipeline.compute import Stage
from stock_pipeline.defs.asset_bodies import (
    finish_partitions,
    log_lines,
    per_ticker,
    ticker_date_asset_args,
)
from stock_pipeline.defs.partitions import make_partitions, partition_key
from stock_pipeline.defs.resources import ComputeParam, DuckDBWarehouse, SettingsParam
from stock_pipeline.evaluation.compare import (
    best_kind,
    compute_comparison,
    load_comparison,
    store_comparison,
)
from stock_pipeline.evaluation.evaluate import compute_evaluation, load_evaluation, store_evaluation
from stock_pipeline.settings import Settings

GROUP = "evaluation"


def evaluation_metadata(r) -> dict[str, Any]:
    """What the UI shows on one (ticker, date) partition of ``walk_forward_evaluation``."""
    overall = r.metrics[r.metrics["fold"].isna()]
    table = overall.pivot(index="model", columns="metric", values="value")
    return {
        "verdict": r.verdict.text,
        "metrics": MetadataValue.md(table.round(5).to_markdown()),
        "skill": float(r.verdict.skill),
        "dm_stat": float(r.verdict.dm_stat),
        "dm_pvalue": float(r.verdict.dm_pvalue),
        "lstm_beats_naive": bool(r.verdict.beats_naive and r.verdict.significant),
        **({} if r.verdict.beats_garch is None else {"lstm_beats_garch": r.verdict.beats_garch}),
        "folds": r.folds,
        "folds_trained": r.folds_trained,
        "predictions": r.predictions,
        "span": f"{r.span[0]} .. {r.span[1]}",
        "seconds": round(r.seconds, 2),
    }


def comparison_metadata(r, kinds: tuple[str, ...]) -> dict[str, Any]:
    """What the UI shows on one (ticker, date) partition of ``model_comparison``."""
    table = r.result.table.set_index("model").sort_values("mean_loss")
    shown = table[["skill", "dm_pvalue", "holm_pvalue", "mcs_pvalue", "in_mcs", "superior"]]
    return {
        "verdict": r.verdict,
        "comparison": MetadataValue.md(shown.round(4).to_markdown()),
        "spa_pvalue": float(r.result.spa_pvalue),
        "beat_naive": ", ".join(r.result.superior) or "none",
        "best_kind": best_kind(table, kinds),
        "confidence_set": ", ".join(r.result.confidence_set),
        "days": r.days,
        "folds_trained": MetadataValue.json(r.folds_trained),
        "seconds": round(r.seconds, 2),
    }


def build_evaluation_assets(partitions_def) -> list:
    @asset(
        **ticker_date_asset_args(partitions_def, GROUP),
        deps=[AssetKey("lstm_model")],
        kinds={"keras", "statsmodels", "duckdb"},
        description=(
            "Walk-forward evaluation as of d: the network of the configured kind "
            "(`model.kind`, the one `lstm_model` holds) vs naive, drift and ARIMA on the "
            "same dates (a volatility target: vs naive, drift, GARCH, GJR, EGARCH and HAR-RV "
            "on QLIKE), fold models cached; tables `predictions` and `evaluation_metrics`, "
            "and a Diebold-Mariano test of the network against the naive forecast."
        ),
    )
    def walk_forward_evaluation(
        context: AssetExecutionContext,
        settings: SettingsParam,
        warehouse: DuckDBWarehouse,
        compute: ComputeParam,
    ) -> MaterializeResult:
        stage = Stage(
            load=lambda t, d: load_evaluation(warehouse, t, d, settings),
            compute=compute_evaluation,
            store=lambda frames: store_evaluation(warehouse, frames),
        )
        runs, errors = per_ticker(context, compute, stage, settings)
        log_lines(context, [r.verdict.text for r in runs])
        partitions = {partition_key(r.ticker, r.asof): evaluation_metadata(r) for r in runs}
        summary = {"folds_trained": sum(r.folds_trained for r in runs)}
        return finish_partitions(context, partitions, errors, summary)

    @asset(
        **ticker_date_asset_args(partitions_def, GROUP),
        deps=[AssetKey("walk_forward_evaluation")],
        kinds={"keras", "arch", "duckdb"},
        description=(
            "Every model kind in `evaluation.compare_kinds`, with the baselines, walked "
            "forward on the evaluation's days and tested as one family against naive: "
            "Hansen's SPA, StepM, the Model Confidence Set and Holm-adjusted DM tests; "
            "table `model_comparison`."
        ),
    )
    def model_comparison(
        context: AssetExecutionContext,
        settings: SettingsParam,
        warehouse: DuckDBWarehouse,
        compute: ComputeParam,
    ) -> MaterializeResult:
        kinds = settings.evaluation.compare_kinds
        stage = Stage(
            load=lambda t, d: load_comparison(warehouse, t, d, settings),
            compute=compute_comparison,
            store=lambda run: store_comparison(warehouse, run),
        )
        runs, errors = per_ticker(context, compute, stage, settings)
        log_lines(context, [r.verdict for r in runs])
        partitions = {partition_key(r.ticker, r.asof): comparison_metadata(r, kinds) for r in runs}
        summary = {"folds_trained": sum(sum(r.folds_trained.values()) for r in runs)}
        return finish_partitions(context, partitions, errors, summary)

    return [walk_forward_evaluation, model_comparison]


def evaluation_definitions(settings: Settings) -> Definitions:
    """The group's assets, ticker x trading day."""
    return Definitions(assets=build_evaluation_assets(make_partitions(settings)))
