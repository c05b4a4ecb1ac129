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
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
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

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        req = urllib.request.Request(
            f"{self.url}/graphql", body, {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            payload = json.loads(resp.read())
        if payload.get("errors"):
            raise AssertionError(payload["errors"])
        return payload["data"]

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN / "stock-pipeline"), *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
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


@contextmanager
def dagster_stack(root: Path, sessions: int = 170):
    """Webserver and daemon for csv-sourced tickers whose bars reach the latest due session."""
    home, data, csv = root / "home", root / "data", root / "csv"
    home.mkdir(parents=True)
    shutil.copyfile(ROOT / "stock_pipeline" / "dagster.yaml", home / "dagster.yaml")
    # create the instance's storage once, before three processes would race to migrate it
    DagsterInstance.from_config(str(home)).dispose()
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
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "STOCK_PIPELINE_DATA_DIR": str(data),
        "STOCK_PIPELINE_SOURCE": "csv",
        "STOCK_PIPELINE_CSV_DIR": str(csv),
        "STOCK_PIPELINE_START": days[0].isoformat(),
        "STOCK_PIPELINE_HISTORY_START": days[0].isoformat(),
        "STOCK_PIPELINE_CONFIG": str(root / "settings.yaml"),
        "STOCK_PIPELINE_WATCHLIST": str(root / "watchlist.yaml"),
    }
    port = free_port()
    logs = {name: open(root / f"{name}.log", "w") for name in ("webserver", "daemon")}  # noqa: SIM115
    procs = [
        subprocess.Popen(
            [
                str(BIN / "dagster-webserver"),
                "-w",
                "workspace.yaml",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            cwd=ROOT,
            env=env,
            stdout=logs["webserver"],
            stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
            cwd=ROOT,
            env=env,
            stdout=logs["daemon"],
            stderr=subprocess.STDOUT,
        ),
    ]
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_http(f"{url}/server_info", time.monotonic() + 120, procs)
        yield Stack(url, env, root, days[0], last)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        for f in logs.values():
            f.close()
