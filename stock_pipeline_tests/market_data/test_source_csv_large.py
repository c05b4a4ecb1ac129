"""CsvSource on large files: a bad row deep inside is still named by its line, chunk
boundaries change nothing, and the freshness check's newest bar reuses the parse."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from stock_pipeline.market_data.sources import csv_parse, csv_source
from stock_pipeline.market_data.sources.base import FetchResult, RejectedRow, SourceError
from stock_pipeline.market_data.sources.csv_source import CsvSource

HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"
ROWS = 60_000  # business days from 1800: 1800-01-01 .. about 2030
FIRST, LAST = dt.date(1800, 1, 1), dt.date(2262, 1, 1)


def sessions(n: int) -> list[str]:
    return np.busday_offset("1800-01-01", np.arange(n), roll="forward").astype(str).tolist()


def big_file(folder: Path, replace: dict[int, str]) -> tuple[Path, list[str]]:
    """ROWS good rows; ``replace`` maps a line number (the header is line 1) to its text."""
    days = sessions(ROWS)
    lines = [HEADER] + [f"{d},10,12,9,11,10.5,{i}" for i, d in enumerate(days)]
    for line, text in replace.items():
        lines[line - 1] = text
    path = folder / "BIG.csv"
    path.write_text("\n".join(lines) + "\n")
    return path, days


@pytest.fixture(params=[csv_parse.CHUNK_ROWS, 7_000], ids=["one-chunk", "many-chunks"])
def chunk_rows(request, monkeypatch):
    monkeypatch.setattr(csv_parse, "CHUNK_ROWS", request.param)
    return request.param


def test_bad_rows_deep_inside_are_named_by_their_line(tmp_path, chunk_rows):
    days = sessions(ROWS)
    big_file(
        tmp_path,
        {
            50_000: "2024/13/01,10,12,9,11,10.5,1",  # line 50,000: a date that is not one
            50_001: f"{days[49_999]},10,12,9,eleven,10.5,1",
            56_001: f"{days[21_000]},10,12,9,11,10.5,1",  # repeats line 21,002's date
            7_001: f"{days[6_999]},10,12,9,11,10.5,-5",  # validate_bars: volume < 0
        },
    )
    result = CsvSource(tmp_path).fetch(["BIG"], FIRST, LAST)["BIG"]
    assert isinstance(result, FetchResult)
    assert result.rejected == [
        RejectedRow("BIG", days[6_999], "volume < 0"),
        RejectedRow("BIG", None, "unparseable date '2024/13/01' (line 50000)"),
        RejectedRow("BIG", days[49_999], "non-numeric close 'eleven'"),
        RejectedRow("BIG", days[21_000], "duplicate date"),
    ]
    assert len(result.bars) == ROWS - 4
    # the rows around the bad ones are read as written: volume i on the row of day i
    volume = dict(
        zip(result.bars["date"].dt.strftime("%Y-%m-%d"), result.bars["volume"], strict=True)
    )
    assert volume[days[49_997]] == 49_997.0 and volume[days[50_001]] == 50_001.0
    assert volume[days[21_000]] == 21_000.0  # the first row of a repeated date is kept


def test_a_deep_bad_row_reaches_the_error_with_file_and_line(tmp_path, chunk_rows):
    path, _ = big_file(tmp_path, {50_000: "garbage,10,12,9,11,10.5,1"})
    # a range holding no good bar: the error names the file and the bad row's line
    empty_day = dt.date(2100, 1, 1)
    error = CsvSource(tmp_path).fetch(["BIG"], empty_day, empty_day)["BIG"]
    assert isinstance(error, SourceError)
    assert str(path) in str(error)
    assert "unparseable date 'garbage' (line 50000)" in str(error)


def test_a_row_longer_than_the_header_is_read_like_the_others(tmp_path):
    text = "\n".join(
        [
            HEADER,
            "2024-01-02,10,12,9,11,10.5,1000,extra,cells",
            "2024-01-03,11,13,10.5,12,11.5,2000",
            ",,,,,,,only-beyond-the-header",  # not blank: a row without a date
        ]
    )
    (tmp_path / "X.csv").write_text(text + "\n")
    result = CsvSource(tmp_path).fetch(["X"], FIRST, LAST)["X"]
    assert result.bars["volume"].tolist() == [1000.0, 2000.0]
    assert result.rejected == [RejectedRow("X", None, "missing date (line 4)")]


def test_a_date_beyond_the_supported_range_is_rejected_by_line(tmp_path):
    rows = [HEADER, "2024-01-02,10,12,9,11,10.5,1000", "3024-01-03,11,13,10.5,12,11.5,2000"]
    (tmp_path / "X.csv").write_text("\n".join(rows) + "\n")
    result = CsvSource(tmp_path).fetch(["X"], FIRST, dt.date(9999, 1, 1))["X"]
    assert result.bars["volume"].tolist() == [1000.0]
    assert result.rejected == [
        RejectedRow("X", None, "date 3024-01-03 outside 1677-09-22..2262-04-11 (line 3)")
    ]


def test_newest_bar_reuses_the_fetch_and_sees_a_changed_file(tmp_path, monkeypatch):
    rows = [HEADER, "2024-01-03,11,13,10.5,12,11.5,2000", "2024-01-02,10,12,9,11,10.5,1000"]
    path = tmp_path / "X.csv"
    path.write_text("\n".join(rows) + "\n")
    parses = []
    original = csv_source._parse_file
    monkeypatch.setattr(csv_source, "_parse_file", lambda *a: parses.append(a[1]) or original(*a))
    source = CsvSource(tmp_path)
    assert isinstance(source.fetch(["X"], FIRST, LAST)["X"], FetchResult)
    assert source.newest_bar("X") == dt.date(2024, 1, 3)
    assert parses == [path]  # the freshness check did not parse the file again

    path.write_text("\n".join([*rows, "2024-01-04,12,12.5,11,11.25,10.75,0"]) + "\n")
    assert source.newest_bar("X") == dt.date(2024, 1, 4)
    assert parses == [path, path]
