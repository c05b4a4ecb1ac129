"""AlphaVantageSource against a real local HTTP server speaking the documented JSON format."""

from __future__ import annotations

import datetime as dt
import json
import logging
import socket
import threading
import traceback
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest
from pydantic import SecretStr

from stock_pipeline.market_data.sources.alphavantage import AlphaVantageSource
from stock_pipeline.market_data.sources.base import (
    FetchResult,
    SourceError,
    TransientSourceError,
    UnknownTickerError,
)
from stock_pipeline.settings import SourceSettings

API_KEY = "SECRETKEY-7f3a9c"
START, END = dt.date(2024, 1, 3), dt.date(2024, 1, 5)

RATE_NOTE = {
    "Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per "
    "minute and 500 calls per day. Please visit https://www.alphavantage.co/premium/ if you "
    "would like to target a higher API call frequency."
}
RATE_INFO = {
    "Information": f"We have detected your API key as {API_KEY} and our standard API rate limit "
    "is 25 requests per day. Please subscribe to any of the premium plans at "
    "https://www.alphavantage.co/premium/ to instantly remove all daily rate limits."
}
PREMIUM_INFO = {
    "Information": "Thank you for using Alpha Vantage! This is a premium endpoint. You may "
    "subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to "
    "instantly unlock all premium endpoints"
}
BAD_KEY_ERROR = {
    "Error Message": "the parameter apikey is invalid or missing. Please claim your free API "
    "key on (https://www.alphavantage.co/support/#api-key). It should take less than 20 "
    "seconds."
}
UNKNOWN_SYMBOL = {
    "Error Message": "Invalid API call. Please retry or visit the documentation "
    "(https://www.alphavantage.co/documentation/) for TIME_SERIES_DAILY_ADJUSTED."
}


def adjusted_bar(o, h, lo, c, adj, v, dividend="0.0000", split="1.0"):
    return {
        "1. open": o,
        "2. high": h,
        "3. low": lo,
        "4. close": c,
        "5. adjusted close": adj,
        "6. volume": v,
        "7. dividend amount": dividend,
        "8. split coefficient": split,
    }


def daily_bar(o, h, lo, c, v):
    return {"1. open": o, "2. high": h, "3. low": lo, "4. close": c, "5. volume": v}


def adjusted_reply(symbol: str, series: dict) -> dict:
    return {
        "Meta Data": {
            "1. Information": "Daily Time Series with Splits and Dividend Events",
            "2. Symbol": symbol,
            "3. Last Refreshed": max(series) if series else "2024-01-08",
            "4. Output Size": "Full size",
            "5. Time Zone": "US/Eastern",
        },
        "Time Series (Daily)": series,
    }


IBM_SERIES = {
    "2024-01-08": adjusted_bar("161.00", "163.00", "160.50", "162.50", "160.90", "4000000"),
    "2024-01-05": adjusted_bar("160.00", "162.00", "159.50", "161.00", "159.40", "3000000"),
    "2024-01-04": adjusted_bar("158.50", "160.50", "158.00", "160.00", "158.41", "2500000"),
    "2024-01-03": adjusted_bar("157.00", "159.00", "156.50", "158.00", "156.43", "2000000"),
    "2024-01-02": adjusted_bar("156.00", "158.00", "155.50", "157.00", "155.44", "1500000"),
}
MSFT_SERIES = {
    "2024-01-05": adjusted_bar("370.00", "373.00", "369.00", "372.00", "370.10", "9000000"),
    "2024-01-04": adjusted_bar("368.00", "371.00", "367.00", "370.00", "368.11", "8000000"),
}


class FakeAlphaVantage:
    """Scripted replies per symbol; the last reply of a script repeats forever."""

    def __init__(self) -> None:
        self.scripts: dict[str, list[tuple[int, object]]] = {}
        self.hits: list[dict[str, str]] = []
        self.raw_paths: list[str] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                with fake._lock:
                    fake.hits.append(query)
                    fake.raw_paths.append(self.path)
                    script = fake.scripts.get(query.get("symbol", ""))
                    if script is None:
                        status, body = 200, UNKNOWN_SYMBOL
                    elif len(script) > 1:
                        status, body = script.pop(0)
                    else:
                        status, body = script[0]
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/query"

    def script(self, symbol: str, *replies: object) -> None:
        self.scripts[symbol] = [r if isinstance(r, tuple) else (200, r) for r in replies]

    def hits_for(self, symbol: str) -> int:
        return sum(1 for h in self.hits if h.get("symbol") == symbol)


