"""Assets ``raw_ohlcv`` and ``indicators`` and their checks: wiring only, logic in ``ingest``."""

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetDep,
    AssetExecutionContext,
    BackfillPolicy,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from stock_pipeline import ingest
from stock_pipeline.defs.partitions import dates_by_ticker, lookback_mapping
from stock_pipeline.defs.resources import DuckDBWarehouse, PipelineSettings
from stock_pipeline.indicators import WARMUP_BARS

DUCKDB_POOL = "duckdb_writer"
PREVIEW_ROWS = 20


def run_dates(context: AssetExecutionContext | AssetCheckExecutionContext) -> dict:
    return dates_by_ticker(context.partition_keys)


def check_tickers(context: AssetCheckExecutionContext) -> list[str]:
    """The run's tickers; a check reads each one's whole stored history, not only the run's dates.

    The data checks are partitioned like their assets: recording an unpartitioned check's
    result in a ranged run makes Dagster list every partition key of the asset
    (tickers x sessions), about 1 s per check at 20 tickers, growing with the history.
    """
    return list(run_dates(context))


def fail_tickers(errors: dict[str, str], metadata: dict) -> None:
    if errors:
        raise Failure(
            description=f"{len(errors)} ticker(s) failed: " + " | ".join(errors.values()),
            metadata={**metadata, "failed_tickers": MetadataValue.json(errors)},
        )


def build_market_data_assets(partitions_def):
    @asset(
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),
        pool=DUCKDB_POOL,
        group_name="market_data",
        kinds={"duckdb", "python"},
        description="Daily OHLCV bars (unadjusted OHLC + Adj Close) in DuckDB table `ohlcv`.",
    )
    def raw_ohlcv(
        context: AssetExecutionContext, settings: PipelineSettings, warehouse: DuckDBWarehouse
    ) -> MaterializeResult:
        wanted = run_dates(context)
        results = []
        groups = settings.sources_for(list(wanted))
        with warehouse.connect() as con:
            for name, tickers in groups.items():
                source = settings.market_data(name)
                results += ingest.ingest_bars(con, source, {t: wanted[t] for t in tickers})
        rejected = [str(r) for res in results for r in res.rejected]
        for res in results:
            for note in res.notes:
                context.log.warning(note)
            if res.missing_dates:
                context.log.warning(
                    f"{res.ticker}: no bar on {len(res.missing_dates)} trading day(s), "
                    f"first {res.missing_dates[:5]}"
                )
        written = [r for r in results if r.error is None]
        metadata = {
            "source": ", ".join(groups),
            "tickers": MetadataValue.json([r.ticker for r in results]),
            "rows_written": sum(r.rows_written for r in written),
            "first_date": str(min((r.first_date for r in written), default="")),
            "last_date": str(max((r.last_date for r in written), default="")),
            "rejected_rows": len(rejected),
            "rejected_preview": MetadataValue.md(
                "\n".join(f"- {r}" for r in rejected[:PREVIEW_ROWS]) or "none"
            ),
            "missing_trading_days": sum(len(r.missing_dates) for r in results),
        }
        fail_tickers({r.ticker: r.error for r in results if r.error}, metadata)
        return MaterializeResult(metadata=metadata)

    @asset(
        partitions_def=partitions_def,
        deps=[AssetDep(raw_ohlcv, partition_mapping=lookback_mapping(WARMUP_BARS))],
        backfill_policy=BackfillPolicy.single_run(),
        pool=DUCKDB_POOL,
        group_name="market_data",
        kinds={"duckdb", "python"},
        description=(
            "Technical indicators (ta) in DuckDB table `indicators`, computed causally from "
            "each ticker's stored history; warm-up rows are NULL."
        ),
    )
    def indicators(context: AssetExecutionContext, warehouse: DuckDBWarehouse) -> MaterializeResult:
        wanted = run_dates(context)
        with warehouse.connect() as con:
            results = [ingest.update_indicators(con, t, days) for t, days in wanted.items()]
        written = [r for r in results if r.error is None]
        metadata = {
            "tickers": MetadataValue.json([r.ticker for r in results]),
            "rows_written": sum(r.rows_written for r in written),
            "first_date": str(min((r.first_date for r in written), default="")),
            "last_date": str(max((r.last_date for r in written), default="")),
            "history_rows_used": sum(r.history_rows for r in written),
            "warmup_null_cells": sum(r.warmup_null_cells for r in written),
        }
        fail_tickers({r.ticker: r.error for r in results if r.error}, metadata)
        return MaterializeResult(metadata=metadata)

    @asset_check(
        asset=raw_ohlcv,
        partitions_def=partitions_def,
        description="prices > 0, low <= open/close <= high, volume >= 0",
    )
    def ohlc_sanity(
        context: AssetCheckExecutionContext, warehouse: DuckDBWarehouse
    ) -> AssetCheckResult:
        with warehouse.connect() as con:
            bad = ingest.ohlc_violations(con, check_tickers(context))
        return AssetCheckResult(
            passed=bad.empty,
            metadata={
                "violations": len(bad),
                "preview": MetadataValue.md(bad.head(PREVIEW_ROWS).to_markdown(index=False))
                if not bad.empty
                else "none",
            },
        )

    @asset_check(
        asset=raw_ohlcv,
        partitions_def=partitions_def,
        description="at most one bar per ticker and date",
    )
    def ohlcv_unique_dates(
        context: AssetCheckExecutionContext, warehouse: DuckDBWarehouse
    ) -> AssetCheckResult:
        with warehouse.connect() as con:
            dups = ingest.duplicate_dates(con, "ohlcv", check_tickers(context))
        return AssetCheckResult(
            passed=dups.empty,
            metadata={"duplicated_dates": len(dups)},
        )

    @asset_check(
        asset=raw_ohlcv,
        partitions_def=partitions_def,
        description="no trading day without a bar between a ticker's first and last bar",
    )
    def ohlcv_no_gaps(
        context: AssetCheckExecutionContext,
        settings: PipelineSettings,
        warehouse: DuckDBWarehouse,
    ) -> AssetCheckResult:
        exchange = settings.get().exchange
        gaps: dict[str, list[str]] = {}
        with warehouse.connect() as con:
            for ticker in check_tickers(context):
                missing = ingest.trading_day_gaps(con, ticker, exchange)
                if missing:
                    gaps[ticker] = [d.isoformat() for d in missing[:PREVIEW_ROWS]]
        return AssetCheckResult(
            passed=not gaps,
            metadata={"tickers_with_gaps": len(gaps), "gaps": MetadataValue.json(gaps)},
        )

    @asset_check(
        asset=indicators,
        partitions_def=partitions_def,
        description="every indicator is finite after its warm-up",
    )
    def indicators_finite_after_warmup(
        context: AssetCheckExecutionContext, warehouse: DuckDBWarehouse
    ) -> AssetCheckResult:
        bad: dict[str, dict[str, list[str]]] = {}
        with warehouse.connect() as con:
            for ticker in check_tickers(context):
                cells = ingest.non_finite_after_warmup(con, ticker)
                if cells:
                    bad[ticker] = {c: [d.isoformat() for d in ds[:5]] for c, ds in cells.items()}
        return AssetCheckResult(passed=not bad, metadata={"non_finite": MetadataValue.json(bad)})

    return (
        [raw_ohlcv, indicators],
        [ohlc_sanity, ohlcv_unique_dates, ohlcv_no_gaps, indicators_finite_after_warmup],
    )
