"""A universe of 50, 200 and 500 synthetic tickers, 10 years each, on the embedded instance.

    python -m benchmarks.universe [--tickers 50 200 500] [--years 10] [--repeats 3]

For each size, in a fresh folder: csv files of N synthetic tickers (NYSE sessions of the
``--years`` ending END), a SQLite DAGSTER_HOME and a DuckDB warehouse, a real
``dagster-webserver`` and ``dagster-daemon`` on loopback (``running_stack``). Measured:

- ``register_and_backfill_s``: ``stock-pipeline add-ticker`` with all N symbols, until the
  data run(s) it queued for the daemon (``raw_ohlcv`` + ``indicators`` over the ten year
  partitions of all N: one ranged run) have finished; the run's own start-to-end time
  is reported alongside. The sensor that would then start the model chain for all N is
  stopped first: the chain's cost is the nightly's (``benchmarks.nightly``).
- ``partition_status_s``: per asset, the webserver's GraphQL answer for what an asset
  page loads (partition keys per dimension, partition stats, partition statuses).
- ``code_location_load_s``: the ``reloadRepositoryLocation`` mutation (the UI's "Reload").
- ``schedule_tick_s`` / ``sensor_tick_s``: ``scheduleDryRun`` of ``nightly_refresh`` for
  the evening after END and ``sensorDryRun`` of ``watchlist_sensor`` with a watchlist of
  all N and one new ticker: the same evaluation the daemon runs, through the code server.
- ``nightly_data_s``: the data run the schedule requests for that evening (one new bar
  per ticker), executed as the daemon's run worker does (``dagster job execute`` in a new
  process, timed asset bodies: ``benchmarks.timed_run_worker``).
- ``retrains_per_night``: how many tickers open a new fold (train from scratch) on each
  night of the ``retrain_every`` cycle, from the product's stagger offsets.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

from benchmarks.common import quiet, save, summarize, timed, timed_run

END = dt.date(2025, 12, 31)
LOCATION = {"repositoryLocationName": "stock_pipeline", "repositoryName": "__repository__"}
STATUS_QUERY = """query($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) { ... on AssetNode {
    partitionKeysByDimension { name partitionKeys }
    partitionStats { numMaterialized numPartitions numFailed numMaterializing }
    assetPartitionStatuses { __typename
      ... on MultiPartitionStatuses { primaryDimensionName
        ranges { primaryDimStartKey primaryDimEndKey } } } } } }"""


def ticker_names(count: int) -> list[str]:
    return [f"U{i:03d}" for i in range(count)]


def write_universe(folder: Path, tickers: list[str], years: int) -> list[dt.date]:
    from stock_pipeline.market_data.calendar import trading_days
    from stock_pipeline_tests.support.synthetic import synthetic_bars, write_csv

    days = trading_days(dt.date(END.year - years + 1, 1, 1), END)
    for i, ticker in enumerate(tickers):
        write_csv(folder / "csv", ticker, synthetic_bars(len(days), seed=1000 + i, start=days[0]))
    return days


def environment(folder: Path, first: dt.date) -> dict[str, str]:
    return {
        "STOCK_PIPELINE_DATA_DIR": str(folder / "data"),
        "STOCK_PIPELINE_SOURCE": "csv",
        "STOCK_PIPELINE_CSV_DIR": str(folder / "csv"),
        "STOCK_PIPELINE_HISTORY_START": first.isoformat(),
        "STOCK_PIPELINE_WATCHLIST": str(folder / "watchlist.yaml"),
    }


def stop_sensor(stack, name: str) -> None:
    sensor = stack.graphql(
        "query($s: SensorSelector!) { sensorOrError(sensorSelector: $s) {"
        " ... on Sensor { sensorState { id selectorId } } } }",
        {"s": {**LOCATION, "sensorName": name}},
    )["sensorOrError"]["sensorState"]
    stack.graphql(
        "mutation($id: String, $sel: String) { stopSensor(id: $id, jobSelectorId: $sel) {"
        " __typename } }",
        {"id": sensor["id"], "sel": sensor["selectorId"]},
    )


def register_and_backfill(stack, tickers: list[str], first: dt.date) -> dict:
    start = time.perf_counter()
    added = stack.cli("add-ticker", *tickers, "--start", first.isoformat(), timeout=1800)
    assert added.returncode == 0, added.stderr
    submitted = time.perf_counter() - start
    while not (runs := finished_data_runs(stack)):
        time.sleep(1)
    end_to_end = time.perf_counter() - start
    assert all(r["status"] == "SUCCESS" for r in runs), runs
    return {
        "add_ticker_command_s": round(submitted, 3),
        "end_to_end_s": round(end_to_end, 3),
        "data_runs": len(runs),
        "data_run_s": [round(r["endTime"] - r["startTime"], 3) for r in runs],
    }


def finished_data_runs(stack) -> list[dict] | None:
    """The data runs ``add-ticker`` queued, once every one has finished (else None)."""
    runs = stack.graphql(
        '{ runsOrError(filter: {pipelineName: "market_data_job"}) { ... on Runs {'
        " results { status startTime endTime } } } }"
    )["runsOrError"]["results"]
    done = runs and all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in runs)
    return runs if done else None


def partition_status_times(stack, repeats: int) -> dict:
    from stock_pipeline.defs.asset_bodies import CHAIN_ASSETS, DATA_ASSETS

    out = {}
    for name in (*DATA_ASSETS, *CHAIN_ASSETS):
        variables = {"key": {"path": [name]}}
        samples = [
            timed(lambda v=variables: stack.graphql(STATUS_QUERY, v, timeout=300))
            for _ in range(repeats)
        ]
        out[name] = summarize(samples)
    return out


def reload_times(stack, repeats: int) -> dict:
    def reload() -> None:
        result = stack.graphql(
            'mutation { reloadRepositoryLocation(repositoryLocationName: "stock_pipeline") {'
            " __typename ... on WorkspaceLocationEntry { locationOrLoadError { __typename } } } }",
            timeout=300,
        )["reloadRepositoryLocation"]
        assert result["locationOrLoadError"]["__typename"] == "RepositoryLocation", result

    return summarize([timed(reload) for _ in range(repeats)])


def dry_runs(stack, folder: Path, tickers: list[str], repeats: int) -> dict:
    from stock_pipeline.market_data.calendar import trading_days
    from stock_pipeline_tests.support.synthetic import synthetic_bars, write_csv

    night = trading_days(END + dt.timedelta(days=1), END + dt.timedelta(days=10))[0]
    evening = dt.datetime.combine(night, dt.time(18, 30), ZoneInfo("America/New_York"))
    new = "UNEW"
    write_csv(folder / "csv", new, synthetic_bars(300, seed=7, start=END - dt.timedelta(days=500)))
    lines = ["tickers:"] + [f"  - ticker: {t}" for t in [*tickers, new]]
    (folder / "watchlist.yaml").write_text("\n".join(lines) + "\n")
    tick = {}

    def schedule() -> None:
        result = stack.graphql(
            "mutation($s: ScheduleSelector!, $t: Float) { scheduleDryRun(selectorData: $s,"
            " timestamp: $t) { __typename ... on DryRunInstigationTick { evaluationResult {"
            " runRequests { tags { key value } } skipReason error { message } } } } }",
            {"s": {**LOCATION, "scheduleName": "nightly_refresh"}, "t": evening.timestamp()},
            timeout=300,
        )["scheduleDryRun"]["evaluationResult"]
        assert result["runRequests"], result
        tick["schedule"] = [
            {t["key"]: t["value"] for t in r["tags"]} for r in result["runRequests"]
        ]

    def sensor() -> None:
        result = stack.graphql(
            "mutation($s: SensorSelector!) { sensorDryRun(selectorData: $s, cursor: null) {"
            " __typename ... on PythonError { message } ... on DryRunInstigationTick {"
            " evaluationResult { runRequests { runKey } skipReason"
            " error { message cause { message stack } } } } } }",
            {"s": {**LOCATION, "sensorName": "watchlist_sensor"}},
            timeout=300,
        )["sensorDryRun"]["evaluationResult"]
        assert result["runRequests"], result
        tick["sensor_requests"] = len(result["runRequests"])

    return {
        "schedule_tick_s": summarize([timed(schedule) for _ in range(repeats)]),
        "sensor_tick_s": summarize([timed(sensor) for _ in range(repeats)]),
        "night": night,
        "requests": tick["schedule"],
        "sensor_requests": tick["sensor_requests"],
    }


def nightly_data_run(stack, folder: Path, tickers: list[str], night, requests) -> dict:
    """One more bar per ticker on file, then the schedule's data runs for the night."""
    import pandas as pd

    for ticker in tickers:
        path = folder / "csv" / f"{ticker}.csv"
        bars = pd.read_csv(path)
        last = bars.iloc[[-1]].copy()
        last["Date"] = night.isoformat()
        pd.concat([bars, last]).to_csv(path, index=False)
    runs = []
    for i, tags in enumerate(requests):
        accounting = folder / f"nightly{i}.json"
        runs.append(timed_run(accounting, "market_data_job", tags, env=stack.env))
    wall = sum(r["wall_s"] for r in runs)
    code = sum(r["asset_code_s"] for r in runs)
    return {
        "runs": len(runs),
        "wall_s": round(wall, 3),
        "asset_code_s": round(code, 3),
        "overhead_share": round((wall - code) / wall, 3),
    }


