"""Where there is little or nothing to find, the LSTM does no harm: a weak AR(1) and a
random walk, through the walk-forward users get with the default settings (the series
and the scoring: ``support/planted.py``)."""

from __future__ import annotations

import pytest

from stock_pipeline_tests.support.planted import scored

pytestmark = pytest.mark.slow


def test_a_weak_signal_is_not_worse_than_naive() -> None:
    result = scored(0.1, seed=1)
    assert result["lstm"]["worse_p"] > 0.05 and result["lstm"]["skill"] > -0.005, result


@pytest.mark.parametrize("seed", [2])
def test_on_a_random_walk_it_does_no_harm(seed: int) -> None:
    result = scored(0.0, seed=seed)
    assert result["lstm"]["worse_p"] > 0.05, result
    assert result["lstm"]["skill"] > -0.005, result
