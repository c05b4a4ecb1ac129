"""The model kinds (``model.kind``) side by side: walk-forward cost, training throughput
and skill against naive.

    python -m benchmarks.model_kinds [--repeats 1] [--epochs 5] [--fold-repeats 3]
        [--skill-tickers ^IXIC] [--span SESSIONS]

Data: ^GSPC 1999-2018 from the offline sample, the default configuration with only the
kind changed.

- ``walk_forward_s``: ``evaluate_asof`` (``walk_forward_evaluation``) as of the cold date
  of ``benchmarks.walk_forward`` with no model of that kind cached: every fold of the
  default 3-year span is trained (early stopping), baselines included, as the LSTM's
  figure there. The ensemble (lstm + gru) is timed twice: from scratch, and after its
  members' own walk-forwards (its lstm and gru fold models are then the cached ones:
  what a comparison of lstm, gru and ensemble pays for the ensemble).
- ``fold_training``: from the fold bundles of that run, the mean epochs early stopping
  ran and the mean seconds a fold's training took.
- ``last_fold_training``: ``train_model`` (early stopping) on the last fold's inputs,
  the kinds in turn ``--fold-repeats`` times: wall seconds, epochs, seconds per epoch
  and the ratio to the LSTM, fair on a busy machine where one walk-forward after
  another is not.
- ``throughput``: samples/s over ``--epochs`` epochs (no early stop, the first epoch's
  compilation included in both) on the last fold's inputs, through ``network.fit``
  (validation tail, early-stopping callback) and through a bare ``model.fit`` of the
  same network on the same training rows.
- ``skill``: the walk-forward's skill against naive (1 - RMSE / naive RMSE), its DM
  p-value, and the share of days shrunk to the naive forecast; with ``--skill-tickers``
  also on those sample tickers (one more walk-forward per kind each).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.common import quiet, sample_warehouse, save, summarize
from benchmarks.walk_forward import nights

TICKER = "^GSPC"
KINDS = ("lstm", "gru", "attention_lstm", "transformer", "tcn", "multiscale")


def walk_forward(settings, ticker: str, day: dt.date) -> dict[str, object]:
    """Seconds of one walk-forward evaluation, its bookkeeping and the LSTM row's scores."""
    from stock_pipeline.evaluation.evaluate import evaluate_asof
    from stock_pipeline.warehouse import WarehouseFile

    start = time.perf_counter()
    result = evaluate_asof(WarehouseFile(settings.warehouse), ticker, day, settings)
    seconds = time.perf_counter() - start
    overall = result.metrics[(result.metrics["model"] == "lstm") & result.metrics["fold"].isna()]
    values = dict(zip(overall["metric"], overall["value"], strict=True))
    return {
        "seconds": seconds,
        "folds": result.folds,
        "trained": result.folds_trained,
        "reused": result.folds_reused,
        "skill": round(values["skill"], 5),
        "dm_pvalue": round(values["dm_pvalue"], 4),
        "naive_day_share": round(values["naive_day_share"], 3),
    }


def fold_training(settings, ticker: str) -> dict[str, float]:
    """Mean epochs run and training seconds over the fold bundles of ``settings``' kind."""
    from stock_pipeline.forecasting.fold_models import FoldCache

    folder = FoldCache(settings.ticker_models_dir(ticker), settings).folder
    bundles = [json.loads(p.read_text()) for p in folder.glob("*/bundle.json")]
    return {
        "folds": len(bundles),
        "mean_epochs_run": round(statistics.mean(b["epochs_run"] for b in bundles), 1),
        "mean_train_s": round(statistics.mean(b["train_seconds"] for b in bundles), 3),
        "parameter_count": bundles[0]["parameter_count"],
    }


def throughput(settings, table, epochs: int) -> dict[str, float]:
    """samples/s through ``network.fit`` and through a bare ``model.fit``, same inputs."""
    import numpy as np

    from stock_pipeline.forecasting import network
    from stock_pipeline.forecasting.features import time_split
    from stock_pipeline.forecasting.fold_models import Forecaster
    from stock_pipeline.forecasting.folds import folds_of_origins

    ((fold, _),) = folds_of_origins(table, np.array([len(table) - 1]), settings)
    inputs = Forecaster(table, settings, None).inputs(fold)
    fs, ms = settings.features, settings.model.model_copy(update={"patience": epochs + 1})
    ours = network.fit(
        network.build_model(fs.window, len(fs.columns), ms, fs.target),
        inputs.x,
        inputs.y,
        ms,
        fs.horizon,
        epochs,
    )
    train = time_split(len(inputs.x), ms.validation_fraction, fs.horizon).train
    bare = network.build_model(fs.window, len(fs.columns), ms, fs.target)
    start = time.perf_counter()
    bare.fit(inputs.x[train], inputs.y[train], epochs=epochs, batch_size=ms.batch_size, verbose=0)
    seconds = time.perf_counter() - start
    return {
        "samples_per_second_fit": round(ours.samples_per_second, 1),
        "samples_per_second_bare_fit": round(ours.samples * epochs / seconds, 1),
        "training_samples": ours.samples,
    }


