"""Jobs, schedules and sensors: when the lineage runs, and for whom.

- ``nightly_refresh``: every exchange session after the close, the whole lineage for
  that session and every watched ticker, in as few runs as the registry order allows
  (a ranged run covers tickers registered next to each other); holidays are skipped.
  A ticker whose last forecast is older also gets the sessions it missed (bounded by
  ``automation.max_catch_up_sessions``), so the stored state heals after an outage.
- ``split_failed_nightly``: a failed multi-ticker nightly run is re-requested one run
  per ticker, so one bad ticker cannot hold the others' models back.
- ``watchlist_sensor``: tickers new in watchlist.yaml become partitions and get their
  history backfilled (data assets: one run per ticker; model chain: the latest session).
- ``freshness_check_hourly``: runs the ``raw_ohlcv_fresh`` check.
"""

import datetime as dt
from zoneinfo import ZoneInfo

from dagster import (
    AddDynamicPartitionsRequest,
    AssetCheckKey,
    AssetKey,
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    run_failure_sensor,
    schedule,
    sensor,
)

from stock_pipeline.defs._dagster_private import AssetGraphSubset, AssetKeyPartitionKey
from stock_pipeline.defs.assets import CHAIN_ASSETS, DATA_ASSETS, SUMMARY_ASSET
from stock_pipeline.defs.partitions import (
    TICKERS_PARTITION,
    contiguous_runs,
    partition_key,
    range_tags,
)
from stock_pipeline.market_data.calendar import is_trading_day, latest_due_session, trading_days
from stock_pipeline.market_data.watchlist import load_watchlist, watched_tickers
from stock_pipeline.settings import Settings
from stock_pipeline.warehouse import connect, results

NIGHTLY_TAG = "stock_pipeline/nightly"
SPLIT_TAG = "stock_pipeline/split_from"
NEW_TICKER_TAG = "stock_pipeline/new_ticker"
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"

FRESHNESS_CHECK = AssetCheckKey(AssetKey("raw_ohlcv"), "raw_ohlcv_fresh")

nightly_job = define_asset_job(
    "nightly_refresh_job",
    # The freshness check has its own hourly job; in the nightly run it would only repeat
    # the hourly verdict, and an unpartitioned check costs Dagster a scan of every
    # partition key of raw_ohlcv (tickers x sessions) each time it is evaluated.
    selection=AssetSelection.assets(*DATA_ASSETS, *CHAIN_ASSETS)
    - AssetSelection.checks(FRESHNESS_CHECK),
    description="One session of the whole lineage for a range of tickers.",
)


def utc_now() -> dt.datetime:
    """The sensor's clock (tests replace it)."""
    return dt.datetime.now(dt.UTC)


def nightly_requests(
    day: dt.date,
    registered: list[str],
    watched: list[str],
    first_day: dict[str, dt.date] | None = None,
) -> list[RunRequest]:
    """One run per group of tickers registered next to each other that need the same
    sessions: ``first_day[t]`` .. ``day`` (just ``day`` for a ticker not listed)."""
    first_day = first_day or {}
    by_first: dict[dt.date, list[str]] = {}
    for ticker in watched:
        by_first.setdefault(first_day.get(ticker, day), []).append(ticker)
    requests = []
    for first, tickers in sorted(by_first.items()):
        for group in contiguous_runs(registered, tickers):
            requests.append(
                RunRequest(
                    run_key=f"{day}:{first}:{group[0]}:{group[-1]}",
                    tags={
                        **range_tags(group, first, day),
                        NIGHTLY_TAG: day.isoformat(),
                        # no whole-run retry: split_failed_nightly retries per ticker instead
                        "dagster/max_retries": "0" if len(group) > 1 else "2",
                    },
                )
            )
    return requests


