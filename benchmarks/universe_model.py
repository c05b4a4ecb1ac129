"""The pooled cross-sectional model at size, on synthetic tickers.

    python -m benchmarks.universe_model [--tickers 50] [--years 4] [--epochs 3]
        [--repeats 3] [--nights 2] [--part all|walk|throughput|period_end|at_size]
        [--training windows|sequences] [--engine in_process|local_cluster] [--warm-start]
        [--name F]

In a fresh folder: N synthetic tickers x Y years of daily bars (a weak one-day
cross-sectional reversal, phi 0.05) written straight to a DuckDB warehouse, the model at
the paper's defaults (sequences of 240, 25 units, study periods of 750 + 250, batch 512)
except that in ``walk`` and ``throughput`` every fit runs exactly ``--epochs`` epochs
(patience = epochs), so the cost per epoch is measured. ``period_end`` keeps the
defaults' early stopping: the nights on which study periods end, through Dagster, and
the 500 x 10 walk-forward computed from them. ``at_size`` runs the whole walk-forward
through Dagster at the defaults from an empty cache, then the night the last study
period ends and a night on which none ends. ``--training`` overrides the default
procedure, ``--engine`` the compute engine. Measured:

- ``walk_forward_s``: ``universe_model_asof`` + ``universe_backtest_asof`` as of the
  second-last session with an empty model cache: every study period trained, every
  signal date predicted (what a first materialization costs);
- ``nightly_s``: the Dagster run of ``universe_model,universe_backtest`` as of the last
  session (``launch.materialize``, the CLI's path), the cache warm: a night on which no
  study period ends (predict one session, backtest, report);
- ``sequences_per_second_in_asset`` against ``..._bare_fit``: the training of study
  period 0 through the asset code path (``PooledForecaster.train``: gather, build,
  ``fit_network``) against ``model.fit`` on the same arrays with the same validation
  tail and epochs; both include the compile (served by JAX's persistent cache when warm).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import RESULTS, quiet, save, summarize


def write_universe(path: Path, tickers: int, years: int, seed: int = 0) -> list[dt.date]:
    from stock_pipeline_tests.support.synthetic import sessions
    from stock_pipeline_tests.support.universe import store_universe, universe_returns

    days = 252 * years
    store_universe(path, universe_returns(days, tickers, 0.05, seed))
    return sessions(days)


def bare_fit(x: np.ndarray, y: np.ndarray, us) -> float:
    """sequences/s of ``model.fit`` alone on the asset's arrays and validation split."""
    from stock_pipeline.universe import network

    split = network.validation_start(len(x), us.validation_fraction)
    model = network.build_network(x.shape[1], x.shape[2], us)
    started = time.perf_counter()
    model.fit(
        x[:split], y[:split], validation_data=(x[split:], y[split:]),
        epochs=us.epochs, batch_size=us.batch_size, shuffle=True, verbose=0,
    )  # fmt: skip
    return split * us.epochs / (time.perf_counter() - started)


def asset_path_fit(settings, warehouse, asof) -> tuple[float, np.ndarray, np.ndarray]:
    """sequences/s of the asset code path's training of study period 0 (the wall time of
    ``PooledForecaster.train``: gather, standardize, build and fit), and its arrays."""
    from stock_pipeline.universe.panel import load_panel
    from stock_pipeline.universe.periods import gather, study_periods, training_pairs
    from stock_pipeline.universe.walk import PeriodRun, PooledForecaster

    with warehouse.connect(read_only=True) as con:
        panel = load_panel(con, asof, settings.universe)
    forecaster = PooledForecaster(panel, settings.universe, None)
    period = study_periods(len(panel.dates), settings.universe)[0]
    run = PeriodRun(0, asof, "trained")
    started = time.perf_counter()
    _, scaler = forecaster.train(period, run)
    seconds = time.perf_counter() - started
    rows, cols = training_pairs(panel, period, forecaster.targets, forecaster.length)
    x = gather(panel, scaler, rows, cols, forecaster.length)
    split = round(len(x) * (1 - settings.universe.validation_fraction))
    per_s = split * run.epochs_run / seconds
    return per_s, x, forecaster.targets[rows, cols].astype("float32")


