"""Asset group ``market_data``: ``raw_ohlcv`` and ``indicators``, their checks (the data
checks in ``market_data_checks``, the freshness check here), the data run's job and the
hourly freshness check's job and schedule.

Wiring only; the logic is in ``stock_pipeline/market_data``.
"""

import datetime as dt
from zoneinfo import ZoneInfo

from dagster import (
    AssetCheckKey,
    AssetCheckResult,
    AssetDep,
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    DefaultScheduleStatus,
    Definitions,
    MaterializeResult,
    MetadataValue,
    ScheduleDefinition,
    asset,
    asset_check,
    define_asset_job,
)

from stock_pipeline.defs.asset_bodies import (
    DUCKDB_POOL,
    PREVIEW_ROWS,
    finish,
    log_lines,
    run_sessions,
    table_md,
    ticker_date_asset_args,
)
from stock_pipeline.defs.market_data_checks import (
    build_bar_checks,
    build_indicator_check,
    failing,
)
from stock_pipeline.defs.partitions import lookback_mapping, make_data_partitions
from stock_pipeline.defs.resources import DuckDBWarehouse, SettingsParam
from stock_pipeline.defs.revisions import corrected_bars, corrected_lines
from stock_pipeline.defs.run_requests import MARKET_DATA_JOB
from stock_pipeline.market_data import ingest, quality
from stock_pipeline.market_data.calendar import current_session, latest_due_session
from stock_pipeline.market_data.sources import serving_sources
from stock_pipeline.market_data.sources.plausibility import BarRules
from stock_pipeline.market_data.watchlist import watchlist_entries
from stock_pipeline.settings import Settings

GROUP = "market_data"

#: Metadata key of ``raw_ohlcv``: ticker -> {"rows": rejected rows, "first": the first one}.
REJECTED_BY_TICKER = "rejected_by_ticker"


def bar_rules(settings) -> BarRules:
    """The bar rules as of now: a bar dated after the exchange's current session (its
    local date) is from the future."""
    today = dt.datetime.now(ZoneInfo(settings.exchange_timezone)).date()
    return BarRules.of(settings.source, current_session(today, settings.exchange))


def ingest_run(context: AssetExecutionContext, settings, con) -> list[ingest.TickerIngest]:
    """Fetch and store the run's bars, one request batch per source."""
    wanted = run_sessions(context, settings)
    rules = bar_rules(settings)
    results = []
    for served in serving_sources(settings, list(wanted)):
        source = served.open()
        due = {t: wanted[t] for t in served.tickers if wanted[t]}
        if due:
            results += ingest.ingest_bars(con, source, due, rules)
    for res in results:
        for note in res.notes:
            context.log.warning(note)
        if res.missing_dates:
            context.log.warning(
                f"{res.ticker}: no bar on {len(res.missing_dates)} trading day(s), "
                f"first {res.missing_dates[:5]}"
            )
    return results


def written_span(results: list) -> dict[str, object]:
    """Tickers, rows written and the first/last date written, for the UI."""
    written = [r for r in results if r.error is None]
    return {
        "tickers": MetadataValue.json([r.ticker for r in results]),
        "rows_written": sum(r.rows_written for r in written),
        "first_date": str(min((r.first_date for r in written), default="")),
        "last_date": str(max((r.last_date for r in written), default="")),
    }


def ingest_metadata(results: list) -> dict[str, object]:
    """What the UI shows on a ``raw_ohlcv`` materialization."""
    rejected = [str(r) for res in results for r in res.rejected]
    rebased = [r.rebase for r in results if r.rebase is not None]
    return {
        "source": ", ".join(sorted({r.source for r in results if r.source})),
        **written_span(results),
        "rejected_rows": len(rejected),
        REJECTED_BY_TICKER: MetadataValue.json(
            {
                r.ticker: {"rows": len(r.rejected), "first": str(r.rejected[0])}
                for r in results
                if r.rejected
            }
        ),
        "rejected_preview": MetadataValue.md(
            "\n".join(f"- {r}" for r in rejected[:PREVIEW_ROWS]) or "none"
        ),
        "missing_trading_days": sum(len(r.missing_dates) for r in results),
        "gap_sessions_filled": sum(len(r.filled_dates) for r in results),
        "rebased_histories": table_md(
            [
                {
                    "ticker": b.ticker,
                    "ex_date": str(b.ex_date),
                    "action": b.action,
                    "sessions_changed": f"{b.first_changed}..{b.last_changed}",
                }
                for b in rebased
            ]
        ),
        "corrected_bars": corrected_bars(results),
    }


def ingest_log_lines(results: list) -> list[str]:
    """Re-based histories and filled gaps, for the run log."""
    rebased = [r.rebase for r in results if r.rebase is not None]
    lines = [f"{b}; its whole stored history was replaced" for b in rebased]
    return [*lines, *corrected_lines(results)] + [
        f"{r.ticker}: also stored the {len(r.filled_dates)} missed session(s) "
        f"{r.filled_dates[0]}..{r.filled_dates[-1]} after its last stored bar"
        for r in results
        if r.filled_dates
    ]


def indicator_metadata(results: list) -> dict[str, object]:
    written = [r for r in results if r.error is None]
    return {
        **written_span(results),
        "rows_recomputed": sum(r.rows_recomputed for r in written),
        "history_rows_used": sum(r.history_rows for r in written),
        "warmup_null_cells": sum(r.warmup_null_cells for r in written),
    }


