"""The market-data stage as plain functions: fetch -> validate -> upsert bars, then
recompute -> upsert indicators.

The Dagster assets call these; a notebook can too. Each ticker succeeds or
fails on its own and the outcome says which, so a caller can write the good
tickers and report the bad ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from stock_pipeline.market_data.indicators import FIRST_VALID_ROW, compute_indicators
from stock_pipeline.market_data.sources import MarketDataSource, RejectedRow, SourceError
from stock_pipeline.warehouse import Connection
from stock_pipeline.warehouse import prices as stored


@dataclass
class TickerIngest:
    ticker: str
    source: str = ""
    rows_written: int = 0
    first_date: dt.date | None = None
    last_date: dt.date | None = None
    rejected: list[RejectedRow] = field(default_factory=list)
    missing_dates: list[dt.date] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None


def ingest_bars(
    con: Connection,
    source: MarketDataSource,
    dates_by_ticker: Mapping[str, Sequence[dt.date]],
) -> list[TickerIngest]:
    """Fetch each ticker's bars for its trading dates and upsert them; one request batch.

    Only bars dated on one of the requested sessions are written. A ticker with
    no bar at all among its requested dates fails (unknown, delisted, or data not
    yet published); other tickers are unaffected.
    """
    tickers = list(dates_by_ticker)
    start = min(min(days) for days in dates_by_ticker.values())
    end = max(max(days) for days in dates_by_ticker.values())
    outcomes = source.fetch(tickers, start, end)
    results = []
    for ticker in tickers:
        result = TickerIngest(ticker, source.name)
        results.append(result)
        outcome = outcomes.get(ticker)
        if outcome is None:
            result.error = f"{ticker}: {source.name} returned nothing for this ticker"
            continue
        if isinstance(outcome, SourceError):
            result.error = str(outcome)
            continue
        wanted = set(dates_by_ticker[ticker])
        bar_dates = outcome.bars["date"].dt.date
        result.rejected = list(outcome.rejected)
        result.notes = list(outcome.notes)
        bars = outcome.bars[bar_dates.isin(wanted)]
        result.missing_dates = sorted(wanted - set(bars["date"].dt.date))
        if bars.empty:
            result.error = (
                f"{ticker}: {source.name} has no bars for the {len(wanted)} trading day(s) "
                f"{min(wanted)}..{max(wanted)}"
                + (
                    f"; rejected rows: {'; '.join(map(str, outcome.rejected[:5]))}"
                    if outcome.rejected
                    else ""
                )
            )
            continue
        result.rows_written = stored.upsert_ohlcv(con, ticker, bars, outcome.source)
        result.first_date = bars["date"].iloc[0].date()
        result.last_date = bars["date"].iloc[-1].date()
    return results


@dataclass
class TickerIndicators:
    ticker: str
    rows_written: int = 0
    first_date: dt.date | None = None
    last_date: dt.date | None = None
    history_rows: int = 0
    warmup_null_cells: int = 0
    error: str | None = None


def update_indicators(con: Connection, ticker: str, dates: Sequence[dt.date]) -> TickerIndicators:
    """Recompute indicators from the ticker's stored history up to max(dates); upsert ``dates``.

    Using the whole stored history (not a slice) is what makes a one-day update
    equal a full backfill for the infinite-memory indicators (EMA, MACD, OBV).
    """
    result = TickerIndicators(ticker)
    history = stored.read_ohlcv(con, ticker, end=max(dates))
    result.history_rows = len(history)
    if history.empty:
        result.error = f"{ticker}: no stored bars up to {max(dates)}; materialize raw_ohlcv first"
        return result
    table = compute_indicators(history)
    rows = table[table["date"].dt.date.isin(set(dates))]
    if rows.empty:
        result.error = (
            f"{ticker}: no stored bars on the {len(dates)} requested date(s) "
            f"{min(dates)}..{max(dates)}"
        )
        return result
    result.rows_written = stored.upsert_indicators(con, ticker, rows)
    result.first_date = rows["date"].iloc[0].date()
    result.last_date = rows["date"].iloc[-1].date()
    positions = rows.index.to_numpy()
    result.warmup_null_cells = int(
        sum((positions < first).sum() for first in FIRST_VALID_ROW.values())
    )
    return result
