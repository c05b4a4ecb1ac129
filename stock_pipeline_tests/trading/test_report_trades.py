"""The trade list: runs of one-sided positions of a real simulation on a hand-made price
path, with entry/exit prices and P&L checked against the telescoped price ratios."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from stock_pipeline.settings import BacktestSettings
from stock_pipeline.trading import backtest
from stock_pipeline.trading.report.trades import trade_list, trade_summary

DATES = pd.bdate_range("2024-03-01", periods=12)  # D_0..D_11
OPEN = np.array([100, 101, 103, 102, 106, 105, 104, 108, 110, 109, 111, 113], float)
CLOSE = np.array([100.5, 102, 102.5, 105, 105.5, 104, 107, 109, 109.5, 110, 112, 112.5])
# decided at the close of D_i, held from D_{i+1}: positions at D_1..D_11 are SIGNAL[:-1]
SIGNAL = np.array([1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1, 0], float)
COST = 0.001  # 5 bps commission + 5 bps slippage per unit traded


def simulated(execution: str, signal: np.ndarray = SIGNAL, rule: str = "long_flat"):
    path = backtest.MarketPath(
        DATES.values.astype("datetime64[D]"), OPEN, CLOSE, np.full(12, np.nan)
    )
    settings = BacktestSettings(execution=execution, cost_bps=5, slippage_bps=5, rule=rule)
    sim = backtest.simulate(path, signal, settings, risk_controls=False)
    daily = pd.DataFrame(
        {"date": pd.DatetimeIndex(sim.dates), "position": sim.position, "return": sim.returns}
    )
    bars = pd.DataFrame({"date": DATES, "open": OPEN, "close": CLOSE})
    return daily, bars, sim


@pytest.mark.parametrize("execution", ["next_open", "next_close"])
def test_trades_of_a_simulated_long_flat_path(execution: str) -> None:
    daily, bars, sim = simulated(execution)
    trades = trade_list(daily, bars, execution)
    price = OPEN if execution == "next_open" else CLOSE
    # held at D_1..D_3 (exit at D_4's bar), D_6..D_7 (exit at D_8), D_11 (still open)
    assert trades["side"].tolist() == ["long"] * 3
    assert trades["entry_date"].tolist() == [DATES[1], DATES[6], DATES[11]]
    assert trades["exit_date"].iloc[:2].tolist() == [DATES[4], DATES[8]]
    assert pd.isna(trades["exit_date"].iloc[2]) and trades["is_open"].tolist() == [0, 0, 1]
    np.testing.assert_array_equal(trades["entry_price"], price[[1, 6, 11]])
    np.testing.assert_array_equal(trades["exit_price"].iloc[:2], price[[4, 8]])
    assert trades["sessions"].tolist() == [3, 2, 0]
    assert trades["days"].tolist() == [(DATES[4] - DATES[1]).days, (DATES[8] - DATES[6]).days, 0]
    # a unit position bought and sold at the execution prices, paying the cost twice
    round_trip = [
        (1 - COST) ** 2 * price[4] / price[1] - 1,
        (1 - COST) ** 2 * price[8] / price[6] - 1,
    ]
    np.testing.assert_allclose(trades["pnl"].iloc[:2], round_trip, rtol=1e-12)
    # the open trade is marked at the last close, after paying its entry cost
    np.testing.assert_allclose(trades["pnl"].iloc[2], (1 - COST) * CLOSE[11] / price[11] - 1)
    # flat sessions earn nothing, so the trades compound to the strategy's final equity
    assert np.prod(1 + trades["pnl"]) == pytest.approx(sim.equity[-1], rel=1e-12)
    assert not trades["reversal"].any()


def test_a_reversal_is_the_exit_of_one_trade_and_the_entry_of_the_next() -> None:
    signal = np.array([1, 1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0], float)
    daily, bars, sim = simulated("next_close", signal, rule="long_short")
    trades = trade_list(daily, bars, "next_close")
    assert trades["side"].tolist() == ["long", "short"]
    assert trades["entry_date"].tolist() == [DATES[1], DATES[3]]
    assert trades["exit_date"].tolist() == [DATES[3], DATES[5]]
    assert trades["reversal"].tolist() == [False, True]
    # the reversal session (the long's last move, then 2 units traded at its close)
    # belongs to the long; the short earns from D_3's close to D_5's and pays its exit
    long_pnl = (1 - COST) * CLOSE[3] / CLOSE[1] * (1 - 2 * COST) - 1
    assert trades["pnl"].iloc[0] == pytest.approx(long_pnl, rel=1e-12)
    short_pnl = (2 - CLOSE[4] / CLOSE[3]) * (2 - CLOSE[5] / CLOSE[4]) * (1 - COST) - 1
    assert trades["pnl"].iloc[1] == pytest.approx(short_pnl, rel=1e-12)
    assert np.prod(1 + trades["pnl"]) == pytest.approx(sim.equity[-1], rel=1e-12)


def test_resizes_stay_in_one_trade_and_prices_need_bars() -> None:
    dates = pd.bdate_range("2024-01-01", periods=6)
    frame = pd.DataFrame(
        {
            "date": dates,
            "position": [0.0, 0.5, 1.0, 0.7, 0.0, -0.4],
            "return": [0.0, 0.01, -0.02, 0.03, 0.004, -0.01],
        }
    )
    trades = trade_list(frame)  # no bars: no prices
    assert trades["side"].tolist() == ["long", "short"]
    assert trades["sessions"].tolist() == [3, 0]
    assert trades["pnl"].iloc[0] == pytest.approx(1.01 * 0.98 * 1.03 * 1.004 - 1)
    assert trades["pnl"].iloc[1] == pytest.approx(-0.01)
    assert trades["entry_price"].isna().all() and trades["exit_price"].isna().all()
    summary = trade_summary(trades)
    assert summary["trades"] == 2 and summary["open"] == 1
    assert summary["winners"] == 1.0 and summary["mean_sessions"] == 3.0
    assert summary["mean_pnl"] == pytest.approx(trades["pnl"].iloc[0])


def test_no_trades_and_bad_input() -> None:
    dates = pd.bdate_range("2024-01-01", periods=3)
    flat = pd.DataFrame({"date": dates, "position": 0.0, "return": 0.0})
    assert trade_list(flat).empty
    assert math.isnan(trade_summary(trade_list(flat))["winners"])
    with pytest.raises(ValueError, match="NaN"):
        trade_list(flat.assign(position=[0.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match="execution"):
        trade_list(flat, execution="next_week")
    bars = pd.DataFrame({"date": [dates[0], dates[0]], "open": [1.0, 2.0], "close": [1.0, 2.0]})
    with pytest.raises(ValueError, match="more than one row"):
        trade_list(flat, bars)
