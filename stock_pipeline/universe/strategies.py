"""The daily trading rules on the cross-section, all on the same days and costs.

Timeline: the ranking made with data through the close of signal date t sets the
weights held over the next session t+1 (the close-to-close return of t+1, as in Fischer
& Krauss); never the session that produced it. Each day is rebalanced in full: the
cost of session t+1 is ``cost_bps`` x sum over tickers of |w_t - w_(t-1)| (per
half-turn: a full switch of a long-short book of k + k names costs 4 half-turns).

- ``lstm_long_short``: long the k highest probabilities (1/k each), short the k lowest;
- ``lstm_long_only``: long the k highest;
- ``reversal_long_short``: long the k biggest one-day losers of t, short the k winners;
- ``equal_weight``: 1/n in every ticker ranked that day.

A ticker ranked on t whose history ends before t+1 returns 0 that session (cash).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from stock_pipeline.settings import BacktestSettings
from stock_pipeline.trading.backtest import Simulation, metrics

STRATEGIES = ("lstm_long_short", "lstm_long_only", "reversal_long_short", "equal_weight")


@dataclass
class Book:
    """One strategy's daily result: ``returns[s]`` is earned on ``dates[s]`` by the
    weights set at the close before it."""

    dates: np.ndarray  # datetime64[D]: the session each return is earned on
    weights: np.ndarray  # [S, N] set at the close of the signal date before dates[s]
    gross: np.ndarray  # [S] before costs
    costs: np.ndarray  # [S]
    longs: np.ndarray  # [S] int
    shorts: np.ndarray  # [S] int

    @property
    def returns(self) -> np.ndarray:
        return self.gross - self.costs

    @property
    def equity(self) -> np.ndarray:
        return np.cumprod(1 + self.returns)


def rank_weights(scores: np.ndarray, k: int, short: bool, min_names: int) -> np.ndarray:
    """Weights of one signal date: +1/k on the k highest finite scores (and -1/k on the k
    lowest when ``short``); all zero with fewer than ``min_names`` scores. Ties go to the
    earlier column (a stable sort)."""
    w = np.zeros(len(scores))
    valid = np.flatnonzero(np.isfinite(scores))
    if len(valid) < max(min_names, 2 * k if short else k):
        return w
    order = valid[np.argsort(-scores[valid], kind="stable")]
    w[order[:k]] = 1.0 / k
    if short:
        w[order[-k:]] = -1.0 / k
    return w


def run_book(
    weights: np.ndarray, next_returns: np.ndarray, dates: np.ndarray, cost_bps: float
) -> Book:
    """``weights[s]`` set at a close earn the log returns ``next_returns[s]`` of the next
    session (``dates[s]``), less the cost of getting there from ``weights[s - 1]``."""
    simple = np.where(np.isfinite(next_returns), np.expm1(next_returns), 0.0)
    previous = np.vstack([np.zeros((1, weights.shape[1])), weights[:-1]])
    return Book(
        dates=dates,
        weights=weights,
        gross=np.sum(weights * simple, axis=1),
        costs=cost_bps / 1e4 * np.abs(weights - previous).sum(axis=1),
        longs=(weights > 0).sum(axis=1),
        shorts=(weights < 0).sum(axis=1),
    )


def run_strategies(
    probabilities: np.ndarray,
    returns: np.ndarray,
    signal_rows: np.ndarray,
    dates: np.ndarray,
    k: int,
    cost_bps: float,
    min_names: int,
) -> dict[str, Book]:
    """The four strategies over ``signal_rows`` of the panel (each must have a next
    row). ``probabilities[s, i]``: the LSTM's at signal_rows[s] (NaN: not ranked); the
    comparators rank the same tickers."""
    ranked = np.isfinite(probabilities)
    today = np.where(ranked, returns[signal_rows], np.nan)
    nxt, when = returns[signal_rows + 1], dates[signal_rows + 1]
    scores = {
        "lstm_long_short": (probabilities, True),
        "lstm_long_only": (probabilities, False),
        "reversal_long_short": (-today, True),  # losers score highest
    }
    books = {}
    for name, (score, short) in scores.items():
        w = np.array([rank_weights(s, k, short, min_names) for s in score])
        books[name] = run_book(w, nxt, when, cost_bps)
    counts = ranked.sum(axis=1, keepdims=True)
    equal = np.where(ranked & (counts >= min_names), 1.0 / np.maximum(counts, 1), 0.0)
    books["equal_weight"] = run_book(equal, nxt, when, cost_bps)
    return books


def book_metrics(book: Book, settings: BacktestSettings) -> dict[str, float]:
    """``backtest.metrics`` on the book (same names and conventions); exposure is the
    gross weight held, turnover the sum of |weight changes|, trades the sessions with
    any."""
    gross = np.abs(book.weights).sum(axis=1)
    sim = Simulation(
        dates=book.dates,
        position=gross,
        returns=book.returns,
        equity=book.equity,
        costs=book.costs,
        in_market=gross > 0,
    )
    out = metrics(sim, settings)
    previous = np.vstack([np.zeros((1, book.weights.shape[1])), book.weights[:-1]])
    changes = np.abs(book.weights - previous).sum(axis=1)
    out["turnover"] = float(changes.sum())
    out["trades"] = float(np.count_nonzero(changes > 1e-12))
    out["costs"] = float(book.costs.sum())
    out["days"] = float(len(book.returns))
    return out


def daily_frame(books: dict[str, Book]) -> pd.DataFrame:
    """date, strategy, return, equity, longs, shorts (the ``universe_backtest_daily`` rows)."""
    parts = [
        pd.DataFrame(
            {
                "date": pd.to_datetime(b.dates),
                "strategy": name,
                "return": b.returns,
                "equity": b.equity,
                "longs": b.longs.astype(int),
                "shorts": b.shorts.astype(int),
            }
        )
        for name, b in books.items()
    ]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def gross_frame(books: dict[str, Book]) -> pd.DataFrame:
    """date, strategy, gross: the daily returns before costs (for the report)."""
    return pd.concat(
        [
            pd.DataFrame({"date": pd.to_datetime(b.dates), "strategy": n, "gross": b.gross})
            for n, b in books.items()
        ],
        ignore_index=True,
    )
