"""A re-based download (after a split or a dividend) replaces the stored history."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from stock_pipeline.market_data import ingest
from stock_pipeline.market_data.sources.csv_source import CsvSource
from stock_pipeline.warehouse import connect, prices
from stock_pipeline_tests.support.synthetic import synthetic_bars, write_csv


def adjusted_for_a_split(bars: pd.DataFrame, ex: int, ratio: float) -> pd.DataFrame:
    """The file a provider serves after a split on row ``ex``: earlier rows adjusted."""
    out = bars.copy()
    for column in ("open", "high", "low", "close", "adj_close"):
        out.loc[: ex - 1, column] /= ratio
    out.loc[: ex - 1, "volume"] *= ratio
    return out


def test_a_split_in_a_csv_rewrite_is_detected_and_the_history_replaced(tmp_path) -> None:
    bars = synthetic_bars(40, seed=3)
    days = [d.date() for d in bars["date"]]
    folder = tmp_path / "csv"
    write_csv(folder, "SPL", bars.iloc[:30])
    source = CsvSource(folder)
    with connect(tmp_path / "w.duckdb") as con:
        ingest.ingest_bars(con, source, {"SPL": days[:30]})
        ingest.update_indicators(con, "SPL", days[:30])
        # the traded price halves on day 30; the provider's file now adjusts the past
        after = bars.copy()
        after.loc[30:, ["open", "high", "low", "close", "adj_close"]] /= 2
        after.loc[30:, "volume"] *= 2
        write_csv(folder, "SPL", adjusted_for_a_split(after, 30, 2.0).iloc[:31])
        (result,) = ingest.ingest_bars(con, source, {"SPL": [days[30]]})
        stored = prices.read_ohlcv(con, "SPL")
        revisions = prices.read_revisions(con, "SPL")
        recomputed = ingest.update_indicators(con, "SPL", [days[30]])
    assert result.error is None and result.rebase is not None
    assert result.rebase.ex_date == days[30]
    assert result.rebase.action.startswith("split 2:1 (inferred")
    assert stored["close"].iloc[0] == pytest.approx(bars["close"].iloc[0] / 2)
    assert len(stored) == 31 and [d.date() for d in revisions["ex_date"]] == [days[30]]
    assert recomputed.rows_recomputed > 0  # level indicators of earlier days changed


def test_a_history_that_cannot_be_downloaded_whole_is_left_as_it_was(tmp_path) -> None:
    bars = synthetic_bars(20, seed=4)
    days = [d.date() for d in bars["date"]]
    folder = tmp_path / "csv"
    write_csv(folder, "GAP", bars.iloc[:10])
    with connect(tmp_path / "w.duckdb") as con:
        ingest.ingest_bars(con, CsvSource(folder), {"GAP": days[:10]})
        rebased = adjusted_for_a_split(bars.iloc[:11], 10, 2.0)
        write_csv(folder, "GAP", rebased.drop(index=[4]))  # the new file lacks day 4
        (result,) = ingest.ingest_bars(con, CsvSource(folder), {"GAP": [days[10]]})
        stored = prices.read_ohlcv(con, "GAP")
    assert "nothing was replaced" in result.error and str(days[4]) in result.error
    assert len(stored) == 10
    assert stored["close"].iloc[0] == pytest.approx(bars["close"].iloc[0])


def test_a_missed_night_is_filled_by_the_next_one(tmp_path) -> None:
    bars = synthetic_bars(15, seed=5)
    days = [d.date() for d in bars["date"]]
    folder = tmp_path / "csv"
    write_csv(folder, "MIS", bars)
    with connect(tmp_path / "w.duckdb") as con:
        ingest.ingest_bars(con, CsvSource(folder), {"MIS": days[:10]})
        (result,) = ingest.ingest_bars(con, CsvSource(folder), {"MIS": [days[13]]})
        stored = prices.read_ohlcv(con, "MIS")
    assert result.filled_dates == days[10:13]
    assert [d.date() for d in stored["date"]] == days[:14]


def test_alpha_vantage_raw_closes_become_split_adjusted_bars() -> None:
    from stock_pipeline.market_data.sources.alphavantage import _yahoo_form

    raw = pd.DataFrame(
        {
            "date": ["2024-01-02", "2024-01-03", "2024-01-04"],
            "open": ["100", "102", "51"],
            "high": ["101", "103", "52"],
            "low": ["99", "101", "50"],
            "close": ["100", "102", "51.5"],
            "adj_close": ["49.5", "50.5", "51.5"],
            "volume": ["1000", "1200", "2600"],
            "dividend": ["0", "0.5", "0"],
            "split": ["1", "1", "2"],
        }
    )
    bars, actions = _yahoo_form(raw)
    assert bars["close"].tolist() == [50.0, 51.0, 51.5]  # no jump at the split
    assert bars["volume"].tolist() == [2000.0, 2400.0, 2600.0]
    assert sorted(actions["kind"]) == ["dividend", "split"]
    assert actions.set_index("kind")["value"].to_dict() == {"split": 2.0, "dividend": 0.5}
    assert actions.set_index("kind")["date"]["split"] == pd.Timestamp(dt.date(2024, 1, 4))
