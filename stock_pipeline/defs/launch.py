"""Run the lineage through Dagster from Python: what the CLI (and benchmarks) call.

Runs go through the instance in ``DAGSTER_HOME`` so they show up in the UI
exactly like runs launched there, with the same asset code.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from dagster import AssetKey, DagsterInstance, Definitions

from stock_pipeline.calendar import trading_days
from stock_pipeline.defs.partitions import TICKERS_PARTITION, contiguous_runs, validate_ticker
from stock_pipeline.settings import Settings

DATA_ASSETS = ("raw_ohlcv", "indicators")
QUIET_LOGGING = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def ensure_dagster_home(settings: Settings) -> Path:
    """``DAGSTER_HOME``, defaulting to <data_dir>/dagster_home with the project's dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or settings.data_dir / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        with resources.as_file(resources.files("stock_pipeline") / "dagster.yaml") as bundled:
            shutil.copyfile(bundled, config)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def register_tickers(instance: DagsterInstance, tickers: list[str]) -> list[str]:
    """Add tickers as dynamic partitions; returns the ones that were new."""
    symbols = [validate_ticker(t) for t in tickers]
    known = set(instance.get_dynamic_partitions(TICKERS_PARTITION))
    new = [t for t in dict.fromkeys(symbols) if t not in known]
    if new:
        instance.add_dynamic_partitions(TICKERS_PARTITION, new)
    return new


@dataclass
class RunOutcome:
    label: str
    run_id: str
    success: bool
    errors: list[str] = field(default_factory=list)


def _step_errors(result) -> list[str]:
    errors = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            info = event.event_specific_data.error
            while info is not None and info.cause is not None:  # the user code's own error
                info = info.cause
            errors.append(f"{event.step_key}: {info.message.strip() if info else event.message}")
    return errors


def resolve_selection(defs: Definitions, select: str) -> list[str]:
    known = [key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()]
    if select.strip() == "*":
        return known
    names = [s.strip() for s in select.split(",") if s.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"--select: unknown asset(s) {unknown}; known: {sorted(known)}")
    return names


def materialize(
    defs: Definitions,
    instance: DagsterInstance,
    tickers: list[str],
    start: dt.date,
    end: dt.date,
    select: str = "*",
    settings: Settings | None = None,
) -> list[RunOutcome]:
    """Materialize ``select`` for ``tickers``: data assets on every session in start..end.

    One run per ticker (a ranged run, one provider request for the whole range),
    like a single-run backfill launched from the UI.
    """
    settings = settings or Settings.from_env()
    if start < settings.start_date:
        raise ValueError(
            f"--start {start} is before the first date partition {settings.start_date} "
            "(set STOCK_PIPELINE_START to go further back)"
        )
    sessions = trading_days(start, end, settings.exchange)
    if not sessions:
        raise ValueError(f"no trading day between {start} and {end}")
    names = resolve_selection(defs, select)
    register_tickers(instance, tickers)
    job = defs.resolve_implicit_global_asset_job_def()
    outcomes = []
    failed: set[str] = set()
    data_selection = [AssetKey(n) for n in names if n in DATA_ASSETS]
    asof_selection = [AssetKey(n) for n in names if n not in DATA_ASSETS]
    for ticker in tickers:
        if data_selection:
            outcome = _ranged_run(
                job,
                instance,
                data_selection,
                (f"{sessions[0]}|{ticker}", f"{sessions[-1]}|{ticker}"),
                f"{ticker} data {sessions[0]}..{sessions[-1]}",
            )
            outcomes.append(outcome)
            if not outcome.success:
                failed.add(ticker)
    if asof_selection:
        # The as-of chain for the last session: as few runs as the registry order allows
        # (one JAX import each). Tickers whose data failed are left out.
        registered = instance.get_dynamic_partitions(TICKERS_PARTITION)
        ok = [t for t in tickers if t not in failed]
        for group in contiguous_runs(registered, ok):
            outcomes.append(run_asof(job, instance, group, sessions[-1], asof_selection))
    return outcomes


def run_asof(job, instance, tickers: list[str], day: dt.date, selection) -> RunOutcome:
    """One run of ``selection`` for partition ``day`` of every ticker in ``tickers``."""
    return _ranged_run(
        job,
        instance,
        selection,
        (f"{day}|{tickers[0]}", f"{day}|{tickers[-1]}"),
        f"{','.join(tickers)} model chain as of {day}",
    )


def _ranged_run(job, instance, selection, key_range: tuple[str, str], label: str) -> RunOutcome:
    """One in-process run over the partition keys from key_range[0] to key_range[1]."""
    result = job.execute_in_process(
        instance=instance,
        asset_selection=selection,
        tags={
            "dagster/asset_partition_range_start": key_range[0],
            "dagster/asset_partition_range_end": key_range[1],
            "stock_pipeline/trigger": "cli",
        },
        run_config=QUIET_LOGGING,
        raise_on_error=False,
    )
    return RunOutcome(label, result.run_id, result.success, _step_errors(result))


@dataclass
class SubmittedBackfill:
    ticker: str
    backfill_id: str
    first: dt.date
    last: dt.date
    sessions: int


def submit_backfills(
    defs: Definitions,
    instance: DagsterInstance,
    tickers: list[str],
    start: dt.date | None,
    settings: Settings,
    now: dt.datetime | None = None,
) -> list[SubmittedBackfill]:
    """Register tickers and submit one asset backfill each for the daemon to run.

    Each backfill covers the data assets over the ticker's history (a single run, one
    provider request) and the model chain for the latest due session.
    """
    import time

    from dagster._core.execution.backfill import PartitionBackfill
    from dagster._core.utils import make_new_backfill_id

    from stock_pipeline.defs.automation import backfill_days, backfill_subset

    symbols = [validate_ticker(t) for t in tickers]
    register_tickers(instance, symbols)
    now = now or dt.datetime.now(dt.UTC)
    graph = defs.resolve_asset_graph()
    submitted = []
    for ticker in dict.fromkeys(symbols):
        days = backfill_days(settings, start, now)
        if not days:
            raise ValueError(f"{ticker}: no session between {start} and now")
        backfill = PartitionBackfill.from_asset_graph_subset(
            backfill_id=make_new_backfill_id(),
            backfill_timestamp=time.time(),
            tags={"stock_pipeline/new_ticker": ticker, "stock_pipeline/trigger": "cli"},
            dynamic_partitions_store=instance,
            asset_graph_subset=backfill_subset(graph, ticker, days),
            title=f"add {ticker}",
            description=f"history {days[0]}..{days[-1]} and the model chain as of {days[-1]}",
            run_config=None,
        )
        instance.add_backfill(backfill)
        submitted.append(
            SubmittedBackfill(ticker, backfill.backfill_id, days[0], days[-1], len(days))
        )
    return submitted
