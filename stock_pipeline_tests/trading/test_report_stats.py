"""The report's statistics against hand computations and textbook formulas written out
here (no library call checked against itself)."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest

from stock_pipeline.trading import backtest
from stock_pipeline.trading.report import stats

RETURNS = [0.012, -0.031, 0.004, 0.027, -0.008, 0.0, 0.015, -0.022, 0.009, -0.041,
           0.033, 0.006, -0.013, 0.018, -0.002, 0.025, -0.017, 0.011, 0.003, -0.006]  # fmt: skip


def test_drawdown_counts_start_as_peak() -> None:
    result = stats.drawdown(pd.Series([1.1, 0.99, 1.21]))
    np.testing.assert_allclose(result.to_numpy(), [0.0, -0.1, 0.0], atol=1e-12)
    result = stats.drawdown(pd.Series([0.9, 1.0]))
    np.testing.assert_allclose(result.to_numpy(), [-0.1, 0.0], atol=1e-12)


def test_rolling_sharpe_hand_computed() -> None:
    result = stats.rolling_sharpe(pd.Series([0.01, -0.02, 0.03, 0.0]), window=3)
    assert result.iloc[:2].isna().all()
    mean = 0.02 / 3  # window [0.01, -0.02, 0.03]
    std = math.sqrt(((0.01 - mean) ** 2 + (-0.02 - mean) ** 2 + (0.03 - mean) ** 2) / 2)
    assert result.iloc[2] == pytest.approx(mean / std * math.sqrt(252))
    mean = 0.01 / 3  # window [-0.02, 0.03, 0.0]
    std = math.sqrt(((-0.02 - mean) ** 2 + (0.03 - mean) ** 2 + (0.0 - mean) ** 2) / 2)
    assert result.iloc[3] == pytest.approx(mean / std * math.sqrt(252))
    assert stats.rolling_sharpe(pd.Series([0.01, 0.01, 0.01]), window=3).isna().all()


def test_period_returns_compound_each_calendar_month_and_year() -> None:
    dates = pd.to_datetime(
        ["2023-12-28", "2023-12-29", "2024-01-02", "2024-01-31", "2024-02-01", "2024-03-15"]
    )
    r = pd.Series([0.01, -0.02, 0.03, 0.005, -0.01, 0.02], index=dates)
    months = stats.period_returns(r, "M")
    assert [str(p) for p in months.index] == ["2023-12", "2024-01", "2024-02", "2024-03"]
    expected = [1.01 * 0.98 - 1, 1.03 * 1.005 - 1, -0.01, 0.02]
    np.testing.assert_allclose(months.to_numpy(), expected, rtol=1e-12)
    years = stats.period_returns(r, "Y")
    np.testing.assert_allclose(
        years.to_numpy(), [1.01 * 0.98 - 1, 1.03 * 1.005 * 0.99 * 1.02 - 1], rtol=1e-12
    )
    grid = stats.monthly_grid(r)
    assert list(grid.index) == [2023, 2024]
    assert grid.at[2024, 1] == pytest.approx(1.03 * 1.005 - 1)
    assert np.isnan(grid.at[2024, 4]) and np.isnan(grid.at[2023, 1])
    assert grid.at[2024, "year"] == pytest.approx(1.03 * 1.005 * 0.99 * 1.02 - 1)
    with pytest.raises(ValueError, match="period"):
        stats.period_returns(r, "W")


def test_worst_drawdowns_of_a_hand_made_equity_curve() -> None:
    dates = pd.bdate_range("2024-01-01", periods=7)
    equity = pd.Series([1.1, 0.99, 1.21, 1.0, 0.9, 1.25, 1.2], index=dates)
    periods = stats.drawdown_periods(equity)
    # deepest: 1.21 -> 0.9 on sessions 3-4, back above at session 5
    assert periods["start"].tolist() == [dates[3], dates[1], dates[6]]
    assert periods["trough"].tolist() == [dates[4], dates[1], dates[6]]
    assert periods["recovery"].iloc[:2].tolist() == [dates[5], dates[2]]
    assert pd.isna(periods["recovery"].iloc[2])  # 1.2 < 1.25 at the end: not recovered
    np.testing.assert_allclose(periods["depth"], [0.9 / 1.21 - 1, 0.99 / 1.1 - 1, 1.2 / 1.25 - 1])
    assert periods["sessions"].tolist() == [2, 1, 1]
    assert len(stats.drawdown_periods(equity, top=2)) == 2


def test_drawdown_from_the_start_and_agreement_with_max_drawdown_days() -> None:
    dates = pd.bdate_range("2024-01-01", periods=4)
    periods = stats.drawdown_periods(pd.Series([0.9, 0.95, 1.0, 1.02], index=dates))
    assert periods.loc[0, "start"] == dates[0]  # the starting equity 1 is the first peak
    assert periods.loc[0, "recovery"] == dates[2]  # back at 1.0 counts as recovered
    assert periods.loc[0, "depth"] == pytest.approx(-0.1)
    rng = np.random.default_rng(3)
    equity = np.cumprod(1 + rng.normal(0, 0.01, 400))
    longest = stats.drawdown_periods(
        pd.Series(equity, pd.bdate_range("2020-01-01", periods=400)), 99
    )
    assert longest["sessions"].max() == backtest.longest_underwater(equity)
    assert stats.drawdown_periods(pd.Series([1.0, 1.1], index=dates[:2])).empty


def _sample_skew(x: list[float]) -> float:
    n, mean = len(x), sum(x) / len(x)
    m2 = sum((v - mean) ** 2 for v in x) / n
    m3 = sum((v - mean) ** 3 for v in x) / n
    return math.sqrt(n * (n - 1)) / (n - 2) * m3 / m2**1.5


def _sample_excess_kurtosis(x: list[float]) -> float:
    n, mean = len(x), sum(x) / len(x)
    m2 = sum((v - mean) ** 2 for v in x) / n
    m4 = sum((v - mean) ** 4 for v in x) / n
    g2 = m4 / m2**2 - 3
    return (n - 1) / ((n - 2) * (n - 3)) * ((n + 1) * g2 + 6)


def test_distribution_against_textbook_formulas() -> None:
    r = pd.Series(RETURNS, index=pd.bdate_range("2024-01-01", periods=len(RETURNS)))
    got = stats.distribution_stats(r)
    assert got["skew"] == pytest.approx(_sample_skew(RETURNS), rel=1e-10)
    assert got["kurtosis"] == pytest.approx(_sample_excess_kurtosis(RETURNS), rel=1e-10)
    # historical VaR at 95%: the 5% quantile by linear interpolation between order stats
    ordered = sorted(RETURNS)
    position = 0.05 * (len(ordered) - 1)  # 0.95: between the smallest two
    low = math.floor(position)
    var = ordered[low] + (position - low) * (ordered[low + 1] - ordered[low])
    assert var == pytest.approx(-0.041 + 0.95 * (-0.031 + 0.041))
    assert got["var"] == pytest.approx(var)
    assert got["cvar"] == pytest.approx(-0.041)  # only the worst day is at or below it


def test_distribution_of_a_constant_series_has_no_shape() -> None:
    flat = stats.distribution_stats(
        pd.Series([0.0] * 30, index=pd.bdate_range("2024-01-01", periods=30))
    )
    assert math.isnan(flat["skew"]) and math.isnan(flat["kurtosis"])
    assert flat["var"] == 0.0 and flat["cvar"] == 0.0


def test_best_and_worst_day_and_month() -> None:
    dates = pd.to_datetime(["2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02", "2024-03-01"])
    r = pd.Series([0.02, 0.03, -0.04, 0.01, 0.035], index=dates)
    got = stats.extremes(r)
    assert got["best_day"] == (pytest.approx(0.035), "2024-03-01")
    assert got["worst_day"] == (pytest.approx(-0.04), "2024-02-01")
    assert got["best_month"] == (pytest.approx(1.02 * 1.03 - 1), "2024-01")
    assert got["worst_month"] == (pytest.approx(0.96 * 1.01 - 1), "2024-02")
    assert stats.extremes(pd.Series(dtype=float)) == {}


def test_alpha_beta_and_information_ratio_against_least_squares() -> None:
    rng = np.random.default_rng(11)
    dates = pd.bdate_range("2024-01-01", periods=250)
    bench = rng.normal(0.0004, 0.01, 250)
    strat = 0.0002 + 0.6 * bench + rng.normal(0, 0.004, 250)
    rf = 0.03
    got = stats.benchmark_stats(pd.Series(strat, dates), pd.Series(bench, dates), rf)
    rf_d = 1.03 ** (1 / 252) - 1
    design = np.column_stack([np.ones(250), bench - rf_d])
    (a, b), *_ = np.linalg.lstsq(design, strat - rf_d, rcond=None)
    assert got["beta"] == pytest.approx(b, rel=1e-9)
    assert got["alpha"] == pytest.approx(252 * a, rel=1e-9)
    active = list(strat - bench)
    assert got["information_ratio"] == pytest.approx(
        statistics.mean(active) / statistics.stdev(active) * math.sqrt(252), rel=1e-9
    )
    assert got["tracking_error"] == pytest.approx(statistics.stdev(active) * math.sqrt(252))
    assert got["active_return"] == pytest.approx(252 * statistics.mean(active))
    assert got["correlation"] == pytest.approx(statistics.correlation(list(strat), list(bench)))


def test_benchmark_stats_undefined_cases() -> None:
    dates = pd.bdate_range("2024-01-01", periods=5)
    same = pd.Series([0.01, -0.02, 0.0, 0.03, 0.01], dates)
    got = stats.benchmark_stats(same, same)
    assert got["beta"] == pytest.approx(1.0) and got["alpha"] == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(got["information_ratio"])  # no active risk: no ratio
    flat = stats.benchmark_stats(same, pd.Series(0.001, dates))
    assert math.isnan(flat["beta"]) and math.isnan(flat["alpha"])
    assert all(math.isnan(v) for v in stats.benchmark_stats(same[:2], same[:2]).values())
