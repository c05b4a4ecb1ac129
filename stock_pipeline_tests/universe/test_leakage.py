"""Leak-free and cached: rewriting every bar after d changes nothing dated on or before
d; the standardization uses the training rows only; a night retrains only when a study
period ends. SMALL settings (support.universe.SMALL_UNIVERSE), 16 tickers, k = 3."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stock_pipeline.settings import Settings
from stock_pipeline.universe.panel import Panel
from stock_pipeline.universe.periods import study_periods, training_scaler
from stock_pipeline.universe.pooled import universe_backtest_asof, universe_model_asof
from stock_pipeline.warehouse.universe import read_universe_table
from stock_pipeline_tests.support.universe import (
    bars_of,
    small_universe,
    store_universe,
    universe_returns,
)

TICKERS, DAYS = 16, 260


@pytest.mark.parametrize(
    "training, predict_with",
    [("windows", "state"), ("sequences", "state"), ("sequences", "windows")],
)
def test_rewriting_every_bar_after_d_changes_nothing_as_of_d(tmp_path, training, predict_with):
    returns = universe_returns(DAYS, TICKERS, 0.3, seed=4)
    rewritten = returns.copy()
    rewritten[221:] = np.random.default_rng(9).normal(0, 0.05, (DAYS - 221, TICKERS))
    d = bars_of(returns[:, 0])["date"].iloc[220].date()
    tables = {}
    for name, world in (("original", returns), ("rewritten", rewritten)):
        # separate data folders: the second world trains its own models, no cache shared
        settings = small_universe(
            Settings(data_dir=tmp_path / name), k=3, training=training, predict_with=predict_with
        )
        warehouse = store_universe(tmp_path / name / "w.duckdb", world)
        model = universe_model_asof(warehouse, d, settings)
        assert [p.mode for p in model.periods] == ["trained", "trained"]
        universe_backtest_asof(warehouse, d, settings)
        with warehouse.connect(read_only=True) as con:
            tables[name] = {
                t: read_universe_table(con, t, d).sort_values(list(keys), ignore_index=True)
                for t, keys in (
                    ("universe_predictions", ("date", "ticker")),
                    ("universe_backtest_daily", ("strategy", "date")),
                    ("universe_backtest_metrics", ("strategy", "metric")),
                )
            }
            assert con.execute("SELECT max(date) FROM ohlcv").fetchone()[0] > d
    for table, frame in tables["original"].items():
        pd.testing.assert_frame_equal(frame, tables["rewritten"][table], obj=table)
    assert pd.Timestamp(tables["original"]["universe_predictions"]["date"].max()) == pd.Timestamp(d)


def synthetic_panel(values: np.ndarray) -> Panel:
    dates = np.datetime64("2020-01-01") + np.arange(len(values))
    names = [f"T{i}" for i in range(values.shape[1])]
    return Panel(dates, names, values, values[..., None], ("log_return",))


def test_standardization_uses_the_training_rows_only():
    settings = small_universe(Settings()).universe
    rng = np.random.default_rng(0)
    values = rng.normal(0.001, 0.02, (260, 5))
    values[:3, 1] = np.nan  # a late entrant: its missing days are left out
    period = study_periods(len(values), settings)[1]  # training rows 50..199
    scaler = training_scaler(synthetic_panel(values), period)
    block = values[50:200].ravel()
    block = block[np.isfinite(block)]
    assert scaler.mean[0] == pytest.approx(block.sum() / len(block))
    assert scaler.std[0] == pytest.approx(np.sqrt(((block - block.mean()) ** 2).mean()))
    later = values.copy()
    later[200:] *= 10  # the trading span (and after) changes nothing
    earlier = values.copy()
    earlier[:50] *= 10  # nor does the previous period's data
    for other in (later, earlier):
        assert training_scaler(synthetic_panel(other), period) == scaler
    inside = values.copy()
    inside[120, 2] += 1.0
    assert training_scaler(synthetic_panel(inside), period).mean[0] != scaler.mean[0]


def test_a_night_retrains_only_when_a_study_period_ends(tmp_path):
    settings = small_universe(Settings(data_dir=tmp_path / "data"), k=3)
    returns = universe_returns(DAYS, TICKERS, 0.3, seed=5)
    warehouse = store_universe(tmp_path / "w.duckdb", returns)
    dates = bars_of(returns[:, 0])["date"].dt.date
    first = universe_model_asof(warehouse, dates[230], settings)  # periods end at 149, 199
    nightly = universe_model_asof(warehouse, dates[231], settings)
    assert [p.mode for p in first.periods] == ["trained", "trained"]
    assert [p.mode for p in nightly.periods] == ["cached", "cached"]
    # the new night is the only prediction computed: every earlier one is reused
    assert [p.predictions_reused for p in nightly.periods] == [50, 231 - 199]
    period_end = universe_model_asof(warehouse, dates[249], settings)
    assert [p.mode for p in period_end.periods] == ["cached", "cached", "trained"]
    with warehouse.connect(read_only=True) as con:
        again = read_universe_table(con, "universe_predictions", dates[231])
    before = again[pd.to_datetime(again["date"]) <= pd.Timestamp(dates[230])]
    with warehouse.connect(read_only=True) as con:
        old = read_universe_table(con, "universe_predictions", dates[230])
    keys = ["date", "ticker"]
    assert np.allclose(
        before.sort_values(keys)["probability"].to_numpy(),
        old.sort_values(keys)["probability"].to_numpy(),
    )


def test_a_warm_start_begins_where_the_previous_period_ended_and_is_cached_by_it(tmp_path):
    from stock_pipeline.universe import sequences

    settings = small_universe(Settings(data_dir=tmp_path / "data"), k=3, warm_start=True)
    returns = universe_returns(DAYS, TICKERS, 0.3, seed=5)
    warehouse = store_universe(tmp_path / "w.duckdb", returns)
    dates = bars_of(returns[:, 0])["date"].dt.date
    starts = []
    original = sequences.fit_sequences

    def recording(model, data, us):
        starts.append([w.copy() for w in model.get_weights()])
        result = original(model, data, us)
        starts.append([w.copy() for w in model.get_weights()])
        return result

    sequences.fit_sequences = recording
    try:
        first = universe_model_asof(warehouse, dates[230], settings)
        nightly = universe_model_asof(warehouse, dates[231], settings)
    finally:
        sequences.fit_sequences = original
    assert [p.mode for p in first.periods] == ["trained", "trained"]
    assert [p.mode for p in nightly.periods] == ["cached", "cached"]
    # period 1 started from period 0's trained weights, not from fresh ones
    trained_0, start_1 = starts[1], starts[2]
    assert all(np.array_equal(a, b) for a, b in zip(trained_0, start_1, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(starts[0], start_1, strict=True))
    # a cold start keys period 1's model differently: it is never taken for the warm one
    cold = small_universe(Settings(data_dir=tmp_path / "data"), k=3)
    assert [p.mode for p in universe_model_asof(warehouse, dates[231], cold).periods] == [
        "trained",
        "trained",
    ]
