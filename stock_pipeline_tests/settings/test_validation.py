"""Settings whose valid values live outside the package (exchange calendars, time zones,
feature columns): a bad value in a real YAML file is an error that names the file, the
setting, the value and the value meant."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from stock_pipeline.settings import FEATURE_COLUMNS, Settings

ROOT = Path(__file__).resolve().parents[2]


def from_yaml(tmp_path: Path, text: str) -> Settings:
    config = tmp_path / "settings.yaml"
    config.write_text(text)
    return Settings.from_env({"STOCK_PIPELINE_CONFIG": str(config)})


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ValueError) as err:
        from_yaml(tmp_path, text)
    message = str(err.value)
    assert str(tmp_path / "settings.yaml") in message  # the file the value came from
    return message


def test_an_unknown_exchange_names_the_setting_and_a_close_match(tmp_path) -> None:
    message = error_of(tmp_path, "exchange: XNYZ\n")
    assert (
        "exchange='XNYZ' is not an exchange_calendars calendar; did you mean 'XNZE' or "
        "'XNYS'? (the names are exchange_calendars.get_calendar_names(), e.g. 'XNYS', 'XLON')"
    ) in message
    # a code in the wrong case is matched in any case
    assert "exchange='xnys' is not an exchange_calendars calendar; did you mean 'XNYS'" in (
        error_of(tmp_path, "exchange: xnys\n")
    )


def test_a_known_exchange_or_alias_is_accepted(tmp_path) -> None:
    assert from_yaml(tmp_path, "exchange: XLON\n").exchange == "XLON"
    assert from_yaml(tmp_path, "exchange: NYSE\n").exchange == "NYSE"  # an alias of XNYS


def test_an_unknown_time_zone_names_the_setting_and_a_close_match(tmp_path) -> None:
    message = error_of(tmp_path, "exchange_timezone: America/New_Yrok\n")
    assert (
        "exchange_timezone='America/New_Yrok' is not an IANA time zone; did you mean "
        "'America/New_York' or 'America/Nuuk' or 'America/Nome'?"
    ) in message
    message = error_of(tmp_path, "exchange_timezone: Mars/Olympus\n")
    assert "exchange_timezone='Mars/Olympus' is not an IANA time zone (e.g. " in message
    # not a key at all: zoneinfo's reason is kept
    message = error_of(tmp_path, "exchange_timezone: ../etc/passwd\n")
    assert "exchange_timezone='../etc/passwd' is not an IANA time zone (ZoneInfo keys" in message
    assert from_yaml(tmp_path, "exchange_timezone: Europe/London\n").exchange_timezone == (
        "Europe/London"
    )


def test_an_unknown_feature_column_names_the_setting_and_the_known_names(tmp_path) -> None:
    message = error_of(tmp_path, "features:\n  columns: [log_return, rsi14]\n")
    assert (
        "features.columns names unknown feature(s) ['rsi14']; known: ['log_return', "
        "'close_to_sma_20', 'close_to_sma_50', 'macd_hist_rel', 'rsi_14', 'bb_pctb', "
        "'bb_width', 'atr_rel', 'volatility_20', 'volume_change', 'stoch_k', 'range_rel']"
    ) in message
    with pytest.raises(ValueError, match=r"features\.columns names unknown feature\(s\) \['x'\]"):
        Settings().with_changes(features={"columns": ["x"]})
    columns = ("log_return", "stoch_k", "range_rel")
    assert from_yaml(tmp_path, f"features:\n  columns: {list(columns)}\n").features.columns == (
        columns
    )


def test_the_settings_know_exactly_the_registered_feature_columns() -> None:
    try:  # the registry's own module once it has one; features.py imports it from there
        from stock_pipeline.forecasting.feature_columns import FEATURES
    except ImportError:
        from stock_pipeline.forecasting.features import FEATURES

    assert len(set(FEATURE_COLUMNS)) == len(FEATURE_COLUMNS)
    assert set(FEATURE_COLUMNS) == set(FEATURES)


def test_importing_and_defaulting_the_settings_imports_no_calendars() -> None:
    """The exchange is checked against exchange_calendars (seconds to import) only when
    one is given."""
    code = (
        "import sys; from stock_pipeline.settings import Settings; Settings(); "
        "Settings.from_env({}); print('exchange_calendars' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_the_message_shows_bad_values_but_never_the_api_key(tmp_path) -> None:
    """Pydantic's own text of a whole-settings error ends with the input, the key from
    the environment among it; the message is one line per error without it."""
    config = tmp_path / "settings.yaml"
    config.write_text("model: {loss: huber}\nfeatures: {target: direction}\n")
    key = "AV-SECRET-0123456789"
    env = {"STOCK_PIPELINE_CONFIG": str(config), "ALPHAVANTAGE_API_KEY": key}
    with pytest.raises(ValueError) as err:
        Settings.from_env(env)
    message = str(err.value)
    assert message == (
        f"invalid settings (from {config} and STOCK_PIPELINE_* variables): "
        "model.loss='huber' does not fit features.target='direction': use cross_entropy for "
        "direction, mse or huber for return and price (or leave model.loss unset for the "
        "target's default)"
    )
    assert "6789" not in message
    with pytest.raises(ValueError) as err:
        Settings.from_env({**env, "STOCK_PIPELINE_COMPUTE_WORKERS": "five"})
    assert str(err.value).endswith(
        "check STOCK_PIPELINE_COMPUTE_WORKERS): compute.workers: Input should be a valid "
        "integer, unable to parse string as an integer (got 'five')"
    )
    assert "6789" not in str(err.value)


def test_universe_features_are_checked_when_the_settings_are_read(tmp_path) -> None:
    message = error_of(tmp_path, "universe:\n  features: [log_return, rsi14]\n")
    assert (
        "universe.features names 'rsi14', which is not an indicators column; did you mean 'rsi_14'?"
    ) in message
    message = error_of(tmp_path, "universe:\n  features: [rsi_14, log_return]\n")
    assert "universe.features=['rsi_14', 'log_return']: the first feature must be log_return" in (
        message
    )
    chosen = from_yaml(tmp_path, "universe:\n  features: [log_return, rsi_14]\n")
    assert chosen.universe.features == ("log_return", "rsi_14")
