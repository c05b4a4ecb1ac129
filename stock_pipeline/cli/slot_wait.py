"""A bound on a CLI run's wait for a pool slot, and SIGINT/SIGTERM honoured during it.

Dagster's in-process executor waits for a concurrency slot (the ``duckdb_writer`` pool) in
its step loop, with no limit, and it holds SIGINT and SIGTERM back until a step starts:
a run waiting on a slot that is never freed runs forever and can only be killed. So a
thread watches each run the CLI executes. While the run waits for a slot it sweeps the
holders (a holder whose process is gone is failed and its slot freed, see
``defs.run_health``); when the wait passes ``automation.slot_wait_timeout_s``, or a
signal arrives during it, the thread ends the run from inside that loop, and the CLI
stops with one line saying why.

Signals are seen through ``signal.set_wakeup_fd`` (the interpreter writes each signal's
number to a socket, whichever Python handler Dagster has installed); the run is ended by
``_thread.interrupt_main`` with a signal of our own whose handler raises in the main
thread, where Dagster's loop runs: Dagster records the run as failed and frees its
pending claims.
"""

from __future__ import annotations

import _thread
import select
import signal
import socket
import threading
import time
from types import TracebackType

from dagster import DagsterInstance

from stock_pipeline.defs.run_health import run_owner, sweep_dead_runs

#: Raised in the main thread to end a run; no other code of the process uses it.
ABORT_SIGNAL = signal.SIGUSR1
#: The signals that stop the CLI.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
POLL_SECONDS = 1.0  # a signal wakes the watch at once; the pool is read this often


class RunStopped(Exception):
    """The CLI stopped a run: its wait for a slot ran out, or a signal arrived."""

    def __init__(self, message: str, signum: int | None = None) -> None:
        super().__init__(message)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum if self.signum else 1  # a shell's code for a signal


class _EndRun(BaseException):
    """Raised inside Dagster's step loop; a BaseException, so no ``except Exception``
    between here and Dagster's run boundary takes it for a step's error."""


class SlotWatch:
    """Watches one in-process run (a context manager around ``execute_in_process``);
    ``raise_if_stopped()`` afterwards raises ``RunStopped`` when the watch ended it, or
    when a signal arrived while it ran."""

    def __init__(self, instance: DagsterInstance, run_id: str, timeout_s: float) -> None:
        self.instance, self.run_id, self.timeout_s = instance, run_id, timeout_s
        self.swept: list[str] = []
        self._reason: str | None = None
        self._signum: int | None = None
        self._done = threading.Event()
        self._active = threading.current_thread() is threading.main_thread()

    def __enter__(self) -> SlotWatch:
        if not self._active:  # signal handlers can only be set in the main thread
            return self
        self._reader, self._writer = socket.socketpair()
        self._writer.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        self._previous_handler = signal.signal(ABORT_SIGNAL, self._end_run)
        self._thread = threading.Thread(target=self._watch, daemon=True, name="slot-watch")
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if not self._active:
            return False
        self._done.set()
        self._thread.join()
        signal.set_wakeup_fd(self._previous_fd)
        signal.signal(ABORT_SIGNAL, self._previous_handler)
        self._reader.close()
        self._writer.close()
        # Dagster records the ended run as failed; should the raise land outside its run
        # boundary instead, it ends here, and raise_if_stopped() says why
        return exc_type is _EndRun

    def raise_if_stopped(self) -> None:
        if self._reason is not None:
            raise RunStopped(self._reason, self._signum)
        if self._signum is not None:
            name = signal.Signals(self._signum).name
            raise RunStopped(f"stopped by {name}: run {self.run_id[:8]} ended", self._signum)

    def _end_run(self, signum: int, frame: object) -> None:
        if self._reason is not None and not self._done.is_set():
            raise _EndRun(self._reason)

    def _watch(self) -> None:
        waiting_since: float | None = None
        while not self._done.is_set():
            self._read_signals()
            blocked = self._blocked_on()
            if blocked is None:
                waiting_since = None
                continue
            waiting_since = waiting_since or time.monotonic()
            pool, holders = blocked
            self.swept += sweep_dead_runs(self.instance, [h for h, _ in holders]) if holders else []
            waited = time.monotonic() - waiting_since
            if self._signum is not None:
                name = signal.Signals(self._signum).name
                self._stop(f"stopped by {name} while run {self.run_id[:8]} waited for a slot")
            elif waited > self.timeout_s:
                self._stop(
                    f"run {self.run_id[:8]} waited {waited:.0f} s for a slot of pool {pool!r} "
                    f"(automation.slot_wait_timeout_s = {self.timeout_s:g}), held by "
                    f"{self._describe(holders)}; it is marked failed, run the command again "
                    "once that run is done"
                )

    def _read_signals(self) -> None:
        ready, _, _ = select.select([self._reader], [], [], POLL_SECONDS)
        if ready:
            for number in self._reader.recv(64):
                if number in STOP_SIGNALS:
                    self._signum = number

    def _blocked_on(self) -> tuple[str, list[tuple[str, str]]] | None:
        """The pool this run waits on and the (run id, step) holding its slots, or None."""
        storage = self.instance.event_log_storage
        try:
            for pool in storage.get_concurrency_keys():
                info = storage.get_concurrency_info(pool)
                if any(
                    s.run_id == self.run_id and s.assigned_timestamp is None
                    for s in info.pending_steps
                ):
                    return pool, [(s.run_id, s.step_key) for s in info.claimed_slots]
        except Exception:  # the storage is busy (SQLite): look again at the next tick
            return None
        return None

    def _describe(self, holders: list[tuple[str, str]]) -> str:
        if not holders:
            return "no run (the pool's limit is 0?)"
        parts = []
        for run_id, step in holders:
            run = self.instance.get_run_by_id(run_id)
            owner = run_owner(run) if run else None
            who = f"{owner}" if owner else "a run of the daemon or the UI"
            parts.append(f"run {run_id[:8]} (step {step}, {who})")
        return ", ".join(parts)

    def _stop(self, reason: str) -> None:
        self._reason = reason
        _thread.interrupt_main(ABORT_SIGNAL)
        # again only while the run still waits (the raise landed where it was lost), never
        # once Dagster is recording the run's end
        while not self._done.wait(5.0):
            if self._blocked_on() is not None:
                _thread.interrupt_main(ABORT_SIGNAL)
