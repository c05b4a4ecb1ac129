"""Data-quality rules behind the asset checks: each returns what breaks the rule."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from stock_pipeline.market_data.calendar import trading_days
from stock_pipeline.market_data.indicators import FIRST_VALID_ROW
from stock_pipeline.warehouse import Connection, prices
from stock_pipeline.warehouse.prices import duplicate_dates, latest_bar_dates, ohlc_violations

__all__ = [
    "duplicate_dates",
    "latest_bar_dates",
    "non_finite_after_warmup",
    "ohlc_violations",
    "trading_day_gaps",
]


def trading_day_gaps(con: Connection, ticker: str, exchange: str = "XNYS") -> list[dt.date]:
    """Exchange sessions between the ticker's first and last stored bar that have no bar."""
    bars = prices.read_ohlcv(con, ticker)
    if bars.empty:
        return []
    have = set(bars["date"].dt.date)
    return [d for d in trading_days(min(have), max(have), exchange) if d not in have]


def non_finite_after_warmup(con: Connection, ticker: str) -> dict[str, list[dt.date]]:
    """Indicator cells that are NULL/inf past their warm-up, by column (dates listed)."""
    table = prices.read_indicators(con, ticker)
    history_dates = prices.read_ohlcv(con, ticker)["date"]
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
