"""Every private Dagster import of the project, in one place.

Private modules change between releases without notice, which is why ``dagster`` is
pinned to one version in ``pyproject.toml`` (1.13.27, with its libraries at 0.29.27).
Check each import below when moving the pin. Why each is needed:
"""

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

__all__ = [
    "SINGLETON_REPOSITORY_NAME",
    "InProcessCodeLocationOrigin",
    "InProcessWorkspaceLoadTarget",
    "LoadableTargetOrigin",
    "SqliteRunStorage",
    "WorkspaceProcessContext",
]
