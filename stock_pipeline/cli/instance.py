"""The Dagster instance in ``DAGSTER_HOME``: created, and opened, one process at a time.

Dagster's SQLite run storage creates its tables and stamps their schema version (the
``alembic_version`` row) when an instance is first opened, with nothing between
processes: two commands started together on a new home could both stamp it, and every
later command (the daemon's too) then failed with "more than one head present". An
exclusive ``flock`` on a file in the home serializes that first creation, and the copy
of the project's ``dagster.yaml`` before it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from dagster import DagsterInstance

from stock_pipeline.settings import Settings

#: Held while the instance is created or opened (a file of DAGSTER_HOME; Dagster ignores it).
LOCK_FILE = ".stock_pipeline_instance.lock"


@contextmanager
def home_lock(home: Path) -> Iterator[None]:
    """An exclusive lock on ``home`` between processes; released when the block ends, or
    by the kernel when its process dies (no stale lock is left by a kill)."""
    home.mkdir(parents=True, exist_ok=True)
    with open(home / LOCK_FILE, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def dagster_home(settings: Settings) -> Path:
    """``DAGSTER_HOME``, defaulting to <data_dir>/dagster_home with the project's dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or settings.data_dir / "dagster_home").resolve()
    if not (home / "dagster.yaml").exists():
        with home_lock(home):
            _install_config(home)
    return home


def open_instance(settings: Settings) -> DagsterInstance:
    """The instance of ``DAGSTER_HOME``, its storage created (on first use) under the lock."""
    home = dagster_home(settings)
    with home_lock(home):
        return DagsterInstance.from_config(str(home))


def _install_config(home: Path) -> None:
    """Copy the bundled dagster.yaml unless the home has one; written whole, then renamed,
    so no process reads half a file."""
    config = home / "dagster.yaml"
    if config.exists():
        return
    bundled = resources.files("stock_pipeline") / "dagster.yaml"
    with (
        bundled.open("rb") as source,
        tempfile.NamedTemporaryFile("wb", dir=home, delete=False) as partial,
    ):
        shutil.copyfileobj(source, partial)
    os.chmod(partial.name, 0o644)  # as a plain copy would be (the temp file is private)
    os.replace(partial.name, config)
