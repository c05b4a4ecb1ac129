"""Ingest and indicator steps as plain functions: fetch -> validate -> upsert -> compute.

The Dagster assets call these; a notebook can too. Each ticker succeeds or
fails on its own and the outcome says which, so a caller can write the good
tickers and report the bad ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from stock_pipeline import storage
from stock_pipeline.calendar import trading_days
from stock_pipeline.indicators import FIRST_VALID_ROW, compute_indicators
from stock_pipeline.sources import MarketDataSource, RejectedRow, SourceError


@dataclass
class TickerIngest:
    ticker: str
    rows_written: int = 0
    first_date: dt.date | None = None
    last_date: dt.date | None = None
    rejected: list[RejectedRow] = field(default_factory=list)
    missing_dates: list[dt.date] = field(default_factory=list)
    off_calendar_dates: list[dt.date] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None


def ingest_bars(
    con: duckdb.DuckDBPyConnection,
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
        result = TickerIngest(ticker)
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
        in_range = bar_dates.between(min(wanted), max(wanted))
        result.off_calendar_dates = sorted(set(bar_dates[in_range]) - wanted)
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
        result.rows_written = storage.upsert_ohlcv(con, ticker, bars, outcome.source)
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


def update_indicators(
    con: duckdb.DuckDBPyConnection, ticker: str, dates: Sequence[dt.date]
) -> TickerIndicators:
    """Recompute indicators from the ticker's stored history up to max(dates); upsert ``dates``.

    Using the whole stored history (not a slice) is what makes a one-day update
    equal a full backfill for the infinite-memory indicators (EMA, MACD, OBV).
    """
    result = TickerIndicators(ticker)
    history = storage.read_ohlcv(con, ticker, end=max(dates))
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
    result.rows_written = storage.upsert_indicators(con, ticker, rows)
    result.first_date = rows["date"].iloc[0].date()
    result.last_date = rows["date"].iloc[-1].date()
    positions = rows.index.to_numpy()
    result.warmup_null_cells = int(
        sum((positions < first).sum() for first in FIRST_VALID_ROW.values())
    )
    return result


def ohlc_violations(con: duckdb.DuckDBPyConnection, tickers: Sequence[str]) -> pd.DataFrame:
    """Stored bars breaking OHLC sanity: prices > 0, low <= open/close <= high, volume >= 0."""
    return con.execute(
        """
        SELECT ticker, date,
               CASE WHEN least(open, high, low, close, adj_close) <= 0 THEN 'price <= 0'
                    WHEN low > least(open, close) THEN 'low above open/close'
                    WHEN high < greatest(open, close) THEN 'high below open/close'
                    ELSE 'volume < 0' END AS reason
        FROM ohlcv
        WHERE ticker IN (SELECT unnest(?))
          AND (least(open, high, low, close, adj_close) <= 0 OR low > least(open, close)
               OR high < greatest(open, close) OR volume < 0)
        ORDER BY ticker, date
        """,
        [list(tickers)],
    ).df()


def duplicate_dates(
    con: duckdb.DuckDBPyConnection, table: str, tickers: Sequence[str]
) -> pd.DataFrame:
    return con.execute(
        f"SELECT ticker, date, count(*) AS copies FROM {table} WHERE ticker IN (SELECT unnest(?)) "
        "GROUP BY ticker, date HAVING count(*) > 1 ORDER BY ticker, date",
        [list(tickers)],
    ).df()


def trading_day_gaps(
    con: duckdb.DuckDBPyConnection, ticker: str, exchange: str = "XNYS"
) -> list[dt.date]:
    """Exchange sessions between the ticker's first and last stored bar that have no bar."""
    stored = storage.read_ohlcv(con, ticker)
    if stored.empty:
        return []
    have = set(stored["date"].dt.date)
    return [d for d in trading_days(min(have), max(have), exchange) if d not in have]


def non_finite_after_warmup(
    con: duckdb.DuckDBPyConnection, ticker: str
) -> dict[str, list[dt.date]]:
    """Indicator cells that are NULL/inf past their warm-up, by column (dates listed)."""
    table = storage.read_indicators(con, ticker)
    history_dates = storage.read_ohlcv(con, ticker)["date"]
    position = pd.Series(range(len(history_dates)), index=history_dates.dt.date)
    bad: dict[str, list[dt.date]] = {}
    if table.empty:
        return bad
    pos = table["date"].dt.date.map(position)
    for column, first in FIRST_VALID_ROW.items():
        values = pd.to_numeric(table[column], errors="coerce").astype(float)
        mask = (pos >= first) & ~values.map(lambda v: pd.notna(v) and abs(v) != float("inf"))
        if mask.any():
            bad[column] = list(table.loc[mask, "date"].dt.date)
    return bad
