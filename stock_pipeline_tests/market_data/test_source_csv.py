"""CsvSource: per-ticker Yahoo-style CSV files, messy ones included."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from stock_pipeline.market_data.sources.base import (
    BAR_COLUMNS,
    FetchResult,
    RejectedRow,
    SourceError,
    UnknownTickerError,
)
from stock_pipeline.market_data.sources.csv_source import CsvSource

HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"
START, END = dt.date(2000, 1, 1), dt.date(2030, 12, 31)


def write(directory: Path, ticker: str, text: str | bytes) -> Path:
    path = directory / f"{ticker}.csv"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def fetch_one(directory: Path, ticker: str, start=START, end=END):
    return CsvSource(directory).fetch([ticker], start, end)[ticker]


def ok(outcome) -> FetchResult:
    assert isinstance(outcome, FetchResult), f"expected bars, got {outcome!r}"
    return outcome


def failed(outcome) -> SourceError:
    assert isinstance(outcome, SourceError), f"expected an error, got {outcome!r}"
    return outcome


def dates(result: FetchResult) -> list[str]:
    return [d.date().isoformat() for d in result.bars["date"]]


GOOD = [
    "2024-01-02,10,12,9,11,10.5,1000",
    "2024-01-03,11,13,10.5,12,11.5,2000",
    "2024-01-04,12,12.5,11,11.25,10.75,0",
]


# --- happy path -------------------------------------------------------------------------------


def test_happy_path_values(tmp_path):
    write(tmp_path, "AAPL", csv_text(*GOOD))
    result = ok(fetch_one(tmp_path, "AAPL"))

    assert result.ticker == "AAPL"
    assert result.source == "csv"
    assert list(result.bars.columns) == BAR_COLUMNS
    assert result.rejected == []
    assert result.notes == []
    expected = pd.DataFrame(
        {
            "date": pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04"]),
            "open": [10.0, 11.0, 12.0],
            "high": [12.0, 13.0, 12.5],
            "low": [9.0, 10.5, 11.0],
            "close": [11.0, 12.0, 11.25],
            "adj_close": [10.5, 11.5, 10.75],
            "volume": [1000.0, 2000.0, 0.0],
        }
    )
    pd.testing.assert_frame_equal(result.bars, expected, check_dtype=False)
    assert pd.api.types.is_datetime64_any_dtype(result.bars["date"])
    assert result.bars["volume"].dtype == "float64"


def test_three_row_history_is_enough(tmp_path):
    write(tmp_path, "NEW", csv_text(*GOOD))
    result = ok(fetch_one(tmp_path, "NEW"))
    assert dates(result) == ["2024-01-02", "2024-01-03", "2024-01-04"]
    assert len(result.bars) == 3


def test_rows_out_of_order_come_back_sorted(tmp_path):
    write(tmp_path, "X", csv_text(GOOD[2], GOOD[0], GOOD[1]))
    assert dates(ok(fetch_one(tmp_path, "X"))) == ["2024-01-02", "2024-01-03", "2024-01-04"]


@pytest.mark.parametrize("ticker", ["^GSPC", "BRK-B", "BF.B"])
def test_ticker_names_with_punctuation(tmp_path, ticker):
    path = write(tmp_path, ticker, csv_text(*GOOD))
    assert path.name == f"{ticker}.csv"
    result = ok(fetch_one(tmp_path, ticker))
    assert result.ticker == ticker
    assert len(result.bars) == 3


def test_all_punctuated_tickers_in_one_call(tmp_path):
    write(tmp_path, "^GSPC", csv_text(GOOD[0]))
    write(tmp_path, "BRK-B", csv_text(GOOD[0], GOOD[1]))
    write(tmp_path, "BF.B", csv_text(*GOOD))
    out = CsvSource(str(tmp_path)).fetch(["^GSPC", "BRK-B", "BF.B"], START, END)
    assert {t: len(ok(r).bars) for t, r in out.items()} == {"^GSPC": 1, "BRK-B": 2, "BF.B": 3}


def test_crlf_line_endings_and_utf8_bom(tmp_path):
    text = "\ufeff" + csv_text(*GOOD).replace("\n", "\r\n")
    write(tmp_path, "WIN", text.encode("utf-8"))
    result = ok(fetch_one(tmp_path, "WIN"))
    assert len(result.bars) == 3
    assert result.bars["volume"].tolist() == [1000.0, 2000.0, 0.0]


def test_blank_lines_are_skipped(tmp_path):
    write(tmp_path, "X", HEADER + "\n\n" + GOOD[0] + "\n\n" + GOOD[1] + "\n\n")
    result = ok(fetch_one(tmp_path, "X"))
    assert dates(result) == ["2024-01-02", "2024-01-03"]
    assert result.rejected == []


# --- header variants ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "Date,Open,High,Low,Close,Adj Close,Volume",
        "date ,open,high,low,close, adj close ,volume",
        "DATE,OPEN,HIGH,LOW,CLOSE,ADJ_CLOSE,VOLUME",
        "Date,Open,High,Low,Close,Adj. Close,Volume",
        "Timestamp,Open,High,Low,Close,adjclose,Volume",
        " Date , Open , High , Low , Close , Adj_Close , Volume ",
    ],
)
def test_header_variants(tmp_path, header):
    write(tmp_path, "X", csv_text(*GOOD, header=header))
    result = ok(fetch_one(tmp_path, "X"))
    assert result.bars["adj_close"].tolist() == [10.5, 11.5, 10.75]  # not close: mapped
    assert result.bars["close"].tolist() == [11.0, 12.0, 11.25]
    assert result.notes == []


def test_extra_columns_ignored_and_order_free(tmp_path):
    header = "Volume,Symbol,Close,Date,Dividends,Low,High,Adj Close,Open"
    rows = ["1000,X,11,2024-01-02,0.5,9,12,10.5,10", "2000,X,12,2024-01-03,junk,10.5,13,11.5,11"]
    write(tmp_path, "X", csv_text(*rows, header=header))
    result = ok(fetch_one(tmp_path, "X"))
    assert list(result.bars.columns) == BAR_COLUMNS
    assert result.bars.iloc[0].tolist()[1:] == [10.0, 12.0, 9.0, 11.0, 10.5, 1000.0]
    assert result.bars.iloc[1].tolist()[1:] == [11.0, 13.0, 10.5, 12.0, 11.5, 2000.0]
    assert result.rejected == []


def test_no_adj_close_column_uses_close_with_note(tmp_path):
    path = write(
        tmp_path,
        "X",
        csv_text(
            "2024-01-02,10,12,9,11,1000",
            "2024-01-03,11,13,10.5,12,2000",
            header=("Date,Open,High,Low,Close,Volume"),
        ),
    )
    result = ok(fetch_one(tmp_path, "X"))
    assert result.bars["adj_close"].tolist() == [11.0, 12.0]
    assert result.bars["adj_close"].tolist() == result.bars["close"].tolist()
    assert result.notes == [f"no Adj Close column in {path}: adj_close = close"]


def test_date_with_time_part_is_tolerated(tmp_path):
    rows = [
        "2024-01-02 00:00:00,10,12,9,11,10.5,1000",
        "2024-01-03T16:00:00-05:00,11,13,10.5,12,11.5,2000",
    ]
    write(tmp_path, "X", csv_text(*rows))
    result = ok(fetch_one(tmp_path, "X"))
    assert dates(result) == ["2024-01-02", "2024-01-03"]
    assert (result.bars["date"] == result.bars["date"].dt.normalize()).all()


# --- messy rows: each rejected and reported, nothing filled ---------------------------------


def test_missing_fields_rejected(tmp_path):
    rows = [
        GOOD[0],
        "2024-01-03,11,13,,12,11.5,2000",  # empty low
        "2024-01-04,12,12.5,11",  # short row: close, adj close, volume absent
    ]
    write(tmp_path, "X", csv_text(*rows))
    result = ok(fetch_one(tmp_path, "X"))
    assert dates(result) == ["2024-01-02"]
    assert result.rejected == [
        RejectedRow("X", "2024-01-03", "missing low"),
        RejectedRow("X", "2024-01-04", "missing close"),
    ]


def test_yahoo_null_rows_rejected_not_filled(tmp_path):
    rows = [GOOD[0], "2024-01-03,null,null,null,null,null,null", GOOD[2]]
    write(tmp_path, "X", csv_text(*rows))
    result = ok(fetch_one(tmp_path, "X"))
    assert dates(result) == ["2024-01-02", "2024-01-04"]
    assert result.rejected == [RejectedRow("X", "2024-01-03", "missing open")]
    assert not result.bars.isna().any().any()


def test_single_null_volume_rejected(tmp_path):
    write(tmp_path, "X", csv_text(GOOD[0], "2024-01-03,11,13,10.5,12,11.5,null"))
    result = ok(fetch_one(tmp_path, "X"))
    assert dates(result) == ["2024-01-02"]
    assert result.rejected == [RejectedRow("X", "2024-01-03", "missing volume")]


def test_non_numeric_text_rejected(tmp_path):
    rows = [GOOD[0], "2024-01-03,11,13,10.5,twelve,11.5,2000", "2024-01-04,12,12.5,11,11.25,1e,5"]
    write(tmp_path, "X", csv_text(*rows))
    result = ok(fetch_one(tmp_path, "X"))
    assert dates(result) == ["2024-01-02"]
    assert result.rejected == [
        RejectedRow("X", "2024-01-03", "non-numeric close 'twelve'"),
        RejectedRow("X", "2024-01-04", "non-numeric adj_close '1e'"),
    ]


def test_thousands_separator_is_not_guessed(tmp_path):
    write(tmp_path, "X", csv_text(GOOD[0], '2024-01-03,11,13,10.5,12,11.5,"2,000"'))
    result = ok(fetch_one(tmp_path, "X"))
    assert dates(result) == ["2024-01-02"]
    assert result.rejected == [RejectedRow("X", "2024-01-03", "non-numeric volume '2,000'")]


def test_infinite_value_rejected(tmp_path):
    write(tmp_path, "X", csv_text(GOOD[0], "2024-01-03,11,inf,10.5,12,11.5,2000"))
    result = ok(fetch_one(tmp_path, "X"))
    assert dates(result) == ["2024-01-02"]
    assert result.rejected == [RejectedRow("X", "2024-01-03", "non-finite high")]


def test_unparseable_dates_rejected(tmp_path):
    rows = [
        GOOD[0],
        "2024/01/03,11,13,10.5,12,11.5,2000",
        "2024-02-30,11,13,10.5,12,11.5,2000",
        ",11,13,10.5,12,11.5,2000",
    ]
    write(tmp_path, "X", csv_text(*rows))
    result = ok(fetch_one(tmp_path, "X"))
    assert dates(result) == ["2024-01-02"]
    assert result.rejected == [
        RejectedRow("X", None, "unparseable date '2024/01/03' (line 3)"),
        RejectedRow("X", None, "unparseable date '2024-02-30' (line 4)"),
        RejectedRow("X", None, "missing date (line 5)"),
    ]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("2024-01-03,-11,13,10.5,12,11.5,2000", "open <= 0"),
        ("2024-01-03,11,13,10.5,12,0,2000", "adj_close <= 0"),
        ("2024-01-03,11,9,10.5,10.5,10.5,2000", "high below open/close"),  # high < low
        ("2024-01-03,11,13,11.5,12,11.5,2000", "low above open/close"),
        ("2024-01-03,11,13,10.5,12,11.5,-5", "volume < 0"),
    ],
)
def test_impossible_values_rejected(tmp_path, row, reason):
    write(tmp_path, "X", csv_text(GOOD[0], row, GOOD[2]))
    result = ok(fetch_one(tmp_path, "X"))
    assert dates(result) == ["2024-01-02", "2024-01-04"]
    assert result.rejected == [RejectedRow("X", "2024-01-03", reason)]


def test_duplicate_dates_keep_first_reject_later(tmp_path):
    rows = [GOOD[0], GOOD[1], "2024-01-03,50,60,40,55,55,9", GOOD[2]]
    write(tmp_path, "X", csv_text(*rows))
    result = ok(fetch_one(tmp_path, "X"))
    assert dates(result) == ["2024-01-02", "2024-01-03", "2024-01-04"]
    assert result.bars.loc[1, "open"] == 11.0  # the first 2024-01-03 row, not the repeat
    assert result.rejected == [RejectedRow("X", "2024-01-03", "duplicate date")]


def test_duplicate_of_a_bad_row_is_not_promoted(tmp_path):
    # Which of two rows for a date is right is unknown when the first is broken: refuse both.
    rows = [GOOD[0], "2024-01-03,oops,13,10.5,12,11.5,2000", GOOD[1]]
    write(tmp_path, "X", csv_text(*rows))
    result = ok(fetch_one(tmp_path, "X"))
    assert dates(result) == ["2024-01-02"]
    assert result.rejected == [
        RejectedRow("X", "2024-01-03", "non-numeric open 'oops'"),
        RejectedRow("X", "2024-01-03", "duplicate date"),
    ]


def test_rejections_reported_in_file_order(tmp_path):
    rows = [
        "2024-01-05,1,2,0.5,1,1,-1",  # validate_bars: volume < 0
        "bad,1,2,0.5,1,1,1",  # parser: date
        "2024-01-02,x,2,0.5,1,1,1",  # parser: number
        "2024-01-03,1,2,0.5,1,1,1",
    ]
    write(tmp_path, "X", csv_text(*rows))
    result = ok(fetch_one(tmp_path, "X"))
    assert [r.reason for r in result.rejected] == [
        "volume < 0",
        "unparseable date 'bad' (line 3)",
        "non-numeric open 'x'",
    ]


# --- whole-file failures: a SourceError naming the file ------------------------------------


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "empty file"),
        (b"  \n\n \n", "empty file"),
        (b",,,\n,,\n", "empty file"),
        ((HEADER + "\n").encode(), "no data rows"),
        ((HEADER + "\n\n\n").encode(), "no data rows"),
    ],
    ids=["zero-bytes", "whitespace", "blank-cells", "header-only", "header-and-blank-lines"],
)
def test_empty_and_header_only_files(tmp_path, content, fragment):
    path = write(tmp_path, "X", content)
    error = failed(fetch_one(tmp_path, "X"))
    assert not isinstance(error, UnknownTickerError)
    assert str(path) in str(error)
    assert fragment in str(error)
    assert error.ticker == "X"


def test_binary_file(tmp_path):
    path = write(tmp_path, "X", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    error = failed(fetch_one(tmp_path, "X"))
    assert str(path) in str(error)
    assert "binary" in str(error)


def test_non_utf8_garbage(tmp_path):
    path = write(tmp_path, "X", bytes([0xFF, 0xFE, 0x81, 0x9C, 0xC3, 0x28]) * 20)
    error = failed(fetch_one(tmp_path, "X"))
    assert str(path) in str(error)
    assert "not UTF-8" in str(error)


def test_text_garbage_reports_missing_columns(tmp_path):
    path = write(tmp_path, "X", "lorem ipsum dolor\nsit amet\n")
    error = failed(fetch_one(tmp_path, "X"))
    assert str(path) in str(error)
    assert "missing columns date, open, high, low, close, volume" in str(error)


def test_permission_error(tmp_path, monkeypatch):
    path = write(tmp_path, "X", csv_text(*GOOD))
    original = Path.read_bytes

    def deny(self):
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", deny)
    error = failed(fetch_one(tmp_path, "X"))
    assert not isinstance(error, UnknownTickerError)
    assert str(path) in str(error)
    assert "Permission denied" in str(error)


def test_directory_in_place_of_file(tmp_path):
    (tmp_path / "X.csv").mkdir()
    error = failed(fetch_one(tmp_path, "X"))
    assert not isinstance(error, UnknownTickerError)
    assert str(tmp_path / "X.csv") in str(error)


@pytest.mark.parametrize(
    ("header", "missing"),
    [
        ("Date,Open,High,Low,Close,Adj Close", "missing column volume"),
        ("Day,Open,High,Low,Close,Adj Close,Volume", "missing column date"),
        ("Date,Open,Low,Close,Adj Close,Volume", "missing column high"),
        ("Date,Open,Close,Volume", "missing columns high, low"),
    ],
)
def test_missing_required_column_is_named(tmp_path, header, missing):
    n = header.count(",") + 1
    path = write(tmp_path, "X", csv_text(",".join(["1"] * n), header=header))
    error = failed(fetch_one(tmp_path, "X"))
    assert str(path) in str(error)
    assert missing in str(error)


def test_two_columns_for_one_field_is_an_error(tmp_path):
    header = "Date,Open,High,Low,Close,Adj Close,adj_close,Volume"
    path = write(tmp_path, "X", csv_text("2024-01-02,10,12,9,11,10.5,10.4,1000", header=header))
    error = failed(fetch_one(tmp_path, "X"))
    assert str(path) in str(error)
    assert "both read as adj_close" in str(error)


def test_missing_file_is_unknown_ticker(tmp_path):
    error = failed(fetch_one(tmp_path, "NOPE"))
    assert isinstance(error, UnknownTickerError)
    assert str(tmp_path / "NOPE.csv") in str(error)


def test_missing_directory_is_unknown_ticker(tmp_path):
    error = failed(fetch_one(tmp_path / "absent", "X"))
    assert isinstance(error, UnknownTickerError)
    assert str(tmp_path / "absent" / "X.csv") in str(error)
    assert "folder does not exist" in str(error)


@pytest.mark.parametrize("ticker", ["../X", "a/b", ""])
def test_ticker_that_is_not_a_file_name(tmp_path, ticker):
    (tmp_path / "sub").mkdir()
    write(tmp_path, "X", csv_text(*GOOD))
    error = failed(CsvSource(tmp_path / "sub").fetch([ticker], START, END)[ticker])
    assert "not usable as a file name" in str(error)


def test_all_rows_rejected(tmp_path):
    rows = [
        "2024-01-02,null,12,9,11,10.5,1000",
        "2024-01-03,11,13,10.5,12,11.5,-1",
        "2024-01-04,abc,12.5,11,11.25,10.75,0",
        "2024-01-05,-1,12.5,11,11.25,10.75,0",
    ]
    path = write(tmp_path, "X", csv_text(*rows))
    error = failed(fetch_one(tmp_path, "X"))
    assert not isinstance(error, UnknownTickerError)
    message = str(error)
    assert str(path) in message
    assert "all 4 rows rejected" in message
    assert "X 2024-01-02: missing open" in message
    assert "X 2024-01-03: volume < 0" in message
    assert "X 2024-01-04: non-numeric open 'abc'" in message
    assert "2024-01-05" not in message  # only the first few reasons
    assert message.endswith("...")


# --- date range ---------------------------------------------------------------------------


def test_date_filter_is_inclusive(tmp_path):
    rows = [f"2024-01-{d:02d},10,12,9,11,10.5,{d}" for d in (2, 3, 4, 5, 8, 9)]
    write(tmp_path, "X", csv_text(*rows))
    result = ok(fetch_one(tmp_path, "X", dt.date(2024, 1, 3), dt.date(2024, 1, 8)))
    assert dates(result) == ["2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08"]
    assert result.bars["volume"].tolist() == [3.0, 4.0, 5.0, 8.0]


def test_single_day_range(tmp_path):
    write(tmp_path, "X", csv_text(*GOOD))
    day = dt.date(2024, 1, 3)
    assert dates(ok(fetch_one(tmp_path, "X", day, day))) == ["2024-01-03"]


def test_rejections_outside_range_not_reported(tmp_path):
    rows = [
        "2023-12-29,null,12,9,11,10.5,1000",  # before start
        GOOD[0],
        "2024-01-03,11,13,10.5,12,11.5,-1",  # inside
        GOOD[2],
        "2024-01-05,x,12,9,11,10.5,1000",  # after end
        "garbage,11,13,10.5,12,11.5,1",  # unknown date: could be inside, so reported
    ]
    write(tmp_path, "X", csv_text(*rows))
    result = ok(fetch_one(tmp_path, "X", dt.date(2024, 1, 2), dt.date(2024, 1, 4)))
    assert dates(result) == ["2024-01-02", "2024-01-04"]
    assert result.rejected == [
        RejectedRow("X", "2024-01-03", "volume < 0"),
        RejectedRow("X", None, "unparseable date 'garbage' (line 7)"),
    ]


def test_no_bars_in_range_is_an_error(tmp_path):
    path = write(tmp_path, "X", csv_text(*GOOD))
    error = failed(fetch_one(tmp_path, "X", dt.date(2025, 1, 1), dt.date(2025, 12, 31)))
    assert not isinstance(error, UnknownTickerError)
    assert f"no bars between 2025-01-01 and 2025-12-31 in {path}" in str(error)


def test_no_bars_in_range_mentions_rejected_rows_there(tmp_path):
    write(tmp_path, "X", csv_text(GOOD[0], "2024-01-03,11,13,10.5,12,11.5,null"))
    day = dt.date(2024, 1, 3)
    error = failed(fetch_one(tmp_path, "X", day, day))
    assert "no bars between 2024-01-03 and 2024-01-03" in str(error)
    assert "X 2024-01-03: missing volume" in str(error)


# --- isolation --------------------------------------------------------------------------


def test_one_bad_file_leaves_other_tickers_intact(tmp_path):
    write(tmp_path, "GOOD", csv_text(*GOOD))
    write(tmp_path, "^EMPTY", b"")
    write(tmp_path, "BIN", b"\x00\x01\x02\x03")
    write(tmp_path, "NOVOL", csv_text("2024-01-02,1,2,0.5,1,1", header=HEADER.rsplit(",", 1)[0]))
    write(tmp_path, "BF.B", csv_text(GOOD[0], "2024-01-03,null,13,10.5,12,11.5,2000"))
    tickers = ["^EMPTY", "GOOD", "BIN", "MISSING", "NOVOL", "BF.B"]
    out = CsvSource(tmp_path).fetch(tickers, START, END)

    assert list(out) == tickers
    good = ok(out["GOOD"])
    assert dates(good) == ["2024-01-02", "2024-01-03", "2024-01-04"]
    assert good.bars["close"].tolist() == [11.0, 12.0, 11.25]
    assert good.rejected == []
    partial = ok(out["BF.B"])
    assert dates(partial) == ["2024-01-02"]
    assert partial.rejected == [RejectedRow("BF.B", "2024-01-03", "missing open")]

    assert "empty file" in str(failed(out["^EMPTY"]))
    assert "binary" in str(failed(out["BIN"]))
    assert isinstance(out["MISSING"], UnknownTickerError)
    assert "missing column volume" in str(failed(out["NOVOL"]))
    for ticker in ["^EMPTY", "BIN", "MISSING", "NOVOL"]:
        assert str(tmp_path / f"{ticker}.csv") in str(out[ticker])
        assert out[ticker].ticker == ticker
