"""Settings the tests share: a tiny LSTM so that model-chain plumbing tests train in
seconds. Tests of what users rely on (the model finds a signal) use the defaults.

No shrinkage here: a tiny net trained for four epochs rarely passes the default gate, and
forecasts that are all zero would hide plumbing errors (a wrong row, a stale cache) that
differing numbers reveal. Shrinkage itself is tested in evaluation/test_signal.py."""

from __future__ import annotations

import yaml

from stock_pipeline.settings import Settings

SMALL_MODEL: dict[str, dict] = {
    "features": {"window": 10},
    "model": {
        "lstm_units": [8],
        "epochs": 4,
        "patience": 2,
        "batch_size": 32,
        "min_train_samples": 30,
        "retrain_every": 5,
        "shrinkage": "none",
    },
    "evaluation": {"span_sessions": 20},
}

#: The same, as a settings file for processes configured through STOCK_PIPELINE_CONFIG.
SMALL_MODEL_YAML = yaml.safe_dump(SMALL_MODEL)


def small_model(settings: Settings) -> Settings:
    return settings.with_changes(**SMALL_MODEL)
