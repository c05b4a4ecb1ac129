"""Corrections: a vendor's changed price on a past date that no split or dividend explains.

A split or a dividend re-bases a history: every bar before the ex-date changes by one
factor (``rebase``). A correction changes some bars and leaves the bars around them as
they were; it is recorded as a correction (``price_corrections``), never as a split.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from stock_pipeline.market_data.rebase import REBASE_RTOL

PRICE_FIELDS = ("open", "high", "low", "close", "adj_close")

#: The new/old factors of a re-based history agree to this relative spread: providers
#: round adjusted prices (a cent on a few dollars), which a correction does not explain.
FACTOR_SPREAD = 1e-2


@dataclass(frozen=True)
class Correction:
    """One bar whose prices the source changed."""

    ticker: str
    date: dt.date
    old_close: float
    new_close: float

    def __str__(self) -> str:
        return f"{self.ticker} {self.date}: close {self.old_close:.6g} -> {self.new_close:.6g}"


def revised_bars(stored: pd.DataFrame, fetched: pd.DataFrame) -> pd.DataFrame:
    """Sessions in both frames with any price field changed: ``date``, ``old_<field>``
    and ``new_<field>`` for each of ``PRICE_FIELDS``, oldest first."""
    fields = list(PRICE_FIELDS)
    both = stored[["date", *fields]].merge(
        fetched[["date", *fields]], on="date", suffixes=("_old", "_new")
    )
    differs = pd.Series(False, index=both.index)
    for field in fields:
        differs |= (both[f"{field}_new"] / both[f"{field}_old"] - 1).abs() > REBASE_RTOL
    out = both[differs].rename(
        columns={f"{f}_{age}": f"{age}_{f}" for f in fields for age in ("old", "new")}
    )
    return out.sort_values("date").reset_index(drop=True)


def is_rebased(revised: pd.DataFrame, stored_dates: pd.Series, events: int = 0) -> bool:
    """Whether ``revised`` (from ``revised_bars`` over the whole stored history) is a
    re-based history: every stored session up to the last changed one changed, each price
    field by one factor, or by one factor per span between the ``events`` (splits and
    dividends the source reports since the first changed session: after missed nights,
    the bars before two events changed by both factors). A single changed bar is a
    correction: a split cannot be told from it, and a history of one bar before a split
    is not kept."""
    if len(revised) < 2:
        return False
    if (stored_dates <= revised["date"].max()).sum() != len(revised):
        return False  # bars before the last changed one were left as they were
    return all(
        _factor_levels(revised[f"new_{f}"] / revised[f"old_{f}"]) <= 1 + events
        for f in PRICE_FIELDS
    )


def _factor_levels(ratios: pd.Series) -> int:
    """How many runs of one factor the date-ordered ratios make."""
    values = ratios.to_numpy()
    steps = abs(values[1:] / values[:-1] - 1) > FACTOR_SPREAD
    return 1 + int(steps.sum())


def corrections_of(ticker: str, revised: pd.DataFrame) -> list[Correction]:
    return [
        Correction(ticker, r.date.date(), float(r.old_close), float(r.new_close))
        for r in revised.itertuples()
    ]


def correction_rows(ticker: str, revised: pd.DataFrame, source: str) -> pd.DataFrame:
    """``price_corrections`` rows (without ``seen_at``, which the writer adds)."""
    frame = revised.copy()
    frame.insert(0, "ticker", ticker)
    frame["date"] = pd.to_datetime(frame["date"]).dt.date
    frame["source"] = source
    return frame
