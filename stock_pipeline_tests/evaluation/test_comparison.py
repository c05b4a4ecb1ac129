"""The family tests of ``model_comparison``: Holm by hand, the MCS with models that copy
naive, the false rejection rate of the family over repeated seeds, and power."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stock_pipeline.evaluation import scoring
from stock_pipeline.evaluation.family_tests import (
    FamilySettings,
    _dm_table,
    _spa_stepm,
    compare,
    family_verdict,
    model_confidence_set,
)

FAST = FamilySettings(reps=200)
MONTE_CARLO = FamilySettings(reps=100)  # p-values to 0.01: enough to count rejections at 5%


def _equal_loss_family(
    seed: int, n: int = 500, models: int = 10
) -> tuple[np.ndarray, pd.DataFrame]:
    """Naive's squared errors and ``models`` models with the same expected loss: each day's
    loss is naive's times exp(u), u ~ N(-s^2/2, s^2), so E[loss] = E[naive loss]: the least
    favourable case of "no model beats naive"."""
    rng = np.random.default_rng(seed)
    bench = rng.normal(size=n) ** 2
    sigma = 0.3
    family = {
        f"m{k}": bench * np.exp(rng.normal(-(sigma**2) / 2, sigma, size=n)) for k in range(models)
    }
    return bench, pd.DataFrame(family)


def test_holm_adjustment_by_hand():
    rng = np.random.default_rng(3)
    y = rng.normal(size=300)
    losses = pd.DataFrame(
        {"naive": y**2, "a": (y - 0.3 * rng.normal(size=300)) ** 2, "b": (0.8 * y) ** 2}
    )
    table = _dm_table(losses, FAST).set_index("model")
    raw = {
        m: scoring.diebold_mariano(np.sqrt(losses[m]), np.sqrt(losses["naive"])).pvalue
        for m in ("a", "b")
    }
    # Holm with two p-values: the smaller times 2, the larger times 1, kept monotone
    low, high = sorted(raw, key=raw.get)
    expect_low = min(1.0, 2 * raw[low])
    expect_high = min(1.0, max(expect_low, raw[high]))
    assert table.at[low, "holm_pvalue"] == pytest.approx(expect_low)
    assert table.at[high, "holm_pvalue"] == pytest.approx(expect_high)
    assert np.isnan(table.at["naive", "holm_pvalue"])
    # b's error is 0.8 y, so its loss is 0.64 of naive's every day: skill 1 - 0.8
    assert table.at["b", "skill"] == pytest.approx(0.2)


def test_holm_steps_down_keeps_order_and_caps_at_one():
    # m = 4, sorted: 0.01*4 = 0.04, 0.02*3 = 0.06, 0.03*2 = 0.06, 0.6*1 = 0.6, put back
    # in the given order; a later product below the running maximum is raised to it
    # (0.5 < 0.4*2 below), and a product above 1 is capped
    assert scoring.holm(np.array([0.6, 0.03, 0.01, 0.02])) == pytest.approx([0.6, 0.06, 0.04, 0.06])
    assert scoring.holm(np.array([0.04, 0.015, 0.4])) == pytest.approx([0.08, 0.045, 0.4])
    assert scoring.holm(np.array([0.4, 0.5])) == pytest.approx([0.8, 0.8])
    assert scoring.holm(np.array([0.7, 0.9])) == pytest.approx([1.0, 1.0])


def test_models_that_copy_naive_share_its_confidence_set_pvalue():
    rng = np.random.default_rng(5)
    y = rng.normal(size=400)
    losses = pd.DataFrame(
        {"naive": y**2, "gated": y**2, "worse": (y + 0.8) ** 2, "also_gated": y**2}
    )
    pvalues = model_confidence_set(losses, FAST)
    assert pvalues["gated"] == pvalues["naive"] == pvalues["also_gated"]
    assert pvalues["worse"] < 0.05 < pvalues["naive"]  # a bias of 0.8 is far worse


def test_family_false_rejection_rate_stays_near_the_nominal_level():
    """Ten models no better than naive, 100 seeds: SPA and StepM reject about 5% of the
    time, while "the best of ten has DM p < 0.05" happens about four times as often."""
    seeds = range(100)
    spa_rejects = stepm_rejects = holm_rejects = best_of_ten = 0
    for seed in seeds:
        bench, family = _equal_loss_family(seed)
        p, superior = _spa_stepm(bench, family, MONTE_CARLO)
        spa_rejects += p < 0.05
        stepm_rejects += bool(superior)
        table = _dm_table(pd.concat([pd.Series(bench, name="naive"), family], axis=1), FAST)
        better = table[(table["model"] != "naive") & (table["dm_stat"] < 0)]
        holm_rejects += bool((better["holm_pvalue"] < 0.05).any())
        best_of_ten += bool((better["dm_pvalue"] < 0.05).any())
    n = len(seeds)
    # nominal 5%; one binomial sd over 100 seeds is 2.2 points
    assert spa_rejects / n <= 0.10
    assert stepm_rejects / n <= 0.12
    assert holm_rejects / n <= 0.10
    # without a correction the family "finds" a winner far more often (1 - 0.975^10 = 22%)
    assert best_of_ten / n >= 0.15


def test_spa_and_stepm_find_a_model_that_is_better():
    """Power: one model whose expected loss is 25% below naive's among nine null ones."""
    found = 0
    for seed in range(10):
        bench, family = _equal_loss_family(seed, models=9)
        noise = np.random.default_rng(1000 + seed).normal(-0.045, 0.3, len(bench))
        family["good"] = bench * 0.75 * np.exp(noise)
        p, superior = _spa_stepm(bench, family, FAST)
        found += p < 0.05 and "good" in superior
    assert found >= 9


def test_verdict_says_plainly_when_nothing_beats_naive():
    bench, family = _equal_loss_family(11, models=3)
    losses = pd.concat([pd.Series(bench, name="naive"), family], axis=1)
    result = compare(losses, FAST)
    text = family_verdict("T", result)
    assert text.startswith("T: NO model beats the naive forecast")
    assert "over 3 models" in text
    gated = pd.DataFrame({"naive": bench, "lstm": bench, "gru": bench})
    assert "every model made the naive forecast" in family_verdict("T", compare(gated, FAST))


def test_stepm_steps_down_until_every_model_is_found_better():
    """Three models, each clearly better than naive on 21 days, one much more than the
    others: the first step finds only some of them, the next the rest, and the family
    test then ends (arch 8.0's own StepM went on to test an empty set and failed)."""
    from arch.bootstrap import SPA

    rng = np.random.default_rng(1)
    bench = rng.normal(size=21) ** 2 + 1.0
    scale = rng.uniform(0.1, 1.0, size=3)  # each model's loss: a share of naive's
    family = pd.DataFrame(
        {f"m{j}": bench * scale[j] + rng.normal(0, 0.1, 21) ** 2 for j in range(3)}
    )
    first = SPA(bench, family, reps=FAST.reps, seed=FAST.seed)
    first.compute()
    assert 0 < len(first.better_models(FAST.alpha)) < 3  # a second step is needed
    p, superior = _spa_stepm(bench, family, FAST)
    assert superior == ("m0", "m1", "m2") and p < 0.05
    result = compare(pd.concat([pd.Series(bench, name="naive"), family], axis=1), FAST)
    assert result.superior == ("m0", "m1", "m2")
