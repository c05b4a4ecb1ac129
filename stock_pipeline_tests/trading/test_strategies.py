"""The strategy registry: every entry is simulated under its stored name, a new strategy is
one function and one entry, and each target's forecasts are traded by its own rule."""

from __future__ import annotations

import numpy as np
import pytest

from stock_pipeline.settings import BacktestSettings
from stock_pipeline.trading import strategies
from stock_pipeline.trading.strategies import STRATEGIES, Orders, StrategyInputs, run_strategies
from stock_pipeline_tests.trading.test_backtest import path_from_closes, random_walk

PLAIN = BacktestSettings(
    cost_bps=0, slippage_bps=0, threshold_bps=0, stop_loss=None, max_drawdown_stop=None
)


def test_the_stored_strategy_rows_are_the_registry_in_its_order() -> None:
    path = random_walk(30, seed=1)
    sims = run_strategies(path, {"lstm": np.full(30, 0.01)}, PLAIN)
    assert list(sims) == ["lstm", "naive", "buy_and_hold"] == list(STRATEGIES)


def test_a_new_strategy_is_one_function_and_one_entry(monkeypatch) -> None:
    def always_short(inputs: StrategyInputs) -> Orders:
        return Orders(-np.ones(len(inputs.path.dates)), risk_controls=False, sized=False)

    monkeypatch.setitem(STRATEGIES, "always_short", always_short)
    path = path_from_closes([100.0, 110.0, 121.0])  # opens = closes: trades at the open
    sims = run_strategies(path, {"lstm": np.zeros(3)}, PLAIN)
    short = sims["always_short"]
    assert short.position.tolist() == [-1.0, -1.0]
    # entered at 110 (the open of D_1), short through 110 -> 121: equity 1 - 0.1
    assert short.equity.tolist() == pytest.approx([1.0, 0.9])


@pytest.mark.parametrize("target", ["return", "price", "direction"])
def test_the_naive_strategy_never_trades_on_a_signal_target(target: str) -> None:
    """Naive forecasts no change; on a direction target that is not a probability of 0
    (which would short every session) but no bet at all."""
    path = random_walk(40, seed=2)
    settings = PLAIN.model_copy(update={"rule": "long_short"})
    forecasts = {"lstm": np.full(40, 0.9), "naive": np.zeros(40)}
    sims = run_strategies(path, forecasts, settings, target, horizon=1)
    assert not sims["naive"].position.any()
    assert sims["lstm"].position.tolist() == [1.0] * 39  # it bets on the forecast


def test_a_variance_forecast_sizes_a_long_position_by_its_own_forecast() -> None:
    path = random_walk(6, seed=3)
    daily = 0.15**2 / 252  # a variance whose annual volatility is exactly the 15% target
    lstm = np.array([daily, 4 * daily, np.nan, daily / 4, daily, daily])
    naive = np.full(6, 4 * daily)
    sims = run_strategies(path, {"lstm": lstm, "naive": naive}, PLAIN, "volatility")
    # decided at each close, held from the next bar: 15% over its volatility, capped at 1
    assert sims["lstm"].position.tolist() == pytest.approx([1.0, 0.5, 0.0, 1.0, 1.0])
    assert sims["naive"].position.tolist() == pytest.approx([0.5] * 5)
    assert sims["buy_and_hold"].position.tolist() == [1.0] * 5


def test_direction_is_traded_on_its_probability_and_return_on_its_threshold() -> None:
    settings = PLAIN.model_copy(update={"rule": "long_short", "direction_margin": 0.05})
    p = np.array([0.56, 0.5, 0.44, np.nan])
    assert strategies.raw_signal(p, settings, "direction").tolist() == [1, 0, -1, 0]
    # the same numbers as returns: all clear a zero threshold on their sign
    assert strategies.raw_signal(p - 0.5, settings, "return").tolist() == [1, 0, -1, 0]
