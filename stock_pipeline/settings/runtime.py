"""How the pipeline runs: the nightly schedule (``automation``) and where the per-ticker
model compute happens (``compute``)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from stock_pipeline.settings.base import Section


class AutomationSettings(Section):
    """The nightly refresh and the freshness check."""

    nightly_cron: str = Field(
        "30 18 * * 1-5", description="Nightly refresh, exchange time; holidays are skipped"
    )
    market_close: dt.time = Field(dt.time(16, 0), description="Regular session close")
    bar_due_hours: float = Field(
        4.0, gt=0, description="A session's bar must be stored this long after the close"
    )
    max_chain_sessions_per_run: int = Field(
        63,
        ge=1,
        description="The most as-of sessions per ticker one model-chain run accepts: each is "
        "a forecast, a walk-forward evaluation and a report. A larger request (the UI's "
        "'Materialize all' over every partition) fails at once and says so",
    )
    max_catch_up_sessions: int = Field(
        10,
        ge=1,
        description="The nightly run also materializes the sessions a ticker missed since its "
        "last forecast (the daemon was down, a source failed), at most this many; the data "
        "tables are always healed in full, and the run log names the older sessions whose "
        "forecasts and evaluations were left out",
    )
    revision_check_cron: str = Field(
        "0 7 * * 6",
        description="When the stored history is compared with the source's (exchange time; "
        "weekly by default): a year whose bars the source changed is materialized again",
    )
    revision_check_years: int = Field(
        3,
        ge=1,
        description="How many of the latest years the revision check compares for a live "
        "source (yfinance, Alpha Vantage), one request per batch of tickers; csv files and "
        "the sample are compared in full",
    )
    slot_wait_timeout_s: float = Field(
        1800.0,
        gt=0,
        description="The longest a step of a CLI run waits for a `duckdb_writer` pool slot "
        "(another run is writing); then the run is marked failed and the command stops, "
        "naming the run that holds the slot",
    )
    code_location: str = Field(
        "stock_pipeline",
        min_length=1,
        description="The name the daemon's workspace gives this code location (workspace.yaml "
        "says stock_pipeline): `add-ticker` queues its runs for that location",
    )


class ComputeSettings(Section):
    """Where the per-ticker model compute (fold training, forecasting, the walk-forward)
    runs. The warehouse is read and written only by the asset's own process either way."""

    engine: Literal["in_process", "local_cluster", "address"] = Field(
        "in_process",
        description="in_process: each ticker in turn in the step's process (the default); "
        "local_cluster: a Dask LocalCluster of `workers` processes on loopback, started by "
        "the run and closed with it; address: the Dask scheduler at `address` (workers "
        "on other machines need the same package version and the same models_path)",
    )
    workers: int = Field(2, ge=1, description="local_cluster: worker processes")
    threads_per_worker: int = Field(
        1, ge=1, description="local_cluster: tickers one worker computes at a time"
    )
    address: str | None = Field(
        None, description="address: the scheduler, e.g. tcp://10.0.0.5:8786"
    )
    jax_cache_dir: Path | None = Field(
        default_factory=lambda: default_jax_cache_dir(os.environ),
        description="JAX's persistent compilation cache: compiled training and predict "
        "programs kept between processes (a model of a shape seen before loads its program "
        "instead of compiling it again); default $XDG_CACHE_HOME/stock_pipeline/jax, else "
        "~/.cache/stock_pipeline/jax; off (or null): no cache. Trusted code: keep it in a "
        "folder only you can write",
    )

    @field_validator("jax_cache_dir", mode="before")
    @classmethod
    def _off_is_none(cls, value: Any) -> Any:
        # YAML reads a bare `off` as False; the environment gives the word
        if value is False or (isinstance(value, str) and value.lower() in CACHE_OFF):
            return None
        return value

    @model_validator(mode="after")
    def _address_fits_engine(self) -> ComputeSettings:
        if (self.engine == "address") != (self.address is not None):
            raise ValueError(
                "compute.address is needed by compute.engine=address and by no other engine "
                f"(engine {self.engine!r}, address {self.address!r})"
            )
        return self


#: Values of ``compute.jax_cache_dir`` (and ``STOCK_PIPELINE_JAX_CACHE``) that mean no cache.
CACHE_OFF = ("off", "0", "false", "no", "none")


def default_jax_cache_dir(environ: Any) -> Path:
    """``$XDG_CACHE_HOME/stock_pipeline/jax``, else ``~/.cache/stock_pipeline/jax``."""
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stock_pipeline" / "jax"
