"""The faults of the soak benchmark (``benchmarks.soak``): each one is injected into a night
of the faulty pass, then the night is recovered the way a user would, and the time from the
fault to the first command that completed cleanly (exit code 0) is measured."""

from __future__ import annotations

import os
import random
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

KINDS = ("kill_run", "two_at_once", "source_outage", "corrupt_file")
RUN_CLI = "import sys; from stock_pipeline.cli.main import main; sys.exit(main(sys.argv[1:]))"
COMMAND_TIMEOUT_S = 1800  # a hang (the fault this benchmark looks for) ends the soak here


@dataclass
class Command:
    args: list[str]
    rc: int
    wall_s: float
    output: str


@dataclass
class Fault:
    night: str
    kind: str
    detail: str
    recovery_s: float = 0.0
    commands: list[Command] = field(default_factory=list)

    def said(self) -> list[str]:
        """What the CLI said of the fault: the failure lines of the first failed command."""
        failed = next((c for c in self.commands if c.rc not in (0, -9)), None)
        lines = failed.output.splitlines() if failed else []
        return [line.strip() for line in lines if "FAILED" in line or ": " in line][:6]


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    """The CLI in a process (and session) of its own: a kill -9 reaches all of it."""
    return subprocess.Popen(
        [sys.executable, "-c", RUN_CLI, *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def finish(proc: subprocess.Popen, args: list[str], started: float) -> Command:
    output, _ = proc.communicate(timeout=COMMAND_TIMEOUT_S)
    return Command(args, proc.returncode, time.monotonic() - started, output)


def run(args: list[str], env: dict[str, str]) -> Command:
    return finish(start(args, env), args, time.monotonic())


def rerun_line(output: str) -> list[str] | None:
    """The arguments of the CLI's own "re-run only them" line, if it printed one."""
    for line in output.splitlines():
        if line.startswith("re-run only them: "):
            return shlex.split(line.removeprefix("re-run only them: "))[1:]
    return None


def until_clean(args: list[str], env: dict[str, str], fault: Fault, since: float) -> None:
    """Runs the CLI's re-run line (or ``args`` again) until a command exits 0; the recovery
    time is from ``since`` (the fault) to that command's end."""
    last = fault.commands[-1] if fault.commands else None
    for _ in range(3):
        if last is not None and last.rc == 0:
            fault.recovery_s = time.monotonic() - since
            return
        again = (rerun_line(last.output) if last else None) or args
        last = run(again, env)
        fault.commands.append(last)
    raise AssertionError(f"{fault.night} {fault.kind}: no clean command after 3 tries")


def kill_run(args, env, rng: random.Random, fault: Fault, clean_wall_s: float) -> None:
    """kill -9 of the night's command after a random share of its fault-free wall time;
    then the same command again (its dead run must be swept, its slot freed)."""
    delay = rng.uniform(0.2, 0.8) * clean_wall_s
    fault.detail = f"kill -9 after {delay:.1f} s"
    started = time.monotonic()
    proc = start(args, env)
    time.sleep(delay)
    killed_at = time.monotonic()
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    else:
        fault.detail += " (the command had already ended)"
    fault.commands.append(finish(proc, args, started))
    fault.commands.append(run(args, env))
    until_clean(args, env, fault, killed_at)


def two_at_once(args, env, rng: random.Random, fault: Fault, clean_wall_s: float) -> None:
    """The night's command twice, started together (one waits for the other's slot)."""
    fault.detail = "the night's command twice, started together"
    started = time.monotonic()
    procs = [start(args, env) for _ in range(2)]
    fault.commands += [finish(p, args, started) for p in procs]
    if all(c.rc == 0 for c in fault.commands):
        fault.recovery_s = time.monotonic() - started
        return
    until_clean(args, env, fault, started)


def source_outage(args, env, rng, fault: Fault, clean_wall_s: float, csv_dir: Path) -> None:
    """Some tickers' csv files made unreadable (a folder in the file's place) or removed for
    the night, then restored; the CLI's re-run line for the failed tickers is the recovery."""
    files = sorted(csv_dir.glob("*.csv"))
    hit = rng.sample(files, max(1, len(files) // 4))
    how = rng.choice(["unreadable", "removed"])
    fault.detail = f"{how}: " + ",".join(p.stem for p in hit)
    saved = {p: p.read_bytes() for p in hit}
    for path in hit:
        path.unlink()
        if how == "unreadable":  # a folder in its place: root reads past a chmod 0
            path.mkdir()
    started = time.monotonic()
    fault.commands.append(run(args, env))
    for path, content in saved.items():
        if path.is_dir():
            path.rmdir()
        path.write_bytes(content)
    until_clean(args, env, fault, started)


def corrupt_file(args, env, rng, fault: Fault, clean_wall_s: float, csv_dir: Path) -> None:
    """A garbage line (a NUL byte among it) appended to one ticker's csv for the night: the
    source refuses the file by name, the ticker fails; the file is restored and the CLI's
    re-run line is the recovery."""
    path = rng.choice(sorted(csv_dir.glob("*.csv")))
    content = path.read_bytes()
    path.write_bytes(content + b"\x00garbage;;not a bar,\xff\n")
    fault.detail = f"garbage line appended to {path.name}"
    started = time.monotonic()
    fault.commands.append(run(args, env))
    path.write_bytes(content)
    until_clean(args, env, fault, started)
