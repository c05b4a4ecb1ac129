"""The walk-forward of a universe in process against a Dask LocalCluster, and what more
workers would give.

    python -m benchmarks.distributed [--tickers 20] [--years 3] [--span 21] [--repeats 3]

Data: ``--tickers`` synthetic random walks of ``--years`` of NYSE sessions, stored once
in a DuckDB warehouse (bars, indicators, feature rows). Configuration: the defaults (a
fold every 21 sessions trained from scratch with early stopping, naive/drift/ARIMA
baselines) but for the span evaluated, ``--span`` sessions instead of 756, so that a
run takes minutes on 2 cores rather than an hour.

Measured, each repetition with an empty fold cache (every fold trained), alternating
which engine goes first:

- ``in_process``: the ``walk_forward_evaluation`` stage (``compute.fan_out`` of the
  evaluation's load / compute / store) over all tickers, in this process.
- ``local_cluster``: the same on a fresh ``LocalCluster(n_workers=2,
  threads_per_worker=1, processes=True)``; ``start_s`` is the cluster's start and the
  workers' first import of keras and jax (what a Dagster run pays once), ``run_s`` the
  stage itself, ``total_s`` both.
- per ticker: the compute (load + walk-forward on whichever process ran it) and the
  warehouse write (``store_evaluation``, in this process), and the write of a 756-session
  span (the default) to see where the one writer becomes the limit.

The estimates at 8 and 32 workers schedule the measured per-ticker compute times
(longest first onto the least loaded worker) and add the start; the writer limit is the
number of workers whose results arrive faster than this process can write them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.common import benchmark_settings, quiet, save, summarize

DEFAULT_SPAN = 756


def make_warehouse(folder: Path, tickers: list[str], years: int, span: int):
    """Settings over ``folder`` and its warehouse with every ticker's feature rows."""
    from stock_pipeline.forecasting.feature_rows import update_feature_rows
    from stock_pipeline.market_data import ingest
    from stock_pipeline.warehouse import connect, prices
    from stock_pipeline_tests.support.synthetic import synthetic_bars

    settings = benchmark_settings(folder, "csv", evaluation={"span_sessions": span})
    for i, ticker in enumerate(tickers):
        bars = synthetic_bars(252 * years, seed=100 + i)
        days = [t.date() for t in bars["date"]]
        with connect(settings.warehouse) as con:
            prices.upsert_ohlcv(con, ticker, bars, "synthetic")
            ingest.update_indicators(con, ticker, days)
            update_feature_rows(con, ticker, days[-1], settings.features)
    return settings, days[-1]


def evaluation_stage(settings):
    from stock_pipeline.compute import Stage
    from stock_pipeline.evaluation.evaluate import (
        compute_evaluation,
        load_evaluation,
        store_evaluation,
    )
    from stock_pipeline.warehouse import WarehouseFile

    warehouse = WarehouseFile(settings.warehouse)
    return Stage(
        load=lambda t, d: load_evaluation(warehouse, t, d, settings),
        compute=compute_evaluation,
        store=lambda frames: store_evaluation(warehouse, frames),
    )


def warm_worker() -> str:
    from stock_pipeline.backend import keras  # noqa: F401  a worker's import before its first fold

    return "ok"


def run_stage(engine, settings, wanted) -> dict:
    from stock_pipeline.compute import fan_out

    shutil.rmtree(settings.models_dir, ignore_errors=True)
    start = time.perf_counter()
    runs, errors = fan_out(engine, wanted, evaluation_stage(settings))
    seconds = time.perf_counter() - start
    assert not errors, errors
    return {
        "run_s": seconds,
        "compute_s": [r.seconds - r.write_seconds for r in runs],
        "write_s": [r.write_seconds for r in runs],
        "folds_trained": sum(r.folds_trained for r in runs),
        "metrics": {r.ticker: r.metrics for r in runs},
    }


def cluster_run(settings, wanted) -> dict:
    from stock_pipeline.compute import open_engine
    from stock_pipeline.settings import ComputeSettings

    compute = ComputeSettings(engine="local_cluster", workers=2, threads_per_worker=1)
    with open_engine(compute) as engine:
        start = time.perf_counter()
        engine.engine.client.run(warm_worker)
        started = time.perf_counter() - start
        result = run_stage(engine, settings, wanted)
    return {**result, "start_s": started, "total_s": started + result["run_s"]}


def makespan(times: list[float], workers: int) -> float:
    """Longest first onto the least loaded worker (the order a scheduler achieves at best)."""
    loads = [0.0] * workers
    for t in sorted(times, reverse=True):
        loads[loads.index(min(loads))] += t
    return max(loads)


