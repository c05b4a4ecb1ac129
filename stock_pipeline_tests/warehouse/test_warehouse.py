"""Upserts into the DuckDB warehouse: idempotent, atomic, keyed by (ticker, date)."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from stock_pipeline.warehouse import connect, prices
from stock_pipeline_tests.support.synthetic import synthetic_bars


def test_upsert_is_idempotent_and_replaces_values(tmp_path) -> None:
    bars = synthetic_bars(30, seed=1)
    with connect(tmp_path / "w.duckdb") as con:
        prices.upsert_ohlcv(con, "AAA", bars, "test")
        prices.upsert_ohlcv(con, "AAA", bars, "test")
        changed = bars.iloc[10:12].copy()
        changed["close"] = changed["open"]
        prices.upsert_ohlcv(con, "AAA", changed, "test")
        assert con.execute("SELECT count(*) FROM ohlcv").fetchone()[0] == 30
        stored = prices.read_ohlcv(con, "AAA")
    assert stored["close"].iloc[10] == pytest.approx(bars["open"].iloc[10])
    assert stored["close"].iloc[9] == pytest.approx(bars["close"].iloc[9])


def test_failed_write_leaves_previous_rows_intact(tmp_path) -> None:
    bars = synthetic_bars(20, seed=2)
    with connect(tmp_path / "w.duckdb") as con:
        prices.upsert_ohlcv(con, "AAA", bars, "test")
        broken = bars.copy()
        broken["close"] = broken["close"] * 2
        broken.loc[15, "close"] = None  # NOT NULL violation half-way through the batch
        with pytest.raises(duckdb.Error):
            prices.upsert_ohlcv(con, "AAA", broken, "test")
        stored = prices.read_ohlcv(con, "AAA")
    pd.testing.assert_series_equal(
        stored["close"], bars["close"].reset_index(drop=True), check_names=False
    )


def test_schema_has_primary_keys(tmp_path) -> None:
    with connect(tmp_path / "w.duckdb") as con:
        for table in ("ohlcv", "indicators"):
            pk = con.execute(
                "SELECT constraint_column_names FROM duckdb_constraints() "
                "WHERE table_name = ? AND constraint_type = 'PRIMARY KEY'",
                [table],
            ).fetchone()[0]
            assert list(pk) == ["ticker", "date"]
