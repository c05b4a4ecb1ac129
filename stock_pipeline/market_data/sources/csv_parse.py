"""One csv file of daily bars parsed once, chunk by chunk, with vectorized cell checks.

pandas' C tokenizer splits the file into text cells ``CHUNK_ROWS`` records at a time; each
chunk's cells become float64 and datetime64 arrays at once when the whole column is plain
(digits, signs, dots, exponents; ``YYYY-MM-DD`` dates), and cell by cell, with the exact
rules below, only in a chunk column that is not. Memory is the file's bytes, one chunk of
text cells and the numeric arrays: a bounded multiple of the file's size.

The rules, which every error message depends on: a record whose cells are all blank is
skipped (its line still counts); the first other record is the header. A cell is a number
when its stripped text matches ``_NUMBER``; ``_MISSING_TOKENS`` mean "no value" (NaN, which
``validate_bars`` then refuses). Line numbers count csv records from 1, the header's
included, as Python's ``csv`` module does.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from stock_pipeline.market_data.sources.base import RejectedRow, SourceError

CHUNK_ROWS = 100_000
_NUMERIC: tuple[str, ...] = ("open", "high", "low", "close", "adj_close", "volume")
# Cell texts that mean "no value" (Yahoo writes "null"); they reach validate_bars as missing.
_MISSING_TOKENS = frozenset({"", "null", "none", "nan", "na", "n/a", "#n/a"})
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ]\S.*)?")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?inf(?:inity)?", re.I)
# float() accepts what _NUMBER does, and also underscores and nan spellings: a column
# holding none of these characters may be converted whole by float().
_NOT_PLAIN = ("_", "n", "N")
# datetime64[ns], the frame's date type, spans these days only.
_FIRST_DAY, _LAST_DAY = np.datetime64("1677-09-22", "D"), np.datetime64("2262-04-11", "D")
_DIGIT_POSITIONS = [0, 1, 2, 3, 5, 6, 8, 9]


@dataclass
class ParsedFile:
    frame: pd.DataFrame  # rows that parsed, for validate_bars
    lines: dict[dt.date, int]  # date -> line number, for the rows in ``frame``
    rejected: list[tuple[int, RejectedRow]]  # (line number, row) refused while parsing
    has_adj_close: bool
    data_rows: int  # non-blank records after the header


def parse_date(text: str) -> dt.date | None:
    match = _ISO_DATE.fullmatch(text.strip())
    if match is None:
        return None
    try:
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def parse_number(text: str) -> float | None:
    """The cell's value; NaN for a missing one; None for text that is not a number."""
    cell = text.strip()
    if cell.lower() in _MISSING_TOKENS:
        return math.nan
    if not _NUMBER.fullmatch(cell):
        return None
    return float(cell)


def find_header(ticker: str, path: Path, raw: bytes) -> tuple[int, list[str], int]:
    """(record number, cells, physical lines up to it) of the first non-blank record."""
    text = io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    try:
        for record, row in enumerate(reader, start=1):
            if any(cell.strip() for cell in row):
                return record, row, reader.line_num
    except csv.Error as exc:
        raise SourceError(ticker, f"unreadable {path}: {exc}") from exc
    raise SourceError(ticker, f"empty file {path} (only blank rows)")


def parse_body(
    ticker: str, path: Path, raw: bytes, header: tuple[int, list[str], int], columns: dict
) -> ParsedFile:
    """Every record after the header: the rows that parsed, and those refused, by line."""
    header_record, header_cells, header_lines = header
    width = len(header_cells)
    try:
        parts = _chunks(ticker, path, raw, header_lines, width, header_record, columns)
    except _RaggedRows:  # a record longer than the header: tokenize again, wide enough
        width = _widest_record(raw)
        parts = _chunks(ticker, path, raw, header_lines, width, header_record, columns)
    numeric = [c for c in _NUMERIC if c in columns]
    return _assemble(ticker, parts, numeric, "adj_close" in columns)


class _RaggedRows(Exception):
    pass


@dataclass
class _Chunk:
    lines: np.ndarray  # int64 record numbers of the chunk's non-blank rows
    dates: np.ndarray  # datetime64[D]; NaT where the date was refused
    values: dict[str, np.ndarray]  # float64 per numeric column
    rejected: list[tuple[int, RejectedRow]]  # refused for the date or a number
    number_ok: np.ndarray  # bool: every number parsed


def _chunks(
    ticker: str, path: Path, raw: bytes, skip: int, width: int, first: int, columns: dict
) -> list[_Chunk]:
    offset, parts = first + 1, []
    try:
        with warnings.catch_warnings():
            # pandas drops a record's cells beyond ``width`` with only a warning: make it an error
            warnings.simplefilter("error", pd.errors.ParserWarning)
            reader = pd.read_csv(
                io.BytesIO(raw),
                encoding="utf-8-sig",
                header=None,
                skiprows=skip,
                names=list(range(width)),
                index_col=False,
                dtype=object,
                na_filter=False,  # every cell stays text: missing tokens are ours to decide
                skip_blank_lines=False,  # a blank line is a record: line numbers stay right
                chunksize=CHUNK_ROWS,
                engine="c",
            )
            for chunk in reader:
                lines = np.arange(offset, offset + len(chunk))
                parts.append(_parse_chunk(ticker, chunk, lines, columns))
                offset += len(chunk)
    except pd.errors.EmptyDataError:  # nothing after the header
        return []
    except pd.errors.ParserWarning as exc:
        raise _RaggedRows from exc
    except pd.errors.ParserError as exc:
        if "fields in line" in str(exc):
            raise _RaggedRows from exc
        raise SourceError(ticker, f"unreadable {path}: {exc}") from exc
    return parts