def nightly(settings, tickers: list[str], day: dt.date) -> float:
    from dagster import DagsterInstance

    from stock_pipeline.cli import launch
    from stock_pipeline.definitions import build_definitions

    defs, instance = build_definitions(settings), DagsterInstance.ephemeral()
    launch.register_tickers(instance, tickers)
    started = time.perf_counter()
    outcomes = launch.materialize(
        defs, instance, tickers[:1], day, day, "universe_model,universe_backtest", settings
    )
    assert all(o.success for o in outcomes), [o.errors for o in outcomes]
    return time.perf_counter() - started


def period_end_nights(args, settings, days) -> dict:
    """The nights on which study periods 0, 1, ... (``--nights``) end, through Dagster,
    with the defaults (early stopping as configured, not a fixed epoch count): the first
    trains period 0 from an empty cache, the next period 1 with period 0 cached, as a
    real night would. Then the full walk-forward over 10 years at the measured costs."""
    from stock_pipeline.universe.cache import PeriodCache
    from stock_pipeline.universe.pooled import universe_models_dir
    from stock_pipeline_tests.support.universe import ticker_names

    us = settings.universe
    nights = []
    for period in range(args.nights):
        row = period * us.trade_sessions + us.train_sessions - 1
        seconds = nightly(settings, ticker_names(args.tickers), days[row])
        meta = PeriodCache(universe_models_dir(settings), us, days[row].isoformat()).meta()
        nights.append(
            {
                "asof": str(days[row]),
                "night_s": round(seconds, 1),
                "train_s": round(meta["train_seconds"], 1),
                "epochs": meta["epochs_run"],
                "sequences": meta["sequences"],
                "training_sequences_per_s": round(
                    validation_split(meta["sequences"], us) * meta["epochs_run"]
                    / meta["train_seconds"]
                ),
            }
        )  # fmt: skip
    predict_s = predict_cost(us, 500 * us.trade_sessions)
    periods = (252 * 10 - us.train_sessions) // us.trade_sessions + 1
    train_s = statistics.median(n["train_s"] for n in nights) * 500 / args.tickers
    return {
        "period_end_tickers": args.tickers,
        "period_end_nights": nights,
        "predict_s_per_period_500": round(predict_s, 1),
        "walk_forward_500x10y_minutes": round(periods * (train_s + predict_s) / 60, 1),
        "walk_forward_note": f"{periods} study periods x (median night's training, "
        "scaled to 500 tickers, + one period's predictions for 500 tickers)",
    }


def at_size(args, settings, days) -> dict:
    """The walk-forward at size through Dagster with the defaults, from an empty cache:
    as of the session before the last study period ends (every earlier period trains),
    then the night it ends (one period trains), then a night on which none ends."""
    from stock_pipeline.universe.periods import study_periods
    from stock_pipeline_tests.support.universe import ticker_names

    us = settings.universe
    last_end = study_periods(len(days), us)[-1].train_last
    names = ticker_names(args.tickers)
    nights = {}
    for label, row in (
        ("walk_forward_before_last_period_s", last_end - 1),
        ("night_a_period_ends_s", last_end),
        ("night_none_ends_s", last_end + 1),
    ):
        started = time.perf_counter()
        nightly(settings, names, days[row])
        nights[label] = round(time.perf_counter() - started, 1)
        nights[label.replace("_s", "_asof")] = str(days[row])
    facts = trained_periods(settings)
    return {
        "skill_as_of_last_night": skill(settings, days[last_end + 1]),
        "at_size_tickers": args.tickers,
        "at_size_years": args.years,
        "at_size_training": us.training,
        "at_size_engine": settings.compute.engine,
        "at_size_warm_start": us.warm_start,
        **nights,
        "walk_forward_empty_cache_s": round(
            nights["walk_forward_before_last_period_s"] + nights["night_a_period_ends_s"], 1
        ),
        "periods": facts,
        "at_size_note": "walk_forward_empty_cache_s: the first two runs together, every "
        "study period trained from an empty cache; each run is a launch.materialize of "
        "universe_model,universe_backtest (the CLI's path, an ephemeral instance)",
    }


