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
from stock_pipeline.watchlist import WatchlistEntry, load_watchlist


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

    def market_data(self, name: str | None = None) -> MarketDataSource:
        settings = self.get().source
        if name is not None and name != settings.name:
            settings = settings.model_copy(update={"name": name})
        return make_source(settings)

    def watchlist(self) -> list[WatchlistEntry]:
        """Entries of the watchlist file ([] when there is none)."""
        path = self.get().watchlist_path
        return load_watchlist(path) if path.exists() else []

    def sources_for(self, tickers: list[str]) -> dict[str, list[str]]:
        """Source name -> tickers: the watchlist's per-ticker source, else the default."""
        default = self.get().source.name
        try:
            chosen = {e.ticker: e.source for e in self.watchlist() if e.source}
        except ValueError:
            chosen = {}  # a broken watchlist is reported by its sensor, not here
        groups: dict[str, list[str]] = {}
        for ticker in tickers:
            groups.setdefault(chosen.get(ticker, default), []).append(ticker)
        return groups


class DuckDBWarehouse(ConfigurableResource):
    """The DuckDB file; ``None`` means the path from settings (``STOCK_PIPELINE_WAREHOUSE``)."""

    path: str | None = None

    def resolved_path(self) -> Path:
        return Path(self.path) if self.path else Settings.from_env().warehouse

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with storage.connect(self.resolved_path(), read_only=read_only) as con:
            yield con
