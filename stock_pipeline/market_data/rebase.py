"""Re-based histories: Yahoo's ``Close`` is split-adjusted and ``Adj Close`` split- and
dividend-adjusted as of the day of the download, so after a split or a dividend every
earlier bar of a new download differs from the stored one by a factor.

Each fetch includes stored sessions (at least the one before the requested dates); when
those differ from the new download, the ticker's whole stored history is replaced by
the new download, and everything derived from it is recomputed downstream. The event is
named from the source's own action data where it has it (yfinance, Alpha Vantage), and
otherwise inferred from the factors (csv files, the sample).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction

import pandas as pd

#: Stored and newly downloaded prices of one session agree when within this relative
#: difference (a provider's re-download of unchanged history agrees to many more digits).
REBASE_RTOL = 1e-6


@dataclass(frozen=True)
class Rebase:
    """A re-based history: the sessions before ``ex_date`` changed by the factors."""

    ticker: str
    ex_date: dt.date  # the first session already on the new basis
    first_changed: dt.date
    last_changed: dt.date
    close_factor: float  # new / old close on the changed sessions (median)
    adj_factor: float  # new / old adj_close
    action: str

    def __str__(self) -> str:
        return f"{self.ticker}: history re-based at {self.ex_date} ({self.action})"


def changed_sessions(stored: pd.DataFrame, fetched: pd.DataFrame) -> pd.DataFrame:
    """Sessions in both frames whose close or adj_close differ; with new/old ratios."""
    both = stored[["date", "close", "adj_close"]].merge(
        fetched[["date", "close", "adj_close"]], on="date", suffixes=("_old", "_new")
    )
    ratio_close = both["close_new"] / both["close_old"]
    ratio_adj = both["adj_close_new"] / both["adj_close_old"]
    differs = (abs(ratio_close - 1) > REBASE_RTOL) | (abs(ratio_adj - 1) > REBASE_RTOL)
    ratios = pd.DataFrame({"date": both["date"], "close": ratio_close, "adj_close": ratio_adj})
    return ratios[differs]


def describe(
    ticker: str, changed: pd.DataFrame, new_dates: pd.Series, actions: pd.DataFrame
) -> Rebase:
    """Name the event behind ``changed`` (from ``changed_sessions``)."""
    first, last = changed["date"].min(), changed["date"].max()
    later = new_dates[new_dates > last]
    ex_date = (later.min() if len(later) else last).date()
    close_factor = float(changed["close"].median())
    adj_factor = float(changed["adj_close"].median())
    reported = actions[actions["date"] > last] if len(actions) else actions
    if len(reported):
        action = "; ".join(_action_text(r.kind, r.value, r.date) for r in reported.itertuples())
    else:
        action = _inferred(close_factor, adj_factor)
    return Rebase(ticker, ex_date, first.date(), last.date(), close_factor, adj_factor, action)


def _action_text(kind: str, value: float, day: pd.Timestamp) -> str:
    if kind == "split":
        return f"split {_ratio(value)} on {day.date()}"
    return f"dividend {value:.4g} on {day.date()}"


def _ratio(shares: float) -> str:
    """2.0 -> '2:1', 0.5 -> '1:2', 1.5 -> '3:2'."""
    fraction = Fraction(shares).limit_denominator(100)
    return f"{fraction.numerator}:{fraction.denominator}"


def _inferred(close_factor: float, adj_factor: float) -> str:
    if abs(close_factor - 1) > REBASE_RTOL:
        return (
            f"split {_ratio(1 / close_factor)} (inferred from a close factor of {close_factor:.6g})"
        )
    return f"dividend or distribution (inferred from an adj_close factor of {adj_factor:.6g})"
