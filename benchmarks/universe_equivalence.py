"""The pooled model's two training procedures side by side: ``windows`` (the paper's)
and ``sequences``, each with several model seeds, on the same synthetic panels.

    python -m benchmarks.universe_equivalence [--tickers 50] [--years 4] [--seeds 3]
        [--phi 0.1] [--datasets reversal random_walk] [--modes windows sequences]
        [--set sequence_batch=16 ...]

Each dataset is one fixed draw of N tickers x Y years (``reversal``: a one-day
cross-sectional reversal of strength ``--phi``; ``random_walk``: independent random
walks), stored once; each (mode, seed) trains every study period from an empty model
cache at the defaults (early stopping as configured) and backtests as of the last
session. Runs alternate mode within a seed, so both sides share the machine's load.

Reported per run: directional accuracy, the long-short's mean daily return before and
after costs with its Newey-West t, the epochs and training seconds of each period; and
for every pair of runs the mean over traded days of the Spearman correlation of their
rankings (within windows across seeds: the scatter the sequences mode is judged by).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from benchmarks.common import quiet, save


def write_dataset(path: Path, tickers: int, years: int, phi: float) -> dt.date:
    from stock_pipeline_tests.support.synthetic import sessions
    from stock_pipeline_tests.support.universe import store_universe, universe_returns

    days = 252 * years
    store_universe(path, universe_returns(days, tickers, phi, seed=0))
    return sessions(days)[-1]


def metric(metrics: pd.DataFrame, strategy: str, name: str) -> float:
    row = metrics[(metrics["strategy"] == strategy) & (metrics["metric"] == name)]
    return float(row["value"].iloc[0])


def one_run(folder: Path, warehouse, asof: dt.date, mode: str, seed: int, extra: dict) -> dict:
    from stock_pipeline.settings import Settings
    from stock_pipeline.universe.pooled import universe_backtest_asof, universe_model_asof
    from stock_pipeline.warehouse.universe import read_universe_predictions

    data = Path(tempfile.mkdtemp(prefix=f"{mode}_{seed}_", dir=folder))
    settings = Settings(data_dir=data, warehouse_path=warehouse.path)
    settings = settings.with_changes(universe={"training": mode, "seed": seed, **extra})
    started = time.perf_counter()
    model = universe_model_asof(warehouse, asof, settings)
    result = universe_backtest_asof(warehouse, asof, settings)
    seconds = time.perf_counter() - started
    with warehouse.connect(read_only=True) as con:
        predictions = read_universe_predictions(con, asof, "lstm")
    m = result.metrics
    return {
        "mode": mode,
        "seed": seed,
        "seconds": round(seconds, 1),
        "epochs": [p.epochs_run for p in model.periods],
        "train_s": [round(p.train_seconds, 1) for p in model.periods],
        "best_val_loss": [round(p.best_val_loss, 5) for p in model.periods],
        "accuracy": round(result.accuracy.accuracy, 4),
        "predictions": result.accuracy.n,
        "long_short_gross": metric(m, "lstm_long_short", "mean_daily_return_gross"),
        "long_short_gross_t": round(metric(m, "lstm_long_short", "nw_tstat_gross"), 2),
        "long_short_net": metric(m, "lstm_long_short", "mean_daily_return"),
        "long_short_net_t": round(metric(m, "lstm_long_short", "nw_tstat"), 2),
        "reversal_gross": metric(m, "reversal_long_short", "mean_daily_return_gross"),
        "_predictions": predictions[["date", "ticker", "probability"]],
    }


def rank_correlation(a: pd.DataFrame, b: pd.DataFrame) -> float:
    """Mean over days of the Spearman correlation of two runs' probabilities."""
    both = a.merge(b, on=["date", "ticker"], suffixes=("_a", "_b"))
    per_day = both.groupby("date").apply(
        lambda g: g["probability_a"].rank().corr(g["probability_b"].rank()),
        include_groups=False,
    )
    return round(float(per_day.mean()), 3)


def correlations(runs: list[dict]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for a, b in itertools.combinations(runs, 2):
        kind = "-".join(sorted((a["mode"], b["mode"])))
        out.setdefault(kind, []).append(rank_correlation(a["_predictions"], b["_predictions"]))
    return out


def summary(runs: list[dict]) -> dict:
    out = {}
    for mode in sorted({r["mode"] for r in runs}):
        mine = [r for r in runs if r["mode"] == mode]
        out[mode] = {
            key: {
                "median": statistics.median(r[key] for r in mine),
                "min": min(r[key] for r in mine),
                "max": max(r[key] for r in mine),
            }
            for key in ("accuracy", "long_short_gross", "long_short_net", "long_short_net_t")
        } | {"median_seconds": statistics.median(r["seconds"] for r in mine)}
    return out


def parse_extra(pairs: list[str]) -> dict:
    extra = {}
    for pair in pairs:
        key, value = pair.split("=", 1)
        extra[key] = int(value) if value.isdigit() else value
    return extra


def main() -> None:
    quiet()
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickers", type=int, default=50)
    parser.add_argument("--years", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--phi", type=float, default=0.1)
    parser.add_argument("--datasets", nargs="+", default=["reversal", "random_walk"])
    parser.add_argument("--modes", nargs="+", default=["windows", "sequences"])
    parser.add_argument("--set", nargs="*", default=[], help="universe settings key=value")
    parser.add_argument("--name", default="universe_equivalence")
    args = parser.parse_args()
    from stock_pipeline.warehouse import WarehouseFile

    extra = parse_extra(args.set)
    folder = Path(tempfile.mkdtemp(prefix="universe_equivalence_"))
    results: dict = {
        "date": dt.date.today().isoformat(),
        "tickers": args.tickers,
        "years": args.years,
        "phi": args.phi,
        "settings_changed": extra,
        "load_average_at_start": round(os.getloadavg()[0], 1),
    }
    for dataset in args.datasets:
        path = folder / f"{dataset}.duckdb"
        phi = args.phi if dataset == "reversal" else 0.0
        asof = write_dataset(path, args.tickers, args.years, phi)
        runs = []
        for seed, mode in itertools.product(range(args.seeds), args.modes):
            runs.append(one_run(folder, WarehouseFile(path), asof, mode, 42 + seed, extra))
            print({k: v for k, v in runs[-1].items() if not k.startswith("_")}, flush=True)
        results[dataset] = {
            "runs": [{k: v for k, v in r.items() if not k.startswith("_")} for r in runs],
            "summary": summary(runs),
            "rank_correlation": correlations(runs),
            "load_average_at_end": round(os.getloadavg()[0], 1),
        }
    save(args.name, results)


if __name__ == "__main__":
    main()
