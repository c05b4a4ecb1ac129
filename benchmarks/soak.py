"""Soak: N nights of a T-ticker watchlist through the CLI, fault-free and with faults.

    python -m benchmarks.soak [--nights 30] [--tickers 20] [--seed 24] [--history-days 200]

Each pass is a deployment of its own (a SQLite DAGSTER_HOME, a DuckDB warehouse file, a
folder of synthetic csv files as ``benchmarks.nightly`` builds them). The history before
the first night is stored by one ``stock-pipeline materialize --select raw_ohlcv,indicators``;
then each night the csv files gain that session's bar and ``stock-pipeline materialize
--start NIGHT --end NIGHT`` (the data assets and the whole per-ticker model chain as of the
night) runs in a real subprocess. The fault-free pass runs every night once. The faulty
pass injects, on nights drawn by a seeded ``random.Random`` (the seed is printed), one of:

- kill_run: kill -9 of the night's command (its process group) after a random share of
  its fault-free wall time; then the same command again must sweep the dead run and heal;
- two_at_once: the night's command twice, started together;
- source_outage: a quarter of the tickers' csv files made unreadable (a folder in the
  file's place) or removed for the night, then restored; the CLI's own "re-run only them"
  line is the recovery;
- corrupt_file: a garbage line appended to one csv for the night, then removed (the
  CLI's re-run line again).

A fault's recovery time runs from the fault (the kill, the start of the command that meets
it) to the end of the first command that exits 0 afterwards. Killing the daemon
(``dagster-daemon run``) is left out: the CLI runs its jobs in its own process, so a
daemon's kill is a kill of a run worker, which the sweep of dead runs treats the same way
(and the daemon's tests cover it); a soak through the daemon's queue would add minutes of
polling a night.

At the end every warehouse table of the two passes is compared row by row (sorted, the
``*_at`` columns that record when a row was stored left out). No table is excluded: the
faults leave no trace in the warehouse (a refused file or row is reported by the CLI and
in the run's metadata, not stored; no fault revises a stored bar, so ``price_revisions``
and ``price_corrections`` stay empty in both). A report's path is compared relative to
its pass's folder.

The model chain is kept cheap by the product's own settings (a config file): a network of
4 units trained for 2 epochs, a walk-forward span of one fold (21 sessions), only the
configured kind in ``model_comparison``, 100 bootstrap replications and a short history
(``--history-days``, 200 sessions: enough for the indicators' warm-up and the 60 training
windows a fit needs). That changes how good the forecasts are, not which code runs: every
night still trains, evaluates, compares and backtests through the same assets, and a
fault still meets a run in any of them. The point is faults and recovery, not model quality.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import subprocess
import tempfile
from pathlib import Path

import duckdb
import pandas as pd

from benchmarks import soak_faults
from benchmarks.common import quiet, save
from benchmarks.nightly import ticker_names

HISTORY_START = dt.date(2017, 1, 3)
EXCLUDED_TABLES: dict[str, str] = {}  # none: see the docstring
CONFIG = """\
model: {units: [4], epochs: 2, patience: 1, min_train_samples: 60, retrain_every: 21}
evaluation: {span_sessions: 21, compare_kinds: [lstm], bootstrap_reps: 100}
"""


def deployment(folder: Path, first_night: dt.date) -> dict[str, str]:
    (folder / "config.yaml").parent.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(CONFIG)
    return {
        "STOCK_PIPELINE_DATA_DIR": str(folder / "data"),
        "DAGSTER_HOME": str(folder / "dagster_home"),
        "STOCK_PIPELINE_SOURCE": "csv",
        "STOCK_PIPELINE_CSV_DIR": str(folder / "csv"),
        "STOCK_PIPELINE_CONFIG": str(folder / "config.yaml"),
        "STOCK_PIPELINE_START": first_night.isoformat(),
        "STOCK_PIPELINE_HISTORY_START": HISTORY_START.replace(month=1, day=1).isoformat(),
        "STOCK_PIPELINE_WATCHLIST": str(folder / "no-watchlist.yaml"),
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }


def write_bars(csv_dir: Path, bars: dict[str, pd.DataFrame], through: int) -> None:
    """Each ticker's file as the source serves it on a night: the bars through ``through``."""
    from stock_pipeline_tests.support.synthetic import write_csv

    for ticker, frame in bars.items():
        write_csv(csv_dir, ticker, frame.iloc[: through + 1])


def night_args(tickers: list[str], start: dt.date, end: dt.date, select: str = "*") -> list:
    dates = ["--start", str(start), "--end", str(end)]
    return ["materialize", "--tickers", ",".join(tickers), *dates, "--select", select, "-q"]


def fault_plan(nights: list[dt.date], rng: random.Random, rate: float) -> dict[dt.date, str]:
    """Which night meets which fault: ``rate`` of the nights, the kinds in turn, shuffled."""
    hit = sorted(rng.sample(nights, max(1, round(rate * len(nights)))))
    kinds = [soak_faults.KINDS[i % len(soak_faults.KINDS)] for i in range(len(hit))]
    rng.shuffle(kinds)
    return dict(zip(hit, kinds, strict=True))


