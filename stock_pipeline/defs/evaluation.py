"""Asset group ``evaluation``: ``walk_forward_evaluation``.

Wiring only; the logic is in ``stock_pipeline/evaluation``.
"""

from typing import Any

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from stock_pipeline.defs.assets import finish, log_lines, per_partition, ticker_date_asset_args
from stock_pipeline.defs.resources import DuckDBWarehouse, SettingsParam
from stock_pipeline.evaluation.asof import evaluate_asof

GROUP = "evaluation"


def evaluation_metadata(runs: list) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "verdicts": MetadataValue.md("\n".join(f"- {r.verdict.text}" for r in runs) or "none"),
        "folds_trained": sum(r.folds_trained for r in runs),
        "folds_reused": sum(r.folds_reused for r in runs),
    }
    if len(runs) == 1:
        (r,) = runs
        overall = r.metrics[r.metrics["fold"].isna()]
        table = overall.pivot(index="model", columns="metric", values="value")
        metadata.update(
            metrics=MetadataValue.md(table.round(5).to_markdown()),
            skill=float(r.verdict.skill),
            dm_stat=float(r.verdict.dm_stat),
            dm_pvalue=float(r.verdict.dm_pvalue),
            lstm_beats_naive=bool(r.verdict.beats_naive and r.verdict.significant),
            folds=r.folds,
            predictions=r.predictions,
            span=f"{r.span[0]} .. {r.span[1]}",
            seconds=round(r.seconds, 2),
        )
    return metadata


def build_evaluation_assets(partitions_def, upstream):
    @asset(
        **ticker_date_asset_args(partitions_def, GROUP),
        deps=[upstream],
        kinds={"keras", "statsmodels", "duckdb"},
        description=(
            "Walk-forward evaluation as of d: LSTM vs naive, drift and ARIMA on the same "
            "dates, fold models cached; tables `predictions` and `evaluation_metrics`, and "
            "a Diebold-Mariano test of the LSTM against the naive forecast."
        ),
    )
    def walk_forward_evaluation(
        context: AssetExecutionContext, settings: SettingsParam, warehouse: DuckDBWarehouse
    ) -> MaterializeResult:
        runs, errors = per_partition(context, lambda t, d: evaluate_asof(warehouse, t, d, settings))
        log_lines(context, [r.verdict.text for r in runs])
        return finish(evaluation_metadata(runs), errors)

    return [walk_forward_evaluation]
