"""Schedules, sensors and the freshness check: when the lineage runs, and for whom.

- ``nightly_refresh``: every exchange session after the close, the whole lineage for
  that session and every watched ticker, in as few runs as the registry order allows
  (a ranged run covers tickers registered next to each other); holidays are skipped.
- ``split_failed_nightly``: a failed multi-ticker nightly run is re-requested one run
  per ticker, so one bad ticker cannot hold the others' models back.
- ``watchlist_sensor``: tickers new in watchlist.yaml become partitions and get their
  history backfilled (data assets: one run per ticker; model chain: the latest session).
- ``raw_ohlcv_fresh``: fails when a watched ticker lacks the latest due session's bar.
"""

import datetime as dt
from zoneinfo import ZoneInfo

from dagster import (
    AddDynamicPartitionsRequest,
    AssetCheckKey,
    AssetCheckResult,
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
    asset_check,
    define_asset_job,
    run_failure_sensor,
    schedule,
    sensor,
)
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.definitions.events import AssetKeyPartitionKey

from stock_pipeline.calendar import is_trading_day, latest_due_session, trading_days
from stock_pipeline.defs.partitions import TICKERS_PARTITION, contiguous_runs
from stock_pipeline.defs.resources import DuckDBWarehouse, PipelineSettings
from stock_pipeline.settings import Settings
from stock_pipeline.watchlist import load_watchlist

DATA_ASSETS = ("raw_ohlcv", "indicators")
CHAIN_ASSETS = ("windowed_tensors", "lstm_model", "walk_forward_evaluation", "backtest_report")
SUMMARY_ASSET = "backtest_summary"
NIGHTLY_TAG = "stock_pipeline/nightly"
SPLIT_TAG = "stock_pipeline/split_from"

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


def watched_tickers(registered: list[str], settings: Settings) -> list[str]:
    """Registered tickers still on the watchlist (all registered ones if there is none)."""
    if not settings.watchlist_path.exists():
        return list(registered)
    listed = {e.ticker for e in load_watchlist(settings.watchlist_path)}
    return [t for t in registered if t in listed]


def nightly_requests(day: dt.date, registered: list[str], watched: list[str]) -> list[RunRequest]:
    requests = []
    for group in contiguous_runs(registered, watched):
        requests.append(
            RunRequest(
                run_key=f"{day}:{group[0]}:{group[-1]}",
                tags={
                    "dagster/asset_partition_range_start": f"{day}|{group[0]}",
                    "dagster/asset_partition_range_end": f"{day}|{group[-1]}",
                    NIGHTLY_TAG: day.isoformat(),
                    # no whole-run retry: split_failed_nightly retries per ticker instead
                    "dagster/max_retries": "0" if len(group) > 1 else "2",
                },
            )
        )
    return requests


def backfill_subset(asset_graph, ticker: str, days: list[dt.date]) -> AssetGraphSubset:
    """History of the data assets, the model chain for the last day, and the summary."""
    parts = {
        AssetKeyPartitionKey(AssetKey(name), f"{day}|{ticker}")
        for name in DATA_ASSETS
        for day in days
    }
    parts |= {AssetKeyPartitionKey(AssetKey(name), f"{days[-1]}|{ticker}") for name in CHAIN_ASSETS}
    parts.add(AssetKeyPartitionKey(AssetKey(SUMMARY_ASSET), None))
    return AssetGraphSubset.from_asset_partition_set(parts, asset_graph)


def backfill_days(settings: Settings, start: dt.date | None, now: dt.datetime) -> list[dt.date]:
    local = now.astimezone(ZoneInfo(settings.exchange_timezone))
    auto = settings.automation
    end = latest_due_session(local, auto.market_close, auto.bar_due_hours, settings.exchange)
    first = max(start or settings.start_date, settings.start_date)
    return trading_days(first, end, settings.exchange)


def build_automation(settings: Settings):
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
        watched = watched_tickers(registered, settings)
        if not watched:
            return SkipReason("no registered ticker is on the watchlist")
        return nightly_requests(day, registered, watched)

    @run_failure_sensor(
        monitored_jobs=[nightly_job],
        request_job=nightly_job,
        default_status=DefaultSensorStatus.RUNNING,
        description="Re-runs a failed multi-ticker nightly run as one run per ticker.",
    )
    def split_failed_nightly(context):
        run = context.dagster_run
        tags = run.tags
        start = tags.get("dagster/asset_partition_range_start", "")
        end = tags.get("dagster/asset_partition_range_end", "")
        if NIGHTLY_TAG not in tags or SPLIT_TAG in tags or start == end:
            return
        day, first = start.split("|", 1)
        last = end.split("|", 1)[1]
        registered = context.instance.get_dynamic_partitions(TICKERS_PARTITION)
        group = registered[registered.index(first) : registered.index(last) + 1]
        for ticker in group:
            yield RunRequest(
                run_key=f"split:{run.run_id}:{ticker}",
                tags={
                    "dagster/asset_partition_range_start": f"{day}|{ticker}",
                    "dagster/asset_partition_range_end": f"{day}|{ticker}",
                    NIGHTLY_TAG: day,
                    SPLIT_TAG: run.run_id,
                },
            )

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
                tags={"stock_pipeline/new_ticker": e.ticker},
            )
            for e in new
        ]
        return SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=[
                AddDynamicPartitionsRequest(TICKERS_PARTITION, [e.ticker for e in new])
            ],
        )

    return [nightly_refresh], [split_failed_nightly, watchlist_sensor]


def build_freshness_check(raw_ohlcv):
    @asset_check(
        asset=raw_ohlcv,
        description="Every watched ticker has the bar of the latest session that is due "
        "(its close plus the refresh window).",
    )
    def raw_ohlcv_fresh(settings: PipelineSettings, warehouse: DuckDBWarehouse) -> AssetCheckResult:
        cfg = settings.get()
        tz = ZoneInfo(cfg.exchange_timezone)
        now = dt.datetime.now(tz)
        due = latest_due_session(now, cfg.automation.market_close, cfg.automation.bar_due_hours)
        with warehouse.connect() as con:
            latest = dict(con.execute("SELECT ticker, max(date) FROM ohlcv GROUP BY 1").fetchall())
            tickers = [e.ticker for e in settings.watchlist()] or list(latest)
        stale = {t: str(latest.get(t)) for t in tickers if latest.get(t) is None or latest[t] < due}
        return AssetCheckResult(
            passed=not stale,
            metadata={"due_session": str(due), "stale_tickers": stale, "checked": len(tickers)},
        )

    return raw_ohlcv_fresh


def freshness_job(check):
    return define_asset_job("freshness_check_job", selection=AssetSelection.checks(check))


def freshness_schedule(job):
    return ScheduleDefinition(
        name="freshness_check_hourly",
        job=job,
        cron_schedule="15 * * * 1-5",
        execution_timezone="America/New_York",
        default_status=DefaultScheduleStatus.RUNNING,
        description="Hourly on weekdays: is the latest due bar stored for every watched ticker?",
    )