def run_pass(folder: Path, bars, days, history: int, plan, rng, clean_walls) -> tuple:
    """The first ``history`` sessions, then each night after them (with its fault, if
    ``plan`` names one); returns each night's wall time and the faults."""
    tickers, nights = list(bars), days[history:]
    env = deployment(folder, nights[0])
    csv_dir = Path(env["STOCK_PIPELINE_CSV_DIR"])
    write_bars(csv_dir, bars, history - 1)
    setup = night_args(tickers, days[0], days[history - 1], "raw_ohlcv,indicators")
    first = soak_faults.run(setup, env)
    assert first.rc == 0, first.output
    walls, faults = [], []
    for i, night in enumerate(nights):
        write_bars(csv_dir, bars, history + i)
        args = night_args(tickers, night, night)
        kind = plan.get(night)
        if kind is None:
            command = soak_faults.run(args, env)
            assert command.rc == 0, f"{night}: a fault-free night failed\n{command.output}"
            walls.append(command.wall_s)
        else:
            fault = soak_faults.Fault(night.isoformat(), kind, "")
            inject = getattr(soak_faults, kind)
            extra = (csv_dir,) if kind in ("source_outage", "corrupt_file") else ()
            inject(args, env, rng, fault, clean_walls[i], *extra)
            faults.append(fault)
            walls.append(sum(c.wall_s for c in fault.commands))
        print(f"  {folder.name} {night}: {kind or 'no fault'}, {walls[-1]:.1f} s", flush=True)
    return walls, faults


def warehouse_rows(folder: Path) -> dict[str, pd.DataFrame]:
    """Every table's rows, sorted, without the ``*_at`` columns (when a row was stored);
    paths (a report's) are read relative to the pass's folder."""
    with duckdb.connect(str(folder / "data" / "warehouse.duckdb"), read_only=True) as con:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        out = {}
        for table in sorted(set(tables) - set(EXCLUDED_TABLES)):
            columns = con.execute(f'DESCRIBE "{table}"').fetchall()
            kept = ", ".join(f'"{c[0]}"' for c in columns if not c[0].endswith("_at"))
            rows = con.execute(f'SELECT {kept} FROM "{table}" ORDER BY ALL').df()
            for name in (c[0] for c in columns if c[1] == "VARCHAR"):
                rows[name] = rows[name].str.replace(str(folder), "<pass>", regex=False)
            out[table] = rows
    return out


def compare(clean: Path, faulty: Path) -> dict[str, dict]:
    """Per table: its row count in each pass and whether the rows are equal."""
    a, b = warehouse_rows(clean), warehouse_rows(faulty)
    out = {}
    for table in sorted(a.keys() | b.keys()):
        left, right = a.get(table), b.get(table)
        equal = left is not None and right is not None and left.equals(right)
        rows = [len(t) if t is not None else None for t in (left, right)]
        out[table] = {"rows_fault_free": rows[0], "rows_faulty": rows[1], "equal": equal}
        if not equal and rows[0] == rows[1] and rows[0]:  # which columns differ, to read
            differ = [c for c in left.columns if not left[c].equals(right.get(c))]
            out[table]["columns_differing"] = differ
    return out


def table(faults: list[soak_faults.Fault]) -> str:
    lines = ["| night | fault | detail | commands (exit codes) | recovery (s) |", "|---" * 5 + "|"]
    for f in faults:
        codes = ", ".join(str(c.rc) for c in f.commands)
        lines.append(f"| {f.night} | {f.kind} | {f.detail} | {codes} | {f.recovery_s:.1f} |")
    return "\n".join(lines)


def main() -> None:
    quiet()
    parser = argparse.ArgumentParser()
    parser.add_argument("--nights", type=int, default=30)
    parser.add_argument("--tickers", type=int, default=20)
    parser.add_argument("--seed", type=int, default=24)
    parser.add_argument("--history-days", type=int, default=200)
    parser.add_argument("--fault-rate", type=float, default=0.4, help="share of faulty nights")
    args = parser.parse_args()
    from stock_pipeline.market_data.calendar import trading_days
    from stock_pipeline_tests.support.synthetic import synthetic_bars

    print(f"seed {args.seed}", flush=True)
    rng = random.Random(args.seed)
    n = args.history_days + args.nights
    bars = {
        t: synthetic_bars(n, seed=100 + i, start=HISTORY_START)
        for i, t in enumerate(ticker_names(args.tickers))
    }
    days = [d.date() for d in bars[next(iter(bars))]["date"]]
    assert days == trading_days(days[0], days[-1]), "the bars are not on NYSE sessions"
    plan = fault_plan(days[args.history_days :], rng, args.fault_rate)
    with tempfile.TemporaryDirectory() as tmp:
        clean, faulty = Path(tmp) / "fault_free", Path(tmp) / "faulty"
        clean_walls, _ = run_pass(clean, bars, days, args.history_days, {}, rng, None)
        faulty_walls, faults = run_pass(
            faulty, bars, days, args.history_days, plan, rng, clean_walls
        )
        tables = compare(clean, faulty)
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(table(faults))
    unequal = [t for t, c in tables.items() if not c["equal"]]
    print(f"{len(tables)} tables compared; unequal: {unequal or 'none'}; load: {uptime}")
    save("soak", {
        "date": dt.date.today().isoformat(), "seed": args.seed, "nights": args.nights,
        "tickers": args.tickers, "history_days": args.history_days,
        "fault_rate": args.fault_rate, "settings": CONFIG, "uptime_after": uptime,
        "fault_free_night_s": [round(w, 1) for w in clean_walls],
        "faulty_night_s": [round(w, 1) for w in faulty_walls],
        "faults": [
            {"night": f.night, "kind": f.kind, "detail": f.detail,
             "recovery_s": round(f.recovery_s, 1), "exit_codes": [c.rc for c in f.commands],
             "cli_said": f.said()}
            for f in faults
        ],
        "excluded_tables": EXCLUDED_TABLES, "tables": tables, "warehouses_equal": not unequal,
    })  # fmt: skip
    assert not unequal, f"the faulty pass's warehouse differs from the fault-free one: {unequal}"


if __name__ == "__main__":
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    main()
