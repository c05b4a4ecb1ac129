"""Market-data sources behind one interface (``base.MarketDataSource``); ``registry`` names
them, makes one from settings and says which one serves a ticker."""

from __future__ import annotations

from stock_pipeline.market_data.sources.base import (
    BAR_COLUMNS,
    FetchOutcome,
    FetchResult,
    MarketDataSource,
    RejectedRow,
    SourceError,
    TransientSourceError,
    UnknownTickerError,
    validate_bars,
)
from stock_pipeline.market_data.sources.registry import (
    LIVE_SOURCES,
    SOURCES,
    ServedTickers,
    SourceEntry,
    make_source,
    serving_sources,
)

__all__ = [
    "BAR_COLUMNS",
    "LIVE_SOURCES",
    "SOURCES",
    "FetchOutcome",
    "FetchResult",
    "MarketDataSource",
    "RejectedRow",
    "ServedTickers",
    "SourceEntry",
    "SourceError",
    "TransientSourceError",
    "UnknownTickerError",
    "make_source",
    "serving_sources",
    "validate_bars",
]
