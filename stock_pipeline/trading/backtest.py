"""The backtest's simulation of one strategy's signal, with costs and a one-bar execution
delay, and its metrics; the strategies themselves are in ``strategies``.

No Dagster here. Timeline: the forecast made at the close of session t sets the
target position, which is traded at the *next* bar (open of t+1 by default, or
close of t+1), never on the bar that produced it. Costs (commission + slippage, in
basis points per unit of position changed) are charged as a fraction of equity at
the moment of each trade, so with costs c_i the equity is exactly the cost-free
equity times prod(1 - c_i).

The metric conventions are in ``CONVENTIONS`` (every report states them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from stock_pipeline.settings import BacktestSettings

CONVENTIONS = """\
- daily net returns r_i; 252 periods a year; the risk-free rate is annual and
  converted to daily as (1 + rf)^(1/252) - 1;
- volatility: sample standard deviation (ddof=1) of r_i x sqrt(252);
- sharpe: mean(r - rf_d) / std(r - rf_d, ddof=1) x sqrt(252);
- sortino: mean(r - rf_d) / sqrt(mean(min(r - rf_d, 0)^2)) x sqrt(252);
- total_return: final equity - 1 (equity starts at 1); cagr: final equity^(252/n) - 1
  over n daily returns; calmar: cagr / |max_drawdown|;
- max_drawdown: min over days of equity / running peak - 1, the starting equity 1
  counting as a peak (a negative fraction); max_drawdown_days: the longest run of
  consecutive sessions below a previous peak;
- win_rate: share of sessions in the market (a non-zero position at some time that
  day) with r > 0; profit_factor: sum of positive r / |sum of negative r|;
- exposure: mean |position| held at each close; turnover: sum of |position changes|
  (1.0 = one full position bought once); trades: sessions with a position change;
  costs: total paid, in units of the starting equity.
"""


@dataclass
class MarketPath:
    """Sessions D_0..D_n of the backtest with adjusted prices and known volatility."""

    dates: np.ndarray  # datetime64[D]
    open: np.ndarray  # adjusted with the day's adj_close/close factor
    close: np.ndarray  # adj_close
    volatility: np.ndarray  # volatility_20 at each close (NaN inside its warm-up)

    @classmethod
    def from_bars(cls, bars: pd.DataFrame) -> MarketPath:
        """``bars``: date, open, close, adj_close, volatility_20 (one row per session)."""
        factor = bars["adj_close"] / bars["close"]
        return cls(
            dates=bars["date"].to_numpy().astype("datetime64[D]"),
            open=(bars["open"] * factor).to_numpy(float),
            close=bars["adj_close"].to_numpy(float),
            volatility=bars["volatility_20"].to_numpy(float),
        )


def position_size(path: MarketPath, i: int, settings: BacktestSettings) -> float:
    if settings.sizing == "fixed":
        return settings.position_size
    vol = path.volatility[i] * math.sqrt(settings.periods_per_year)
    if not np.isfinite(vol) or vol <= 0:
        return 0.0
    return min(settings.max_position, settings.target_volatility / vol)


@dataclass
class Simulation:
    dates: np.ndarray  # D_1..D_n
    position: np.ndarray  # held at each close
    returns: np.ndarray  # net daily return
    equity: np.ndarray
    costs: np.ndarray  # paid each day, in starting-equity units
    in_market: np.ndarray  # a non-zero position at some time that day
    stops: int = 0
    breaker_trips: int = 0


@dataclass
class _State:
    """What the simulation carries from one session to the next."""

    pos: float = 0.0
    equity: float = 1.0
    peak: float = 1.0
    entry: float = math.nan  # the price at which the current side was entered
    stopped_side: float = 0.0  # a stopped-out side, blocked until the raw signal changes
    cooldown: int = 0  # sessions left flat after the breaker tripped
    hold_left: int = 0  # sessions a new side is held before the signal may change it
    stops: int = 0
    trips: int = 0


def simulate(
    path: MarketPath,
    signal: np.ndarray,
    settings: BacktestSettings,
    risk_controls: bool = True,
    sized: bool = True,
    hold: int = 1,
    sizes: np.ndarray | None = None,
) -> Simulation:
    """Trade ``signal[i]`` (decided at the close of D_i) at the next bar, D_{i+1}.

    ``signal`` has one entry per session of ``path``; the last is never traded. A new
    side is held ``hold`` sessions (the forecast horizon) unless a risk control exits.
    ``sizes`` (one per session, decided at its close) replaces ``settings.sizing``.
    """
    state = _State()
    out: dict[str, list] = {k: [] for k in ("pos", "ret", "eq", "cost", "in")}
    for i in range(1, len(path.dates)):
        side = _decide(float(signal[i - 1]), state, risk_controls, hold)
        if sizes is not None:
            size = float(sizes[i - 1])
        else:
            size = position_size(path, i - 1, settings) if sized else 1.0
        target = side * size
        before = state.equity
        cost, held_today = _execute(path, i, target, state, settings)
        for key, value in zip(
            out,
            (state.pos, state.equity / before - 1, state.equity, cost, held_today),
            strict=True,
        ):
            out[key].append(value)
        if risk_controls:
            _risk_controls(path, i, state, settings)
    return Simulation(
        dates=path.dates[1:],
        position=np.asarray(out["pos"]),
        returns=np.asarray(out["ret"]),
        equity=np.asarray(out["eq"]),
        costs=np.asarray(out["cost"]),
        in_market=np.asarray(out["in"], dtype=bool),
        stops=state.stops,
        breaker_trips=state.trips,
    )


def _decide(raw: float, state: _State, risk_controls: bool, hold: int) -> float:
    """The side chosen at the close of D_{i-1}, with information up to then."""
    current = math.copysign(1, state.pos) if state.pos else 0.0
    side = current if state.hold_left > 0 else raw
    if state.stopped_side and raw != state.stopped_side:
        state.stopped_side = 0.0
    if state.stopped_side and side == state.stopped_side:
        side = 0.0
    if risk_controls and state.cooldown > 0:
        side = 0.0
    state.hold_left = hold - 1 if side != current and side != 0 else max(state.hold_left - 1, 0)
    return side


def _execute(
    path: MarketPath, i: int, target: float, state: _State, settings: BacktestSettings
) -> tuple[float, bool]:
    """Move to ``target`` at D_i's bar; returns (cost paid, in the market that day)."""
    trade, c = abs(target - state.pos), settings.trade_cost
    new_side = target != 0 and math.copysign(1, target) != math.copysign(1, state.pos or 0.0)
    new_side = new_side or (target != 0 and state.pos == 0)
    if settings.execution == "next_open":
        at_trade = state.equity * (1 + state.pos * (path.open[i] / path.close[i - 1] - 1))
        cost = at_trade * trade * c
        state.equity = (at_trade - cost) * (1 + target * (path.close[i] / path.open[i] - 1))
        held_today = state.pos != 0 or target != 0
        price = path.open[i]
    else:  # next_close: hold through the day, trade at its close
        at_trade = state.equity * (1 + state.pos * (path.close[i] / path.close[i - 1] - 1))
        cost = at_trade * trade * c
        state.equity = at_trade - cost
        held_today = state.pos != 0
        price = path.close[i]
    if new_side:  # a resize of the same side keeps its entry price (for the stop-loss)
        state.entry = price
    state.pos = target
    return cost, held_today


