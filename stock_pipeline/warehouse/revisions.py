"""Reads and writes of changed history: corrected bars (``price_corrections``) and the
stored bars a revision check compares with a source."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd

from stock_pipeline.warehouse.connection import Connection, dated, insert_frame, transaction
from stock_pipeline.warehouse.prices import BAR_FIELDS, ohlcv_rows, stored_now


def upsert_corrected_bars(
    con: Connection, ticker: str, bars: pd.DataFrame, source: str, corrections: pd.DataFrame
) -> int:
    """Upsert ``bars`` of ``ticker`` and record the corrected ones (``price_corrections``
    columns but ``seen_at``) in one transaction."""
    now = stored_now()
    frame = ohlcv_rows(ticker, bars, source, now)
    with transaction(con):
        insert_frame(con, "ohlcv", frame, or_replace=True)
        if len(corrections):
            insert_frame(con, "price_corrections", corrections.assign(seen_at=now))
    return len(frame)


def read_corrections(con: Connection, ticker: str | None = None) -> pd.DataFrame:
    where = "WHERE ticker = ?" if ticker else ""
    return con.execute(
        f"SELECT * FROM price_corrections {where} ORDER BY ticker, seen_at, date",
        [ticker] if ticker else [],
    ).df()


def read_bars_between(
    con: Connection, tickers: Sequence[str], start: dt.date, end: dt.date
) -> pd.DataFrame:
    """Stored bars of ``tickers`` dated ``start..end``: ticker, date (a Timestamp), prices."""
    return dated(
        con,
        f"SELECT ticker, date, {', '.join(BAR_FIELDS)} FROM ohlcv "
        "WHERE ticker IN (SELECT unnest(?)) AND date BETWEEN ? AND ? ORDER BY ticker, date",
        [list(tickers), start, end],
    )


def stored_action_dates(con: Connection, ticker: str) -> list[dt.date]:
    """The dates of the splits and dividends stored for ``ticker`` (``corporate_actions``)."""
    rows = con.execute(
        "SELECT DISTINCT date FROM corporate_actions WHERE ticker = ? ORDER BY date", [ticker]
    ).fetchall()
    return [day for (day,) in rows]
