"""Walk-forward evaluation cost for one ticker: from scratch, over 20 years, and nightly.

    python -m benchmarks.walk_forward [--repeats 3] [--long-repeats 1]

Data: ^GSPC 1999-2018 from the offline sample, the default configuration
(3-year span, a fold every 21 sessions, a full retrain every 12 folds, warm
starts between, LSTM early stopping up to 100 epochs, naive/drift/ARIMA baselines).

- ``default_span``: ``evaluate_asof`` with an empty fold cache, as of the first
  session of a full-retrain fold near the end of the sample.
- ``nightly``: the following nights on that cache, each kind of night there is:
  the night that opens a full-retrain fold (once every 12 folds, about once a
  year), a mid-fold night (no training: the fold's model predicts one more day),
  and the night that opens a warm-started fold (once every 21 sessions).
- ``whole_history_span``: the span set to the whole history (``span_sessions: null``),
  empty cache, same as-of date.

Each figure is the wall time of ``evaluation.asof.evaluate_asof``, which includes
reading the feature table from DuckDB and writing ``predictions`` and
``evaluation_metrics`` back.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
from pathlib import Path

from benchmarks.common import quiet, sample_warehouse, save, summarize

TICKER = "^GSPC"


def nights(settings, table) -> dict[str, dt.date]:
    """As-of dates: the cold start, then one night of each kind."""
    from stock_pipeline.evaluation.folds import first_origin

    ev, h = settings.evaluation, settings.features.horizon
    period = ev.retrain_every * ev.full_retrain_every_folds
    anchor = first_origin(settings)
    last_row = len(table) - 1
    # fold start S trains on the night whose last origin is S, i.e. as-of row S + h
    full_start = anchor + ((last_row - h - ev.retrain_every - 2 - anchor) // period) * period
    rows = {
        "cold": full_start + h - 1,
        "full_retrain_night": full_start + h,
        "mid_fold_night": full_start + h + 1,
        "warm_start_night": full_start + ev.retrain_every + h,
        "mid_fold_night_2": full_start + ev.retrain_every + h + 1,
    }
    return {name: table.dates[row].astype(dt.date) for name, row in rows.items()}


def run(settings, day: dt.date) -> dict[str, float]:
    from stock_pipeline.evaluation.asof import evaluate_asof
    from stock_pipeline.warehouse import WarehouseFile

    result = evaluate_asof(WarehouseFile(settings.warehouse), TICKER, day, settings)
    return {
        "seconds": result.seconds,
        "folds": result.folds,
        "trained": result.folds_trained,
        "reused": result.folds_reused,
    }


def main() -> None:
    quiet()
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--long-repeats", type=int, default=1)
    args = parser.parse_args()
    samples: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        settings, table = sample_warehouse(Path(tmp), TICKER)
        dates = nights(settings, table)
        for _ in range(args.repeats):
            shutil.rmtree(settings.models_dir, ignore_errors=True)
            for name, day in dates.items():
                samples.setdefault(name, []).append(run(settings, day))
                print(name, day, samples[name][-1], flush=True)
        whole = settings.with_changes(evaluation={"span_sessions": None})
        for _ in range(args.long_repeats):
            shutil.rmtree(settings.models_dir, ignore_errors=True)
            samples.setdefault("whole_history_span", []).append(run(whole, dates["cold"]))
            print("whole", samples["whole_history_span"][-1], flush=True)

    def figure(name: str) -> dict[str, object]:
        runs = samples[name]
        last = runs[-1]
        return {
            "asof": dates.get(name, dates["cold"]).isoformat(),
            **summarize([r["seconds"] for r in runs]),
            "folds": last["folds"],
            "folds_trained": last["trained"],
            "folds_reused": last["reused"],
        }

    save(
        "walk_forward",
        {
            "date": dt.date.today().isoformat(),
            "ticker": TICKER,
            "default_span_from_scratch": figure("cold"),
            "whole_history_span_from_scratch": figure("whole_history_span"),
            "nightly": {
                name: figure(name)
                for name in (
                    "full_retrain_night",
                    "mid_fold_night",
                    "warm_start_night",
                    "mid_fold_night_2",
                )
            },
        },
    )


if __name__ == "__main__":
    main()
