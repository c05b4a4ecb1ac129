"""Technical indicators computed with ``ta``, strictly causally.

Row i of the output depends on bars 0..i only: every ``ta`` call uses
``fillna=False`` (``fillna=True`` back-fills warm-up values from the future),
and the indicators that shift with full-series means (TRIX, KST, DPO, Vortex,
visual Ichimoku) and PSAR (positional writes, broken under pandas 3) are not
used. Rows inside an indicator's warm-up are NaN (NULL in DuckDB).

Prices: the level indicators use the bars as quoted that day (open/high/low/
close): a later dividend or split re-scales Yahoo's adjusted history, which would
make old values depend on events after their date. Returns use ``adj_close``,
whose day-over-day ratios do not change when history is re-adjusted.

EMA-based indicators and OBV remember the whole history, so a value depends on
where the stored history starts: compute from the ticker's full stored history
up to the day, never from a short slice, and one-day updates equal a backfill.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from ta.momentum import RSIIndicator, StochasticOscillator
from ta.trend import MACD, EMAIndicator, SMAIndicator
from ta.volatility import AverageTrueRange, BollingerBands
from ta.volume import OnBalanceVolumeIndicator

from stock_pipeline.warehouse.schema import INDICATOR_COLUMNS

SMA_WINDOWS = (20, 50)
EMA_WINDOWS = (12, 26)
MACD_SIGNAL = 9
RSI_WINDOW = 14
BB_WINDOW, BB_STD = 20, 2.0
ATR_WINDOW = 14
STOCH_WINDOW, STOCH_SMOOTH = 14, 3
VOLATILITY_WINDOW = 20

__all__ = ["FIRST_VALID_ROW", "INDICATOR_COLUMNS", "WARMUP_BARS", "compute_indicators"]

#: First row index (0-based) at which each indicator is defined.
FIRST_VALID_ROW: dict[str, int] = {
    "sma_20": 19,
    "sma_50": 49,
    "ema_12": 11,
    "ema_26": 25,
    "macd": 25,
    "macd_signal": 25 + MACD_SIGNAL - 1,
    "macd_hist": 25 + MACD_SIGNAL - 1,
    "rsi_14": RSI_WINDOW - 1,
    "bb_upper": BB_WINDOW - 1,
    "bb_middle": BB_WINDOW - 1,
    "bb_lower": BB_WINDOW - 1,
    "bb_pctb": BB_WINDOW - 1,
    "bb_width": BB_WINDOW - 1,
    "atr_14": ATR_WINDOW - 1,
    "obv": 0,
    "stoch_k": STOCH_WINDOW - 1,
    "stoch_d": STOCH_WINDOW + STOCH_SMOOTH - 2,
    "log_return": 1,
    "volatility_20": VOLATILITY_WINDOW,
}

#: Bars of history every indicator needs before it is defined, plus a margin.
WARMUP_BARS: int = max(FIRST_VALID_ROW.values()) + 1 + 10


def compute_indicators(bars: pd.DataFrame) -> pd.DataFrame:
    """Indicator table for one ticker's bars (sorted by date, one row per date).

    Returns ``date`` plus ``INDICATOR_COLUMNS``; infinities (e.g. a stochastic
    over a zero price range) are reported as NaN.
    """
    bars = bars.sort_values("date").reset_index(drop=True)
    high, low, close, volume = bars["high"], bars["low"], bars["close"], bars["volume"]
    out = pd.DataFrame({"date": pd.to_datetime(bars["date"])})

    for window in SMA_WINDOWS:
        out[f"sma_{window}"] = SMAIndicator(close, window, fillna=False).sma_indicator()
    for window in EMA_WINDOWS:
        out[f"ema_{window}"] = EMAIndicator(close, window, fillna=False).ema_indicator()
    macd = MACD(close, EMA_WINDOWS[1], EMA_WINDOWS[0], MACD_SIGNAL, fillna=False)
    out["macd"] = macd.macd()
    out["macd_signal"] = macd.macd_signal()
    out["macd_hist"] = macd.macd_diff()
    out["rsi_14"] = RSIIndicator(close, RSI_WINDOW, fillna=False).rsi()
    bands = BollingerBands(close, BB_WINDOW, BB_STD, fillna=False)
    out["bb_upper"] = bands.bollinger_hband()
    out["bb_middle"] = bands.bollinger_mavg()
    out["bb_lower"] = bands.bollinger_lband()
    out["bb_pctb"] = bands.bollinger_pband()
    out["bb_width"] = bands.bollinger_wband()  # percent of the middle band, as ta defines it
    if len(bars) >= ATR_WINDOW:
        out["atr_14"] = AverageTrueRange(
            high, low, close, ATR_WINDOW, fillna=False
        ).average_true_range()
    else:
        out["atr_14"] = np.nan  # ta indexes past the end on shorter histories
    out["obv"] = OnBalanceVolumeIndicator(close, volume, fillna=False).on_balance_volume()
    stoch = StochasticOscillator(high, low, close, STOCH_WINDOW, STOCH_SMOOTH, fillna=False)
    out["stoch_k"] = stoch.stoch()
    out["stoch_d"] = stoch.stoch_signal()
    log_return = np.log(bars["adj_close"] / bars["adj_close"].shift(1))
    out["log_return"] = log_return
    out["volatility_20"] = log_return.rolling(
        VOLATILITY_WINDOW, min_periods=VOLATILITY_WINDOW
    ).std()

    # ta writes 0.0 (not NaN) into ATR's warm-up; make every warm-up explicit.
    rows = np.arange(len(out))
    for column, first in FIRST_VALID_ROW.items():
        out.loc[rows < first, column] = np.nan
    values = out[INDICATOR_COLUMNS].astype("float64")
    out[INDICATOR_COLUMNS] = values.where(np.isfinite(values))
    return out
