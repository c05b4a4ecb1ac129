"""Shared fixtures: settings over a private data folder, passed to the product the way a
deployment passes them (``build_definitions(settings)``, core functions' arguments).

Markers (declared in ``pyproject.toml``): ``e2e`` (real webserver/daemon processes and a
browser), ``postgres`` (a real PostgreSQL server), ``slow`` (half a minute or more on 2
cores). The quick loop is ``pytest -m "not e2e and not postgres and not slow"``;
``.ci/run`` runs everything.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stock_pipeline.settings import Settings, SourceSettings
from stock_pipeline_tests.support.configs import small_model


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Default settings over a private data folder, the offline sample, no watchlist."""
    return Settings(
        data_dir=tmp_path / "data",
        source=SourceSettings(name="sample"),
        watchlist_path=tmp_path / "watchlist.yaml",
    )


@pytest.fixture
def csv_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "csv"
    folder.mkdir()
    return folder


@pytest.fixture
def csv_settings(settings: Settings, csv_dir: Path) -> Settings:
    """The csv source over an empty folder the test fills."""
    return settings.with_changes(source={"name": "csv", "csv_dir": csv_dir})


@pytest.fixture
def small(settings: Settings) -> Settings:
    """A tiny LSTM so that plumbing tests train in seconds."""
    return small_model(settings)


@pytest.fixture
def small_csv(csv_settings: Settings) -> Settings:
    return small_model(csv_settings)
