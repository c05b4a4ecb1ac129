"""LSTM training cost: inside the Dagster asset vs a bare ``model.fit``; a night that
trains a fold model vs one that reuses it.

    python -m benchmarks.training [--repeats 3] [--epochs 10]

Data: ^GSPC 1999-2018 from the offline sample, the default features and model.
Throughput runs a fixed number of epochs (no early stop) so both paths do identical
work on the same fold's inputs; the first epoch includes XLA compilation in both. The
nightly figures use the default configuration: ``lstm_model``'s work (``forecast_asof``)
on the first session of a fold (its model is trained, early stopping) and on the next
session (the fold's model only predicts).
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
    """(samples/s in the asset, samples/s of a bare fit) on the same fold's inputs."""
    import numpy as np
    from dagster import DagsterInstance, materialize

    from stock_pipeline.definitions import build_definitions
    from stock_pipeline.forecasting import network
    from stock_pipeline.forecasting.feature_rows import load_feature_table
    from stock_pipeline.forecasting.fold_models import Forecaster
    from stock_pipeline.forecasting.folds import folds_of_origins
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

    with connect(settings.warehouse, read_only=True) as con:
        table = load_feature_table(con, "^GSPC", ASOF, settings.features)
    ((fold, _),) = folds_of_origins(table, np.array([len(table) - 1]), settings)
    inputs = Forecaster(table, settings, None).inputs(fold)
    fs, ms = settings.features, settings.model
    net = network.build_model(fs.window, len(fs.columns), ms, fs.target)
    bare = network.fit(net, inputs.x, inputs.y, ms, fs.horizon, epochs)
    return asset_sps, bare.samples_per_second


def nightly(settings) -> tuple[float, float, dict]:
    """(seconds on the night that opens a fold, seconds on the next night, facts)."""
    import numpy as np

    from stock_pipeline.forecasting.feature_rows import load_feature_table
    from stock_pipeline.forecasting.folds import fold_keys
    from stock_pipeline.forecasting.forecast import forecast_asof
    from stock_pipeline.warehouse import WarehouseFile, connect

    with connect(settings.warehouse, read_only=True) as con:
        table = load_feature_table(con, "^GSPC", ASOF, settings.features)
    keys = fold_keys(table, settings)
    start = int(np.flatnonzero(np.diff(keys))[-2]) + 1  # the first session of a fold
    opening, next_day = (table.dates[i].astype(dt.date) for i in (start, start + 1))
    warehouse = WarehouseFile(settings.warehouse)
    runs = {}
    full_s = timed(
        lambda: runs.setdefault("fold_start", forecast_asof(warehouse, "^GSPC", opening, settings))
    )
    next_s = timed(
        lambda: runs.setdefault("next", forecast_asof(warehouse, "^GSPC", next_day, settings))
    )
    assert (runs["fold_start"].mode, runs["next"].mode) == ("trained", "cached")
    info = {k: {"asof": str(r.asof), "epochs": r.epochs_run} for k, r in runs.items()}
    return full_s, next_s, info


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
            "nightly_fold_start_s": summarize(full),
            "nightly_cached_fold_s": summarize(warm),
            "nightly_last_run": info,
        },
    )


if __name__ == "__main__":
    main()
