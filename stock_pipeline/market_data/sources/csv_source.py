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

The file is parsed once, vectorized and chunk by chunk (``csv_parse``); the freshness
check's ``newest_bar`` reuses that parse while the file's size and mtime are unchanged.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
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
from stock_pipeline.market_data.sources.csv_parse import ParsedFile, find_header, parse_body

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
_MAX_REASONS = 3
# (file, size, mtime in ns) -> its newest valid bar, from the last parse in this process:
# the freshness check asks for it after the fetch read the same file.
_NEWEST_BARS: dict[tuple[str, int, int], dt.date | None] = {}


def _normalise_header(name: str) -> str:
    return re.sub(r"[\s_.\-]+", "", name).lower()


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
        """The newest valid bar's date in ``<ticker>.csv`` (None when it has none); the
        file is parsed again only if it changed since this process last read it."""
        key = _file_key(self.path_for(ticker))
        if key is not None and key in _NEWEST_BARS:
            return _NEWEST_BARS[key]
        try:
            bars = self._fetch_one(ticker, dt.date.min, dt.date.max).bars
        except SourceError:
            return None
        return bars["date"].iloc[-1].date() if len(bars) else None

    def _fetch_one(self, ticker: str, start: dt.date, end: dt.date) -> FetchResult:
        if not ticker or ticker in (".", "..") or any(c in ticker for c in ("/", "\\", "\0")):
            raise SourceError(ticker, f"not usable as a file name in {self.directory}")
        path = self.path_for(ticker)
        key = _file_key(path)
        parsed = _parse_file(ticker, path, _read_bytes(ticker, path))

        if len(parsed.frame):
            bars, checked = validate_bars(ticker, parsed.frame)
        else:
            bars, checked = parsed.frame, []
        if key is not None:
            _NEWEST_BARS[key] = bars["date"].iloc[-1].date() if len(bars) else None
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


def _file_key(path: Path) -> tuple[str, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return str(path.resolve()), stat.st_size, stat.st_mtime_ns


def _read_bytes(ticker: str, path: Path) -> bytes:
    """The file's bytes, once checked to be UTF-8 text with a non-blank character."""
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
        blank = not raw.decode("utf-8-sig").strip()  # the text itself is not kept
    except UnicodeDecodeError as exc:
        raise SourceError(ticker, f"unreadable {path}: not UTF-8 text (byte {exc.start})") from exc
    if blank:
        raise SourceError(ticker, f"empty file {path}")
    return raw


def _parse_file(ticker: str, path: Path, raw: bytes) -> ParsedFile:
    header = find_header(ticker, path, raw)
    columns = _header_columns(ticker, path, header[0], header[1])
    parsed = parse_body(ticker, path, raw, header, columns)
    if not parsed.data_rows:
        raise SourceError(ticker, f"no data rows in {path} (header only)")
    return parsed


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
