"""Dagster resources, built from one ``Settings`` object: the settings themselves, the
DuckDB warehouse and the compute engine. ``build_definitions(settings)`` calls
``build_resources`` once; assets, checks, schedules and sensors get them from here and
nowhere else."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dagster import ConfigurableResource, InitResourceContext, ResourceParam, resource

from stock_pipeline.compute.engine import LazyEngine, open_engine
from stock_pipeline.settings import ComputeSettings, Settings
from stock_pipeline.warehouse import Connection, connect

#: How asset and check bodies ask for the settings (a plain object resource: no run
#: config to show in the UI, and the Alpha Vantage key stays a SecretStr).
SettingsParam = ResourceParam[Settings]

#: How the model-chain assets ask for the engine their per-ticker compute runs on (and
#: ``universe_model`` the one its study periods run on).
ComputeParam = ResourceParam[LazyEngine]


class DuckDBWarehouse(ConfigurableResource):
    """The DuckDB file at ``path``; a ``stock_pipeline.warehouse.Warehouse``."""

    path: str

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[Connection]:
        with connect(self.path, read_only=read_only) as con:
            yield con


def compute_resource(settings: ComputeSettings):
    """``settings.compute``'s engine for the run: with the in-process executor one local
    cluster serves every step of a run (started by the first step that computes, so a
    run's workers compile a network shape once), and it is closed when the run ends."""

    @resource(description=f"compute engine: {settings.engine}")
    def compute(_: InitResourceContext) -> Iterator[LazyEngine]:
        with open_engine(settings) as engine:
            yield engine

    return compute


def build_resources(settings: Settings) -> dict[str, Any]:
    return {
        "settings": settings,
        "warehouse": DuckDBWarehouse(path=str(settings.warehouse)),
        "compute": compute_resource(settings.compute),
    }
