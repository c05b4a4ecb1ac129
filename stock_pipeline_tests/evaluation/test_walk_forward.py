"""Walk-forward evaluation: the baselines, the same days for every model, causality."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stock_pipeline.evaluation.walk_forward import walk_forward
from stock_pipeline.forecasting.fold_models import FoldCache
from stock_pipeline.forecasting.folds import folds_of_origins, span_origins
from stock_pipeline.settings import Settings
from stock_pipeline_tests.support.synthetic import ar_table

SETTINGS = Settings(
    features={"columns": ("log_return",), "window": 10},
    model={
        "lstm_units": (8,),
        "epochs": 3,
        "patience": 2,
        "min_train_samples": 100,
        "shrinkage": "none",  # plumbing: forecasts gated to zero would all be equal
    },
    evaluation={"span_sessions": 60},
)


@pytest.fixture(scope="module")
def ar_run(tmp_path_factory):
    table = ar_table(400, 0.3, seed=0)
    cache = FoldCache(tmp_path_factory.mktemp("models"), SETTINGS)
    result = walk_forward(table, len(table) - 1, SETTINGS, cache)
    return table, cache, result


def test_every_model_is_scored_on_the_same_span(ar_run) -> None:
    table, _, result = ar_run
    frame = result.predictions
    dates = frame.groupby("model")["date"].apply(lambda s: tuple(sorted(s)))
    assert set(dates.index) == {"lstm", "naive", "drift", "arima"} and dates.nunique() == 1
    origins = span_origins(len(table) - 1, SETTINGS)
    assert list(dates.iloc[0]) == list(table.dates[origins].astype("datetime64[ns]"))
    assert len(origins) == 60 and origins[-1] == len(table) - 2  # outcome known by d
    assert (frame["target_date"] > frame["date"]).all()


def test_baselines_are_what_they_claim(ar_run) -> None:
    table, _, result = ar_run
    frame = result.predictions
    assert (frame.loc[frame["model"] == "naive", "predicted"] == 0).all()
    origins = span_origins(len(table) - 1, SETTINGS)
    for fold, rows in folds_of_origins(table, origins, SETTINGS):
        drift = frame[(frame["model"] == "drift") & (frame["fold"] == fold.key)]["predicted"]
        known = table.log_return[1 : fold.train_last_end + 2]  # returns known by then
        np.testing.assert_allclose(drift, known.mean(), rtol=1e-12)
        assert len(drift) == len(rows)
    # the ARIMA forecast of t+1 uses data up to t only: refit on the fold's training
    # returns and filter by hand
    from statsmodels.tsa.arima.model import ARIMA

    fold, rows = folds_of_origins(table, origins, SETTINGS)[-1]
    fitted = ARIMA(table.log_return[1 : fold.train_last_end + 2], order=(1, 0, 1), trend="c").fit()
    t = int(rows[3])
    by_hand = (
        ARIMA(table.log_return[1 : t + 1], order=(1, 0, 1), trend="c")
        .filter(fitted.params)
        .forecast(1)[0]
    )
    got = frame[(frame["model"] == "arima") & (frame["date"] == table.dates[t])]["predicted"]
    assert got.iloc[0] == pytest.approx(by_hand, rel=1e-6)
    # actuals are the next day's log return of the origin
    row = frame[frame["model"] == "naive"].iloc[5]
    i = int(np.searchsorted(table.dates, np.datetime64(row["date"], "D")))
    assert row["actual"] == pytest.approx(table.log_return[i + 1])


def test_rerun_reuses_every_fold_and_a_new_fold_trains_one(ar_run) -> None:
    table, cache, result = ar_run
    again = walk_forward(table, len(table) - 1, SETTINGS, cache)
    assert again.folds_trained == 0 and again.folds_reused == result.folds
    pd.testing.assert_frame_equal(again.predictions, result.predictions)
    longer = ar_table(421, 0.3, seed=0)  # the same path, one fold further
    np.testing.assert_array_equal(longer.values[:400], table.values)
    nightly = walk_forward(longer, len(longer) - 1, SETTINGS, cache)
    assert nightly.folds_trained == 1


def test_data_after_a_folds_training_end_changes_nothing_in_that_fold(tmp_path) -> None:
    table = ar_table(400, 0.3, seed=1)
    origins = span_origins(399, SETTINGS)
    fold, _ = folds_of_origins(table, origins, SETTINGS)[1]
    perturbed = ar_table(400, 0.3, seed=1)
    cut = fold.train_last_end + 1 + 1  # the first return not known when the fold trained
    rng = np.random.default_rng(9)
    perturbed.values[cut:] += rng.normal(0, 0.02, perturbed.values[cut:].shape)
    perturbed.log_return[cut:] = perturbed.values[cut:, 0]
    caches = [FoldCache(tmp_path / name, SETTINGS) for name in "ab"]
    results = [
        walk_forward(t, 399, SETTINGS, c) for t, c in zip((table, perturbed), caches, strict=True)
    ]
    start = fold.start_date(table)
    models = [c.load_model(start) for c in caches]
    assert models[0].meta["inputs_digest"] == models[1].meta["inputs_digest"]
    weights = [m.net.get_weights() for m in models]
    assert all(np.array_equal(x, y) for x, y in zip(*weights, strict=True))
    # ...while the fold's forecasts differ, because their inputs (after the cut) differ
    lstm = [
        r.predictions[(r.predictions["model"] == "lstm") & (r.predictions["fold"] == fold.key)]
        for r in results
    ]
    assert not np.array_equal(lstm[0]["predicted"], lstm[1]["predicted"])


def test_too_little_history_is_a_clear_error() -> None:
    from stock_pipeline.forecasting.features import TrainingDataError

    with pytest.raises(TrainingDataError, match=r"AR: 100 usable feature rows.*need at least"):
        walk_forward(ar_table(100, 0.3, 2), 99, SETTINGS)
