"""What every (ticker, date) asset body shares: its decorator arguments, the run's
partitions grouped by ticker, per-ticker work that fails alone, and one way to turn the
results into metadata and a failure."""

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetExecutionContext,
    BackfillPolicy,
    Failure,
    MaterializeResult,
    MetadataValue,
)

from stock_pipeline.compute import Engine, Stage, fan_out
from stock_pipeline.defs.partitions import dates_by_ticker, sessions_by_ticker, split_key
from stock_pipeline.errors import error_text
from stock_pipeline.market_data.calendar import latest_due_session
from stock_pipeline.settings import Settings

#: The per-ticker assets by name, in lineage order, for the CLI and the benchmarks, which
#: sort the names they are given into runs before they pick a job (the jobs select by
#: group; a test checks these are the groups' assets): the data run's, and the model
#: chain's without the cross-ticker summary.
DATA_ASSETS = ("raw_ohlcv", "indicators")
CHAIN_ASSETS = (
    "windowed_tensors",
    "lstm_model",
    "walk_forward_evaluation",
    "model_comparison",
    "backtest_report",
)

#: The session a data run materializes up to (the nightly's date, a backfill's end); a
#: run without it goes up to the latest session whose bar is due now.
ASOF_TAG = "stock_pipeline/asof"

#: On a nightly data run: its first new session (the sessions of the year before it are
#: stored; a gap after the last stored bar is filled all the same).
SINCE_TAG = "stock_pipeline/since"

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
    """A model-chain run's partitions: ticker -> its sorted as-of dates."""
    return dates_by_ticker(context.partition_keys)


def run_tickers(context: AssetExecutionContext | AssetCheckExecutionContext) -> list[str]:
    return sorted({split_key(k)[0] for k in context.partition_keys})


def run_asof(context: AssetExecutionContext, settings: Settings) -> dt.date:
    tagged = context.run.tags.get(ASOF_TAG)
    if tagged:
        return dt.date.fromisoformat(tagged)
    now = dt.datetime.now(ZoneInfo(settings.exchange_timezone))
    auto = settings.automation
    return latest_due_session(now, auto.market_close, auto.bar_due_hours, settings.exchange)


def run_sessions(context: AssetExecutionContext, settings: Settings) -> dict:
    """A data run's year partitions: ticker -> the sessions of its years up to the run's
    as-of date."""
    since = context.run.tags.get(SINCE_TAG)
    first = dt.date.fromisoformat(since) if since else None
    return sessions_by_ticker(context.partition_keys, run_asof(context, settings), settings, first)


def per_item(
    items: Iterable[tuple[str, Any]], work: Callable[[str, Any], Any]
) -> tuple[list[Any], dict[str, str]]:
    """Run ``work`` per (ticker, date); a failure is recorded for its ticker (keyed by
    ticker: the unit a failed run is split by), with the causes it was raised from
    (``errors.error_text``), and the rest go on."""
    done, errors = [], {}
    for ticker, day in items:
        try:
            done.append(work(ticker, day))
        except (ValueError, OSError) as exc:
            message = f"{ticker} {day}: {error_text(exc)}"
            errors[ticker] = f"{errors[ticker]} | {message}" if ticker in errors else message
    return done, errors


def per_ticker(
    context: AssetExecutionContext, engine: Engine, stage: Stage, settings: Settings
) -> tuple[list[Any], dict[str, str]]:
    """``stage`` over every (ticker, date) partition of a model-chain run, its compute on
    ``engine`` (a call per ticker), its reads and writes here; failures as ``per_item``'s."""
    return fan_out(engine, chain_dates(context, settings), stage)


def chain_dates(context: AssetExecutionContext, settings: Settings) -> dict:
    """``run_dates``, refused when a ticker has more than the model chain allows."""
    wanted = run_dates(context)
    most = max((len(days) for days in wanted.values()), default=0)
    limit = settings.automation.max_chain_sessions_per_run
    if most > limit:
        first = min(days[0] for days in wanted.values())
        last = max(days[-1] for days in wanted.values())
        raise Failure(
            description=(
                f"this run asks for {most} as-of sessions per ticker ({first}..{last}); each "
                "is a forecast, a walk-forward evaluation and a report, so the model chain "
                "runs for the latest session (the nightly refresh) or a few. Materialize the "
                "latest session, or raise automation.max_chain_sessions_per_run "
                f"(now {limit}) for a deliberate backfill of as-of dates."
            )
        )
    return wanted


#: The metadata key of a failed step's ``Failure``: ticker -> what went wrong. The run is
#: then re-run without those tickers (``automation.split_failed_runs``).
FAILED_TICKERS = "failed_tickers"


def finish(metadata: dict[str, Any], errors: dict[str, str]) -> MaterializeResult:
    """The step's result; with failed tickers, a ``Failure`` naming each (the others'
    rows are already written, and a follow-up run carries them on without the failed)."""
    if errors:
        raise Failure(
            description=f"{len(errors)} ticker(s) failed: " + " | ".join(errors.values()),
            metadata={**metadata, FAILED_TICKERS: MetadataValue.json(errors)},
        )
    return MaterializeResult(metadata=metadata)


def finish_partitions(
    context: AssetExecutionContext,
    partitions: dict[str, dict[str, Any]],
    errors: dict[str, str],
    summary: dict[str, Any] | None = None,
) -> MaterializeResult:
    """Each partition of the run gets its own ticker's metadata (``partitions``: key ->
    metadata), the run's ``summary`` goes to all; with failed tickers, a ``Failure``."""
    if not errors:
        for key, metadata in partitions.items():
            context.add_asset_metadata(metadata, partition_key=key)
    return finish(summary or {}, errors)


def log_lines(context: AssetExecutionContext, lines: list[str]) -> None:
    """One log event for the whole run: each event is a write to the instance's storage."""
    if lines:
        context.log.info("\n".join(lines))


def table_md(rows: list[dict[str, Any]]) -> MetadataValue:
    return MetadataValue.md(pd.DataFrame(rows).to_markdown(index=False) if rows else "none")
