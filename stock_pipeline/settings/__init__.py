"""The one configuration object. Every tunable lives in this package with its documented
default: ``Settings`` here, its sections in modules by theme (``base``: the ``Section``
base and shared constants; ``data``: source and features; ``model``; ``evaluation``:
evaluation and backtest; ``runtime``: automation and compute; ``universe``).

Values come from environment variables (``STOCK_PIPELINE_*``) so the same code
location behaves the same under ``dagster dev``, the daemon and the CLI.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from stock_pipeline.settings import checks
from stock_pipeline.settings.base import SOURCE_NAMES, Section
from stock_pipeline.settings.data import (
    DEFAULT_FEATURES,
    FEATURE_COLUMNS,
    INDICATOR_FEATURES,
    FeatureSettings,
    SourceSettings,
)
from stock_pipeline.settings.evaluation import BacktestSettings, EvaluationSettings
from stock_pipeline.settings.model import LossName, MemberKind, ModelKind, ModelSettings
from stock_pipeline.settings.runtime import AutomationSettings, ComputeSettings
from stock_pipeline.settings.universe import UniverseSettings

__all__ = [
    "DEFAULT_FEATURES",
    "ENV_VARIABLES",
    "FEATURE_COLUMNS",
    "INDICATOR_FEATURES",
    "SOURCE_NAMES",
    "AutomationSettings",
    "BacktestSettings",
    "ComputeSettings",
    "EvaluationSettings",
    "FeatureSettings",
    "LossName",
    "MemberKind",
    "ModelKind",
    "ModelSettings",
    "Section",
    "Settings",
    "SourceSettings",
    "UniverseSettings",
]


#: The environment variables that override the YAML file, by section (None: top level).
ENV_VARIABLES: dict[str | None, tuple[tuple[str, str], ...]] = {
    "source": (
        ("name", "STOCK_PIPELINE_SOURCE"),
        ("csv_dir", "STOCK_PIPELINE_CSV_DIR"),
        ("alphavantage_api_key", "ALPHAVANTAGE_API_KEY"),
    ),
    "compute": (
        ("engine", "STOCK_PIPELINE_COMPUTE"),
        ("address", "STOCK_PIPELINE_COMPUTE_ADDRESS"),
        ("workers", "STOCK_PIPELINE_COMPUTE_WORKERS"),
        # JAX's own variable moves the cache, as it did before the setting; ours wins
        ("jax_cache_dir", "JAX_COMPILATION_CACHE_DIR"),
        ("jax_cache_dir", "STOCK_PIPELINE_JAX_CACHE"),  # a folder, or off
    ),
    None: (
        ("data_dir", "STOCK_PIPELINE_DATA_DIR"),
        ("warehouse_path", "STOCK_PIPELINE_WAREHOUSE"),
        ("models_path", "STOCK_PIPELINE_MODELS"),
        ("start_date", "STOCK_PIPELINE_START"),
        ("history_start", "STOCK_PIPELINE_HISTORY_START"),
        ("watchlist_path", "STOCK_PIPELINE_WATCHLIST"),
    ),
}


class Settings(Section):
    """Top-level configuration. ``Settings.from_env()`` is what the pipeline uses."""

    data_dir: Path = Field(Path("data"), description="Warehouse, models and reports live here")
    warehouse_path: Path | None = Field(
        None, description="DuckDB file; default <data_dir>/warehouse.duckdb"
    )
    models_path: Path | None = Field(
        None,
        description="Folder of trained fold models (a cache keyed by what each model saw, "
        "shareable between warehouses); default <data_dir>/models",
    )
    start_date: dt.date = Field(
        dt.date(2015, 1, 2),
        description="First as-of date partition of the model chain (windowed_tensors .. "
        "backtest_report): the first session a forecast, evaluation and report can be made for",
    )
    history_start: dt.date = Field(
        dt.date(2000, 1, 1),
        description="First year partition of the data assets (raw_ohlcv, indicators): bars "
        "before it are not fetched; a new ticker's history is backfilled from here",
    )
    exchange: str = Field("XNYS", description="exchange_calendars code for trading days")
    exchange_timezone: str = "America/New_York"
    source: SourceSettings = SourceSettings()
    features: FeatureSettings = FeatureSettings()
    model: ModelSettings = ModelSettings()
    evaluation: EvaluationSettings = EvaluationSettings()
    backtest: BacktestSettings = BacktestSettings()
    automation: AutomationSettings = AutomationSettings()
    compute: ComputeSettings = ComputeSettings()
    universe: UniverseSettings = UniverseSettings()
    watchlist_path: Path = Field(Path("watchlist.yaml"), description="The declared universe")

    @field_validator("exchange")
    @classmethod
    def _known_exchange(cls, value: str) -> str:
        return checks.check_exchange(value)

    @field_validator("exchange_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return checks.check_timezone(value)

    @model_validator(mode="after")
    def _loss_fits_target(self) -> Settings:
        self.model.loss_for(self.features.target)
        return self

    # here, not in FeatureSettings: the forecasting code builds a FeatureSettings of any
    # names and refuses unknown ones itself (FeatureError); a configuration never gets there
    @model_validator(mode="after")
    def _known_feature_columns(self) -> Settings:
        checks.check_feature_columns(self.features.columns)
        return self

    @model_validator(mode="after")
    def _known_universe_features(self) -> Settings:
        checks.check_universe_features(self.universe.features)
        return self

    @property
    def warehouse(self) -> Path:
        return self.warehouse_path or self.data_dir / "warehouse.duckdb"

    @property
    def models_dir(self) -> Path:
        return self.models_path or self.data_dir / "models"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    def ticker_models_dir(self, ticker: str) -> Path:
        """One ticker's models (the symbol URL-quoted: ``^GSPC`` -> ``%5EGSPC``)."""
        return self.models_dir / quote(ticker, safe="")

    def ticker_reports_dir(self, ticker: str) -> Path:
        """One ticker's reports, a folder per as-of date (the symbol URL-quoted)."""
        return self.reports_dir / quote(ticker, safe="")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Defaults, then the YAML file in ``STOCK_PIPELINE_CONFIG``, then ``STOCK_PIPELINE_*``."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        config_file = env.get("STOCK_PIPELINE_CONFIG")
        if config_file:
            values = _load_yaml(Path(config_file))
        set_by: dict[tuple[str, ...], str] = {}  # where a variable put its value
        for section, variables in ENV_VARIABLES.items():
            target = values if section is None else dict(values.get(section) or {})
            for key, var in variables:
                if env.get(var):
                    target[key] = env[var]
                    set_by[(key,) if section is None else (section, key)] = var
            if section is not None:
                values[section] = target
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise _invalid_settings(exc, config_file, set_by) from exc

    def with_changes(self, **changes: Any) -> Settings:
        """A validated copy: a section given as a dict changes only the fields it names
        (``settings.with_changes(model={"units": [32]}, data_dir=folder)``); a field's earlier
        name (``lstm_units``) changes that field."""
        data = self.model_dump()
        for name, value in changes.items():
            if isinstance(value, dict):
                value = {**data[name], **type(getattr(self, name)).with_field_names(value)}
            data[name] = value
        return Settings.model_validate(data)

    def fingerprint(self, *sections: str) -> str:
        """Short hash of the named sections: a model is reusable only while it is unchanged.

        Each section declares the fields added or renamed after caches keyed by this hash
        existed (``Section.fingerprint_omitted_at_default``, ``Section.earlier_names``), so
        such a change keeps the fold caches and feature sets of existing configurations."""
        payload = json.dumps(
            {name: getattr(self, name).fingerprint_payload() for name in sections},
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:12]


