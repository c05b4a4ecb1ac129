"""Where a value comes from: an environment variable over the YAML file over the default,
for every variable of ``ENV_VARIABLES``; a bad value is an error that names its variable."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from stock_pipeline.settings import ENV_VARIABLES, Settings

#: variable -> (a YAML value, what it reads as, another value in the variable, what that
#: reads as, a bad value or None where every text is valid, other YAML the value needs).
CASES: dict[str, tuple[object, object, str, object, str | None, dict]] = {
    "STOCK_PIPELINE_SOURCE": ("csv", "csv", "sample", "sample", "nope", {}),
    "STOCK_PIPELINE_CSV_DIR": ("/y/csv", Path("/y/csv"), "/e/csv", Path("/e/csv"), None, {}),
    "ALPHAVANTAGE_API_KEY": ("yaml-key", "yaml-key", "env-key", "env-key", None, {}),
    "STOCK_PIPELINE_COMPUTE": (
        "local_cluster",
        "local_cluster",
        "in_process",
        "in_process",
        "gpu_farm",
        {},
    ),
    "STOCK_PIPELINE_COMPUTE_ADDRESS": (
        "tcp://yaml:8786",
        "tcp://yaml:8786",
        "tcp://env:8786",
        "tcp://env:8786",
        None,
        {"compute": {"engine": "address"}},
    ),
    "STOCK_PIPELINE_COMPUTE_WORKERS": (3, 3, "5", 5, "five", {}),
    "STOCK_PIPELINE_DATA_DIR": ("/y/data", Path("/y/data"), "/e/data", Path("/e/data"), None, {}),
    "STOCK_PIPELINE_WAREHOUSE": ("/y/w.db", Path("/y/w.db"), "/e/w.db", Path("/e/w.db"), None, {}),
    "STOCK_PIPELINE_MODELS": ("/y/m", Path("/y/m"), "/e/m", Path("/e/m"), None, {}),
    "STOCK_PIPELINE_START": (
        "2016-01-04",
        dt.date(2016, 1, 4),
        "2017-01-03",
        dt.date(2017, 1, 3),
        "2017-13-01",
        {},
    ),
    "STOCK_PIPELINE_HISTORY_START": (
        "2001-01-02",
        dt.date(2001, 1, 2),
        "2002-01-02",
        dt.date(2002, 1, 2),
        "x",
        {},
    ),
    "STOCK_PIPELINE_WATCHLIST": (
        "/y/w.yaml",
        Path("/y/w.yaml"),
        "/e/w.yaml",
        Path("/e/w.yaml"),
        None,
        {},
    ),
}

VARIABLES = [
    (section, key, var) for section, variables in ENV_VARIABLES.items() for key, var in variables
]


def test_every_variable_has_a_case() -> None:
    assert sorted(CASES) == sorted(var for _, _, var in VARIABLES)
    assert {section for section, _, _ in VARIABLES} == {"source", "compute", None}


def read(settings: Settings, section: str | None, key: str) -> object:
    value = getattr(settings if section is None else getattr(settings, section), key)
    return value.get_secret_value() if hasattr(value, "get_secret_value") else value


def with_value(section: str | None, key: str, value: object, needs: dict) -> dict:
    config = {name: dict(values) for name, values in needs.items()}
    if section is None:
        config[key] = value
    else:
        config.setdefault(section, {})[key] = value
    return config


@pytest.mark.parametrize(("section", "key", "var"), VARIABLES)
def test_environment_over_yaml_over_default(tmp_path, section, key, var) -> None:
    yaml_value, yaml_reads, env_value, env_reads, _, needs = CASES[var]
    config = tmp_path / "settings.yaml"
    config.write_text(yaml.safe_dump(with_value(section, key, yaml_value, needs)))
    from_yaml = {"STOCK_PIPELINE_CONFIG": str(config)}
    model = Settings if section is None else type(getattr(Settings(), section))
    default = model.model_fields[key].default
    assert yaml_reads != default and env_reads != yaml_reads  # each layer shows

    if not needs:  # a value that needs another setting has no default to fall back to
        assert read(Settings.from_env({}), section, key) == default
        # an empty variable is no value: the default stays
        assert read(Settings.from_env({var: ""}), section, key) == default
        assert read(Settings.from_env({var: env_value}), section, key) == env_reads
    assert read(Settings.from_env(from_yaml), section, key) == yaml_reads
    assert read(Settings.from_env({**from_yaml, var: env_value}), section, key) == env_reads
    assert read(Settings.from_env({**from_yaml, var: ""}), section, key) == yaml_reads


@pytest.mark.parametrize(("section", "key", "var"), [v for v in VARIABLES if CASES[v[2]][4]])
def test_a_bad_value_is_an_error_that_names_its_variable(tmp_path, section, key, var) -> None:
    bad = CASES[var][4]
    with pytest.raises(ValueError, match=rf"check {var}\b") as err:
        Settings.from_env({var: bad})
    assert ".".join(filter(None, [section, key])) in str(err.value)
    # the same value from the YAML file names the file, not the variable
    config = tmp_path / "settings.yaml"
    config.write_text(yaml.safe_dump(with_value(section, key, bad, {})))
    with pytest.raises(ValueError, match=str(config)) as err:
        Settings.from_env({"STOCK_PIPELINE_CONFIG": str(config)})
    assert f"check {var}" not in str(err.value)
