"""Backtest of forecast-driven trading rules, with costs and a one-bar execution delay.

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

STRATEGIES = ("lstm", "naive", "buy_and_hold")

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


def raw_signal(predicted: np.ndarray, settings: BacktestSettings) -> np.ndarray:
    """-1/0/+1 from predicted h-day log returns (NaN: no forecast, stay flat)."""
    thr = settings.threshold
    pred = np.nan_to_num(predicted, nan=0.0)
    long = (pred > thr).astype(float)
    if settings.rule == "long_short":
        return long - (pred < -thr).astype(float)
    return long


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


def simulate(
    path: MarketPath,
    signal: np.ndarray,
    settings: BacktestSettings,
    risk_controls: bool = True,
    sized: bool = True,
) -> Simulation:
    """Trade ``signal[i]`` (decided at the close of D_i) at the next bar, D_{i+1}.

    ``signal`` has one entry per session of ``path``; the last is never traded.
    """
    n = len(path.dates)
    c = settings.trade_cost
    pos, equity, peak = 0.0, 1.0, 1.0
    entry = math.nan
    stopped_side = 0.0  # a stopped-out side, blocked until the raw signal changes
    cooldown = 0
    out_pos, out_ret, out_eq, out_cost, out_in = [], [], [], [], []
    stops = trips = 0
    for i in range(1, n):
        # --- the decision taken at the close of D_{i-1}, with information up to then
        side = float(signal[i - 1])
        if stopped_side and side != stopped_side:
            stopped_side = 0.0
        if risk_controls and cooldown > 0:
            side = 0.0
        if stopped_side and side == stopped_side:
            side = 0.0
        target = side * (position_size(path, i - 1, settings) if sized else 1.0)
        trade = abs(target - pos)
        before = equity
        if settings.execution == "next_open":
            overnight = path.open[i] / path.close[i - 1] - 1
            intraday = path.close[i] / path.open[i] - 1
            at_trade = before * (1 + pos * overnight)
            cost = at_trade * trade * c
            equity = (at_trade - cost) * (1 + target * intraday)
            held_today = pos != 0 or target != 0
            if trade and target != 0:
                entry = path.open[i]
        else:  # next_close: hold through the day, trade at its close
            at_trade = before * (1 + pos * (path.close[i] / path.close[i - 1] - 1))
            cost = at_trade * trade * c
            equity = at_trade - cost
            held_today = pos != 0
            if trade and target != 0:
                entry = path.close[i]
        pos = target
        out_pos.append(pos)
        out_ret.append(equity / before - 1)
        out_eq.append(equity)
        out_cost.append(cost)
        out_in.append(held_today)
        # --- risk controls, evaluated at the close of D_i; they act at the next bar
        if not risk_controls:
            continue
        if cooldown > 0:
            cooldown -= 1
            if cooldown == 0:
                peak = equity  # the breaker's rule: re-enter with a fresh peak
        peak = max(peak, equity)
        breached = (
            settings.max_drawdown_stop is not None
            and equity / peak - 1 < -settings.max_drawdown_stop
        )
        if breached and cooldown == 0 and pos != 0:
            trips += 1
            cooldown = settings.breaker_cooldown
        if settings.stop_loss and pos != 0 and np.isfinite(entry):
            move = math.copysign(1, pos) * (path.close[i] / entry - 1)
            if move < -settings.stop_loss:
                stops += 1
                stopped_side = math.copysign(1, pos)
    return Simulation(
        dates=path.dates[1:],
        position=np.asarray(out_pos),
        returns=np.asarray(out_ret),
        equity=np.asarray(out_eq),
        costs=np.asarray(out_cost),
        in_market=np.asarray(out_in, dtype=bool),
        stops=stops,
        breaker_trips=trips,
    )


def run_strategies(
    path: MarketPath, lstm_predicted: np.ndarray, settings: BacktestSettings
) -> dict[str, Simulation]:
    """The LSTM rule, the same rule on the naive forecast (zero return), and buy-and-hold."""
    return {
        "lstm": simulate(path, raw_signal(lstm_predicted, settings), settings),
        "naive": simulate(path, raw_signal(np.zeros(len(path.dates)), settings), settings),
        "buy_and_hold": simulate(
            path, np.ones(len(path.dates)), settings, risk_controls=False, sized=False
        ),
    }


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
        "sharpe": float(np.mean(excess)) / std * math.sqrt(ppy) if std else math.nan,
        "sortino": float(np.mean(excess)) / downside * math.sqrt(ppy) if downside else math.nan,
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
