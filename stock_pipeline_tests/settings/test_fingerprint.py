"""The settings fingerprint that keys the fold caches and feature sets: a field added to or
renamed in any section keeps the hash of every existing configuration."""

from __future__ import annotations

import hashlib
import json

import pytest

from stock_pipeline.settings import Section, Settings

SECTIONS = [
    name
    for name, field in Settings.model_fields.items()
    if isinstance(field.annotation, type) and issubclass(field.annotation, Section)
]

#: Configurations whose cached fold models exist today (each fingerprinted alone and together).
CONFIGURATIONS = [
    {},
    {"model": {"lstm_units": [32, 16], "kind": "gru", "dropout": 0.1}},
    {"features": {"target": "volatility"}},
    {"features": {"target": "volatility", "volatility_estimator": "parkinson"}},
    {"features": {"columns": ["log_return", "rsi_14"], "window": 30}, "model": {"epochs": 7}},
]


def fingerprint_before_the_sections_declared_their_own(settings: Settings, *names: str) -> str:
    """The algorithm the caches were keyed with: each section's JSON dump, the model's layer
    sizes named ``lstm_units`` and ``features.volatility_estimator`` left out at its default."""
    payload = {}
    for name in names:
        data = getattr(settings, name).model_dump(mode="json")
        if name == "model":
            data["lstm_units"] = data.pop("units")
        if name == "features" and data["volatility_estimator"] == "squared_return":
            del data["volatility_estimator"]
        payload[name] = data
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


@pytest.mark.parametrize("config", CONFIGURATIONS)
def test_existing_configurations_keep_their_fingerprints(config) -> None:
    settings = Settings.model_validate(config)
    for names in [("features", "model"), ("features",), ("model",), ("universe",)]:
        assert settings.fingerprint(*names) == fingerprint_before_the_sections_declared_their_own(
            settings, *names
        )


def test_the_default_configuration_keeps_the_cache_keys_of_existing_stores() -> None:
    # the fold-model and feature-set keys a store built with the defaults already holds
    assert Settings().fingerprint("features", "model") == "6751296e3d71"
    assert Settings().fingerprint("features") == "6458513ec898"


def extended(section: type[Section], declared: bool) -> type[Section]:
    """``section`` with one more defaulted field, declared omitted at its default or not."""
    namespace: dict[str, object] = {"__annotations__": {"added_knob": int}, "added_knob": 7}
    if declared:
        omitted = (*section.fingerprint_omitted_at_default, "added_knob")
        namespace["fingerprint_omitted_at_default"] = omitted
    return type(f"Extended{section.__name__}", (section,), namespace)


@pytest.mark.parametrize("name", SECTIONS)
def test_a_field_added_to_any_section_keeps_the_fingerprint_at_its_default(name) -> None:
    base = Settings()
    section = type(getattr(base, name))
    before = base.fingerprint(name)
    current = getattr(base, name).model_dump()

    declared = extended(section, declared=True)
    assert Settings(**{name: declared(**current)}).fingerprint(name) == before
    assert Settings(**{name: declared(**current, added_knob=8)}).fingerprint(name) != before
    # the declaration is what keeps it: an undeclared field changes every hash
    undeclared = extended(section, declared=False)
    assert Settings(**{name: undeclared(**current)}).fingerprint(name) != before


def test_a_declared_name_that_is_no_field_is_refused() -> None:
    with pytest.raises(TypeError, match="no_such_field"):
        type("Broken", (Section,), {"fingerprint_omitted_at_default": ("no_such_field",)})


def test_units_and_their_earlier_name_are_one_setting_with_one_fingerprint(tmp_path) -> None:
    by_name = Settings(model={"units": [32, 16]})
    by_earlier = Settings(model={"lstm_units": [32, 16]})
    assert by_name.model.units == by_earlier.model.units == (32, 16)
    assert by_earlier.model.lstm_units == (32, 16)
    assert by_name.fingerprint("features", "model") == by_earlier.fingerprint("features", "model")
    changed = Settings().with_changes(model={"lstm_units": [32, 16]})
    assert changed.model.units == (32, 16)
    assert changed.fingerprint("model") == by_name.fingerprint("model")
    assert changed.fingerprint("model") != Settings().fingerprint("model")
    config = tmp_path / "settings.yaml"
    config.write_text("model:\n  lstm_units: [32, 16]\n")
    from_yaml = Settings.from_env({"STOCK_PIPELINE_CONFIG": str(config)})
    assert from_yaml.fingerprint("model") == by_name.fingerprint("model")


@pytest.mark.parametrize("name", ["units", "lstm_units"])
def test_no_layers_is_an_error_that_names_the_setting(name) -> None:
    with pytest.raises(ValueError, match=r"model\.units"):
        Settings(model={name: []})
    with pytest.raises(ValueError, match=r"model\.units"):
        Settings().with_changes(model={name: []})
    with pytest.raises(ValueError, match=r"greater than or equal to 1"):
        Settings(model={name: [8, 0]})


def test_units_given_under_both_names_is_an_error() -> None:
    with pytest.raises(ValueError, match="lstm_units and units are the same setting"):
        Settings(model={"units": [8], "lstm_units": [16]})
