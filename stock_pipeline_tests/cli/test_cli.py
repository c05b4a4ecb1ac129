"""The command line against a real Dagster instance in DAGSTER_HOME (SQLite)."""

from __future__ import annotations

import duckdb
import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from stock_pipeline.cli.main import main
from stock_pipeline.settings import Settings
from stock_pipeline_tests.support.configs import SMALL_MODEL_YAML
from stock_pipeline_tests.support.synthetic import synthetic_bars, write_csv


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """The CLI is configured like a deployment: STOCK_PIPELINE_* variables."""
    folder = tmp_path / "data"
    monkeypatch.setenv("STOCK_PIPELINE_DATA_DIR", str(folder))
    monkeypatch.setenv("STOCK_PIPELINE_SOURCE", "sample")
    monkeypatch.setenv("STOCK_PIPELINE_WATCHLIST", str(tmp_path / "no-watchlist.yaml"))
    for name in ("STOCK_PIPELINE_WAREHOUSE", "STOCK_PIPELINE_START", "STOCK_PIPELINE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return folder


@pytest.fixture
def home(data_dir, tmp_path, monkeypatch):
    path = tmp_path / "dagster_home"
    monkeypatch.setenv("DAGSTER_HOME", str(path))
    return path


@pytest.fixture
def csv_dir(tmp_path, monkeypatch):
    folder = tmp_path / "csv"
    folder.mkdir()
    monkeypatch.setenv("STOCK_PIPELINE_SOURCE", "csv")
    monkeypatch.setenv("STOCK_PIPELINE_CSV_DIR", str(folder))
    return folder


@pytest.fixture
def small_model(tmp_path, monkeypatch):
    path = tmp_path / "settings.yaml"
    path.write_text(SMALL_MODEL_YAML)
    monkeypatch.setenv("STOCK_PIPELINE_CONFIG", str(path))
    return path


def test_materialize_registers_tickers_and_runs_through_the_instance(home, capsys) -> None:
    code = main(
        [
            "materialize",
            "--tickers",
            "^GSPC",
            "--start",
            "2018-12-17",
            "--end",
            "2018-12-31",
            "--select",
            "raw_ohlcv,indicators",
        ]
    )
    assert code == 0, capsys.readouterr()
    assert (home / "dagster.yaml").exists()
    with DagsterInstance.get() as instance:
        assert instance.get_dynamic_partitions("tickers") == ["^GSPC"]
        runs = instance.get_runs(RunsFilter(tags={"stock_pipeline/trigger": "cli"}))
        assert [r.status for r in runs] == [DagsterRunStatus.SUCCESS]
    with duckdb.connect(str(Settings.from_env().warehouse), read_only=True) as con:
        days = con.execute("SELECT count(*) FROM indicators WHERE ticker = '^GSPC'").fetchone()
    # a year partition: every 2018 session up to the 31st (251 of them), not only from the 17th
    assert days[0] == 251


def test_materialize_exit_code_names_the_failed_ticker(home, csv_dir, capsys) -> None:
    bars = synthetic_bars(5, seed=1)
    write_csv(csv_dir, "OK", bars)
    (csv_dir / "BAD.csv").write_bytes(b"\x00\x01\x02 not a csv")
    first, last = (bars["date"].iloc[i].date().isoformat() for i in (0, -1))
    code = main(
        [
            "materialize",
            "--tickers",
            "OK,BAD",
            "--start",
            first,
            "--end",
            last,
            "--select",
            "raw_ohlcv",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    # one place lists the failed tickers, with the command that re-runs only them
    assert "1 ticker(s) failed (the others completed):" in out and "BAD.csv" in out
    assert "  BAD: " in out and "BAD: BAD:" not in out  # the ticker named once
    assert f"re-run only them: stock-pipeline materialize --tickers BAD --start {first}" in out
    assert "ok     OK" in out  # the run again without BAD


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tickers", "A|B", "--start", "2018-01-02", "--end", "2018-01-05"], "'|'"),
        (
            ["--tickers", "^GSPC", "--start", "1995-01-04", "--end", "2018-01-05"],
            "STOCK_PIPELINE_HISTORY_START",
        ),
        (
            ["--tickers", "^GSPC", "--start", "2010-01-04", "--end", "2012-01-05"],
            "STOCK_PIPELINE_START",
        ),
        (
            [
                "--tickers",
                "^GSPC",
                "--start",
                "2018-01-02",
                "--end",
                "2018-01-05",
                "--select",
                "nope",
            ],
            "nope",
        ),
    ],
)
def test_bad_arguments_are_rejected_with_a_message(home, capsys, args, message) -> None:
    assert main(["materialize", *args]) == 2
    assert message in capsys.readouterr().err
    with DagsterInstance.get() as instance:
        assert instance.get_runs() == []


@pytest.mark.slow
def test_demo_runs_offline_on_the_sample(data_dir, home, small_model, capsys) -> None:
    assert main(["demo", "--start", "2018-06-01"]) == 0
    out = capsys.readouterr().out
    assert "^GSPC" in out and "^IXIC" in out and "warehouse.duckdb" in out
    for ticker in ("^GSPC", "^IXIC"):  # the verdict, per ticker
        assert f"{ticker}: LSTM" in out or f"{ticker}: no DM test" in out
    assert "the naive forecast" in out
    assert "report.html" in out
    # the model comparison: one line per ticker, naming the best kind (or saying that every
    # kind made the naive forecast) and what beat naive after the snooping correction
    compared = out.split("Model comparison")[1].split("reports:")[0]
    for ticker in ("^GSPC", "^IXIC"):
        (line,) = [x for x in compared.splitlines() if x.startswith(f"  {ticker}: ")]
        assert "best kind" in line or "every kind made the naive forecast" in line
        assert "beat naive after the data-snooping correction:" in line and "SPA p=" in line
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        counts = dict(con.execute("SELECT ticker, count(*) FROM indicators GROUP BY 1").fetchall())
        summary = con.execute("SELECT count(*) FROM backtest_summary").fetchall()[0][0]
    # --start 2018-06-01: the data partition is the year, 251 sessions of 2018
    assert counts == {"^GSPC": 251, "^IXIC": 251}
    assert summary == 2


def test_a_failure_is_one_line_without_a_traceback(home, csv_dir, capsys) -> None:
    bars = synthetic_bars(80, seed=2)  # 80 sessions: far too short a history for the model
    write_csv(csv_dir, "SHORT", bars)
    first, last = (bars["date"].iloc[i].date().isoformat() for i in (0, -1))
    code = main(["materialize", "--tickers", "SHORT", "--start", first, "--end", last])
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert code == 1
    assert "Traceback" not in out and "dagster._core" not in out and "IndexError" not in out
    # the message says how much history the model needs, in one line for the ticker
    (line,) = [x for x in out.splitlines() if x.startswith("  SHORT:")]
    assert "usable feature rows" in line and "sessions of history" in line


def test_version_and_help_show_examples_and_the_environment(capsys) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and "stock-pipeline 0." in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["materialize", "--help"])
    text = capsys.readouterr().out
    assert "examples:" in text and "STOCK_PIPELINE_SOURCE" in text and "``" not in text