def big_span_write_s(settings, ticker: str, asof: dt.date, repeats: int = 3) -> float:
    """The write of one ticker's rows for a default span: the run's frames tiled to it."""
    import pandas as pd

    from stock_pipeline.evaluation.evaluate import EvaluationJob, compute_evaluation
    from stock_pipeline.evaluation.evaluate import store_evaluation as store
    from stock_pipeline.forecasting.feature_rows import load_feature_table
    from stock_pipeline.warehouse import WarehouseFile, connect

    with connect(settings.warehouse, read_only=True) as con:
        table = load_feature_table(con, ticker, asof, settings.features)
    frames = compute_evaluation(EvaluationJob(table, asof, settings, 0.0))
    copies = -(-DEFAULT_SPAN // frames.predictions["date"].nunique())
    frames.predictions = pd.concat(
        [
            frames.predictions.assign(date=frames.predictions["date"] - dt.timedelta(days=400 * k))
            for k in range(copies)
        ],
        ignore_index=True,
    )
    warehouse = WarehouseFile(settings.warehouse)
    return statistics.median(store(warehouse, frames).write_seconds for _ in range(repeats))


def estimates(compute_s: list[float], write_s: list[float], start_s: float) -> dict:
    per_ticker = statistics.median(compute_s)
    universe = (compute_s * (500 // len(compute_s) + 1))[:500]  # the measured times, repeated
    out = {}
    for workers in (8, 32):
        out[f"{workers}_workers"] = {
            "tickers_measured_s": round(start_s + makespan(compute_s, workers), 1),
            "500_tickers_s": round(start_s + makespan(universe, workers), 1),
        }
    out["writer_limit_workers"] = round(per_ticker / statistics.median(write_s))
    return out


def main() -> None:
    quiet()
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickers", type=int, default=20)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--span", type=int, default=21)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from stock_pipeline.compute import InProcess

    tickers = [f"D{i:02d}" for i in range(args.tickers)]
    samples: dict[str, list[dict]] = {"in_process": [], "local_cluster": []}
    with tempfile.TemporaryDirectory() as tmp:
        settings, asof = make_warehouse(Path(tmp), tickers, args.years, args.span)
        wanted = {t: [asof] for t in tickers}
        run_stage(InProcess(), settings, {tickers[0]: [asof]})  # imports, compile cache
        for rep in range(args.repeats):
            order = ["in_process", "local_cluster"][:: 1 if rep % 2 == 0 else -1]
            for engine in order:
                run = (
                    run_stage(InProcess(), settings, wanted)
                    if engine == "in_process"
                    else cluster_run(settings, wanted)
                )
                samples[engine].append(run)
                print(engine, rep, round(run.get("total_s", run["run_s"]), 1), flush=True)
        write_default_span = big_span_write_s(settings, tickers[0], asof)
    local, cluster = samples["in_process"], samples["local_cluster"]
    identical = all(
        a["metrics"][t].equals(b["metrics"][t])
        for a, b in zip(local, cluster, strict=True)
        for t in tickers
    )
    flat = {
        e: {k: [x for r in s for x in r[k]] for k in ("compute_s", "write_s")}
        for e, s in samples.items()
    }
    start_s = statistics.median(r["start_s"] for r in cluster)
    in_process_s = statistics.median(r["run_s"] for r in local)
    cluster_total = statistics.median(r["total_s"] for r in cluster)
    save(
        "distributed",
        {
            "date": dt.date.today().isoformat(),
            "tickers": args.tickers,
            "sessions_per_ticker": 252 * args.years,
            "span_sessions": args.span,
            "folds_trained_per_run": local[-1]["folds_trained"],
            "metrics_identical": identical,
            "in_process": {
                **summarize([r["run_s"] for r in local]),
                "per_ticker_compute_median_s": round(
                    statistics.median(flat["in_process"]["compute_s"]), 3
                ),
                "per_ticker_write_median_s": round(
                    statistics.median(flat["in_process"]["write_s"]), 4
                ),
            },
            "local_cluster_2_workers": {
                "total": summarize([r["total_s"] for r in cluster]),
                "start": summarize([r["start_s"] for r in cluster]),
                "run": summarize([r["run_s"] for r in cluster]),
                "per_ticker_compute_median_s": round(
                    statistics.median(flat["local_cluster"]["compute_s"]), 3
                ),
                "per_ticker_write_median_s": round(
                    statistics.median(flat["local_cluster"]["write_s"]), 4
                ),
            },
            "cluster_over_in_process": round(cluster_total / in_process_s, 3),
            "write_s_per_ticker_default_span": round(write_default_span, 4),
            "estimate": estimates(
                flat["local_cluster"]["compute_s"][-args.tickers :],
                flat["local_cluster"]["write_s"],
                start_s,
            ),
            "writer_limit_workers_default_span": round(
                statistics.median(flat["local_cluster"]["compute_s"])
                * DEFAULT_SPAN
                / args.span
                / write_default_span
            ),
        },
    )


if __name__ == "__main__":
    main()
