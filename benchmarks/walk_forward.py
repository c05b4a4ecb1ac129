"""Model-chain cost for one ticker: the walk-forward from scratch, and each kind of night.

    python -m benchmarks.walk_forward [--repeats 3] [--long-repeats 1]

Data: ^GSPC 1999-2018 from the offline sample, the default configuration (a fold every
21 sessions, each trained from scratch with early stopping, a 3-year span,
naive/drift/ARIMA baselines).

- ``default_span_from_scratch``: ``evaluate_asof`` with an empty fold cache near the end
  of the sample: every fold of the span is trained.
- ``nightly``: what a night costs the model chain on that cache, ``forecast_asof``
  (``lstm_model``) then ``evaluate_asof`` (``walk_forward_evaluation``):
  ``mid_fold_night`` (the fold's model exists: one forecast, one more scored day) and
  ``fold_start_night`` (the first session of a fold: its model is trained, once a fold,
  on a night that differs per ticker).
- ``whole_history_span_from_scratch``: the span set to the whole history, empty cache.

Each figure is wall time including DuckDB reads and writes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.common import quiet, sample_warehouse, save, summarize

TICKER = "^GSPC"


def nights(settings, table) -> dict[str, dt.date]:
    """As-of dates: a cold start, then a night that opens a fold and a mid-fold night."""
    from stock_pipeline.forecasting.folds import fold_keys

    keys = fold_keys(table, settings)
    starts = [i for i in range(len(keys) - 60, len(keys)) if keys[i] != keys[i - 1]]
    fold_start = starts[0]
    return {
        "cold": table.dates[fold_start - 1].astype(dt.date),
        "fold_start_night": table.dates[fold_start].astype(dt.date),
        "mid_fold_night": table.dates[fold_start + 1].astype(dt.date),
    }


def night(settings, day: dt.date, forecast: bool = True) -> dict[str, float]:
    from stock_pipeline.evaluation.evaluate import evaluate_asof
    from stock_pipeline.forecasting.forecast import forecast_asof
    from stock_pipeline.warehouse import WarehouseFile

    warehouse = WarehouseFile(settings.warehouse)
    start = time.perf_counter()
    model = forecast_asof(warehouse, TICKER, day, settings) if forecast else None
    result = evaluate_asof(warehouse, TICKER, day, settings)
    return {
        "seconds": time.perf_counter() - start,
        "folds": result.folds,
        "trained": result.folds_trained + int(model is not None and model.mode == "trained"),
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
                samples.setdefault(name, []).append(night(settings, day, name != "cold"))
                print(name, day, samples[name][-1], flush=True)
        whole = settings.with_changes(evaluation={"span_sessions": None})
        for _ in range(args.long_repeats):
            shutil.rmtree(settings.models_dir, ignore_errors=True)
            samples.setdefault("whole", []).append(night(whole, dates["cold"], False))
            print("whole", samples["whole"][-1], flush=True)

    def figure(name: str, day: dt.date) -> dict[str, object]:
        runs = samples[name]
        last = runs[-1]
        return {
            "asof": day.isoformat(),
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
            "default_span_from_scratch": figure("cold", dates["cold"]),
            # --long-repeats 0 skips the whole-history span (320 s a run)
            **(
                {"whole_history_span_from_scratch": figure("whole", dates["cold"])}
                if "whole" in samples
                else {}
            ),
            "nightly": {
                name: figure(name, dates[name]) for name in ("mid_fold_night", "fold_start_night")
            },
        },
    )


if __name__ == "__main__":
    main()
