"""Walk-forward evaluation: fold schedule, learning a planted signal, causality, caching."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from stock_pipeline.evaluation.folds import FoldCache, first_origin, fold_schedule
from stock_pipeline.evaluation.metrics import score, verdict
from stock_pipeline.evaluation.walk_forward import walk_forward
from stock_pipeline.forecasting.features import FeatureTable
from stock_pipeline.settings import (
    EvaluationSettings,
    FeatureSettings,
    ModelSettings,
    Settings,
)

SETTINGS = Settings(
    features=FeatureSettings(columns=("log_return",), window=10),
    model=ModelSettings(
        lstm_units=(8,), epochs=20, patience=3, min_train_samples=200, fine_tune_epochs=3
    ),
    evaluation=EvaluationSettings(
        span_sessions=1000, retrain_every=100, full_retrain_every_folds=4
    ),
)


def ar_table(n: int, phi: float, seed: int, ticker: str = "AR") -> FeatureTable:
    rng = np.random.default_rng(seed)
    r = np.zeros(n)
    for t in range(1, n):
        r[t] = phi * r[t - 1] + rng.normal(0, 0.01)
    price = 100 * np.exp(np.cumsum(r))
    dates = (np.datetime64("2010-01-04") + np.arange(n)).astype("datetime64[D]")
    return FeatureTable(ticker, dates, r[:, None].copy(), ("log_return",), r, price)


def test_fold_schedule_is_anchored_embargoed_and_expanding() -> None:
    folds, warmup = fold_schedule(1500, 1499, SETTINGS)
    later, _ = fold_schedule(1530, 1529, SETTINGS)
    anchor = first_origin(SETTINGS)
    assert all((f.start_row - anchor) % 100 == 0 or i == warmup for i, f in enumerate(folds))
    # boundaries do not move when history grows
    assert {f.index: f.end_row for f in folds}.items() <= {
        f.index: f.end_row for f in later
    }.items()
    for f in folds:
        # the last training label (end row + h) lies >= embargo (= h) before the first origin
        assert f.train_last_end + 1 + 1 <= f.start_row
        assert f.train_first_end == 9  # expanding: from the first full window
    assert folds[warmup].start_row == 1499 - 1 - 1000 + 1  # the span: 1000 origins up to d-h
    assert sum(f.full_retrain for f in folds) >= 1 and folds[0].full_retrain

    rolling = SETTINGS.model_copy(
        update={
            "evaluation": SETTINGS.evaluation.model_copy(
                update={"window_kind": "rolling", "rolling_sessions": 300}
            )
        }
    )
    for f in fold_schedule(1500, 1499, rolling)[0]:
        assert f.train_last_end - f.train_first_end + 1 <= 300


@pytest.fixture(scope="module")
def ar_run(tmp_path_factory):
    table = ar_table(1500, 0.3, seed=0)
    cache = FoldCache(tmp_path_factory.mktemp("cache"), "cfg")
    result = walk_forward(table, len(table) - 1, SETTINGS, cache)
    return table, cache, result


@pytest.mark.slow
def test_lstm_beats_naive_on_planted_ar1(ar_run) -> None:
    _, _, result = ar_run
    metrics = score(result.predictions, "return", 1)
    lstm = metrics[(metrics["model"] == "lstm") & metrics["fold"].isna()]
    values = dict(zip(lstm["metric"], lstm["value"], strict=True))
    assert values["dm_pvalue"] < 0.01 and values["dm_stat"] < 0
    assert values["direction_accuracy"] > 0.55
    assert values["skill"] > 0
    v = verdict(metrics, "AR")
    assert v.beats_naive and v.significant and "BEAT" in v.text
    # every model is scored on exactly the same dates
    dates = result.predictions.groupby("model")["date"].apply(lambda s: tuple(sorted(s)))
    assert dates.nunique() == 1 and len(dates.iloc[0]) == 1000


@pytest.mark.slow
def test_baselines_are_what_they_claim(ar_run) -> None:
    table, _, result = ar_run
    frame = result.predictions
    assert (frame.loc[frame["model"] == "naive", "predicted"] == 0).all()
    fold0 = result.folds[0]
    drift = frame[(frame["model"] == "drift") & (frame["fold"] == fold0.index)]["predicted"]
    expected = table.log_return[1 : fold0.train_last_end + 2].mean()  # returns known then
    np.testing.assert_allclose(drift, expected)
    # actuals are the next day's log return of the origin
    row = frame[frame["model"] == "naive"].iloc[5]
    i = int(np.searchsorted(table.dates, np.datetime64(row["date"], "D")))
    assert row["actual"] == pytest.approx(table.log_return[i + 1])


@pytest.mark.slow
def test_rerun_reuses_every_fold_and_next_fold_trains_one(ar_run, tmp_path) -> None:
    table, cache, result = ar_run
    again = walk_forward(table, len(table) - 1, SETTINGS, cache)
    assert again.folds_trained == 0
    pd.testing.assert_frame_equal(again.predictions, result.predictions)
    longer = ar_table(1600, 0.3, seed=0)  # the same path, 100 sessions further
    np.testing.assert_array_equal(longer.values[:1500], table.values)
    nightly = walk_forward(longer, len(longer) - 1, SETTINGS, cache)
    assert nightly.folds_trained == 1


@pytest.mark.slow
def test_data_after_a_folds_training_end_changes_nothing_in_that_fold(tmp_path) -> None:
    table = ar_table(900, 0.3, seed=1)
    folds, _ = fold_schedule(900, 899, SETTINGS)
    fold = folds[2]
    perturbed = ar_table(900, 0.3, seed=1)
    cut = fold.train_last_end + 1 + 1  # first return not known when the fold trained
    rng = np.random.default_rng(9)
    perturbed.values[cut:] += rng.normal(0, 0.02, perturbed.values[cut:].shape)
    perturbed.log_return[cut:] = perturbed.values[cut:, 0]
    caches = []
    for name, tab in (("a", table), ("b", perturbed)):
        cache = FoldCache(tmp_path / name, "cfg")
        walk_forward(tab, 899, SETTINGS, cache)
        caches.append(cache)
    start = str(table.dates[first_origin(SETTINGS) + fold.index * 100])
    a, b = (json.loads((c.path(start) / "bundle.json").read_text()) for c in caches)
    assert a["scaler"] == b["scaler"] and a["labels"] == b["labels"]
    wa, wb = (c.load_model(start).net.get_weights() for c in caches)
    assert all(np.array_equal(x, y) for x, y in zip(wa, wb, strict=True))
    # ...while the fold's predictions differ, because its inputs (after the cut) differ
    assert a["predictions"]["lstm"] != b["predictions"]["lstm"]


def test_too_little_history_is_a_clear_error() -> None:
    from stock_pipeline.forecasting.features import TrainingDataError

    with pytest.raises(TrainingDataError, match=r"AR: 100 usable feature rows.*need at least"):
        walk_forward(ar_table(100, 0.3, 2), 99, SETTINGS)
