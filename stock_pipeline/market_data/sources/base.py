"""The one interface every market-data source implements, and the checks all share.

A source turns (tickers, start, end) into daily bars with the columns in
``BAR_COLUMNS``. Each ticker succeeds or fails on its own: ``fetch`` returns a
``FetchResult`` or a ``SourceError`` per ticker, so one bad symbol never takes
the others down.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar, runtime_checkable

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

BAR_COLUMNS: list[str] = ["date", "open", "high", "low", "close", "adj_close", "volume"]
PRICE_COLUMNS: list[str] = ["open", "high", "low", "close", "adj_close"]
#: Yahoo's column names (its downloads, its csv files, the ``arch`` sample) -> ours.
YAHOO_COLUMNS: dict[str, str] = {
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Adj Close": "adj_close",
    "Volume": "volume",
}


class SourceError(Exception):
    """A ticker could not be fetched. The message names the ticker (and file/date where known)."""

    def __init__(self, ticker: str, message: str):
        super().__init__(f"{ticker}: {message}")
        self.ticker = ticker


class UnknownTickerError(SourceError):
    """The provider does not know the symbol, or has no bars for it (delisted)."""


class TransientSourceError(SourceError):
    """A failure worth retrying: network error, rate limit, server error."""


@dataclass(frozen=True)
class RejectedRow:
    ticker: str
    date: str | None
    reason: str

    def __str__(self) -> str:
        return f"{self.ticker} {self.date or '?'}: {self.reason}"


#: A source's corporate actions: ``kind`` "dividend" (cash per share, on the ex-date) or
#: "split" (new shares per old share: 2.0 for a 2:1 split, 0.5 for a 1:2 reverse split).
ACTION_COLUMNS: list[str] = ["date", "kind", "value"]


def no_actions() -> pd.DataFrame:
    return pd.DataFrame({"date": pd.to_datetime([]), "kind": [], "value": []})


@dataclass
class FetchResult:
    """Validated bars for one ticker, plus the rows that were refused and why.

    Bars are in Yahoo's form as of the download: open/high/low/close and volume adjusted
    for the splits known that day, ``adj_close`` for splits and cash dividends.
    ``actions`` lists the splits and dividends the source reported (maybe none).
    """

    ticker: str
    source: str
    bars: pd.DataFrame
    rejected: list[RejectedRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    actions: pd.DataFrame = field(default_factory=no_actions)
    #: date -> where the bar was read ("<file>, line <n>"), for sources that read files
    locations: dict[dt.date, str] = field(default_factory=dict)


FetchOutcome = FetchResult | SourceError


@runtime_checkable
class MarketDataSource(Protocol):
    """What the product asks of a source (ingest, the freshness check, ``add-ticker``)."""

    #: The registry's name for it, stored with every bar it delivered.
    name: str
    #: Publishes a new bar every session (the exchange calendar says which is due); a source
    #: that is not live holds a finished history (the offline sample, csv files).
    live: bool

    def fetch(
        self, tickers: Sequence[str], start: dt.date, end: dt.date
    ) -> Mapping[str, FetchOutcome]:
        """Daily bars dated start..end inclusive, one outcome per requested ticker."""
        ...

    def newest_bar(self, ticker: str) -> dt.date | None:
        """The newest bar a source that is not live holds for ``ticker`` (None: it holds
        none). A live source answers None without asking: its newest is the calendar's."""
        ...

    def describe(self) -> str:
        """What the source serves, for a message saying a ticker is not in it."""
        ...


def validate_bars(
    ticker: str, frame: pd.DataFrame, start: dt.date | None = None, end: dt.date | None = None
) -> tuple[pd.DataFrame, list[RejectedRow]]:
    """Keep only rows that are complete and physically possible; report the others.

    ``frame`` has ``BAR_COLUMNS`` (``adj_close`` may be absent: it then equals
    ``close``, the price a file without adjustments gives). Nothing is filled
    in: a row with a missing or impossible value is dropped and reported. Whether a bar is
    plausible (not from the future, not a typo's jump) is ``plausibility.screened``'s to
    say, applied to every source's result before it is stored.
    """
    df = frame.copy()
    if "adj_close" not in df.columns:
        df["adj_close"] = df["close"]
    df = df[BAR_COLUMNS]
    df["date"] = pd.to_datetime(df["date"], errors="coerce")
    for col in [*PRICE_COLUMNS, "volume"]:
        df[col] = pd.to_numeric(df[col], errors="coerce")

    reasons = pd.Series("", index=df.index, dtype=object)

    def flag(mask: pd.Series, reason: str) -> None:
        mask = mask.fillna(False).astype(bool) & (reasons == "")
        reasons[mask] = reason

    flag(df["date"].isna(), "unparseable date")
    for col in [*PRICE_COLUMNS, "volume"]:
        flag(df[col].isna(), f"missing {col}")
        flag(~np.isfinite(df[col].astype(float)), f"non-finite {col}")
    for col in PRICE_COLUMNS:
        flag(df[col] <= 0, f"{col} <= 0")
    flag(df["volume"] < 0, "volume < 0")
    flag(df["low"] > df[["open", "close"]].min(axis=1), "low above open/close")
    flag(df["high"] < df[["open", "close"]].max(axis=1), "high below open/close")
    flag(df["date"].duplicated(keep="first"), "duplicate date")

    rejected = [
        RejectedRow(
            ticker,
            None if pd.isna(df.at[i, "date"]) else df.at[i, "date"].date().isoformat(),
            reasons[i],
        )
        for i in df.index[reasons != ""]
    ]
    clean = df[reasons == ""].copy()
    clean["date"] = clean["date"].dt.normalize()
    if start is not None:
        clean = clean[clean["date"] >= pd.Timestamp(start)]
    if end is not None:
        clean = clean[clean["date"] <= pd.Timestamp(end)]
    clean["volume"] = clean["volume"].astype("float64")
    clean = clean.sort_values("date").reset_index(drop=True)
    return clean, rejected


def split_adjusted(frame: pd.DataFrame, ratio: pd.Series) -> pd.DataFrame:
    """Raw bars (as traded that day) in Yahoo's form: prices divided and volume multiplied
    by the product of the split ratios of the later rows (``ratio`` is 1 on other days)."""
    later = ratio[::-1].cumprod()[::-1].shift(-1, fill_value=1.0)
    out = frame.copy()
    for column in ["open", "high", "low", "close"]:
        out[column] = frame[column] / later
    out["volume"] = frame["volume"] * later
    return out


def fetch_each(
    tickers: Sequence[str], fetch_one: Callable[[str], FetchResult]
) -> dict[str, FetchOutcome]:
    """``fetch_one`` per ticker; a ``SourceError`` becomes that ticker's outcome."""
    out: dict[str, FetchOutcome] = {}
    for ticker in tickers:
        try:
            out[ticker] = fetch_one(ticker)
        except SourceError as exc:
            log.warning("%s", exc)
            out[ticker] = exc
    return out


T = TypeVar("T")


def with_retries(
    call: Callable[[], T],
    *,
    ticker: str,
    attempts: int,
    backoff_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``call``, retrying ``TransientSourceError`` with exponential backoff."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except TransientSourceError as exc:
            if attempt == attempts:
                raise
            delay = backoff_seconds * 2 ** (attempt - 1)
            log.warning("%s (attempt %d/%d); retrying in %.1fs", exc, attempt, attempts, delay)
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