def _widest_record(raw: bytes) -> int:
    text = io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8-sig", newline="")
    return max(len(row) for row in csv.reader(text))


def _parse_chunk(ticker: str, chunk: pd.DataFrame, lines: np.ndarray, columns: dict) -> _Chunk:
    date_cells = chunk[columns["date"]].to_numpy()
    keep = ~_blank_rows(chunk, date_cells)
    chunk, lines, date_cells = chunk[keep], lines[keep], date_cells[keep]
    dates, date_reasons = _dates(date_cells)
    rejected = [
        (int(lines[i]), RejectedRow(ticker, None, f"{reason} (line {lines[i]})"))
        for i, reason in date_reasons.items()
    ]
    values: dict[str, np.ndarray] = {}
    number_reason: dict[int, str] = {}
    for column in (c for c in _NUMERIC if c in columns):
        cells = chunk[columns[column]].to_numpy()
        values[column], bad = _numbers(cells)
        for i in np.flatnonzero(bad):
            number_reason.setdefault(int(i), f"non-numeric {column} {cells[i].strip()!r}")
    number_ok = np.ones(len(lines), dtype=bool)
    for i, reason in sorted(number_reason.items()):
        number_ok[i] = False
        if not np.isnat(dates[i]):
            rejected.append((int(lines[i]), RejectedRow(ticker, str(dates[i]), reason)))
    return _Chunk(lines, dates, values, rejected, number_ok)


def _blank_rows(chunk: pd.DataFrame, date_cells: np.ndarray) -> np.ndarray:
    """Rows whose every cell is blank (a blank row has a blank date: look only there)."""
    blank = np.zeros(len(chunk), dtype=bool)
    candidates = (date_cells == "") | np.char.isspace(date_cells.astype(str))
    for i in np.flatnonzero(candidates):
        blank[i] = all(not cell.strip() for cell in chunk.iloc[i])
    return blank


def _dates(cells: np.ndarray) -> tuple[np.ndarray, dict[int, str]]:
    """datetime64[D] per cell (NaT where refused) and the reason of each refused one."""
    days = _plain_dates(cells)
    if days is None:
        parsed = [parse_date(cell) for cell in cells]
        days = np.array([np.datetime64("NaT") if d is None else d for d in parsed], "M8[D]")
    reasons: dict[int, str] = {}
    for i in np.flatnonzero(np.isnat(days)):
        raw = cells[i].strip()
        reasons[int(i)] = f"unparseable date {raw!r}" if raw else "missing date"
    for i in np.flatnonzero((days < _FIRST_DAY) | (days > _LAST_DAY)):
        reasons[int(i)] = f"date {days[i]} outside {_FIRST_DAY}..{_LAST_DAY}"
        days[i] = np.datetime64("NaT")
    return days, reasons


def _plain_dates(cells: np.ndarray) -> np.ndarray | None:
    """The days when every cell is exactly ``DDDD-DD-DD`` (ASCII digits) and a real date."""
    if not len(cells):
        return np.array([], "M8[D]")
    text = cells.astype(str)  # "<U10" when the longest cell has 10 characters
    if text.dtype.itemsize != 40:  # a shorter cell ends in NUL codes: refused below
        return None
    codes = text.view(np.uint32).reshape(len(text), 10)
    digits = codes[:, _DIGIT_POSITIONS]
    if not (((digits >= 48) & (digits <= 57)).all() and (codes[:, [4, 7]] == 45).all()):
        return None
    try:
        return text.astype("M8[D]")
    except ValueError:  # a day that does not exist (2024-02-30): cell by cell
        return None


def _numbers(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float64 per cell (NaN for a missing one) and where a cell is not a number."""
    joined = "".join(cells)
    if not any(ch in joined for ch in _NOT_PLAIN):
        try:
            return cells.astype(np.float64), np.zeros(len(cells), dtype=bool)
        except ValueError:  # an empty or malformed cell: cell by cell
            pass
    parsed = [parse_number(cell) for cell in cells]
    bad = np.array([v is None for v in parsed], dtype=bool)
    values = np.array([math.nan if v is None else v for v in parsed], dtype=np.float64)
    return values, bad


def _assemble(ticker: str, parts: list[_Chunk], numeric: list[str], has_adj: bool) -> ParsedFile:
    lines = np.concatenate([p.lines for p in parts]) if parts else np.array([], np.int64)
    days = np.concatenate([p.dates for p in parts]) if parts else np.array([], "M8[D]")
    number_ok = np.concatenate([p.number_ok for p in parts]) if parts else np.array([], bool)
    rejected = [r for p in parts for r in p.rejected]
    dated = ~np.isnat(days)
    # a date seen before (in a row refused for a number or not) is a duplicate
    repeat = np.zeros(len(days), dtype=bool)
    repeat[dated] = pd.Series(days[dated]).duplicated(keep="first").to_numpy()
    for i in np.flatnonzero(repeat & number_ok):
        rejected.append((int(lines[i]), RejectedRow(ticker, str(days[i]), "duplicate date")))
    kept = dated & number_ok & ~repeat
    frame = pd.DataFrame(
        {
            "date": pd.Series(days[kept].astype("M8[ns]")),
            **{
                c: pd.Series(np.concatenate([p.values[c] for p in parts])[kept], dtype="float64")
                for c in numeric
            },
        }
    )
    kept_days = days[kept].astype(object)  # datetime.date
    line_of = dict(zip(kept_days, lines[kept].tolist(), strict=True))
    return ParsedFile(frame, line_of, rejected, has_adj, len(lines))
