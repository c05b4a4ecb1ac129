"""What the CLI says of rejected rows, bars from the future and failed data checks, and
its exit code: real csv files, a real Dagster instance in DAGSTER_HOME."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import exchange_calendars as xcals
import pandas as pd
from dagster import DagsterInstance

from stock_pipeline.cli.main import main
from stock_pipeline_tests.cli import test_cli
from stock_pipeline_tests.support.synthetic import synthetic_bars, write_csv

# the CLI's fixtures: STOCK_PIPELINE_* variables, DAGSTER_HOME, the csv source's folder
data_dir, home, csv_dir = test_cli.data_dir, test_cli.home, test_cli.csv_dir


def _current_and_next_session() -> tuple[dt.date, dt.date]:
    """The newest NYSE session on or before today in New York, and the one after it."""
    calendar = xcals.get_calendar("XNYS")
    today = pd.Timestamp(dt.datetime.now(ZoneInfo("America/New_York")).date())
    current = calendar.date_to_session(today, direction="previous")
    return current.date(), calendar.next_session(current).date()


def _edit(path, line: int, text: str, insert: bool = False) -> None:
    """Replace line ``line`` (1 is the header) of a csv file, or insert ``text`` there."""
    lines = path.read_text().splitlines()
    lines[line - 1 : line - 1 + (not insert)] = [text]
    path.write_text("\n".join(lines) + "\n")


def test_rejected_rows_future_bars_and_failed_checks_reach_the_cli(home, csv_dir, capsys) -> None:
    current, upcoming = _current_and_next_session()
    bars = synthetic_bars(12, seed=7, start=current - dt.timedelta(days=30))
    bars = bars[bars["date"] <= pd.Timestamp(current)].tail(8).reset_index(drop=True)
    days = [d.date().isoformat() for d in bars["date"]]
    future = pd.concat([bars, bars.tail(1).assign(date=pd.Timestamp(upcoming))])
    future_csv = write_csv(csv_dir, "FUT", future)
    dup = write_csv(csv_dir, "DUP", bars)
    _edit(dup, 5, dup.read_text().splitlines()[3], insert=True)  # line 4 again, as line 5
    bad = write_csv(csv_dir, "BAD", bars)
    _edit(bad, 3, f"{days[1]},-1,12,9,11,11,1000")  # a negative price
    _edit(bad, 5, f"{days[3]},10,9,11,10,10,1000")  # high below low
    _edit(bad, 7, f"{days[5]},,,,,,")  # empty cells

    code = main(
        [
            *("materialize", "--tickers", "DUP,BAD,FUT", "--start", days[0]),
            *("--end", str(upcoming), "--select", "raw_ohlcv,indicators", "--quiet"),
        ]
    )
    out = capsys.readouterr().out
    lines = [line.strip() for line in out.splitlines()]
    assert code == 1, out  # an ERROR-severity check failed
    assert f"DUP: 1 row(s) rejected, first DUP {days[2]}: duplicate date" in lines
    assert (
        f"BAD: 3 row(s) rejected, first BAD {days[1]}: open <= 0; "
        "failed check(s): ohlcv_no_gaps" in lines
    )
    assert (
        f"FUT: 1 row(s) rejected, first FUT {upcoming}: dated after the current session "
        f"{current}: a bar from the future ({future_csv}, line 10)" in lines
    )
    assert "1 data check(s) failed: ohlcv_no_gaps (BAD)" in lines
    assert "FAILED" not in out  # every ticker's bars were stored; only the check failed


def test_an_end_beyond_the_next_session_is_refused(home, capsys) -> None:
    _, upcoming = _current_and_next_session()
    code = main(
        ["materialize", "--tickers", "^GSPC", "--start", "2018-01-02", "--end", "2099-12-31"]
    )
    assert code == 2
    assert (
        f"--end 2099-12-31 is in the future: the last allowed --end is {upcoming}, the next "
        "XNYS session" in capsys.readouterr().err
    )
    with DagsterInstance.get() as instance:
        assert instance.get_runs() == []


def test_a_failed_run_still_names_the_rows_it_rejected(home, csv_dir, capsys) -> None:
    """The run that fails for one ticker says what it rejected for the others (from its
    step failure), and so does the run again without that ticker."""
    bars = synthetic_bars(6, seed=8)
    days = [d.date().isoformat() for d in bars["date"]]
    dup = write_csv(csv_dir, "DUP", bars)
    _edit(dup, 4, dup.read_text().splitlines()[2], insert=True)
    code = main(
        [
            *("materialize", "--tickers", "DUP,GONE", "--start", days[0], "--end", days[-1]),
            *("--select", "raw_ohlcv", "--quiet"),
        ]
    )
    out = capsys.readouterr().out
    lines = [line.strip() for line in out.splitlines()]
    assert code == 1 and "GONE: no file" in out  # GONE.csv does not exist
    assert lines.count(f"DUP: 1 row(s) rejected, first DUP {days[1]}: duplicate date") == 2
