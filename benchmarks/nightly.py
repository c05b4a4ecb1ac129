"""Orchestration overhead of a 20-ticker nightly refresh: Dagster vs the bare core.

    python -m benchmarks.nightly [--repeats 3] [--tickers 20]

State before the night: 20 synthetic tickers (csv source, NYSE sessions from
2017-09-01) with bars, indicators, features, an LSTM, a walk-forward evaluation
and a backtest as of the previous session, all built with the default
configuration through the core functions. The night is 2018-12-28.

- Dagster: the ``nightly_refresh`` schedule is evaluated for that evening
  (``build_schedule_context``); each run it requests is executed by
  ``dagster job execute`` in a fresh process against a SQLite instance, which is
  what the daemon's run worker does (load the code location, run the job in one
  process with the in-process executor).
- Core: one fresh Python process calls the same core functions for the same
  tickers and date (fetch + upsert bars, indicators, feature rows, the data
  checks' queries, warm-start training, walk-forward update, backtest + report),
  nothing else.

Both start from the same copy of the state. Overhead, the time not spent in asset
code, as a share of the Dagster wall time, is read two ways:

- in the run: Dagster wall - time inside the asset and check bodies of the same
  process (minus the events they log). Exact, and free of run-to-run noise.
- versus the core: Dagster wall - core wall, two processes. It also counts asset
  code running slower inside Dagster's process, but model training varies by a few
  seconds from one process to the next, so single runs scatter.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import quiet, save, summarize, timed_run

NIGHT = dt.date(2018, 12, 28)
HISTORY_START = dt.date(2017, 9, 1)


def ticker_names(count: int) -> list[str]:
    return [f"SYN{i:02d}" for i in range(1, count + 1)]


def environment(folder: Path) -> dict[str, str]:
    return {
        "STOCK_PIPELINE_DATA_DIR": str(folder / "data"),
        "STOCK_PIPELINE_SOURCE": "csv",
        "STOCK_PIPELINE_CSV_DIR": str(folder / "csv"),
        "STOCK_PIPELINE_START": HISTORY_START.isoformat(),
        "STOCK_PIPELINE_WATCHLIST": str(folder / "watchlist.yaml"),
        "DAGSTER_HOME": str(folder / "data" / "dagster_home"),
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }


def prepare(folder: Path, tickers: list[str]) -> None:
    """Bars on file through NIGHT; everything stored and trained as of the session before."""
    from stock_pipeline.market_data.calendar import trading_days
    from stock_pipeline_tests.support.synthetic import synthetic_bars, write_csv

    days = trading_days(HISTORY_START, NIGHT)
    for i, ticker in enumerate(tickers):
        bars = synthetic_bars(len(days), seed=100 + i, start=HISTORY_START)
        write_csv(folder / "csv", ticker, bars)
    lines = ["tickers:"] + [f"  - ticker: {t}" for t in tickers]
    (folder / "watchlist.yaml").write_text("\n".join(lines) + "\n")
    os.environ.update(environment(folder))
    run_core(days[-2], tickers, history_from=days[0])

    from stock_pipeline.cli import launch
    from stock_pipeline.settings import Settings

    with launch.open_instance(Settings.from_env()) as instance:
        launch.register_tickers(instance, tickers)


def run_core(day: dt.date, tickers: list[str], history_from: dt.date | None = None) -> dict:
    """The nightly work for ``day``, core functions only, as the assets call them."""
    from stock_pipeline.evaluation.evaluate import evaluate_asof
    from stock_pipeline.forecasting.feature_rows import update_feature_rows
    from stock_pipeline.forecasting.forecast import forecast_asof
    from stock_pipeline.market_data import ingest, quality
    from stock_pipeline.market_data.calendar import trading_days
    from stock_pipeline.market_data.sources.csv_source import CsvSource
    from stock_pipeline.settings import Settings
    from stock_pipeline.trading.trade import backtest_asof
    from stock_pipeline.warehouse import WarehouseFile, connect

    settings = Settings.from_env()
    days = trading_days(history_from or day, day)
    with connect(settings.warehouse) as con:
        ingest.ingest_bars(con, CsvSource(settings.source.csv_dir), {t: days for t in tickers})
        for t in tickers:
            ingest.update_indicators(con, t, days)
            update_feature_rows(con, t, day, settings.features)
    with connect(settings.warehouse, read_only=True) as con:
        # the asset checks the nightly job runs on the data assets (user code too)
        quality.ohlc_violations(con, tickers)
        quality.duplicate_dates(con, "ohlcv", tickers)
        for t in tickers:
            quality.trading_day_gaps(con, t, settings.exchange)
            quality.non_finite_after_warmup(con, t)
    warehouse = WarehouseFile(settings.warehouse)
    modes = {}
    for t in tickers:
        model = forecast_asof(warehouse, t, day, settings)
        evaluation = evaluate_asof(warehouse, t, day, settings)
        backtest_asof(warehouse, t, day, settings)
        modes[t] = {"model": model.mode, "folds_trained": evaluation.folds_trained}
    return modes


def scheduled_runs() -> list[dict[str, str]]:
    """The tags of each run the ``nightly_refresh`` schedule requests for NIGHT's evening."""
    from zoneinfo import ZoneInfo

    from dagster import DagsterInstance, build_schedule_context

    from stock_pipeline.definitions import build_definitions
    from stock_pipeline.settings import Settings

    defs = build_definitions(Settings.from_env())
    schedule = defs.resolve_schedule_def("nightly_refresh")
    tick = dt.datetime.combine(NIGHT, dt.time(18, 30), ZoneInfo("America/New_York"))
    with DagsterInstance.get() as instance:
        context = build_schedule_context(instance=instance, scheduled_execution_time=tick)
        requests = schedule.evaluate_tick(context).run_requests
    assert requests, "the schedule requested no run"
    return [dict(r.tags) for r in requests]


