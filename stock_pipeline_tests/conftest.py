"""Shared fixtures: settings over a private data folder, passed to the product the way a
deployment passes them (``build_definitions(settings)``, core functions' arguments).

Markers (declared in ``pyproject.toml``): ``e2e`` (real webserver/daemon processes and a
browser), ``postgres`` (a real PostgreSQL server), ``slow`` (half a minute or more on 2
cores). The quick loop is ``pytest -m "not e2e and not postgres and not slow"``;
``.ci/run`` runs everything.

The suite runs on two pytest-xdist workers (``addopts`` in pyproject.toml; ``-n 0`` runs
in this process, e.g. for one test under a debugger), each file on one worker, so that a
module-scoped fixture (a server, a trained fold cache) is built once. Every process of a
run (this one, the workers, the Dagster, CLI and Dask processes the tests start) shares
one JAX compilation cache folder, the user's default one: a model shape compiled once
is loaded from it afterwards. Tests about the cache itself point JAX at folders of their
own.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest


def _use_the_shared_jax_cache() -> None:
    """Point JAX at the compilation cache every process of the suite shares, before
    anything imports jax: the default folder of ``compute.jax_cache_dir``
    (``$XDG_CACHE_HOME/stock_pipeline/jax``, else ``~/.cache/...``), which the engine
    applies for the ``Settings`` the tests build, and which ``JAX_COMPILATION_CACHE_DIR``
    gives the Dagster and CLI processes the tests start and the core functions a test
    calls directly (jax reads it when imported), with a minimum compile time of 0 as the
    backend sets. It persists across runs, as a user's does: a shape compiled once, in
    any run, loads from disk afterwards. Tests about the cache itself, and the cache
    independence tests, point JAX at folders of their own. ``STOCK_PIPELINE_JAX_CACHE=off``
    switches it off (to see whether a failure depends on it)."""
    from stock_pipeline.settings.runtime import CACHE_OFF, default_jax_cache_dir  # no jax

    if os.environ.get("STOCK_PIPELINE_JAX_CACHE", "").lower() in CACHE_OFF:
        return
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(default_jax_cache_dir(os.environ)))
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"


_use_the_shared_jax_cache()


@pytest.fixture(autouse=True)
def _no_dagster_context_left_open(request):
    """A test leaves no Dagster state storage set behind it. ``build_schedule_context``
    enters the instance when it initializes resources, and only its ``with`` block leaves
    it; a context not closed kept pointing at the test's instance after it was gone, and
    every later test of that worker that resolved a ``Definitions`` failed with
    "Attempted to resolve undefined DagsterInstance weakref"."""
    from stock_pipeline.defs._dagster_private import current_defs_state_storage

    before = current_defs_state_storage()
    yield
    left = current_defs_state_storage()
    assert left is before, f"{request.node.nodeid} left a Dagster context open (use `with`)"


#: Marks of the tests that take half a minute or more.
LONG_MARKS = ("slow", "e2e", "postgres")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files holding long tests first, each file's tests together and in their order. The
    workers take whole files (``--dist loadfile``) in this order, so the long files start
    at once and the short ones fill the gaps, instead of a long file starting last and
    one worker finishing minutes after the other."""
    long_files = {
        item.path for item in items if any(item.get_closest_marker(m) for m in LONG_MARKS)
    }
    first_seen = {}
    for item in items:
        first_seen.setdefault(item.path, len(first_seen))
    items.sort(key=lambda item: (item.path not in long_files, first_seen[item.path]))


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
