"""Synthetic universes for the pooled model's tests, and the SMALL settings they run
under (sequences of 20, study periods of 150 + 50 sessions, 8 units, a few epochs): the
defaults (240, 750 + 250, 25 units) are for the benchmark."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from stock_pipeline.settings import Settings
from stock_pipeline.warehouse import WarehouseFile, connect, prices
from stock_pipeline_tests.support.synthetic import sessions

SMALL_UNIVERSE: dict = {
    "sequence_length": 20,
    "train_sessions": 150,
    "trade_sessions": 50,
    "lstm_units": 8,
    "dropout": 0.1,
    "learning_rate": 0.005,
    "batch_size": 128,
    # sequences: the default 64 stocks a step is an eighth of a 500-ticker universe; at
    # the tests' 16-30 tickers that is one step an epoch, so the step shrinks with them
    "sequence_batch": 8,
    "epochs": 8,
    "patience": 3,
    "k": 5,
}


def small_universe(settings: Settings, **changes) -> Settings:
    return settings.with_changes(universe={**SMALL_UNIVERSE, **changes})


def universe_returns(days: int, tickers: int, phi: float, seed: int, sigma: float = 0.01):
    """Log returns [days, tickers]: r[t+1, i] = -phi (r[t, i] - mean_j r[t, j]) + noise,
    a one-day cross-sectional reversal when phi > 0; independent random walks at 0."""
    rng = np.random.default_rng(seed)
    r = rng.normal(0, sigma, (days, tickers))
    for t in range(1, days):
        r[t] -= phi * (r[t - 1] - r[t - 1].mean())
    return r


def bars_of(returns: np.ndarray, start: dt.date = dt.date(2016, 1, 4)) -> pd.DataFrame:
    """A plain OHLCV frame whose adj_close has the given log returns (close = adj_close)."""
    close = 50 * np.exp(np.cumsum(returns))
    return pd.DataFrame(
        {
            "date": pd.to_datetime(sessions(len(returns), start)),
            "open": close,
            "high": close * 1.001,
            "low": close * 0.999,
            "close": close,
            "adj_close": close,
            "volume": 1e6,
        }
    )


def ticker_names(n: int) -> list[str]:
    return [f"S{i:02d}" for i in range(n)]


def store_universe(path: Path, returns: np.ndarray, spans: dict | None = None) -> WarehouseFile:
    """Write each column as a ticker's bars (``spans``: ticker -> (first, last) row kept,
    for tickers that enter late or leave early)."""
    spans = spans or {}
    with connect(path) as con:
        for i, ticker in enumerate(ticker_names(returns.shape[1])):
            bars = bars_of(returns[:, i])
            first, last = spans.get(ticker, (0, len(bars) - 1))
            prices.upsert_ohlcv(con, ticker, bars.iloc[first : last + 1], "synthetic")
    return WarehouseFile(path)
