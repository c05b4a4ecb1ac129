"""The pooled model's study periods as calls on a real Dask ``LocalCluster`` (two worker
processes on loopback): the predictions and the backtest are those of the in-process
run, to the bit, trained either way (windows or sequences), and a period that fails on
a worker fails the walk naming the period. SMALL settings
(support.universe.SMALL_UNIVERSE), 16 tickers, 2 epochs."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

from stock_pipeline.compute import open_engine
from stock_pipeline.settings import ComputeSettings, Settings, UniverseSettings
from stock_pipeline.universe.pooled import (
    universe_backtest_asof,
    universe_model_asof,
    universe_models_dir,
)
from stock_pipeline_tests.support.universe import (
    SMALL_UNIVERSE,
    bars_of,
    small_universe,
    store_universe,
    universe_returns,
)

TICKERS, DAYS = 16, 241  # study periods end at rows 149 and 199: two, both by row 240
TABLES = {
    "universe_predictions": "date, ticker",
    "universe_backtest_daily": "strategy, date",
    "universe_backtest_metrics": "strategy, metric",
}


def test_build_network_draws_nothing_from_the_process_wide_generators(monkeypatch):
    """Another thread (a Dask worker's event loop) drawing from Python's and NumPy's
    generators right after the seeding leaves the initial weights as they were."""
    from stock_pipeline.backend import keras
    from stock_pipeline.universe import network

    us = UniverseSettings(**SMALL_UNIVERSE)
    before = network.build_network(20, 1, us).get_weights()
    seed = keras.utils.set_random_seed

    def seed_then_draw(value: int) -> None:
        seed(value)
        random.random(), np.random.rand()

    monkeypatch.setattr(keras.utils, "set_random_seed", seed_then_draw)
    after = network.build_network(20, 1, us).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))


@pytest.mark.slow
def test_study_periods_on_a_local_cluster_store_what_the_in_process_run_stores(tmp_path):
    returns = universe_returns(DAYS, TICKERS, 0.2, seed=5)
    asof = bars_of(returns[:, 0])["date"].iloc[-1].date()
    compute = ComputeSettings(engine="local_cluster", workers=2)
    stored, walks = {}, {}
    with open_engine(compute) as cluster:
        cluster.engine  # noqa: B018  (the workers start while the in-process run trains)
        runs = [
            (f"{training}_{where}", training, engine)
            for training in ("windows", "sequences")
            for where, engine in (("in_process", None), ("local_cluster", cluster))
        ]
        for name, training, engine in runs:
            # separate data folders: each run trains its own models, no cache shared
            settings = small_universe(
                Settings(data_dir=tmp_path / name), epochs=2, training=training
            )
            warehouse = store_universe(tmp_path / name / "w.duckdb", returns)
            walks[name] = universe_model_asof(warehouse, asof, settings, engine=engine)
            universe_backtest_asof(warehouse, asof, settings)
            with warehouse.connect(read_only=True) as con:
                stored[name] = {
                    table: con.execute(f"SELECT * FROM {table} ORDER BY {order}").df()
                    for table, order in TABLES.items()
                }
        broken = small_universe(Settings(data_dir=tmp_path / "broken"), epochs=2)
        failed = failing_period(broken, tmp_path, returns, asof, cluster)
    for walk in walks.values():  # both periods trained, on the workers for the cluster run
        assert [(p.index, p.mode) for p in walk.periods] == [(0, "trained"), (1, "trained")]
    for training in ("windows", "sequences"):
        local, remote = stored[f"{training}_in_process"], stored[f"{training}_local_cluster"]
        assert len(local["universe_predictions"]) == TICKERS * (240 - 149 + 1)
        assert len(local["universe_backtest_metrics"]) > 0
        # to the bit: a period model trained on a worker is the one trained in process
        # (the worker's event loop draws from the process-wide generators meanwhile)
        for table in TABLES:
            pd.testing.assert_frame_equal(local[table], remote[table], check_exact=True)
    # the two procedures are different models: the comparison above is not vacuous
    assert not stored["windows_in_process"]["universe_predictions"].equals(
        stored["sequences_in_process"]["universe_predictions"]
    )
    # the period whose model cannot be stored fails the walk, named
    trained_through = walks["windows_in_process"].periods[1].trained_through
    assert f"study period 1 (training through {trained_through})" in failed, failed


def failing_period(settings: Settings, tmp_path, returns, asof, engine) -> str:
    """Period 1 on ``engine`` with its models' folder taken by a file: its worker trains
    and fails to save the model (an error that does not name the period)."""
    from stock_pipeline.universe.cache import PeriodCache
    from stock_pipeline.universe.panel import load_panel
    from stock_pipeline.universe.periods import study_periods
    from stock_pipeline.universe.walk import PeriodFailed, PooledForecaster

    warehouse = store_universe(tmp_path / "broken" / "w.duckdb", returns)
    us = settings.universe
    with warehouse.connect(read_only=True) as con:
        panel = load_panel(con, asof, us)
    period = study_periods(len(panel.dates), us)[1]
    through = panel.dates[period.train_last].astype(object).isoformat()
    folder = PeriodCache(universe_models_dir(settings), us, through).folder
    folder.parent.parent.mkdir(parents=True)
    folder.parent.write_text("not a folder")
    walk = PooledForecaster(panel, us, universe_models_dir(settings))
    with pytest.raises(PeriodFailed) as failed:
        walk.run([period], engine)
    return str(failed.value)
