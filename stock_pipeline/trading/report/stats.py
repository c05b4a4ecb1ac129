"""The report's statistics beyond ``backtest.metrics``: drawdown and rolling Sharpe series,
calendar-period returns, the worst drawdown periods, the return distribution and the
strategy against a benchmark. numpy/pandas only (README, "Libraries", says why).

Every function takes net daily returns (or equity) indexed by session date, with the
conventions of ``backtest.CONVENTIONS``: 252 sessions a year, the starting equity 1.0
counting as a peak."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from stock_pipeline.trading.report.inputs import PERIODS_PER_YEAR

ROLLING_SHARPE_WINDOW = 63
VAR_LEVEL = 0.95
WORST_DRAWDOWNS = 5

BENCHMARK_CONVENTIONS = """\
alpha and beta: ordinary least squares of the strategy's daily excess returns on the
benchmark's, r - rf_d = a + beta (r_b - rf_d); alpha = 252 x a (annualized, arithmetic).
correlation: of the daily returns. active return: r - r_b each session; tracking error:
std(active, ddof=1) x sqrt(252); information ratio: mean(active) / std(active, ddof=1)
x sqrt(252); annual active return: 252 x mean(active)."""

DISTRIBUTION_CONVENTIONS = f"""\
Over every session's net daily return (flat sessions included). skew: adjusted
Fisher-Pearson coefficient G1; kurtosis: excess kurtosis G2 (0 for a normal
distribution), both bias-corrected as in pandas. VaR {VAR_LEVEL:.0%}: historical, one day:
the {1 - VAR_LEVEL:.0%} quantile of the daily returns (linear interpolation), a loss shown
as a negative return; CVaR {VAR_LEVEL:.0%}: the mean of the daily returns at or below the
VaR. Months: calendar months, returns compounded over their sessions."""


def drawdown(equity: pd.Series, start: float = 1.0) -> pd.Series:
    """``equity / running peak - 1``, the starting equity ``start`` counting as a peak."""
    values = equity.astype(float)
    peak = values.cummax().clip(lower=start)
    return values / peak - 1.0


def rolling_sharpe(
    returns: pd.Series,
    window: int = ROLLING_SHARPE_WINDOW,
    periods_per_year: int = PERIODS_PER_YEAR,
) -> pd.Series:
    """Annualized rolling Sharpe: ``mean / std(ddof=1) * sqrt(periods_per_year)``.

    NaN for the first ``window - 1`` points and wherever the window's std is zero.
    """
    roll = returns.astype(float).rolling(window, min_periods=window)
    std = roll.std(ddof=1)
    return roll.mean() / std.where(std > 0) * math.sqrt(periods_per_year)


def period_returns(returns: pd.Series, period: str) -> pd.Series:
    """Compounded return of each calendar period ("M" month, "Y" year) that has sessions:
    ``prod(1 + r) - 1`` over them, indexed by ``pandas.Period``."""
    if period not in ("M", "Y"):
        raise ValueError(f"period must be 'M' or 'Y', not {period!r}")
    if returns.empty:
        return pd.Series(dtype=float)
    keys = pd.DatetimeIndex(returns.index).to_period(period)
    return (1.0 + returns.astype(float)).groupby(keys).prod() - 1.0


def monthly_grid(returns: pd.Series) -> pd.DataFrame:
    """Year x month (1..12) compounded returns (NaN: no session), plus the column
    ``"year"``: the year's compounded return."""
    months = period_returns(returns, "M")
    grid = pd.DataFrame(np.nan, index=sorted({p.year for p in months.index}), columns=range(1, 13))
    for period, value in months.items():
        grid.at[period.year, period.month] = value
    years = period_returns(returns, "Y")
    grid["year"] = [years[pd.Period(year=y, freq="Y")] for y in grid.index]
    return grid


