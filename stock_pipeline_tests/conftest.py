"""Shared fixtures: a private data folder per test and synthetic market data."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stock_pipeline.calendar import trading_days

warnings.filterwarnings("ignore", module="dagster")


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


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """STOCK_PIPELINE_* pointed at a private folder; offline sample source by default."""
    folder = tmp_path / "data"
    monkeypatch.setenv("STOCK_PIPELINE_DATA_DIR", str(folder))
    monkeypatch.setenv("STOCK_PIPELINE_SOURCE", "sample")
    monkeypatch.delenv("STOCK_PIPELINE_WAREHOUSE", raising=False)
    monkeypatch.delenv("STOCK_PIPELINE_START", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return folder


@pytest.fixture
def csv_dir(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The csv source over an empty folder the test fills."""
    folder = tmp_path / "csv"
    folder.mkdir()
    monkeypatch.setenv("STOCK_PIPELINE_SOURCE", "csv")
    monkeypatch.setenv("STOCK_PIPELINE_CSV_DIR", str(folder))
    return folder


SMALL_MODEL_YAML = """
features:
  window: 10
model:
  lstm_units: [8]
  epochs: 4
  patience: 2
  batch_size: 32
  min_train_samples: 30
  retrain_every: 3
  fine_tune_epochs: 2
"""


@pytest.fixture
def small_model(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny LSTM configuration so tests train in seconds."""
    path = tmp_path / "settings.yaml"
    path.write_text(SMALL_MODEL_YAML)
    monkeypatch.setenv("STOCK_PIPELINE_CONFIG", str(path))
    return path
