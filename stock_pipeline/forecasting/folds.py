"""Folds: when a model is trained, and which forecasts it makes.

The one forecasting procedure, used by the deployed model (``lstm_model``) and by the
walk-forward evaluation alike: sessions are cut into folds of ``retrain_every`` sessions
on the exchange calendar; at the first session of a fold a model is trained from scratch
on the windows whose targets are known ``embargo`` (>= h) sessions before it, and that
model makes every forecast of the fold. So the forecast stored for (ticker, d) is the
walk-forward's prediction for d once d's outcome is known.

The grid counts sessions from a fixed epoch, so fold boundaries do not move when history
grows; each ticker's grid is shifted by an offset derived from its symbol (``stagger``),
so that a universe of tickers does not retrain on the same night.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from functools import cache

import numpy as np

from stock_pipeline.forecasting.features import FeatureTable, rows_needed
from stock_pipeline.market_data.calendar import trading_days
from stock_pipeline.settings import Settings

GRID_EPOCH = dt.date(1970, 1, 2)


@dataclass(frozen=True)
class Fold:
    key: int  # the fold's number on the ticker's session grid (stable as history grows)
    start_row: int  # its first forecast origin, a row of the feature table
    train_first_end: int  # the first training window's end row
    train_last_end: int  # the last training window's end row (target known by start_row)

    def start_date(self, table: FeatureTable) -> str:
        return str(table.dates[self.start_row])


def embargo_of(settings: Settings) -> int:
    e, h = settings.model.embargo, settings.features.horizon
    return max(h, e if e is not None else h)


def first_origin(settings: Settings) -> int:
    """The first row that can be a forecast origin: enough training windows before it."""
    fs, ms = settings.features, settings.model
    need = rows_needed(fs.window, fs.horizon, ms.min_train_samples, ms.validation_fraction)
    # need counts rows up to the last training label; origins follow after the embargo
    return need - 1 + embargo_of(settings)


def ticker_offset(ticker: str, settings: Settings) -> int:
    if not settings.model.stagger:
        return 0
    digest = hashlib.sha256(ticker.encode()).digest()
    return int.from_bytes(digest[:8], "big") % settings.model.retrain_every


@cache
def _sessions(exchange: str, last: dt.date) -> np.ndarray:
    return np.array(trading_days(GRID_EPOCH, last, exchange), dtype="datetime64[D]")


def fold_keys(table: FeatureTable, settings: Settings) -> np.ndarray:
    """The fold number of every row: sessions since the epoch, shifted, // retrain_every."""
    if not len(table):
        return np.empty(0, dtype=int)
    last = table.dates[-1].astype(dt.date)
    year_end = dt.date(last.year, 12, 31)  # one calendar per year keeps the cache small
    sessions = _sessions(settings.exchange, year_end)
    number = np.searchsorted(sessions, table.dates)
    return (number + ticker_offset(table.ticker, settings)) // settings.model.retrain_every


def fold_of(table: FeatureTable, key: int, keys: np.ndarray, settings: Settings) -> Fold:
    """Fold ``key``: it starts at its first row, or at the first possible origin."""
    start = max(int(np.searchsorted(keys, key)), first_origin(settings))
    fs, ms = settings.features, settings.model
    last_end = start - embargo_of(settings) - fs.horizon
    first_end = fs.window - 1
    if ms.window_kind == "rolling":
        first_end = max(first_end, last_end - ms.rolling_sessions + 1)
    return Fold(key, start, first_end, last_end)


def folds_of_origins(
    table: FeatureTable, origins: np.ndarray, settings: Settings
) -> list[tuple[Fold, np.ndarray]]:
    """The folds holding ``origins`` (rows at or after ``first_origin``), each with its
    origins, in time order."""
    keys = fold_keys(table, settings)
    out = []
    for key in np.unique(keys[origins]):
        fold = fold_of(table, int(key), keys, settings)
        out.append((fold, origins[keys[origins] == key]))
    return out


def span_origins(asof_row: int, settings: Settings) -> np.ndarray:
    """Origins the walk-forward scores as of ``asof_row``: the last ``span_sessions``
    whose outcome is known (t + h <= asof_row), none before ``first_origin``."""
    last = asof_row - settings.features.horizon
    span = settings.evaluation.span_sessions
    first = first_origin(settings) if span is None else max(first_origin(settings), last - span + 1)
    return np.arange(first, last + 1)