def build_market_data_assets(partitions_def):
    """``partitions_def``: ticker x year (``partitions.make_data_partitions``)."""
    args = ticker_date_asset_args(partitions_def, GROUP)

    @asset(
        **args,
        pool=DUCKDB_POOL,
        kinds={"duckdb", "python"},
        description="Daily OHLCV bars (unadjusted OHLC + Adj Close) in DuckDB table `ohlcv`.",
    )
    def raw_ohlcv(
        context: AssetExecutionContext, settings: SettingsParam, warehouse: DuckDBWarehouse
    ) -> MaterializeResult:
        with warehouse.connect() as con:
            results = ingest_run(context, settings, con)
        log_lines(context, ingest_log_lines(results))
        return finish(ingest_metadata(results), {r.ticker: r.error for r in results if r.error})

    @asset(
        **args,
        # the warm-up of the first sessions of a year lies in the year before
        deps=[AssetDep(raw_ohlcv, partition_mapping=lookback_mapping(1))],
        pool=DUCKDB_POOL,
        kinds={"duckdb", "python"},
        description=(
            "Technical indicators (ta) in DuckDB table `indicators`, computed causally from "
            "each ticker's stored history; warm-up rows are NULL."
        ),
    )
    def indicators(
        context: AssetExecutionContext, settings: SettingsParam, warehouse: DuckDBWarehouse
    ) -> MaterializeResult:
        wanted = run_sessions(context, settings)
        with warehouse.connect() as con:
            results = [ingest.update_indicators(con, t, days) for t, days in wanted.items() if days]
        log_lines(
            context,
            [
                f"{r.ticker}: recomputed {r.rows_recomputed} stored indicator row(s) whose bars "
                "changed (a re-based history)"
                for r in results
                if r.error is None and r.rows_recomputed
            ],
        )
        return finish(indicator_metadata(results), {r.ticker: r.error for r in results if r.error})

    checks = [
        *build_bar_checks(raw_ohlcv),
        build_indicator_check(indicators),
        build_freshness_check(raw_ohlcv),
    ]
    return [raw_ohlcv, indicators], checks


def due_bars(settings, tickers: list[str]) -> dict[str, tuple[dt.date | None, str]]:
    """ticker -> (the newest bar that should be stored, what it is checked against).

    A live source (yfinance, Alpha Vantage) is due the latest session whose close plus
    the refresh window has passed; a source that is not live (the offline sample, csv
    files) is due its own newest bar, so a finished history is not reported stale, but
    never one after the latest due session.
    """
    now = dt.datetime.now(ZoneInfo(settings.exchange_timezone))
    auto = settings.automation
    session = latest_due_session(now, auto.market_close, auto.bar_due_hours, settings.exchange)
    out: dict[str, tuple[dt.date | None, str]] = {}
    calendar = (session, f"the {settings.exchange} calendar")
    for served in serving_sources(settings, tickers):
        if served.live:
            out.update(dict.fromkeys(served.tickers, calendar))
            continue
        source = served.open()
        for ticker in served.tickers:
            newest = source.newest_bar(ticker)  # a file's bars from the future are not due
            due = min(newest, session) if newest is not None else None
            out[ticker] = (due, f"the newest bar in the {source.name} source")
    return out


def build_freshness_check(raw_ohlcv):
    @asset_check(
        asset=raw_ohlcv,
        description="Every watched ticker has its newest due bar: for a live source the "
        "latest session whose close plus the refresh window has passed; for the offline "
        "sample and csv files, the newest bar they hold.",
    )
    def raw_ohlcv_fresh(settings: SettingsParam, warehouse: DuckDBWarehouse) -> AssetCheckResult:
        with warehouse.connect() as con:
            latest = quality.latest_bar_dates(con)
        tickers = [e.ticker for e in watchlist_entries(settings.watchlist_path)] or list(latest)
        due = due_bars(settings, tickers)
        stale = {
            t: {"stored": str(latest.get(t)), "due": str(day), "against": against}
            for t, (day, against) in due.items()
            if day is not None and (latest.get(t) is None or latest[t] < day)
        }
        against = sorted({a for _, a in due.values()})
        return AssetCheckResult(
            passed=not stale,
            metadata={
                "checked_against": ", ".join(against) or "nothing (no watched ticker)",
                "stale_tickers": MetadataValue.json(stale),
                **failing(stale),
                "checked": len(tickers),
            },
        )

    return raw_ohlcv_fresh


FRESHNESS_CHECK = AssetCheckKey(AssetKey("raw_ohlcv"), "raw_ohlcv_fresh")

market_data_job = define_asset_job(
    MARKET_DATA_JOB,
    # The freshness check has its own hourly job; in a data run it would only repeat the
    # hourly verdict, and an unpartitioned check costs Dagster a scan of every partition
    # key of raw_ohlcv each time it is evaluated.
    selection=AssetSelection.groups(GROUP) - AssetSelection.checks(FRESHNESS_CHECK),
    description="Bars and indicators of a range of years for tickers registered together.",
)
freshness_check_job = define_asset_job(
    "freshness_check_job", selection=AssetSelection.checks(FRESHNESS_CHECK)
)


def market_data_definitions(settings: Settings) -> Definitions:
    """The group's assets and checks (ticker x year), the data run's job, and the hourly
    freshness check. The schedule and sensors that start data runs are ``automation``'s."""
    assets, checks = build_market_data_assets(make_data_partitions(settings))
    hourly = ScheduleDefinition(
        name="freshness_check_hourly",
        job=freshness_check_job,
        cron_schedule="15 * * * 1-5",
        execution_timezone=settings.exchange_timezone,
        default_status=DefaultScheduleStatus.RUNNING,
        description="Hourly on weekdays: is the latest due bar stored for every watched ticker?",
    )
    return Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=[market_data_job, freshness_check_job],
        schedules=[hourly],
    )
