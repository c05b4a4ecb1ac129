"""The pooled model's two training procedures side by side: ``windows`` (the paper's)
and ``sequences``, each with several model seeds, on the same synthetic panels.

    python -m benchmarks.universe_equivalence [--tickers 50] [--years 4] [--seeds 3]
        [--phi 0.1] [--datasets reversal random_walk] [--modes windows sequences]
        [--set sequence_batch=16 ...] [--folder F] [--only-seeds 44 ...] [--name N]

Each dataset is one fixed draw of N tickers x Y years (``reversal``: a one-day
cross-sectional reversal of strength ``--phi``; ``random_walk``: independent random
walks), stored once; each (mode, seed) trains every study period from an empty model
cache at the defaults (early stopping as configured) and backtests as of the last
session. Runs alternate mode within a seed, so both sides share the machine's load.

``--folder`` keeps each run's data folder (``<folder>/<dataset>/<mode>_<seed>``, its
model cache beside the dataset's warehouse), so the slow windows runs can be spread over
several processes (``--only-seeds``) and a last run over every seed, served by the
caches, assembles the table; a run's epochs and training seconds are read from its
cache, so they are those of the run that trained it.

Reported per run: directional accuracy, the long-short's mean daily return before and
after costs with its Newey-West t, the epochs and training seconds of each period; and
for every pair of runs the mean over traded days of the Spearman correlation of their
rankings (within windows across seeds: the scatter the sequences mode is judged by).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from benchmarks.common import RESULTS, quiet, save


def write_dataset(path: Path, tickers: int, years: int, phi: float) -> None:
    from stock_pipeline_tests.support.universe import store_universe, universe_returns

    path.parent.mkdir(parents=True, exist_ok=True)
    store_universe(path, universe_returns(252 * years, tickers, phi, seed=0))


def metric(metrics: pd.DataFrame, strategy: str, name: str) -> float:
    row = metrics[(metrics["strategy"] == strategy) & (metrics["metric"] == name)]
    return float(row["value"].iloc[0])


def one_run(root: Path, warehouse, asof: dt.date, mode: str, seed: int, extra: dict) -> dict:
    from stock_pipeline.settings import Settings
    from stock_pipeline.universe.pooled import universe_backtest_asof, universe_model_asof
    from stock_pipeline.warehouse import WarehouseFile
    from stock_pipeline.warehouse.universe import read_universe_predictions

    suffix = "".join(f"_{k}{v}" for k, v in sorted(extra.items()))
    data = root / f"{mode}_{seed}{suffix}"
    own = data / "warehouse.duckdb"  # a copy per run: runs in parallel processes each write
    if not own.exists():
        data.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(warehouse.path, own)
    warehouse = WarehouseFile(own)
    settings = Settings(data_dir=data, warehouse_path=own)
    settings = settings.with_changes(universe={"training": mode, "seed": seed, **extra})
    started = time.perf_counter()
    model = universe_model_asof(warehouse, asof, settings)
    result = universe_backtest_asof(warehouse, asof, settings)
    seconds = time.perf_counter() - started
    with warehouse.connect(read_only=True) as con:
        predictions = read_universe_predictions(con, asof, "lstm")
    facts = trained_facts(settings)
    m = result.metrics
    return {
        "mode": mode,
        "seed": seed,
        "run_s": round(seconds, 1),
        "from_cache": [p.mode == "cached" for p in model.periods],
        "epochs": [f["epochs_run"] for f in facts],
        "train_s": [round(f["train_seconds"], 1) for f in facts],
        "best_val_loss": [round(f["best_val_loss"], 5) for f in facts],
        "accuracy": round(result.accuracy.accuracy, 4),
        "predictions": result.accuracy.n,
        "long_short_gross": metric(m, "lstm_long_short", "mean_daily_return_gross"),
        "long_short_gross_t": round(metric(m, "lstm_long_short", "nw_tstat_gross"), 2),
        "long_short_net": metric(m, "lstm_long_short", "mean_daily_return"),
        "long_short_net_t": round(metric(m, "lstm_long_short", "nw_tstat"), 2),
        "reversal_gross": metric(m, "reversal_long_short", "mean_daily_return_gross"),
        "_predictions": predictions[["date", "ticker", "probability"]],
    }


def trained_facts(settings) -> list[dict]:
    """What each study period's training took, from its cache (the run that trained it)."""
    from stock_pipeline.universe.cache import META_FILE, config_digest
    from stock_pipeline.universe.pooled import universe_models_dir

    folder = universe_models_dir(settings) / config_digest(settings.universe)
    return [json.loads(p.read_text()) for p in sorted(folder.glob(f"*/{META_FILE}"))]


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
        } | {
            "median_train_s_per_period": statistics.median(t for r in mine for t in r["train_s"]),
            "median_epochs": statistics.median(e for r in mine for e in r["epochs"]),
        }
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
    parser.add_argument("--folder", type=Path, default=None)
    parser.add_argument("--only-seeds", type=int, nargs="*", default=None)
    args = parser.parse_args()
    from stock_pipeline.warehouse import WarehouseFile

    extra = parse_extra(args.set)
    folder = args.folder or Path(tempfile.mkdtemp(prefix="universe_equivalence_"))
    stored = RESULTS / f"{args.name}.json"
    results: dict = json.loads(stored.read_text()) if stored.exists() else {}
    results.pop("machine", None)
    results |= {
        "date": dt.date.today().isoformat(),
        "tickers": args.tickers,
        "years": args.years,
        "phi": args.phi,
        "settings_changed": extra,
    }
    seeds = [42 + i for i in range(args.seeds)]
    seeds = [s for s in seeds if args.only_seeds is None or s in args.only_seeds]
    for dataset in args.datasets:
        path = folder / f"{dataset}.duckdb"
        phi = args.phi if dataset == "reversal" else 0.0
        if not path.exists():
            write_dataset(path, args.tickers, args.years, phi)
        asof = sessions_of(args.years)[-1]
        load_start = round(os.getloadavg()[0], 1)
        runs = []
        for seed, mode in itertools.product(seeds, args.modes):
            runs.append(one_run(folder / dataset, WarehouseFile(path), asof, mode, seed, extra))
            print({k: v for k, v in runs[-1].items() if not k.startswith("_")}, flush=True)
        results[dataset] = {
            "runs": [{k: v for k, v in r.items() if not k.startswith("_")} for r in runs],
            "summary": summary(runs),
            "rank_correlation": correlations(runs),
            "load_average_at_start": load_start,
            "load_average_at_end": round(os.getloadavg()[0], 1),
        }
        save(args.name, results)  # after each dataset


def sessions_of(years: int) -> list[dt.date]:
    from stock_pipeline_tests.support.synthetic import sessions

    return sessions(252 * years)


if __name__ == "__main__":
    main()
