"""Reads and writes of the pooled cross-sectional model (``stock_pipeline.universe``):
every ticker's stored closes as one panel, and the three ``universe_*`` tables, each
replaced per as-of date in one transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd

from stock_pipeline.warehouse.connection import Connection, insert_frame, transaction
from stock_pipeline.warehouse.schema import INDICATOR_COLUMNS

UNIVERSE_TABLES = ("universe_predictions", "universe_backtest_daily", "universe_backtest_metrics")


def stored_tickers(con: Connection) -> list[str]:
    """Every ticker with a stored bar (the universe when no registry is given)."""
    return [t for (t,) in con.execute("SELECT DISTINCT ticker FROM ohlcv ORDER BY 1").fetchall()]


def read_universe_rows(
    con: Connection, tickers: Sequence[str], end: dt.date, columns: Sequence[str] = ()
) -> pd.DataFrame:
    """date, ticker, adj_close (and the named ``indicators`` columns) of ``tickers`` for
    every stored session up to ``end``, oldest first: nothing dated after ``end``."""
    unknown = [c for c in columns if c not in INDICATOR_COLUMNS]
    if unknown:
        raise ValueError(
            f"universe.features: {unknown} are not indicators columns; known: "
            f"log_return, {', '.join(INDICATOR_COLUMNS)}"
        )
    extra = "".join(f", i.{c}" for c in columns)
    join = " LEFT JOIN indicators i USING (ticker, date)" if columns else ""
    frame = con.execute(
        f"SELECT o.date, o.ticker, o.adj_close{extra} FROM ohlcv o{join} "
        "WHERE o.date <= ? AND list_contains(?, o.ticker) ORDER BY o.date, o.ticker",
        [end, list(tickers)],
    ).df()
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def replace_universe(con: Connection, asof: dt.date, frames: dict[str, pd.DataFrame]) -> None:
    """Replace the rows of ``asof`` in each named ``universe_*`` table, in one transaction."""
    with transaction(con):
        for table, frame in frames.items():
            if table not in UNIVERSE_TABLES:
                raise ValueError(f"{table} is not a universe table ({UNIVERSE_TABLES})")
            con.execute(f"DELETE FROM {table} WHERE asof_date = ?", [asof]).fetchall()
            if not frame.empty:
                insert_frame(con, table, frame)


def prune_prediction_histories(con: Connection, keep: int) -> int:
    """Keep the whole prediction history of the ``keep`` newest as-of dates; older ones
    keep only the ranking made on their own date. Returns the rows deleted."""
    with transaction(con):
        deleted = con.execute(
            "DELETE FROM universe_predictions WHERE date <> asof_date AND asof_date < ("
            "SELECT min(asof_date) FROM (SELECT DISTINCT asof_date FROM universe_predictions "
            "ORDER BY asof_date DESC LIMIT ?))",
            [keep],
        ).fetchall()
    return int(deleted[0][0]) if deleted else 0


def read_universe_predictions(con: Connection, asof: dt.date, model: str = "lstm") -> pd.DataFrame:
    """date, ticker, probability, rank of the predictions stored as of ``asof``."""
    frame = con.execute(
        "SELECT date, ticker, probability, rank FROM universe_predictions "
        "WHERE asof_date = ? AND model = ? ORDER BY date, rank",
        [asof, model],
    ).df()
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def read_universe_table(con: Connection, table: str, asof: dt.date) -> pd.DataFrame:
    """Every row of one ``universe_*`` table as of ``asof``."""
    if table not in UNIVERSE_TABLES:
        raise ValueError(f"{table} is not a universe table ({UNIVERSE_TABLES})")
    return con.execute(f"SELECT * FROM {table} WHERE asof_date = ?", [asof]).df()
