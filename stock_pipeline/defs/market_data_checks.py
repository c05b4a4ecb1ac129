"""The data checks of ``raw_ohlcv`` and ``indicators`` (the freshness check is with the
assets, in ``market_data``).

They are not partitioned although their assets are: Dagster records a partitioned check's
result of a ranged run for no partition, so every partition it planned stays "Skipped" in
the UI, and planning one check execution per partition made a 13,500-partition run 6x
slower (365 s against 62 s, in-memory instance). An unpartitioned check runs in the same
data run, reads the whole stored history of each ticker in the run's partitions (not only
the run's dates) and records one result.
"""

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetsDefinition,
    DagsterInvariantViolationError,
    MetadataValue,
    asset_check,
)

from stock_pipeline.defs.asset_bodies import PREVIEW_ROWS, run_tickers
from stock_pipeline.defs.partitions import (
    PARTITION_TAG,
    RANGE_END,
    RANGE_START,
    TICKERS_PARTITION,
    split_key,
)
from stock_pipeline.defs.resources import DuckDBWarehouse, SettingsParam
from stock_pipeline.market_data import quality

#: Metadata key of a data check: the tickers that break it (the CLI's per-ticker lines).
FAILING_TICKERS = "failing_tickers"


def failing(tickers) -> dict[str, MetadataValue]:
    return {FAILING_TICKERS: MetadataValue.json(sorted(set(tickers)))}


def checked_tickers(context: AssetCheckExecutionContext, con) -> list[str]:
    """The tickers of the run's partitions. A run of the checks alone has no partitioned
    asset, so its range tags (the UI's "Execute" with a range) are read against the
    registered tickers; without partitions every stored ticker is checked."""
    try:
        return run_tickers(context)
    except DagsterInvariantViolationError:
        pass
    tags = context.run.tags
    first, last = tags.get(RANGE_START), tags.get(RANGE_END)
    single = tags.get(PARTITION_TAG)
    if single:
        return [split_key(single)[0]]
    if first and last:
        names = list(context.instance.get_dynamic_partitions(TICKERS_PARTITION))
        lo, hi = names.index(split_key(first)[0]), names.index(split_key(last)[0])
        return sorted(names[lo : hi + 1])
    return sorted(quality.latest_bar_dates(con))


def build_bar_checks(raw_ohlcv: AssetsDefinition) -> list:
    @asset_check(
        asset=raw_ohlcv,
        description="prices > 0, low <= open/close <= high, volume >= 0",
    )
    def ohlc_sanity(
        context: AssetCheckExecutionContext, warehouse: DuckDBWarehouse
    ) -> AssetCheckResult:
        with warehouse.connect() as con:
            bad = quality.ohlc_violations(con, checked_tickers(context, con))
        preview = bad.head(PREVIEW_ROWS).to_markdown(index=False) if not bad.empty else "none"
        return AssetCheckResult(
            passed=bad.empty,
            metadata={
                "violations": len(bad),
                "preview": MetadataValue.md(preview),
                **failing(bad.get("ticker", [])),
            },
        )

    @asset_check(
        asset=raw_ohlcv,
        description="at most one bar per ticker and date",
    )
    def ohlcv_unique_dates(
        context: AssetCheckExecutionContext, warehouse: DuckDBWarehouse
    ) -> AssetCheckResult:
        with warehouse.connect() as con:
            dups = quality.duplicate_dates(con, "ohlcv", checked_tickers(context, con))
        return AssetCheckResult(
            passed=dups.empty,
            metadata={"duplicated_dates": len(dups), **failing(dups.get("ticker", []))},
        )

    @asset_check(
        asset=raw_ohlcv,
        description="no trading day without a bar between a ticker's first and last bar",
    )
    def ohlcv_no_gaps(
        context: AssetCheckExecutionContext, settings: SettingsParam, warehouse: DuckDBWarehouse
    ) -> AssetCheckResult:
        gaps: dict[str, list[str]] = {}
        with warehouse.connect() as con:
            for ticker in checked_tickers(context, con):
                missing = quality.trading_day_gaps(con, ticker, settings.exchange)
                if missing:
                    gaps[ticker] = [d.isoformat() for d in missing[:PREVIEW_ROWS]]
        return AssetCheckResult(
            passed=not gaps,
            metadata={
                "tickers_with_gaps": len(gaps),
                "gaps": MetadataValue.json(gaps),
                **failing(gaps),
            },
        )

    return [ohlc_sanity, ohlcv_unique_dates, ohlcv_no_gaps]


def build_indicator_check(indicators: AssetsDefinition):
    @asset_check(
        asset=indicators,
        description="every indicator is finite after its warm-up",
    )
    def indicators_finite_after_warmup(
        context: AssetCheckExecutionContext, warehouse: DuckDBWarehouse
    ) -> AssetCheckResult:
        bad: dict[str, dict[str, list[str]]] = {}
        with warehouse.connect() as con:
            for ticker in checked_tickers(context, con):
                cells = quality.non_finite_after_warmup(con, ticker)
                if cells:
                    bad[ticker] = {c: [d.isoformat() for d in ds[:5]] for c, ds in cells.items()}
        return AssetCheckResult(
            passed=not bad, metadata={"non_finite": MetadataValue.json(bad), **failing(bad)}
        )

    return indicators_finite_after_warmup
