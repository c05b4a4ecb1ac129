"""Indicator values against formulas written out here (not ``ta``), plus causality."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from stock_pipeline.market_data import ingest
from stock_pipeline.market_data.indicators import (
    FIRST_VALID_ROW,
    INDICATOR_COLUMNS,
    compute_indicators,
)
from stock_pipeline.warehouse import connect, prices
from stock_pipeline_tests.support.synthetic import synthetic_bars

N = 160


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return synthetic_bars(N, seed=7)


@pytest.fixture(scope="module")
def table(bars: pd.DataFrame) -> pd.DataFrame:
    return compute_indicators(bars)


def sma(x: np.ndarray, n: int) -> np.ndarray:
    out = np.full(len(x), np.nan)
    for i in range(n - 1, len(x)):
        out[i] = sum(x[i - n + 1 : i + 1]) / n
    return out


def ema(x: np.ndarray, n: int) -> np.ndarray:
    """EMA with alpha = 2/(n+1), seeded with the first defined value, shown from bar n-1."""
    alpha = 2 / (n + 1)
    out = np.full(len(x), np.nan)
    valid = np.flatnonzero(~np.isnan(x))
    first = valid[0]
    level = x[first]
    for count, i in enumerate(range(first, len(x)), start=1):
        if i > first:
            level = alpha * x[i] + (1 - alpha) * level
        if count >= n:
            out[i] = level
    return out


def wilder(x: np.ndarray, n: int) -> np.ndarray:
    """Wilder smoothing as ewm(alpha=1/n, adjust=False), seeded at x[0], shown from bar n-1."""
    out = np.full(len(x), np.nan)
    level = x[0]
    for i in range(len(x)):
        if i > 0:
            level = level + (x[i] - level) / n
        if i >= n - 1:
            out[i] = level
    return out


def test_warmup_rows_are_null_and_rest_finite(table: pd.DataFrame) -> None:
    for column, first in FIRST_VALID_ROW.items():
        assert table[column].iloc[:first].isna().all(), column
        assert np.isfinite(table[column].iloc[first:]).all(), column


def test_moving_averages_and_macd(bars: pd.DataFrame, table: pd.DataFrame) -> None:
    close = bars["close"].to_numpy()
    np.testing.assert_allclose(table["sma_20"], sma(close, 20), rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(table["sma_50"], sma(close, 50), rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(table["ema_12"], ema(close, 12), rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(table["ema_26"], ema(close, 26), rtol=1e-12, equal_nan=True)
    macd = ema(close, 12) - ema(close, 26)
    signal = ema(macd, 9)
    np.testing.assert_allclose(table["macd"], macd, rtol=1e-10, equal_nan=True)
    np.testing.assert_allclose(table["macd_signal"], signal, rtol=1e-10, equal_nan=True)
    np.testing.assert_allclose(table["macd_hist"], macd - signal, atol=1e-10, equal_nan=True)


def test_rsi_uses_wilder_smoothing(bars: pd.DataFrame, table: pd.DataFrame) -> None:
    close = bars["close"].to_numpy()
    change = np.diff(close, prepend=np.nan)
    gains = np.where(change > 0, change, 0.0)
    losses = np.where(change < 0, -change, 0.0)
    avg_gain, avg_loss = wilder(gains, 14), wilder(losses, 14)
    expected = 100 - 100 / (1 + avg_gain / avg_loss)
    np.testing.assert_allclose(table["rsi_14"], expected, rtol=1e-10, equal_nan=True)
    # Hand check of the definition on one row: RSI = 100 * avg_gain / (avg_gain + avg_loss).
    i = 100
    assert table["rsi_14"].iloc[i] == pytest.approx(
        100 * avg_gain[i] / (avg_gain[i] + avg_loss[i]), rel=1e-10
    )


def test_bollinger_bands_population_std(bars: pd.DataFrame, table: pd.DataFrame) -> None:
    close = bars["close"].to_numpy()
    for i in (19, 60, N - 1):
        window = close[i - 19 : i + 1]
        mid = window.mean()
        std = np.sqrt(((window - mid) ** 2).mean())  # ddof = 0
        upper, lower = mid + 2 * std, mid - 2 * std
        row = table.iloc[i]
        assert row["bb_middle"] == pytest.approx(mid, rel=1e-12)
        assert row["bb_upper"] == pytest.approx(upper, rel=1e-12)
        assert row["bb_lower"] == pytest.approx(lower, rel=1e-12)
        assert row["bb_pctb"] == pytest.approx((close[i] - lower) / (upper - lower), rel=1e-9)
        assert row["bb_width"] == pytest.approx(100 * (upper - lower) / mid, rel=1e-9)


def test_atr_is_wilder_average_of_true_range(bars: pd.DataFrame, table: pd.DataFrame) -> None:
    high, low, close = (bars[c].to_numpy() for c in ("high", "low", "close"))
    true_range = np.empty(N)
    true_range[0] = high[0] - low[0]
    for i in range(1, N):
        true_range[i] = max(
            high[i] - low[i], abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1])
        )
    atr = np.full(N, np.nan)
    atr[13] = true_range[:14].mean()
    for i in range(14, N):
        atr[i] = (atr[i - 1] * 13 + true_range[i]) / 14
    np.testing.assert_allclose(table["atr_14"], atr, rtol=1e-12, equal_nan=True)


def test_obv_stochastic_returns_volatility(bars: pd.DataFrame, table: pd.DataFrame) -> None:
    close, volume = bars["close"].to_numpy(), bars["volume"].to_numpy()
    obv = np.empty(N)
    obv[0] = volume[0]
    for i in range(1, N):
        obv[i] = obv[i - 1] + (-volume[i] if close[i] < close[i - 1] else volume[i])
    np.testing.assert_allclose(table["obv"], obv, rtol=1e-12)

    high, low = bars["high"].to_numpy(), bars["low"].to_numpy()
    k = np.full(N, np.nan)
    for i in range(13, N):
        lo, hi = low[i - 13 : i + 1].min(), high[i - 13 : i + 1].max()
        k[i] = 100 * (close[i] - lo) / (hi - lo)
    np.testing.assert_allclose(table["stoch_k"], k, rtol=1e-10, equal_nan=True)
    np.testing.assert_allclose(table["stoch_d"], sma(k, 3), rtol=1e-10, equal_nan=True)

    adj = bars["adj_close"].to_numpy()
    log_return = np.r_[np.nan, np.log(adj[1:] / adj[:-1])]
    np.testing.assert_allclose(table["log_return"], log_return, rtol=1e-12, equal_nan=True)
    i = 90
    window = log_return[i - 19 : i + 1]
    sample_std = np.sqrt(((window - window.mean()) ** 2).sum() / 19)  # ddof = 1
    assert table["volatility_20"].iloc[i] == pytest.approx(sample_std, rel=1e-10)
    assert np.isnan(table["volatility_20"].iloc[19])


def test_changing_bars_after_d_changes_nothing_up_to_d(bars: pd.DataFrame) -> None:
    cut = 120
    perturbed = bars.copy()
    rng = np.random.default_rng(1)
    for col in ("open", "high", "low", "close", "adj_close", "volume"):
        perturbed.loc[cut + 1 :, col] *= rng.uniform(0.5, 2.0, N - cut - 1)
    before = compute_indicators(bars).iloc[: cut + 1]
    after = compute_indicators(perturbed).iloc[: cut + 1]
    pd.testing.assert_frame_equal(before, after, check_exact=True)
    # ...and the perturbation does reach the later rows, so the comparison has teeth.
    later = compute_indicators(perturbed).iloc[cut + 1 :]
    assert not np.allclose(
        later["sma_20"], compute_indicators(bars).iloc[cut + 1 :]["sma_20"], equal_nan=True
    )


def test_nightly_update_equals_full_backfill(tmp_path) -> None:
    bars = synthetic_bars(300, seed=3)
    days = [d.date() for d in bars["date"]]
    with connect(tmp_path / "full.duckdb") as full:
        prices.upsert_ohlcv(full, "T", bars, "test")
        ingest.update_indicators(full, "T", days)
        expected = prices.read_indicators(full, "T")
    with connect(tmp_path / "nightly.duckdb") as nightly:
        prices.upsert_ohlcv(nightly, "T", bars.iloc[:250], "test")
        ingest.update_indicators(nightly, "T", days[:250])
        for i in range(250, 300):  # one session at a time, as the nightly schedule does
            prices.upsert_ohlcv(nightly, "T", bars.iloc[i : i + 1], "test")
            ingest.update_indicators(nightly, "T", [days[i]])
        got = prices.read_indicators(nightly, "T")
    assert len(got) == len(expected) == 300
    np.testing.assert_allclose(
        got[INDICATOR_COLUMNS].to_numpy(float),
        expected[INDICATOR_COLUMNS].to_numpy(float),
        rtol=0,
        atol=1e-9,
        equal_nan=True,
    )


def test_short_history_is_all_warmup() -> None:
    table = compute_indicators(synthetic_bars(5, seed=2))
    assert table["sma_20"].isna().all() and table["atr_14"].isna().all()
    assert table["log_return"].notna().sum() == 4
    assert dt.date(2016, 1, 4) == table["date"].iloc[0].date()
