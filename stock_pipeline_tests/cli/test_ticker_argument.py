"""``--tickers`` that names no ticker is an error naming the option, from the command
line's own entry point, and nothing is run or created."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("value", [",", "", " , "])
def test_tickers_that_name_no_ticker_are_an_error_naming_the_option(
    tmp_path, value, monkeypatch, capsys
) -> None:
    # in process: argparse's exit is the whole behaviour (the subprocess path of an error
    # line is test_cli's test_a_failure_is_one_line_without_a_traceback)
    from stock_pipeline.cli.main import main

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("STOCK_PIPELINE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STOCK_PIPELINE_SOURCE", "sample")
    monkeypatch.setenv("STOCK_PIPELINE_WATCHLIST", str(tmp_path / "no-watchlist.yaml"))
    monkeypatch.delenv("STOCK_PIPELINE_CONFIG", raising=False)
    args = ["materialize", "--tickers", value, "--start", "2018-01-02", "--end", "2018-01-05"]
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    out, err = capsys.readouterr()
    assert err.strip().splitlines()[-1] == (
        f"stock-pipeline materialize: error: argument --tickers: {value!r} names no ticker; "
        "give comma-separated symbols, e.g. AAPL,MSFT"
    )
    assert out == ""
    assert not (tmp_path / "dagster_home").exists() and not (tmp_path / "data").exists()


def test_empty_entries_beside_a_ticker_are_dropped() -> None:
    from stock_pipeline.cli.commands import parse_tickers

    assert parse_tickers(" AAPL, ,^GSPC,") == ["AAPL", "^GSPC"]
