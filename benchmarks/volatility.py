"""Volatility: the LSTM against GARCH on the GARCH family's home ground (issue 17).

    python -m benchmarks.volatility [--span 756] [--estimator squared_return]

At the default settings with ``features.target: volatility`` (h = 1: tomorrow's realized
variance), the walk-forward users get (a fold model every 21 sessions, trained from
scratch; no fold cache) over the last ``--span`` sessions of the offline sample's ^GSPC and
^IXIC, and of a GARCH(1,1) series simulated with omega 2e-6, alpha 0.08, beta 0.9 (2,265
sessions). For every model: QLIKE and MSE on the variance; for the LSTM the
Diebold-Mariano tests against naive and GARCH(1,1) on QLIKE; the verdict line; wall time.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import quiet, sample_warehouse, save

MODELS = ("lstm", "naive", "drift", "garch", "gjr", "egarch", "har")


def simulated_table(sessions: int = 2265, seed: int = 17):
    """Daily log returns from the GARCH(1,1) recursion, as a one-feature table."""
    from stock_pipeline.forecasting.features import FeatureTable
    from stock_pipeline_tests.support.synthetic import sessions as trading_sessions

    z = np.random.default_rng(seed).standard_normal(sessions)
    omega, alpha, beta = 2e-6, 0.08, 0.9
    r, s2 = np.zeros(sessions), omega / (1 - alpha - beta)
    for t in range(sessions):
        r[t] = math.sqrt(s2) * z[t]
        s2 = omega + alpha * r[t] ** 2 + beta * s2
    dates = np.array(trading_sessions(sessions), dtype="datetime64[D]")
    return FeatureTable("GARCH(1,1)", dates, r[:, None].copy(), ("log_return",), r, np.exp(r))


def evaluate(table, settings) -> dict[str, object]:
    from stock_pipeline.evaluation.metrics import score, verdict
    from stock_pipeline.evaluation.walk_forward import walk_forward

    started = time.perf_counter()
    frame = walk_forward(table, len(table) - 1, settings, None).predictions
    seconds = time.perf_counter() - started
    metrics = score(frame, "volatility", settings.features.horizon)
    overall = metrics[metrics["fold"].isna()]
    by_model = {
        m: dict(zip(part["metric"], part["value"], strict=True))
        for m, part in overall.groupby("model")
    }
    lstm = by_model["lstm"]
    return {
        "days": int(lstm["n"]),
        "qlike": {m: by_model[m]["qlike"] for m in MODELS},
        "mse": {m: by_model[m]["mse"] for m in MODELS},
        "lstm_vs_naive_qlike_p": lstm["dm_pvalue_qlike"],
        "lstm_vs_garch_qlike_stat": lstm["dm_vs_garch_stat_qlike"],
        "lstm_vs_garch_qlike_p": lstm["dm_vs_garch_pvalue_qlike"],
        "verdict": verdict(metrics, table.ticker, settings.evaluation.verdict_level).text,
        "seconds": seconds,
    }


def run(span: int, estimator: str) -> dict[str, object]:
    from stock_pipeline.settings import Settings

    changes = {
        "features": {"target": "volatility", "volatility_estimator": estimator},
        "evaluation": {"span_sessions": span},
    }
    rows = []
    if estimator == "squared_return":  # a simulated series has no high/low
        settings = Settings().with_changes(**changes)
        rows.append({"series": "simulated GARCH(1,1)", **evaluate(simulated_table(), settings)})
        print(rows[-1]["verdict"], flush=True)
    for ticker in ("^GSPC", "^IXIC"):
        with tempfile.TemporaryDirectory() as folder:
            settings, table = sample_warehouse(Path(folder), ticker)
            settings = settings.with_changes(**changes)
            rows.append({"series": ticker, **evaluate(table, settings)})
            print(rows[-1]["verdict"], flush=True)
    return {"span": span, "estimator": estimator, "rows": rows}


def main() -> None:
    quiet()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--span", type=int, default=756)
    parser.add_argument("--estimator", default="squared_return")
    args = parser.parse_args()
    save("volatility", run(args.span, args.estimator))


if __name__ == "__main__":
    main()
