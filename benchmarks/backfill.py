"""Backfill one ticker's 20-year history (raw_ohlcv + indicators): Dagster vs the bare core.

    python -m benchmarks.backfill [--repeats 3] [--ticker ^GSPC]

Both paths do the same work on the offline sample (1999-2018): fetch, validate,
upsert into DuckDB, compute indicators, upsert. The Dagster path is a ranged
single run per ticker on a SQLite instance in a temporary DAGSTER_HOME, as the
CLI and a UI backfill run it, over the year partitions of the data assets (20 of them,
not 5,000 daily ones); the difference is Dagster's per-run and per-partition
bookkeeping (planned + materialization events).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
from pathlib import Path

from benchmarks.common import benchmark_settings, quiet, save, summarize, timed


def core_backfill(folder: Path, ticker: str) -> int:
    from stock_pipeline.market_data import ingest
    from stock_pipeline.market_data.calendar import trading_days
    from stock_pipeline.market_data.sources.sample import SampleSource, sample_date_range
    from stock_pipeline.warehouse import connect

    first, last = sample_date_range(ticker)
    days = trading_days(first, last)
    with connect(folder / "warehouse.duckdb") as con:
        (result,) = ingest.ingest_bars(con, SampleSource(), {ticker: days})
        ingest.update_indicators(con, ticker, days)
    return result.rows_written


def dagster_backfill(folder: Path, ticker: str) -> int:
    from stock_pipeline.cli import launch
    from stock_pipeline.definitions import build_definitions
    from stock_pipeline.market_data.sources.sample import sample_date_range

    first, last = sample_date_range(ticker)
    os.environ["DAGSTER_HOME"] = str(folder / "dagster_home")
    settings = benchmark_settings(folder, "sample", start_date=first, history_start=first)
    defs = build_definitions(settings)
    with launch.open_instance(settings) as instance:
        (outcome,) = launch.materialize(
            defs, instance, [ticker], first, last, "raw_ohlcv,indicators", settings
        )
    assert outcome.success, outcome.errors
    return 0


def main() -> None:
    quiet()
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ticker", default="^GSPC")
    args = parser.parse_args()
    core, through_dagster = [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            core.append(timed(lambda: core_backfill(Path(tmp), args.ticker)))
        with tempfile.TemporaryDirectory() as tmp:
            through_dagster.append(timed(lambda: dagster_backfill(Path(tmp), args.ticker)))
    from stock_pipeline.market_data.calendar import trading_days
    from stock_pipeline.market_data.sources.sample import sample_date_range

    first, last = sample_date_range(args.ticker)

    sessions = len(trading_days(first, last))
    d, c = summarize(through_dagster), summarize(core)
    save(
        "backfill",
        {
            "date": dt.date.today().isoformat(),
            "ticker": args.ticker,
            "sessions": sessions,
            "core_functions": c,
            "dagster_single_run_sqlite": d,
            "year_partitions": last.year - first.year + 1,
        },
    )


if __name__ == "__main__":
    main()
