"""Results never depend on what the fold cache held: several as-of dates and spans,
evaluated in different orders on one warm cache, give exactly what a cold cache gives.

Default settings (the model, features and procedure users get); a short history keeps
the number of folds small.
"""

from __future__ import annotations

import datetime as dt
import shutil

import pandas as pd
import pytest

from stock_pipeline.evaluation.evaluate import evaluate_asof
from stock_pipeline.forecasting.feature_rows import update_feature_rows
from stock_pipeline.market_data import ingest
from stock_pipeline.settings import Settings
from stock_pipeline.trading.trade import backtest_asof
from stock_pipeline.warehouse import WarehouseFile, connect, prices
from stock_pipeline_tests.support.synthetic import synthetic_bars

pytestmark = pytest.mark.slow

TICKER = "CACHE"


def stored_history(settings: Settings, bars: pd.DataFrame) -> list[dt.date]:
    days = [t.date() for t in bars["date"]]
    with connect(settings.warehouse) as con:
        prices.upsert_ohlcv(con, TICKER, bars, "test")
        ingest.update_indicators(con, TICKER, days)
        update_feature_rows(con, TICKER, days[-1], settings.features)
    return days


def results(settings: Settings, asof: dt.date, span: int | None) -> dict[str, pd.DataFrame]:
    """Evaluate and backtest as of ``asof`` over ``span`` sessions; the stored rows."""
    settings = settings.with_changes(evaluation={"span_sessions": span})
    warehouse = WarehouseFile(settings.warehouse)
    evaluate_asof(warehouse, TICKER, asof, settings)
    backtest_asof(warehouse, TICKER, asof, settings)
    out = {}
    with connect(settings.warehouse, read_only=True) as con:
        for table, order in (
            ("predictions", "model, date"),
            ("evaluation_metrics", "model, fold, metric"),
            ("backtest_daily", "strategy, date"),
            ("backtest_metrics", "strategy, metric"),
        ):
            out[table] = con.execute(
                f"SELECT * EXCLUDE (ticker) FROM {table} WHERE asof_date = ? ORDER BY {order}",
                [asof],
            ).df()
    return out


def test_warm_cache_in_any_order_equals_a_cold_cache(settings, tmp_path):
    days = stored_history(settings, synthetic_bars(330, seed=31))
    cases = [(days[-1], None), (days[-40], 30), (days[-12], 756), (days[-40], None)]
    cold = {}
    for i, (asof, span) in enumerate(cases):
        alone = settings.with_changes(models_path=tmp_path / f"cold{i}")
        cold[i] = results(alone, asof, span)
        shutil.rmtree(tmp_path / f"cold{i}")
    warm = settings.with_changes(models_path=tmp_path / "warm")
    for order in (range(len(cases)), reversed(range(len(cases)))):
        for i in order:
            got = results(warm, *cases[i])
            for table, expected in cold[i].items():
                pd.testing.assert_frame_equal(got[table], expected, obj=f"{cases[i]} {table}")
