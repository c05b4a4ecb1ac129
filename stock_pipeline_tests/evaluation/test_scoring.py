"""Scores and the DM test against hand computations on tiny series."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from stock_pipeline.evaluation import scoring


def test_rmse_mae_by_hand() -> None:
    pred = np.array([0.01, -0.02, 0.0, 0.03])
    actual = np.array([0.02, -0.01, 0.01, -0.01])
    # errors: -0.01, -0.01, -0.01, 0.04
    assert scoring.rmse(pred, actual) == pytest.approx(math.sqrt((3e-4 + 16e-4) / 4))
    assert scoring.mae(pred, actual) == pytest.approx(0.07 / 4)


def test_mape_near_and_at_zero_prices() -> None:
    pred = np.array([1.0, 2.0, 0.011, 5.0])
    actual = np.array([1.1, 2.0, 0.01, 0.0])
    value, skipped = scoring.mape(pred, actual)
    # |1-1.1|/1.1 + 0 + |0.011-0.01|/0.01 over 3 days; the zero price is skipped, not divided
    assert value == pytest.approx(100 * (0.1 / 1.1 + 0 + 0.1) / 3)
    assert skipped == 1
    assert math.isnan(scoring.mape(np.array([1.0]), np.array([0.0]))[0])


def test_direction_accuracy_scores_ties_as_not_up() -> None:
    pred = np.array([0.0, 0.01, -0.01, 0.02, 0.0])
    actual = np.array([0.0, 0.02, 0.01, -0.01, -0.03])
    # up?  pred: F T F T F ; actual: F T T F F -> matches T T F F T
    assert scoring.direction_accuracy(pred, actual) == pytest.approx(3 / 5)


def test_wilson_interval_matches_published_values() -> None:
    low, high = scoring.wilson_interval(7, 10)
    assert (round(low, 4), round(high, 4)) == (0.3968, 0.8922)
    low, high = scoring.wilson_interval(0, 20)
    assert low == pytest.approx(0.0, abs=1e-12) and high == pytest.approx(0.1611, abs=1e-4)


def test_diebold_mariano_by_hand_h1() -> None:
    e_model = np.array([0.1, 0.2, -0.1, 0.3, 0.0])
    e_naive = np.array([0.2, 0.1, -0.3, 0.2, 0.2])
    d = [-0.03, 0.03, -0.08, 0.05, -0.04]  # e_model^2 - e_naive^2
    mean = sum(d) / 5
    gamma0 = sum((x - mean) ** 2 for x in d) / 5
    dm = mean / math.sqrt(gamma0 / 5)
    hln = dm * math.sqrt((5 + 1 - 2) / 5)
    result = scoring.diebold_mariano(e_model, e_naive, horizon=1)
    assert result.statistic == pytest.approx(hln, rel=1e-10)
    assert result.statistic == pytest.approx(-0.58847, abs=1e-5)
    assert result.pvalue == pytest.approx(2 * (1 - stats.t.cdf(abs(hln), 4)), rel=1e-9)


def test_diebold_mariano_by_hand_h2_uses_autocovariance() -> None:
    rng = np.random.default_rng(0)
    e1, e2 = rng.normal(size=30), rng.normal(size=30) * 1.3
    d = e1**2 - e2**2
    n, mean = 30, d.mean()
    g0 = sum((d[t] - mean) ** 2 for t in range(n)) / n
    g1 = sum((d[t] - mean) * (d[t - 1] - mean) for t in range(1, n)) / n
    dm = mean / math.sqrt((g0 + 2 * g1) / n)
    hln = dm * math.sqrt((n + 1 - 4 + 2 * 1 / n) / n)
    assert scoring.diebold_mariano(e1, e2, horizon=2).statistic == pytest.approx(hln, rel=1e-10)


def test_better_model_gets_negative_statistic() -> None:
    rng = np.random.default_rng(1)
    actual = rng.normal(size=500)
    good = scoring.diebold_mariano(0.5 * rng.normal(size=500), actual)
    assert good.statistic < 0 and good.pvalue < 0.01


def test_false_alarm_rate_matches_the_level_on_random_walks() -> None:
    """Random-walk returns and two forecasts with equal expected loss: over 400 seeds the
    test rejects about 5% of the time (99.9% binomial band for 400 draws: ~1.5%-9%)."""
    rejections = 0
    for seed in range(400):
        rng = np.random.default_rng(seed)
        actual = rng.normal(0, 0.01, 300)
        a, b = rng.normal(0, 0.003, 300), rng.normal(0, 0.003, 300)
        rejections += scoring.diebold_mariano(a - actual, b - actual).pvalue < 0.05
    assert 0.015 < rejections / 400 < 0.09


def test_drift_never_claims_to_beat_naive_on_random_walks_more_than_chance() -> None:
    """The pipeline's question on a random walk: a fitted-mean forecast vs naive. It may
    not be called significantly better more often than the one-sided share of the level."""
    claims = 0
    for seed in range(400):
        rng = np.random.default_rng(seed)
        returns = rng.normal(0, 0.01, 400)
        drift = np.cumsum(returns)[:-1] / np.arange(1, 400)  # mean of returns known so far
        actual = returns[1:]
        result = scoring.diebold_mariano(drift[99:] - actual[99:], 0 - actual[99:], horizon=1)
        claims += result.statistic < 0 and result.pvalue < 0.05
    assert claims / 400 < 0.05


def test_an_undefined_dm_test_says_why_instead_of_raising() -> None:
    empty = scoring.diebold_mariano(np.array([]), np.array([]))
    assert math.isnan(empty.pvalue) and "too few" in empty.reason
    same = scoring.diebold_mariano(np.array([0.1, -0.2, 0.3]), np.array([-0.1, 0.2, -0.3]))
    assert math.isnan(same.statistic) and "same squared error" in same.reason
    defined = scoring.diebold_mariano(np.array([0.1, -0.2, 0.3]), np.array([0.0, 0.1, 0.0]))
    assert defined.reason == "" and math.isfinite(defined.pvalue)