def skill(settings, asof) -> dict:
    """The model's accuracy and the long-short's mean daily return as of ``asof``."""
    from stock_pipeline.warehouse import connect
    from stock_pipeline.warehouse.universe import read_universe_table

    with connect(settings.warehouse, read_only=True) as con:
        m = read_universe_table(con, "universe_backtest_metrics", asof)
    wanted = {
        ("lstm", "accuracy"), ("lstm", "predictions"), ("lstm_long_short", "nw_tstat"),
        ("lstm_long_short", "mean_daily_return"), ("lstm_long_short", "mean_daily_return_gross"),
    }  # fmt: skip
    return {
        f"{r.strategy}.{r.metric}": float(r.value)
        for r in m.itertuples()
        if (r.strategy, r.metric) in wanted
    }


def trained_periods(settings) -> list[dict]:
    from stock_pipeline.universe.cache import META_FILE, config_digest
    from stock_pipeline.universe.pooled import universe_models_dir

    folder = universe_models_dir(settings) / config_digest(settings.universe)
    out = []
    for meta_path in sorted(folder.glob(f"*/{META_FILE}")):
        meta = json.loads(meta_path.read_text())
        out.append(
            {
                "trained_through": meta["trained_through"],
                "epochs": meta["epochs_run"],
                "train_s": round(meta["train_seconds"], 1),
                "pairs": meta["sequences"],
            }
        )
    return out


def validation_split(sequences: int, us) -> int:
    from stock_pipeline.universe import network

    return network.validation_start(sequences, us.validation_fraction)


def predict_cost(us, sequences: int) -> float:
    """Seconds to predict one trading period of ``sequences`` sequences (random inputs:
    the cost does not depend on the values)."""
    from stock_pipeline.universe import network

    model = network.build_network(us.sequence_length, 1, us)
    x = np.random.default_rng(0).standard_normal((sequences, us.sequence_length, 1))
    network.predict(model, x[:8].astype("float32"))  # compile
    started = time.perf_counter()
    network.predict(model, x.astype("float32"))
    return time.perf_counter() - started


def extrapolate(per_seq_train: float, per_seq_predict: float, us, epochs: int) -> dict:
    """500 tickers x 10 years at the measured per-sequence costs."""
    periods = (2520 - us.train_sessions) // us.trade_sessions + 1
    sequences = 500 * (us.train_sessions - us.sequence_length)
    train = periods * sequences * epochs * per_seq_train
    predict = periods * us.trade_sessions * 500 * per_seq_predict
    return {
        "periods": periods,
        "sequences_per_period": sequences,
        "epochs_assumed": epochs,
        "walk_forward_minutes": round((train + predict) / 60, 1),
        "period_end_night_minutes": round((train / periods) / 60, 1),
    }


def setup(args):
    from stock_pipeline.settings import Settings
    from stock_pipeline.warehouse import WarehouseFile

    folder = Path(tempfile.mkdtemp(prefix="universe_model_"))
    days = write_universe(folder / "warehouse.duckdb", args.tickers, args.years)
    settings = Settings(data_dir=folder, start_date=days[0], history_start=days[0])
    universe = {"training": args.training} if args.training else {}
    if args.warm_start:
        universe["warm_start"] = True
    settings = settings.with_changes(universe=universe, compute={"engine": args.engine})
    if args.part in ("all", "walk", "throughput"):  # fixed epochs: the cost per epoch
        settings = settings.with_changes(universe={"epochs": args.epochs, "patience": args.epochs})
    return settings, WarehouseFile(settings.warehouse), days