def _invalid_settings(
    exc: ValidationError, config_file: str | None, set_by: Mapping[tuple[str, ...], str]
) -> ValueError:
    """The validation error, naming the environment variables behind the bad values."""
    variables = sorted(
        {
            var
            for error in exc.errors()
            for loc, var in set_by.items()
            if error["loc"] and _overlaps(tuple(map(str, error["loc"])), loc)
        }
    )
    where = f"{config_file} and " if config_file else ""
    named = f"; check {', '.join(variables)}" if variables else ""
    described = checks.describe_errors(exc.errors(include_url=False), _secret_fields())
    return ValueError(
        f"invalid settings (from {where}STOCK_PIPELINE_* variables{named}): {described}"
    )


def _secret_fields() -> set[str]:
    """The names of the fields that hold a secret (a ``SecretStr``), in any section."""
    sections = [Settings, *(f.annotation for f in Settings.model_fields.values())]
    return {
        name
        for section in sections
        if isinstance(section, type) and issubclass(section, Section)
        for name, field in section.model_fields.items()
        if "SecretStr" in str(field.annotation)
    }


def _overlaps(error_loc: tuple[str, ...], variable_loc: tuple[str, ...]) -> bool:
    """The error is about the variable's field, or about the section holding it."""
    shorter = min(len(error_loc), len(variable_loc))
    return error_loc[:shorter] == variable_loc[:shorter]


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"STOCK_PIPELINE_CONFIG={path}: cannot read settings: {exc}") from exc
    if not isinstance(loaded, dict):
        raise ValueError(f"STOCK_PIPELINE_CONFIG={path}: expected a mapping of settings")
    return loaded
