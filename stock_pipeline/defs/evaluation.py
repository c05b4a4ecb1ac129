"""Asset group ``evaluation``: ``walk_forward_evaluation``.

Wiring only; the logic is in ``stock_pipeline/evaluation``.
"""

from typing import Any

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from stock_pipeline.defs.assets import (
    finish_partitions,
    log_lines,
    per_partition,
    ticker_date_asset_args,
)
from stock_pipeline.defs.partitions import partition_key
from stock_pipeline.defs.resources import DuckDBWarehouse, SettingsParam
from stock_pipeline.evaluation.asof import evaluate_asof

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


def build_evaluation_assets(partitions_def, upstream):
    @asset(
        **ticker_date_asset_args(partitions_def, GROUP),
        deps=[upstream],
        kinds={"keras", "statsmodels", "duckdb"},
        description=(
            "Walk-forward evaluation as of d: LSTM vs naive, drift and ARIMA on the same "
            "dates (a volatility target: vs naive, drift, GARCH, GJR, EGARCH and HAR-RV on "
            "QLIKE), fold models cached; tables `predictions` and `evaluation_metrics`, and "
            "a Diebold-Mariano test of the LSTM against the naive forecast."
        ),
    )
    def walk_forward_evaluation(
        context: AssetExecutionContext, settings: SettingsParam, warehouse: DuckDBWarehouse
    ) -> MaterializeResult:
        runs, errors = per_partition(
            context, lambda t, d: evaluate_asof(warehouse, t, d, settings), settings
        )
        log_lines(context, [r.verdict.text for r in runs])
        partitions = {partition_key(r.ticker, r.asof): evaluation_metadata(r) for r in runs}
        summary = {"folds_trained": sum(r.folds_trained for r in runs)}
        return finish_partitions(context, partitions, errors, summary)

    return [walk_forward_evaluation]
