"""The declared universe: ``watchlist.yaml`` (ticker, optional start date, optional source).

Example::

    tickers:
      - ticker: AAPL
      - ticker: ^GSPC
        start: 2010-01-04
        source: sample

A bad entry (no ticker, a symbol that cannot be one, a date that does not exist, an
unknown source, a key an entry does not have) is skipped with a line naming the file,
the entry and the reason; the good entries go on. Only a file that cannot be read at
all, or that holds a key other than ``tickers``, is an error.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from stock_pipeline.settings import SOURCE_NAMES
from stock_pipeline.settings.checks import did_you_mean

FORBIDDEN_KEY_CHARACTERS = "|,[]"
#: The characters real symbols use: ``^GSPC``, ``BRK-B``, ``BF.B``, ``EURUSD=X``,
#: ``0700.HK``, ``M&M.NS``. A symbol starts with a letter, a digit or ``^``: never with a
#: ``.`` (``.`` and ``..`` are folders) or a ``-`` (a command line would read an option).
SYMBOL_CHARACTERS = "letters, digits and . - ^ = _ &"
SYMBOL_PATTERN = re.compile(r"[A-Za-z0-9^][A-Za-z0-9.\-^=_&]*")
_ALLOWED = re.compile(r"[A-Za-z0-9.\-^=_&]")
MAX_SYMBOL_LENGTH = 20
#: Names the product's own folders use (``reports/universe`` is the pooled model's).
RESERVED_SYMBOLS = frozenset({"universe", ".", ".."})


def check_symbol(ticker: str) -> str:
    """A ticker usable as a Dagster partition key and a folder name, or a ValueError that
    names the ticker and the rule it breaks."""
    symbol = str(ticker).strip()
    if not symbol:
        raise ValueError("empty ticker symbol")
    if symbol.lower() in RESERVED_SYMBOLS:
        raise ValueError(
            f"ticker {symbol!r} is a reserved name ({', '.join(sorted(RESERVED_SYMBOLS))}, "
            "in any case: the product's own folders)"
        )
    bad = sorted({c for c in symbol if not _ALLOWED.fullmatch(c)})
    if bad:
        forbidden = [c for c in bad if c in FORBIDDEN_KEY_CHARACTERS]
        why = (
            f" (Dagster partition keys cannot hold {' '.join(FORBIDDEN_KEY_CHARACTERS)})"
            if forbidden
            else ""
        )
        raise ValueError(
            f"ticker {symbol!r} contains {' '.join(repr(c) for c in bad)}: a symbol holds "
            f"only {SYMBOL_CHARACTERS}{why}"
        )
    if not SYMBOL_PATTERN.fullmatch(symbol):
        raise ValueError(f"ticker {symbol!r} must start with a letter, a digit or ^")
    if len(symbol) > MAX_SYMBOL_LENGTH:
        raise ValueError(
            f"ticker {symbol[:MAX_SYMBOL_LENGTH]!r}... is {len(symbol)} characters long; "
            f"a symbol has at most {MAX_SYMBOL_LENGTH}"
        )
    return symbol


@dataclass(frozen=True)
class WatchlistEntry:
    ticker: str
    start: dt.date | None = None
    source: str | None = None
    number: int = field(default=0, compare=False)  # its place in the file (1-based)


@dataclass(frozen=True)
class SkippedEntry:
    """An entry of the file that is not used, and why."""

    path: Path
    number: int  # 1-based, in the order of the file
    ticker: object  # what the entry names, if anything
    reason: str

    def __str__(self) -> str:
        named = f" ({self.ticker!r})" if self.ticker is not None else ""
        return f"watchlist {self.path}: entry {self.number}{named}: {self.reason}"


@dataclass
class Watchlist:
    entries: list[WatchlistEntry] = field(default_factory=list)
    skipped: list[SkippedEntry] = field(default_factory=list)


class _DatesAsText(yaml.SafeLoader):
    """YAML without its implicit dates: ``2020-02-30`` reaches the entry's own check (which
    names the entry) instead of failing the whole file."""


_DatesAsText.add_constructor(
    "tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node)
)


def read_watchlist(path: Path) -> Watchlist:
    """The good entries of the file and the skipped ones; a ValueError when the file
    cannot be read or holds no ``tickers:`` list."""
    try:
        data = yaml.load(Path(path).read_text(), Loader=_DatesAsText) or {}
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ValueError(f"watchlist {path}: cannot read: {exc}") from exc
    items = data.get("tickers") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValueError(f"watchlist {path}: expected a 'tickers:' list")
    unknown = sorted(map(str, set(data) - {"tickers"}))
    if unknown:  # a misspelt list would be silently unwatched
        raise ValueError(
            f"watchlist {path}: unknown key {unknown[0]!r}" + did_you_mean(unknown[0], ["tickers"])
        )
    watchlist, seen = Watchlist(), set()
    for number, item in enumerate(items, start=1):
        item = {"ticker": item} if not isinstance(item, dict) else item
        try:
            entry = _entry(item, number)
        except ValueError as exc:
            watchlist.skipped.append(SkippedEntry(Path(path), number, item.get("ticker"), str(exc)))
            continue
        if entry.ticker not in seen:  # the first entry of a ticker listed twice holds
            seen.add(entry.ticker)
            watchlist.entries.append(entry)
    return watchlist


#: What an entry may say.
ENTRY_KEYS = ("ticker", "start", "source")


def _entry(item: dict, number: int) -> WatchlistEntry:
    for key in item:
        if key not in ENTRY_KEYS:  # ``strat:`` would otherwise fetch from the default start
            raise ValueError(
                f"unknown key {key!r}"
                + did_you_mean(str(key), ENTRY_KEYS)
                + f"; an entry has {', '.join(ENTRY_KEYS)}"
            )
    ticker = item.get("ticker")
    if not isinstance(ticker, str | int) or isinstance(ticker, bool):
        # ``ticker: null`` or a missing ticker would otherwise become the symbol "None"
        raise ValueError("needs a 'ticker' symbol" if ticker is None else "ticker is not text")
    symbol = check_symbol(str(ticker))
    start = item.get("start")
    if start is not None:
        try:
            start = dt.date.fromisoformat(str(start))
        except ValueError as exc:
            raise ValueError(f"start {start!r} is not a YYYY-MM-DD date: {exc}") from None
    source = item.get("source")
    if source is not None and source not in SOURCE_NAMES:
        raise ValueError(f"unknown source {source!r}; use one of {SOURCE_NAMES}")
    return WatchlistEntry(symbol, start, source, number)


def split_not_due(
    entries: list[WatchlistEntry], path: Path, latest_due: dt.date
) -> tuple[list[WatchlistEntry], list[SkippedEntry]]:
    """The entries whose history can be fetched now, and those whose ``start`` is after
    the latest due session (no bar exists yet: they are taken once it is due)."""
    due, later = [], []
    for entry in entries:
        if entry.start is not None and entry.start > latest_due:
            reason = f"start {entry.start} is after the latest due session {latest_due}"
            later.append(SkippedEntry(Path(path), entry.number, entry.ticker, reason))
        else:
            due.append(entry)
    return due, later


def load_watchlist(path: Path) -> list[WatchlistEntry]:
    """Every entry of the watchlist file; a ValueError names the file and the first bad
    entry (``read_watchlist`` skips bad entries instead)."""
    watchlist = read_watchlist(path)
    if watchlist.skipped:
        raise ValueError(str(watchlist.skipped[0]))
    return watchlist.entries


def watchlist_entries(path: Path) -> list[WatchlistEntry]:
    """The good entries of the watchlist file ([] when there is none)."""
    return read_watchlist(path).entries if Path(path).exists() else []


def watched_tickers(registered: list[str], path: Path) -> list[str]:
    """Registered tickers still on the watchlist (all registered ones if there is none);
    a skipped entry is not watched (the watchlist sensor says why on every tick)."""
    if not Path(path).exists():
        return list(registered)
    listed = {e.ticker for e in read_watchlist(path).entries}
    return [t for t in registered if t in listed]


def sources_for(tickers: list[str], default: str, path: Path) -> dict[str, list[str]]:
    """Source name -> tickers: the watchlist's per-ticker source, else ``default``."""
    try:
        chosen = {e.ticker: e.source for e in watchlist_entries(path) if e.source}
    except ValueError:
        chosen = {}  # a broken watchlist is reported by its sensor, not here
    groups: dict[str, list[str]] = {}
    for ticker in tickers:
        groups.setdefault(chosen.get(ticker, default), []).append(ticker)
    return groups
