"""Alpha Vantage daily bars (``TIME_SERIES_DAILY_ADJUSTED``, one HTTP request per ticker).

The API key is a secret: it only ever travels in the request's query string. It
is never logged, never put into an exception message and never returned; every
text that could carry it (a URL in a ``requests`` error, a server message) is
redacted first. Alpha Vantage answers errors with HTTP 200 and a JSON body, so
the body decides what happened:

* ``{"Error Message": "Invalid API call ..."}``: unknown symbol (``UnknownTickerError``).
* ``{"Note": ...}`` / ``{"Information": "... rate limit ..."}``: throttled, retried with
  exponential backoff (``TransientSourceError``).
* any other ``Information`` (invalid key, premium endpoint): ``SourceError``, not retried.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import requests

from stock_pipeline.market_data.sources.base import (
    FetchOutcome,
    FetchResult,
    SourceError,
    TransientSourceError,
    UnknownTickerError,
    fetch_each,
    no_actions,
    split_adjusted,
    validate_bars,
    with_retries,
)
from stock_pipeline.settings import SourceSettings

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://www.alphavantage.co/query"
FUNCTION = "TIME_SERIES_DAILY_ADJUSTED"

# "1. open" -> "open"; both the adjusted and the plain daily layout map by name.
_FIELD_NAMES: dict[str, str] = {
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "adjusted close": "adj_close",
    "volume": "volume",
    "dividend amount": "dividend",
    "split coefficient": "split",
}
_FIELD_PREFIX = re.compile(r"^\s*\d+\.\s*")
_APIKEY_IN_TEXT = re.compile(r"(apikey=)[^&\s'\"]*", re.IGNORECASE)
_RATE_LIMIT = re.compile(
    r"rate limit|call frequency|calls per (minute|day)|requests per (minute|day)|"
    r"spreading out your .*requests",
    re.IGNORECASE,
)
_BAD_KEY = re.compile(
    r"api ?key\b.*\b(invalid|missing)|invalid api ?key|\bdemo\b.*api ?key|"
    r"premium (endpoint|feature)",
    re.IGNORECASE,
)


class _RedactApiKey(logging.Filter):
    """Blanks ``apikey=...`` in records of loggers that print request URLs (urllib3 at DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _APIKEY_IN_TEXT.sub(r"\1***", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


_URL_LOGGERS = ("urllib3.connectionpool",)


def _install_log_redaction() -> None:
    for name in _URL_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactApiKey) for f in logger.filters):
            logger.addFilter(_RedactApiKey())