def fold_training_interleaved(of: dict, table, repeats: int) -> dict[str, dict]:
    """``train_model`` (early stopping, the default epochs) on the last fold's inputs, the
    kinds in turn ``repeats`` times, so that a busy machine slows every kind alike."""
    import numpy as np

    from stock_pipeline.forecasting.fold_models import Forecaster
    from stock_pipeline.forecasting.folds import folds_of_origins
    from stock_pipeline.forecasting.training import train_model

    lstm = of["lstm"]
    ((fold, _),) = folds_of_origins(table, np.array([len(table) - 1]), lstm)
    inputs = Forecaster(table, lstm, None).inputs(fold)
    samples: dict[str, list] = {k: [] for k in KINDS}
    for r in range(repeats):
        for kind in KINDS[r % len(KINDS) :] + KINDS[: r % len(KINDS)]:
            start = time.perf_counter()
            _, result = train_model(inputs, of[kind])
            samples[kind].append((time.perf_counter() - start, result.epochs_run))
    lstm_s = statistics.median(s for s, _ in samples["lstm"])
    return {
        kind: {
            **summarize([s for s, _ in runs]),
            "epochs_run": runs[-1][1],
            "median_s_per_epoch": round(statistics.median(s / e for s, e in runs), 3),
            "ratio_to_lstm": round(statistics.median(s for s, _ in runs) / lstm_s, 2),
        }
        for kind, runs in samples.items()
    }


def main() -> None:
    quiet()
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--fold-repeats", type=int, default=3)
    parser.add_argument("--skill-tickers", nargs="*", default=[])
    parser.add_argument("--span", type=int, default=None, help="sessions; default 756")
    args = parser.parse_args()
    span = {"evaluation": {"span_sessions": args.span}} if args.span else {}
    runs: dict[str, list[dict]] = {}
    out: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base, table = sample_warehouse(Path(tmp), TICKER)
        base = base.with_changes(**span)
        day = nights(base, table)["cold"]
        of = {k: base.with_changes(model={"kind": k}) for k in (*KINDS, "ensemble")}
        for _ in range(args.repeats):
            shutil.rmtree(base.models_dir, ignore_errors=True)
            for kind in (*KINDS, "ensemble"):  # the ensemble after its members: cached
                name = "ensemble_given_members" if kind == "ensemble" else kind
                runs.setdefault(name, []).append(walk_forward(of[kind], TICKER, day))
                if kind != "ensemble":  # its members' bundles are those of lstm and gru
                    out[kind] = {"fold_training": fold_training(of[kind], TICKER)}
                print(name, runs[name][-1], out.get(kind), flush=True)
            shutil.rmtree(base.models_dir, ignore_errors=True)
            runs.setdefault("ensemble", []).append(walk_forward(of["ensemble"], TICKER, day))
            print("ensemble", runs["ensemble"][-1], flush=True)
        trainings = fold_training_interleaved(of, table, args.fold_repeats)
        for kind in KINDS:
            out[kind]["last_fold_training"] = trainings[kind]
            out[kind]["throughput"] = throughput(of[kind], table, args.epochs)
            print(kind, out[kind], flush=True)
        skill = {k: {TICKER: runs[k][-1]["skill"]} for k in (*KINDS, "ensemble")}
        for ticker in args.skill_tickers:
            folder = Path(tmp) / ticker.strip("^")
            folder.mkdir()
            settings = sample_warehouse(folder, ticker)[0].with_changes(**span)
            for kind in (*KINDS, "ensemble"):
                kind_settings = settings.with_changes(model={"kind": kind})
                skill[kind][ticker] = walk_forward(kind_settings, ticker, day)["skill"]
                print(kind, ticker, skill[kind][ticker], flush=True)
    lstm_s = statistics.median(r["seconds"] for r in runs["lstm"])
    for name, samples in runs.items():
        last, seconds = samples[-1], [r["seconds"] for r in samples]
        out.setdefault(name, {}).update(
            walk_forward_s=summarize(seconds),
            ratio_to_lstm=round(statistics.median(seconds) / lstm_s, 2),
            folds=last["folds"],
            folds_trained=last["trained"],
            folds_reused=last["reused"],
            dm_pvalue=last["dm_pvalue"],
            naive_day_share=last["naive_day_share"],
            skill=skill.get(name, {TICKER: last["skill"]}),
        )
    save(
        "model_kinds",
        {"date": dt.date.today().isoformat(), "ticker": TICKER, "asof": str(day), **out},
    )


if __name__ == "__main__":
    main()
