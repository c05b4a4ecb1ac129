"""The sweep of runs whose process is gone, against a real SQLite instance: a run of a
process that exited (named by the CLI's tag, or by the pid Dagster records for a daemon's
run) is failed and its slot freed; runs of live processes, of another host, or of no
known process are left alone."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid

import psutil
from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    build_sensor_context,
)

# what Dagster's executor records about its process; there is no public constructor
from dagster._core.events import EngineEventData

from stock_pipeline.defs.asset_bodies import DUCKDB_POOL
from stock_pipeline.defs.run_health import OWNER_TAG, dead_run_sensor, owner_tags

POOL_LIMIT = 7  # one slot per run below


def exited_process() -> tuple[int, float]:
    """The pid and start time of a process that has since exited."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    started = psutil.Process(child.pid).create_time()
    child.kill()
    child.wait()
    return child.pid, started


def owned_by(host: str, pid: int, started: float) -> dict[str, str]:
    return {OWNER_TAG: json.dumps({"host": host, "pid": pid, "started": started})}


def executed_by(instance: DagsterInstance, run_id: str, pid: int) -> None:
    """What Dagster's executor records in a run it executes (the daemon's runs too)."""
    run = instance.get_run_by_id(run_id)
    data = EngineEventData.in_process(pid)
    instance.report_engine_event(f"Executing steps in process (pid: {pid})", run, data)


def started_run(instance: DagsterInstance, tags: dict[str, str]) -> str:
    """A run in progress holding a slot of the writer pool, as a CLI run's step does."""
    run_id = str(uuid.uuid4())
    run = DagsterRun("__ASSET_JOB", run_id=run_id, status=DagsterRunStatus.STARTED, tags=tags)
    instance.add_run(run)
    claim = instance.event_log_storage.claim_concurrency_slot(DUCKDB_POOL, run_id, "raw_ohlcv")
    assert claim.is_claimed
    return run_id


def test_the_sweep_fails_only_runs_of_processes_that_are_gone(tmp_path) -> None:
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        instance.event_log_storage.set_concurrency_slots(DUCKDB_POOL, POOL_LIMIT)
        gone_pid, gone_start = exited_process()
        here = socket.gethostname()
        dead = started_run(instance, owned_by(here, gone_pid, gone_start))
        alive = started_run(instance, owner_tags())  # this process
        elsewhere = started_run(instance, owned_by("another-host", 1, 0.0))
        me = json.loads(owner_tags()[OWNER_TAG])  # this pid, but an earlier process
        reused_pid = started_run(instance, owned_by(here, me["pid"], 1.0))
        daemons = started_run(instance, {})  # no tag, and no process recorded yet
        daemons_dead = started_run(instance, {})  # its worker and code server died
        executed_by(instance, daemons_dead, gone_pid)
        daemons_alive = started_run(instance, {})
        executed_by(instance, daemons_alive, os.getpid())

        result = dead_run_sensor(build_sensor_context(instance=instance))

        swept = {dead, reused_pid, daemons_dead}
        assert all(run_id[:8] in result.skip_message for run_id in swept)
        status = {r.run_id: r.status for r in instance.get_runs()}
        assert {r for r, s in status.items() if s == DagsterRunStatus.FAILURE} == swept
        kept = {alive, elsewhere, daemons, daemons_alive}
        assert {r for r, s in status.items() if s == DagsterRunStatus.STARTED} == kept
        info = instance.event_log_storage.get_concurrency_info(DUCKDB_POOL)
        assert {s.run_id for s in info.claimed_slots} == kept
        (failure,) = instance.all_logs(dead, of_type={DagsterEventType.RUN_FAILURE})
        assert "is gone" in failure.dagster_event.message

        again = dead_run_sensor(build_sensor_context(instance=instance))
        assert again.skip_message == "no run of a dead process"
