"""A vendor's correction of an old bar: found by the revision check, healed by a re-run of
its year, recorded as a correction; a split in the file is still a split."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from stock_pipeline.market_data import ingest
from stock_pipeline.market_data.calendar import trading_days
from stock_pipeline.market_data.corrections import is_rebased, revised_bars
from stock_pipeline.market_data.revisions import changed_years, years_to_rerun
from stock_pipeline.market_data.sources.csv_source import CsvSource
from stock_pipeline.warehouse import connect, prices, revisions
from stock_pipeline_tests.market_data.test_rebase import adjusted_for_a_split
from stock_pipeline_tests.support.history import backfill_by_year, sessions_of, stored_tables
from stock_pipeline_tests.support.synthetic import synthetic_bars, write_csv

SPAN = (dt.date(2013, 1, 1), dt.date(2014, 12, 31))
EDITED = 150  # a row in 2014


def history() -> pd.DataFrame:
    return synthetic_bars(260, seed=11, start=dt.date(2013, 7, 1))  # 2013-07 .. 2014-07


def check(con, source):
    have = revisions.read_bars_between(con, ["FIX"], *SPAN)
    return changed_years(have, source, SPAN, trading_days(*SPAN))


def test_an_edited_2014_close_is_found_healed_and_recorded_as_a_correction(tmp_path) -> None:
    bars = history()
    days = sessions_of(bars)
    folder = tmp_path / "csv"
    write_csv(folder, "FIX", bars)
    source = CsvSource(folder)
    edited = bars.copy()
    old_close = float(bars.loc[EDITED, "close"])
    edited.loc[EDITED, ["close", "adj_close"]] *= 1.01  # the vendor's corrected close
    edited.loc[EDITED, "high"] = max(edited.loc[EDITED, "high"], edited.loc[EDITED, "close"])
    new_close = float(edited.loc[EDITED, "close"])
    day = days[EDITED]
    with connect(tmp_path / "w.duckdb") as con:
        backfill_by_year(con, source, "FIX", days)
        assert check(con, source) == ([], {})
        write_csv(folder, "FIX", edited)
        changed, errors = check(con, source)
        assert errors == {} and [(c.ticker, c.year) for c in changed] == [("FIX", 2014)]
        (closes,) = [c.closes for c in changed]
        assert closes == [(day, pytest.approx(old_close), pytest.approx(new_close))]
        assert str(day) in str(changed[0]) and years_to_rerun(changed) == {"FIX": (2014, 2014)}
        # the re-run of the year partition the check requested
        year = [d for d in days if d.year == 2014]
        (result,) = ingest.ingest_bars(con, source, {"FIX": year})
        ingest.update_indicators(con, "FIX", year)
        healed = stored_tables(con, "FIX")
        corrections = revisions.read_corrections(con, "FIX")
        assert prices.read_revisions(con, "FIX").empty  # not a split
        assert check(con, source) == ([], {})
    with connect(tmp_path / "fresh.duckdb") as con:  # a fresh backfill of the edited file
        backfill_by_year(con, source, "FIX", days)
        fresh = stored_tables(con, "FIX")
    assert result.error is None and result.rebase is None
    assert [(c.date, c.old_close, c.new_close) for c in result.corrections] == [
        (day, pytest.approx(old_close), pytest.approx(new_close))
    ]
    assert len(corrections) == 1
    row = corrections.iloc[0]
    assert row["date"].date() == day and row["source"] == "csv"
    assert (row["old_close"], row["new_close"]) == (pytest.approx(old_close), new_close)
    assert row["old_open"] == row["new_open"] == pytest.approx(bars.loc[EDITED, "open"])
    pd.testing.assert_frame_equal(healed[0], fresh[0])
    pd.testing.assert_frame_equal(healed[1], fresh[1])


def test_a_corrected_high_alone_is_recorded_when_its_year_is_run_again(tmp_path) -> None:
    bars = history()
    days = sessions_of(bars)
    folder = tmp_path / "csv"
    write_csv(folder, "FIX", bars)
    source = CsvSource(folder)
    with connect(tmp_path / "w.duckdb") as con:
        backfill_by_year(con, source, "FIX", days)
        edited = bars.copy()
        edited.loc[EDITED, "high"] *= 1.02
        write_csv(folder, "FIX", edited)
        (changed,), _ = check(con, source)
        year = [d for d in days if d.year == 2014]
        (result,) = ingest.ingest_bars(con, source, {"FIX": year})
        stored = prices.read_ohlcv(con, "FIX")
        corrections = revisions.read_corrections(con, "FIX")
    assert changed.year == 2014 and changed.closes[0][0] == days[EDITED]
    assert [c.date for c in result.corrections] == [days[EDITED]]
    assert corrections["new_high"].tolist() == [pytest.approx(edited.loc[EDITED, "high"])]
    assert stored["high"].iloc[EDITED] == pytest.approx(edited.loc[EDITED, "high"])


def test_a_split_in_the_file_is_still_a_split_when_the_check_reruns_its_years(tmp_path) -> None:
    bars = history()
    days = sessions_of(bars)
    folder = tmp_path / "csv"
    write_csv(folder, "FIX", bars.iloc[:-1])
    source = CsvSource(folder)
    with connect(tmp_path / "w.duckdb") as con:
        backfill_by_year(con, source, "FIX", days[:-1])
        after = bars.copy()  # the traded price halves on the last day; the file adjusts the past
        after.loc[len(bars) - 1, ["open", "high", "low", "close", "adj_close"]] /= 2
        write_csv(folder, "FIX", adjusted_for_a_split(after, len(bars) - 1, 2.0))
        changed, _ = check(con, source)
        assert years_to_rerun(changed) == {"FIX": (2013, 2014)}
        (result,) = ingest.ingest_bars(con, source, {"FIX": days})  # both years, one run
        revised = prices.read_revisions(con, "FIX")
        corrections = revisions.read_corrections(con, "FIX")
        assert check(con, source) == ([], {})
    assert result.error is None and result.corrections == []
    assert result.rebase is not None and result.rebase.action.startswith("split 2:1 (inferred")
    assert len(revised) == 1 and corrections.empty


def revised_by(factors: list[float], fields=("open", "high", "low", "close", "adj_close")):
    """``revised_bars`` of bars 100, 101, ... whose prices changed by ``factors``."""
    dates = pd.to_datetime(trading_days(dt.date(2014, 1, 2), dt.date(2014, 2, 28))[: len(factors)])
    old = pd.DataFrame({"date": dates, **{f: 100.0 + pd.RangeIndex(len(dates)) for f in fields}})
    new = old.copy()
    for field in fields:
        new[field] = old[field] * factors
    return revised_bars(old, new), old["date"]


def test_one_factor_on_every_earlier_bar_is_a_rebase_and_a_changed_bar_among_them_is_not() -> None:
    halved, dates = revised_by([0.5] * 6)
    assert is_rebased(halved, dates)
    spike, dates = revised_by([0.5, 0.5, 0.55, 0.5, 0.5, 0.5])  # a split and a corrected bar
    assert not is_rebased(spike, dates)
    gap, dates = revised_by([0.5, 0.5, 1.0, 0.5, 0.5, 0.5])  # bar 3 as it was: no prefix
    assert not is_rebased(gap, dates)
    # a split and a later dividend both unseen (missed nights): two factors, two events
    both, dates = revised_by([0.49, 0.49, 0.49, 0.98, 0.98, 0.98])
    assert not is_rebased(both, dates, events=0) and is_rebased(both, dates, events=2)
    one, dates = revised_by([1.01])
    assert not is_rebased(one, dates)  # a single changed bar is a correction