def catch_up_days(day: dt.date, watched: list[str], settings: Settings, log) -> dict[str, dt.date]:
    """Per ticker, the first session the nightly run must cover: the one after its last
    forecast, when nights were missed (at most ``max_catch_up_sessions`` back)."""
    limit = settings.automation.max_catch_up_sessions
    try:
        with connect(settings.warehouse, read_only=True) as con:
            last = results.latest_forecast_dates(con)
    except Exception as exc:  # the nightly run must go on: it then covers ``day`` only
        log.warning(
            f"cannot read the warehouse to find missed sessions ({exc}); requesting {day} only"
        )
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


def backfill_subset(asset_graph, ticker: str, days: list[dt.date]) -> AssetGraphSubset:
    """History of the data assets, the model chain for the last day, and the summary."""
    parts = {
        AssetKeyPartitionKey(AssetKey(name), partition_key(ticker, day))
        for name in DATA_ASSETS
        for day in days
    }
    parts |= {
        AssetKeyPartitionKey(AssetKey(name), partition_key(ticker, days[-1]))
        for name in CHAIN_ASSETS
    }
    parts.add(AssetKeyPartitionKey(AssetKey(SUMMARY_ASSET), None))
    return AssetGraphSubset.from_asset_partition_set(parts, asset_graph)


def backfill_days(settings: Settings, start: dt.date | None, now: dt.datetime) -> list[dt.date]:
    """Sessions from ``start`` (no earlier than the first partition) to the latest due one."""
    local = now.astimezone(ZoneInfo(settings.exchange_timezone))
    auto = settings.automation
    end = latest_due_session(local, auto.market_close, auto.bar_due_hours, settings.exchange)
    first = max(start or settings.start_date, settings.start_date)
    return trading_days(first, end, settings.exchange)


def build_nightly_schedule(settings: Settings):
    @schedule(
        job=nightly_job,
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


@run_failure_sensor(
    monitored_jobs=[nightly_job],
    request_job=nightly_job,
    default_status=DefaultSensorStatus.RUNNING,
    description="Re-runs a failed multi-ticker nightly run as one run per ticker.",
)
def split_failed_nightly(context):
    run = context.dagster_run
    tags = run.tags
    start, end = tags.get(RANGE_START, ""), tags.get(RANGE_END, "")
    if NIGHTLY_TAG not in tags or SPLIT_TAG in tags or start == end:
        return
    day, first = start.split("|", 1)
    last = end.split("|", 1)[1]
    registered = context.instance.get_dynamic_partitions(TICKERS_PARTITION)
    group = registered[registered.index(first) : registered.index(last) + 1]
    for ticker in group:
        yield RunRequest(
            run_key=f"split:{run.run_id}:{ticker}",
            tags={**range_tags([ticker], day), NIGHTLY_TAG: day, SPLIT_TAG: run.run_id},
        )


def build_watchlist_sensor(settings: Settings):
    @sensor(
        minimum_interval_seconds=30,
        default_status=DefaultSensorStatus.RUNNING,
        description="Registers tickers new in watchlist.yaml and backfills their history.",
    )
    def watchlist_sensor(context: SensorEvaluationContext):
        try:
            entries = load_watchlist(settings.watchlist_path)
        except ValueError as exc:
            return SkipReason(str(exc))
        registered = set(context.instance.get_dynamic_partitions(TICKERS_PARTITION))
        new = [e for e in entries if e.ticker not in registered]
        if not new:
            return SkipReason(f"{len(entries)} watched ticker(s), none new")
        now = utc_now()
        graph = context.repository_def.asset_graph
        requests = [
            RunRequest.for_asset_graph_subset(
                backfill_subset(graph, e.ticker, backfill_days(settings, e.start, now)),
                tags={NEW_TICKER_TAG: e.ticker},
            )
            for e in new
        ]
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
        "jobs": [nightly_job, check_job],
        "schedules": [build_nightly_schedule(settings), hourly],
        "sensors": [split_failed_nightly, build_watchlist_sensor(settings)],
    }
