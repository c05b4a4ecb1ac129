"""The DuckDB warehouse: schema, transactional upserts and reads. No Dagster here.

Every write is an upsert keyed by the table's primary key inside one
transaction: rematerializing a partition replaces its rows, never duplicates
them, and a failure rolls back to the rows that were there before.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

INDICATOR_COLUMNS: list[str] = [
    "sma_20",
    "sma_50",
    "ema_12",
    "ema_26",
    "macd",
    "macd_signal",
    "macd_hist",
    "rsi_14",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "bb_pctb",
    "bb_width",
    "atr_14",
    "obv",
    "stoch_k",
    "stoch_d",
    "log_return",
    "volatility_20",
]

TABLES: dict[str, str] = {
    "ohlcv": """
        CREATE TABLE IF NOT EXISTS ohlcv (
            ticker VARCHAR NOT NULL,
            date DATE NOT NULL,
            open DOUBLE NOT NULL,
            high DOUBLE NOT NULL,
            low DOUBLE NOT NULL,
            close DOUBLE NOT NULL,
            adj_close DOUBLE NOT NULL,
            volume DOUBLE NOT NULL,
            source VARCHAR NOT NULL,
            ingested_at TIMESTAMP NOT NULL,
            PRIMARY KEY (ticker, date)
        )""",
    "indicators": f"""
        CREATE TABLE IF NOT EXISTS indicators (
            ticker VARCHAR NOT NULL,
            date DATE NOT NULL,
            {", ".join(f"{c} DOUBLE" for c in INDICATOR_COLUMNS)},
            PRIMARY KEY (ticker, date)
        )""",
}

LOCK_RETRY_SECONDS = 60.0


def _is_lock_error(exc: Exception) -> bool:
    return "lock" in str(exc).lower()


@contextmanager
def connect(path: Path | str, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse, creating the schema. Waits while another process holds the lock.

    DuckDB allows one writing process per file; Dagster pools serialize our own
    writers, and this wait covers a UI or notebook that holds the file briefly.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + LOCK_RETRY_SECONDS
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only and path.exists())
            break
        except duckdb.IOException as exc:
            if not _is_lock_error(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    try:
        if not read_only:
            ensure_schema(con)
        yield con
    finally:
        con.close()


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    for ddl in TABLES.values():
        con.execute(ddl)


def upsert_frame(
    con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, key: Sequence[str]
) -> int:
    """Insert or replace ``frame``'s rows in ``table`` atomically; returns rows written."""
    if frame.empty:
        return 0
    columns = list(frame.columns)
    missing = [k for k in key if k not in columns]
    if missing:
        raise ValueError(f"upsert into {table}: frame lacks key columns {missing}")
    con.register("_incoming", frame)
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            col_list = ", ".join(columns)
            con.execute(
                f"INSERT OR REPLACE INTO {table} ({col_list}) SELECT {col_list} FROM _incoming"
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    finally:
        con.unregister("_incoming")
    return len(frame)


def upsert_ohlcv(
    con: duckdb.DuckDBPyConnection,
    ticker: str,
    bars: pd.DataFrame,
    source: str,
    ingested_at: dt.datetime | None = None,
) -> int:
    frame = bars[["date", "open", "high", "low", "close", "adj_close", "volume"]].copy()
    frame.insert(0, "ticker", ticker)
    frame["date"] = pd.to_datetime(frame["date"]).dt.date
    frame["source"] = source
    frame["ingested_at"] = ingested_at or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return upsert_frame(con, "ohlcv", frame, ["ticker", "date"])


def upsert_indicators(con: duckdb.DuckDBPyConnection, ticker: str, table: pd.DataFrame) -> int:
    frame = table[["date", *INDICATOR_COLUMNS]].copy()
    frame.insert(0, "ticker", ticker)
    frame["date"] = pd.to_datetime(frame["date"]).dt.date
    return upsert_frame(con, "indicators", frame, ["ticker", "date"])


def _date_filter(start: dt.date | None, end: dt.date | None) -> tuple[str, list[object]]:
    clauses, params = [], []
    if start is not None:
        clauses.append("date >= ?")
        params.append(start)
    if end is not None:
        clauses.append("date <= ?")
        params.append(end)
    return "".join(f" AND {c}" for c in clauses), params


def read_ohlcv(
    con: duckdb.DuckDBPyConnection,
    ticker: str,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> pd.DataFrame:
    """Stored bars of one ticker, oldest first, with ``date`` as a Timestamp column."""
    where, params = _date_filter(start, end)
    frame = con.execute(
        f"SELECT date, open, high, low, close, adj_close, volume, source FROM ohlcv "
        f"WHERE ticker = ?{where} ORDER BY date",
        [ticker, *params],
    ).df()
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def read_indicators(
    con: duckdb.DuckDBPyConnection,
    ticker: str,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> pd.DataFrame:
    where, params = _date_filter(start, end)
    frame = con.execute(
        f"SELECT date, {', '.join(INDICATOR_COLUMNS)} FROM indicators "
        f"WHERE ticker = ?{where} ORDER BY date",
        [ticker, *params],
    ).df()
    frame["date"] = pd.to_datetime(frame["date"])
    return frame
