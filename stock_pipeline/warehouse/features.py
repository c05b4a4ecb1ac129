"""Reads and writes of the model inputs: ``features`` rows and their ``feature_sets``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

from stock_pipeline.warehouse.connection import Connection, dated, upsert_frame


def register_feature_set(
    con: Connection,
    feature_set: str,
    columns: Sequence[str],
    window: int,
    horizon: int,
    target_kind: str,
) -> None:
    con.execute(
        "INSERT OR REPLACE INTO feature_sets VALUES (?, ?, ?, ?, ?)",
        [feature_set, list(columns), window, horizon, target_kind],
    ).fetchall()


def upsert_features(
    con: Connection,
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


def read_features(con: Connection, ticker: str, feature_set: str, end: dt.date) -> pd.DataFrame:
    """Stored feature rows up to ``end`` with the adj_close, log_return and (unadjusted)
    open/high/low/close of each date."""
    return dated(
        con,
        """
        SELECT f.date, f.x, o.adj_close, i.log_return, o.open, o.high, o.low, o.close
        FROM features f
        JOIN ohlcv o USING (ticker, date)
        JOIN indicators i USING (ticker, date)
        WHERE f.ticker = ? AND f.feature_set = ? AND f.date <= ?
        ORDER BY f.date
        """,
        [ticker, feature_set, end],
    )
