"""The sweep of runs whose process is gone, against a real SQLite instance: a run of a
process that exited is failed and its slot freed; runs of live processes, of another
host, or without an owner (the daemon's) are left alone."""

from __future__ import annotations

import json
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

from stock_pipeline.defs.asset_bodies import DUCKDB_POOL
from stock_pipeline.defs.run_health import OWNER_TAG, dead_run_sensor, owner_tags

POOL_LIMIT = 5  # one slot per run below


def exited_process_owner() -> dict[str, str]:
    """The owner tag of a process that has since exited."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    started = psutil.Process(child.pid).create_time()
    child.kill()
    child.wait()
    owner = {"host": socket.gethostname(), "pid": child.pid, "started": started}
    return {OWNER_TAG: json.dumps(owner)}


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
        dead = started_run(instance, exited_process_owner())
        alive = started_run(instance, owner_tags())  # this process
        elsewhere_owner = {"host": "another-host", "pid": 1, "started": 0.0}
        elsewhere = started_run(instance, {OWNER_TAG: json.dumps(elsewhere_owner)})
        daemons = started_run(instance, {})
        reused = json.loads(owner_tags()[OWNER_TAG])  # this pid, but an earlier process
        reused_pid = started_run(instance, {OWNER_TAG: json.dumps({**reused, "started": 1.0})})

        result = dead_run_sensor(build_sensor_context(instance=instance))

        assert dead[:8] in result.skip_message and reused_pid[:8] in result.skip_message
        status = {r.run_id: r.status for r in instance.get_runs()}
        assert status[dead] == status[reused_pid] == DagsterRunStatus.FAILURE
        assert status[alive] == status[elsewhere] == status[daemons] == DagsterRunStatus.STARTED
        info = instance.event_log_storage.get_concurrency_info(DUCKDB_POOL)
        assert {s.run_id for s in info.claimed_slots} == {alive, elsewhere, daemons}
        (failure,) = instance.all_logs(dead, of_type={DagsterEventType.RUN_FAILURE})
        assert "is gone" in failure.dagster_event.message

        again = dead_run_sensor(build_sensor_context(instance=instance))
        assert again.skip_message == "no run of a dead process"
