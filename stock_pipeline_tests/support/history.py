"""A ticker's history stored as its year partitions store it: one ingest per year."""

from __future__ import annotations

import datetime as dt
from itertools import groupby

import pandas as pd

from stock_pipeline.market_data import ingest
from stock_pipeline.market_data.sources import MarketDataSource
from stock_pipeline.warehouse import Connection, prices


def backfill_by_year(con: Connection, source: MarketDataSource, ticker: str, days) -> None:
    """Bars and indicators of ``days``, year by year (the data runs' partitions)."""
    for _, year in groupby(days, key=lambda d: d.year):
        wanted = list(year)
        (result,) = ingest.ingest_bars(con, source, {ticker: wanted})
        assert result.error is None, result.error
        assert ingest.update_indicators(con, ticker, wanted).error is None


def stored_tables(con: Connection, ticker: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(bars without their ingestion time, indicators) of ``ticker``."""
    bars = prices.read_ohlcv(con, ticker).drop(columns="source")
    return bars, prices.read_indicators(con, ticker)


def sessions_of(bars: pd.DataFrame) -> list[dt.date]:
    return [d.date() for d in bars["date"]]
