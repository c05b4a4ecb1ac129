"""``universe.training: sequences``: the loss falls on exactly the pairs ``windows`` trains
on, split the same way; the network is the windows network run over the whole span; a
prediction carried by the state reads nothing after its day; the masked loss is the
binary cross-entropy averaged over the masked pairs, by hand."""

from __future__ import annotations

import numpy as np
import pytest

from stock_pipeline.settings import Settings
from stock_pipeline.universe import sequences
from stock_pipeline.universe.network import validation_start
from stock_pipeline.universe.panel import Panel, median_targets
from stock_pipeline.universe.periods import (
    gather,
    study_periods,
    training_pairs,
    training_scaler,
)
from stock_pipeline_tests.support.universe import small_universe


def panel_of(values: np.ndarray) -> Panel:
    dates = np.datetime64("2020-01-01") + np.arange(len(values))
    names = [f"T{i}" for i in range(values.shape[1])]
    return Panel(dates, names, values, values[..., None], ("log_return",))


@pytest.fixture
def world():
    settings = small_universe(Settings()).universe  # sequences of 20, periods 150 + 50
    rng = np.random.default_rng(3)
    values = rng.normal(0, 0.01, (260, 6))
    values[:40, 1] = np.nan  # enters late
    values[90:95, 2] = np.nan  # a gap of five sessions
    values[180:, 3] = np.nan  # leaves inside the second period's training span
    values[:, 5] = np.nan
    values[10:60, 5] = rng.normal(0, 0.01, 50)  # leaves 11 rows into period 1's span
    panel = panel_of(values)
    period = study_periods(len(values), settings)[1]  # training rows 50..199
    return settings, panel, period


def test_the_loss_falls_on_exactly_the_windows_pairs_split_the_same_way(world):
    settings, panel, period = world
    targets = median_targets(panel.returns)
    rows, cols = training_pairs(panel, period, targets, settings.sequence_length)
    scaler = training_scaler(panel, period)
    data = sequences.span_data(panel, period, scaler, targets, rows, cols, 0.2)
    split = validation_start(len(rows), 0.2)
    stocks = sorted(set(cols.tolist()))
    assert stocks == [0, 1, 2, 3, 4]  # ticker 5 has no full window in rows 50..199
    # by hand: every (stock, step) a weight falls on is a windows pair, and back
    pairs = [(stocks.index(c), r - 50) for r, c in zip(rows, cols, strict=True)]
    want_train, want_val = set(pairs[:split]), set(pairs[split:])
    assert set(zip(*np.nonzero(data.train), strict=True)) == want_train
    assert set(zip(*np.nonzero(data.validation), strict=True)) == want_val
    assert not want_train & want_val
    # a validation pair is never earlier than a training pair: the tail is time-ordered
    assert min(s for _, s in want_val) >= max(s for _, s in want_train)
    # the gap (rows 90..94) and the 19 rows after it hold no pair of ticker 2
    assert not data.train[stocks.index(2), 90 - 50 : 95 + 19 - 50].any()
    for stock, step in want_train | want_val:
        assert data.y[stock, step] == targets[step + 50, stocks[stock]]
    # inputs: the training rows standardized, 0 where a bar is missing
    expected = (panel.features[50:200, 2, 0] - scaler.mean[0]) / scaler.std[0]
    got = data.x[stocks.index(2), :, 0]
    assert np.allclose(got[np.isfinite(expected)], expected[np.isfinite(expected)], atol=1e-6)
    assert np.all(got[~np.isfinite(expected)] == 0)


def test_the_sequence_network_is_the_windows_network_over_the_whole_span(world):
    settings, panel, period = world
    model = sequences.build_sequence_network(1, settings)
    windows = sequences.windows_network(model, settings.sequence_length, settings)
    for a, b in zip(model.get_weights(), windows.get_weights(), strict=True):
        assert np.array_equal(a, b)
    scaler = training_scaler(panel, period)
    rows, cols = np.array([80, 130, 199]), np.array([0, 4, 4])
    by_windows = windows.predict(gather(panel, scaler, rows, cols, 20), verbose=0)[:, 0]
    # the sequence network started at the window's first row reads the same 20 inputs
    for (r, c), want in zip(zip(rows, cols, strict=True), by_windows, strict=True):
        x = sequences.span_inputs(panel, scaler, r - 19, r)[[c]]
        got = np.asarray(model(x, training=False))[0, -1, 0]
        assert got == pytest.approx(want, abs=1e-5)


def test_a_prediction_by_state_reads_nothing_after_its_day(world):
    settings, panel, period = world
    model = sequences.build_sequence_network(1, settings)
    scaler = training_scaler(panel, period)
    rows, cols = np.array([199, 205, 230, 230]), np.array([0, 1, 1, 4])
    probs = sequences.predict_state(model, panel, scaler, period, rows, cols)
    later = panel.features.copy()
    later[231:] = 5.0
    moved = sequences.predict_state(model, panel_of(later[..., 0]), scaler, period, rows, cols)
    assert np.array_equal(probs, moved)
    # and it does read its own history from the period's first row: by hand, one pass
    x = sequences.span_inputs(panel, scaler, 50, 230)[[1]]
    assert probs[2] == pytest.approx(float(np.asarray(model(x))[0, -1, 0]), abs=1e-5)
    earlier = panel.features.copy()
    earlier[200, 1] += 0.05
    changed = sequences.predict_state(model, panel_of(earlier[..., 0]), scaler, period, rows, cols)
    assert changed[1] != probs[1] and changed[3] == probs[3]


def test_the_masked_loss_is_the_mean_cross_entropy_of_the_masked_pairs():
    probs = np.array([[[0.9], [0.2], [0.6]], [[0.3], [0.5], [0.99]]])
    y = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    w = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    total, count = sequences._masked_bce(probs, y, w)
    by_hand = -(np.log(0.9) + np.log(0.6) + np.log(0.99))
    assert float(count) == 3
    assert float(total) == pytest.approx(by_hand, rel=1e-6)


def test_training_lowers_the_validation_loss_and_restores_the_best_epoch(world):
    settings, panel, period = world
    targets = median_targets(panel.returns)
    rows, cols = training_pairs(panel, period, targets, settings.sequence_length)
    scaler = training_scaler(panel, period)
    data = sequences.span_data(panel, period, scaler, targets, rows, cols, 0.2)
    model = sequences.build_sequence_network(1, settings)
    fit = sequences.fit_sequences(model, data, settings)
    assert 1 <= fit.epochs_run <= settings.epochs
    assert fit.samples == validation_start(len(rows), 0.2)
    # the restored weights give the best validation loss found
    trainer = sequences.SequenceTrainer(model, settings)
    again = sequences.validation_loss(trainer, trainer.state(), data)
    assert again == pytest.approx(fit.best_val_loss, rel=1e-5)
    # and the same seed trains the same weights
    twin = sequences.build_sequence_network(1, settings)
    sequences.fit_sequences(twin, data, settings)
    for a, b in zip(model.get_weights(), twin.get_weights(), strict=True):
        assert np.array_equal(a, b)
