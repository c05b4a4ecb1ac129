"""The code location: ``dagster dev`` and ``workspace.yaml`` load ``defs`` from here.

``Settings.from_env()`` is read once, here (or by the CLI, which passes its own
settings to ``build_definitions``); resources, schedules and sensors are built from it.
"""

from __future__ import annotations

import warnings

from dagster import BetaWarning, Definitions, PreviewWarning, in_process_executor

from stock_pipeline.defs.automation import build_automation
from stock_pipeline.defs.evaluation import build_evaluation_assets
from stock_pipeline.defs.forecasting import build_forecasting_assets
from stock_pipeline.defs.market_data import build_freshness_check, build_market_data_assets
from stock_pipeline.defs.partitions import (
    make_data_partitions,
    make_date_partitions,
    make_partitions,
)
from stock_pipeline.defs.resources import build_resources
from stock_pipeline.defs.run_health import dead_run_sensor
from stock_pipeline.defs.trading import build_trading_assets
from stock_pipeline.defs.universe import (
    build_universe_assets,
    universe_after_nightly,
    universe_job,
)
from stock_pipeline.settings import Settings

# The lineage uses Dagster features that are marked beta or preview (single-run backfill
# policies, partitioned asset checks): deliberate choices, pinned with the Dagster version,
# so their warnings would only be noise in `dagster dev`.
warnings.filterwarnings("ignore", category=BetaWarning)
warnings.filterwarnings("ignore", category=PreviewWarning)


def build_definitions(settings: Settings) -> Definitions:
    partitions_def = make_partitions(settings)
    data_assets, data_checks = build_market_data_assets(make_data_partitions(settings))
    lookback = settings.automation.max_catch_up_sessions + 1
    forecasting_assets = build_forecasting_assets(partitions_def, lookback)
    evaluation_assets = build_evaluation_assets(partitions_def, forecasting_assets[-1])
    trading_assets = build_trading_assets(partitions_def, evaluation_assets)
    universe_assets = build_universe_assets(make_date_partitions(settings), data_assets)
    freshness = build_freshness_check(data_assets[0])
    automation = build_automation(settings, freshness)
    automation["jobs"].append(universe_job)
    automation["sensors"] += [universe_after_nightly, dead_run_sensor]
    return Definitions(
        assets=[
            *data_assets,
            *forecasting_assets,
            *evaluation_assets,
            *trading_assets,
            *universe_assets,
        ],
        asset_checks=[*data_checks, freshness],
        **automation,
        resources=build_resources(settings),
        # One process per run instead of one per step: steps of this lineage run in
        # order anyway, and each process would pay the pandas/JAX imports again.
        executor=in_process_executor,
    )


defs = build_definitions(Settings.from_env())
