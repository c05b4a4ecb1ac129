"""``revision_check_weekly``: the stored history compared with the source's, and the
years the source changed materialized again (wiring; the logic is in
``market_data.revisions``).

The nightly run fetches only its own sessions, so a vendor's correction of an old bar
reaches the warehouse here: each changed (year, ticker) is named in the tick's log, and
a data run of those year partitions (one per group of registry neighbours, as the nightly
does) makes the stored tables equal a fresh backfill. csv files and the sample are
compared in full; a live source for its last ``automation.revision_check_years`` years,
in one request per batch of tickers.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from dagster import (
    DefaultScheduleStatus,
    Definitions,
    MetadataValue,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from stock_pipeline.defs.asset_bodies import ASOF_TAG, table_md
from stock_pipeline.defs.partitions import TICKERS_PARTITION, contiguous_runs, range_tags
from stock_pipeline.defs.run_requests import MARKET_DATA_JOB
from stock_pipeline.market_data.calendar import latest_due_session, trading_days
from stock_pipeline.market_data.revisions import ChangedYear, changed_years, years_to_rerun
from stock_pipeline.market_data.sources import serving_sources
from stock_pipeline.market_data.watchlist import watched_tickers
from stock_pipeline.settings import Settings
from stock_pipeline.warehouse import connect
from stock_pipeline.warehouse import revisions as stored

REVISION_TAG = "stock_pipeline/revision_check"


def check_span(settings: Settings, live: bool, end: dt.date) -> tuple[dt.date, dt.date]:
    """The dates the check compares for a source: a live one's last years (the provider's
    budget), a file's whole history."""
    if not live:
        return settings.history_start, end
    first = dt.date(end.year - settings.automation.revision_check_years + 1, 1, 1)
    return max(first, settings.history_start), end


def find_changes(
    settings: Settings, tickers: list[str], end: dt.date
) -> tuple[list[ChangedYear], dict[str, str]]:
    """The changed years of ``tickers`` and the tickers that could not be compared."""
    changed, errors = [], {}
    for served in serving_sources(settings, tickers):
        span = check_span(settings, served.live, end)
        with connect(settings.warehouse, read_only=True) as con:  # closed while fetching
            have = stored.read_bars_between(con, served.tickers, *span)
        sessions = trading_days(*span, settings.exchange)
        found, failed = changed_years(have, served.open(), span, sessions)
        changed += found
        errors.update(failed)
    return changed, errors


def rerun_requests(
    changed: list[ChangedYear], registered: list[str], end: dt.date
) -> list[RunRequest]:
    """One data run per group of registry neighbours with the same years to re-run."""
    by_span: dict[tuple[int, int], list[str]] = {}
    for ticker, span in years_to_rerun(changed).items():
        by_span.setdefault(span, []).append(ticker)
    return [
        RunRequest(
            run_key=f"revisions:{end}:{first}:{last}:{group[0]}:{group[-1]}",
            job_name=MARKET_DATA_JOB,
            tags={
                **range_tags(group, first, last),
                ASOF_TAG: end.isoformat(),
                REVISION_TAG: end.isoformat(),
            },
        )
        for (first, last), tickers in sorted(by_span.items())
        for group in contiguous_runs(registered, tickers)
    ]


def build_revision_check(settings: Settings):
    auto = settings.automation

    @schedule(
        job_name=MARKET_DATA_JOB,
        cron_schedule=auto.revision_check_cron,
        execution_timezone=settings.exchange_timezone,
        default_status=DefaultScheduleStatus.RUNNING,
        description="Weekly: the stored history compared with the source's; the years the "
        "source changed (a vendor's correction) are materialized again.",
    )
    def revision_check_weekly(context: ScheduleEvaluationContext):
        now = context.scheduled_execution_time.astimezone(ZoneInfo(settings.exchange_timezone))
        end = latest_due_session(now, auto.market_close, auto.bar_due_hours, settings.exchange)
        registered = context.instance.get_dynamic_partitions(TICKERS_PARTITION)
        watched = watched_tickers(registered, settings.watchlist_path)
        if not watched or not settings.warehouse.exists():
            return SkipReason("no watched ticker has stored bars")
        try:
            changed, errors = find_changes(settings, watched, end)
        except Exception as exc:  # a locked warehouse or a source outage: next week
            return SkipReason(f"the stored history could not be compared: {exc}")
        for ticker, error in errors.items():
            context.log.warning(f"{ticker}: not compared with its source: {error}")
        for year in changed:
            action = "materialized again" if year.heals_by_rerun else "left as stored"
            context.log.warning(f"the source changed {year}; {action}")
        requests = rerun_requests(changed, registered, end)
        if not requests:
            return SkipReason(f"{len(watched)} ticker(s) compared through {end}: no change")
        return requests

    return revision_check_weekly


def revision_check_definitions(settings: Settings) -> Definitions:
    return Definitions(schedules=[build_revision_check(settings)])


def corrected_bars(results: list) -> MetadataValue:
    """``raw_ohlcv``'s table of the bars a source corrected (no split or dividend)."""
    return table_md(
        [
            {
                "ticker": c.ticker,
                "date": str(c.date),
                "close": f"{c.old_close:.6g} -> {c.new_close:.6g}",
            }
            for r in results
            for c in r.corrections
        ]
    )


def corrected_lines(results: list) -> list[str]:
    """Run-log lines of the corrected bars, a few per ticker."""
    return [
        f"{r.ticker}: the source corrected {len(r.corrections)} stored bar(s): "
        + "; ".join(str(c) for c in r.corrections[:5])
        for r in results
        if r.corrections
    ]
