"""How the pipeline runs: the nightly schedule (``automation``) and where the per-ticker
model compute happens (``compute``)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, model_validator

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

    @model_validator(mode="after")
    def _address_fits_engine(self) -> ComputeSettings:
        if (self.engine == "address") != (self.address is not None):
            raise ValueError(
                "compute.address is needed by compute.engine=address and by no other engine "
                f"(engine {self.engine!r}, address {self.address!r})"
            )
        return self
