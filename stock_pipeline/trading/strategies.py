"""The backtest's strategies: each turns the forecasts into the orders ``backtest.simulate``
trades, and ``STRATEGIES`` lists them (the names are the ``strategy`` rows stored and
reported). A new strategy is one function of ``StrategyInputs`` and one entry there.

How a model's forecasts become a signal is the target's (``Target.traded_as``): return
and price forecasts (as h-day log returns) go long above the threshold and short below
its negative; a probability of an up move goes long or short when it clears 0.5 by the
margin; a variance forecast has no direction and sizes a volatility-targeted long
position instead. No Dagster here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from stock_pipeline.forecasting.targets import TARGETS, Target
from stock_pipeline.settings import BacktestSettings
from stock_pipeline.trading.backtest import MarketPath, Simulation, simulate

Sides = tuple[np.ndarray, np.ndarray]  # (long, short) masks


@dataclass(frozen=True)
class StrategyInputs:
    """What every strategy is given: the sessions, each model's forecasts in the units its
    target trades (one per session of ``path``, NaN where none was made), the target."""

    path: MarketPath
    forecasts: dict[str, np.ndarray]
    target: Target
    settings: BacktestSettings
    horizon: int


@dataclass(frozen=True)
class Orders:
    """A strategy's side per session (decided at its close) and how ``simulate`` trades it."""

    signal: np.ndarray
    sizes: np.ndarray | None = None  # one per session; replaces settings.sizing
    risk_controls: bool = True
    sized: bool = True
    hold: int = 1  # sessions a new side is held


def return_sides(
    forecast: np.ndarray, settings: BacktestSettings, mean_abs_return: np.ndarray | None
) -> Sides:
    """h-day log return forecasts: long above the threshold, short below its negative."""
    r = np.nan_to_num(forecast, nan=0.0)
    return r > settings.threshold, r < -settings.threshold


def probability_sides(
    forecast: np.ndarray, settings: BacktestSettings, mean_abs_return: np.ndarray | None
) -> Sides:
    """A probability p of an up move: long when p exceeds 0.5 by the margin, short when it
    falls short of 0.5 by it; the margin is ``direction_margin``, or else the one at which
    the expected h-day return of the bet, (2p - 1) x the mean absolute h-day return known
    that day, equals the threshold."""
    p = np.nan_to_num(forecast, nan=0.5)
    margin = settings.direction_margin
    if margin is None:
        scale = np.nan_to_num(mean_abs_return, nan=np.inf)
        margin = np.where(scale > 0, settings.threshold / (2 * scale), np.inf)
    return p > 0.5 + margin, p < 0.5 - margin


#: The sides of each signal-traded ``Target.traded_as``.
SIDES: dict[str, Callable[[np.ndarray, BacktestSettings, np.ndarray | None], Sides]] = {
    "return": return_sides,
    "probability": probability_sides,
}


def raw_signal(
    forecast: np.ndarray,
    settings: BacktestSettings,
    target: str = "return",
    mean_abs_return: np.ndarray | None = None,
) -> np.ndarray:
    """-1/0/+1 from forecasts in the units ``target`` trades (NaN: no forecast, stay
    flat); long only unless ``settings.rule`` is long_short."""
    long, short = SIDES[TARGETS[target].traded_as](forecast, settings, mean_abs_return)
    if settings.rule == "long_short":
        return long.astype(float) - short.astype(float)
    return long.astype(float)


def mean_abs_return(close: np.ndarray, horizon: int, sessions: int = 252) -> np.ndarray:
    """The mean absolute h-day log return over the trailing ``sessions``, known at each
    close (NaN until a first h-day return exists)."""
    ret = np.full(len(close), np.nan)
    ret[horizon:] = np.abs(np.log(close[horizon:] / close[:-horizon]))
    return pd.Series(ret).rolling(sessions, min_periods=1).mean().to_numpy()


def volatility_sizes(variance: np.ndarray, settings: BacktestSettings, horizon: int) -> np.ndarray:
    """The long position a forecast h-day variance calls for: target_volatility over the
    annualized volatility it implies, capped at max_position (0 where there is none)."""
    v = np.asarray(variance, float)
    annual = np.sqrt(np.where(v > 0, v, np.nan) / horizon * settings.periods_per_year)
    size = np.minimum(settings.max_position, settings.target_volatility / annual)
    return np.nan_to_num(size, nan=0.0)


def traded(forecast: np.ndarray, inputs: StrategyInputs) -> Orders:
    """The orders one model's forecasts call for under the target's rule: a signal held
    for the horizon, or a variance-sized long position re-sized each session."""
    if inputs.target.traded_as == "variance":
        sizes = volatility_sizes(forecast, inputs.settings, inputs.horizon)
        return Orders((sizes > 0).astype(float), sizes=sizes)
    scale = mean_abs_return(inputs.path.close, inputs.horizon)
    signal = raw_signal(forecast, inputs.settings, inputs.target.name, scale)
    return Orders(signal, hold=inputs.horizon)


def network_strategy(inputs: StrategyInputs) -> Orders:
    """The network's forecasts, traded by the target's rule."""
    return traded(inputs.forecasts["lstm"], inputs)


def naive_strategy(inputs: StrategyInputs) -> Orders:
    """The same rule on the naive forecast: no change (a zero return, which never clears
    the threshold, so it never trades), or for a variance the naive model's forecast."""
    if inputs.target.traded_as == "variance":
        return traded(inputs.forecasts["naive"], inputs)
    flat = np.zeros(len(inputs.path.dates))
    return Orders(raw_signal(flat, inputs.settings), hold=inputs.horizon)


def buy_and_hold_strategy(inputs: StrategyInputs) -> Orders:
    """Long one unit from the first session on, without risk controls or sizing."""
    return Orders(np.ones(len(inputs.path.dates)), risk_controls=False, sized=False)


#: Strategy name (the stored ``strategy`` row) -> how its orders are made.
STRATEGIES: dict[str, Callable[[StrategyInputs], Orders]] = {
    "lstm": network_strategy,
    "naive": naive_strategy,
    "buy_and_hold": buy_and_hold_strategy,
}

#: The strategies in the order tables and charts show them.
STRATEGY_NAMES: tuple[str, ...] = tuple(STRATEGIES)


def run_strategies(
    path: MarketPath,
    forecasts: dict[str, np.ndarray],
    settings: BacktestSettings,
    target: str = "return",
    horizon: int = 1,
) -> dict[str, Simulation]:
    """Every strategy of ``STRATEGIES`` simulated over ``path``; ``forecasts``: model ->
    its forecast per session in the units ``target`` trades (``Target.traded_forecast``)."""
    inputs = StrategyInputs(path, forecasts, TARGETS[target], settings, horizon)
    out = {}
    for name, strategy in STRATEGIES.items():
        orders = strategy(inputs)
        out[name] = simulate(
            path,
            orders.signal,
            settings,
            risk_controls=orders.risk_controls,
            sized=orders.sized,
            hold=orders.hold,
            sizes=orders.sizes,
        )
    return out
