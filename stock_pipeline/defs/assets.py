"""What every (ticker, date) asset body shares: its decorator arguments, the run's
partitions grouped by ticker, per-ticker work that fails alone, and one way to turn the
results into metadata and a failure."""

from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetExecutionContext,
    BackfillPolicy,
    Failure,
    MaterializeResult,
    MetadataValue,
)

from stock_pipeline.defs.partitions import dates_by_ticker, partition_key

DATA_ASSETS = ("raw_ohlcv", "indicators")
CHAIN_ASSETS = ("windowed_tensors", "lstm_model", "walk_forward_evaluation", "backtest_report")
SUMMARY_ASSET = "backtest_summary"

#: Concurrency pool of the steps that write the DuckDB file (one writer at a time).
DUCKDB_POOL = "duckdb_writer"
PREVIEW_ROWS = 20


def ticker_date_asset_args(partitions_def, group: str) -> dict[str, Any]:
    """Decorator arguments of every (ticker, date) asset: a ranged backfill is one run."""
    return {
        "partitions_def": partitions_def,
        "backfill_policy": BackfillPolicy.single_run(),
        "group_name": group,
    }


def run_dates(context: AssetExecutionContext | AssetCheckExecutionContext) -> dict:
    """The run's partitions: ticker -> its sorted dates."""
    return dates_by_ticker(context.partition_keys)


def per_item(
    items: Iterable[tuple[str, Any]], work: Callable[[str, Any], Any]
) -> tuple[list[Any], dict[str, str]]:
    """Run ``work`` per (ticker, date); one failure is recorded, the rest go on."""
    done, errors = [], {}
    for ticker, day in items:
        try:
            done.append(work(ticker, day))
        except (ValueError, OSError) as exc:
            errors[partition_key(ticker, day)] = f"{ticker} {day}: {exc}"
    return done, errors


def per_partition(
    context: AssetExecutionContext, work: Callable[[str, Any], Any]
) -> tuple[list[Any], dict[str, str]]:
    """``per_item`` over every (ticker, date) partition of the run."""
    return per_item([(t, d) for t, days in run_dates(context).items() for d in days], work)


def finish(metadata: dict[str, Any], errors: dict[str, str]) -> MaterializeResult:
    """The step's result; with failed tickers, a ``Failure`` naming each (the others'
    rows are already written)."""
    if errors:
        raise Failure(
            description=f"{len(errors)} ticker(s) failed: " + " | ".join(errors.values()),
            metadata={**metadata, "failed_tickers": MetadataValue.json(errors)},
        )
    return MaterializeResult(metadata=metadata)


def log_lines(context: AssetExecutionContext, lines: list[str]) -> None:
    """One log event for the whole run: each event is a write to the instance's storage."""
    if lines:
        context.log.info("\n".join(lines))


def table_md(rows: list[dict[str, Any]]) -> MetadataValue:
    return MetadataValue.md(pd.DataFrame(rows).to_markdown(index=False) if rows else "none")
