"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def quiet() -> None:
    warnings.filterwarnings("ignore")
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def summarize(samples: list[float], unit: str = "s") -> dict[str, object]:
    return {
        f"median_{unit}": round(statistics.median(samples), 3),
        f"runs_{unit}": [round(s, 3) for s in samples],
    }


def save(name: str, results: dict[str, object]) -> None:
    RESULTS.mkdir(exist_ok=True)
    payload = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        **results,
    }
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    print(json.dumps(payload, indent=2))


def sample_warehouse(folder: Path, ticker: str = "^GSPC"):
    """A DuckDB warehouse in ``folder`` with the whole offline sample of ``ticker`` stored:
    bars, indicators and feature rows. Returns (settings, feature table)."""
    from stock_pipeline.forecasting.feature_rows import load_feature_table, update_feature_rows
    from stock_pipeline.market_data import ingest
    from stock_pipeline.market_data.calendar import trading_days
    from stock_pipeline.market_data.sources.sample import SampleSource, sample_date_range
    from stock_pipeline.warehouse import connect

    settings = benchmark_settings(folder, "sample")
    first, last = sample_date_range(ticker)
    days = trading_days(first, last)
    with connect(settings.warehouse) as con:
        ingest.ingest_bars(con, SampleSource(), {ticker: days})
        ingest.update_indicators(con, ticker, days)
        update_feature_rows(con, ticker, last, settings.features)
        table = load_feature_table(con, ticker, last, settings.features)
    return settings, table


def benchmark_settings(folder: Path, source: str, **changes):
    """Default settings over ``folder`` (no watchlist), from ``source``."""
    from stock_pipeline.settings import Settings

    settings = Settings(data_dir=folder, watchlist_path=folder / "watchlist.yaml")
    settings = settings.with_changes(source={"name": source}, **changes)
    # what the CLI, the code location and the compute engine do before the first compile
    # (the compilation cache), so that bare core calls are measured as a run runs them
    from stock_pipeline import backend

    backend.configure(settings.compute)
    return settings


def timed_run(accounting: Path, job: str, tags: dict[str, str], env: dict | None = None) -> dict:
    """``dagster job execute`` of ``job`` with ``tags`` in a new process, through the
    stopwatch worker (``benchmarks.timed_run_worker``): its wall time and its accounting
    (time in asset code, event writes)."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "benchmarks.timed_run_worker", str(accounting), "job"]
    command += ["execute", "-m", "stock_pipeline.definitions", "-a", "defs", "-j", job]
    start = time.perf_counter()
    subprocess.run(
        [*command, "--tags", json.dumps(tags)],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return {"wall_s": time.perf_counter() - start, **json.loads(accounting.read_text())}