def test_a_bad_date_says_what_is_wrong(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["report", "^GSPC", "--asof", "2018-12-32"])
    assert "day is out of range for month" in capsys.readouterr().err


def test_report_finds_a_ticker_in_any_case_and_lists_what_exists(data_dir, capsys) -> None:
    folder = data_dir / "reports" / "%5EGSPC" / "2018-12-31"
    folder.mkdir(parents=True)
    (folder / "report.html").write_text("<html></html>")
    assert main(["report", "^gspc"]) == 0
    assert capsys.readouterr().out.strip() == str((folder / "report.html").resolve())
    assert main(["report", "GSPC"]) == 2
    err = capsys.readouterr().err
    assert "did you mean ^GSPC" in err and str((data_dir / "reports").resolve()) in err
    assert main(["report", "^GSPC", "--asof", "2018-12-28"]) == 2
    assert "its reports are as of: 2018-12-31" in capsys.readouterr().err


def test_report_open_on_a_machine_without_a_display_fails_with_the_path(
    data_dir, capsys, monkeypatch
) -> None:
    folder = data_dir / "reports" / "AAA" / "2018-12-31"
    folder.mkdir(parents=True)
    (folder / "report.html").write_text("<html></html>")
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER"):
        monkeypatch.delenv(name, raising=False)
    assert main(["report", "AAA", "--open"]) == 2
    assert "cannot open a browser here" in capsys.readouterr().err


def test_add_ticker_checks_an_offline_source_now(home, capsys) -> None:
    assert main(["add-ticker", "^FOO"]) == 2
    assert "the offline sample holds ^GSPC, ^IXIC" in capsys.readouterr().err
    assert main(["add-ticker", "^GSPC", "--start", "2018-06-01"]) == 0
    out = capsys.readouterr().out
    assert "2018-06-01..2018-12-31" in out  # the sample ends in 2018: not up to today
    assert main(["add-ticker", "^GSPC"]) == 0
    assert "already registered: not submitted again" in capsys.readouterr().out
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(home)) as instance:  # queued once, for the daemon
        (run,) = instance.get_runs()
        assert run.status.value == "QUEUED" and run.run_id[:8] in out
        assert run.tags["dagster/asset_partition_range_start"] == "2018|^GSPC"


PROGRESS_RUN = """
import os, sys
from stock_pipeline.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def _run_on_a_terminal(args: list[str], env: dict) -> str:
    """The CLI with its stdout on a pseudo-terminal; returns what it drew."""
    import os
    import pty
    import subprocess
    import sys

    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", PROGRESS_RUN, *args],
        stdout=follower,
        stderr=follower,
        env=env,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=300)
    os.close(leader)
    return b"".join(chunks).decode(errors="replace")


def test_progress_is_shown_on_a_terminal_and_not_with_quiet(home) -> None:
    import os

    args = [
        "materialize",
        "--tickers",
        "^GSPC",
        "--start",
        "2018-12-03",
        "--end",
        "2018-12-31",
        "--select",
        "raw_ohlcv,indicators",
    ]
    drawn = _run_on_a_terminal(args, dict(os.environ))
    assert "^GSPC data 2018..2018" in drawn and "steps" in drawn and "0:00:" in drawn
    quiet = _run_on_a_terminal([*args, "--quiet"], dict(os.environ))
    assert "steps" not in quiet and "ok     ^GSPC data 2018..2018" in quiet
