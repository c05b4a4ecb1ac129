"""The LSTM finds a planted AR(1) signal about as well as ARIMA, and the family tests
find it too, through the walk-forward users get with the default settings (the series
and the scoring: ``support/planted.py``; where there is nothing to find:
``test_signal_noise.py``); and the shrinkage that switches the forecast off, by hand.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from stock_pipeline_tests.support.planted import SETTINGS, planted, scored


def shrink_factor(predicted, actual, gate_z):
    """Imported on use: a keras/JAX import during collection breaks Dagster's stderr
    capture in the CLI tests (see test_network)."""
    from stock_pipeline.forecasting.training import shrink_factor as factor

    return factor(predicted, actual, gate_z)


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    """One fold cache for the module: the family test reuses the phi = 0.3 LSTM's models
    (the cache is keyed by the data and settings, so reuse changes no result)."""
    return tmp_path_factory.mktemp("models")


@pytest.mark.slow
def test_finds_a_planted_ar1_signal_as_well_as_arima(models_dir: Path) -> None:
    """phi = 0.3: best possible skill 1 - sqrt(1 - 0.09) = 0.046."""
    result = scored(0.3, seed=0, models_dir=models_dir)
    lstm, arima = result["lstm"], result["arima"]
    assert arima["skill"] > 0.02, result  # the signal is there to be found
    assert lstm["skill"] >= 0.8 * arima["skill"], result
    assert lstm["dm"] < 0 and lstm["p"] < 0.01, result  # better than naive, significantly


@pytest.mark.slow
def test_the_family_tests_find_the_planted_signal(models_dir: Path) -> None:
    """phi = 0.3 with the default comparison (the default kinds, drift, ARIMA): the SPA
    test rejects "nothing beats naive" and the model confidence set leaves naive out."""
    from stock_pipeline.evaluation.compare import (
        comparison_predictions,
        daily_losses,
        family_settings,
    )
    from stock_pipeline.evaluation.family_tests import compare

    predictions, _ = comparison_predictions(planted(0.3, seed=0), SETTINGS, models_dir)
    losses = daily_losses(predictions, "return")
    assert set(losses.columns) == {*SETTINGS.evaluation.compare_kinds, "naive", "drift", "arima"}
    result = compare(losses, family_settings(SETTINGS))
    assert result.spa_pvalue < 0.05, result.table
    assert "naive" not in result.confidence_set, result.table
    assert "arima" in result.superior, result.table


def test_shrink_factor_is_the_clipped_validation_slope() -> None:
    predicted = np.array([1.0, -2.0, 3.0, 0.5])
    actual = np.array([0.4, -0.9, 1.0, 0.5])
    # sum(p*y) / sum(p*p) = (0.4 + 1.8 + 3.0 + 0.25) / (1 + 4 + 9 + 0.25)
    assert shrink_factor(predicted, actual, None) == pytest.approx(5.45 / 14.25)
    assert shrink_factor(predicted, -actual, None) == 0.0  # pointing the wrong way
    assert shrink_factor(predicted, 3 * predicted, None) == 1.0  # never inflates
    assert shrink_factor(np.zeros(4), actual, None) == 0.0


def test_gate_keeps_only_a_significant_validation_correlation() -> None:
    rng = np.random.default_rng(0)
    predicted = rng.normal(size=200)
    signal = 0.5 * predicted + rng.normal(size=200)  # r ~ 0.45, t ~ 7
    noise = rng.normal(size=200)
    r = np.corrcoef(predicted, noise)[0, 1]
    t = r * math.sqrt(198 / (1 - r * r))
    assert shrink_factor(predicted, signal, 2.326) == shrink_factor(predicted, signal, None) > 0
    expected = shrink_factor(predicted, noise, None) if t > 2.326 else 0.0
    assert shrink_factor(predicted, noise, 2.326) == expected
    # the threshold is on t = r sqrt(n - 2) / sqrt(1 - r^2), computed here by hand
    r = np.corrcoef(predicted, signal)[0, 1]
    t = r * math.sqrt(198 / (1 - r * r))
    assert shrink_factor(predicted, signal, t - 0.01) > 0
    assert shrink_factor(predicted, signal, t + 0.01) == 0.0
