"""Shared fixtures: settings over a private data folder, passed to the product the way a
deployment passes them (``build_definitions(settings)``, core functions' arguments).

Markers: ``e2e`` (real webserver/daemon processes and a browser), ``postgres`` (a real
PostgreSQL server), ``slow`` (half a minute or more). ``pytest -m "not e2e and not postgres"``
is the quick loop; ``.ci/run`` runs everything.

The suite runs on two pytest-xdist workers (``addopts`` in pyproject.toml; ``-n 0`` runs
in this process, e.g. for one test under a debugger), each file on one worker, so that a
module-scoped fixture (a server, a trained fold cache) is built once. Every process of a
run (this one, the workers, the Dagster, CLI and Dask processes the tests start) shares
one JAX compilation cache folder, made for the run and removed after it: a model shape
compiled once is loaded from it afterwards, and no run reads what an earlier run (or
another checkout) left in ``~/.cache``. Tests about the cache itself point JAX at
folders of their own.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import pytest

#: set by the process that made the run's JAX cache folder; the workers inherit it
_RUN_CACHE = "STOCK_PIPELINE_TESTS_JAX_CACHE"


def _use_a_jax_cache_for_this_run() -> bool:
    """Point JAX at the run's cache folder, made here unless a parent process made it;
    whether it was made here. Runs before anything imports stock_pipeline or jax, which
    read the folder from the environment once. ``STOCK_PIPELINE_JAX_CACHE=off`` still
    switches the cache off (to see whether a failure depends on it)."""
    if os.environ.get("STOCK_PIPELINE_JAX_CACHE", "").lower() in ("off", "0", "false", "no"):
        return False
    made_here = not os.environ.get(_RUN_CACHE)
    if made_here:
        os.environ[_RUN_CACHE] = tempfile.mkdtemp(prefix="stock_pipeline_tests_jax_")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = os.environ[_RUN_CACHE]
    return made_here


if _use_a_jax_cache_for_this_run():
    # made here: removed when this process ends, after the workers it waits for
    atexit.register(shutil.rmtree, os.environ[_RUN_CACHE], ignore_errors=True)


def _absl_logging_on_the_real_stderr() -> None:
    """absl's logging handler (keras imports absl) keeps the ``sys.stderr`` of the moment
    it is made and closes it whenever logging is reconfigured, as Dagster does at the
    start of every run (the instance's ``python_logs``), unless it is ``sys.stderr`` then.
    Made under pytest's capture, it closed pytest's capture file in the first test that
    ran Dagster under ``capsys`` after keras was imported (the CLI tests: serially they
    ran before any keras import, on a worker they may not). Made on the real stderr, it
    never closes it."""
    captured, sys.stderr = sys.stderr, sys.__stderr__
    try:
        import absl.logging  # noqa: F401
    finally:
        sys.stderr = captured


_absl_logging_on_the_real_stderr()

from stock_pipeline.settings import Settings, SourceSettings  # noqa: E402
from stock_pipeline_tests.support.configs import small_model  # noqa: E402

warnings.filterwarnings("ignore", module="dagster")




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
