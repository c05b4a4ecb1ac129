"""Market-data sources behind one interface; ``make_source`` picks one from settings."""

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
from stock_pipeline.settings import SourceSettings

__all__ = [
    "BAR_COLUMNS",
    "LIVE_SOURCES",
    "FetchOutcome",
    "FetchResult",
    "MarketDataSource",
    "RejectedRow",
    "SourceError",
    "TransientSourceError",
    "UnknownTickerError",
    "make_source",
    "validate_bars",
]


#: Sources that publish a new bar every session; the others (the offline sample, csv
#: files) hold a finished history.
LIVE_SOURCES = ("yfinance", "alphavantage")


def make_source(settings: SourceSettings) -> MarketDataSource:
    """The source named by ``settings.name`` (``STOCK_PIPELINE_SOURCE``)."""
    if settings.name == "sample":
        from stock_pipeline.market_data.sources.sample import SampleSource

        return SampleSource()
    if settings.name == "csv":
        from stock_pipeline.market_data.sources.csv_source import CsvSource

        if settings.csv_dir is None:
            raise ValueError("STOCK_PIPELINE_SOURCE=csv needs STOCK_PIPELINE_CSV_DIR (a folder)")
        return CsvSource(settings.csv_dir)
    if settings.name == "alphavantage":
        from stock_pipeline.market_data.sources.alphavantage import AlphaVantageSource

        return AlphaVantageSource(settings)
    from stock_pipeline.market_data.sources.yfinance_source import YFinanceSource

    return YFinanceSource(settings)
