"""LSTM training cost: inside the Dagster asset vs a bare ``model.fit``; nightly vs full.

    python -m benchmarks.training [--repeats 3] [--epochs 10]

Data: ^GSPC 1999-2018 from the offline sample, default features (T=60) and model
(2 x 64 LSTM, batch 64). Throughput runs a fixed number of epochs (no early stop)
so both paths do identical work; the first epoch includes XLA compilation in both.
The nightly figures use the default config: a full retrain (early stopping, up to
100 epochs) as of 2018-12-21, then a warm-started update as of the next session.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
from pathlib import Path

from benchmarks.common import quiet, sample_warehouse, save, summarize, timed

ASOF = dt.date(2018, 12, 31)


def throughput(settings, epochs: int) -> tuple[float, float]:
    """(samples/s in the asset, samples/s of a bare fit) on the same arrays."""
    from dagster import DagsterInstance, materialize

    from stock_pipeline.definitions import build_definitions
    from stock_pipeline.forecasting import network
    from stock_pipeline.forecasting.feature_rows import load_feature_table
    from stock_pipeline.forecasting.features import (
        fit_label_scaler,
        fit_scaler,
        targets,
        training_windows,
    )
    from stock_pipeline.warehouse import connect

    settings = settings.with_changes(model={"epochs": epochs, "patience": epochs + 1})
    shutil.rmtree(settings.models_dir, ignore_errors=True)
    defs = build_definitions(settings)
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("tickers", ["^GSPC"])
    result = materialize(
        [defs.get_assets_def("lstm_model")],
        instance=instance,
        partition_key=f"{ASOF}|^GSPC",
        resources=defs.resources,
    )
    in_asset = result.asset_materializations_for_node("lstm_model")[0].metadata
    asset_sps = in_asset["samples_per_second"].value

    fs, ms = settings.features, settings.model
    with connect(settings.warehouse, read_only=True) as con:
        table = load_feature_table(con, "^GSPC", ASOF, fs)
    row = len(table) - 1
    scaled = fit_scaler(table.values[: row - fs.horizon + 1]).transform(table.values)
    train = training_windows(scaled, targets(table, fs), fs.window, fs.horizon, row)
    closes = table.adj_close[train.end_rows]
    y = fit_label_scaler(fs.target, train.y, closes).to_label(train.y, closes)
    net = network.build_model(fs.window, len(fs.columns), ms, fs.target)
    bare = network.fit(net, train.x, y.astype("float32"), ms, fs.horizon, epochs)
    return asset_sps, bare.samples_per_second


def nightly(settings) -> tuple[float, float, dict]:
    from stock_pipeline.forecasting.feature_rows import update_feature_rows
    from stock_pipeline.forecasting.model_asof import train_asof
    from stock_pipeline.market_data.calendar import trading_days
    from stock_pipeline.warehouse import WarehouseFile, connect

    full_day, next_day = trading_days(dt.date(2018, 12, 21), dt.date(2018, 12, 26))[:2]
    with connect(settings.warehouse) as con:
        update_feature_rows(con, "^GSPC", next_day, settings.features)
    warehouse = WarehouseFile(settings.warehouse)
    runs = {}
    full_s = timed(
        lambda: runs.setdefault("full", train_asof(warehouse, "^GSPC", full_day, settings))
    )
    warm_s = timed(
        lambda: runs.setdefault("warm", train_asof(warehouse, "^GSPC", next_day, settings))
    )
    assert runs["warm"].mode == "warm_start", runs["warm"].reason
    info = {k: {"epochs": r.epochs_run, "samples": r.train_samples} for k, r in runs.items()}
    return full_s, warm_s, info


def main() -> None:
    quiet()
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    asset, bare, full, warm, info = [], [], [], [], {}
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            settings, _ = sample_warehouse(Path(tmp))
            a, b = throughput(settings, args.epochs)
            asset.append(a)
            bare.append(b)
            shutil.rmtree(settings.models_dir, ignore_errors=True)
            f, w, info = nightly(settings)
            full.append(f)
            warm.append(w)
    save(
        "training",
        {
            "date": dt.date.today().isoformat(),
            "epochs_for_throughput": args.epochs,
            "samples_per_second_in_asset": summarize(asset, "per_s"),
            "samples_per_second_bare_fit": summarize(bare, "per_s"),
            "nightly_full_retrain_s": summarize(full),
            "nightly_warm_start_s": summarize(warm),
            "nightly_last_run": info,
        },
    )


if __name__ == "__main__":
    main()
