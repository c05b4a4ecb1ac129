"""Dagster resources, built from one ``Settings`` object: the settings themselves and the
DuckDB warehouse. ``build_definitions(settings)`` calls ``build_resources`` once; assets,
checks, schedules and sensors get both from here and nowhere else."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dagster import ConfigurableResource, ResourceParam

from stock_pipeline.settings import Settings
from stock_pipeline.warehouse import Connection, connect

#: How asset and check bodies ask for the settings (a plain object resource: no run
#: config to show in the UI, and the Alpha Vantage key stays a SecretStr).
SettingsParam = ResourceParam[Settings]


class DuckDBWarehouse(ConfigurableResource):
    """The DuckDB file at ``path``; a ``stock_pipeline.warehouse.Warehouse``."""

    path: str

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[Connection]:
        with connect(self.path, read_only=read_only) as con:
            yield con


def build_resources(settings: Settings) -> dict[str, Any]:
    return {"settings": settings, "warehouse": DuckDBWarehouse(path=str(settings.warehouse))}
