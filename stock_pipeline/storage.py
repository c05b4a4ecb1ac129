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
import numpy as np
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

TABLES["features"] = """
        CREATE TABLE IF NOT EXISTS features (
            ticker VARCHAR NOT NULL,
            feature_set VARCHAR NOT NULL,
            date DATE NOT NULL,
            x DOUBLE[] NOT NULL,
            PRIMARY KEY (ticker, feature_set, date)
        )"""
TABLES["feature_sets"] = """
        CREATE TABLE IF NOT EXISTS feature_sets (
            feature_set VARCHAR PRIMARY KEY,
            columns VARCHAR[] NOT NULL,
            window_length INTEGER NOT NULL,
            horizon INTEGER NOT NULL,
            target_kind VARCHAR NOT NULL
        )"""
TABLES["forecasts"] = """
        CREATE TABLE IF NOT EXISTS forecasts (
            ticker VARCHAR NOT NULL,
            asof_date DATE NOT NULL,
            target_date DATE NOT NULL,
            target_kind VARCHAR NOT NULL,
            predicted DOUBLE NOT NULL,
            model_version VARCHAR NOT NULL,
            PRIMARY KEY (ticker, asof_date, target_kind)
        )"""

TABLES["predictions"] = """
        CREATE TABLE IF NOT EXISTS predictions (
            ticker VARCHAR NOT NULL,
            date DATE NOT NULL,
            fold INTEGER NOT NULL,
            model VARCHAR NOT NULL,
            predicted DOUBLE,
            actual DOUBLE NOT NULL,
            asof_date DATE NOT NULL,
            target_date DATE NOT NULL,
            PRIMARY KEY (ticker, asof_date, model, date)
        )"""
TABLES["evaluation_metrics"] = """
        CREATE TABLE IF NOT EXISTS evaluation_metrics (
            ticker VARCHAR NOT NULL,
            asof_date DATE NOT NULL,
            model VARCHAR NOT NULL,
            fold INTEGER,
            metric VARCHAR NOT NULL,
            value DOUBLE
        )"""

TABLES["backtest_daily"] = """
        CREATE TABLE IF NOT EXISTS backtest_daily (
            ticker VARCHAR NOT NULL,
            date DATE NOT NULL,
            asof_date DATE NOT NULL,
            strategy VARCHAR NOT NULL,
            position DOUBLE NOT NULL,
            "return" DOUBLE NOT NULL,
            equity DOUBLE NOT NULL,
            PRIMARY KEY (ticker, asof_date, strategy, date)
        )"""
TABLES["backtest_metrics"] = """
        CREATE TABLE IF NOT EXISTS backtest_metrics (
            ticker VARCHAR NOT NULL,
            asof_date DATE NOT NULL,
            strategy VARCHAR NOT NULL,
            metric VARCHAR NOT NULL,
            value DOUBLE,
            PRIMARY KEY (ticker, asof_date, strategy, metric)
        )"""
TABLES["backtest_summary"] = """
        CREATE TABLE IF NOT EXISTS backtest_summary (
            ticker VARCHAR PRIMARY KEY,
            asof_date DATE NOT NULL,
            skill DOUBLE,
            dm_pvalue DOUBLE,
            lstm_sharpe DOUBLE,
            naive_sharpe DOUBLE,
            buy_and_hold_sharpe DOUBLE,
            rank_skill INTEGER,
            rank_sharpe INTEGER,
            lost_to_naive BOOLEAN,
            lost_to_buy_and_hold BOOLEAN,
            report_path VARCHAR
        )"""

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
            ).fetchall()  # DuckDB 2 wants every result consumed before the next statement
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    finally:
        con.unregister("_incoming")
    return len(frame)


def replace_asof(
    con: duckdb.DuckDBPyConnection,
    tables: dict[str, pd.DataFrame],
    ticker: str,
    asof: dt.date,
) -> dict[str, int]:
    """Replace every row of (ticker, asof_date) in each table, all in one transaction."""
    written = {}
    con.execute("BEGIN TRANSACTION")
    try:
        for table, frame in tables.items():
            con.execute(
                f"DELETE FROM {table} WHERE ticker = ? AND asof_date = ?", [ticker, asof]
            ).fetchall()
            if not frame.empty:
                con.register("_incoming", frame)
                cols = ", ".join(f'"{c}"' for c in frame.columns)
                con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _incoming").fetchall()
                con.unregister("_incoming")
            written[table] = len(frame)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return written


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


def _dated(con: duckdb.DuckDBPyConnection, sql: str, params: list[object]) -> pd.DataFrame:
    """Run a query whose ``date`` column comes back as a Timestamp column."""
    frame = con.execute(sql, params).df()
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def read_ohlcv(
    con: duckdb.DuckDBPyConnection,
    ticker: str,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> pd.DataFrame:
    """Stored bars of one ticker, oldest first, with ``date`` as a Timestamp column."""
    where, params = _date_filter(start, end)
    return _dated(
        con,
        f"SELECT date, open, high, low, close, adj_close, volume, source FROM ohlcv "
        f"WHERE ticker = ?{where} ORDER BY date",
        [ticker, *params],
    )


def read_indicators(
    con: duckdb.DuckDBPyConnection,
    ticker: str,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> pd.DataFrame:
    where, params = _date_filter(start, end)
    return _dated(
        con,
        f"SELECT date, {', '.join(INDICATOR_COLUMNS)} FROM indicators "
        f"WHERE ticker = ?{where} ORDER BY date",
        [ticker, *params],
    )


def upsert_features(
    con: duckdb.DuckDBPyConnection,
    ticker: str,
    feature_set: str,
    dates: Sequence[dt.date],
    values: np.ndarray,
) -> int:
    frame = pd.DataFrame(
        {
            "ticker": ticker,
            "feature_set": feature_set,
            "date": list(dates),
            "x": np.asarray(values, dtype="float64").tolist(),
        }
    )
    return upsert_frame(con, "features", frame, ["ticker", "feature_set", "date"])


def read_features(
    con: duckdb.DuckDBPyConnection, ticker: str, feature_set: str, end: dt.date
) -> pd.DataFrame:
    """Stored feature rows up to ``end`` with the adj_close and log_return of each date."""
    return _dated(
        con,
        """
        SELECT f.date, f.x, o.adj_close, i.log_return
        FROM features f
        JOIN ohlcv o USING (ticker, date)
        JOIN indicators i USING (ticker, date)
        WHERE f.ticker = ? AND f.feature_set = ? AND f.date <= ?
        ORDER BY f.date
        """,
        [ticker, feature_set, end],
    )


def read_joined(
    con: duckdb.DuckDBPyConnection, ticker: str, end: dt.date | None = None
) -> pd.DataFrame:
    """ohlcv joined with indicators for one ticker, oldest first."""
    where, params = _date_filter(None, end)
    return _dated(
        con,
        f"SELECT o.date, o.open, o.high, o.low, o.close, o.adj_close, o.volume, "
        f"{', '.join('i.' + c for c in INDICATOR_COLUMNS)} "
        f"FROM ohlcv o JOIN indicators i USING (ticker, date) "
        f"WHERE o.ticker = ?{where.replace('date', 'o.date')} ORDER BY o.date",
        [ticker, *params],
    )
