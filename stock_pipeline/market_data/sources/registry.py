"""Every market-data source by name, and which one serves a ticker.

A new source is its module (a class with the members of ``MarketDataSource``) and one
entry in ``SOURCES``; its name also goes into ``settings.base.SOURCE_NAMES``, which
validates ``source.name`` and the watchlist without importing any source (a test keeps the
two equal, and the CLI's help in step). Each factory imports its module only when called,
so naming a source loads no other source's libraries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from stock_pipeline.market_data.sources.base import MarketDataSource
from stock_pipeline.market_data.watchlist import sources_for
from stock_pipeline.settings import Settings, SourceSettings


@dataclass(frozen=True)
class SourceEntry:
    """How to make a source from ``SourceSettings``, and what it is."""

    factory: Callable[[SourceSettings], MarketDataSource]
    #: publishes a new bar every session (what ``MarketDataSource.live`` says, known before
    #: the source is made: the freshness check needs no connection to a live source)
    live: bool
    description: str


def _yfinance(settings: SourceSettings) -> MarketDataSource:
    from stock_pipeline.market_data.sources.yfinance_source import YFinanceSource

    return YFinanceSource(settings)


def _sample(settings: SourceSettings) -> MarketDataSource:
    from stock_pipeline.market_data.sources.sample import SampleSource

    return SampleSource()


def _csv(settings: SourceSettings) -> MarketDataSource:
    from stock_pipeline.market_data.sources.csv_source import CsvSource

    if settings.csv_dir is None:
        raise ValueError("STOCK_PIPELINE_SOURCE=csv needs STOCK_PIPELINE_CSV_DIR (a folder)")
    return CsvSource(settings.csv_dir)


def _alphavantage(settings: SourceSettings) -> MarketDataSource:
    from stock_pipeline.market_data.sources.alphavantage import AlphaVantageSource

    return AlphaVantageSource(settings)


SOURCES: dict[str, SourceEntry] = {
    "yfinance": SourceEntry(_yfinance, True, "Yahoo Finance's daily bars (the default)"),
    "sample": SourceEntry(_sample, False, "the offline ^GSPC and ^IXIC history bundled with arch"),
    "csv": SourceEntry(_csv, False, "<TICKER>.csv files in source.csv_dir"),
    "alphavantage": SourceEntry(_alphavantage, True, "Alpha Vantage's daily adjusted series"),
}

#: Sources that publish a new bar every session; the others hold a finished history.
LIVE_SOURCES: tuple[str, ...] = tuple(name for name, entry in SOURCES.items() if entry.live)


def make_source(settings: SourceSettings) -> MarketDataSource:
    """The source named by ``settings.name`` (``STOCK_PIPELINE_SOURCE``)."""
    entry = SOURCES.get(settings.name)
    if entry is None:
        raise ValueError(
            f"STOCK_PIPELINE_SOURCE={settings.name!r} is not a source; use one of {tuple(SOURCES)}"
        )
    return entry.factory(settings)


@dataclass(frozen=True)
class ServedTickers:
    """The tickers one source serves, whether it is live, and how to make it."""

    source: str
    live: bool
    tickers: list[str]
    settings: SourceSettings

    def open(self) -> MarketDataSource:
        return make_source(self.settings)


def serving_sources(settings: Settings, tickers: Sequence[str]) -> list[ServedTickers]:
    """Which source serves each ticker (its watchlist entry's, else ``source.name``) and is
    it live: one group per source, in the order the tickers first name them."""
    groups = sources_for(list(tickers), settings.source.name, settings.watchlist_path)
    return [
        ServedTickers(
            name,
            SOURCES[name].live,
            group,
            settings.source.model_copy(update={"name": name}),
        )
        for name, group in groups.items()
    ]
