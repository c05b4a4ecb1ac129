"""Feature rows as of a date d (``windowed_tensors``): computed from bars and indicators
dated <= d, stored once, read back as a ``FeatureTable``. No keras here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from stock_pipeline.forecasting.features import (
    FeatureError,
    FeatureTable,
    adjusted_ohlc,
    build_feature_table,
)
from stock_pipeline.market_data.indicators import WARMUP_BARS
from stock_pipeline.settings import FeatureSettings, Settings
from stock_pipeline.warehouse import Connection, prices
from stock_pipeline.warehouse import features as stored_features


def feature_set_id(features: FeatureSettings) -> str:
    """Stored feature rows depend on the columns only (window/target are applied later)."""
    return Settings(features=FeatureSettings(columns=features.columns)).fingerprint("features")


@dataclass
class FeatureRowsResult:
    ticker: str
    asof: dt.date
    feature_set: str
    rows_total: int
    rows_new: int
    rows_recomputed: int  # stored rows that no longer matched their bars (a re-based history)
    bytes_stored: int
    first_date: dt.date
    windows_available: int


def update_feature_rows(
    con: Connection, ticker: str, asof: dt.date, features: FeatureSettings
) -> FeatureRowsResult:
    """Compute the ticker's feature rows up to ``asof``; store the new ones and every
    stored one that no longer matches (windows are built as views when training).

    Rows are causal, so a stored row changes only when its bars change: after a re-based
    history, or a corrected bar.
    """
    joined = prices.read_bars_with_indicators(con, ticker, end=asof)
    if joined.empty or joined["date"].iloc[-1].date() != asof:
        last = joined["date"].iloc[-1].date() if not joined.empty else None
        raise FeatureError(
            f"{ticker}: no indicator row on {asof} (latest: {last}); materialize "
            "raw_ohlcv and indicators for that date first"
        )
    table = build_feature_table(ticker, joined, features, asof)
    if not len(table):
        raise FeatureError(
            f"{ticker}: {len(joined)} session(s) of bars up to {asof}, all inside the "
            f"indicators' warm-up ({WARMUP_BARS - 10} sessions before the first feature row); "
            "materialize a longer history (the model needs several hundred sessions)"
        )
    fs = feature_set_id(features)
    stored_features.register_feature_set(
        con, fs, features.columns, features.window, features.horizon, features.target
    )
    new, changed = _rows_to_write(table, stored_features.read_features(con, ticker, fs, asof))
    write = new | changed
    dates = [d.item() for d in table.dates[write]]
    stored_features.upsert_features(con, ticker, fs, dates, table.values[write])
    return FeatureRowsResult(
        ticker=ticker,
        asof=asof,
        feature_set=fs,
        rows_total=len(table),
        rows_new=int(new.sum()),
        rows_recomputed=int(changed.sum()),
        bytes_stored=int(table.values[write].nbytes),
        first_date=table.dates[0].item(),
        windows_available=max(len(table) - features.window + 1, 0),
    )


def _rows_to_write(table: FeatureTable, stored: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(rows not stored yet, stored rows whose values differ), as masks over ``table``."""
    position = {d: i for i, d in enumerate(stored["date"].to_numpy().astype("datetime64[D]"))}
    at = np.array([position.get(d, -1) for d in table.dates])
    new = at < 0
    changed = np.zeros(len(table), dtype=bool)
    if (~new).any():
        old = np.vstack(stored["x"].to_numpy()[at[~new]]).astype("float64")
        changed[~new] = (old != table.values[~new]).any(axis=1)
    return new, changed


def load_feature_table(
    con: Connection, ticker: str, asof: dt.date, features: FeatureSettings
) -> FeatureTable:
    frame = stored_features.read_features(con, ticker, feature_set_id(features), asof)
    if frame.empty or frame["date"].iloc[-1].date() != asof:
        raise FeatureError(
            f"{ticker}: no feature row on {asof}; materialize windowed_tensors for that date first"
        )
    return FeatureTable(
        ticker=ticker,
        dates=frame["date"].to_numpy().astype("datetime64[D]"),
        values=np.vstack(frame["x"].to_numpy()).astype("float64"),
        columns=tuple(features.columns),
        log_return=frame["log_return"].to_numpy(dtype="float64"),
        adj_close=frame["adj_close"].to_numpy(dtype="float64"),
        ohlc=adjusted_ohlc(frame),
    )
