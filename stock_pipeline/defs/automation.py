"""The schedules and sensors that run the lineage on their own, and the model-chain job
they run after each data run: when the lineage runs, and for whom.

A night, a new ticker and a catch-up are each two runs: the data run (``market_data_job``,
ticker x year partitions), then the model-chain run (``model_chain_job``, ticker x day
partitions, and the cross-ticker summary), which ``model_chain_after_data`` requests when
the data run succeeds. Both cover the tickers registered next to each other, in as few
runs as the registry order allows. A step writes every good ticker and then fails naming
the bad ones; ``split_failed_runs`` re-runs the run without them, so one bad ticker
never holds the others' later steps back. The requests themselves are built in
``run_requests``.

- ``nightly_refresh``: every exchange session after the close, for every watched ticker;
  holidays are skipped. A ticker whose last forecast is older also gets the sessions it
  missed (bounded by ``automation.max_catch_up_sessions``), so the stored state heals.
- ``watchlist_sensor``: tickers new in watchlist.yaml become partitions and get their
  history (data run) and a forecast, evaluation and report for the latest due session.

The hourly freshness check and the universe's run after the night belong to their groups
(``market_data``, ``universe``).
"""

import datetime as dt
from zoneinfo import ZoneInfo

from dagster import (
    AddDynamicPartitionsRequest,
    AssetSelection,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    RunRequest,
    RunStatusSensorContext,
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

from stock_pipeline.defs import evaluation, forecasting, trading
from stock_pipeline.defs.market_data import market_data_job
from stock_pipeline.defs.partitions import (
    RANGE_END,
    RANGE_START,
    TICKERS_PARTITION,
    contiguous_runs,
)
from stock_pipeline.defs.run_health import dead_run_sensor
from stock_pipeline.defs.run_requests import (
    NEW_TICKER_TAG,
    backfill_days,
    catch_up_days,
    chain_tags,
    data_run_request,
    failed_tickers,
    latest_due_day,
    new_ticker_chain,
    nightly_requests,
    remaining_runs,
)
from stock_pipeline.market_data.calendar import is_trading_day
from stock_pipeline.market_data.watchlist import read_watchlist, split_not_due, watched_tickers
from stock_pipeline.settings import Settings

model_chain_job = define_asset_job(
    "model_chain_job",
    selection=AssetSelection.groups(forecasting.GROUP, evaluation.GROUP, trading.GROUP),
    description="Forecast, walk-forward evaluation and backtest as of a range of sessions "
    "for tickers registered together, then the cross-ticker summary.",
)


def utc_now() -> dt.datetime:
    """The sensor's clock (tests replace it)."""
    return dt.datetime.now(dt.UTC)


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


#: How often the sensors that continue the lineage after a run look for finished runs.
CHAIN_SENSOR_INTERVAL_S = 5


@run_status_sensor(
    run_status=DagsterRunStatus.SUCCESS,
    request_job=model_chain_job,
    # the chain follows its data run within seconds (the default, 30 s, left the tickers'
    # new bars without forecasts for half a minute); an evaluation is one event-log query
    minimum_interval_seconds=CHAIN_SENSOR_INTERVAL_S,
    default_status=DefaultSensorStatus.RUNNING,
    description="After a data run that succeeded: the model-chain run of its tickers.",
)
def model_chain_after_data(context: RunStatusSensorContext):
    run = context.dagster_run
    tags = chain_tags(run.tags, run.run_id)
    if tags is None:
        return SkipReason("not a data run followed by a model chain")
    return RunRequest(run_key=f"chain:{run.run_id}", tags=tags)


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


def automation_definitions(settings: Settings) -> Definitions:
    """The model-chain job, the nightly schedule and the sensors that chain, split and
    start runs, and the one that fails the runs of dead processes."""
    return Definitions(
        jobs=[model_chain_job],
        schedules=[build_nightly_schedule(settings)],
        sensors=[
            model_chain_after_data,
            split_failed_runs,
            build_watchlist_sensor(settings),
            dead_run_sensor,
        ],
    )
