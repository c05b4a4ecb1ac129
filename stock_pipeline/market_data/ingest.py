"""The market-data stage as plain functions: fetch -> validate -> upsert bars, then
recompute -> upsert indicators.

The Dagster assets call these; a notebook can too. Each ticker succeeds or
fails on its own and the outcome says which, so a caller can write the good
tickers and report the bad ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from stock_pipeline.market_data.corrections import (
    Correction,
    correction_rows,
    corrections_of,
    is_rebased,
    revised_bars,
)
from stock_pipeline.market_data.indicators import (
    FIRST_VALID_ROW,
    INDICATOR_COLUMNS,
    compute_indicators,
)
from stock_pipeline.market_data.rebase import Rebase, changed_sessions, describe
from stock_pipeline.market_data.sources import (
    FetchResult,
    MarketDataSource,
    RejectedRow,
    SourceError,
)
from stock_pipeline.market_data.sources.plausibility import BarRules, screened
from stock_pipeline.warehouse import Connection, revisions
from stock_pipeline.warehouse import prices as stored


@dataclass
class TickerIngest:
    ticker: str
    source: str = ""
    rows_written: int = 0
    first_date: dt.date | None = None
    last_date: dt.date | None = None
    rejected: list[RejectedRow] = field(default_factory=list)
    missing_dates: list[dt.date] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rebase: Rebase | None = None  # the stored history was re-based (split, dividend, ...)
    corrections: list[Correction] = field(default_factory=list)  # stored bars the source changed
    filled_dates: list[dt.date] = field(default_factory=list)  # a gap after the last bar
    error: str | None = None


def ingest_bars(
    con: Connection,
    source: MarketDataSource,
    dates_by_ticker: Mapping[str, Sequence[dt.date]],
    rules: BarRules | None = None,
) -> list[TickerIngest]:
    """Fetch each ticker's bars for its trading dates and store them; one request batch.

    Every source's bars pass ``rules`` (``plausibility.screened``: the current session as
    of the caller's clock, the bounds of a day's move and of a price) before anything is
    stored; the bars they reject are reported with the source's own rejected rows.

    The request also covers the stored session before each ticker's first date, so
    that a re-based download (after a split or dividend) is seen by comparing it with
    what is stored; the ticker's history is then replaced (``replace_rebased``). Only
    bars dated on a requested session (or already stored) are written. A ticker with no
    bar at all among its requested dates fails; other tickers are unaffected.
    """
    tickers = list(dates_by_ticker)
    starts = {t: _overlap_start(con, t, min(days)) for t, days in dates_by_ticker.items()}
    start = min(starts.values())
    end = max(max(days) for days in dates_by_ticker.values())
    outcomes = source.fetch(tickers, start, end)
    rules = rules or BarRules()
    results = []
    for ticker in tickers:
        result = TickerIngest(ticker, source.name)
        results.append(result)
        outcome = outcomes.get(ticker)
        if outcome is None:
            result.error = f"{ticker}: {source.name} returned nothing for this ticker"
        elif isinstance(outcome, SourceError):
            result.error = str(outcome)
        else:
            outcome = screened(outcome, rules)
            window = (starts[ticker], end)
            _store(con, source, outcome, dates_by_ticker[ticker], window, rules, result)
    return results


def _overlap_start(con: Connection, ticker: str, first: dt.date) -> dt.date:
    previous = stored.previous_bar_date(con, ticker, first)
    return previous if previous is not None else first


def _store(
    con: Connection,
    source: MarketDataSource,
    outcome: FetchResult,
    dates: Sequence[dt.date],
    window: tuple[dt.date, dt.date],
    rules: BarRules,
    result: TickerIngest,
) -> None:
    """Write one ticker's fetched bars: the wanted sessions, and the sessions between the
    last stored bar and the first wanted one (a night that was missed), or the whole
    re-based history."""
    ticker, wanted = result.ticker, set(dates)
    result.rejected, result.notes = list(outcome.rejected), list(outcome.notes)
    fetched = outcome.bars["date"].dt.date
    bars = outcome.bars[fetched.isin(wanted)]
    result.missing_dates = sorted(wanted - set(bars["date"].dt.date))
    if window[0] < min(wanted):  # window[0] is then the last stored bar before them
        result.filled_dates = sorted(set(fetched[(fetched > window[0]) & (fetched < min(wanted))]))
    if bars.empty:
        rejected = "; ".join(map(str, outcome.rejected[:5]))
        result.error = (
            f"{ticker}: {source.name} has no bars for the {len(wanted)} trading day(s) "
            f"{min(wanted)}..{max(wanted)}" + (f"; rejected rows: {rejected}" if rejected else "")
        )
        return
    before = stored.read_ohlcv(con, ticker, *window)
    changed = changed_sessions(before, outcome.bars)
    written = wanted | set(result.filled_dates)
    if len(changed):
        replace_rebased(con, source, ticker, changed, written, window[1], result, rules)
    else:
        rows = outcome.bars[fetched.isin(written)]
        revised = revised_bars(before, rows)  # open/high/low changed, closes as they were
        if len(revised):
            result.corrections = corrections_of(ticker, revised)
            result.rows_written = revisions.upsert_corrected_bars(
                con, ticker, rows, outcome.source, correction_rows(ticker, revised, outcome.source)
            )
        else:
            result.rows_written = stored.upsert_ohlcv(con, ticker, rows, outcome.source)
    stored.upsert_actions(con, ticker, outcome.actions, outcome.source)
    if result.error is None:
        result.first_date = bars["date"].iloc[0].date()
        result.last_date = bars["date"].iloc[-1].date()


def replace_rebased(
    con: Connection,
    source: MarketDataSource,
    ticker: str,
    changed: pd.DataFrame,
    wanted: set[dt.date],
    end: dt.date,
    result: TickerIngest,
    rules: BarRules | None = None,
) -> None:
    """Download the ticker's whole stored span again and replace its stored bars with it;
    recorded as a re-based history when every earlier bar changed by one factor, else as
    the corrected bars.

    Nothing is replaced unless the new download (its bars that pass ``rules``) has every
    stored session: a history cannot be half re-based."""
    have = stored.stored_bar_dates(con, ticker)
    outcome = source.fetch([ticker], have[0], max(end, have[-1])).get(ticker)
    if isinstance(outcome, FetchResult):
        outcome = screened(outcome, rules or BarRules())
    why = str(outcome) if not isinstance(outcome, FetchResult) else ""
    new = outcome.bars if isinstance(outcome, FetchResult) else None
    lacking = sorted(set(have) - set(new["date"].dt.date)) if new is not None else []
    if why or lacking:
        shown = ", ".join(str(d) for d in lacking[:3])
        first = {str(d) for d in lacking[:3]}
        refused = [r for r in outcome.rejected if r.date in first] if new is not None else []
        shown += f" ({refused[0]})" if refused else ""
        reason = why or f"it lacks {len(lacking)} stored session(s), first {shown}"
        result.error = (
            f"{ticker}: the stored bars differ from {source.name}'s new download on "
            f"{changed['date'].min().date()} (a split, dividend or correction), but the "
            f"download of the whole history failed: {reason}; nothing was replaced"
        )
        return
    keep = new[new["date"].dt.date.isin(set(have) | wanted)]
    history = stored.read_ohlcv(con, ticker)
    revised = revised_bars(history, keep)
    known = set(revisions.stored_action_dates(con, ticker))
    reported = set(pd.to_datetime(outcome.actions["date"]).dt.date)
    events = len(reported - known)  # splits and dividends the source reports for the first time
    if is_rebased(revised, history["date"], events):
        rebase = describe(ticker, changed, keep["date"], outcome.actions)
        revision = {
            "ex_date": rebase.ex_date,
            "detected_on": end,
            "action": rebase.action,
            "close_factor": rebase.close_factor,
            "adj_factor": rebase.adj_factor,
            "first_changed": rebase.first_changed,
            "last_changed": rebase.last_changed,
            "rows_replaced": len(keep),
        }
        result.rows_written = stored.replace_history(con, ticker, keep, outcome.source, revision)
        result.rebase = rebase
    else:  # some bars changed and the bars around them did not: a correction, not a split
        rows = correction_rows(ticker, revised, outcome.source)
        result.rows_written = stored.replace_history(
            con, ticker, keep, outcome.source, corrections=rows
        )
        result.corrections = corrections_of(ticker, revised)
    stored.upsert_actions(con, ticker, outcome.actions, outcome.source)


@dataclass
class TickerIndicators:
    ticker: str
    rows_written: int = 0
    rows_recomputed: int = 0  # stored rows before the run's dates that no longer matched
    first_date: dt.date | None = None
    last_date: dt.date | None = None
    history_rows: int = 0
    warmup_null_cells: int = 0
    error: str | None = None


def update_indicators(con: Connection, ticker: str, dates: Sequence[dt.date]) -> TickerIndicators:
    """Recompute indicators from the ticker's stored history up to max(dates); store the
    rows of ``dates`` and every stored row that no longer matches its bars.

    Using the whole stored history (not a slice) is what makes a one-day update equal a
    full backfill for the infinite-memory indicators (EMA, MACD, OBV); rewriting the rows
    that changed is what keeps them equal after a re-based history (a split, a dividend).
    """
    result = TickerIndicators(ticker)
    history = stored.read_ohlcv(con, ticker, end=max(dates))
    result.history_rows = len(history)
    if history.empty:
        result.error = f"{ticker}: no stored bars up to {max(dates)}; materialize raw_ohlcv first"
        return result
    table = compute_indicators(history)
    wanted = table["date"].dt.date.isin(set(dates))
    if not wanted.any():
        result.error = (
            f"{ticker}: no stored bars on the {len(dates)} requested date(s) "
            f"{min(dates)}..{max(dates)}"
        )
        return result
    stale, absent = _differs(table, stored.read_indicators(con, ticker, end=max(dates)))
    result.rows_written = stored.upsert_indicators(con, ticker, table[wanted | stale | absent])
    result.rows_recomputed = int((stale & ~wanted).sum())
    rows = table[wanted]
    result.first_date = rows["date"].iloc[0].date()
    result.last_date = rows["date"].iloc[-1].date()
    positions = rows.index.to_numpy()
    result.warmup_null_cells = int(
        sum((positions < first).sum() for first in FIRST_VALID_ROW.values())
    )
    return result


def _differs(table: pd.DataFrame, previous: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(rows of ``table`` stored in ``previous`` with any other value (NaN equals NaN),
    rows not stored at all: bars that arrived without their indicators, a missed night)."""
    old = table[["date"]].merge(previous, on="date", how="left", indicator=True)
    was_stored = (old["_merge"] == "both").to_numpy()
    new_values = table[INDICATOR_COLUMNS].to_numpy(dtype=float)
    old_values = old[INDICATOR_COLUMNS].to_numpy(dtype=float)
    same = (new_values == old_values) | (np.isnan(new_values) & np.isnan(old_values))
    stale = pd.Series(was_stored & ~same.all(axis=1), index=table.index)
    return stale, pd.Series(~was_stored, index=table.index)
