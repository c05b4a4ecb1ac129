"""Every private Dagster import of the project, in one place.

Private modules change between releases without notice, which is why ``dagster`` is
pinned to one version in ``pyproject.toml`` (1.13.27, with its libraries at 0.29.27).
Check each import below when moving the pin (``constraints.txt`` locks the rest). Why each
is needed:
"""

from __future__ import annotations

from typing import Any

# ``add-ticker`` queues its data run on the instance for the daemon, as ``dagster job
# launch`` does, without a running webserver (the public path is the GraphQL API): it
# loads the code location in-process under the daemon's location name, so the run's
# origin points the daemon (and the run-status sensors) at that location.
from dagster._core.definitions.repository_definition.valid_definitions import (
    SINGLETON_REPOSITORY_NAME,
)
from dagster._core.remote_origin import InProcessCodeLocationOrigin

# The sweep of dead runs trusts a run worker's pid only on an instance whose storage is
# this machine's SQLite files (every process that writes it runs here); the public API
# does not say what kind of storage an instance has.
from dagster._core.storage.runs import SqliteRunStorage
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget


def current_defs_state_storage() -> Any:
    """For the test suite's guard only (``stock_pipeline_tests/conftest.py``): the storage
    an entered instance or evaluation context sets for definitions that load state. One
    left set after its instance is gone (a schedule context not closed) failed every
    later test of the process that resolved a ``Definitions``; no public API reads it."""
    from dagster._core.storage.defs_state.base import DefsStateStorage

    return DefsStateStorage.get()


def run_timing_internals() -> tuple[Any, Any, Any]:
    """For the benchmarks' stopwatch (``benchmarks/timed_run_worker.py``) only: Dagster's
    CLI entry point, run in-process so the stopwatch sees the whole run, and the two
    functions it wraps to split a run's time between asset code (``invoke_compute_fn``)
    and event writes (``SqliteEventLogStorage.store_event``); no public API measures
    either. Imported on demand: ``dagster._cli`` alone takes about a second."""
    from dagster._cli import main
    from dagster._core.execution.plan import compute_generator
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    return main, compute_generator, SqliteEventLogStorage


__all__ = [
    "SINGLETON_REPOSITORY_NAME",
    "InProcessCodeLocationOrigin",
    "InProcessWorkspaceLoadTarget",
    "LoadableTargetOrigin",
    "SqliteRunStorage",
    "WorkspaceProcessContext",
    "run_timing_internals",
]