def walk(args, settings, warehouse, days) -> dict:
    """The walk-forward from an empty cache, then a night through Dagster."""
    from stock_pipeline.universe.pooled import universe_backtest_asof, universe_model_asof
    from stock_pipeline_tests.support.universe import ticker_names

    started = time.perf_counter()
    model = universe_model_asof(warehouse, days[-2], settings)
    universe_backtest_asof(warehouse, days[-2], settings)
    walk_s = time.perf_counter() - started
    trained = [p for p in model.periods if p.mode == "trained"]
    train_s = sum(p.train_seconds for p in trained)
    night_s = nightly(settings, ticker_names(args.tickers), days[-1])
    per_seq_train = train_s / sum(p.sequences * p.epochs_run for p in trained)
    per_seq_predict = max(walk_s - train_s, 0) / max(model.predictions, 1)
    us = settings.universe
    return {
        "tickers": args.tickers,
        "years": args.years,
        "sessions": len(days),
        "epochs_per_fit": args.epochs,
        "study_periods": len(model.periods),
        "walk_forward_s": round(walk_s, 1),
        "training_s": round(train_s, 1),
        "predictions": model.predictions,
        "nightly_s": round(night_s, 1),
        "per_period": [period_facts(p) for p in trained],
        # the paper's patience of 10 means at least 11 epochs per study period
        "extrapolated_500x10y_11_epochs": extrapolate(per_seq_train, per_seq_predict, us, 11),
        "extrapolated_500x10y_20_epochs": extrapolate(per_seq_train, per_seq_predict, us, 20),
        "note": "per-sequence costs include compiles and the validation pass",
    }


def throughput(args, settings, warehouse, days) -> dict:
    """Asset path and bare fit on study period 0's arrays, alternated ``--repeats`` times."""
    asset, bare = [], []
    for _ in range(args.repeats):
        per_s, x, y = asset_path_fit(settings, warehouse, days[-2])
        asset.append(per_s)
        bare.append(bare_fit(x, y, settings.universe))
    return {
        "throughput_tickers": args.tickers,
        "throughput_epochs": args.epochs,
        "throughput_sequences": len(x),
        "sequences_per_second_in_asset": summarize(asset, "per_s"),
        "sequences_per_second_bare_fit": summarize(bare, "per_s"),
        "asset_over_bare": round(statistics.median(asset) / statistics.median(bare), 3),
        # each asset run is followed by its bare run: the pairs share the machine's load
        "pairwise_ratios": [round(a / b, 3) for a, b in zip(asset, bare, strict=True)],
        "median_pairwise_ratio": round(
            statistics.median(a / b for a, b in zip(asset, bare, strict=True)), 3
        ),
        "throughput_note": "sequences/s: training sequences (not the validation tail) x "
        "epochs / wall time; the asset path's includes gathering, standardizing and "
        "building the model, the bare fit's only model.fit",
    }


def main() -> None:
    quiet()
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickers", type=int, default=50)
    parser.add_argument("--years", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--nights", type=int, default=2, help="period_end: periods trained")
    parser.add_argument(
        "--part", choices=("all", "walk", "throughput", "period_end", "at_size"), default="all"
    )
    parser.add_argument("--training", choices=("windows", "sequences"), default=None)
    parser.add_argument("--engine", choices=("in_process", "local_cluster"), default="in_process")
    parser.add_argument("--name", default="universe_model", help="results file name")
    parser.add_argument("--warm-start", action="store_true", help="universe.warm_start")
    args = parser.parse_args()

    results: dict = {"date": dt.date.today().isoformat()}
    settings, warehouse, days = setup(args)
    # the machine is shared: each part records the load it started under
    if args.part in ("all", "walk"):
        results["walk_load_average_at_start"] = round(os.getloadavg()[0], 1)
        results |= walk(args, settings, warehouse, days)
    if args.part in ("all", "throughput"):
        results["throughput_load_average_at_start"] = round(os.getloadavg()[0], 1)
        results |= throughput(args, settings, warehouse, days)
    if args.part == "period_end":
        results["period_end_load_average_at_start"] = round(os.getloadavg()[0], 1)
        results |= period_end_nights(args, settings, days)
    if args.part == "at_size":
        results["at_size_load_average_at_start"] = round(os.getloadavg()[0], 1)
        results |= at_size(args, settings, days)
        results["at_size_load_average_at_end"] = round(os.getloadavg()[0], 1)
    stored = RESULTS / f"{args.name}.json"
    previous = json.loads(stored.read_text()) if stored.exists() else {}
    save(args.name, {**previous, **results})  # one part at a time keeps the other


def period_facts(p) -> dict:
    return {
        "trained_through": str(p.trained_through),
        "sequences": p.sequences,
        "seconds": round(p.train_seconds, 1),
        "per_s": round(p.sequences_per_second),
    }


if __name__ == "__main__":
    main()
