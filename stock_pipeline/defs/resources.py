"""Dagster resources: the settings object and the DuckDB warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from dagster import ConfigurableResource

from stock_pipeline import storage
from stock_pipeline.settings import Settings, SourceSettings
from stock_pipeline.sources import MarketDataSource, make_source


class PipelineSettings(ConfigurableResource):
    """``Settings.from_env()`` with optional overrides (tests and the CLI set these).

    Secrets (the Alpha Vantage key) are read from the environment only, so they
    never appear in run config or the UI.
    """

    data_dir: str | None = None
    source: str | None = None
    csv_dir: str | None = None

    def get(self) -> Settings:
        settings = Settings.from_env()
        updates: dict[str, object] = {}
        if self.data_dir is not None:
            updates["data_dir"] = Path(self.data_dir)
        if self.source is not None or self.csv_dir is not None:
            source = settings.source.model_dump()
            if self.source is not None:
                source["name"] = self.source
            if self.csv_dir is not None:
                source["csv_dir"] = self.csv_dir
            updates["source"] = SourceSettings(**source)
        return settings.model_copy(update=updates)

    def market_data(self) -> MarketDataSource:
        return make_source(self.get().source)


class DuckDBWarehouse(ConfigurableResource):
    """The DuckDB file; ``None`` means the path from settings (``STOCK_PIPELINE_WAREHOUSE``)."""

    path: str | None = None

    def resolved_path(self) -> Path:
        return Path(self.path) if self.path else Settings.from_env().warehouse

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with storage.connect(self.resolved_path(), read_only=read_only) as con:
            yield con
