"""Feature rows, targets, windows and scalers: the as-of rule in plain functions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stock_pipeline.forecasting.features import (
    FeatureError,
    FeatureTable,
    TrainingRows,
    build_feature_table,
    fit_label_scaler,
    fit_scaler,
    rows_needed,
    targets,
    time_split,
    training_inputs,
    windows,
)
from stock_pipeline.market_data.indicators import compute_indicators
from stock_pipeline.settings import INDICATOR_FEATURES, FeatureSettings
from stock_pipeline_tests.support.synthetic import synthetic_bars


def joined(n: int = 200, seed: int = 0) -> pd.DataFrame:
    bars = synthetic_bars(n, seed=seed)
    return bars.merge(compute_indicators(bars), on="date")


def test_windows_are_views_in_time_order() -> None:
    values = np.arange(30, dtype=float).reshape(10, 3)
    view = windows(values, 4)
    assert view.shape == (7, 4, 3)
    assert np.shares_memory(view, values) and not view.flags.writeable
    # window k covers rows k..k+3, so it ends at row k+3
    np.testing.assert_array_equal(view[2], values[2:6])
    assert windows(values, 11).shape == (0, 11, 3)


def test_feature_rows_start_after_warmup_and_match_formulas() -> None:
    frame = joined()
    table = build_feature_table("T", frame, FeatureSettings(columns=INDICATOR_FEATURES))
    assert len(table) == len(frame) - 49  # sma_50 is the slowest indicator
    row = frame.iloc[100]
    i = table.index_of(row["date"].date())
    feats = dict(zip(table.columns, table.values[i], strict=True))
    assert feats["close_to_sma_20"] == pytest.approx(row["close"] / row["sma_20"] - 1)
    assert feats["rsi_14"] == pytest.approx(row["rsi_14"] / 100 - 0.5)
    prev = frame.iloc[99]
    assert feats["volume_change"] == pytest.approx(
        np.log((row["volume"] + 1) / (prev["volume"] + 1))
    )


def test_targets_for_each_kind() -> None:
    table = build_feature_table("T", joined(), FeatureSettings())
    adj = table.adj_close
    ret = targets(table, FeatureSettings(horizon=2))
    assert ret[10] == pytest.approx(np.log(adj[12] / adj[10]))
    assert np.isnan(ret[-2:]).all() and not np.isnan(ret[:-2]).any()
    up = targets(table, FeatureSettings(target="direction"))
    assert up[10] == float(adj[11] > adj[10])
    price = targets(table, FeatureSettings(target="price"))
    assert price[10] == adj[11]
    labels = fit_label_scaler("price", price[:-1], adj[:-1])
    back = labels.from_label(labels.to_label(price[:-1], adj[:-1]), adj[:-1])
    np.testing.assert_allclose(back, price[:-1])


def _table(values: np.ndarray) -> FeatureTable:
    n = len(values)
    dates = np.datetime64("2020-01-01") + np.arange(n)
    close = 100 * np.exp(np.cumsum(values[:, 0] / 100))
    return FeatureTable("T", dates, values, ("a", "b"), np.diff(np.log(close), prepend=0), close)


def test_training_inputs_are_the_windows_ending_on_the_training_rows() -> None:
    values = np.random.default_rng(0).normal(size=(50, 2))
    table, fs = _table(values), FeatureSettings(window=5, columns=("log_return",))
    target = np.arange(50, dtype=float)
    inputs = training_inputs(table, target, TrainingRows(first_end=10, last_end=36), fs)
    assert inputs.x.shape == (27, 5, 2) and inputs.x.dtype == np.float32
    rows = values[6:37]  # the rows of every training window: 10 - 5 + 1 .. 36
    np.testing.assert_allclose(inputs.scaler.mean, rows.mean(axis=0))
    scaled = ((rows - rows.mean(axis=0)) / rows.std(axis=0)).astype("float32")
    np.testing.assert_array_equal(inputs.x[0], scaled[0:5])
    np.testing.assert_array_equal(inputs.x[-1], scaled[-5:])
    np.testing.assert_allclose(inputs.y, target[10:37] / target[10:37].std(), rtol=1e-6)
    assert all(np.shares_memory(inputs.x[0], w) for w in inputs.x[1:3])  # views, no copies

    later = values.copy()
    later[37:] *= 3  # rows after the last training window: the inputs do not change
    same = training_inputs(_table(later), target, TrainingRows(10, 36), fs)
    assert same.digest == inputs.digest
    earlier = values.copy()
    earlier[20, 1] += 1e-3  # one training row changes: so does the digest
    assert training_inputs(_table(earlier), target, TrainingRows(10, 36), fs).digest != (
        inputs.digest
    )


@pytest.mark.parametrize("min_train", [1, 30, 99, 100, 101, 250])
def test_rows_needed_leaves_exactly_min_train_training_windows(min_train) -> None:
    for horizon in (1, 5):
        rows = rows_needed(60, horizon, min_train, 0.2)
        windows_with_targets = rows - 59 - horizon
        split = time_split(windows_with_targets, 0.2, horizon)
        assert split.train.stop == min_train  # with one row fewer there would be too few
        assert time_split(windows_with_targets - 1, 0.2, horizon).train.stop < min_train


def test_scaler_fitted_on_training_rows_ignores_later_rows() -> None:
    values = np.random.default_rng(1).normal(size=(100, 3))
    changed = values.copy()
    changed[80:] *= 50
    a, b = fit_scaler(values[:80]), fit_scaler(changed[:80])
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_allclose(a.mean, values[:80].mean(axis=0))
    np.testing.assert_allclose(a.std, values[:80].std(axis=0))


def test_nan_after_warmup_names_feature_and_dates() -> None:
    frame = joined()
    bad_day = frame["date"].iloc[120].date()
    frame.loc[120, "rsi_14"] = np.nan
    frame.loc[130, "atr_14"] = np.inf
    with pytest.raises(FeatureError) as err:
        build_feature_table("XYZ", frame, FeatureSettings(columns=INDICATOR_FEATURES))
    message = str(err.value)
    assert "XYZ" in message and "rsi_14" in message and str(bad_day) in message
    assert "atr_rel" in message


def test_unknown_feature_is_rejected() -> None:
    with pytest.raises(FeatureError, match="nope"):
        build_feature_table("T", joined(), FeatureSettings(columns=("log_return", "nope")))
