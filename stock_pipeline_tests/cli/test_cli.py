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
    assert "the naive forecast" in out and "p=" in out  # the verdict, per ticker
    assert "report.html" in out
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        counts = dict(con.execute("SELECT ticker, count(*) FROM indicators GROUP BY 1").fetchall())
        summary = con.execute("SELECT count(*) FROM backtest_summary").fetchall()[0][0]
    # --start 2018-06-01: the data partition is the year, 251 sessions of 2018
    assert counts == {"^GSPC": 251, "^IXIC": 251}
    assert summary == 2