def drawdown_periods(equity: pd.Series, top: int = WORST_DRAWDOWNS) -> pd.DataFrame:
    """The ``top`` deepest drawdowns, deepest first: start (first session below the
    previous peak), trough (the deepest session), recovery (first session back at the peak;
    NaT: not recovered), depth (equity at the trough / peak - 1) and sessions (the number
    of sessions below the peak, as ``max_drawdown_days`` counts them)."""
    columns = ["start", "trough", "recovery", "depth", "sessions"]
    dates = pd.DatetimeIndex(equity.index)
    depth = drawdown(equity).to_numpy()
    below = np.concatenate([[False], depth < 0, [False]])
    edges = np.flatnonzero(below[1:] != below[:-1])
    rows = []
    for first, end in zip(edges[::2], edges[1::2], strict=True):  # end: exclusive
        trough = first + int(np.argmin(depth[first:end]))
        rows.append(
            {
                "start": dates[first],
                "trough": dates[trough],
                "recovery": dates[end] if end < len(dates) else pd.NaT,
                "depth": float(depth[trough]),
                "sessions": int(end - first),
            }
        )
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values(["depth", "start"], kind="stable").head(top).reset_index(drop=True)


def distribution_stats(returns: pd.Series, level: float = VAR_LEVEL) -> dict[str, float]:
    """skew, kurtosis (excess), var and cvar (historical, one day) of daily returns."""
    r = returns.astype(float).dropna()
    varies = len(r) > 1 and r.max() > r.min()
    var = float(np.quantile(r, 1 - level)) if len(r) else math.nan
    return {
        # a constant series has no shape: pandas would call its skew 0, not undefined
        "skew": float(r.skew()) if len(r) > 2 and varies else math.nan,
        "kurtosis": float(r.kurt()) if len(r) > 3 and varies else math.nan,
        "var": var,
        "cvar": float(r[r <= var].mean()) if len(r) else math.nan,
    }


def extremes(returns: pd.Series) -> dict[str, tuple[float, str]]:
    """Best and worst day (ISO date) and calendar month (YYYY-MM): (return, when)."""
    r = returns.astype(float).dropna()
    if r.empty:
        return {}
    months = period_returns(r, "M")
    return {
        "best_day": (float(r.max()), r.idxmax().date().isoformat()),
        "worst_day": (float(r.min()), r.idxmin().date().isoformat()),
        "best_month": (float(months.max()), str(months.idxmax())),
        "worst_month": (float(months.min()), str(months.idxmin())),
    }


def benchmark_stats(
    returns: pd.Series,
    benchmark: pd.Series,
    risk_free_rate: float = 0.0,
    periods_per_year: int = PERIODS_PER_YEAR,
) -> dict[str, float]:
    """The strategy against the benchmark over their common sessions
    (``BENCHMARK_CONVENTIONS``); NaN where a figure is undefined."""
    both = pd.concat([returns, benchmark], axis=1, join="inner").astype(float).dropna()
    r, b = both.iloc[:, 0].to_numpy(), both.iloc[:, 1].to_numpy()
    rf_daily = (1 + risk_free_rate) ** (1 / periods_per_year) - 1
    y, x = r - rf_daily, b - rf_daily
    out = dict.fromkeys(
        ("alpha", "beta", "correlation", "tracking_error", "information_ratio", "active_return"),
        math.nan,
    )
    if len(r) < 3:
        return out
    # np.ptp, not the variance: a constant series can have a rounding-error variance
    if np.ptp(x) > 0:
        beta = float(np.cov(x, y, ddof=1)[0, 1] / np.var(x, ddof=1))
        out["beta"] = beta
        out["alpha"] = (float(np.mean(y)) - beta * float(np.mean(x))) * periods_per_year
        if np.ptp(y) > 0:
            out["correlation"] = float(np.corrcoef(x, y)[0, 1])
    active = r - b
    spread = float(np.std(active, ddof=1))
    out["active_return"] = float(np.mean(active)) * periods_per_year
    out["tracking_error"] = spread * math.sqrt(periods_per_year)
    if np.ptp(active) > 0:
        out["information_ratio"] = float(np.mean(active)) / spread * math.sqrt(periods_per_year)
    return out
