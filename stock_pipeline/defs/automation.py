"""Jobs, schedules and sensors: when the lineage runs, and for whom.

A night, a new ticker and a catch-up are each two runs: the data run (``market_data_job``,
ticker x year partitions), then the model-chain run (``model_chain_job``, ticker x day
partitions, and the cross-ticker summary), which ``model_chain_after_data`` requests when
the data run succeeds. Both cover the tickers registered next to each other, in as few
runs as the registry order allows. A step writes every good ticker and then fails naming
the bad ones; ``split_failed_runs`` re-runs the run without them, so one bad ticker
never holds the others' later steps back.

- ``nightly_refresh``: every exchange session after the close, for every watched ticker;
  holidays are skipped. A ticker whose last forecast is older also gets the sessions it
  missed (bounded by ``automation.max_catch_up_sessions``), so the stored state heals.
- ``watchlist_sensor``: tickers new in watchlist.yaml become partitions and get their
  history (data run) and a forecast, evaluation and report for the latest due session.
- ``freshness_check_hourly``: runs the ``raw_ohlcv_fresh`` check.
"""

import datetime as dt
from zoneinfo import ZoneInfo

from dagster import (
    AddDynamicPartitionsRequest,
    AssetCheckKey,
    AssetKey,
    AssetSelection,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    RunStatusSensorContext,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    run_failure_sensor,
    run_status_sensor,
    schedule,
    sensor,
)

from stock_pipeline.defs.asset_bodies import (
    ASOF_TAG,
    CHAIN_ASSETS,
    DATA_ASSETS,
    FAILED_TICKERS,
    SINCE_TAG,
    SUMMARY_ASSET,
)
from stock_pipeline.defs.partitions import (
    RANGE_END,
    RANGE_START,
    TICKERS_PARTITION,
    contiguous_runs,
    partition_key,
    range_tags,
    split_key,
)
from stock_pipeline.market_data.calendar import is_trading_day, latest_due_session, trading_days
from stock_pipeline.market_data.watchlist import read_watchlist, split_not_due, watched_tickers
from stock_pipeline.settings import Settings
from stock_pipeline.warehouse import connect, results

NIGHTLY_TAG = "stock_pipeline/nightly"
NEW_TICKER_TAG = "stock_pipeline/new_ticker"
#: On a data run: the first as-of date of the model-chain run to request after it.
CHAIN_FROM_TAG = "stock_pipeline/chain_from"

FRESHNESS_CHECK = AssetCheckKey(AssetKey("raw_ohlcv"), "raw_ohlcv_fresh")

market_data_job = define_asset_job(
    "market_data_job",
    # The freshness check has its own hourly job; in a data run it would only repeat the
    # hourly verdict, and an unpartitioned check costs Dagster a scan of every partition
    # key of raw_ohlcv each time it is evaluated.
    selection=AssetSelection.assets(*DATA_ASSETS) - AssetSelection.checks(FRESHNESS_CHECK),
    description="Bars and indicators of a range of years for tickers registered together.",
)
model_chain_job = define_asset_job(
    "model_chain_job",
    selection=AssetSelection.assets(*CHAIN_ASSETS, SUMMARY_ASSET),
    description="Forecast, walk-forward evaluation and backtest as of a range of sessions "
    "for tickers registered together, then the cross-ticker summary.",
)


