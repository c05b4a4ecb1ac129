"""Feature rows as of a date d (``windowed_tensors``): computed from bars and indicators
dated <= d, stored once, read back as a ``FeatureTable``. No keras here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from stock_pipeline.forecasting.features import FeatureError, FeatureTable, build_feature_table
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
    bytes_stored: int
    first_date: dt.date
    windows_available: int


def update_feature_rows(
    con: Connection, ticker: str, asof: dt.date, features: FeatureSettings
) -> FeatureRowsResult:
    """Compute the ticker's feature rows up to ``asof`` and store the ones not yet stored.

    Rows are causal, so rows already stored never change; only windows' *spec* is kept
    (window length, horizon, target), and windows are built as views when training.
    """
    joined = prices.read_bars_with_indicators(con, ticker, end=asof)
    if joined.empty or joined["date"].iloc[-1].date() != asof:
        last = joined["date"].iloc[-1].date() if not joined.empty else None
        raise FeatureError(
            f"{ticker}: no indicator row on {asof} (latest: {last}); materialize "
            "raw_ohlcv and indicators for that date first"
        )
    table = build_feature_table(ticker, joined, features, asof)
    fs = feature_set_id(features)
    stored_features.register_feature_set(
        con, fs, features.columns, features.window, features.horizon, features.target
    )
    stored = stored_features.latest_feature_date(con, ticker, fs)
    start = 0 if stored is None else table.index_of(stored) + 1
    new_dates = [d.item() for d in table.dates[start:]]
    stored_features.upsert_features(con, ticker, fs, new_dates, table.values[start:])
    return FeatureRowsResult(
        ticker=ticker,
        asof=asof,
        feature_set=fs,
        rows_total=len(table),
        rows_new=len(new_dates),
        bytes_stored=int(table.values[start:].nbytes),
        first_date=table.dates[0].item(),
        windows_available=max(len(table) - features.window + 1, 0),
    )


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
    )
