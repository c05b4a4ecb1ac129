"""The panel as of d: no survivorship (a ticker enters with its history and leaves when
it ends), nothing after d, clear errors; and what a too-short history does. No training."""

from __future__ import annotations

import numpy as np
import pytest

from stock_pipeline.settings import Settings
from stock_pipeline.universe.panel import load_panel
from stock_pipeline.universe.periods import complete_windows, study_periods
from stock_pipeline.universe.pooled import universe_backtest_asof, universe_model_asof
from stock_pipeline_tests.support.universe import (
    bars_of,
    small_universe,
    store_universe,
    universe_returns,
)


@pytest.fixture
def stored(tmp_path):
    returns = universe_returns(120, 4, 0.0, seed=1)
    # S01 enters at session 30, S02 leaves after session 79
    spans = {"S01": (30, 119), "S02": (0, 79)}
    warehouse = store_universe(tmp_path / "w.duckdb", returns, spans)
    return warehouse, returns, bars_of(returns[:, 0])["date"].dt.date


def test_tickers_enter_with_their_history_and_leave_when_it_ends(stored):
    warehouse, returns, dates = stored
    settings = small_universe(Settings()).universe
    with warehouse.connect(read_only=True) as con:
        panel = load_panel(con, dates[100], settings)
    assert panel.tickers == ["S00", "S01", "S02", "S03"] and len(panel.dates) == 101
    # S01's first return is the session after its first bar; S02 has none after 79
    assert np.isnan(panel.returns[:31, 1]).all() and np.isfinite(panel.returns[31:, 1]).all()
    assert np.isfinite(panel.returns[1:80, 2]).all() and np.isnan(panel.returns[80:, 2]).all()
    assert panel.returns[5:101, 0] == pytest.approx(returns[5:101, 0])
    ready = complete_windows(panel, 0, settings.sequence_length)  # 20 returns
    assert not ready[49, 1] and ready[50, 1]  # returns 31..50
    assert ready[79, 2] and not ready[80:, 2].any()


def test_panel_errors_name_the_setting(stored):
    warehouse, _, dates = stored
    # a configuration never gets there (Settings refuses both when it is read:
    # settings/test_validation.py); a caller of the core with settings of its own does
    for features, match in ((("rsi_14", "log_return"), "first"), (("log_return", "nope"), "nope")):
        with pytest.raises(ValueError, match=match):
            small_universe(Settings(), features=list(features))
        bad = Settings().universe.model_copy(update={"features": features})
        with warehouse.connect(read_only=True) as con, pytest.raises(ValueError, match=match):
            load_panel(con, dates[100], bad)
    with pytest.raises(ValueError, match="sequence_length"):
        small_universe(Settings(), sequence_length=150)


def test_too_short_a_history_says_so_and_trades_nothing(stored, tmp_path):
    warehouse, _, dates = stored
    settings = small_universe(Settings(data_dir=tmp_path / "data"))
    assert study_periods(119, settings.universe) == []
    model = universe_model_asof(warehouse, dates[118], settings)
    assert model.predictions == 0 and "universe.train_sessions" in model.note
    result = universe_backtest_asof(warehouse, dates[118], settings)
    assert result.accuracy is None and "No session traded" in result.verdict


def test_old_as_of_dates_keep_only_their_own_ranking(tmp_path):
    import datetime as dt

    import pandas as pd

    from stock_pipeline.warehouse import connect
    from stock_pipeline.warehouse.universe import prune_prediction_histories, replace_universe

    days = [dt.date(2024, 1, d) for d in (2, 3, 4, 5)]
    with connect(tmp_path / "w.duckdb") as con:
        for i, asof in enumerate(days[1:], start=1):
            rows = pd.DataFrame(
                {"asof_date": asof, "date": days[: i + 1], "ticker": "A", "model": "lstm",
                 "probability": 0.5, "rank": 1}
            )  # fmt: skip
            replace_universe(con, asof, {"universe_predictions": rows})
        assert prune_prediction_histories(con, keep=2) == 1  # the oldest's one earlier date
        left = con.execute(
            "SELECT asof_date, count(*), min(date) FROM universe_predictions GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert left == [(days[1], 1, days[1]), (days[2], 3, days[0]), (days[3], 4, days[0])]


def test_indicator_features_join_the_returns(tmp_path):
    from stock_pipeline.market_data.indicators import compute_indicators
    from stock_pipeline.universe.walk import PooledForecaster
    from stock_pipeline.warehouse import connect, prices

    returns = universe_returns(200, 6, 0.0, seed=2)
    warehouse = store_universe(tmp_path / "w.duckdb", returns)
    with connect(warehouse.path) as con:
        for i in range(6):
            prices.upsert_indicators(con, f"S{i:02d}", compute_indicators(bars_of(returns[:, i])))
    settings = small_universe(
        Settings(data_dir=tmp_path / "data"), features=["log_return", "rsi_14"], epochs=1, k=2
    )
    asof = bars_of(returns[:, 0])["date"].iloc[-1].date()
    with warehouse.connect(read_only=True) as con:
        panel = load_panel(con, asof, settings.universe)
    rsi = compute_indicators(bars_of(returns[:, 3]))["rsi_14"].to_numpy()
    assert panel.features.shape == (200, 6, 2)
    assert np.allclose(panel.features[:, 3, 1], rsi, equal_nan=True)
    # the indicator's warm-up rows hold no complete sequence; after it, both features count
    first = int(np.argmax(np.isfinite(rsi)))  # the return starts at row 1, RSI later
    assert first > 1
    ready = complete_windows(panel, 0, 20)
    assert not ready[: first + 19].any() and ready[first + 19 :].all()
    walk = PooledForecaster(panel, settings.universe, None).run(
        study_periods(200, settings.universe)
    )
    # periods end at rows 149 and 199: signal rows 149..199, every ticker ranked
    assert [p.mode for p in walk.periods] == ["trained"] * 2 and len(walk.predictions) == 6 * 51
