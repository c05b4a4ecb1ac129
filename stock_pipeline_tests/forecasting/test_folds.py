"""The one forecasting procedure: the fold grid, and fold models cached by what they saw."""

from __future__ import annotations

import numpy as np
import pytest

from stock_pipeline.forecasting.features import FeatureTable
from stock_pipeline.forecasting.fold_models import FoldCache, Forecaster
from stock_pipeline.forecasting.folds import (
    embargo_of,
    first_origin,
    fold_keys,
    folds_of_origins,
    ticker_offset,
)
from stock_pipeline.settings import Settings
from stock_pipeline_tests.support.synthetic import ar_table

# no shrinkage: a fold gated to the naive forecast gives 0 whatever its inputs, which would
# hide which forecasts were recomputed
SMALL = Settings(
    features={"columns": ("log_return",), "window": 10},
    model={
        "lstm_units": (8,),
        "epochs": 3,
        "patience": 2,
        "min_train_samples": 60,
        "shrinkage": "none",
    },
)


def tail(table: FeatureTable, start: int) -> FeatureTable:
    """The same history, stored from row ``start`` on (a warehouse backfilled later)."""
    return FeatureTable(
        table.ticker,
        table.dates[start:],
        table.values[start:],
        table.columns,
        table.log_return[start:],
        table.adj_close[start:],
    )


def test_folds_are_runs_of_sessions_on_a_grid_that_history_does_not_move() -> None:
    table = ar_table(600, 0.3, seed=1, ticker="AAA")
    keys = fold_keys(table, SMALL)
    boundaries = np.flatnonzero(np.diff(keys)) + 1
    assert set(np.diff(boundaries)) == {21}  # every whole fold is 21 sessions
    shorter = tail(table, 37)  # the same ticker, history stored from a later date
    assert np.array_equal(fold_keys(shorter, SMALL), keys[37:])
    origins = np.arange(first_origin(SMALL), 600)
    for fold, rows in folds_of_origins(table, origins, SMALL):
        assert fold.start_row == rows[0] and set(keys[rows]) == {fold.key}
        # the last training label is known an embargo before the fold's first forecast
        assert fold.train_last_end + 1 + embargo_of(SMALL) <= fold.start_row
        assert fold.train_first_end == 9  # expanding window: from the first full window
    rolling = SMALL.with_changes(model={"window_kind": "rolling", "rolling_sessions": 100})
    for fold, _ in folds_of_origins(table, origins, rolling):
        assert fold.train_last_end - fold.train_first_end + 1 <= 100


def test_tickers_retrain_on_different_nights_unless_stagger_is_off() -> None:
    offsets = {ticker_offset(f"T{i}", SMALL) for i in range(50)}
    assert len(offsets) > 10  # 50 tickers spread over the 21 nights of a fold
    flat = SMALL.with_changes(model={"stagger": False})
    starts = {
        tuple(np.flatnonzero(np.diff(fold_keys(ar_table(300, 0.1, 2, ticker=t), flat))))
        for t in ("A", "B", "C")
    }
    assert len(starts) == 1


@pytest.fixture
def warm(tmp_path):
    """Forecasts of two whole folds and part of a third, with a cache."""
    table = ar_table(400, 0.3, seed=3)
    cache = FoldCache(tmp_path / "models" / "AR", SMALL)
    origins = np.arange(330, 390)
    run = Forecaster(table, SMALL, cache).forecast(origins)
    return table, cache, origins, run


def test_fold_models_are_trained_once_then_reused(warm) -> None:
    table, cache, origins, first = warm
    assert len(first.trained) == len(first.folds) >= 3 and not first.reused
    again = Forecaster(table, SMALL, cache).forecast(origins)
    assert not again.trained and again.reused == first.trained
    np.testing.assert_array_equal(again.values, first.values)
    cold = Forecaster(table, SMALL, None).forecast(origins)  # no cache at all
    np.testing.assert_array_equal(cold.values, first.values)


def test_a_corrected_bar_retrains_the_folds_that_saw_it_and_recomputes_affected_forecasts(
    warm,
) -> None:
    table, cache, origins, first = warm
    folds = [fold for fold, _ in folds_of_origins(table, origins, SMALL)]
    middle = folds[1]
    before = middle.train_last_end - 5  # a training row of the middle fold
    corrected = ar_table(400, 0.3, seed=3)
    corrected.values[before] += 0.02
    run = Forecaster(corrected, SMALL, cache).forecast(origins)
    assert run.reused == [folds[0].start_date(table)]
    assert run.trained == [f.start_date(table) for f in folds[1:]]

    after = folds[-1].start_row + 3  # inside the last fold, after every training row
    late = ar_table(400, 0.3, seed=3)
    late.values[after] += 0.02
    cache2 = FoldCache(cache.folder.parent.parent / "second", SMALL)
    Forecaster(table, SMALL, cache2).forecast(origins)
    run = Forecaster(late, SMALL, cache2).forecast(origins)
    assert not run.trained  # no model saw the corrected row
    changed = origins[run.values != first.values]
    window = SMALL.features.window
    # exactly the forecasts whose input window holds the corrected row were recomputed
    assert list(changed) == [t for t in origins if after <= t < after + window]


def test_forecasts_are_keyed_by_date_not_row_position(warm) -> None:
    table, cache, origins, _ = warm
    rebuilt = tail(table, 5)  # a warehouse rebuilt from a later first bar: rows shift by 5
    warm_run = Forecaster(rebuilt, SMALL, cache).forecast(origins - 5)
    cold_run = Forecaster(rebuilt, SMALL, None).forecast(origins - 5)
    np.testing.assert_array_equal(warm_run.values, cold_run.values)
