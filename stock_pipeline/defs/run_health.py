"""Runs whose process is gone: found, marked failed, their pool slots freed.

The CLI executes runs in its own process (``execute_in_process``). Killed there (the OOM
killer, a reboot, ``kill -9``), a run stays STARTED for good and keeps the
``duckdb_writer`` slot its step claimed: every later writing step waits on that slot
forever, and two such runs fill the daemon's queue. So each run the CLI starts carries
the identity of its process (``OWNER_TAG``: host, pid and the process's start time, which
tells a reused pid from the original), and before it starts runs the CLI sweeps: a run
in progress whose owner is not running any more is failed and its slots freed.

Runs the daemon launches are watched by Dagster itself (``run_monitoring`` in
dagster.yaml: the code server fails a run whose worker died, and the monitoring daemon
frees the slots of finished runs). What Dagster misses, a run whose worker and code
server died together (a reboot), the sweep finds on a single-machine (SQLite) instance
from the pid Dagster records for the process executing a run's steps. ``dead_run_sensor``
sweeps from the daemon too, so that dead runs do not fill its queue while no command is
started.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass

import psutil
from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunsFilter,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from stock_pipeline.defs._dagster_private import SqliteRunStorage

#: The process that executes a run, as JSON: {"host": ..., "pid": ..., "started": ...}.
OWNER_TAG = "stock_pipeline/owner"

#: A run can be swept in these states (NOT_STARTED: killed between creation and start).
SWEPT_STATUSES = [
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]

#: psutil reports start times to the clock tick; a pid reused within a second is not told
#: apart, which a kill followed by a new run of the same pid that fast never produces.
_START_TOLERANCE_S = 1.0


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    started: float

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host}"


def this_process() -> Owner:
    me = psutil.Process()
    return Owner(socket.gethostname(), me.pid, me.create_time())


def owner_tags() -> dict[str, str]:
    """The tag that names this process as the owner of the runs it executes."""
    owner = this_process()
    return {OWNER_TAG: json.dumps({"host": owner.host, "pid": owner.pid, "started": owner.started})}


def run_owner(run: DagsterRun) -> Owner | None:
    """The run's owner, or None when it has no (readable) owner tag: a daemon's run."""
    try:
        data = json.loads(run.tags[OWNER_TAG])
        return Owner(str(data["host"]), int(data["pid"]), float(data["started"]))
    except (KeyError, TypeError, ValueError):
        return None


def owner_is_gone(owner: Owner) -> bool:
    """Whether the owner has exited. Only a process of this host can be checked: one
    elsewhere is presumed alive (its own host's next command sweeps it)."""
    if owner.host != socket.gethostname():
        return False
    try:
        started = psutil.Process(owner.pid).create_time()
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:  # it exists but cannot be inspected (another user's): alive
        return False
    return abs(started - owner.started) > _START_TOLERANCE_S  # the pid was reused


def recorded_worker(instance: DagsterInstance, run: DagsterRun) -> tuple[int, float] | None:
    """For a run without an owner tag (the daemon's): the pid Dagster last recorded for the
    process executing it, and when; None unless the instance is this machine's (SQLite)."""
    if not isinstance(instance.run_storage, SqliteRunStorage):
        return None
    for entry in reversed(instance.all_logs(run.run_id, of_type=DagsterEventType.ENGINE_EVENT)):
        data = entry.dagster_event.engine_event_data if entry.dagster_event else None
        pid = data.metadata.get("pid") if data and data.metadata else None
        if pid is not None and str(pid.value).isdigit():
            return int(str(pid.value)), entry.timestamp
    return None


def worker_is_gone(pid: int, seen_at: float) -> bool:
    """Whether the process ``pid`` that was running at ``seen_at`` has exited."""
    try:
        started = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False
    return started > seen_at + _START_TOLERANCE_S  # a later process has the pid


def _gone_process(instance: DagsterInstance, run: DagsterRun) -> str | None:
    """The run's process, described, when it is gone; None while it runs or is unknown."""
    owner = run_owner(run)
    if owner is not None:
        return str(owner) if owner_is_gone(owner) else None
    worker = recorded_worker(instance, run)
    if worker is not None and worker_is_gone(*worker):
        return f"run worker pid {worker[0]}"
    return None


def sweep_dead_runs(instance: DagsterInstance, run_ids: list[str] | None = None) -> list[str]:
    """Fail the runs in progress (of ``run_ids``, default all) whose owner process is
    gone, and free their concurrency slots; returns one line per run swept."""
    records = instance.get_run_records(RunsFilter(run_ids=run_ids, statuses=SWEPT_STATUSES))
    swept = []
    for record in records:
        run = record.dagster_run
        gone = _gone_process(instance, run)
        if gone is None:
            continue
        message = (
            f"The process that executed this run ({gone}) is gone: killed or crashed. "
            "Marked failed, and its concurrency slots freed, by a later command."
        )
        # slots first: a sweep killed in between leaves the run in progress, swept again
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        instance.report_run_failed(run, message)
        swept.append(f"run {run.run_id[:8]} ({run.job_name}, {gone}): marked failed")
    return swept


@sensor(
    name="dead_run_sweep",
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Fails the runs left in progress by a process that is gone (killed, "
    "crashed, a reboot) and frees their duckdb_writer slots, so they neither block "
    "writing steps nor fill the run queue.",
)
def dead_run_sensor(context: SensorEvaluationContext) -> SkipReason:
    swept = sweep_dead_runs(context.instance)
    for line in swept:
        context.log.warning(f"{line} (its process is gone)")
    return SkipReason("; ".join(swept) or "no run of a dead process")
