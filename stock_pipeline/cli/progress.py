"""Progress of long CLI work on a terminal: each Dagster run as a bar over its steps, with
the step running, the tickers it covers and the elapsed time (``rich``).

The run executes in this process (``execute_in_process``); a thread reads its events from
the instance while it runs. Off a terminal, or with ``--quiet``, nothing is shown.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from dagster import DagsterEventType, DagsterInstance

POLL_SECONDS = 0.5


class NoProgress:
    """What a script or ``--quiet`` gets: nothing."""

    @contextmanager
    def run(self, instance: DagsterInstance, run_id: str, label: str, steps: int) -> Iterator:
        yield

    def close(self) -> None:
        pass


class RichProgress:
    """One line per run: a spinner, the label and the step running, a bar, elapsed time."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("steps"),
            TimeElapsedColumn(),
            transient=False,
        )
        self._progress.start()

    @contextmanager
    def run(self, instance: DagsterInstance, run_id: str, label: str, steps: int) -> Iterator:
        task = self._progress.add_task(label, total=steps)
        done = threading.Event()
        watcher = threading.Thread(
            target=self._watch, args=(instance, run_id, label, task, done), daemon=True
        )
        watcher.start()
        try:
            yield
        finally:
            done.set()
            watcher.join()
            self._progress.update(task, completed=steps, description=label)

    def _watch(self, instance, run_id: str, label: str, task, done: threading.Event) -> None:
        finished: set[str] = set()
        while not done.wait(POLL_SECONDS):
            try:
                events = [e for e in instance.all_logs(run_id) if e.dagster_event is not None]
            except Exception:  # the run's storage is busy: try again at the next tick
                continue
            running = ""
            for entry in events:
                event = entry.dagster_event
                if event.event_type == DagsterEventType.STEP_START:
                    running = event.step_key or ""
                elif event.event_type in (
                    DagsterEventType.STEP_SUCCESS,
                    DagsterEventType.STEP_FAILURE,
                ):
                    finished.add(event.step_key or "")
            step = f" [dim]- {running}[/dim]" if running and running not in finished else ""
            self._progress.update(task, completed=len(finished), description=f"{label}{step}")

    def close(self) -> None:
        self._progress.stop()


def progress_for(quiet: bool) -> NoProgress | RichProgress:
    """Bars on a terminal unless ``quiet``; nothing for scripts and pipes."""
    if quiet or not sys.stdout.isatty():
        return NoProgress()
    return RichProgress()
