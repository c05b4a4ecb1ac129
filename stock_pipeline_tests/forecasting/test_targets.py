"""The target registry and the feature-column registry: each agrees with the settings that
name its entries, and each target's label is what its definition says, computed by hand."""

from __future__ import annotations

import subprocess
import sys
import typing

import numpy as np
import pandas as pd
import pytest

from stock_pipeline.forecasting.feature_columns import FEATURES
from stock_pipeline.forecasting.features import (
    FeatureError,
    FeatureTable,
    LabelScaler,
    build_feature_table,
    fit_label_scaler,
    targets,
)
from stock_pipeline.forecasting.targets import TARGETS
from stock_pipeline.settings import (
    DEFAULT_FEATURES,
    INDICATOR_FEATURES,
    FeatureSettings,
    ModelSettings,
)
from stock_pipeline.settings.model import LossName


def test_the_registry_holds_exactly_the_targets_settings_accept() -> None:
    accepted = typing.get_args(FeatureSettings.model_fields["target"].annotation)
    assert set(accepted) == set(TARGETS)
    assert all(name == target.name for name, target in TARGETS.items())


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("loss", [None, *typing.get_args(LossName)])
def test_a_targets_losses_agree_with_the_settings_check(target: str, loss: str | None) -> None:
    """Settings validates model.loss against the target before any stage runs; the network
    compiles with the target's loss. They must accept, default and refuse alike."""
    try:
        expected = ModelSettings(loss=loss).loss_for(target)
    except ValueError:
        with pytest.raises(ValueError, match=rf"model.loss='{loss}' does not fit"):
            TARGETS[target].loss(loss)
    else:
        assert TARGETS[target].loss(loss) == expected


def table(adj_close: list[float], log_return: list[float] | None = None) -> FeatureTable:
    n = len(adj_close)
    return FeatureTable(
        ticker="T",
        dates=np.datetime64("2024-01-01") + np.arange(n),
        values=np.zeros((n, 1)),
        columns=("log_return",),
        log_return=np.asarray(log_return if log_return is not None else [0.0] * n, float),
        adj_close=np.asarray(adj_close, float),
    )


def test_each_targets_label_is_its_definition_by_hand() -> None:
    t = table([100.0, 110.0, 99.0, 99.0, 120.0], [0.0, 0.1, -0.2, 0.0, 0.3])
    fs = FeatureSettings(horizon=2)
    ret = targets(t, fs)
    assert ret[:3] == pytest.approx([np.log(0.99), np.log(0.9), np.log(120 / 99)])
    assert np.isnan(ret[3:]).all()
    up = targets(t, fs.model_copy(update={"target": "direction"}))
    assert up[:3].tolist() == [0.0, 0.0, 1.0] and np.isnan(up[3:]).all()
    price = targets(t, fs.model_copy(update={"target": "price"}))
    assert price[:3].tolist() == [99.0, 99.0, 120.0] and np.isnan(price[3:]).all()
    vol = targets(t, fs.model_copy(update={"target": "volatility"}))
    # squared returns of the next two sessions
    assert vol[:3] == pytest.approx([0.1**2 + 0.2**2, 0.2**2, 0.3**2])
    assert np.isnan(vol[3:]).all()


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_a_forecast_in_label_units_maps_back_to_the_target(name: str) -> None:
    rng = np.random.default_rng(3)
    close = rng.uniform(50, 150, 40)
    y = {
        "return": rng.normal(0, 0.02, 40),
        "price": close * np.exp(rng.normal(0, 0.02, 40)),
        "direction": (rng.normal(size=40) > 0).astype(float),
        "volatility": rng.uniform(1e-5, 1e-3, 40),
    }[name]
    labels = fit_label_scaler(name, y, close)
    label = labels.to_label(y, close)
    np.testing.assert_allclose(labels.from_label(label, close), y, rtol=1e-12)
    if name in ("return", "price"):  # a well-conditioned fit: unit variance labels
        assert np.std(label) == pytest.approx(1.0)


def test_a_label_scaler_saved_before_the_rename_still_loads() -> None:
    """bundle.json of models trained before ``kind`` became ``target``."""
    from stock_pipeline.forecasting.training import _renamed

    old = {"kind": "price", "scale": 0.02, "center": 0.0, "floor": 0.0, "smear": 1.0}
    assert LabelScaler(**_renamed(old, kind="target")) == LabelScaler("price", 0.02)


def test_the_target_registry_imports_no_keras() -> None:
    code = (
        "import sys, stock_pipeline.forecasting.targets, stock_pipeline.forecasting.features; "
        "print(sorted(m for m in ('keras', 'jax') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_feature_settings_name_is_a_registered_column() -> None:
    assert set(DEFAULT_FEATURES) <= set(FEATURES)
    assert set(INDICATOR_FEATURES) <= set(FEATURES)
    assert FeatureSettings().columns == DEFAULT_FEATURES


def test_an_unknown_feature_column_is_refused_naming_the_setting() -> None:
    frame = pd.DataFrame({"date": pd.to_datetime(["2024-01-02"]), "log_return": [0.0]})
    with pytest.raises(FeatureError, match=r"XYZ: features.columns names .*'bogus'"):
        build_feature_table("XYZ", frame, FeatureSettings(columns=("log_return", "bogus")))
