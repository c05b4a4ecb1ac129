"""Daily bars from a folder of per-ticker CSV files (``<TICKER>.csv``, Yahoo-style layout).

Each file has a header row and the columns ``Date,Open,High,Low,Close[,Adj Close],Volume``
in any order; other columns are ignored and header names are matched without regard to
case, spaces, underscores, dots or hyphens (``" adj close "``, ``ADJ_CLOSE``,
``Adj. Close`` and ``adjclose`` all read as ``adj_close``). Dates are ISO ``YYYY-MM-DD``,
optionally followed by a time part, which is dropped.

Every cell is read as text and nothing is filled in. A row whose date cannot be read,
whose number is not a number, or that repeats an earlier row's date is refused here; the
rest go through ``validate_bars``, which refuses missing (empty or ``null``) and impossible
values. Refused rows dated inside the requested range (or of unknown date) are reported
as ``RejectedRow``s, in file order.

A file that is missing, unreadable, empty, lacks a required column, or yields no valid
bar in the requested range gives that ticker a ``SourceError`` naming the file; the other
tickers are unaffected.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from stock_pipeline.market_data.sources.base import (
    FetchOutcome,
    FetchResult,
    RejectedRow,
    SourceError,
    UnknownTickerError,
    fetch_each,
    validate_bars,
)

# Normalised header name (lower case; spaces, "_", ".", "-" removed) -> bar column.
_HEADER_ALIASES: dict[str, str] = {
    "date": "date",
    "datetime": "date",
    "timestamp": "date",
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "adjclose": "adj_close",
    "adjustedclose": "adj_close",
    "volume": "volume",
}
_REQUIRED: tuple[str, ...] = ("date", "open", "high", "low", "close", "volume")
_NUMERIC: tuple[str, ...] = ("open", "high", "low", "close", "adj_close", "volume")
# Cell texts that mean "no value" (Yahoo writes "null"); they reach validate_bars as missing.
_MISSING_TOKENS = frozenset({"", "null", "none", "nan", "na", "n/a", "#n/a"})
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ]\S.*)?")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?inf(?:inity)?", re.I)
_MAX_REASONS = 3


def _normalise_header(name: str) -> str:
    return re.sub(r"[\s_.\-]+", "", name).lower()


def _parse_date(text: str) -> dt.date | None:
    match = _ISO_DATE.fullmatch(text.strip())
    if match is None:
        return None
    try:
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def _parse_number(text: str) -> float | None:
    """The cell's value; NaN for a missing one; None for text that is not a number."""
    cell = text.strip()
    if cell.lower() in _MISSING_TOKENS:
        return math.nan
    if not _NUMBER.fullmatch(cell):
        return None
    return float(cell)


@dataclass
class _Parsed:
    frame: pd.DataFrame  # rows that parsed, for validate_bars
    lines: dict[dt.date, int]  # date -> line number, for the rows in ``frame``
    rejected: list[tuple[int, RejectedRow]]  # (line number, row) refused while parsing
    has_adj_close: bool
    data_rows: int


class CsvSource:
    """Reads ``<directory>/<TICKER>.csv`` for each requested ticker."""

    name = "csv"
    live = False

    def __init__(self, directory: Path | str):
        self.directory = Path(directory)

    def fetch(
        self, tickers: Sequence[str], start: dt.date, end: dt.date
    ) -> dict[str, FetchOutcome]:
        return fetch_each(tickers, lambda ticker: self._fetch_one(ticker, start, end))

    def path_for(self, ticker: str) -> Path:
        return self.directory / f"{ticker}.csv"

    def describe(self) -> str:
        return f"it reads <TICKER>.csv files in {self.directory.resolve()}"

    def newest_bar(self, ticker: str) -> dt.date | None:
        """The newest valid bar's date in ``<ticker>.csv`` (None when it has none)."""
        try:
            bars = self._fetch_one(ticker, dt.date.min, dt.date.max).bars
        except SourceError:
            return None
        return bars["date"].iloc[-1].date() if len(bars) else None

    def _fetch_one(self, ticker: str, start: dt.date, end: dt.date) -> FetchResult:
        if not ticker or ticker in (".", "..") or any(c in ticker for c in ("/", "\\", "\0")):
            raise SourceError(ticker, f"not usable as a file name in {self.directory}")
        path = self.path_for(ticker)
        parsed = _parse_file(ticker, path, _read_text(ticker, path))

        if len(parsed.frame):
            bars, checked = validate_bars(ticker, parsed.frame)
        else:
            bars, checked = parsed.frame, []
        located = [(parsed.lines[dt.date.fromisoformat(str(r.date))], r) for r in checked]
        rejected = [row for _, row in sorted(parsed.rejected + located, key=lambda p: p[0])]

        if bars.empty:
            raise SourceError(
                ticker,
                f"all {parsed.data_rows} rows rejected in {path}: {_summary(rejected)}",
            )

        in_range = (bars["date"] >= pd.Timestamp(start)) & (bars["date"] <= pd.Timestamp(end))
        bars = bars[in_range].reset_index(drop=True)
        start_s, end_s = start.isoformat(), end.isoformat()
        reported = [r for r in rejected if r.date is None or start_s <= r.date <= end_s]
        if bars.empty:
            detail = f" ({len(reported)} rejected: {_summary(reported)})" if reported else ""
            raise SourceError(ticker, f"no bars between {start_s} and {end_s} in {path}{detail}")

        notes = []
        if not parsed.has_adj_close:
            notes.append(f"no Adj Close column in {path}: adj_close = close")
        where = {d: f"{path}, line {parsed.lines[d]}" for d in bars["date"].dt.date}
        return FetchResult(ticker, self.name, bars, reported, notes, locations=where)