def retrains_per_night(tickers: list[str]) -> dict:
    from stock_pipeline.forecasting.folds import ticker_offset
    from stock_pipeline.settings import Settings

    settings = Settings()
    cycle = settings.model.retrain_every
    counts = Counter(ticker_offset(t, settings) for t in tickers)
    per_night = [counts.get(r, 0) for r in range(cycle)]
    return {
        "cycle_sessions": cycle,
        "max": max(per_night),
        "mean": round(statistics.mean(per_night), 2),
        "per_night": per_night,
    }


def measure(size: int, years: int, repeats: int) -> dict:
    from stock_pipeline_tests.support.e2e_stack import running_stack

    tickers = ticker_names(size)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        days = write_universe(folder, tickers, years)
        (folder / "watchlist.yaml").write_text("tickers: []\n")
        env = environment(folder, days[0])
        with running_stack(folder, env, days[0], days[-1], daemon=False) as stack:
            stop_sensor(stack, "model_chain_after_data")
            stack.start_daemon()
            result = {"tickers": size, "sessions": len(days), "years": years}
            result["register_and_backfill"] = register_and_backfill(stack, tickers, days[0])
            print(f"{size}: backfill {result['register_and_backfill']}", flush=True)
            result["partition_status_s"] = partition_status_times(stack, repeats)
            result["code_location_load_s"] = reload_times(stack, repeats)
            ticks = dry_runs(stack, folder, tickers, repeats)
            result["schedule_tick_s"] = ticks["schedule_tick_s"]
            result["sensor_tick_s"] = ticks["sensor_tick_s"]
            result["sensor_requests"] = ticks["sensor_requests"]
            stack.stop()  # the nightly runs below are the only writers
            result["nightly_data"] = nightly_data_run(
                stack, folder, tickers, ticks["night"], ticks["requests"]
            )
        result["retrains_per_night"] = retrains_per_night(tickers)
        print(json.dumps(result, default=str), flush=True)
        return result


def main() -> None:
    quiet()
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickers", type=int, nargs="+", default=[50, 200, 500])
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sizes = [measure(n, args.years, args.repeats) for n in args.tickers]
    save("universe", {"date": dt.date.today().isoformat(), "end": END.isoformat(), "sizes": sizes})


if __name__ == "__main__":
    main()
