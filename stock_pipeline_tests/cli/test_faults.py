"""Faults a nightly pipeline meets, in real processes: a CLI run killed with SIGKILL while
its step holds the warehouse's pool slot, and a wait for that slot that must end."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pandas as pd
import psutil
import pytest
import yaml
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus

import stock_pipeline
from stock_pipeline.cli.instance import open_instance
from stock_pipeline.cli.main import main
from stock_pipeline.defs.asset_bodies import DUCKDB_POOL
from stock_pipeline.defs.run_health import OWNER_TAG
from stock_pipeline.settings import Settings
from stock_pipeline_tests.support.synthetic import synthetic_bars, write_csv

RUN_CLI = """
import sys
from stock_pipeline.cli.main import main
sys.exit(main(sys.argv[1:]))
"""

TICKERS = ("AAA", "BBB")
BARS = {t: synthetic_bars(40, seed=i) for i, t in enumerate(TICKERS)}
FIRST, LAST = (BARS["AAA"]["date"].iloc[i].date().isoformat() for i in (0, -1))
COMMAND = [
    "materialize",
    "--tickers",
    ",".join(TICKERS),
    "--start",
    FIRST,
    "--end",
    LAST,
    "--select",
    "raw_ohlcv,indicators",
    "--quiet",
]


@pytest.fixture
def deployment(tmp_path, monkeypatch) -> dict[str, str]:
    """A csv-sourced deployment's environment (this process's, too)."""
    csv_dir = tmp_path / "csv"
    csv_dir.mkdir()
    env = {
        "STOCK_PIPELINE_DATA_DIR": str(tmp_path / "data"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "STOCK_PIPELINE_SOURCE": "csv",
        "STOCK_PIPELINE_CSV_DIR": str(csv_dir),
        "STOCK_PIPELINE_WATCHLIST": str(tmp_path / "no-watchlist.yaml"),
    }
    for name in ("STOCK_PIPELINE_WAREHOUSE", "STOCK_PIPELINE_START", "STOCK_PIPELINE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def start_cli():
    """Starts the CLI in a process of its own; one left running (a failed test) is killed."""
    started: list[subprocess.Popen] = []

    def start(env: dict[str, str], args: list[str] = COMMAND) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-c", RUN_CLI, *args],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait_for(condition, what: str, timeout_s: float = 120.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout_s} s: {what}")


def slot_holders(instance: DagsterInstance) -> list[tuple[str, str]]:
    info = instance.event_log_storage.get_concurrency_info(DUCKDB_POOL)
    return [(s.run_id, s.step_key) for s in info.claimed_slots]


def waiting_runs(instance: DagsterInstance) -> list[str]:
    info = instance.event_log_storage.get_concurrency_info(DUCKDB_POOL)
    return [s.run_id for s in info.pending_steps if s.assigned_timestamp is None]


def warehouse_tables(path: Path) -> dict[str, pd.DataFrame]:
    """Every table's rows in a fixed order, without the columns that record when a row was
    stored (they differ between any two runs)."""
    with duckdb.connect(str(path), read_only=True) as con:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        out = {}
        for table in tables:
            columns = [
                r[0]
                for r in con.execute(f"DESCRIBE {table}").fetchall()
                if not r[0].endswith("_at")
            ]
            names = ", ".join(f'"{c}"' for c in columns)
            out[table] = con.execute(f"SELECT {names} FROM {table} ORDER BY ALL").df()
    return out


def test_a_run_killed_mid_step_does_not_hang_the_next(
    deployment, start_cli, tmp_path, monkeypatch
) -> None:
    csv_dir = Path(deployment["STOCK_PIPELINE_CSV_DIR"])
    write_csv(csv_dir, "AAA", BARS["AAA"])
    # BBB.csv is a pipe with no writer: raw_ohlcv blocks reading it, holding its pool slot
    # (and the warehouse open for writing) until it is killed
    os.mkfifo(csv_dir / "BBB.csv")
    instance = open_instance(Settings.from_env())
    killed = start_cli(deployment)
    try:
        (dead_run, step), *_ = wait_for(lambda: slot_holders(instance), "raw_ohlcv's slot")
        assert step == "raw_ohlcv"
        assert instance.get_run_by_id(dead_run).status == DagsterRunStatus.STARTED
        killed.send_signal(signal.SIGKILL)
    finally:
        killed.wait(timeout=60)
    (csv_dir / "BBB.csv").unlink()
    write_csv(csv_dir, "BBB", BARS["BBB"])

    started = time.monotonic()
    rerun = subprocess.run(
        [sys.executable, "-c", RUN_CLI, *COMMAND],
        env={**os.environ, **deployment},
        capture_output=True,
        text=True,
        timeout=240,  # a hang fails the test here
    )
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"run {dead_run[:8]}" in rerun.stderr and "marked failed" in rerun.stderr
    assert time.monotonic() - started < 240
    assert instance.get_run_by_id(dead_run).status == DagsterRunStatus.FAILURE
    assert slot_holders(instance) == [] and waiting_runs(instance) == []

    # the same command on a fresh deployment, never interrupted
    reference = tmp_path / "reference"
    monkeypatch.setenv("STOCK_PIPELINE_DATA_DIR", str(reference / "data"))
    monkeypatch.setenv("DAGSTER_HOME", str(reference / "dagster_home"))
    assert main(COMMAND) == 0
    healed = warehouse_tables(Path(deployment["STOCK_PIPELINE_DATA_DIR"]) / "warehouse.duckdb")
    expected = warehouse_tables(reference / "data" / "warehouse.duckdb")
    assert healed.keys() == expected.keys() and len(expected["indicators"]) > 0
    for table, rows in expected.items():
        pd.testing.assert_frame_equal(healed[table], rows, obj=table)


def test_a_wait_for_a_slot_ends_at_its_bound_at_sigterm_or_when_its_holder_dies(
    deployment, start_cli, tmp_path, monkeypatch, capsys
) -> None:
    for ticker in TICKERS:
        write_csv(Path(deployment["STOCK_PIPELINE_CSV_DIR"]), ticker, BARS[ticker])
    instance = open_instance(Settings.from_env())
    storage = instance.event_log_storage
    storage.initialize_concurrency_limit_to_default(DUCKDB_POOL)
    # a writer that is alive and not ours (a run of the daemon, say) holds the only slot
    assert storage.claim_concurrency_slot(DUCKDB_POOL, "holder-run-id", "raw_ohlcv").is_claimed

    with_bound(tmp_path, monkeypatch, 2)
    started = time.monotonic()
    assert main(COMMAND) == 1  # in this process: the bound needs no process of its own
    err = capsys.readouterr().err
    assert "waited" in err and "slot_wait_timeout_s = 2" in err and "holder-r" in err
    assert time.monotonic() - started < 60

    monkeypatch.delenv("STOCK_PIPELINE_CONFIG")
    stopped = start_cli(deployment)  # the default bound, far away
    (waiting,) = wait_for(lambda: waiting_runs(instance), "the run to wait for the slot")
    sent = time.monotonic()
    stopped.send_signal(signal.SIGTERM)
    out, err = stopped.communicate(timeout=60)
    assert time.monotonic() - sent < 15, "SIGTERM was not honoured promptly"
    assert stopped.returncode == 128 + signal.SIGTERM, out + err
    assert "stopped by SIGTERM" in err and "Traceback" not in err

    runs = instance.get_runs()
    assert [r.status for r in runs] == [DagsterRunStatus.FAILURE] * 2
    assert waiting in {r.run_id for r in runs}
    # neither took the slot from its holder, and neither is left waiting for it
    assert slot_holders(instance) == [("holder-run-id", "raw_ohlcv")]
    assert waiting_runs(instance) == []

    # now the holder is a CLI run whose process dies while a command waits for its slot
    storage.free_concurrency_slots_for_run("holder-run-id")
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    holder_run = started_run_of(instance, holder.pid)
    killer = threading.Thread(target=kill_once_waiting, args=(instance, holder))
    killer.start()
    with_bound(tmp_path, monkeypatch, 90)  # should the kill not come, the wait still ends
    try:
        code = main(COMMAND)
    finally:
        killer.join()
    assert code == 0, capsys.readouterr()
    assert f"run {holder_run[:8]}" in capsys.readouterr().err
    assert instance.get_run_by_id(holder_run).status == DagsterRunStatus.FAILURE
    assert slot_holders(instance) == [] and waiting_runs(instance) == []


def with_bound(tmp_path: Path, monkeypatch, seconds: float) -> None:
    config = tmp_path / f"bound-{seconds}.yaml"
    config.write_text(f"automation:\n  slot_wait_timeout_s: {seconds}\n")
    monkeypatch.setenv("STOCK_PIPELINE_CONFIG", str(config))


def kill_once_waiting(instance: DagsterInstance, holder: subprocess.Popen) -> None:
    try:
        wait_for(lambda: waiting_runs(instance), "the run to wait for the dying run's slot", 60)
    finally:
        holder.kill()
        holder.wait()


def started_run_of(instance: DagsterInstance, pid: int) -> str:
    """A run in progress of the process ``pid`` (as the CLI tags it), holding the slot."""
    owner = {"host": socket.gethostname(), "pid": pid, "started": psutil.Process(pid).create_time()}
    run = DagsterRun(
        "__ASSET_JOB", status=DagsterRunStatus.STARTED, tags={OWNER_TAG: json.dumps(owner)}
    )
    instance.add_run(run)
    claim = instance.event_log_storage.claim_concurrency_slot(DUCKDB_POOL, run.run_id, "raw_ohlcv")
    assert claim.is_claimed
    return run.run_id


def test_both_instance_profiles_monitor_runs_and_free_the_slots_of_ended_ones(tmp_path) -> None:
    bundled = Path(stock_pipeline.__file__).parent / "dagster.yaml"
    shutil.copyfile(bundled, tmp_path / "dagster.yaml")
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.run_monitoring_enabled and "MONITORING" in (
            instance.get_required_daemon_types()
        )
        assert instance.run_monitoring_max_resume_run_attempts == 0  # nothing resumes runs
        assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] > 0
    postgres = yaml.safe_load((bundled.parent.parent / "dagster-postgres.yaml").read_text())
    assert postgres["run_monitoring"] == yaml.safe_load(bundled.read_text())["run_monitoring"]
