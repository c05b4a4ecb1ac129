"""Reads and writes of the price tables: ``ohlcv`` (bars) and ``indicators``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd

from stock_pipeline.warehouse.connection import (
    Connection,
    date_filter,
    dated,
    insert_frame,
    transaction,
    upsert_frame,
)
from stock_pipeline.warehouse.schema import INDICATOR_COLUMNS

BAR_FIELDS = ("open", "high", "low", "close", "adj_close", "volume")


def ohlcv_rows(
    ticker: str, bars: pd.DataFrame, source: str, ingested_at: dt.datetime
) -> pd.DataFrame:
    """``bars`` as rows of the ``ohlcv`` table."""
    frame = bars[["date", *BAR_FIELDS]].copy()
    frame.insert(0, "ticker", ticker)
    frame["date"] = pd.to_datetime(frame["date"]).dt.date
    frame["source"] = source
    frame["ingested_at"] = ingested_at
    return frame


def stored_now() -> dt.datetime:
    """When a row is stored: naive UTC, as every ``*_at`` column holds it."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def upsert_ohlcv(
    con: Connection,
    ticker: str,
    bars: pd.DataFrame,
    source: str,
    ingested_at: dt.datetime | None = None,
) -> int:
    frame = ohlcv_rows(ticker, bars, source, ingested_at or stored_now())
    return upsert_frame(con, "ohlcv", frame, ["ticker", "date"])


def upsert_indicators(con: Connection, ticker: str, table: pd.DataFrame) -> int:
    frame = table[["date", *INDICATOR_COLUMNS]].copy()
    frame.insert(0, "ticker", ticker)
    frame["date"] = pd.to_datetime(frame["date"]).dt.date
    return upsert_frame(con, "indicators", frame, ["ticker", "date"])


def read_ohlcv(
    con: Connection, ticker: str, start: dt.date | None = None, end: dt.date | None = None
) -> pd.DataFrame:
    """Stored bars of one ticker, oldest first, with ``date`` as a Timestamp column."""
    return _read_dated(con, "ohlcv", [*BAR_FIELDS, "source"], ticker, start, end)


def read_indicators(
    con: Connection, ticker: str, start: dt.date | None = None, end: dt.date | None = None
) -> pd.DataFrame:
    return _read_dated(con, "indicators", INDICATOR_COLUMNS, ticker, start, end)


def _read_dated(
    con: Connection,
    table: str,
    columns: Sequence[str],
    ticker: str,
    start: dt.date | None,
    end: dt.date | None,
) -> pd.DataFrame:
    where, params = date_filter(start, end)
    return dated(
        con,
        f"SELECT date, {', '.join(columns)} FROM {table} WHERE ticker = ?{where} ORDER BY date",
        [ticker, *params],
    )


def read_bars_with_indicators(
    con: Connection, ticker: str, end: dt.date | None = None
) -> pd.DataFrame:
    """``ohlcv`` joined with ``indicators`` for one ticker up to ``end``, oldest first."""
    where, params = date_filter(None, end, column="o.date")
    return dated(
        con,
        f"SELECT o.date, {', '.join('o.' + c for c in BAR_FIELDS)}, "
        f"{', '.join('i.' + c for c in INDICATOR_COLUMNS)} "
        f"FROM ohlcv o JOIN indicators i USING (ticker, date) "
        f"WHERE o.ticker = ?{where} ORDER BY o.date",
        [ticker, *params],
    )


def latest_bar_dates(con: Connection) -> dict[str, dt.date]:
    """The date of each ticker's newest stored bar."""
    return dict(con.execute("SELECT ticker, max(date) FROM ohlcv GROUP BY 1").fetchall())


def ohlc_violations(con: Connection, tickers: Sequence[str]) -> pd.DataFrame:
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


def duplicate_dates(con: Connection, table: str, tickers: Sequence[str]) -> pd.DataFrame:
    """(ticker, date) pairs stored more than once in ``table`` (a table without its key)."""
    return con.execute(
        f"SELECT ticker, date, count(*) AS copies FROM {table} WHERE ticker IN (SELECT unnest(?)) "
        "GROUP BY ticker, date HAVING count(*) > 1 ORDER BY ticker, date",
        [list(tickers)],
    ).df()


def previous_bar_date(con: Connection, ticker: str, day: dt.date) -> dt.date | None:
    """The newest stored session of ``ticker`` before ``day``."""
    return con.execute(
        "SELECT max(date) FROM ohlcv WHERE ticker = ? AND date < ?", [ticker, day]
    ).fetchall()[0][0]


def stored_bar_dates(con: Connection, ticker: str) -> list[dt.date]:
    rows = con.execute("SELECT date FROM ohlcv WHERE ticker = ? ORDER BY date", [ticker])
    return [r[0] for r in rows.fetchall()]


def upsert_actions(con: Connection, ticker: str, actions: pd.DataFrame, source: str) -> int:
    """The dividends and splits a source reported (``date, kind, value``)."""
    if actions.empty:
        return 0
    frame = actions[["date", "kind", "value"]].copy()
    frame.insert(0, "ticker", ticker)
    frame["date"] = pd.to_datetime(frame["date"]).dt.date
    frame["source"] = source
    return upsert_frame(con, "corporate_actions", frame, ["ticker", "date", "kind"])


def replace_history(
    con: Connection,
    ticker: str,
    bars: pd.DataFrame,
    source: str,
    revision: dict[str, object] | None = None,
    corrections: pd.DataFrame | None = None,
) -> int:
    """Replace every stored bar of ``ticker`` by ``bars`` (a new download of its whole
    history) and record why: the revision (``price_revisions`` columns) of a re-based
    history, or the corrected bars (``price_corrections`` columns but ``seen_at``), all in
    one transaction."""
    now = stored_now()
    frame = ohlcv_rows(ticker, bars, source, now)
    with transaction(con):
        con.execute("DELETE FROM ohlcv WHERE ticker = ?", [ticker]).fetchall()
        insert_frame(con, "ohlcv", frame)
        if revision is not None:
            record = pd.DataFrame([{**revision, "ticker": ticker, "recorded_at": now}])
            insert_frame(con, "price_revisions", record, or_replace=True)
        if corrections is not None and len(corrections):
            insert_frame(con, "price_corrections", corrections.assign(seen_at=now))
    return len(frame)


def read_revisions(con: Connection, ticker: str | None = None) -> pd.DataFrame:
    where = "WHERE ticker = ?" if ticker else ""
    return con.execute(
        f"SELECT * FROM price_revisions {where} ORDER BY ticker, detected_on, ex_date",
        [ticker] if ticker else [],
    ).df()
