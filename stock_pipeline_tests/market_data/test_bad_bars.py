"""Bars no market made are rejected before they are stored: dated after the current
session, a typo's 100x step, a price of 1e300; each named, nothing stored lost."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pydantic
import pytest

from stock_pipeline.market_data import ingest, quality
from stock_pipeline.market_data.sources.base import RejectedRow, validate_bars
from stock_pipeline.market_data.sources.csv_source import CsvSource
from stock_pipeline.market_data.sources.plausibility import BarRules, screen_bars
from stock_pipeline.market_data.sources.sample import SampleSource, _load
from stock_pipeline.settings import SourceSettings
from stock_pipeline.warehouse import connect, prices
from stock_pipeline_tests.support.synthetic import synthetic_bars, write_csv

HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"
BEFORE = ["2024-01-02,10,12,9,11,11,1000", "2024-01-03,11,13,10.5,12,12,2000"]
AFTER = "2024-01-05,12,12.5,11,11.5,11.5,1000"
DAYS = [dt.date(2024, 1, d) for d in (2, 3, 4, 5)]
WHY_NOT = "beyond source.max_daily_move, 10x either way, and no split or dividend that day"


def _store(tmp_path, ticker: str, text: str, rules: BarRules, days=DAYS):
    """Write ``<ticker>.csv`` and ingest ``days`` from it: (result, stored bars, path)."""
    folder = tmp_path / "csv"
    folder.mkdir(exist_ok=True)
    path = folder / f"{ticker}.csv"
    path.write_text(text)
    with connect(tmp_path / "w.duckdb") as con:
        (result,) = ingest.ingest_bars(con, CsvSource(folder), {ticker: days}, rules)
        stored = prices.read_ohlcv(con, ticker)
    return result, stored, path


def _stored_days(stored: pd.DataFrame) -> list[dt.date]:
    return [d.date() for d in stored["date"]]


def test_csv_bars_after_the_current_session_are_rejected_with_file_and_line(tmp_path) -> None:
    text = "\n".join([HEADER, *BEFORE, "2024-01-04,12,12.5,11,11.5,11.5,1", AFTER]) + "\n"
    rules = BarRules(last_session=dt.date(2024, 1, 3))  # "today" is pinned: Jan 3rd
    result, stored, path = _store(tmp_path, "FUT", text, rules)
    future = "dated after the current session 2024-01-03: a bar from the future"
    assert result.rejected == [
        RejectedRow("FUT", "2024-01-04", f"{future} ({path}, line 4)"),
        RejectedRow("FUT", "2024-01-05", f"{future} ({path}, line 5)"),
    ]
    assert _stored_days(stored) == DAYS[:2] and result.error is None
    assert result.missing_dates == DAYS[2:]


def test_every_source_goes_through_the_rule_the_sample_too(tmp_path) -> None:
    days = [dt.date(2018, 12, d) for d in (26, 27, 28, 31)]
    with connect(tmp_path / "w.duckdb") as con:
        (result,) = ingest.ingest_bars(
            con, SampleSource(), {"^GSPC": days}, BarRules(last_session=dt.date(2018, 12, 27))
        )
        stored = prices.read_ohlcv(con, "^GSPC")
    future = "dated after the current session 2018-12-27: a bar from the future"
    assert result.rejected == [
        RejectedRow("^GSPC", "2018-12-28", future),
        RejectedRow("^GSPC", "2018-12-31", future),
    ]
    assert _stored_days(stored) == days[:2]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        # a misplaced decimal point: every price 100x, consistent with itself
        ("2024-01-04,1200,1250,1100,1150,1150,1", "close 1150 is 95.8x the close 12"),
        ("2024-01-04,1.2,1.25,0.5,0.6,0.6,1", "close 0.6 is 0.05x the close 12"),
        # the close is plausible, the open is not
        ("2024-01-04,150,150,11,11.5,11.5,1", "open 150 is 12.5x the close 12"),
        ("2024-01-04,12,13,1,11.5,11.5,1", "low 1 is 0.0833x the close 12"),
    ],
    ids=["typo-100x", "drop-to-5%", "open", "low"],
)
def test_an_implausible_move_is_rejected_and_the_next_bar_is_kept(tmp_path, row, reason) -> None:
    text = "\n".join([HEADER, *BEFORE, row, AFTER]) + "\n"
    result, stored, path = _store(tmp_path, "TYPO", text, BarRules())
    assert result.rejected == [
        RejectedRow(
            "TYPO",
            "2024-01-04",
            f"implausible move: {reason} of 2024-01-03 ({WHY_NOT} explains it) ({path}, line 4)",
        )
    ]
    # the bar after the typo is measured from the last kept close (12), not the typo's
    assert _stored_days(stored) == [DAYS[0], DAYS[1], DAYS[3]]


def test_the_bound_is_a_setting(tmp_path) -> None:
    text = "\n".join([HEADER, *BEFORE, "2024-01-04,18,18,17,18,18,1"]) + "\n"  # +50%
    strict = BarRules.of(SourceSettings(max_daily_move=1.4), None)
    result, _, _ = _store(tmp_path, "UP", text, strict, DAYS[:3])
    assert [r.reason.split(" (")[0] for r in result.rejected] == [
        "implausible move: close 18 is 1.5x the close 12 of 2024-01-03"
    ]
    result, stored, _ = _store(tmp_path, "UP", text, BarRules.of(SourceSettings(), None), DAYS[:3])
    assert result.rejected == [] and len(stored) == 3
    with pytest.raises(pydantic.ValidationError, match="max_daily_move"):
        SourceSettings(max_daily_move=0.5)


def test_an_absurd_price_is_rejected_even_on_the_first_bar(tmp_path) -> None:
    text = "\n".join([HEADER, "2024-01-02,1e300,1e300,1e300,1e300,1e300,5", *BEFORE[1:]]) + "\n"
    result, stored, path = _store(tmp_path, "HUGE", text, BarRules(), DAYS[:2])
    assert result.rejected == [
        RejectedRow(
            "HUGE", "2024-01-02", f"open 1e+300 above source.max_price (1e+09) ({path}, line 2)"
        )
    ]
    assert _stored_days(stored) == DAYS[1:2]


def test_a_close_of_1e300_no_longer_reaches_the_indicators(tmp_path) -> None:
    """The fault as found: with the rules off the bar is stored and the indicators after
    it are non-finite; with the default rules it is refused and they stay finite."""
    bars = synthetic_bars(90, seed=5)
    bars.loc[70, ["open", "high", "low", "close", "adj_close"]] = 1e300
    days = [d.date() for d in bars["date"]]
    off = BarRules(max_daily_move=math.inf, max_price=math.inf)
    for rules, name in ((off, "OFF"), (BarRules(), "ON")):
        write_csv(tmp_path / "csv", name, bars)
        with connect(tmp_path / "w.duckdb") as con:
            (result,) = ingest.ingest_bars(con, CsvSource(tmp_path / "csv"), {name: days}, rules)
            ingest.update_indicators(con, name, days)
            bad = quality.non_finite_after_warmup(con, name)
            stored = prices.read_ohlcv(con, name)
        if name == "OFF":
            assert bad and len(stored) == 90
        else:
            assert bad == {} and len(stored) == 89 and days[70] not in _stored_days(stored)
            assert [r.date for r in result.rejected] == [days[70].isoformat()]


def test_a_later_bad_bar_loses_and_duplicates_nothing_stored(tmp_path) -> None:
    bars = synthetic_bars(15, seed=6)
    days = [d.date() for d in bars["date"]]
    folder = tmp_path / "csv"
    write_csv(folder, "KEEP", bars.iloc[:10])
    with connect(tmp_path / "w.duckdb") as con:
        ingest.ingest_bars(con, CsvSource(folder), {"KEEP": days[:10]}, BarRules())
        before = prices.read_ohlcv(con, "KEEP")
        typo = bars.copy()
        typo.loc[12, ["open", "high", "low", "close", "adj_close"]] *= 100
        write_csv(folder, "KEEP", typo)
        for _ in range(2):  # twice: the same rows, once each
            (result,) = ingest.ingest_bars(con, CsvSource(folder), {"KEEP": days[10:]}, BarRules())
        after = prices.read_ohlcv(con, "KEEP")
    assert [r.date for r in result.rejected] == [days[12].isoformat()]
    assert _stored_days(after) == days[:12] + days[13:]
    pd.testing.assert_frame_equal(after.iloc[:10], before)


@pytest.mark.parametrize(
    ("kind", "value"),
    [("split", 20.0), ("dividend", 190.0)],  # 20 new shares per old; a 95% special dividend
)
def test_a_split_or_dividend_that_day_explains_the_move(kind, value) -> None:
    bars = pd.DataFrame(
        {
            "date": pd.to_datetime(["2024-01-02", "2024-01-03"]),
            "open": [200.0, 10.0],
            "high": [201.0, 10.5],
            "low": [199.0, 9.5],
            "close": [200.0, 10.0],
            "adj_close": [200.0, 10.0],
            "volume": [1.0, 20.0],
        }
    )
    on_the_day = pd.DataFrame(
        {"date": pd.to_datetime(["2024-01-03"]), "kind": kind, "value": value}
    )
    kept, rejected = screen_bars("ACT", bars, BarRules(), on_the_day)
    assert rejected == [] and len(kept) == 2
    a_day_late = on_the_day.assign(date=pd.to_datetime(["2024-01-04"]))
    kept, rejected = screen_bars("ACT", bars, BarRules(), a_day_late)
    assert [r.date for r in rejected] == ["2024-01-03"] and len(kept) == 1


@pytest.mark.parametrize("dataset", ["sp500", "nasdaq"])
def test_the_default_bound_rejects_no_real_day_of_the_bundled_indices(dataset) -> None:
    bars, _ = validate_bars(dataset, _load(dataset))
    kept, rejected = screen_bars(dataset, bars, BarRules.of(SourceSettings(), None))
    assert rejected == [] and len(kept) == len(bars) > 4000
