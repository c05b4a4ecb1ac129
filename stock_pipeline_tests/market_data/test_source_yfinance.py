"""YFinanceSource against a local fake of Yahoo's chart API (``support.fake_yahoo``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import pytest
import yfinance as yf

from stock_pipeline.market_data.sources.base import (
    BAR_COLUMNS,
    FetchResult,
    TransientSourceError,
    UnknownTickerError,
)
from stock_pipeline.market_data.sources.yfinance_source import YFinanceSource
from stock_pipeline.settings import SourceSettings
from stock_pipeline_tests.support.fake_yahoo import (  # noqa: F401 (fixtures)
    NY,
    Bar,
    FakeYahoo,
    Listing,
    LocalYahooSession,
    fresh_yfinance,
    no_internet,
    yahoo,
)

START, END = dt.date(2024, 1, 2), dt.date(2024, 1, 5)


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
def harness(yahoo: FakeYahoo, monkeypatch: pytest.MonkeyPatch) -> Harness:  # noqa: F811
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


def test_dividends_and_splits_come_with_the_bars(harness: Harness):
    from stock_pipeline_tests.support.fake_yahoo import Company

    days = [dt.date(2024, 1, d) for d in (2, 3, 4, 5, 8, 9, 10)]
    company = Company.simulate(days, seed=1, splits={days[3]: 2.0}, dividends={days[5]: 0.25})
    harness.yahoo.listings["ACT"] = company.listing(days[-1])
    result = ok(harness.source().fetch(["ACT"], days[0], days[-1])["ACT"])
    actions = result.actions.sort_values("date").reset_index(drop=True)
    assert [(d.date(), k, v) for d, k, v in actions.itertuples(index=False)] == [
        (days[3], "split", 2.0),
        (days[5], "dividend", 0.25),
    ]
    # Yahoo's Close is split-adjusted as of the download: no jump at the split
    close = result.bars["close"].to_numpy()
    assert close[2] == pytest.approx(company.close[2] / 2)
    assert close[3] == pytest.approx(company.close[3])
