"""The feature columns the network can be fed (``features.columns``): one function each
of the joined ohlcv + indicators frame, and the registry ``FEATURES``.

Every column is scale-free (a ratio, a return, a bounded oscillator), so a ticker's
price level does not matter, and causal (row t uses bars dated <= t). A new column is
one function here and one entry in ``FEATURES``; the indicators it reads are the columns
of the ``indicators`` table (``warehouse/schema.py``). No keras here.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

Frame = pd.DataFrame


def log_return(f: Frame) -> pd.Series:
    return f["log_return"]


def close_to_sma_20(f: Frame) -> pd.Series:
    return f["close"] / f["sma_20"] - 1


def close_to_sma_50(f: Frame) -> pd.Series:
    return f["close"] / f["sma_50"] - 1


def macd_hist_rel(f: Frame) -> pd.Series:
    return f["macd_hist"] / f["close"]


def rsi_14(f: Frame) -> pd.Series:
    return f["rsi_14"] / 100 - 0.5


def bb_pctb(f: Frame) -> pd.Series:
    return f["bb_pctb"]


def bb_width(f: Frame) -> pd.Series:
    return f["bb_width"] / 100


def atr_rel(f: Frame) -> pd.Series:
    return f["atr_14"] / f["close"]


def volatility_20(f: Frame) -> pd.Series:
    return f["volatility_20"]


def stoch_k(f: Frame) -> pd.Series:
    return f["stoch_k"] / 100 - 0.5


def volume_change(f: Frame) -> pd.Series:
    """The log change in volume (+1 on both sides, so a zero-volume day stays finite)."""
    return np.log((f["volume"] + 1) / (f["volume"].shift(1) + 1))


def range_rel(f: Frame) -> pd.Series:
    return (f["high"] - f["low"]) / f["close"]


#: Feature name -> its function of the joined frame.
FEATURES: dict[str, Callable[[Frame], pd.Series]] = {
    "log_return": log_return,
    "close_to_sma_20": close_to_sma_20,
    "close_to_sma_50": close_to_sma_50,
    "macd_hist_rel": macd_hist_rel,
    "rsi_14": rsi_14,
    "bb_pctb": bb_pctb,
    "bb_width": bb_width,
    "atr_rel": atr_rel,
    "volatility_20": volatility_20,
    "stoch_k": stoch_k,
    "volume_change": volume_change,
    "range_rel": range_rel,
}
