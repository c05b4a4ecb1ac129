"""The settings object: defaults, the environment, and errors that name the setting."""

from __future__ import annotations

import pytest

from stock_pipeline.settings import Settings


def test_an_unknown_or_moved_setting_is_an_error_that_names_it(tmp_path) -> None:
    config = tmp_path / "settings.yaml"
    config.write_text("evaluation:\n  retrain_every: 42\n")  # moved to model.retrain_every
    with pytest.raises(ValueError, match=r"retrain_every") as err:
        Settings.from_env({"STOCK_PIPELINE_CONFIG": str(config)})
    assert str(config) in str(err.value)
    config.write_text("model:\n  retrain_every: 42\n")
    assert Settings.from_env({"STOCK_PIPELINE_CONFIG": str(config)}).model.retrain_every == 42


def test_with_changes_validates_and_keeps_the_other_fields(tmp_path) -> None:
    base = Settings(data_dir=tmp_path)
    changed = base.with_changes(model={"lstm_units": [16]}, models_path=tmp_path / "m")
    assert changed.model.lstm_units == (16,) and changed.model.dropout == base.model.dropout
    assert changed.models_dir == tmp_path / "m" and base.models_dir == tmp_path / "models"
    with pytest.raises(ValueError, match="dropout"):
        base.with_changes(model={"dropout": 2.0})