def _risk_controls(path: MarketPath, i: int, state: _State, settings: BacktestSettings) -> None:
    """Evaluated at the close of D_i; they act at the next bar."""
    if state.cooldown > 0:
        state.cooldown -= 1
        if state.cooldown == 0:
            state.peak = state.equity  # the breaker's rule: re-enter with a fresh peak
    state.peak = max(state.peak, state.equity)
    limit = settings.max_drawdown_stop
    breached = limit is not None and state.equity / state.peak - 1 < -limit
    if breached and state.cooldown == 0 and state.pos != 0:
        state.trips += 1
        state.cooldown = settings.breaker_cooldown
    if settings.stop_loss and state.pos != 0 and np.isfinite(state.entry):
        move = math.copysign(1, state.pos) * (path.close[i] / state.entry - 1)
        if move < -settings.stop_loss:
            state.stops += 1
            state.stopped_side = math.copysign(1, state.pos)
            state.hold_left = 0


def longest_underwater(equity: np.ndarray) -> int:
    peak, run, best = 1.0, 0, 0
    for value in equity:
        if value < peak:
            run += 1
            best = max(best, run)
        else:
            peak, run = value, 0
    return best


def metrics(sim: Simulation, settings: BacktestSettings) -> dict[str, float]:
    r = sim.returns
    n = len(r)
    ppy = settings.periods_per_year
    rf_daily = (1 + settings.risk_free_rate) ** (1 / ppy) - 1
    excess = r - rf_daily
    final = float(sim.equity[-1]) if n else 1.0
    std = float(np.std(excess, ddof=1)) if n > 1 else math.nan
    downside = math.sqrt(float(np.mean(np.minimum(excess, 0) ** 2))) if n else math.nan
    running_peak = np.maximum.accumulate(np.concatenate([[1.0], sim.equity]))[1:]
    max_dd = float(np.min(sim.equity / running_peak - 1)) if n else 0.0
    cagr = final ** (ppy / n) - 1 if n and final > 0 else math.nan
    gains, losses = r[r > 0].sum(), r[r < 0].sum()
    changes = np.abs(np.diff(np.concatenate([[0.0], sim.position])))
    in_market = r[sim.in_market]
    return {
        "total_return": final - 1,
        "cagr": cagr,
        "volatility": float(np.std(r, ddof=1)) * math.sqrt(ppy) if n > 1 else math.nan,
        # a strategy that never takes risk (returns without variance) has no risk-adjusted
        # ratio: neither Sharpe nor Sortino (whose downside deviation would be just rf)
        "sharpe": float(np.mean(excess)) / std * math.sqrt(ppy) if std else math.nan,
        "sortino": (
            float(np.mean(excess)) / downside * math.sqrt(ppy) if downside and std else math.nan
        ),
        "calmar": cagr / abs(max_dd) if max_dd < 0 else math.nan,
        "max_drawdown": max_dd,
        "max_drawdown_days": float(longest_underwater(sim.equity)),
        "win_rate": float(np.mean(in_market > 0)) if len(in_market) else math.nan,
        "profit_factor": float(gains / -losses) if losses < 0 else math.nan,
        "exposure": float(np.mean(np.abs(sim.position))) if n else 0.0,
        "turnover": float(changes.sum()),
        "trades": float(np.count_nonzero(changes)),
        "costs": float(sim.costs.sum()),
    }
