"""Does the LSTM find what is there, and do no harm where nothing is? (issue 13)

    python -m benchmarks.signal [--seeds 3] [--sessions 2265] [--span 756] [--previous]

At the default settings (``Settings()``), the walk-forward procedure users get
(``evaluation.walk_forward``: a fold model every 21 sessions, trained from scratch, its
forecasts scored on the last ``--span`` sessions) on

- planted AR(1) daily log returns, phi in {0, 0.1, 0.2, 0.3} (sigma 1%), ``--seeds``
  series each of ``--sessions`` NYSE sessions (2,265 = 2010-2018), built into bars and
  then into features by the product's own indicator and feature code;
- the offline sample's ^GSPC and ^IXIC, as of their last date.

For the LSTM and ARIMA: skill vs naive (1 - RMSE / RMSE of "tomorrow's return is 0"),
the correlation of forecast with outcome, and the Diebold-Mariano test against naive
(two-sided p; "worse" = significantly worse at 5%); the best possible skill of an AR(1)
with known phi, 1 - sqrt(1 - phi^2); wall time of each walk-forward (LSTM and baselines,
no fold cache). ``--previous`` adds the previous release's defaults (ten features,
2 x 64 LSTM with dropout 0.2, T = 60, patience 10, no shrinkage) on phi 0 and 0.3, seed 0.
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import quiet, sample_warehouse, save
from stock_pipeline.settings import INDICATOR_FEATURES

PHIS = (0.0, 0.1, 0.2, 0.3)
PREVIOUS_DEFAULTS = {
    "features": {
        "columns": INDICATOR_FEATURES,
        "window": 60,
    },
    "model": {
        "lstm_units": (64, 64),
        "dropout": 0.2,
        "patience": 10,
        "zero_init_output": False,
        "shrinkage": "none",
    },
}


def scores(frame) -> dict[str, object]:
    """Skill, correlation and DM against naive of each model in a walk-forward frame."""
    from stock_pipeline.evaluation.scoring import diebold_mariano

    actual = frame[frame["model"] == "naive"]["actual"].to_numpy()
    out: dict[str, object] = {"days": len(actual)}
    for model in ("lstm", "arima"):
        predicted = frame[frame["model"] == model]["predicted"].to_numpy()
        dm = diebold_mariano(predicted - actual, -actual)
        spread = float(np.std(predicted))
        out[model] = {
            "skill": 1 - math.sqrt(np.mean((predicted - actual) ** 2) / np.mean(actual**2)),
            "corr": float(np.corrcoef(predicted, actual)[0, 1]) if spread > 0 else 0.0,
            "dm_stat": dm.statistic,
            "dm_p": dm.pvalue,
            "worse": bool(dm.statistic > 0 and dm.pvalue < 0.05),
            "forecast_sd_bp": 1e4 * spread,
        }
    return out


def evaluate(table, settings) -> dict[str, object]:
    from stock_pipeline.evaluation.walk_forward import walk_forward

    started = time.perf_counter()
    result = walk_forward(table, len(table) - 1, settings, None)
    return {**scores(result.predictions), "seconds": time.perf_counter() - started}


def ar_series(phi: float, seed: int, sessions: int, settings):
    from stock_pipeline_tests.support.synthetic import (
        ar_returns,
        feature_table_of,
        synthetic_bars,
    )

    returns = ar_returns(sessions, phi, seed=1000 + seed)
    bars = synthetic_bars(sessions, seed=seed, start=_start(sessions), returns=returns)
    return feature_table_of(f"AR{phi}", bars, settings)


def _start(sessions: int):
    import datetime as dt

    # end near 2018-12-31 whatever the length (~252 sessions a year)
    return dt.date(2019, 1, 2) - dt.timedelta(days=round(sessions * 365.25 / 252))


def run(seeds: int, sessions: int, span: int, previous: bool) -> dict[str, object]:
    from stock_pipeline.settings import Settings

    rows: list[dict[str, object]] = []
    default = Settings(evaluation={"span_sessions": span})
    for phi in PHIS:
        for seed in range(seeds):
            row = evaluate(ar_series(phi, seed, sessions, default), default)
            rows.append({"series": f"AR(1) phi={phi}", "seed": seed, "config": "default", **row})
            print(_line(rows[-1]), flush=True)
    if previous:
        old = default.with_changes(**PREVIOUS_DEFAULTS)
        for phi in (0.0, 0.3):
            row = evaluate(ar_series(phi, 0, sessions, old), old)
            rows.append({"series": f"AR(1) phi={phi}", "seed": 0, "config": "previous", **row})
            print(_line(rows[-1]), flush=True)
    for ticker in ("^GSPC", "^IXIC"):
        with tempfile.TemporaryDirectory() as folder:
            settings, table = sample_warehouse(Path(folder), ticker)
            settings = settings.with_changes(evaluation={"span_sessions": span})
            rows.append({"series": ticker, "seed": None, "config": "default"})
            rows[-1].update(evaluate(table, settings))
            print(_line(rows[-1]), flush=True)
    return {"sessions": sessions, "span": span, "rows": rows, "summary": summary(rows)}


def summary(rows: list[dict]) -> list[dict[str, object]]:
    """Per series and configuration: medians over seeds, counts of significant results."""
    out = []
    for key in dict.fromkeys((r["series"], r["config"]) for r in rows):
        group = [r for r in rows if (r["series"], r["config"]) == key]
        phi = float(key[0].split("=")[1]) if key[0].startswith("AR") else None

        def med(model: str, field: str, g=group) -> float:
            return statistics.median(r[model][field] for r in g)

        out.append(
            {
                "series": key[0],
                "config": key[1],
                "runs": len(group),
                "best_possible_skill": 1 - math.sqrt(1 - phi**2) if phi is not None else None,
                "lstm_skill": med("lstm", "skill"),
                "lstm_corr": med("lstm", "corr"),
                "lstm_dm_p": med("lstm", "dm_p"),
                "lstm_better_p01": sum(
                    r["lstm"]["dm_stat"] < 0 and r["lstm"]["dm_p"] < 0.01 for r in group
                ),
                "lstm_worse_p05": sum(r["lstm"]["worse"] for r in group),
                "arima_skill": med("arima", "skill"),
                "arima_corr": med("arima", "corr"),
                "arima_dm_p": med("arima", "dm_p"),
                "lstm_over_arima_skill": statistics.median(
                    r["lstm"]["skill"] / r["arima"]["skill"] if r["arima"]["skill"] else math.nan
                    for r in group
                ),
                "seconds": statistics.median(r["seconds"] for r in group),
            }
        )
    return out


def _line(row: dict) -> str:
    lstm, arima = row["lstm"], row["arima"]
    return (
        f"{row['series']:<16} seed {row['seed']} {row['config']:<8} "
        f"LSTM skill {lstm['skill']:+.4f} corr {lstm['corr']:+.3f} p {lstm['dm_p']:.2g} | "
        f"ARIMA skill {arima['skill']:+.4f} corr {arima['corr']:+.3f} p {arima['dm_p']:.2g} | "
        f"{row['seconds']:.0f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--sessions", type=int, default=2265)
    parser.add_argument("--span", type=int, default=756)
    parser.add_argument("--previous", action="store_true")
    args = parser.parse_args()
    quiet()
    save("signal", run(args.seeds, args.sessions, args.span, args.previous))


if __name__ == "__main__":
    main()
