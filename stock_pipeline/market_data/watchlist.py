"""The declared universe: ``watchlist.yaml`` (ticker, optional start date, optional source).

Example::

    tickers:
      - ticker: AAPL
      - ticker: ^GSPC
        start: 2010-01-04
        source: sample
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import yaml

from stock_pipeline.settings import SOURCE_NAMES

FORBIDDEN_KEY_CHARACTERS = "|,[]"


def check_symbol(ticker: str) -> str:
    """A ticker usable as a Dagster partition key, or a ValueError that says why not."""
    symbol = str(ticker).strip()
    if not symbol:
        raise ValueError("empty ticker symbol")
    bad = sorted({c for c in symbol if c in FORBIDDEN_KEY_CHARACTERS or c.isspace()})
    if bad:
        raise ValueError(
            f"ticker {ticker!r} contains {' '.join(repr(c) for c in bad)}: Dagster partition "
            f"keys cannot hold {' '.join(FORBIDDEN_KEY_CHARACTERS)} or whitespace"
        )
    return symbol


@dataclass(frozen=True)
class WatchlistEntry:
    ticker: str
    start: dt.date | None = None
    source: str | None = None


def load_watchlist(path: Path) -> list[WatchlistEntry]:
    """Entries of the watchlist file; a ValueError names the file and the bad entry."""
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, ValueError, yaml.YAMLError) as exc:  # ValueError: a date like 02-30
        raise ValueError(f"watchlist {path}: cannot read: {exc}") from exc
    items = data.get("tickers") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValueError(f"watchlist {path}: expected a 'tickers:' list")
    entries: dict[str, WatchlistEntry] = {}
    for n, item in enumerate(items, start=1):
        item = {"ticker": item} if isinstance(item, str) else item
        if not isinstance(item, dict) or "ticker" not in item:
            raise ValueError(f"watchlist {path}: entry {n} needs a 'ticker'")
        try:
            ticker = check_symbol(item["ticker"])
            start = item.get("start")
            if start is not None and not isinstance(start, dt.date):
                start = dt.date.fromisoformat(str(start))
            source = item.get("source")
            if source is not None and source not in SOURCE_NAMES:
                raise ValueError(f"unknown source {source!r}; use one of {SOURCE_NAMES}")
        except ValueError as exc:
            raise ValueError(f"watchlist {path}: entry {n}: {exc}") from exc
        entries[ticker] = WatchlistEntry(ticker, start, source)
    return list(entries.values())


def watchlist_entries(path: Path) -> list[WatchlistEntry]:
    """Entries of the watchlist file ([] when there is none)."""
    return load_watchlist(path) if Path(path).exists() else []


def watched_tickers(registered: list[str], path: Path) -> list[str]:
    """Registered tickers still on the watchlist (all registered ones if there is none)."""
    if not Path(path).exists():
        return list(registered)
    listed = {e.ticker for e in load_watchlist(path)}
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
