"""Backtest and report cost for 20 years of daily out-of-sample forecasts of one ticker.

    python -m benchmarks.backtest [--repeats 5]

Data: ^GSPC 1999-2018 from the offline sample (bars and indicators in DuckDB).
The forecasts are synthetic so that the benchmark measures the backtest stage
alone: for every session with a next-day outcome, an LSTM forecast (the realized
return shrunk and blurred with noise) and the three baselines, in folds of 21
sessions, written to ``predictions``; ``evaluation_metrics`` comes from
``evaluation.metrics.score`` on them, so the report's per-fold table has its real size.

Figures: ``backtest_asof`` end to end (read from DuckDB, simulate the LSTM, naive
and buy-and-hold strategies, 14 metrics each, write ``backtest_daily`` and
``backtest_metrics``, render the report), and within it the report alone
(charts as PNG + the self-contained HTML).
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import quiet, sample_warehouse, save, summarize

TICKER = "^GSPC"


def prepare(folder: Path):
    from stock_pipeline.evaluation.metrics import score
    from stock_pipeline.warehouse import connect, results

    settings, table = sample_warehouse(folder, TICKER)
    last = table.dates[-1].astype(dt.date)
    rng = np.random.default_rng(0)
    origins = np.arange(settings.features.window, len(table) - 1)
    actual = np.log(table.adj_close[origins + 1] / table.adj_close[origins])
    forecasts = {
        "lstm": 0.1 * actual + rng.normal(0, 0.01, len(origins)),
        "naive": np.zeros(len(origins)),
        "drift": np.full(len(origins), actual.mean()),
        "arima": 0.05 * actual + rng.normal(0, 0.002, len(origins)),
    }
    import pandas as pd

    frame = pd.concat(
        [
            pd.DataFrame(
                {
                    "date": table.dates[origins].astype("datetime64[ns]"),
                    "target_date": table.dates[origins + 1].astype("datetime64[ns]"),
                    "fold": (origins - origins[0]) // settings.model.retrain_every,
                    "model": model,
                    "predicted": predicted,
                    "actual": actual,
                    "close": table.adj_close[origins],
                    "actual_price": table.adj_close[origins + 1],
                }
            )
            for model, predicted in forecasts.items()
        ],
        ignore_index=True,
    )
    metrics = score(frame, "return", 1).assign(ticker=TICKER, asof_date=last)
    metrics["fold"] = metrics["fold"].astype("Int64")
    predictions = frame[["date", "fold", "model", "predicted", "actual", "target_date"]].assign(
        ticker=TICKER, asof_date=last
    )
    predictions["date"] = predictions["date"].dt.date
    predictions["target_date"] = predictions["target_date"].dt.date
    with connect(settings.warehouse) as con:
        results.replace_evaluation(con, TICKER, last, predictions, metrics)
    return settings, last, len(origins), int(frame["fold"].max()) + 1


def main() -> None:
    quiet()
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from stock_pipeline.trading import trade as trading
    from stock_pipeline.warehouse import WarehouseFile

    report_seconds: list[float] = []
    render = trading.render_report

    def timed_render(*a, **k):
        start = time.perf_counter()
        try:
            return render(*a, **k)
        finally:
            report_seconds.append(time.perf_counter() - start)

    trading.render_report = timed_render
    total: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        settings, asof, days, folds = prepare(Path(tmp))
        for _ in range(args.repeats):
            start = time.perf_counter()
            run = trading.backtest_asof(WarehouseFile(settings.warehouse), TICKER, asof, settings)
            total.append(time.perf_counter() - start)
        html_kib = run.report_path.stat().st_size / 1024
    backtest_only = [t - r for t, r in zip(total, report_seconds, strict=True)]
    save(
        "backtest",
        {
            "date": dt.date.today().isoformat(),
            "ticker": TICKER,
            "forecast_days": days,
            "folds": folds,
            "backtest_asof_total_s": summarize(total),
            "backtest_without_report_s": summarize(backtest_only),
            "report_s": summarize(report_seconds),
            "report_html_kib": round(html_kib, 1),
        },
    )


if __name__ == "__main__":
    main()
