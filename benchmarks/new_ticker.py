"""From `stock-pipeline add-ticker` to a report visible in the UI, for 20 years of history.

    python -m benchmarks.new_ticker [--repeats 3] [--years 20]

Each repeat, in a fresh folder: one synthetic ticker's csv file (NYSE sessions of the
``--years`` ending END), a SQLite DAGSTER_HOME, a DuckDB warehouse, and a real
``dagster-webserver`` and ``dagster-daemon`` on loopback with the default settings
(``running_stack``). Timed from the command:

- ``data_backfill_s``: until the data run ``add-ticker`` queued (the data assets over
  every year of the history, one ranged run) has finished (includes the run queue's
  polling and the run's process start);
- ``report_visible_s``: until the webserver lists the ``backtest_report`` materialization
  of the latest session's partition, after the model chain the data run's success
  requested: the forecast, the walk-forward evaluation (from an empty fold cache) and the
  backtest with its report.

The figures of the two runs themselves (start to end, from Dagster's run records) are
reported alongside, so the daemon's polling latency can be read off.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

from benchmarks.common import quiet, save, summarize

END = dt.date(2025, 12, 31)
TICKER = "NEW"


def one_run(years: int) -> dict:
    from stock_pipeline.market_data.calendar import trading_days
    from stock_pipeline_tests.support.e2e_stack import running_stack
    from stock_pipeline_tests.support.synthetic import synthetic_bars, write_csv

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        days = trading_days(dt.date(END.year - years + 1, 1, 1), END)
        write_csv(folder / "csv", TICKER, synthetic_bars(len(days), seed=5, start=days[0]))
        (folder / "watchlist.yaml").write_text("tickers: []\n")
        env = {
            "STOCK_PIPELINE_DATA_DIR": str(folder / "data"),
            "STOCK_PIPELINE_SOURCE": "csv",
            "STOCK_PIPELINE_CSV_DIR": str(folder / "csv"),
            "STOCK_PIPELINE_HISTORY_START": days[0].isoformat(),
            "STOCK_PIPELINE_WATCHLIST": str(folder / "watchlist.yaml"),
        }
        with running_stack(folder, env, days[0], days[-1]) as stack:
            start = time.perf_counter()
            added = stack.cli("add-ticker", TICKER, "--start", days[0].isoformat())
            assert added.returncode == 0, added.stderr
            data_done = wait(stack, backfill_done, 600) - start
            report_done = wait(stack, lambda s: report_listed(s, END), 1800) - start
            wait(stack, chain_finished, 600)  # the summary after the report
            runs = run_durations(stack)
    return {
        "sessions": len(days),
        "data_backfill_s": round(data_done, 3),
        "report_visible_s": round(report_done, 3),
        "runs_s": runs,
    }


def wait(stack, done, limit: float) -> float:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if done(stack):
            return time.perf_counter()
        time.sleep(1)
    raise TimeoutError(f"not done in {limit} s; see {stack.root}/daemon.log")


def backfill_done(stack) -> bool:
    data = [r for r in _runs(stack) if r["pipelineName"] == "market_data_job"]
    status = data[0]["status"] if data else None
    assert status not in ("FAILURE", "CANCELED"), status
    return status == "SUCCESS"


def report_listed(stack, asof: dt.date) -> bool:
    mats = stack.graphql(
        'query($p: [String!]) { assetOrError(assetKey: {path: ["backtest_report"]}) {'
        " ... on Asset { assetMaterializations(partitions: $p) { partition } } } }",
        {"p": [f"{asof}|{TICKER}"]},
    )["assetOrError"]
    return bool(mats.get("assetMaterializations"))


def _runs(stack) -> list[dict]:
    return stack.graphql(
        "{ runsOrError { ... on Runs { results { pipelineName status startTime endTime } } } }"
    )["runsOrError"]["results"]


def chain_finished(stack) -> bool:
    chain = [r for r in _runs(stack) if r["pipelineName"] == "model_chain_job"]
    return bool(chain) and chain[0]["endTime"] is not None


def run_durations(stack) -> dict[str, float]:
    """Start to end of the queued data run and of the model-chain run."""
    runs = {r["pipelineName"]: r for r in _runs(stack)}
    names = {"data": "market_data_job", "chain": "model_chain_job"}
    assert all(runs[job]["status"] == "SUCCESS" for job in names.values()), runs
    return {k: round(runs[j]["endTime"] - runs[j]["startTime"], 3) for k, j in names.items()}


def main() -> None:
    quiet()
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--years", type=int, default=20)
    args = parser.parse_args()
    runs = []
    for _ in range(args.repeats):
        runs.append(one_run(args.years))
        print(runs[-1], flush=True)
    save(
        "new_ticker",
        {
            "date": dt.date.today().isoformat(),
            "sessions": runs[0]["sessions"],
            "data_backfill_s": summarize([r["data_backfill_s"] for r in runs]),
            "report_visible_s": summarize([r["report_visible_s"] for r in runs]),
            "data_run_s": summarize([r["runs_s"]["data"] for r in runs]),
            "model_chain_run_s": summarize([r["runs_s"]["chain"] for r in runs]),
        },
    )


if __name__ == "__main__":
    main()