def utc_now() -> dt.datetime:
    """The sensor's clock (tests replace it)."""
    return dt.datetime.now(dt.UTC)


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
        job_name=market_data_job.name,
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
            log.warning(
                f"{ticker}: {len(missed) - 1} session(s) missed since its last forecast "
                f"({last[ticker]}); its data is healed in full, but forecasts and evaluations "
                f"only for the last {limit} (automation.max_catch_up_sessions). For the rest: "
                f"stock-pipeline materialize --tickers {ticker} --start {missed[0]} "
                f"--end {missed[-limit - 1]}"
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


def build_nightly_schedule(settings: Settings):
    @schedule(
        job=market_data_job,
        cron_schedule=settings.automation.nightly_cron,
        execution_timezone=settings.exchange_timezone,
        default_status=DefaultScheduleStatus.RUNNING,
        description="Every session after the close: the whole lineage for every watched ticker.",
    )
    def nightly_refresh(context: ScheduleEvaluationContext):
        tz = ZoneInfo(settings.exchange_timezone)
        day = context.scheduled_execution_time.astimezone(tz).date()
        if not is_trading_day(day, settings.exchange):
            return SkipReason(f"{day} is not a {settings.exchange} session")
        registered = context.instance.get_dynamic_partitions(TICKERS_PARTITION)
        watched = watched_tickers(registered, settings.watchlist_path)
        if not watched:
            return SkipReason("no registered ticker is on the watchlist")
        first_day = catch_up_days(day, watched, settings, context.log)
        return nightly_requests(day, registered, watched, first_day)

    return nightly_refresh


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


@run_status_sensor(
    run_status=DagsterRunStatus.SUCCESS,
    request_job=model_chain_job,
    default_status=DefaultSensorStatus.RUNNING,
    description="After a data run that succeeded: the model-chain run of its tickers.",
)
def model_chain_after_data(context: RunStatusSensorContext):
    run = context.dagster_run
    tags = chain_tags(run.tags, run.run_id)
    if tags is None:
        return SkipReason("not a data run followed by a model chain")
    return RunRequest(run_key=f"chain:{run.run_id}", tags=tags)


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


def remaining_runs(run, registered: list[str], failed: dict[str, str]) -> list[RunRequest]:
    """The failed run again, without its failed tickers: one run per group of the others
    that are still registered next to each other."""
    tags = run.tags
    (first, day), (last, last_day) = split_key(tags[RANGE_START]), split_key(tags[RANGE_END])
    covered = registered[registered.index(first) : registered.index(last) + 1]
    others = [t for t in covered if t not in failed]
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


@run_failure_sensor(
    monitored_jobs=[market_data_job, model_chain_job],
    request_jobs=[market_data_job, model_chain_job],
    default_status=DefaultSensorStatus.RUNNING,
    description="A run that failed for some tickers is re-run without them, so that the "
    "others' later steps (indicators, the model chain) are not held back.",
)
def split_failed_runs(context):
    run = context.dagster_run
    if RANGE_START not in run.tags or run.tags[RANGE_START] == run.tags.get(RANGE_END):
        return
    records = context.instance.get_records_for_run(run.run_id).records
    failed = failed_tickers(
        r.event_log_entry.dagster_event for r in records if r.event_log_entry.dagster_event
    )
    if not failed:
        return  # nothing names the failed tickers: the run's own retries apply
    registered = context.instance.get_dynamic_partitions(TICKERS_PARTITION)
    context.log.warning(f"run {run.run_id[:8]} failed for {sorted(failed)}; re-running the others")
    yield from remaining_runs(run, registered, failed)


def build_watchlist_sensor(settings: Settings):
    @sensor(
        job=market_data_job,
        minimum_interval_seconds=30,
        default_status=DefaultSensorStatus.RUNNING,
        description="Registers tickers new in watchlist.yaml and backfills their history.",
    )
    def watchlist_sensor(context: SensorEvaluationContext):
        try:
            watchlist = read_watchlist(settings.watchlist_path)
        except ValueError as exc:
            return SkipReason(str(exc))
        registered = context.instance.get_dynamic_partitions(TICKERS_PARTITION)
        now, requests = utc_now(), []
        new, later = split_not_due(
            [e for e in watchlist.entries if e.ticker not in set(registered)],
            settings.watchlist_path,
            latest_due_day(settings, now),
        )
        skipped = [f"{entry}; skipped" for entry in [*watchlist.skipped, *later]]
        for line in skipped:  # each bad entry, on every tick, until the file is fixed
            context.log.warning(line)
        if not new:
            listed = len(watchlist.entries)
            return SkipReason("; ".join([f"{listed} watched ticker(s), none new", *skipped]))
        order = [*registered, *(e.ticker for e in new)]
        by_start: dict[dt.date | None, list[str]] = {}
        for entry in new:
            by_start.setdefault(entry.start, []).append(entry.ticker)
        for start, tickers in by_start.items():
            days = backfill_days(settings, start, now)
            chain_from = new_ticker_chain(days, settings)
            for group in contiguous_runs(order, tickers):
                tags = {NEW_TICKER_TAG: ",".join(group)}
                requests.append(data_run_request(group, days[0], days[-1], chain_from, tags))
        return SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=[
                AddDynamicPartitionsRequest(TICKERS_PARTITION, [e.ticker for e in new])
            ],
        )

    return watchlist_sensor


def build_automation(settings: Settings, freshness_check) -> dict[str, list]:
    """Jobs, schedules and sensors for ``Definitions``."""
    check_job = define_asset_job(
        "freshness_check_job", selection=AssetSelection.checks(freshness_check)
    )
    hourly = ScheduleDefinition(
        name="freshness_check_hourly",
        job=check_job,
        cron_schedule="15 * * * 1-5",
        execution_timezone=settings.exchange_timezone,
        default_status=DefaultScheduleStatus.RUNNING,
        description="Hourly on weekdays: is the latest due bar stored for every watched ticker?",
    )
    return {
        "jobs": [market_data_job, model_chain_job, check_job],
        "schedules": [build_nightly_schedule(settings), hourly],
        "sensors": [model_chain_after_data, split_failed_runs, build_watchlist_sensor(settings)],
    }