def _summary(rejected: list[RejectedRow]) -> str:
    text = "; ".join(str(r) for r in rejected[:_MAX_REASONS])
    return text + (" ..." if len(rejected) > _MAX_REASONS else "")


def _read_text(ticker: str, path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        where = "" if path.parent.is_dir() else " (the folder does not exist)"
        raise UnknownTickerError(ticker, f"no file {path}{where}") from exc
    except OSError as exc:
        raise SourceError(ticker, f"cannot read {path}: {exc.strerror or exc}") from exc
    if b"\0" in raw:
        raise SourceError(ticker, f"unreadable {path}: binary data, not a CSV text file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(ticker, f"unreadable {path}: not UTF-8 text (byte {exc.start})") from exc


def _parse_file(ticker: str, path: Path, text: str) -> _Parsed:
    rows = _nonblank_rows(ticker, path, text)
    header_line, header = rows[0]
    columns = _header_columns(ticker, path, header_line, header)
    body = rows[1:]
    if not body:
        raise SourceError(ticker, f"no data rows in {path} (header only)")

    numeric = [c for c in _NUMERIC if c in columns]
    records: dict[str, list] = {c: [] for c in ["date", *numeric]}
    lines: dict[dt.date, int] = {}
    rejected: list[tuple[int, RejectedRow]] = []
    seen: set[dt.date] = set()

    def cell(row: list[str], column: str) -> str:
        i = columns[column]
        return row[i] if i < len(row) else ""

    for line, row in body:
        raw_date = cell(row, "date").strip()
        date = _parse_date(raw_date)
        if date is None:
            reason = f"unparseable date {raw_date!r}" if raw_date else "missing date"
            rejected.append((line, RejectedRow(ticker, None, f"{reason} (line {line})")))
            continue
        values: dict[str, float] = {}
        reason = ""
        for column in numeric:
            value = _parse_number(cell(row, column))
            if value is None:
                reason = f"non-numeric {column} {cell(row, column).strip()!r}"
                break
            values[column] = value
        if not reason and date in seen:
            reason = "duplicate date"
        seen.add(date)
        if reason:
            rejected.append((line, RejectedRow(ticker, date.isoformat(), reason)))
            continue
        lines[date] = line
        records["date"].append(pd.Timestamp(date))
        for column in numeric:
            records[column].append(values[column])

    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(pd.Series(records["date"], dtype="datetime64[ns]")),
            **{c: pd.Series(records[c], dtype="float64") for c in numeric},
        }
    )
    return _Parsed(frame, lines, rejected, "adj_close" in columns, len(body))


def _nonblank_rows(ticker: str, path: Path, text: str) -> list[tuple[int, list[str]]]:
    """(line number, cells) of every row with a non-blank cell; the first is the header."""
    if not text.strip():
        raise SourceError(ticker, f"empty file {path}")
    try:
        rows = [
            (line, row)
            for line, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1)
            if any(cell.strip() for cell in row)
        ]
    except csv.Error as exc:
        raise SourceError(ticker, f"unreadable {path}: {exc}") from exc
    if not rows:
        raise SourceError(ticker, f"empty file {path} (only blank rows)")
    return rows


def _header_columns(ticker: str, path: Path, line: int, header: list[str]) -> dict[str, int]:
    """Bar column -> its position in the header; every required column must be there."""
    columns: dict[str, int] = {}
    for i, name in enumerate(header):
        column = _HEADER_ALIASES.get(_normalise_header(name))
        if column is None:
            continue
        if column in columns:
            raise SourceError(
                ticker,
                f"columns {header[columns[column]]!r} and {name!r} both read as {column} in {path}",
            )
        columns[column] = i
    missing = [c for c in _REQUIRED if c not in columns]
    if missing:
        raise SourceError(
            ticker,
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} in {path} "
            f"(header on line {line}: {','.join(header)[:200]})",
        )
    return columns
