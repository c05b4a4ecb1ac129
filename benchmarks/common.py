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
