"""The model comparison's family tests for one ticker-night: ``family_tests.compare``.

    python -m benchmarks.family_tests [--repeats 5]

A family as the default comparison makes it: naive and four models (two kinds, drift,
ARIMA) with squared-error losses over the default 3-year span (756 days), 1,000
bootstrap replications (the default). Measured in a process that has imported keras
and dagster and holds a trained model's worth of objects, as a Dagster run that
materializes ``model_comparison`` does: a full garbage collection there costs what it
costs in the product. Median of ``--repeats`` calls.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np
import pandas as pd

from benchmarks.common import quiet, save, summarize


def family(days: int = 756, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    naive = rng.normal(size=days) ** 2
    losses = {"naive": naive}
    for k, name in enumerate(("lstm", "gru", "drift", "arima")):
        losses[name] = naive * np.exp(rng.normal(-0.045 - 0.01 * k, 0.3, days))
    return pd.DataFrame(losses)


def main() -> None:
    quiet()
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    import dagster  # noqa: F401  (the heap of a run process)

    from stock_pipeline.backend import keras
    from stock_pipeline.evaluation.family_tests import FamilySettings, compare

    model = keras.Sequential([keras.Input((20, 1)), keras.layers.LSTM(16), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    losses, settings = family(), FamilySettings()
    seconds = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        compare(losses, settings)
        seconds.append(time.perf_counter() - start)
    save(
        "family_tests",
        {"date": dt.date.today().isoformat(), "days": len(losses), "models": 4,
         "reps": settings.reps, "compare_s": summarize(seconds)},
    )  # fmt: skip
    print(summarize(seconds))


if __name__ == "__main__":
    main()