def run_dagster(tickers: list[str], requests: list[dict[str, str]], folder: Path) -> list[dict]:
    """Execute each requested data run, then the model-chain run its success requests, each
    in a new process, as the daemon's run worker does.

    The process is ``dagster job execute`` with a stopwatch on the asset and check
    bodies (``benchmarks.timed_run_worker``); returns per run its wall time and the
    worker's own accounting.
    """
    from dagster import AssetKey, DagsterInstance

    from stock_pipeline.defs.run_requests import chain_tags

    runs = []
    for i, tags in enumerate(requests):
        runs.append(timed_run(folder / f"data{i}.json", "market_data_job", tags))
        chain = chain_tags(tags, f"benchmark-{i}")
        runs.append(timed_run(folder / f"chain{i}.json", "model_chain_job", chain))
    with DagsterInstance.get() as instance:
        for name, key in (("raw_ohlcv", NIGHT.year), ("backtest_report", NIGHT)):
            done = instance.get_materialized_partitions(AssetKey(name))
            missing = [t for t in tickers if f"{key}|{t}" not in done]
            assert not missing, f"{name} not materialized for {missing}"
    return runs


def main() -> None:
    quiet()
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tickers", type=int, default=20)
    parser.add_argument("--core-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    tickers = ticker_names(args.tickers)
    if args.core_only:  # the child process of the core measurement
        print(json.dumps(run_core(NIGHT, tickers)))
        return
    core, dagster, asset_code, event_store, runs, modes = [], [], [], [], 0, {}
    events = 0
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        state, work = base / "state", base / "work"
        prepare(state, tickers)
        requests = scheduled_runs()
        for _ in range(args.repeats):
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(state, work)
            os.environ.update(environment(work))
            start = time.perf_counter()
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.nightly",
                    "--core-only",
                    "--tickers",
                    str(args.tickers),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            core.append(time.perf_counter() - start)
            modes = json.loads(out.stdout.strip().splitlines()[-1])
            shutil.rmtree(work)
            shutil.copytree(state, work)
            per_run = run_dagster(tickers, requests, base)
            runs = len(per_run)
            dagster.append(sum(r["wall_s"] for r in per_run))
            asset_code.append(sum(r["asset_code_s"] for r in per_run))
            event_store.append(sum(r["event_store_s"] for r in per_run))
            events = sum(r["events"] for r in per_run)
            print(
                f"core {core[-1]:.1f} s, dagster {dagster[-1]:.1f} s in {runs} run(s), "
                f"of which asset code {asset_code[-1]:.1f} s",
                flush=True,
            )
    in_run = [d - a for d, a in zip(dagster, asset_code, strict=True)]
    versus_core = [d - c for d, c in zip(dagster, core, strict=True)]
    save(
        "nightly",
        {
            "date": dt.date.today().isoformat(),
            "night": NIGHT.isoformat(),
            "tickers": args.tickers,
            "dagster_runs": runs,
            "core_process_s": summarize(core),
            "dagster_runs_s": summarize(dagster),
            "asset_code_in_dagster_s": summarize(asset_code),
            "event_store_s": summarize(event_store),
            "events_written": events,
            "overhead_in_run": _share(in_run, dagster),
            "overhead_versus_core": _share(versus_core, dagster),
            "night_kinds": {
                "lstm_model": sorted({m["model"] for m in modes.values()}),
                "walk_forward_folds_trained": sorted({m["folds_trained"] for m in modes.values()}),
            },
        },
    )


def _share(overhead: list[float], wall: list[float]) -> dict:
    shares = [o / w for o, w in zip(overhead, wall, strict=True)]
    return {
        "seconds": summarize(overhead),
        "share": {
            "median": round(statistics.median(shares), 3),
            "runs": [round(s, 3) for s in shares],
        },
    }


if __name__ == "__main__":
    main()
