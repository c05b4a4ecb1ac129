"""The runs the schedules and sensors request, and the tags that chain them: plain
functions of tags, settings and the registry, so the CLI (``stock-pipeline add``,
``materialize``) asks for exactly the runs the daemon would.

A night, a new ticker and a catch-up are each two runs: the data run (``market_data_job``,
ticker x year partitions), then the model-chain run (``model_chain_job``, ticker x day
partitions), requested with ``chain_tags`` when the data run succeeds. A run that failed
for some tickers is asked for again without them (``failed_tickers``, ``remaining_runs``).
"""

import datetime as dt
import shlex
from zoneinfo import ZoneInfo

from dagster import RunRequest

from stock_pipeline.defs.asset_bodies import ASOF_TAG, FAILED_TICKERS, SINCE_TAG
from stock_pipeline.defs.partitions import (
    RANGE_END,
    RANGE_START,
    contiguous_runs,
    partition_key,
    range_tags,
    split_key,
)
from stock_pipeline.market_data.calendar import latest_due_session, trading_days
from stock_pipeline.settings import Settings
from stock_pipeline.warehouse import connect, results

#: The data run's job (``defs.market_data.market_data_job``), by name: the run requests
#: of a schedule or sensor that targets it, and of the CLI, which has no job object.
MARKET_DATA_JOB = "market_data_job"

NIGHTLY_TAG = "stock_pipeline/nightly"
NEW_TICKER_TAG = "stock_pipeline/new_ticker"
#: On a data run: the first as-of date of the model-chain run to request after it.
CHAIN_FROM_TAG = "stock_pipeline/chain_from"


def data_tags(
    tickers: list[str], first: dt.date, last: dt.date, chain_from: dt.date | None
) -> dict[str, str]:
    """Tags of the data run of ``tickers`` (registry-adjacent) from ``first`` to ``last``,
    to be followed by their model chain from ``chain_from`` to ``last`` (if not None)."""
    tags = {**range_tags(tickers, first.year, last.year), ASOF_TAG: last.isoformat()}
    if chain_from is not None:
        tags[CHAIN_FROM_TAG] = chain_from.isoformat()
    return tags


def data_run_request(
    tickers: list[str], first: dt.date, last: dt.date, chain_from: dt.date | None, tags: dict
) -> RunRequest:
    return RunRequest(
        run_key=f"data:{last}:{first}:{chain_from}:{tickers[0]}:{tickers[-1]}",
        job_name=MARKET_DATA_JOB,
        tags={**data_tags(tickers, first, last, chain_from), **tags},
    )


def nightly_requests(
    day: dt.date,
    registered: list[str],
    watched: list[str],
    first_day: dict[str, dt.date] | None = None,
) -> list[RunRequest]:
    """One data run per group of tickers registered next to each other that need the
    same sessions: ``first_day[t]`` .. ``day`` (just ``day`` for a ticker not listed)."""
    first_day = first_day or {}
    by_first: dict[dt.date, list[str]] = {}
    for ticker in watched:
        by_first.setdefault(first_day.get(ticker, day), []).append(ticker)
    return [
        data_run_request(
            group, first, day, first, {NIGHTLY_TAG: day.isoformat(), SINCE_TAG: first.isoformat()}
        )
        for first, tickers in sorted(by_first.items())
        for group in contiguous_runs(registered, tickers)
    ]


def catch_up_days(day: dt.date, watched: list[str], settings: Settings, log) -> dict:
    """Per ticker, the first session the nightly run must cover: the one after its last
    forecast, when nights were missed (at most ``max_catch_up_sessions`` back)."""
    limit = settings.automation.max_catch_up_sessions
    if not settings.warehouse.exists():
        return {}
    try:
        with connect(settings.warehouse, read_only=True) as con:
            last = results.latest_forecast_dates(con)
    except Exception as exc:  # the nightly run must go on: it then covers ``day`` only
        log.warning(f"cannot read the warehouse to find missed sessions ({exc}); {day} only")
        return {}
    first_day = {}
    for ticker in watched:
        if ticker not in last or last[ticker] >= day:
            continue
        missed = trading_days(last[ticker] + dt.timedelta(days=1), day, settings.exchange)
        if len(missed) > limit:
            rest = ["--start", str(missed[0]), "--end", str(missed[-limit - 1])]
            rest_command = shlex.join(["stock-pipeline", "materialize", "--tickers", ticker, *rest])
            log.warning(
                f"{ticker}: {len(missed) - 1} session(s) missed since its last forecast "
                f"({last[ticker]}); its data is healed in full, but forecasts and evaluations "
                f"only for the last {limit} (automation.max_catch_up_sessions). For the rest: "
                + rest_command
            )
        first_day[ticker] = missed[max(0, len(missed) - limit)]
    return first_day


