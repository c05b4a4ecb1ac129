"""The model kinds (``model.kind``): each trains, predicts, round-trips and is causal; the
ensemble is the mean of its members and shares their fold caches; the loss fits the target."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from stock_pipeline.forecasting.features import FeatureTable, LabelScaler, Scaler, windows
from stock_pipeline.forecasting.fold_models import FoldCache, Forecaster
from stock_pipeline.settings import ModelSettings, Settings
from stock_pipeline_tests.support.synthetic import ar_table

NETWORK_KINDS = ("lstm", "gru", "attention_lstm", "transformer", "tcn", "multiscale")
WINDOW = 12  # multiscale: two whole weeks and two leading rows its weekly branch drops

# random output weights: a zero-initialized output layer after two epochs forecasts nearly
# a constant, which would pass the causality checks whatever the network looked at
TINY = dict(
    lstm_units=(4,),
    heads=2,
    key_dim=2,
    filters=4,
    epochs=2,
    patience=2,
    batch_size=32,
    zero_init_output=False,
)


def _network():
    """Import keras on first use, not at collection (see test_network._lstm)."""
    from stock_pipeline.forecasting import network

    return network


def data(n: int = 160, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(n + WINDOW, 2))
    return windows(values, WINDOW)[:-1].astype("float32"), values[WINDOW:, 0].astype("float32")


def fit(kind: str):
    """A tiny network of ``kind`` fitted two epochs on ``data()``."""
    network = _network()
    settings = ModelSettings(kind=kind, **TINY)
    x, y = data()
    net = network.build_model(WINDOW, 2, settings, "return")
    network.fit(net, x, y, settings, horizon=1, epochs=2)
    return net


trained = functools.cache(fit)  # one per kind for the whole module


@pytest.mark.parametrize("kind", NETWORK_KINDS)
def test_each_kind_trains_predicts_round_trips_and_is_reproducible(kind, tmp_path) -> None:
    from stock_pipeline.forecasting.training import TrainedModel

    network = _network()
    x, _ = data()
    net = trained(kind)
    predicted = network.predict(net, x)
    assert predicted.shape == (len(x),) and np.isfinite(predicted).all()
    assert np.std(predicted) > 0  # not a constant: the network reads its inputs
    scaler = Scaler(np.zeros(2), np.ones(2))
    TrainedModel(net, scaler, LabelScaler("return", 1.0)).save(tmp_path / "m")
    loaded = TrainedModel.load(tmp_path / "m")  # custom layers load without being named
    assert np.array_equal(network.predict(loaded.net, x), predicted)
    assert np.array_equal(network.predict(fit(kind), x), predicted)  # again from scratch


def _table(values: np.ndarray) -> FeatureTable:
    n = len(values)
    dates = np.arange("2020-01-01", n, dtype="datetime64[D]")
    return FeatureTable("T", dates, values, ("a", "b"), values[:, 0], np.full(n, 100.0))


@pytest.mark.parametrize("kind", NETWORK_KINDS)
def test_rows_outside_the_window_cannot_change_a_forecast(kind) -> None:
    """A forecast made at row t reads rows t - T + 1 .. t only: perturbing every row after
    t (the future) or before the window leaves it unchanged; perturbing one of its rows
    does not (so the check can fail)."""
    from stock_pipeline.forecasting.training import TrainedModel

    model = TrainedModel(trained(kind), Scaler(np.zeros(2), np.ones(2)), LabelScaler("return", 1))
    values = np.random.default_rng(1).normal(size=(60, 2))
    origin = np.array([40])
    before = model.predict(_table(values), origin, WINDOW)
    shifted = values.copy()
    shifted[41:] += 3.0  # the future
    shifted[: 41 - WINDOW] -= 3.0  # before the window
    assert np.array_equal(model.predict(_table(shifted), origin, WINDOW), before)
    inside = values.copy()
    inside[41 - WINDOW] += 3.0  # the window's first row (the tcn's and weekly sums' reach)
    assert model.predict(_table(inside), origin, WINDOW)[0] != before[0]


def test_the_weekly_rows_are_sums_of_the_windows_own_rows_aligned_to_its_end() -> None:
    from stock_pipeline.forecasting.architectures import PeriodSums

    x = np.arange(2 * WINDOW * 2, dtype="float32").reshape(2, WINDOW, 2)
    weekly = np.asarray(PeriodSums(5)(x))
    # by hand: rows 7..11 are the last week, rows 2..6 the one before; rows 0, 1 dropped
    expected = np.stack([x[:, 2:7].sum(axis=1), x[:, 7:12].sum(axis=1)], axis=1)
    np.testing.assert_array_equal(weekly, expected)
    assert weekly.shape == (2, 2, 2)


def test_multiscale_needs_two_weeks_in_the_window() -> None:
    network = _network()
    with pytest.raises(ValueError, match=r"features.window >= 2 x model.weekly_period"):
        network.build_model(9, 1, ModelSettings(kind="multiscale"), "return")


@pytest.mark.parametrize("kind", ["transformer", "tcn"])
def test_a_direction_target_keeps_a_probability_and_cross_entropy(kind) -> None:
    network = _network()
    net = network.build_model(WINDOW, 2, ModelSettings(kind=kind, **TINY), "direction")
    p = network.predict(net, data()[0])
    assert ((p > 0) & (p < 1)).all()
    assert net.loss == "binary_crossentropy"


def test_a_loss_that_does_not_fit_the_target_is_a_settings_error() -> None:
    with pytest.raises(ValueError, match=r"model.loss='mse' does not fit features.target="):
        Settings(features={"target": "direction"}, model={"loss": "mse"})
    with pytest.raises(ValueError, match=r"model.loss='cross_entropy' does not fit"):
        Settings(model={"loss": "cross_entropy"})
    with pytest.raises(ValueError, match=r"model.loss='huber' does not fit"):
        ModelSettings(loss="huber").loss_for("direction")  # build_model's check
    assert Settings(features={"target": "direction"}).model.loss_for("direction") == (
        "cross_entropy"
    )
    assert Settings(model={"loss": "huber"}).model.loss_for("price") == "huber"
    with pytest.raises(ValueError, match="ensemble_members"):
        Settings(model={"kind": "ensemble", "ensemble_members": ["lstm", "ensemble"]})


def test_an_ensemble_is_not_one_network() -> None:
    network = _network()
    with pytest.raises(ValueError, match=r"model.kind='ensemble' is not one network"):
        network.build_model(WINDOW, 2, ModelSettings(kind="ensemble"), "return")


ENSEMBLE = Settings(
    features={"columns": ("log_return",), "window": 10},
    model={
        "kind": "ensemble",
        "ensemble_members": ("lstm", "gru", "lstm"),
        "lstm_units": (4,),
        "epochs": 2,
        "patience": 2,
        "min_train_samples": 60,
        "retrain_every": 10,
        "stagger": False,
        "shrinkage": "none",  # a gated fold forecasts 0 whatever its members said
    },
)


def test_an_ensemble_is_the_mean_of_its_members_and_shares_their_caches(tmp_path) -> None:
    table = ar_table(200, 0.3, seed=5)
    origins = np.arange(185, 195)  # two folds
    lstm = ENSEMBLE.with_changes(model={"kind": "lstm"})
    plain = Forecaster(table, lstm, FoldCache(tmp_path, lstm)).forecast(origins)
    assert len(plain.folds) == 2 and plain.trained

    cache = FoldCache(tmp_path, ENSEMBLE)
    first = Forecaster(table, ENSEMBLE, cache).forecast(origins)
    lstm_run, gru_run, lstm2_run = first.members
    assert not lstm_run.trained and lstm_run.reused == plain.trained  # the plain lstm's
    assert gru_run.trained == lstm2_run.trained == plain.trained
    assert first.trained == plain.trained and not first.reused

    # independently: each member from scratch, the repeated kind with seed + 1
    members = [
        lstm,
        ENSEMBLE.with_changes(model={"kind": "gru"}),
        ENSEMBLE.with_changes(model={"kind": "lstm", "seed": 43}),
    ]
    alone = [Forecaster(table, s, None).forecast(origins).values for s in members]
    np.testing.assert_array_equal(alone[0], plain.values)
    assert not np.array_equal(alone[0], alone[2])  # the second lstm is another network
    np.testing.assert_allclose(first.values, np.mean(alone, axis=0), rtol=1e-12)

    again = Forecaster(table, ENSEMBLE, cache).forecast(origins)
    assert not again.trained and again.reused == plain.trained
    np.testing.assert_array_equal(again.values, first.values)
    # one folder per member network; the ensemble stores no model of its own
    folders = list((tmp_path / "folds").iterdir())
    assert len(folders) == 3 and cache.folder not in folders


def test_the_deployed_model_forecasts_with_an_ensemble(small) -> None:
    from stock_pipeline.forecasting.feature_rows import update_feature_rows
    from stock_pipeline.forecasting.forecast import forecast_asof
    from stock_pipeline.market_data import ingest
    from stock_pipeline.warehouse import WarehouseFile, connect, prices
    from stock_pipeline_tests.support.synthetic import synthetic_bars

    settings = small.with_changes(model={"kind": "ensemble", "ensemble_members": ["lstm", "tcn"]})
    bars = synthetic_bars(150, seed=9)
    days = [t.date() for t in bars["date"]]
    with connect(settings.warehouse) as con:
        prices.upsert_ohlcv(con, "E", bars, "test")
        ingest.update_indicators(con, "E", days)
        update_feature_rows(con, "E", days[-1], settings.features)
    warehouse = WarehouseFile(settings.warehouse)
    run = forecast_asof(warehouse, "E", days[-1], settings)
    assert run.mode == "trained" and run.model_version.startswith("ensemble-")
    members = [
        forecast_asof(warehouse, "E", days[-1], settings.with_changes(model={"kind": k}))
        for k in ("lstm", "tcn")
    ]
    assert [m.mode for m in members] == ["cached", "cached"]  # the ensemble trained them
    assert run.predicted == pytest.approx(np.mean([m.predicted for m in members]), rel=1e-12)
    assert run.parameter_count == sum(m.parameter_count for m in members)
    assert run.epochs_run == sum(m.epochs_run for m in members)
    assert forecast_asof(warehouse, "E", days[-1], settings).mode == "cached"
