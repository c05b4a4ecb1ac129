"""Backtest mechanics and metrics against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stock_pipeline.settings import BacktestSettings
from stock_pipeline.trading import backtest, strategies

FREE = BacktestSettings(cost_bps=0, slippage_bps=0, threshold_bps=0)


def path_from_closes(closes, opens=None, vol=0.01) -> backtest.MarketPath:
    closes = np.asarray(closes, float)
    opens = closes if opens is None else np.asarray(opens, float)
    dates = (np.datetime64("2020-01-01") + np.arange(len(closes))).astype("datetime64[D]")
    return backtest.MarketPath(dates, opens, closes, np.full(len(closes), vol))


def random_walk(n: int, seed: int) -> backtest.MarketPath:
    rng = np.random.default_rng(seed)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    opens = closes * np.exp(rng.normal(0, 0.003, n))
    return path_from_closes(closes, opens)


def test_every_metric_by_hand() -> None:
    r = np.array([0.01, -0.02, 0.03, 0.0, -0.01])
    equity = np.cumprod(1 + r)
    sim = backtest.Simulation(
        dates=np.arange(5),
        position=np.array([1.0, 1.0, 0.0, 0.0, 1.0]),
        returns=r,
        equity=equity,
        costs=np.array([0.001, 0.0, 0.001, 0.0, 0.001]),
        in_market=np.array([True, True, True, False, True]),
    )
    settings = BacktestSettings(risk_free_rate=0.0)
    m = backtest.metrics(sim, settings)
    mean = sum(r) / 5
    sd = math.sqrt(sum((x - mean) ** 2 for x in r) / 4)
    final = (1.01) * (0.98) * (1.03) * (1.0) * (0.99)
    assert m["total_return"] == pytest.approx(final - 1)
    assert m["cagr"] == pytest.approx(final ** (252 / 5) - 1)
    assert m["volatility"] == pytest.approx(sd * math.sqrt(252))
    assert m["sharpe"] == pytest.approx(mean / sd * math.sqrt(252))
    downside = math.sqrt((0.02**2 + 0.01**2) / 5)
    assert m["sortino"] == pytest.approx(mean / downside * math.sqrt(252))
    # peak 1.01 after day 1; trough 1.01*0.98 = 0.9898 -> -2%
    assert m["max_drawdown"] == pytest.approx(0.98 - 1)
    assert m["calmar"] == pytest.approx(m["cagr"] / 0.02)
    # days 2.. : 0.9898, 1.019494 (new peak), 1.019494 (equal: not below), 1.00930 -> runs 1, 1
    assert m["max_drawdown_days"] == 1
    assert m["win_rate"] == pytest.approx(2 / 4)  # in-market days 1,2,3,5: +, -, +, -
    assert m["profit_factor"] == pytest.approx(0.04 / 0.03)
    assert m["exposure"] == pytest.approx(3 / 5)
    assert m["turnover"] == pytest.approx(1 + 1 + 1)  # 0->1, 1->0, 0->1
    assert m["trades"] == 3
    assert m["costs"] == pytest.approx(0.003)


def test_risk_free_rate_is_converted_to_daily() -> None:
    r = np.array([0.001, 0.002, -0.001, 0.003])
    sim = backtest.Simulation(
        np.arange(4), np.ones(4), r, np.cumprod(1 + r), np.zeros(4), np.ones(4, bool)
    )
    m = backtest.metrics(sim, BacktestSettings(risk_free_rate=0.05))
    ex = r - (1.05 ** (1 / 252) - 1)
    assert m["sharpe"] == pytest.approx(ex.mean() / ex.std(ddof=1) * math.sqrt(252))


def test_signal_is_traded_one_bar_later() -> None:
    closes = [100, 101, 102, 103, 104, 105]
    path = path_from_closes(closes, opens=[100, *closes[:-1]])  # each bar opens at the last close
    signal = np.array([0, 1, 0, 0, 1, 0], float)
    sim = backtest.simulate(path, signal, FREE)
    # the signal of day i is the position of day i+1
    np.testing.assert_array_equal(sim.position, [0, 1, 0, 0, 1])
    # no overnight gaps here, so the long days earn exactly their bars: 101->102, 104->105
    np.testing.assert_allclose(sim.returns, [0, 102 / 101 - 1, 0, 0, 105 / 104 - 1])


@pytest.mark.parametrize("execution", ["next_open", "next_close"])
def test_a_forecast_that_peeks_at_its_own_bar_earns_nothing(execution) -> None:
    settings = FREE.model_copy(update={"execution": execution, "rule": "long_short"})
    walk = random_walk(4000, seed=1)
    path = path_from_closes(walk.close, opens=np.r_[walk.close[0], walk.close[:-1]])
    own_bar = np.r_[0, np.diff(np.log(path.close))]  # known at the close that makes the signal
    honest = backtest.simulate(path, strategies.raw_signal(own_bar, settings), settings)
    t_stat = honest.returns.mean() / honest.returns.std(ddof=1) * math.sqrt(len(honest.returns))
    assert abs(t_stat) < 3
    # Contrast: a signal that knows the bar it will be traded on earns a fortune, so the
    # simulator does reward foresight; the honest peek above had none to use.
    if execution == "next_open":
        traded_bar = np.r_[np.log(path.close[1:] / path.open[1:]), 0]
    else:
        traded_bar = np.r_[own_bar[2:], 0, 0]
    cheat = backtest.simulate(path, strategies.raw_signal(traded_bar, settings), settings)
    assert backtest.metrics(cheat, settings)["sharpe"] > 5


def test_costs_reduce_equity_by_exactly_the_expected_factor() -> None:
    path = random_walk(60, seed=2)
    signal = (np.arange(60) % 7 < 3).astype(float)
    costly = BacktestSettings(cost_bps=7, slippage_bps=3, threshold_bps=0)
    free, paid = backtest.simulate(path, signal, FREE), backtest.simulate(path, signal, costly)
    np.testing.assert_array_equal(free.position, paid.position)
    changes = np.abs(np.diff(np.r_[0, free.position]))
    factor = np.cumprod(1 - changes * 10 / 1e4)
    np.testing.assert_allclose(paid.equity, free.equity * factor, rtol=1e-12)
    assert paid.costs.sum() > 0 and free.costs.sum() == 0


def test_flat_strategy_is_flat() -> None:
    path = random_walk(100, seed=3)
    sim = backtest.simulate(path, np.zeros(100), BacktestSettings())
    m = backtest.metrics(sim, BacktestSettings())
    assert m["exposure"] == 0 and m["costs"] == 0 and m["trades"] == 0
    assert (sim.equity == 1.0).all() and m["total_return"] == 0


def test_threshold_covers_round_trip_costs_by_default() -> None:
    s = BacktestSettings(cost_bps=5, slippage_bps=5)
    assert s.threshold == pytest.approx(20 / 1e4)
    np.testing.assert_array_equal(
        strategies.raw_signal(np.array([0.001, 0.0021, -0.003]), s), [0, 1, 0]
    )
    ls = s.model_copy(update={"rule": "long_short"})
    np.testing.assert_array_equal(
        strategies.raw_signal(np.array([0.001, 0.0021, -0.003]), ls), [0, 1, -1]
    )


def test_stop_loss_exits_and_waits_for_a_fresh_signal() -> None:
    closes = [100, 100, 100, 90, 89, 88, 95, 96, 97]
    path = path_from_closes(closes)
    signal = np.array([1, 1, 1, 1, 1, 0, 1, 1, 1], float)
    settings = FREE.model_copy(update={"stop_loss": 0.05})
    sim = backtest.simulate(path, signal, settings)
    # long from day 1; the close of day 3 is 10% below entry -> flat from day 4 on, and the
    # long signal may come back only after it went away (signal 0 at day 5 -> long day 7)
    np.testing.assert_array_equal(sim.position, [1, 1, 1, 0, 0, 0, 1, 1])
    assert sim.stops == 1


def test_drawdown_breaker_goes_flat_then_reenters() -> None:
    closes = [100, 100, 80, 79, 78, 80, 82, 84, 86, 88]
    path = path_from_closes(closes)
    settings = FREE.model_copy(update={"max_drawdown_stop": 0.1, "breaker_cooldown": 3})
    sim = backtest.simulate(path, np.ones(10), settings)
    # -20% on day 2 trips the breaker: flat for 3 sessions (days 3-5), long again on day 6
    np.testing.assert_array_equal(sim.position, [1, 1, 0, 0, 0, 1, 1, 1, 1])
    assert sim.breaker_trips == 1


def test_volatility_targeting_caps_the_position() -> None:
    path = path_from_closes(np.full(5, 100.0), vol=0.02)  # ~31.7% annualised
    s = BacktestSettings(sizing="vol_target", target_volatility=0.15, max_position=1.0)
    assert backtest.position_size(path, 0, s) == pytest.approx(0.15 / (0.02 * math.sqrt(252)))
    calm = path_from_closes(np.full(5, 100.0), vol=0.001)
    assert backtest.position_size(calm, 0, s) == 1.0


def test_a_flat_strategy_has_no_risk_adjusted_ratio_even_with_a_risk_free_rate() -> None:
    path = random_walk(60, seed=3)
    flat = backtest.simulate(path, np.zeros(60), FREE)
    m = backtest.metrics(flat, BacktestSettings(risk_free_rate=0.04))
    # excess returns are the constant -rf: no risk taken, so neither ratio is defined
    # (Sortino's downside deviation would be rf itself and give -sqrt(252))
    assert math.isnan(m["sharpe"]) and math.isnan(m["sortino"])


def test_direction_forecasts_are_traded_on_a_probability_margin() -> None:
    settings = BacktestSettings(rule="long_short")  # threshold: 2 x (5 + 5) bp = 0.002
    p = np.array([0.503, 0.55, 0.61, 0.39, 0.45, np.nan])
    mean_abs = np.full(6, 0.01)
    # expected h-day return of the bet (2p - 1) x 1% must clear 0.2%: a margin of 0.1
    signal = strategies.raw_signal(p, settings, "direction", mean_abs)
    assert signal.tolist() == [0, 0, 1, -1, 0, 0]
    fixed = BacktestSettings(rule="long_short", direction_margin=0.04)
    assert strategies.raw_signal(p, fixed, "direction", mean_abs).tolist() == [0, 1, 1, -1, -1, 0]
    # a return forecast keeps its own units: the threshold is a log return
    r = np.array([0.0019, 0.0021, -0.0021, np.nan])
    assert strategies.raw_signal(r, settings, "return").tolist() == [0, 1, -1, 0]


def test_mean_absolute_h_day_return_uses_only_past_closes() -> None:
    close = np.array([100.0, 101, 99, 102, 102])
    out = strategies.mean_abs_return(close, horizon=2, sessions=2)
    assert np.isnan(out[:2]).all()
    assert out[2] == pytest.approx(abs(math.log(99 / 100)))
    assert out[3] == pytest.approx((abs(math.log(99 / 100)) + abs(math.log(102 / 101))) / 2)
    changed = close.copy()
    changed[4] = 500  # a later close does not move earlier values
    np.testing.assert_array_equal(strategies.mean_abs_return(changed, 2, 2)[:4], out[:4])


def test_an_h_day_forecast_holds_its_position_h_sessions() -> None:
    path = random_walk(12, seed=4)
    signal = np.zeros(12)
    signal[2] = 1.0  # one long signal at the close of D_2
    sim = backtest.simulate(path, signal, BacktestSettings(), hold=3)
    # entered at D_3's open and held D_3, D_4, D_5 (three sessions), then flat
    assert sim.position.tolist() == [0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    assert np.count_nonzero(sim.costs) == 2  # one round trip for one 3-day forecast
    one_day = backtest.simulate(path, signal, BacktestSettings(), hold=1)
    assert one_day.position.tolist() == [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]


def test_a_resized_position_keeps_its_entry_price_for_the_stop_loss() -> None:
    # vol targeting resizes the long position every day; the stop-loss must measure the
    # loss from where the long was entered, not from the last resize
    closes = [100, 100, 98, 96.5, 95.5, 94.5, 94.0, 93.5]
    path = path_from_closes(closes)
    path.volatility[:] = np.array([0.01, 0.011, 0.012, 0.013, 0.014, 0.015, 0.016, 0.017])
    settings = BacktestSettings(
        cost_bps=0,
        slippage_bps=0,
        threshold_bps=0,
        sizing="vol_target",
        stop_loss=0.05,
        target_volatility=0.1,
    )
    sim = backtest.simulate(path, np.ones(8), settings)
    # entered at 100 (D_1's open); 94.5 at D_5's close is 5.5% below: stopped at D_6
    assert sim.stops == 1
    assert sim.position[4] > 0 and sim.position[5] == 0
