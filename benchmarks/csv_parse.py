"""A 77 MB csv of daily bars through the csv source: the row-by-row parser of an earlier
commit against the current one, each run in a fresh process.

The file: 1.2 M rows in the Yahoo layout with a Symbol column, the histories of 500 tickers
stacked in one file (2,400 sessions each), as a user exporting a whole index in one file
produces; the source keeps the first ticker's rows and refuses the rest as duplicate dates
(a daily file cannot hold 1.2 M distinct sessions). Measured per process: ``fetch`` of the
ticker, then the freshness check's ``newest_bar`` of the same file, and the peak RSS.

    python -m benchmarks.csv_parse [--runs 3] [--old-rev COMMIT]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import save

ROOT = Path(__file__).resolve().parent.parent
SOURCE_PATH = "stock_pipeline/market_data/sources/csv_source.py"
# the last commit whose csv source parsed row by row
OLD_REV = "2088717"
TICKERS, SESSIONS = 500, 2_400


def write_file(path: Path) -> None:
    rng = np.random.default_rng(7)
    days = np.busday_offset("2015-01-02", np.arange(SESSIONS), roll="forward")
    day_text = days.astype(str)
    with path.open("w") as out:
        out.write("Date,Symbol,Open,High,Low,Close,Adj Close,Volume\n")
        for t in range(TICKERS):
            close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, SESSIONS)))
            open_ = close * (1 + rng.normal(0, 0.003, SESSIONS))
            high = np.maximum(open_, close) * 1.004
            low = np.minimum(open_, close) * 0.996
            volume = rng.integers(100_000, 90_000_000, SESSIONS)
            symbol = f"T{t:03d}"
            columns = zip(day_text, open_, high, low, close, volume, strict=True)
            out.writelines(
                f"{d},{symbol},{o:.4f},{h:.4f},{lo:.4f},{c:.4f},{c * 0.98:.4f},{v}\n"
                for d, o, h, lo, c, v in columns
            )


def worker(kind: str, folder: Path, old_module: Path) -> dict[str, float]:
    """One fetch and one newest_bar in this (fresh) process."""
    if kind == "old":
        spec = importlib.util.spec_from_file_location("old_csv_source", old_module)
        module = importlib.util.module_from_spec(spec)
        sys.modules["old_csv_source"] = module
        spec.loader.exec_module(module)
        source_class = module.CsvSource
    else:
        from stock_pipeline.market_data.sources.csv_source import CsvSource as source_class
    source = source_class(folder)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start, cpu = time.perf_counter(), time.process_time()
    result = source.fetch(["BIG"], dt.date(2000, 1, 1), dt.date(2030, 12, 31))["BIG"]
    fetch_s, fetch_cpu_s = time.perf_counter() - start, time.process_time() - cpu
    start, cpu = time.perf_counter(), time.process_time()
    newest = source.newest_bar("BIG")
    newest_s, newest_cpu_s = time.perf_counter() - start, time.process_time() - cpu
    return {
        "fetch_s": fetch_s,
        "fetch_cpu_s": fetch_cpu_s,
        "newest_bar_s": newest_s,
        "newest_bar_cpu_s": newest_cpu_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_mb": baseline,
        "bars": len(result.bars),
        "rejected": len(result.rejected),
        "newest": str(newest),
    }


def run_once(kind: str, folder: Path, old_module: Path) -> dict[str, float]:
    command = [sys.executable, "-m", "benchmarks.csv_parse", "--worker", kind]
    command += ["--folder", str(folder), "--old-module", str(old_module)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--old-rev", default=OLD_REV)
    parser.add_argument("--worker", choices=["old", "new"])
    parser.add_argument("--folder", type=Path)
    parser.add_argument("--old-module", type=Path)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.folder, args.old_module)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_file(folder / "BIG.csv")
        old_module = folder / "old_csv_source.py"
        old_text = subprocess.run(
            ["git", "show", f"{args.old_rev}:{SOURCE_PATH}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        old_module.write_text(old_text)
        size_mb = (folder / "BIG.csv").stat().st_size / 1e6
        runs: dict[str, list[dict]] = {"old": [], "new": []}
        for _ in range(args.runs):  # interleaved: both sides see the same load
            for kind in runs:
                runs[kind].append(run_once(kind, folder, old_module))
                print(kind, json.dumps(runs[kind][-1]), flush=True)  # progress, on a slow day
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    table = {kind: _medians(samples) for kind, samples in runs.items()}
    print(f"file: {size_mb:.1f} MB, {TICKERS * SESSIONS:,} rows; load average {' '.join(load)}")
    print(
        "| parser | fetch s (CPU s) | newest_bar after it s (CPU s) | peak RSS MB "
        "| bars | rejected |"
    )
    for kind, row in table.items():
        print(
            f"| {kind} | {row['fetch_s']:.2f} ({row['fetch_cpu_s']:.2f}) | "
            f"{row['newest_bar_s']:.3f} ({row['newest_bar_cpu_s']:.3f}) | "
            f"{row['peak_rss_mb']:.0f} | {row['bars']:.0f} | {row['rejected']:.0f} |"
        )
    save("csv_parse", {"file_mb": size_mb, "load_average": load, "medians": table, "runs": runs})


def _medians(samples: list[dict]) -> dict[str, float]:
    keys = ("fetch_s", "fetch_cpu_s", "newest_bar_s", "newest_bar_cpu_s", "peak_rss_mb")
    keys += ("rss_before_mb", "bars", "rejected")
    return {k: statistics.median(s[k] for s in samples) for k in keys}


if __name__ == "__main__":
    main()