@pytest.fixture
def server() -> Iterator[FakeAlphaVantage]:
    fake = FakeAlphaVantage()
    thread = threading.Thread(target=fake.server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()
    thread.join(timeout=5)


def make_source(base_url: str, retries: int = 3, backoff: float = 0.5):
    settings = SourceSettings(
        name="alphavantage",
        alphavantage_api_key=SecretStr(API_KEY),
        retries=retries,
        backoff_seconds=backoff,
        timeout_seconds=5,
    )
    sleeps: list[float] = []
    return AlphaVantageSource(settings, base_url=base_url, sleep=sleeps.append), sleeps


def test_missing_key_is_a_clear_error() -> None:
    for key in (None, SecretStr(""), SecretStr("   ")):
        with pytest.raises(ValueError, match="ALPHAVANTAGE_API_KEY"):
            AlphaVantageSource(SourceSettings(name="alphavantage", alphavantage_api_key=key))


def test_happy_path_adjusted_values_and_inclusive_range(server: FakeAlphaVantage) -> None:
    server.script("IBM", adjusted_reply("IBM", IBM_SERIES))
    server.script("MSFT", adjusted_reply("MSFT", MSFT_SERIES))
    source, sleeps = make_source(server.base_url)

    out = source.fetch(["IBM", "MSFT"], START, END)

    ibm = out["IBM"]
    assert isinstance(ibm, FetchResult)
    assert (ibm.ticker, ibm.source, ibm.rejected) == ("IBM", "alphavantage", [])
    assert list(ibm.bars.columns) == ["date", "open", "high", "low", "close", "adj_close", "volume"]
    # start and end both included, 2024-01-02 and 2024-01-08 left out, ascending order
    assert list(ibm.bars["date"]) == [
        pd.Timestamp(d) for d in ("2024-01-03", "2024-01-04", "2024-01-05")
    ]
    last = ibm.bars.iloc[-1]
    assert (last["open"], last["high"], last["low"]) == (160.0, 162.0, 159.5)
    assert last["close"] == 161.0
    assert last["adj_close"] == 159.4  # the adjusted close is kept apart from close
    assert last["volume"] == 3_000_000.0
    assert list(ibm.bars["adj_close"]) == [156.43, 158.41, 159.4]

    msft = out["MSFT"]
    assert isinstance(msft, FetchResult)
    assert list(msft.bars["close"]) == [370.0, 372.0]

    # one request per ticker, with the documented parameters
    assert len(server.hits) == 2 and sleeps == []
    first = server.hits[0]
    assert first == {
        "function": "TIME_SERIES_DAILY_ADJUSTED",
        "symbol": "IBM",
        "outputsize": "full",
        "datatype": "json",
        "apikey": API_KEY,
    }


def test_non_adjusted_daily_format(server: FakeAlphaVantage) -> None:
    reply = {
        "Meta Data": {"1. Information": "Daily Prices (open, high, low, close) and Volumes"},
        "Time Series (Daily)": {
            "2024-01-05": daily_bar("10.0", "11.0", "9.5", "10.5", "1200"),
            "2024-01-04": daily_bar("9.8", "10.2", "9.7", "10.0", "1100"),
        },
    }
    server.script("XYZ", reply)
    source, _ = make_source(server.base_url)

    result = source.fetch(["XYZ"], START, END)["XYZ"]

    assert isinstance(result, FetchResult)
    assert list(result.bars["close"]) == [10.0, 10.5]
    assert list(result.bars["adj_close"]) == [10.0, 10.5]  # no adjusted close: equals close
    assert list(result.bars["volume"]) == [1100.0, 1200.0]  # "5. volume" is the volume here


def test_unknown_symbol_does_not_affect_other_tickers(server: FakeAlphaVantage) -> None:
    server.script("IBM", adjusted_reply("IBM", IBM_SERIES))
    server.script("NOPE", UNKNOWN_SYMBOL)
    source, sleeps = make_source(server.base_url)

    out = source.fetch(["NOPE", "IBM"], START, END)

    assert isinstance(out["NOPE"], UnknownTickerError)
    assert out["NOPE"].ticker == "NOPE" and str(out["NOPE"]).startswith("NOPE:")
    assert isinstance(out["IBM"], FetchResult) and len(out["IBM"].bars) == 3
    assert server.hits_for("NOPE") == 1 and sleeps == []  # not retried


@pytest.mark.parametrize("throttle", [RATE_NOTE, RATE_INFO], ids=["note", "information"])
def test_rate_limit_is_retried_with_backoff(server: FakeAlphaVantage, throttle: dict) -> None:
    server.script("IBM", throttle, throttle, adjusted_reply("IBM", IBM_SERIES))
    source, sleeps = make_source(server.base_url, retries=4, backoff=0.5)

    result = source.fetch(["IBM"], START, END)["IBM"]

    assert isinstance(result, FetchResult) and len(result.bars) == 3
    assert server.hits_for("IBM") == 3
    assert sleeps == [0.5, 1.0]


def test_rate_limit_forever_gives_up_after_retries(server: FakeAlphaVantage) -> None:
    server.script("IBM", RATE_NOTE)
    server.script("MSFT", adjusted_reply("MSFT", MSFT_SERIES))
    source, sleeps = make_source(server.base_url, retries=3, backoff=0.25)

    out = source.fetch(["IBM", "MSFT"], START, END)

    assert isinstance(out["IBM"], TransientSourceError)
    assert "rate limit" in str(out["IBM"])
    assert server.hits_for("IBM") == 3
    assert sleeps == [0.25, 0.5]
    assert isinstance(out["MSFT"], FetchResult)


def test_http_500_is_retried(server: FakeAlphaVantage) -> None:
    server.script("IBM", (500, "oops"), (503, "busy"), adjusted_reply("IBM", IBM_SERIES))
    source, sleeps = make_source(server.base_url, retries=3, backoff=1.0)

    result = source.fetch(["IBM"], START, END)["IBM"]

    assert isinstance(result, FetchResult) and len(result.bars) == 3
    assert server.hits_for("IBM") == 3 and sleeps == [1.0, 2.0]


def test_http_500_forever_is_transient(server: FakeAlphaVantage) -> None:
    server.script("IBM", (500, "oops"))
    source, _ = make_source(server.base_url, retries=2, backoff=0.0)

    result = source.fetch(["IBM"], START, END)["IBM"]

    assert isinstance(result, TransientSourceError) and "HTTP 500" in str(result)
    assert server.hits_for("IBM") == 2


@pytest.mark.parametrize("reply", [PREMIUM_INFO, BAD_KEY_ERROR], ids=["premium", "bad-key"])
def test_key_or_plan_problems_are_not_retried(server: FakeAlphaVantage, reply: dict) -> None:
    server.script("IBM", reply)
    source, sleeps = make_source(server.base_url, retries=4)

    result = source.fetch(["IBM"], START, END)["IBM"]

    assert isinstance(result, SourceError)
    assert not isinstance(result, (TransientSourceError, UnknownTickerError))
    assert "Alpha Vantage refused" in str(result)
    assert server.hits_for("IBM") == 1 and sleeps == []


def test_connection_error_is_transient() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    source, sleeps = make_source(f"http://127.0.0.1:{port}/query", retries=2, backoff=0.1)

    result = source.fetch(["IBM"], START, END)["IBM"]

    assert isinstance(result, TransientSourceError) and "request failed" in str(result)
    assert sleeps == [0.1]


def test_api_key_never_in_errors_or_logs(
    server: FakeAlphaVantage, caplog: pytest.LogCaptureFixture
) -> None:
    server.script("RATE", RATE_INFO)  # this server message itself echoes the key
    server.script("PREM", PREMIUM_INFO)
    server.script("BADKEY", BAD_KEY_ERROR)
    server.script("DOWN", (500, "oops"))
    server.script("NOPE", UNKNOWN_SYMBOL)
    source, _ = make_source(server.base_url, retries=2, backoff=0.0)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    offline, _ = make_source(f"http://127.0.0.1:{closed_port}/query", retries=2, backoff=0.0)

    with caplog.at_level(logging.DEBUG):
        out = source.fetch(["RATE", "PREM", "BADKEY", "DOWN", "NOPE"], START, END)
        out.update(offline.fetch(["OFFLINE"], START, END))

    assert len(out) == 6
    assert all(isinstance(err, SourceError) for err in out.values())
    assert any(API_KEY in path for path in server.raw_paths)  # the key did go on the wire
    for err in out.values():
        text = "".join(traceback.format_exception(err)) + repr(err) + repr(err.args)
        assert API_KEY not in text, text
        assert err.__cause__ is None and (err.__context__ is None or err.__suppress_context__)
    # urllib3 logs request paths at DEBUG; those records must be redacted too
    assert any("apikey=***" in r.getMessage() for r in caplog.records)
    assert any("RATE" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        assert API_KEY not in record.getMessage()
    assert API_KEY not in caplog.text
    assert API_KEY not in repr(source) and API_KEY not in str(vars(source))


def test_bad_rows_are_rejected_and_reported(server: FakeAlphaVantage) -> None:
    series = dict(IBM_SERIES)
    missing_close = adjusted_bar("158.50", "160.50", "158.00", "160.00", "158.41", "2500000")
    del missing_close["4. close"]
    series["2024-01-04"] = missing_close
    series["2024-01-03"] = adjusted_bar("157.00", "150.00", "156.50", "158.00", "156.43", "1")
    series["2023-06-01"] = adjusted_bar("-1", "1", "1", "1", "1", "1")  # outside the window
    series["2024-13-45"] = IBM_SERIES["2024-01-05"]  # a date that does not exist
    server.script("IBM", adjusted_reply("IBM", series))
    source, _ = make_source(server.base_url)

    result = source.fetch(["IBM"], START, END)["IBM"]

    assert isinstance(result, FetchResult)
    assert list(result.bars["date"]) == [pd.Timestamp("2024-01-05")]
    by_date = {r.date: r for r in result.rejected}
    assert set(by_date) == {"2024-01-03", "2024-01-04", None}  # 2023 is not this window's
    assert by_date["2024-01-04"].ticker == "IBM"
    assert by_date["2024-01-04"].reason == "missing close"
    assert by_date["2024-01-03"].reason == "high below open/close"
    assert str(by_date["2024-01-04"]) == "IBM 2024-01-04: missing close"
    assert [(r.ticker, r.date, r.reason) for r in result.rejected if r.date is None] == [
        ("IBM", None, "unparseable date")
    ]


def test_empty_series_or_no_rows_in_range_is_unknown(server: FakeAlphaVantage) -> None:
    server.script("EMPTY", adjusted_reply("EMPTY", {}))
    server.script("OLD", adjusted_reply("OLD", {"2020-01-02": IBM_SERIES["2024-01-05"]}))
    source, sleeps = make_source(server.base_url)

    out = source.fetch(["EMPTY", "OLD"], START, END)

    assert isinstance(out["EMPTY"], UnknownTickerError)
    assert isinstance(out["OLD"], UnknownTickerError)
    assert "no bars between 2024-01-03 and 2024-01-05" in str(out["OLD"])
    assert sleeps == []


def test_all_rows_in_range_rejected_is_an_error(server: FakeAlphaVantage) -> None:
    bad = adjusted_bar("0", "1", "1", "1", "1", "1")
    server.script("BAD", adjusted_reply("BAD", {"2024-01-04": bad}))
    source, _ = make_source(server.base_url)

    result = source.fetch(["BAD"], START, END)["BAD"]

    assert isinstance(result, SourceError) and not isinstance(result, TransientSourceError)
    assert "BAD 2024-01-04: open <= 0" in str(result)


def test_non_json_body_is_retried(server: FakeAlphaVantage) -> None:
    server.script("IBM", "<html>gateway hiccup</html>", adjusted_reply("IBM", IBM_SERIES))
    source, sleeps = make_source(server.base_url, retries=2, backoff=0.5)

    result = source.fetch(["IBM"], START, END)["IBM"]

    assert isinstance(result, FetchResult) and sleeps == [0.5]
