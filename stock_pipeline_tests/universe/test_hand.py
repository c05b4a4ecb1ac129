"""Hand computations: the trading rule's daily returns (costs, the one-bar lag), the
median target, the binomial test and the Newey-West t-statistic."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stock_pipeline.universe.honesty import default_lags, directional_accuracy, newey_west_mean
from stock_pipeline.universe.panel import median_targets
from stock_pipeline.universe.strategies import rank_weights, run_strategies

# simple returns of tickers A, B, C, D on sessions 0..3
SIMPLE = np.array(
    [
        [0.05, -0.03, 0.01, 0.00],
        [0.01, -0.02, 0.00, 0.03],
        [0.02, 0.01, -0.01, 0.00],
        [-0.01, 0.04, 0.00, 0.01],
    ]
)
PROBS = np.array(  # made at the close of sessions 0, 1, 2
    [
        [0.9, 0.2, 0.5, 0.4],  # long A, short B
        [0.9, 0.1, 0.3, 0.6],  # the same book
        [0.1, 0.8, 0.5, 0.6],  # long B, short A
    ]
)
DATES = np.arange("2020-01-06", "2020-01-10", dtype="datetime64[D]")


@pytest.fixture
def books():
    return run_strategies(
        PROBS, np.log1p(SIMPLE), np.arange(3), DATES, k=1, cost_bps=10.0, min_names=2
    )


def test_long_short_earns_the_next_session_less_half_turns(books):
    ls = books["lstm_long_short"]
    # each book earns the session AFTER its signal: sessions 1, 2, 3
    assert list(ls.dates) == list(DATES[1:])
    # day 1: A - B = 0.01 + 0.02, two half-turns in (10 bps each); day 2: the same
    # book, no cost; day 3: B - A = 0.04 + 0.01, four half-turns (close both, open both)
    assert ls.returns == pytest.approx([0.03 - 0.002, 0.02 - 0.01, 0.05 - 0.004])
    assert ls.equity[-1] == pytest.approx(1.028 * 1.01 * 1.046)
    assert list(ls.longs) == [1, 1, 1] and list(ls.shorts) == [1, 1, 1]


def test_long_only_reversal_and_equal_weight_by_hand(books):
    lo = books["lstm_long_only"]
    assert lo.returns == pytest.approx([0.01 - 0.001, 0.02, 0.04 - 0.002])
    # reversal: long the day's biggest loser, short its biggest winner
    # session 0: loser B, winner A -> day 1: B - A; session 1: loser B, winner D -> day 2:
    # B - D (A closed, D opened: 2 half-turns); session 2: loser C, winner A -> day 3: C - A
    rev = books["reversal_long_short"]
    assert rev.returns == pytest.approx(
        [-0.02 - 0.01 - 0.002, 0.01 - 0.00 - 0.002, 0.00 + 0.01 - 0.004]
    )
    ew = books["equal_weight"]
    assert ew.returns == pytest.approx([0.005 - 0.001, 0.005, 0.01])


def test_no_book_without_enough_names():
    assert not rank_weights(np.array([0.9, np.nan, 0.1]), 1, True, 3).any()
    assert rank_weights(np.array([0.9, 0.5, 0.1]), 1, True, 3) == pytest.approx([1, 0, -1])


def test_median_target():
    returns = np.array(
        [
            [0.0, 0.0, 0.0, 0.0],
            [0.01, 0.03, -0.02, np.nan],  # median of three: 0.01
            [0.01, 0.02, 0.03, 0.04],  # median of four: 0.025
        ]
    )
    y = median_targets(returns)
    assert y[0] == pytest.approx([0, 1, 0, np.nan], nan_ok=True)
    assert y[1] == pytest.approx([0, 0, 1, 1])
    assert np.isnan(y[2]).all()  # the next day is unknown


def test_binomial_test_by_hand():
    probs = np.array([0.6] * 7 + [0.4] * 3)
    targets = np.array([1.0] * 7 + [1.0] * 3)  # 7 right, 3 wrong
    test = directional_accuracy(probs, targets)
    tail = sum(math.comb(10, j) for j in (7, 8, 9, 10)) / 2**10
    assert (test.hits, test.n) == (7, 10)
    assert test.pvalue == pytest.approx(2 * tail)  # 352/1024


def test_newey_west_t_by_hand_formula():
    x = np.array([0.3, -0.1, 0.4, 0.2, -0.2, 0.5, 0.1, 0.0, 0.3, -0.1])
    n, lags = len(x), 1
    e = x - x.mean()
    gamma0 = sum(v * v for v in e) / n
    gamma1 = sum(e[t] * e[t - 1] for t in range(1, n)) / n
    variance = (gamma0 + 2 * (1 - 1 / (lags + 1)) * gamma1) / n  # Bartlett weight 1/2
    test = newey_west_mean(x, lags)
    assert test.se == pytest.approx(math.sqrt(variance))
    assert test.tstat == pytest.approx(x.mean() / math.sqrt(variance))
    assert default_lags(250) == math.floor(4 * 2.5 ** (2 / 9)) == 4
