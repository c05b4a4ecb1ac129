"""What Yahoo's chart endpoint answered while ``yf.download`` ran, and what a failed
symbol's outcome is.

``yf.download`` never raises: a failed symbol is logged ("Failed download") and comes back
as an empty or all-NaN column block. In yfinance 1.7 the per-symbol reasons live in a
per-call context that is discarded (``yf.shared._ERRORS`` is no longer filled), and the
reason text cannot tell a server error from an unknown symbol (both end as "possibly
delisted; no timezone found"). So the source watches the HTTP replies to the chart endpoint
while ``download`` runs and classifies each failed symbol by what the server actually said:

* transport error, 401/403/408/429 or 5xx -> ``TransientSourceError`` (retried,
  only for those symbols, with exponential backoff);
* any other 4xx (404 "No data found, symbol may be delisted") ->
  ``UnknownTickerError``;
* a normal reply with no rows in the range -> ``UnknownTickerError``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from stock_pipeline.market_data.sources.base import (
    SourceError,
    TransientSourceError,
    UnknownTickerError,
)

_CHART_PATH = "/v8/finance/chart/"
_TRANSIENT_STATUSES = {401, 403, 408, 425, 429}


@dataclass(frozen=True)
class ChartReply:
    """One HTTP exchange with the chart endpoint: a status code, or a transport error."""

    status: int | None
    detail: str

    @property
    def transient(self) -> bool:
        return self.status is None or self.status >= 500 or self.status in _TRANSIENT_STATUSES

    def __str__(self) -> str:
        if self.status is None:
            return self.detail
        return f"HTTP {self.status}" + (f": {self.detail}" if self.detail else "")


def _chart_symbol(url: str) -> str | None:
    path = urlsplit(url).path
    if _CHART_PATH not in path:
        return None
    return unquote(path.split(_CHART_PATH, 1)[1].strip("/")).upper() or None


def _error_detail(response: Any) -> str:
    """Yahoo's own reason (``chart.error.description``) when the body carries one."""
    try:
        body = response.json()
        for key in ("chart", "finance"):
            error = (body.get(key) or {}).get("error")
            if error:
                return str(error.get("description") or error.get("code") or error)
    except Exception:  # any unparseable body just has no detail
        return ""
    return ""


@contextmanager
def watch_chart_replies(session: Any) -> Iterator[dict[str, list[ChartReply]]]:
    """Record, per symbol, every reply the chart endpoint gives while the block runs."""
    replies: dict[str, list[ChartReply]] = defaultdict(list)
    own = "request" in vars(session)
    original = session.request

    def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        symbol = _chart_symbol(url)
        try:
            response = original(method, url, *args, **kwargs)
        except Exception as exc:
            if symbol:
                replies[symbol].append(ChartReply(None, f"{type(exc).__name__}: {exc}"))
            raise
        if symbol:
            status = response.status_code
            detail = _error_detail(response) if status >= 400 else ""
            replies[symbol].append(ChartReply(status, detail))
        return response

    session.request = request
    try:
        yield replies
    finally:
        if own:
            session.request = original
        else:
            del session.request


class YfErrorLog(logging.Handler):
    """Collects the "Failed download" lines yfinance logs, for clearer messages."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        with suppress(Exception):  # a bad log record must not break a fetch
            self.lines.append(record.getMessage())

    def about(self, symbol: str) -> str:
        hits = [line for line in self.lines if f"'{symbol}'" in line or f"${symbol}" in line]
        return "; ".join(hits)


def classify_failure(
    ticker: str, replies: list[ChartReply], yf_reason: str, start: dt.date, end: dt.date
) -> SourceError:
    span = f"{start}..{end}"
    transient = [r for r in replies if r.transient]
    if transient:
        return TransientSourceError(
            ticker, f"Yahoo chart request for {span} failed ({transient[-1]})"
        )
    refused = [r for r in replies if r.status is not None and r.status >= 400]
    if refused:
        return UnknownTickerError(
            ticker,
            f"Yahoo Finance has no data for this symbol for {span} "
            f"(unknown or delisted; {refused[-1]})",
        )
    if not replies:
        # No chart request got out (e.g. cookie/crumb trouble): worth another try.
        return TransientSourceError(
            ticker, f"no chart request was made for {span}: {yf_reason or 'no reason logged'}"
        )
    return UnknownTickerError(ticker, f"no bars between {start} and {end}")
