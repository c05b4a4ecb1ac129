"""Synthetic market data for tests and benchmarks: plausible OHLCV on NYSE sessions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from stock_pipeline.market_data.calendar import trading_days


def synthetic_bars(
    n: int, seed: int = 0, start: dt.date = dt.date(2016, 1, 4), drift: float = 0.0003
) -> pd.DataFrame:
    """A plausible random-walk OHLCV history on consecutive NYSE sessions."""
    rng = np.random.default_rng(seed)
    days = trading_days(start, start + dt.timedelta(days=2 * n + 30))[:n]
    returns = rng.normal(drift, 0.012, n)
    close = 100 * np.exp(np.cumsum(returns))
    open_ = close * np.exp(rng.normal(0, 0.004, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.006, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.006, n)))
    volume = rng.integers(1_000_000, 5_000_000, n).astype(float)
    return pd.DataFrame(
        {
            "date": pd.to_datetime(days),
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "adj_close": close * 0.98,
            "volume": volume,
        }
    )


def write_csv(folder: Path, ticker: str, bars: pd.DataFrame) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{ticker}.csv"
    out = bars.rename(
        columns={
            "date": "Date",
            "open": "Open",
            "high": "High",
            "low": "Low",
            "close": "Close",
            "adj_close": "Adj Close",
            "volume": "Volume",
        }
    )
    out["Date"] = pd.to_datetime(out["Date"]).dt.strftime("%Y-%m-%d")
    out.to_csv(path, index=False)
    return path
