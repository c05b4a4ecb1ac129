"""First commands started together on a new DAGSTER_HOME, in real processes: the instance
is created once, with one schema version row, and every command gets it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

#: One "first command" per line of stdin: a home to open, as the CLI opens it. The process
#: is started (and has imported everything) before the homes are handed out, so the
#: processes reach the instance's creation together rather than an import time apart.
OPENER = """
import os, sys, traceback
from stock_pipeline.cli.instance import open_instance
from stock_pipeline.settings import Settings
print("ready", flush=True)
for line in sys.stdin:
    os.environ["DAGSTER_HOME"] = line.strip()
    try:
        open_instance(Settings.from_env()).dispose()
        print("ok", flush=True)
    except Exception:
        print("error " + traceback.format_exc().replace(chr(10), " | "), flush=True)
"""

PROCESSES = 4
HOMES = 4


def open_new_homes_together(tmp_path: Path, opener: str = OPENER) -> list[tuple[Path, list]]:
    """Each of ``HOMES`` new homes opened by ``PROCESSES`` processes at once; returns each
    home with what its openers answered."""
    env = {**os.environ, "STOCK_PIPELINE_DATA_DIR": str(tmp_path / "data")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", opener],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(PROCESSES)
    ]
    try:
        for proc in procs:
            assert proc.stdout.readline().strip() == "ready"
        results = []
        for round_ in range(HOMES):
            home = tmp_path / f"home{round_}"
            for proc in procs:  # every opener gets the home before any answers
                proc.stdin.write(f"{home}\n")
                proc.stdin.flush()
            results.append((home, [proc.stdout.readline().strip() for proc in procs]))
        return results
    finally:
        for proc in procs:
            proc.stdin.close()
            proc.wait(timeout=60)


def schema_versions(home: Path) -> list[tuple]:
    with sqlite3.connect(home / "history" / "runs.db") as con:
        return con.execute("SELECT version_num FROM alembic_version").fetchall()


def test_first_commands_at_once_create_one_instance(tmp_path) -> None:
    for home, answers in open_new_homes_together(tmp_path):
        assert answers == ["ok"] * PROCESSES, (home, answers)
        assert len(schema_versions(home)) == 1, home
        assert (home / "dagster.yaml").read_text().startswith("# Dagster instance")
