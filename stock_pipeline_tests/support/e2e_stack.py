"""A real Dagster webserver + daemon on loopback over a temporary DAGSTER_HOME."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from dagster import DagsterInstance

from stock_pipeline.market_data.calendar import latest_due_session, trading_days
from stock_pipeline_tests.support.configs import SMALL_MODEL_YAML
from stock_pipeline_tests.support.synthetic import synthetic_bars, write_csv

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# two tickers added together: one backfill, one multi-ticker model-chain run
TICKERS = ("E2E", "E2F")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Stack:
    url: str
    env: dict[str, str]
    root: Path
    first: dt.date
    last: dt.date
    procs: list[subprocess.Popen] = field(default_factory=list)
    logs: list = field(default_factory=list)

    def start(self, name: str, *args: str) -> None:
        """Start ``dagster-<name> args``, logging to ``root/<name>.log``."""
        log = open(self.root / f"{name}.log", "w")  # noqa: SIM115
        self.logs.append(log)
        self.procs.append(
            subprocess.Popen(
                [str(BIN / f"dagster-{name}"), *args],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )

    def start_daemon(self) -> None:
        self.start("daemon", "run", "-w", "workspace.yaml")

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        for f in self.logs:
            f.close()

    def graphql(self, query: str, variables: dict | None = None, timeout: float = 30) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        req = urllib.request.Request(
            f"{self.url}/graphql", body, {"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                payload = json.loads(resp.read())
        except urllib.error.HTTPError as exc:  # the body says what is wrong with the query
            raise AssertionError(f"{exc}: {exc.read().decode()[:2000]}") from exc
        if payload.get("errors"):
            raise AssertionError(payload["errors"])
        return payload["data"]

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN / "stock-pipeline"), *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def _wait_http(url: str, deadline: float, procs) -> None:
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"{p.args[0]} exited with {p.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(1)
    raise TimeoutError(f"{url} did not answer")


def prepare_home(home: Path) -> None:
    """A DAGSTER_HOME with the product's instance configuration and migrated storage."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ROOT / "stock_pipeline" / "dagster.yaml", home / "dagster.yaml")
    # create the instance's storage once, before three processes would race to migrate it
    DagsterInstance.from_config(str(home)).dispose()


@contextmanager
def dagster_stack(root: Path, sessions: int = 170):
    """Webserver and daemon for csv-sourced tickers whose bars reach the latest due session."""
    data, csv = root / "data", root / "csv"
    now = dt.datetime.now(ZoneInfo("America/New_York"))
    last = latest_due_session(now, dt.time(16, 0), 4.0)
    days = trading_days(last - dt.timedelta(days=2 * sessions), last)[-sessions:]
    for seed, ticker in enumerate(TICKERS, start=21):
        bars = synthetic_bars(sessions, seed=seed, start=days[0])
        assert bars["date"].iloc[-1].date() == last
        write_csv(csv, ticker, bars)
    (root / "settings.yaml").write_text(SMALL_MODEL_YAML)
    (root / "watchlist.yaml").write_text("tickers: []\n")
    env = {
        "STOCK_PIPELINE_DATA_DIR": str(data),
        "STOCK_PIPELINE_SOURCE": "csv",
        "STOCK_PIPELINE_CSV_DIR": str(csv),
        "STOCK_PIPELINE_START": days[0].isoformat(),
        "STOCK_PIPELINE_HISTORY_START": days[0].isoformat(),
        "STOCK_PIPELINE_CONFIG": str(root / "settings.yaml"),
        "STOCK_PIPELINE_WATCHLIST": str(root / "watchlist.yaml"),
    }
    with running_stack(root, env, days[0], last) as stack:
        yield stack


@contextmanager
def running_stack(
    root: Path, env: dict[str, str], first: dt.date, last: dt.date, daemon: bool = True
):
    """dagster-webserver (and dagster-daemon unless ``daemon`` is False: then
    ``Stack.start_daemon``) on loopback over ``root/home`` with ``env`` added."""
    home = root / "home"
    prepare_home(home)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DAGSTER_DISABLE_TELEMETRY": "1",
        **env,
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    stack = Stack(url, env, root, first, last)
    try:
        stack.start("webserver", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port))
        _wait_http(f"{url}/server_info", time.monotonic() + 120, stack.procs)
        if daemon:
            stack.start_daemon()
        yield stack
    finally:
        stack.stop()
