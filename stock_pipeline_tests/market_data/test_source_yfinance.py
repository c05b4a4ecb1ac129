"""YFinanceSource against a local fake of Yahoo's chart API.

The real yfinance and curl_cffi code runs end to end: a ``curl_cffi`` Session
subclass rewrites every ``https://*.yahoo.com/...`` URL to a
``http.server`` on 127.0.0.1 that answers like Yahoo (chart JSON, the 404
error reply for an unknown symbol, a crumb). A guard on every curl_cffi
Session and on Python sockets fails the test if any other host is contacted.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

import pandas as pd
import pytest
import yfinance as yf
import yfinance.cache as yf_cache
from curl_cffi import requests as curl_requests
from yfinance.data import SingletonMeta, YfData

from stock_pipeline.market_data.sources.base import (
    BAR_COLUMNS,
    FetchResult,
    TransientSourceError,
    UnknownTickerError,
)
from stock_pipeline.market_data.sources.yfinance_source import YFinanceSource
from stock_pipeline.settings import SourceSettings

NY = "America/New_York"
START, END = dt.date(2024, 1, 2), dt.date(2024, 1, 5)
# Yahoo stamps a daily bar with the session's opening time, in UTC.
NY_OPEN_UTC = dt.time(14, 30)


@dataclass
class Bar:
    day: dt.date
    open: float | None
    high: float | None
    low: float | None
    close: float | None
    adjclose: float | None
    volume: int | None


def bars(base: float, days: list[dt.date], adj_factor: float = 0.9) -> list[Bar]:
    return [
        Bar(
            d,
            base + i,
            base + i + 2,
            base + i - 2,
            base + i + 1,
            (base + i + 1) * adj_factor,
            1000 * (i + 1),
        )
        for i, d in enumerate(days)
    ]


WEEK = [dt.date(2024, 1, d) for d in (2, 3, 4, 5, 8)]  # Tue..Fri, then Mon after END


@dataclass
class Listing:
    rows: list[Bar]
    timezone: str = NY
    gmtoffset: int = -18000
    open_utc: dt.time = NY_OPEN_UTC
    exchange: str = "NYQ"

    def stamp(self, day: dt.date) -> int:
        stamp = dt.datetime.combine(day, self.open_utc, tzinfo=dt.UTC)
        if self.open_utc.hour >= 12 and self.gmtoffset > 0:  # opens on the previous UTC day
            stamp -= dt.timedelta(days=1)
        return int(stamp.timestamp())

    def chart(self, symbol: str, period1: int | None, period2: int | None) -> dict:
        rows = [
            r
            for r in self.rows
            if (period1 is None or self.stamp(r.day) >= period1)
            and (period2 is None or self.stamp(r.day) < period2)
        ]
        meta = {
            "currency": "USD",
            "symbol": symbol,
            "exchangeName": self.exchange,
            "fullExchangeName": self.exchange,
            "instrumentType": "EQUITY",
            "firstTradeDate": 345479400,
            "regularMarketTime": 1704920400,
            "hasPrePostMarketData": True,
            "gmtoffset": self.gmtoffset,
            "timezone": "EST",
            "exchangeTimezoneName": self.timezone,
            "regularMarketPrice": 100.0,
            "chartPreviousClose": 99.0,
            "priceHint": 2,
            "currentTradingPeriod": {
                name: {
                    "timezone": "EST",
                    "start": 1704897000,
                    "end": 1704920400,
                    "gmtoffset": self.gmtoffset,
                }
                for name in ("pre", "regular", "post")
            },
            "dataGranularity": "1d",
            "range": "",
            "validRanges": ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"],
        }
        quote = {
            "open": [r.open for r in rows],
            "high": [r.high for r in rows],
            "low": [r.low for r in rows],
            "close": [r.close for r in rows],
            "volume": [r.volume for r in rows],
        }
        result = {
            "meta": meta,
            "timestamp": [self.stamp(r.day) for r in rows],
            "indicators": {
                "quote": [quote],
                "adjclose": [{"adjclose": [r.adjclose for r in rows]}],
            },
        }
        return {"chart": {"result": [result], "error": None}}


NOT_FOUND = {
    "chart": {
        "result": None,
        "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"},
    }
}


@dataclass
class FakeYahoo:
    """What the fake server knows; tests edit it, the handler reads it."""

    port: int = 0
    listings: dict[str, Listing] = field(default_factory=dict)
    # symbol -> statuses to answer chart requests with ("drop" = close the connection)
    failures: dict[str, list[int | str]] = field(default_factory=dict)
    log: list[tuple[str, str, str]] = field(default_factory=list)  # (method, host, path)

    def chart_calls(self, symbol: str) -> int:
        return sum(1 for _, _, p in self.log if p == f"/v8/finance/chart/{symbol}")


def make_handler(yahoo: FakeYahoo) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def reply(self, status: int, body: str | dict, ctype: str = "application/json") -> None:
            data = (json.dumps(body) if isinstance(body, dict) else body).encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            yahoo.log.append(("POST", self.headers.get("X-Yahoo-Host", ""), self.path))
            self.reply(404, "not here", "text/plain")

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            path = unquote(parts.path)
            yahoo.log.append(("GET", self.headers.get("X-Yahoo-Host", ""), path))
            if path.endswith("/v1/test/getcrumb"):
                return self.reply(200, "fake-crumb", "text/plain")
            if not path.startswith("/v8/finance/chart/"):
                return self.reply(404, "not here", "text/plain")
            symbol = path.rsplit("/", 1)[1]
            pending = yahoo.failures.get(symbol)
            if pending:
                failure = pending.pop(0) if len(pending) > 1 else pending[0]
                if failure == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return None
                if failure == 429:
                    return self.reply(429, "Too Many Requests", "text/plain")
                return self.reply(
                    int(failure),
                    {
                        "chart": {
                            "result": None,
                            "error": {
                                "code": "Internal Server Error",
                                "description": "backend unavailable",
                            },
                        }
                    },
                )
            listing = yahoo.listings.get(symbol)
            if listing is None:
                return self.reply(404, NOT_FOUND)
            query = parse_qs(parts.query)
            p1 = int(query["period1"][0]) if "period1" in query else None
            p2 = int(query["period2"][0]) if "period2" in query else None
            return self.reply(200, listing.chart(symbol, p1, p2))

    return Handler


class LocalYahooSession(curl_requests.Session):
    """A real curl_cffi Session that sends every Yahoo URL to the local fake instead."""

    def __init__(self, port: int):
        super().__init__()
        self.port = port

    def request(self, method: str, url: str, *args, **kwargs):  # type: ignore[override]
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host == "yahoo.com" or host.endswith(".yahoo.com"):
            url = urlunsplit(("http", f"127.0.0.1:{self.port}", parts.path or "/", parts.query, ""))
            headers = dict(kwargs.pop("headers", None) or {})
            headers["X-Yahoo-Host"] = host
            kwargs["headers"] = headers
        return super().request(method, url, *args, **kwargs)


@pytest.fixture(autouse=True)
def no_internet(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Any contact with a host other than 127.0.0.1 is blocked and fails the test."""
    blocked: list[str] = []
    real_request = curl_requests.Session.request
    real_connect = socket.socket.connect

    def guarded_request(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def]
        if urlsplit(url).hostname != "127.0.0.1":
            blocked.append(url)
            raise curl_requests.exceptions.ConnectionError(f"test blocked network: {url}")
        return real_request(self, method, url, *args, **kwargs)

    def guarded_connect(self, address):  # type: ignore[no-untyped-def]
        if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "::1", "localhost"):
            blocked.append(repr(address))
            raise OSError(f"test blocked network: {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(curl_requests.Session, "request", guarded_request)
    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    yield blocked
    assert not blocked, f"test tried to reach the network: {blocked}"


@pytest.fixture(autouse=True)
def fresh_yfinance(monkeypatch: pytest.MonkeyPatch) -> None:
    """No state shared between tests or with ~/.cache: fresh YfData, no tz/cookie cache."""
    monkeypatch.setattr(yf_cache._TzCacheManager, "_tz_cache", yf_cache._TzCacheDummy())
    monkeypatch.setattr(yf_cache._CookieCacheManager, "_Cookie_cache", yf_cache._CookieCacheDummy())
    SingletonMeta._instances.pop(YfData, None)
    YfData.cache_get.cache_clear()
    yield
    SingletonMeta._instances.pop(YfData, None)


@pytest.fixture
def yahoo() -> Iterator[FakeYahoo]:
    state = FakeYahoo()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@dataclass
class Harness:
    yahoo: FakeYahoo
    delays: list[float]
    downloads: list[list[str]]

    def source(self, **settings: object) -> YFinanceSource:
        defaults: dict[str, object] = {"retries": 3, "backoff_seconds": 0.5, "timeout_seconds": 5}
        return YFinanceSource(
            SourceSettings(**{**defaults, **settings}),
            session=LocalYahooSession(self.yahoo.port),
            sleep=self.delays.append,
        )


@pytest.fixture
def harness(yahoo: FakeYahoo, monkeypatch: pytest.MonkeyPatch) -> Harness:
    h = Harness(yahoo, [], [])
    real_download = yf.download

    def spy(tickers, *args, **kwargs):  # type: ignore[no-untyped-def]
        h.downloads.append(list(tickers))
        return real_download(tickers, *args, **kwargs)

    monkeypatch.setattr(yf, "download", spy)
    return h


def ok(outcome: object) -> FetchResult:
    assert isinstance(outcome, FetchResult), f"expected bars, got {outcome!r}"
    return outcome


def test_several_tickers_in_one_request_with_unadjusted_and_adjusted_close(harness: Harness):
    y = harness.yahoo
    y.listings["^GSPC"] = Listing(bars(4700.0, WEEK, adj_factor=1.0))
    y.listings["BRK-B"] = Listing(bars(360.0, WEEK, adj_factor=0.5))
    y.listings["BF.B"] = Listing(bars(60.0, WEEK, adj_factor=0.8))
    # Sydney opens at 10:00 AEDT = 23:00 UTC the day before: the bar must keep its local date.
    y.listings["BHP.AX"] = Listing(
        bars(45.0, WEEK),
        timezone="Australia/Sydney",
        gmtoffset=39600,
        open_utc=dt.time(23, 0),
        exchange="ASX",
    )

    out = harness.source().fetch(["^GSPC", "BRK-B", "BF.B", "BHP.AX"], START, END)

    assert harness.downloads == [["^GSPC", "BRK-B", "BF.B", "BHP.AX"]]
    assert harness.delays == []
    expected_dates = [pd.Timestamp(d) for d in WEEK[:4]]  # END (Fri 5th) included, Mon 8th not
    for ticker in ("^GSPC", "BRK-B", "BF.B", "BHP.AX"):
        result = ok(out[ticker])
        assert result.source == "yfinance"
        assert list(result.bars.columns) == BAR_COLUMNS
        assert list(result.bars["date"]) == expected_dates
        assert result.bars["date"].dt.tz is None
        assert result.rejected == []

    brk = ok(out["BRK-B"]).bars
    assert brk["open"].tolist() == [360.0, 361.0, 362.0, 363.0]
    assert brk["close"].tolist() == [361.0, 362.0, 363.0, 364.0]  # unadjusted
    assert brk["adj_close"].tolist() == [180.5, 181.0, 181.5, 182.0]  # adjusted, kept apart
    assert brk["volume"].tolist() == [1000.0, 2000.0, 3000.0, 4000.0]
    assert ok(out["BF.B"]).bars["close"].iloc[-1] == 64.0
    assert ok(out["^GSPC"]).bars["high"].iloc[0] == 4702.0
    assert y.chart_calls("^GSPC") >= 1 and y.chart_calls("BF.B") >= 1


def test_batches_follow_tickers_per_request(harness: Harness):
    for i, sym in enumerate(["AAA", "BBB", "CCC"]):
        harness.yahoo.listings[sym] = Listing(bars(10.0 * (i + 1), WEEK))

    out = harness.source(tickers_per_request=2).fetch(["AAA", "BBB", "CCC"], START, END)

    assert harness.downloads == [["AAA", "BBB"], ["CCC"]]
    assert [len(ok(out[t]).bars) for t in ("AAA", "BBB", "CCC")] == [4, 4, 4]


def test_unknown_ticker_fails_alone(harness: Harness):
    harness.yahoo.listings["AAPL"] = Listing(bars(185.0, WEEK))

    out = harness.source().fetch(["AAPL", "NOSUCH"], START, END)

    assert len(ok(out["AAPL"]).bars) == 4
    err = out["NOSUCH"]
    assert isinstance(err, UnknownTickerError)
    assert err.ticker == "NOSUCH"
    assert "NOSUCH" in str(err) and "2024-01-02" in str(err) and "2024-01-05" in str(err)
    assert "404" in str(err) and "delisted" in str(err)
    assert harness.delays == []  # an unknown symbol is not retried


def test_no_bars_in_range_is_an_unknown_ticker_error(harness: Harness):
    harness.yahoo.listings["OLD"] = Listing(bars(5.0, [dt.date(2023, 6, 1)]))

    err = harness.source().fetch(["OLD"], START, END)["OLD"]

    assert isinstance(err, UnknownTickerError)
    assert "no bars between 2024-01-02 and 2024-01-05" in str(err)
    assert harness.delays == []


@pytest.mark.parametrize("failure", [500, 503, 429, "drop"])
def test_transient_failure_is_retried_for_that_ticker_only(harness: Harness, failure):
    y = harness.yahoo
    y.listings["AAPL"] = Listing(bars(185.0, WEEK))
    y.listings["MSFT"] = Listing(bars(370.0, WEEK))
    y.failures["MSFT"] = [failure]  # every chart request for MSFT fails ...
    aapl_calls: list[int] = []

    def sleep(delay: float) -> None:
        harness.delays.append(delay)
        aapl_calls.append(y.chart_calls("AAPL"))
        y.failures.pop("MSFT")  # ... until the source backs off

    src = harness.source()
    src._sleep = sleep
    out = src.fetch(["AAPL", "MSFT"], START, END)

    assert harness.delays == [0.5]
    assert ok(out["MSFT"]).bars["close"].tolist() == [371.0, 372.0, 373.0, 374.0]
    assert len(ok(out["AAPL"]).bars) == 4
    assert harness.downloads == [["AAPL", "MSFT"], ["MSFT"]]  # only the failed one again
    assert y.chart_calls("AAPL") == aapl_calls[0]


def test_retries_exhausted_gives_transient_error(harness: Harness):
    y = harness.yahoo
    y.listings["AAPL"] = Listing(bars(185.0, WEEK))
    y.listings["MSFT"] = Listing(bars(370.0, WEEK))
    y.failures["MSFT"] = [503]

    out = harness.source(retries=3, backoff_seconds=0.5).fetch(["AAPL", "MSFT"], START, END)

    assert harness.delays == [0.5, 1.0]  # doubling backoff, none after the last attempt
    err = out["MSFT"]
    assert isinstance(err, TransientSourceError)
    assert err.ticker == "MSFT"
    assert "503" in str(err) and "3 attempts" in str(err)
    assert len(ok(out["AAPL"]).bars) == 4
    assert len(harness.downloads) == 3


def test_impossible_rows_are_rejected_not_filled(harness: Harness):
    rows = bars(100.0, WEEK)
    rows[1].high, rows[1].low = 90.0, 95.0  # Jan 3: high below low (and below open/close)
    rows[2].close = None  # Jan 4: Yahoo sent null close
    harness.yahoo.listings["XYZ"] = Listing(rows)

    result = ok(harness.source().fetch(["XYZ"], START, END)["XYZ"])

    assert list(result.bars["date"]) == [pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-05")]
    assert not result.bars.isna().any().any()
    reasons = {r.date: r.reason for r in result.rejected}
    assert set(reasons) == {"2024-01-03", "2024-01-04"}
    assert reasons["2024-01-04"] == "missing close"
    assert "low" in reasons["2024-01-03"] or "high" in reasons["2024-01-03"]
    assert all(r.ticker == "XYZ" for r in result.rejected)
