"""The planted-signal series and how a walk-forward on them is scored, shared by the
signal tests (``evaluation/test_signal.py``, ``evaluation/test_signal_noise.py``).

Every series runs the walk-forward procedure users get (``walk_forward``: a model per
fold of 21 sessions, trained from scratch, early stopping, shrinkage) with the
**default** features and model settings; only the evaluated span (504 sessions instead of
756) and the history (2,000 sessions, 8 years) are shorter, to fit CI. The series are bars
with planted AR(1) log returns, turned into features by the product's own indicator and
feature code. The seeds were not used to choose the defaults (benchmarks/signal.py uses
1000+).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from scipy import stats

from stock_pipeline.evaluation.scoring import diebold_mariano
from stock_pipeline.evaluation.walk_forward import walk_forward
from stock_pipeline.forecasting.fold_models import FoldCache
from stock_pipeline.settings import Settings
from stock_pipeline_tests.support.synthetic import ar_returns, feature_table_of, synthetic_bars

SESSIONS, SPAN = 2000, 504


SETTINGS = Settings(evaluation={"span_sessions": SPAN})


def planted(phi: float, seed: int):
    bars = synthetic_bars(SESSIONS, seed=seed, returns=ar_returns(SESSIONS, phi, 7000 + seed))
    return feature_table_of("AR", bars, SETTINGS)


def scored(phi: float, seed: int, models_dir: Path | None = None) -> dict[str, dict[str, float]]:
    table = planted(phi, seed)
    cache = FoldCache(models_dir, SETTINGS) if models_dir else None
    frame = walk_forward(table, len(table) - 1, SETTINGS, cache).predictions
    actual = frame[frame["model"] == "naive"]["actual"].to_numpy()
    assert len(actual) == SPAN
    out = {}
    for model in ("lstm", "arima"):
        predicted = frame[frame["model"] == model]["predicted"].to_numpy()
        # skill by hand: 1 - RMSE(model) / RMSE(naive), naive forecasting a zero return
        skill = 1 - math.sqrt(np.mean((predicted - actual) ** 2) / np.mean(actual**2))
        dm = diebold_mariano(predicted - actual, -actual)
        # one-sided: the probability of a loss differential this large if the model were
        # no worse than naive; undefined (identical losses every day) counts as not worse
        worse_p = 1.0 if math.isnan(dm.statistic) else float(stats.t.sf(dm.statistic, dm.n - 1))
        out[model] = {"skill": skill, "dm": dm.statistic, "p": dm.pvalue, "worse_p": worse_p}
    return out