def latest_due_day(settings: Settings, now: dt.datetime) -> dt.date:
    """The newest session whose bar is due at ``now``."""
    local = now.astimezone(ZoneInfo(settings.exchange_timezone))
    auto = settings.automation
    return latest_due_session(local, auto.market_close, auto.bar_due_hours, settings.exchange)


def backfill_days(settings: Settings, start: dt.date | None, now: dt.datetime) -> list[dt.date]:
    """Sessions from ``start`` (default and earliest: ``history_start``) to the latest due."""
    end = latest_due_day(settings, now)
    first = max(start or settings.history_start, settings.history_start)
    return trading_days(first, end, settings.exchange)


def new_ticker_chain(days: list[dt.date], settings: Settings) -> dt.date | None:
    """A new ticker's model chain runs for the latest due session (if it is a partition)."""
    return days[-1] if days[-1] >= settings.start_date else None


def chain_tags(data_run_tags: dict[str, str], data_run_id: str) -> dict[str, str] | None:
    """Tags of the model-chain run that follows a data run carrying ``CHAIN_FROM_TAG``:
    the same tickers, from that session to the data run's as-of date."""
    tags = data_run_tags
    if CHAIN_FROM_TAG not in tags or RANGE_START not in tags:
        return None
    first_ticker, last_ticker = split_key(tags[RANGE_START])[0], split_key(tags[RANGE_END])[0]
    keep = {k: v for k, v in tags.items() if k in (NIGHTLY_TAG, NEW_TICKER_TAG)}
    return {
        RANGE_START: partition_key(first_ticker, tags[CHAIN_FROM_TAG]),
        RANGE_END: partition_key(last_ticker, tags[ASOF_TAG]),
        "stock_pipeline/after_data_run": data_run_id,
        **keep,
    }


def failed_tickers(events) -> dict[str, str] | None:
    """ticker -> error from a failed run's step failures; None when a step failed in a way
    that names no ticker (then every ticker of the run is suspect)."""
    failed: dict[str, str] = {}
    for event in events:
        if event.event_type_value != "STEP_FAILURE":
            continue
        user = event.event_specific_data.user_failure_data
        named = user.metadata.get(FAILED_TICKERS) if user is not None else None
        if named is None:
            return None
        failed.update(named.value)
    return failed


def range_tickers(tags: dict[str, str], registered: list[str]) -> list[str]:
    """The tickers of a ranged run: the registered ones from its range's first ticker to
    its last, in registration order (the order Dagster gives the dynamic partitions)."""
    first, last = split_key(tags[RANGE_START])[0], split_key(tags[RANGE_END])[0]
    return registered[registered.index(first) : registered.index(last) + 1]


def remaining_runs(run, registered: list[str], failed: dict[str, str]) -> list[RunRequest]:
    """The failed run again, without its failed tickers: one run per group of the others
    that are still registered next to each other."""
    tags = run.tags
    day, last_day = split_key(tags[RANGE_START])[1], split_key(tags[RANGE_END])[1]
    others = [t for t in range_tickers(tags, registered) if t not in failed]
    kept = {k: v for k, v in tags.items() if k.startswith("stock_pipeline/")}
    return [
        RunRequest(
            run_key=f"without:{run.run_id}:{group[0]}:{group[-1]}",
            job_name=run.job_name,
            tags={
                **kept,
                **range_tags(group, day, last_day),
                "stock_pipeline/without_failed_of": run.run_id,
            },
        )
        for group in contiguous_runs(registered, others)
    ]
