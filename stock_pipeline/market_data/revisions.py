"""The revision check: the stored history compared, year by year, with the source's.

The nightly run fetches only its own sessions (and the stored one before them), so a
vendor's correction of an old bar is not seen by it. This check fetches a span of years
in one request per batch of tickers, compares it with the stored bars and names each
(ticker, year) that changed, so that those year partitions can be materialized again:
the stored tables then equal a fresh backfill, and ``ingest`` records the changed bars
as corrections (or a re-based history, after a split or dividend).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import pandas as pd

from stock_pipeline.market_data.corrections import revised_bars
from stock_pipeline.market_data.sources import FetchResult, MarketDataSource

#: How many changed bars a report line names; the count says the rest.
SHOWN = 3


@dataclass
class ChangedYear:
    """One year of one ticker whose stored bars differ from the source's."""

    ticker: str
    year: int
    closes: list[tuple[dt.date, float, float]] = field(default_factory=list)  # old -> new
    added: list[dt.date] = field(default_factory=list)  # sessions stored without a bar
    removed: list[dt.date] = field(default_factory=list)  # stored bars the source dropped

    @property
    def heals_by_rerun(self) -> bool:
        """A re-run of the year writes changed and added bars; it deletes no stored bar."""
        return bool(self.closes or self.added)

    def __str__(self) -> str:
        parts = []
        if self.closes:
            shown = ", ".join(f"{d} close {o:.6g} -> {n:.6g}" for d, o, n in self.closes[:SHOWN])
            parts.append(f"{len(self.closes)} bar(s) changed ({shown})")
        if self.added:
            parts.append(f"{len(self.added)} new bar(s) ({', '.join(map(str, self.added[:3]))})")
        if self.removed:
            dropped = ", ".join(map(str, self.removed[:SHOWN]))
            parts.append(f"{len(self.removed)} stored bar(s) no longer in the source ({dropped})")
        return f"{self.ticker} {self.year}: " + "; ".join(parts)


def changed_years(
    have: pd.DataFrame,
    source: MarketDataSource,
    span: tuple[dt.date, dt.date],
    sessions: Collection[dt.date],
) -> tuple[list[ChangedYear], dict[str, str]]:
    """(the years that changed, ticker -> why it could not be compared) over ``span``.

    ``have``: the stored bars of the tickers to compare, dated in ``span``
    (``warehouse.revisions.read_bars_between``). One ``fetch`` for all of them. Only the
    span of each ticker's stored bars is compared (bars before its history or after its
    newest stored bar are not changes); a new bar counts when it is dated on one of the
    exchange's ``sessions``."""
    tickers = list(dict.fromkeys(have["ticker"]))
    if not tickers:
        return [], {}
    outcomes = source.fetch(tickers, *span)
    found, errors = [], {}
    for ticker in tickers:
        outcome = outcomes.get(ticker)
        if not isinstance(outcome, FetchResult):
            errors[ticker] = str(outcome or f"{ticker}: {source.name} returned nothing")
            continue
        mine = have[have["ticker"] == ticker]
        found += _compare(ticker, mine, outcome.bars, set(sessions))
    return found, errors


def _compare(
    ticker: str, mine: pd.DataFrame, theirs: pd.DataFrame, sessions: set[dt.date]
) -> list[ChangedYear]:
    first, last = mine["date"].min(), mine["date"].max()
    theirs = theirs[(theirs["date"] >= first) & (theirs["date"] <= last)]
    years: dict[int, ChangedYear] = {}

    def year_of(day: dt.date) -> ChangedYear:
        return years.setdefault(day.year, ChangedYear(ticker, day.year))

    for row in revised_bars(mine, theirs).itertuples():
        day = row.date.date()
        year_of(day).closes.append((day, float(row.old_close), float(row.new_close)))
    stored_days, source_days = set(mine["date"].dt.date), set(theirs["date"].dt.date)
    for day in sorted((source_days - stored_days) & sessions):
        year_of(day).added.append(day)
    for day in sorted(stored_days - source_days):
        year_of(day).removed.append(day)
    return [years[y] for y in sorted(years)]


def years_to_rerun(changed: Sequence[ChangedYear]) -> dict[str, tuple[int, int]]:
    """ticker -> (first, last) year to materialize again (the years between come along:
    one run per ticker group, and an unchanged year re-run stores what it had)."""
    spans: dict[str, tuple[int, int]] = {}
    for year in changed:
        if not year.heals_by_rerun:
            continue
        low, high = spans.get(year.ticker, (year.year, year.year))
        spans[year.ticker] = (min(low, year.year), max(high, year.year))
    return spans
