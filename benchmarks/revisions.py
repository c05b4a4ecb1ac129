"""Two revisions of the code side by side: the same benchmarks, one run, one machine.

    python -m benchmarks.revisions BASE HEAD [--benchmarks training walk_forward nightly]
        [--repeats 3]

Each revision is checked out into a git worktree of its own and runs its own benchmark
scripts (the scripts follow the code they measure) with this interpreter; ``python -m``
puts the worktree first on ``sys.path``, so each side imports its own ``stock_pipeline``.
Each side gets a fresh JAX compilation cache (``XDG_CACHE_HOME`` of its own), so
neither profits from programs the other compiled. For every benchmark the two sides run
back to back, base first, each with ``--repeats`` (its own medians). The figures that
say whether a change cost anything are pulled from each side's result file into one
table, ``results/<--name>.json`` (default ``revisions.json``), with the load average
before and after each call.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import save

ROOT = Path(__file__).resolve().parents[1]

#: (benchmark, extra arguments, {figure name: path into its result file})
FIGURES: dict[str, tuple[list[str], dict[str, tuple[str, ...]]]] = {
    "training": (
        [],
        {
            "samples/s in the lstm_model asset": ("samples_per_second_in_asset", "median_per_s"),
            "samples/s of a bare fit": ("samples_per_second_bare_fit", "median_per_s"),
            "night that trains a fold (s)": ("nightly_fold_start_s", "median_s"),
            "night on a cached fold (s)": ("nightly_cached_fold_s", "median_s"),
        },
    ),
    "walk_forward": (
        ["--long-repeats", "0"],
        {
            "default span from an empty cache (s)": ("default_span_from_scratch", "median_s"),
            "mid-fold night (s)": ("nightly", "mid_fold_night", "median_s"),
            "fold-start night (s)": ("nightly", "fold_start_night", "median_s"),
        },
    ),
    "nightly": (
        [],
        {
            "20 tickers through Dagster (s)": ("dagster_runs_s", "median_s"),
            "asset code in those runs (s)": ("asset_code_in_dagster_s", "median_s"),
            "overhead in the run (share)": ("overhead_in_run", "share", "median"),
            "the same work as bare core calls (s)": ("core_process_s", "median_s"),
        },
    ),
}


def checkout(revision: str, folder: Path) -> Path:
    subprocess.run(
        ["git", "worktree", "add", "--detach", "-q", str(folder), revision], cwd=ROOT, check=True
    )
    return folder


def load() -> float:
    return round(os.getloadavg()[0], 2)


def run_side(tree: Path, cache: Path, name: str, repeats: int) -> dict:
    extra, figures = FIGURES[name]
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    before, start = load(), time.perf_counter()
    command = [sys.executable, "-m", f"benchmarks.{name}", "--repeats", str(repeats), *extra]
    subprocess.run(command, cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL)
    result = json.loads((tree / "benchmarks" / "results" / f"{name}.json").read_text())
    values = {}
    for figure, path in figures.items():
        value = result
        for key in path:
            value = value[key]
        values[figure] = value
    return {
        "figures": values,
        "wall_s": round(time.perf_counter() - start, 1),
        "load_before": before,
        "load_after": load(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("head")
    parser.add_argument("--benchmarks", nargs="+", default=list(FIGURES), choices=list(FIGURES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--nightly-tickers", type=int, default=20)
    parser.add_argument("--name", default="revisions", help="the results file's name")
    args = parser.parse_args()
    FIGURES["nightly"][0][:] = ["--tickers", str(args.nightly_tickers)]
    revisions = {}
    for side in ("base", "head"):
        rev = getattr(args, side)
        sha = subprocess.run(
            ["git", "rev-parse", "--short", rev],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        revisions[side] = sha
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        trees = {s: checkout(revisions[s], Path(tmp) / s) for s in revisions}
        try:
            for name in args.benchmarks:
                results[name] = {}
                for side, tree in trees.items():
                    cache = Path(tmp) / f"cache-{side}"
                    results[name][side] = run_side(tree, cache, name, args.repeats)
                    print(name, side, json.dumps(results[name][side]), flush=True)
        finally:
            for tree in trees.values():
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT)
    save(
        args.name,
        {"date": dt.date.today().isoformat(), "revisions": revisions, "results": results},
    )


if __name__ == "__main__":
    main()
