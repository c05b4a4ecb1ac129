"""``--tickers`` that names no ticker is an error naming the option, from the real command
line in its own process, and nothing is run or created."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN_CLI = "import sys; from stock_pipeline.cli.main import main; sys.exit(main(sys.argv[1:]))"


@pytest.mark.parametrize("value", [",", "", " , "])
def test_tickers_that_name_no_ticker_are_an_error_naming_the_option(tmp_path, value) -> None:
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "STOCK_PIPELINE_DATA_DIR": str(tmp_path / "data"),
        "STOCK_PIPELINE_SOURCE": "sample",
        "STOCK_PIPELINE_WATCHLIST": str(tmp_path / "no-watchlist.yaml"),
    }
    env.pop("STOCK_PIPELINE_CONFIG", None)
    args = ["materialize", "--tickers", value, "--start", "2018-01-02", "--end", "2018-01-05"]
    done = subprocess.run(
        [sys.executable, "-c", RUN_CLI, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        f"stock-pipeline materialize: error: argument --tickers: {value!r} names no ticker; "
        "give comma-separated symbols, e.g. AAPL,MSFT"
    )
    assert done.stdout == ""
    assert not (tmp_path / "dagster_home").exists() and not (tmp_path / "data").exists()


def test_empty_entries_beside_a_ticker_are_dropped() -> None:
    from stock_pipeline.cli.commands import parse_tickers

    assert parse_tickers(" AAPL, ,^GSPC,") == ["AAPL", "^GSPC"]
