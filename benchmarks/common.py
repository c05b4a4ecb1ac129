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
    from stock_pipeline import forecasting, ingest, storage
    from stock_pipeline.calendar import trading_days
    from stock_pipeline.settings import Settings, SourceSettings
    from stock_pipeline.sources.sample import SampleSource, sample_date_range

    settings = Settings(data_dir=folder, source=SourceSettings(name="sample"))
    first, last = sample_date_range(ticker)
    days = trading_days(first, last)
    with storage.connect(settings.warehouse) as con:
        ingest.ingest_bars(con, SampleSource(), {ticker: days})
        ingest.update_indicators(con, ticker, days)
        forecasting.update_feature_rows(con, ticker, last, settings.features)
        table = forecasting.load_feature_table(con, ticker, last, settings.features)
    return settings, table
