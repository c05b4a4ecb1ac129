"""Hostile input at the command line: re-run lines that are safe to paste, symbols checked
before anything is registered, and ``remove-ticker`` against a real instance and warehouse."""

from __future__ import annotations

import shlex
import subprocess

import duckdb
import pytest
from dagster import DagsterInstance

from stock_pipeline.cli import commands
from stock_pipeline.cli.launch import RunOutcome, open_instance
from stock_pipeline.cli.main import main
from stock_pipeline.settings import Settings
from stock_pipeline_tests.support.synthetic import synthetic_bars, write_csv


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """Configured like a deployment: STOCK_PIPELINE_* variables and DAGSTER_HOME."""
    folder = tmp_path / "data"
    csv = tmp_path / "csv"
    csv.mkdir()
    monkeypatch.setenv("STOCK_PIPELINE_DATA_DIR", str(folder))
    monkeypatch.setenv("STOCK_PIPELINE_SOURCE", "csv")
    monkeypatch.setenv("STOCK_PIPELINE_CSV_DIR", str(csv))
    monkeypatch.setenv("STOCK_PIPELINE_WATCHLIST", str(tmp_path / "watchlist.yaml"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    for name in ("STOCK_PIPELINE_WAREHOUSE", "STOCK_PIPELINE_START", "STOCK_PIPELINE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return folder


WEIRD = ["X;touch pwned", "A*", "$(touch pwned)", "`touch pwned`", "B&&C", "D|E>F", "'q'"]


def test_the_rerun_line_is_one_command_with_exactly_its_arguments(tmp_path, capsys) -> None:
    failed = {ticker: "no file" for ticker in WEIRD}
    outcome = RunOutcome("data 2016..2016", "0123456789", False, [], failed)
    rest = ["--start", "2016-01-04", "--end", "2016-02-16", "--select", "*"]
    assert commands.print_outcomes([outcome], rest) == 1
    (line,) = [x for x in capsys.readouterr().out.splitlines() if x.startswith("re-run only")]
    pasted = line.removeprefix("re-run only them: ")
    expected = ["stock-pipeline", "materialize", "--tickers", ",".join(WEIRD), *rest]
    assert shlex.split(pasted) == expected
    # pasted into a real shell, in a folder whose files a bare * would expand to
    (tmp_path / "a-file").write_text("")
    shell = 'stock-pipeline() { printf "%s\\0" "$@"; }; ' + pasted
    done = subprocess.run(["bash", "-c", shell], cwd=tmp_path, capture_output=True, check=True)
    assert done.stdout.decode().split("\0")[:-1] == expected[1:]
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    ("command", "rule"),
    [
        (
            ["materialize", "--tickers", "AAA,..", "--start", "2016-01-04", "--end", "2016-02-16"],
            "ticker '..' is a reserved name",
        ),
        (["add-ticker", "AAA", "A/B"], "ticker 'A/B' contains '/'"),
    ],
)
def test_every_command_that_registers_checks_the_symbols_first(
    data_dir, capsys, command, rule
) -> None:
    assert main(command) == 2
    assert rule in capsys.readouterr().err
    with open_instance(Settings.from_env()) as instance:
        assert instance.get_dynamic_partitions("tickers") == [] and not instance.get_runs()


def _rows(warehouse, ticker: str) -> dict[str, int]:
    """Table -> rows of ``ticker``, over every table that has a ticker column."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = [
            t
            for (t,) in con.execute(
                "SELECT DISTINCT table_name FROM information_schema.columns "
                "WHERE column_name = 'ticker'"
            ).fetchall()
        ]
        return {
            t: con.execute(f"SELECT count(*) FROM {t} WHERE ticker = ?", [ticker]).fetchone()[0]
            for t in tables
        }


def _stored_elsewhere(warehouse, ticker: str) -> None:
    """Rows of later stages, as the model chain and the universe model write them."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "INSERT INTO forecasts VALUES (?, DATE '2016-02-16', DATE '2016-02-17', "
            "'log_return', 0.01, 'v1')",
            [ticker],
        )
        con.execute(
            "INSERT INTO universe_predictions VALUES (DATE '2016-02-16', DATE '2016-02-16', ?, "
            "'pooled', 0.5, 1)",
            [ticker],
        )


def test_remove_ticker_removes_one_ticker_and_leaves_the_other(data_dir, capsys) -> None:
    csv = Settings.from_env().source.csv_dir
    bars = synthetic_bars(30, seed=1)
    write_csv(csv, "AAA", bars)
    write_csv(csv, "BBB", synthetic_bars(30, seed=2))
    first, last = (bars["date"].iloc[i].date().isoformat() for i in (0, -1))
    args = ["--start", first, "--end", last, "--select", "raw_ohlcv,indicators"]
    assert main(["materialize", "--tickers", "AAA,BBB", *args]) == 0, capsys.readouterr()
    settings = Settings.from_env()
    for ticker in ("AAA", "BBB"):
        _stored_elsewhere(settings.warehouse, ticker)
        for folder in (
            settings.ticker_reports_dir(ticker) / last,
            settings.ticker_models_dir(ticker),
        ):
            folder.mkdir(parents=True)
            (folder / "kept.txt").write_text(ticker)
    kept, before = _rows(settings.warehouse, "AAA"), _rows(settings.warehouse, "BBB")
    assert before["ohlcv"] == before["indicators"] == 30 and before["forecasts"] == 1
    capsys.readouterr()

    # without --yes: what it would remove, and nothing removed
    assert main(["remove-ticker", "BBB"]) == 1
    out = capsys.readouterr().out
    assert "30 row(s) of the warehouse table ohlcv" in out and "nothing removed" in out
    assert f"{settings.ticker_models_dir('BBB')} (1 file(s))" in out
    assert _rows(settings.warehouse, "BBB") == before

    assert main(["remove-ticker", "BBB", "--yes"]) == 0
    out = capsys.readouterr().out
    for table in ("ohlcv", "indicators", "forecasts", "universe_predictions"):
        assert f"{before[table]} row(s) of the warehouse table {table}" in out
    assert set(_rows(settings.warehouse, "BBB").values()) == {0}  # every table
    assert _rows(settings.warehouse, "AAA") == kept
    with DagsterInstance.get() as instance:
        assert instance.get_dynamic_partitions("tickers") == ["AAA"]
    assert not settings.ticker_reports_dir("BBB").exists()
    assert not settings.ticker_models_dir("BBB").exists()
    assert (settings.ticker_reports_dir("AAA") / last / "kept.txt").exists()
    assert (settings.ticker_models_dir("AAA") / "kept.txt").exists()
    assert main(["remove-ticker", "BBB"]) == 2
    assert "'BBB' is not registered and nothing is stored for it" in capsys.readouterr().err


def test_remove_ticker_removes_a_bad_name_without_touching_the_product_folders(
    data_dir, capsys, tmp_path
) -> None:
    settings = Settings.from_env()
    for folder in (settings.reports_dir / "universe", settings.models_dir / "universe"):
        folder.mkdir(parents=True)
    with open_instance(settings) as instance:  # registered before the symbols were checked
        instance.add_dynamic_partitions("tickers", ["..", "universe", "OK"])
    assert main(["remove-ticker", "..", "--yes"]) == 0
    assert main(["remove-ticker", "universe", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "the partition key '..'" in out and "file(s)" not in out
    with DagsterInstance.get() as instance:
        assert instance.get_dynamic_partitions("tickers") == ["OK"]
    assert (settings.reports_dir / "universe").is_dir()
    assert (settings.models_dir / "universe").is_dir()
    # a ticker still on the watchlist would be registered again by its sensor
    settings.watchlist_path.write_text("tickers: [OK]\n")
    assert main(["remove-ticker", "OK", "--yes"]) == 2
    assert "'OK' is on the watchlist" in capsys.readouterr().err


def test_remove_ticker_waits_for_the_runs_that_would_store_it_again(settings) -> None:
    """A run still queued or running over the ticker would write its rows back after the
    removal: the removal is refused, naming the run, until the run has finished."""
    from dagster import DagsterRun, DagsterRunStatus

    from stock_pipeline.cli.removal import ticker_contents

    settings.watchlist_path.write_text("tickers: []\n")
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("tickers", ["AAA", "BBB", "CCC"])
        ranged = {
            "dagster/asset_partition_range_start": "2024|AAA",
            "dagster/asset_partition_range_end": "2025|BBB",
        }
        for run_id, status, tags in (
            ("a" * 32, DagsterRunStatus.STARTED, ranged),
            ("b" * 32, DagsterRunStatus.NOT_STARTED, {"dagster/partition": "2025-01-02|CCC"}),
            ("c" * 32, DagsterRunStatus.SUCCESS, {"dagster/partition": "2025-01-02|AAA"}),
        ):
            instance.add_run(DagsterRun("market_data_job", run_id=run_id, status=status, tags=tags))
        for ticker, run_id in (("AAA", "a"), ("BBB", "a"), ("CCC", "b")):
            with pytest.raises(ValueError, match=f"'{ticker}' is in run.* {run_id * 32}"):
                ticker_contents(instance, settings, ticker)
        instance.report_run_failed(instance.get_run_by_id("a" * 32))
        assert ticker_contents(instance, settings, "BBB").registered  # the run has ended
