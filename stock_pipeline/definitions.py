"""The code location: ``dagster dev`` and ``workspace.yaml`` load ``defs`` from here."""

from __future__ import annotations

from dagster import Definitions, in_process_executor

from stock_pipeline.defs.automation import (
    build_automation,
    build_freshness_check,
    freshness_job,
    freshness_schedule,
    nightly_job,
)
from stock_pipeline.defs.backtest_assets import build_backtest_assets
from stock_pipeline.defs.forecast_assets import build_forecast_assets
from stock_pipeline.defs.market_data import build_market_data_assets
from stock_pipeline.defs.partitions import make_partitions
from stock_pipeline.defs.resources import DuckDBWarehouse, PipelineSettings
from stock_pipeline.settings import Settings


def build_definitions(settings: Settings | None = None) -> Definitions:
    settings = settings or Settings.from_env()
    partitions_def = make_partitions(settings)
    data_assets, data_checks = build_market_data_assets(partitions_def)
    forecast_assets = build_forecast_assets(partitions_def)
    backtest_assets = build_backtest_assets(partitions_def, forecast_assets[-1])
    freshness = build_freshness_check(data_assets[0])
    check_job = freshness_job(freshness)
    schedules, sensors = build_automation(settings)
    return Definitions(
        assets=[*data_assets, *forecast_assets, *backtest_assets],
        asset_checks=[*data_checks, freshness],
        jobs=[nightly_job, check_job],
        schedules=[*schedules, freshness_schedule(check_job)],
        sensors=sensors,
        resources={"settings": PipelineSettings(), "warehouse": DuckDBWarehouse()},
        # One process per run instead of one per step: steps of this lineage run in
        # order anyway, and each process would pay the pandas/JAX imports again.
        executor=in_process_executor,
    )


defs = build_definitions()
