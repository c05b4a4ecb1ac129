"""A local fake of Yahoo's chart API for tests that run the real yfinance code.

The real yfinance and curl_cffi code runs end to end: a ``curl_cffi`` Session subclass
rewrites every ``https://*.yahoo.com/...`` URL to an ``http.server`` on 127.0.0.1 that
answers like Yahoo (chart JSON with dividend and split events, the 404 error reply for an
unknown symbol, a crumb). A guard on every curl_cffi Session and on Python sockets fails
the test if any other host is contacted.
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

import numpy as np
import pytest
import yfinance.cache as yf_cache
from curl_cffi import requests as curl_requests
from yfinance.data import SingletonMeta, YfData

NY = "America/New_York"
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


@dataclass
class Listing:
    rows: list[Bar]
    timezone: str = NY
    gmtoffset: int = -18000
    open_utc: dt.time = NY_OPEN_UTC
    exchange: str = "NYQ"
    dividends: dict[dt.date, float] = field(default_factory=dict)  # ex-date -> cash
    splits: dict[dt.date, float] = field(default_factory=dict)  # ex-date -> new per old

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
        days = {r.day for r in rows}
        events = {
            "dividends": {
                str(self.stamp(d)): {"amount": amount, "date": self.stamp(d)}
                for d, amount in self.dividends.items()
                if d in days
            },
            "splits": {
                str(self.stamp(d)): {
                    "date": self.stamp(d),
                    "numerator": ratio,
                    "denominator": 1.0,
                    "splitRatio": f"{ratio:g}:1",
                }
                for d, ratio in self.splits.items()
                if d in days
            },
        }
        if any(events.values()):
            result["events"] = {k: v for k, v in events.items() if v}
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
class Company:
    """A traded stock: its raw prices as traded each day, and its splits and dividends.

    ``listing(asof)`` is what Yahoo serves on the evening of ``asof``: the bars up to it,
    with Close, Open, High, Low and Volume adjusted for the splits known that day and Adj
    Close for the splits and dividends (multiplier 1 - dividend / previous close), so
    every download re-bases the history before an event, as Yahoo's does.
    """

    days: list[dt.date]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    splits: dict[dt.date, float] = field(default_factory=dict)
    dividends: dict[dt.date, float] = field(default_factory=dict)

    @classmethod
    def simulate(cls, days: list[dt.date], seed: int, splits=None, dividends=None) -> Company:
        rng = np.random.default_rng(seed)
        n = len(days)
        close = 100 * np.exp(np.cumsum(rng.normal(0.0003, 0.012, n)))
        for day, ratio in (splits or {}).items():  # the traded price drops at the split
            close[days.index(day) :] /= ratio
        for day, cash in (dividends or {}).items():  # ... and by the dividend paid
            i = days.index(day)
            close[i:] *= 1 - cash / close[i - 1]
        open_ = close * np.exp(rng.normal(0, 0.004, n))
        high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.006, n)))
        low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.006, n)))
        volume = rng.integers(1_000_000, 5_000_000, n).astype(float)
        return cls(days, open_, high, low, close, volume, dict(splits or {}), dict(dividends or {}))

    def listing(self, asof: dt.date) -> Listing:
        n = self.days.index(asof) + 1
        split_factor = np.ones(n)  # new shares per old for the splits after each day
        adj_factor = np.ones(n)
        for day, ratio in self.splits.items():
            if day <= asof:
                split_factor[: self.days.index(day)] *= ratio
        for day, cash in self.dividends.items():
            if day <= asof:
                i = self.days.index(day)
                adj_factor[:i] *= 1 - cash / self.close[i - 1]
        rows = [
            Bar(
                self.days[i],
                self.open[i] / split_factor[i],
                self.high[i] / split_factor[i],
                self.low[i] / split_factor[i],
                self.close[i] / split_factor[i],
                self.close[i] / split_factor[i] * adj_factor[i],
                int(self.volume[i] * split_factor[i]),
            )
            for i in range(n)
        ]
        known = {d: v for d, v in self.splits.items() if d <= asof}
        paid = {d: v for d, v in self.dividends.items() if d <= asof}
        return Listing(rows, splits=known, dividends=paid)
