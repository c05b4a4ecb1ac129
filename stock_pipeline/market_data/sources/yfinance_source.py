"""Daily bars from Yahoo Finance through ``yfinance``: batched downloads, retried per
symbol on transient failures that ``yahoo_replies`` tells apart from unknown symbols."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import yfinance as yf

from stock_pipeline.market_data.sources.base import (
    YAHOO_COLUMNS,
    FetchOutcome,
    FetchResult,
    TransientSourceError,
    no_actions,
    validate_bars,
)
from stock_pipeline.market_data.sources.yahoo_replies import (
    YfErrorLog,
    classify_failure,
    watch_chart_replies,
)
from stock_pipeline.settings import SourceSettings

log = logging.getLogger(__name__)

_YF_COLUMNS = YAHOO_COLUMNS


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
    live = True

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

    def newest_bar(self, ticker: str) -> dt.date | None:
        """None: a live source has every session's bar; the calendar says which is due."""
        return None

    def describe(self) -> str:
        return "Yahoo Finance's daily bars of any symbol it lists"

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
        errors = YfErrorLog()
        yf_logger = logging.getLogger("yfinance")
        _clear_response_cache()
        yf_logger.addHandler(errors)
        try:
            with watch_chart_replies(session) as replies:
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
                out[ticker] = classify_failure(
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
