"""Submitting work to a Dagster instance from Python: what the CLI (and benchmarks) call.

Runs go through the instance in ``DAGSTER_HOME`` so they show up in the UI exactly like
runs launched there, with the same asset code.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from dagster import AssetKey, DagsterInstance, Definitions

from stock_pipeline.defs._dagster_private import PartitionBackfill, make_new_backfill_id
from stock_pipeline.defs.assets import DATA_ASSETS
from stock_pipeline.defs.automation import NEW_TICKER_TAG, backfill_days, backfill_subset
from stock_pipeline.defs.partitions import TICKERS_PARTITION, contiguous_runs, range_tags
from stock_pipeline.market_data.calendar import trading_days
from stock_pipeline.market_data.watchlist import check_symbol
from stock_pipeline.settings import Settings

QUIET_LOGGING = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
TRIGGER_TAG = "stock_pipeline/trigger"


def dagster_home(settings: Settings) -> Path:
    """``DAGSTER_HOME``, defaulting to <data_dir>/dagster_home with the project's dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or settings.data_dir / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        with resources.as_file(resources.files("stock_pipeline") / "dagster.yaml") as bundled:
            shutil.copyfile(bundled, config)
    return home


def open_instance(settings: Settings) -> DagsterInstance:
    return DagsterInstance.from_config(str(dagster_home(settings)))


def register_tickers(instance: DagsterInstance, tickers: list[str]) -> list[str]:
    """Add tickers as dynamic partitions; returns the ones that were new."""
    symbols = [check_symbol(t) for t in tickers]
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
    select: str,
    settings: Settings,
) -> list[RunOutcome]:
    """Materialize ``select`` for ``tickers``: data assets on every session in start..end.

    One run per ticker for the data (a ranged run, one provider request for the whole
    range, like a single-run backfill launched from the UI), then the as-of chain for
    the last session in as few runs as the registry order allows (one JAX import each).
    Tickers whose data failed are left out of the chain.
    """
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
    data = [AssetKey(n) for n in names if n in DATA_ASSETS]
    chain = [AssetKey(n) for n in names if n not in DATA_ASSETS]
    outcomes, failed = [], set()
    for ticker in tickers if data else []:
        label = f"{ticker} data {sessions[0]}..{sessions[-1]}"
        tags = range_tags([ticker], sessions[0], sessions[-1])
        outcome = _ranged_run(job, instance, data, tags, label)
        outcomes.append(outcome)
        if not outcome.success:
            failed.add(ticker)
    if chain:
        registered = instance.get_dynamic_partitions(TICKERS_PARTITION)
        ok = [t for t in tickers if t not in failed]
        for group in contiguous_runs(registered, ok):
            outcomes.append(run_asof(job, instance, group, sessions[-1], chain))
    return outcomes


def run_asof(job, instance, tickers: list[str], day: dt.date, selection) -> RunOutcome:
    """One run of ``selection`` for partition ``day`` of every ticker in ``tickers``."""
    label = f"{','.join(tickers)} model chain as of {day}"
    return _ranged_run(job, instance, selection, range_tags(tickers, day), label)


def _ranged_run(job, instance, selection, tags: dict[str, str], label: str) -> RunOutcome:
    """One in-process run over the partition range in ``tags``."""
    result = job.execute_in_process(
        instance=instance,
        asset_selection=selection,
        tags={**tags, TRIGGER_TAG: "cli"},
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
    symbols = [check_symbol(t) for t in tickers]  # all rejected before any is added
    register_tickers(instance, symbols)
    days = backfill_days(settings, start, now or dt.datetime.now(dt.UTC))
    if not days:
        raise ValueError(f"no session between {start or settings.start_date} and now")
    graph = defs.resolve_asset_graph()
    submitted = []
    for ticker in dict.fromkeys(symbols):
        backfill = PartitionBackfill.from_asset_graph_subset(
            backfill_id=make_new_backfill_id(),
            backfill_timestamp=time.time(),
            tags={NEW_TICKER_TAG: ticker, TRIGGER_TAG: "cli"},
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
