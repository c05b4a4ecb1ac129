"""Synthetic market data for tests and benchmarks: plausible OHLCV on NYSE sessions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from stock_pipeline.forecasting.features import FeatureTable, build_feature_table
from stock_pipeline.market_data.calendar import trading_days
from stock_pipeline.market_data.indicators import compute_indicators


def ar_returns(n: int, phi: float, seed: int, sigma: float = 0.01) -> np.ndarray:
    """r[t] = phi r[t-1] + e[t], e ~ N(0, sigma^2): a planted, learnable signal if phi != 0."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, sigma, n)
    r = np.zeros(n)
    for t in range(1, n):
        r[t] = phi * r[t - 1] + noise[t]
    return r


def sessions(n: int, start: dt.date = dt.date(2016, 1, 4)) -> list[dt.date]:
    # ~252 sessions in 365 days: 1.5 calendar days a session is always enough, and stays
    # inside the exchange calendar's bounds for 20-year histories
    return trading_days(start, start + dt.timedelta(days=int(1.5 * n) + 30))[:n]


def synthetic_bars(
    n: int,
    seed: int = 0,
    start: dt.date = dt.date(2016, 1, 4),
    drift: float = 0.0003,
    returns: np.ndarray | None = None,
) -> pd.DataFrame:
    """A plausible OHLCV history on consecutive NYSE sessions: a random walk, or the
    given daily log ``returns`` of the close."""
    rng = np.random.default_rng(seed)
    days = sessions(n, start)
    if returns is None:
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


def feature_table_of(ticker: str, bars: pd.DataFrame, settings) -> FeatureTable:
    """The feature table the product builds from ``bars`` (indicators, then features)."""
    joined = bars.merge(compute_indicators(bars), on="date")
    return build_feature_table(ticker, joined, settings.features)


def ar_table(n: int, phi: float, seed: int, ticker: str = "AR") -> FeatureTable:
    """One feature, the AR(1) log return itself, on NYSE sessions."""
    r = ar_returns(n, phi, seed)
    dates = np.array(sessions(n), dtype="datetime64[D]")
    return FeatureTable(
        ticker, dates, r[:, None].copy(), ("log_return",), r, 100 * np.exp(np.cumsum(r))
    )
