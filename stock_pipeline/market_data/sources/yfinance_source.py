"""Daily bars from Yahoo Finance through ``yfinance``.

``yf.download`` never raises: a failed symbol is logged ("Failed download") and
comes back as an empty or all-NaN column block. In yfinance 1.7 the per-symbol
reasons live in a per-call context that is discarded (``yf.shared._ERRORS`` is
no longer filled), and the reason text cannot tell a server error from an
unknown symbol (both end as "possibly delisted; no timezone found"). So this
source watches the HTTP replies to Yahoo's chart endpoint while ``download``
runs and classifies each failed symbol by what the server actually said:

* transport error, 401/403/408/429 or 5xx -> ``TransientSourceError`` (retried,
  only for those symbols, with exponential backoff);
* any other 4xx (404 "No data found, symbol may be delisted") ->
  ``UnknownTickerError``;
* a normal reply with no rows in the range -> ``UnknownTickerError``.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import pandas as pd
import yfinance as yf

from stock_pipeline.market_data.sources.base import (
    YAHOO_COLUMNS,
    FetchOutcome,
    FetchResult,
    SourceError,
    TransientSourceError,
    UnknownTickerError,
    no_actions,
    validate_bars,
)
from stock_pipeline.settings import SourceSettings

log = logging.getLogger(__name__)

_YF_COLUMNS = YAHOO_COLUMNS
_CHART_PATH = "/v8/finance/chart/"
_TRANSIENT_STATUSES = {401, 403, 408, 425, 429}


@dataclass(frozen=True)
class _Reply:
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
def _watch_chart_replies(session: Any) -> Iterator[dict[str, list[_Reply]]]:
    """Record, per symbol, every reply the chart endpoint gives while the block runs."""
    replies: dict[str, list[_Reply]] = defaultdict(list)
    own = "request" in vars(session)
    original = session.request

    def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        symbol = _chart_symbol(url)
        try:
            response = original(method, url, *args, **kwargs)
        except Exception as exc:
            if symbol:
                replies[symbol].append(_Reply(None, f"{type(exc).__name__}: {exc}"))
            raise
        if symbol:
            status = response.status_code
            detail = _error_detail(response) if status >= 400 else ""
            replies[symbol].append(_Reply(status, detail))
        return response

    session.request = request
    try:
        yield replies
    finally:
        if own:
            session.request = original
        else:
            del session.request


class _YfErrorLog(logging.Handler):
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


def _new_session() -> Any:
    from curl_cffi import requests as curl_requests

    return curl_requests.Session(impersonate="chrome")


def _clear_response_cache() -> None:
    # YfData.cache_get memoises whole responses (a 500 included) per URL+params for the
    # life of the process, which would make every retry replay the first failure.
    cache_get = getattr(getattr(yf.data, "YfData", None), "cache_get", None)
    if cache_get is not None and hasattr(cache_get, "cache_clear"):
        cache_get.cache_clear()


class YFinanceSource:
    name = "yfinance"

    def __init__(
        self,
        settings: SourceSettings,
        session: Any = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.settings = settings
        self._session = session
        self._sleep = sleep

    @property
    def session(self) -> Any:
        if self._session is None:
            self._session = _new_session()
        return self._session

    def fetch(
        self, tickers: Sequence[str], start: dt.date, end: dt.date
    ) -> dict[str, FetchOutcome]:
        """Daily bars dated start..end inclusive, one outcome per requested ticker."""
        wanted = list(dict.fromkeys(tickers))
        size = self.settings.tickers_per_request
        out: dict[str, FetchOutcome] = {}
        for i in range(0, len(wanted), size):
            out.update(self._fetch_batch(wanted[i : i + size], start, end))
        return out

    def _fetch_batch(
        self, batch: list[str], start: dt.date, end: dt.date
    ) -> dict[str, FetchOutcome]:
        attempts = self.settings.retries
        out: dict[str, FetchOutcome] = {}
        pending = batch
        for attempt in range(1, attempts + 1):
            out.update(self._download(pending, start, end))
            pending = [t for t in pending if isinstance(out[t], TransientSourceError)]
            if not pending:
                break
            if attempt == attempts:
                for ticker in pending:
                    reason = str(out[ticker]).removeprefix(f"{ticker}: ")
                    out[ticker] = TransientSourceError(
                        ticker, f"{reason} (gave up after {attempts} attempts)"
                    )
                break
            delay = self.settings.backoff_seconds * 2 ** (attempt - 1)
            log.warning(
                "yfinance: transient failure for %s (attempt %d/%d); retrying in %.1fs",
                ", ".join(pending),
                attempt,
                attempts,
                delay,
            )
            self._sleep(delay)
        return out

    def _download(self, batch: list[str], start: dt.date, end: dt.date) -> dict[str, FetchOutcome]:
        """One ``yf.download`` call for ``batch``; every ticker gets an outcome."""
        session = self.session
        errors = _YfErrorLog()
        yf_logger = logging.getLogger("yfinance")
        _clear_response_cache()
        yf_logger.addHandler(errors)
        try:
            with _watch_chart_replies(session) as replies:
                frame = yf.download(
                    batch,
                    start=start,
                    end=end + dt.timedelta(days=1),  # yfinance's end is exclusive
                    auto_adjust=False,
                    actions=True,  # Dividends and Stock Splits: named when history re-bases
                    group_by="ticker",
                    threads=False,
                    progress=False,
                    ignore_tz=True,
                    timeout=self.settings.timeout_seconds,
                    session=session,
                    multi_level_index=True,
                )
        except Exception as exc:  # download is documented never to raise; be safe
            return {t: TransientSourceError(t, f"yfinance download failed: {exc!r}") for t in batch}
        finally:
            yf_logger.removeHandler(errors)

        out: dict[str, FetchOutcome] = {}
        for ticker in batch:
            symbol = ticker.upper()  # yf.download upper-cases every symbol
            bars, actions = _ticker_frame(frame, symbol)
            if bars.empty:
                out[ticker] = _classify(
                    ticker, replies.get(symbol, []), errors.about(symbol), start, end
                )
                continue
            clean, rejected = validate_bars(ticker, bars, start, end)
            result = FetchResult(ticker, self.name, clean, rejected, actions=actions)
            if clean.empty:
                result.notes.append(f"all {len(bars)} rows between {start} and {end} rejected")
            out[ticker] = result
        return out


_ACTION_COLUMNS = {"Dividends": "dividend", "Stock Splits": "split"}


def _ticker_frame(frame: pd.DataFrame | None, symbol: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """This symbol's block of the download, as BAR_COLUMNS rows (alignment gaps dropped),
    and its dividends and splits as action rows."""
    empty = pd.DataFrame(columns=["date", *_YF_COLUMNS.values()])
    if frame is None or frame.empty or not isinstance(frame.columns, pd.MultiIndex):
        return empty, no_actions()
    if symbol not in frame.columns.get_level_values(0):
        return empty, no_actions()
    block = frame[symbol].reindex(columns=[*_YF_COLUMNS, *_ACTION_COLUMNS])
    # download() aligns all symbols on one date index: a date this symbol lacks is all-NaN.
    block = block.dropna(how="all", subset=list(_YF_COLUMNS))
    index = pd.DatetimeIndex(block.index)
    if index.tz is not None:
        index = index.tz_localize(None)  # keep the exchange-local calendar date
    dates = pd.Series(index.normalize())
    bars = block[list(_YF_COLUMNS)].rename(columns=_YF_COLUMNS).reset_index(drop=True)
    bars.insert(0, "date", dates)
    actions = [
        pd.DataFrame({"date": dates[mask.to_numpy()], "kind": kind, "value": values[mask]})
        for column, kind in _ACTION_COLUMNS.items()
        for values in [
            pd.to_numeric(block[column], errors="coerce").fillna(0).reset_index(drop=True)
        ]
        for mask in [values > 0]
    ]
    return bars, pd.concat(actions, ignore_index=True)


def _classify(
    ticker: str, replies: list[_Reply], yf_reason: str, start: dt.date, end: dt.date
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
