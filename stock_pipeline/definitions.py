"""The code location: ``dagster dev`` and ``workspace.yaml`` load ``defs`` from here.

``Settings.from_env()`` is read once, here (or by the CLI, which passes its own
settings to ``build_definitions``). Each asset group's module returns its own
``Definitions`` (assets, checks, jobs, schedules, sensors), built from the settings; they
are merged here with the resources and the executor. Groups depend on each other by asset
key, so the order below is only the lineage's, for the reader.
"""

from __future__ import annotations

import warnings

from dagster import BetaWarning, Definitions, PreviewWarning, in_process_executor

from stock_pipeline.defs.automation import automation_definitions
from stock_pipeline.defs.evaluation import evaluation_definitions
from stock_pipeline.defs.forecasting import forecasting_definitions
from stock_pipeline.defs.market_data import market_data_definitions
from stock_pipeline.defs.resources import build_resources
from stock_pipeline.defs.trading import trading_definitions
from stock_pipeline.defs.universe import universe_definitions
from stock_pipeline.settings import Settings

# The lineage uses Dagster features that are marked beta or preview (single-run backfill
# policies, partitioned asset checks): deliberate choices, pinned with the Dagster version,
# so their warnings would only be noise in `dagster dev`.
warnings.filterwarnings("ignore", category=BetaWarning)
warnings.filterwarnings("ignore", category=PreviewWarning)

#: One function per asset group, each returning the group's ``Definitions``.
GROUP_DEFINITIONS = (
    market_data_definitions,
    forecasting_definitions,
    evaluation_definitions,
    trading_definitions,
    universe_definitions,
    automation_definitions,
)


def build_definitions(settings: Settings) -> Definitions:
    return Definitions.merge(
        *(group(settings) for group in GROUP_DEFINITIONS),
        Definitions(
            resources=build_resources(settings),
            # One process per run instead of one per step: steps of this lineage run in
            # order anyway, and each process would pay the pandas/JAX imports again.
            executor=in_process_executor,
        ),
    )


defs = build_definitions(Settings.from_env())
