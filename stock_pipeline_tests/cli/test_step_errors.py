"""A failed ticker's text keeps the context an outer message adds (which file, which line)
and the cause it wraps, on one line, wherever a step turns a failure into text: the
per-item loop, the fan-out to an engine, and the CLI's line for a step that raised."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from dagster import DagsterInstance, asset, materialize

from stock_pipeline.cli.launch import step_errors
from stock_pipeline.compute import InProcess, Stage, fan_out
from stock_pipeline.defs.asset_bodies import per_item
from stock_pipeline.errors import error_text

DAY = dt.date(2024, 1, 2)


def read_closes(path: Path) -> list[float]:
    """A reader that says where it was when a cell would not parse."""
    closes = []
    for number, line in enumerate(path.read_text().splitlines()[1:], start=2):
        try:
            closes.append(float(line.split(",")[1]))
        except ValueError as exc:
            raise ValueError(f"reading {path} line {number}") from exc
    return closes


@pytest.fixture
def bad_csv(tmp_path) -> Path:
    path = tmp_path / "AAPL.csv"
    path.write_text("date,close\n2024-01-02,185.6\n2024-01-03,abc\n")
    return path


def expected(path: Path) -> str:
    return f"reading {path} line 3: could not convert string to float: 'abc'"


def test_the_chain_is_kept_outermost_first(bad_csv) -> None:
    with pytest.raises(ValueError) as err:
        read_closes(bad_csv)
    assert str(err.value) == f"reading {bad_csv} line 3"  # what str() alone kept
    assert error_text(err.value) == expected(bad_csv)


def test_an_error_raised_while_handling_another_keeps_both_and_its_type(bad_csv) -> None:
    def lookup() -> None:
        try:
            read_closes(bad_csv)
        except ValueError:
            raise KeyError("close")  # noqa: B904 (the implicit chain is what is tested)

    with pytest.raises(KeyError) as err:
        lookup()
    assert error_text(err.value) == f"KeyError: 'close': {expected(bad_csv)}"


def test_a_cause_already_in_the_message_is_not_repeated(tmp_path, bad_csv) -> None:
    missing = tmp_path / "MSFT.csv"
    try:
        missing.read_bytes()
    except OSError as exc:  # the sources' way: the reason in their own words
        wrapped = ValueError(f"cannot read {missing}: {exc.strerror}")
        wrapped.__cause__ = exc
    assert error_text(wrapped) == f"cannot read {missing}: No such file or directory"
    try:
        read_closes(bad_csv)
    except ValueError as exc:
        quoted = ValueError(f"unreadable: {exc}: {exc.__cause__}")
        quoted.__cause__ = exc
    assert error_text(quoted) == f"unreadable: {expected(bad_csv)}"


def test_a_suppressed_context_stays_out() -> None:
    try:
        try:
            {}["close"]
        except KeyError:
            raise ValueError("no close column in AAPL.csv") from None
    except ValueError as exc:
        assert error_text(exc) == "no close column in AAPL.csv"


def test_per_item_records_the_chain_for_the_ticker(bad_csv) -> None:
    paths = {"AAPL": bad_csv, "MSFT": bad_csv.with_name("MSFT.csv")}
    paths["MSFT"].write_text("date,close\n2024-01-02,370.9\n")
    done, errors = per_item([(t, DAY) for t in paths], lambda t, _day: read_closes(paths[t]))
    assert done == [[370.9]]
    assert errors == {"AAPL": f"AAPL {DAY}: {expected(bad_csv)}"}


def test_fan_out_records_the_chain_of_a_compute_and_of_a_load(bad_csv) -> None:
    stage = Stage(load=lambda _t, _d: bad_csv, compute=read_closes, store=lambda out: out)
    done, errors = fan_out(InProcess(), {"AAPL": [DAY]}, stage)
    assert done == [] and errors == {"AAPL": f"AAPL {DAY}: {expected(bad_csv)}"}

    def load(ticker: str, day: dt.date) -> list[float]:
        return read_closes(bad_csv)

    stage = Stage(load=load, compute=lambda closes: closes, store=lambda out: out)
    assert fan_out(InProcess(), {"AAPL": [DAY]}, stage)[1] == {
        "AAPL": f"AAPL {DAY}: {expected(bad_csv)}"
    }


def test_the_cli_line_of_a_step_that_raised_keeps_the_chain(bad_csv) -> None:
    @asset
    def closes() -> None:
        try:
            read_closes(bad_csv)
        except ValueError:
            raise KeyError("close")  # noqa: B904 (the implicit chain is what is tested)

    with DagsterInstance.ephemeral() as instance:
        result = materialize([closes], instance=instance, raise_on_error=False)
    assert step_errors(result.all_events) == [f"closes: KeyError: 'close': {expected(bad_csv)}"]
