"""Scores of the walk-forward's predictions and the verdict's words, by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from stock_pipeline.evaluation.metrics import score, verdict
from stock_pipeline.settings import EvaluationSettings

LEVEL = EvaluationSettings().verdict_level  # the product's default


def frame(lstm: list[float], actual: list[float], reference_up: bool = True) -> pd.DataFrame:
    n = len(actual)
    close = np.full(n, 100.0)
    rows = []
    for model, predicted in (("lstm", lstm), ("naive", [0.0] * n)):
        rows.append(
            pd.DataFrame(
                {
                    "date": pd.bdate_range("2024-01-02", periods=n),
                    "fold": 0,
                    "model": model,
                    "predicted": predicted,
                    "actual": actual,
                    "close": close,
                    "actual_price": close * np.exp(actual),
                    "reference_up": reference_up,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def overall(metrics: pd.DataFrame, model: str) -> dict[str, float]:
    rows = metrics[(metrics["model"] == model) & metrics["fold"].isna()]
    return dict(zip(rows["metric"], rows["value"], strict=True))


def test_direction_is_scored_against_the_training_majority_not_against_naive() -> None:
    actual = [0.01, 0.02, -0.01, 0.03, -0.02]  # 3 up days of 5
    m = score(frame([0.1] * 5, actual, reference_up=True), "return", 1)
    # naive's zero forecast is "not up" every day: its figure is an always-down rule
    assert overall(m, "naive")["direction_accuracy"] == 2 / 5
    # the reference (always the training span's majority direction, up here) hits 3 of 5
    assert overall(m, "lstm")["direction_reference"] == 3 / 5
    down = score(frame([0.1] * 5, actual, reference_up=False), "return", 1)
    assert overall(down, "lstm")["direction_reference"] == 2 / 5


def test_the_verdict_names_the_real_reason_when_dm_is_undefined() -> None:
    actual = [0.01, -0.02, 0.03]
    m = score(frame([0.02, -0.04, 0.06], actual), "return", 1)  # same |error| as naive
    text = verdict(m, "ABC", LEVEL).text
    assert "no DM test" in text and "equals naive's on every day" in text
    assert "target kind" not in text


def test_the_verdict_says_when_the_lstm_made_the_naive_forecast_every_day() -> None:
    actual = [0.01, -0.02, 0.03]
    m = score(frame([0.0, 0.0, 0.0], actual), "return", 1)  # every fold shrunk to zero
    assert overall(m, "lstm")["naive_day_share"] == 1.0
    text = verdict(m, "ABC", LEVEL).text
    assert text.startswith("ABC: LSTM made the naive forecast (no change) on every day")
    assert "skill +0.00%" in text
    partly = score(frame([0.0, 0.01, 0.0], actual), "return", 1)
    assert overall(partly, "lstm")["naive_day_share"] == 2 / 3


def test_a_direction_target_is_judged_by_hit_rate_against_the_reference() -> None:
    actual = list(np.where(np.arange(40) % 4 == 0, -0.01, 0.01))  # 30 up days of 40
    hits = score(frame([0.9] * 40, actual), "direction", 1)
    v = verdict(hits, "DIR", LEVEL)
    assert "hit rate 75.0%" in v.text and "against 75.0%" in v.text
    assert not v.beats_naive and math.isnan(v.dm_pvalue)