class AlphaVantageSource:
    name = "alphavantage"
    live = True

    def __init__(
        self,
        settings: SourceSettings,
        base_url: str = DEFAULT_BASE_URL,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ):
        secret = settings.alphavantage_api_key
        if secret is None or not secret.get_secret_value().strip():
            raise ValueError(
                "the alphavantage source needs an API key: set ALPHAVANTAGE_API_KEY "
                "(a free key: https://www.alphavantage.co/support/#api-key)"
            )
        self._api_key = secret  # kept as SecretStr: its repr/str is masked
        self._base_url = base_url
        self._sleep = sleep
        self._session = session or requests.Session()
        self._retries = settings.retries
        self._backoff = settings.backoff_seconds
        self._timeout = settings.timeout_seconds
        _install_log_redaction()

    def __repr__(self) -> str:
        return f"AlphaVantageSource(base_url={self._base_url!r})"

    # -- public -------------------------------------------------------------------------------

    def fetch(
        self, tickers: Sequence[str], start: dt.date, end: dt.date
    ) -> dict[str, FetchOutcome]:
        return fetch_each(tickers, lambda ticker: self._fetch_one(ticker, start, end))

    def newest_bar(self, ticker: str) -> dt.date | None:
        """None: a live source has every session's bar; the calendar says which is due."""
        return None

    def describe(self) -> str:
        return f"Alpha Vantage's {FUNCTION} series of any symbol it lists"

    # -- one ticker ---------------------------------------------------------------------------

    def _fetch_one(self, ticker: str, start: dt.date, end: dt.date) -> FetchResult:
        payload = with_retries(
            lambda: self._request(ticker),
            ticker=ticker,
            attempts=self._retries,
            backoff_seconds=self._backoff,
            sleep=self._sleep,
        )
        frame = self._frame(ticker, payload)
        window = f"between {start.isoformat()} and {end.isoformat()}"
        # Only rows in the requested window (plus undatable ones) are checked and reported:
        # outputsize=full carries 20+ years, whose old flaws are not this request's business.
        dates = pd.to_datetime(frame["date"], errors="coerce")
        in_window = dates.isna() | ((dates >= pd.Timestamp(start)) & (dates <= pd.Timestamp(end)))
        frame = frame[in_window]
        if frame.empty:
            raise UnknownTickerError(ticker, f"Alpha Vantage has no bars {window}")
        frame, actions = _yahoo_form(frame)
        bars, rejected = validate_bars(ticker, frame, start, end)
        if bars.empty:
            examples = "; ".join(str(r) for r in rejected[:3])
            raise SourceError(
                ticker, f"no valid bars {window}: all {len(rejected)} rows rejected ({examples})"
            )
        return FetchResult(ticker, self.name, bars, rejected, actions=actions)

    def _request(self, ticker: str) -> dict[str, Any]:
        """One GET; returns the JSON body or raises the ``SourceError`` it amounts to."""
        params = {
            "function": FUNCTION,
            "symbol": ticker,
            "outputsize": "full",
            "datatype": "json",
            "apikey": self._api_key.get_secret_value(),
        }
        log.debug("alphavantage: GET %s symbol=%s", FUNCTION, ticker)
        failure: str | None = None
        try:
            response = self._session.get(self._base_url, params=params, timeout=self._timeout)
        except requests.RequestException as exc:
            # The text of a requests error holds the full URL, key included: redact it, and
            # raise outside this block so the original exception is not chained as context.
            failure = f"request failed ({type(exc).__name__}: {self._redact(str(exc))})"
        if failure is not None:
            raise TransientSourceError(ticker, failure)

        status = response.status_code
        if status == 429 or status >= 500:
            raise TransientSourceError(ticker, f"Alpha Vantage answered HTTP {status}")
        if status >= 400:
            raise SourceError(ticker, f"Alpha Vantage answered HTTP {status}")
        try:
            payload = response.json()
        except ValueError:
            failure = f"Alpha Vantage sent a body that is not JSON: {self._snippet(response.text)}"
        if failure is not None:
            raise TransientSourceError(ticker, failure)
        if not isinstance(payload, dict):
            raise SourceError(ticker, f"unexpected Alpha Vantage reply: {self._snippet(payload)}")
        self._raise_for_message(ticker, payload)
        return payload

    def _raise_for_message(self, ticker: str, payload: dict[str, Any]) -> None:
        error = payload.get("Error Message")
        if error is not None:
            text = self._snippet(error)
            if _BAD_KEY.search(str(error)):
                raise SourceError(ticker, f"Alpha Vantage refused the API key: {text}")
            raise UnknownTickerError(ticker, f"unknown symbol at Alpha Vantage ({text})")
        for field in ("Note", "Information"):
            message = payload.get(field)
            if message is None:
                continue
            text = self._snippet(message)
            if _BAD_KEY.search(str(message)):
                raise SourceError(
                    ticker,
                    "Alpha Vantage refused the request (invalid API key or premium-only "
                    f"endpoint; check ALPHAVANTAGE_API_KEY and the plan): {text}",
                )
            if field == "Note" or _RATE_LIMIT.search(str(message)):
                raise TransientSourceError(ticker, f"Alpha Vantage rate limit: {text}")
            if not any(key.startswith("Time Series") for key in payload):
                raise SourceError(ticker, f"Alpha Vantage sent no data: {text}")

    def _frame(self, ticker: str, payload: dict[str, Any]) -> pd.DataFrame:
        series_key = next((k for k in payload if k.startswith("Time Series")), None)
        if series_key is None:
            keys = ", ".join(sorted(map(str, payload))) or "none"
            raise SourceError(ticker, f"unexpected Alpha Vantage reply (keys: {keys})")
        series = payload[series_key]
        if not isinstance(series, dict) or not series:
            raise UnknownTickerError(ticker, "Alpha Vantage has no bars for this symbol")
        rows = []
        for date, values in series.items():
            row: dict[str, Any] = {"date": date}
            if isinstance(values, dict):
                for raw_name, value in values.items():
                    column = _FIELD_NAMES.get(_FIELD_PREFIX.sub("", str(raw_name)).lower())
                    if column is not None:
                        row[column] = value
            rows.append(row)
        frame = pd.DataFrame(rows)
        columns = ["date", "open", "high", "low", "close", "volume"]
        if "adj_close" in frame.columns:  # absent in TIME_SERIES_DAILY: validate_bars uses close
            columns.insert(5, "adj_close")
        return frame.reindex(columns=[*columns, *(c for c in ("dividend", "split") if c in frame)])

    # -- secrecy ------------------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        key = self._api_key.get_secret_value()
        return _APIKEY_IN_TEXT.sub(r"\1***", text).replace(key, "***")

    def _snippet(self, value: object, limit: int = 300) -> str:
        text = self._redact(str(value))
        return text if len(text) <= limit else text[:limit] + "..."


def _yahoo_form(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Alpha Vantage's raw daily bars in Yahoo's form (prices and volume adjusted for the
    splits in the download, so that indicators do not jump at a split), and its actions."""
    if "split" not in frame and "dividend" not in frame:
        return frame, no_actions()
    frame = frame.assign(date=pd.to_datetime(frame["date"], errors="coerce"))
    frame = frame.sort_values("date").reset_index(drop=True)
    numbers = {
        c: pd.to_numeric(frame[c], errors="coerce") if c in frame else pd.Series(0.0, frame.index)
        for c in ("split", "dividend")
    }
    ratio = numbers["split"].where(numbers["split"] > 0, 1.0).fillna(1.0)
    priced = frame.copy()
    for column in ["open", "high", "low", "close", "volume"]:
        priced[column] = pd.to_numeric(frame[column], errors="coerce")
    adjusted = split_adjusted(priced, ratio).drop(columns=["split", "dividend"], errors="ignore")
    actions = pd.concat(
        [
            pd.DataFrame(
                {"date": frame["date"][ratio != 1], "kind": "split", "value": ratio[ratio != 1]}
            ),
            pd.DataFrame(
                {
                    "date": frame["date"][numbers["dividend"] > 0],
                    "kind": "dividend",
                    "value": numbers["dividend"][numbers["dividend"] > 0],
                }
            ),
        ],
        ignore_index=True,
    )
    return adjusted, actions
