"""Submitting work to a Dagster instance from Python: what the CLI (and benchmarks) call.

Runs go through the instance in ``DAGSTER_HOME`` so they show up in the UI exactly like
runs launched there, with the same asset code.
"""

from __future__ import annotations

import datetime as dt
import sys
import uuid
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from dagster import AssetKey, DagsterInstance, Definitions

from stock_pipeline.cli.findings import RunFindings, run_findings

# re-exported: the commands and the benchmarks open the instance through this module
from stock_pipeline.cli.instance import dagster_home, open_instance  # noqa: F401
from stock_pipeline.cli.progress import NoProgress
from stock_pipeline.cli.slot_wait import SlotWatch
from stock_pipeline.defs.asset_bodies import DATA_ASSETS
from stock_pipeline.defs.market_data import FRESHNESS_CHECK
from stock_pipeline.defs.partitions import (
    PARTITION_TAG,
    TICKERS_PARTITION,
    contiguous_runs,
    range_tags,
)
from stock_pipeline.defs.run_health import owner_tags, sweep_dead_runs
from stock_pipeline.defs.run_requests import data_tags, failed_tickers
from stock_pipeline.defs.universe import UNIVERSE_ASSETS
from stock_pipeline.errors import error_info_text
from stock_pipeline.market_data.calendar import next_session, trading_days
from stock_pipeline.market_data.watchlist import check_symbol
from stock_pipeline.settings import Settings


def logging_config(verbose: bool) -> dict:
    """Dagster's console log in-process: everything with ``--verbose``; otherwise nothing
    (a failed step's stack trace would bury the one-line summary the CLI prints)."""
    level = "DEBUG" if verbose else "CRITICAL"
    return {"loggers": {"console": {"config": {"log_level": level}}}}


@dataclass
class Execution:
    """How runs are executed in this process: progress display and Dagster's console log."""

    progress: Any = field(default_factory=NoProgress)
    verbose: bool = False


TRIGGER_TAG = "stock_pipeline/trigger"


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
    failed_tickers: dict[str, str] = field(default_factory=dict)  # empty: none named
    findings: RunFindings = field(default_factory=RunFindings)  # rejected rows, failed checks


def step_errors(events) -> list[str]:
    """One line per failed step: the user code's own message, without Dagster's wrapping."""
    errors = []
    for event in events:
        if event.event_type_value == "STEP_FAILURE":
            data = event.event_specific_data
            if data.user_failure_data is not None and data.user_failure_data.description:
                errors.append(f"{event.step_key}: {data.user_failure_data.description}")
                continue
            # the user code's error with the causes it was raised from, not Dagster's wrapping
            message = error_info_text(data.error) if data.error else ""
            errors.append(f"{event.step_key}: {message or event.message}")
    return errors


def resolve_selection(defs: Definitions, select: str) -> list[str]:
    """The named assets; ``*`` is the per-ticker lineage (the pooled universe model is
    trained over every registered ticker, so it runs only when named)."""
    known = [key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()]
    if select.strip() == "*":
        return [name for name in known if name not in UNIVERSE_ASSETS]
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
    execution: Execution | None = None,
    today: dt.date | None = None,
) -> list[RunOutcome]:
    """Materialize ``select`` for ``tickers``: the data assets over the years of
    start..end (up to end), then the model chain as of ``end``, then the universe
    assets as of ``end`` over every registered ticker (one run of one date partition).

    Each is one run per group of tickers registered next to each other (one provider
    request per batch of tickers, one JAX import for the chain), like the nightly runs. A
    run that fails for some tickers is run again without them, so the others complete;
    the failed ones are named in the outcomes. ``--end`` may be at most the session after
    ``today`` (the exchange-local date; default: the clock's).
    """
    sessions = _check_range(start, end, settings, today)
    names = resolve_selection(defs, select)
    data = [AssetKey(n) for n in names if n in DATA_ASSETS]
    universe = [AssetKey(n) for n in names if n in UNIVERSE_ASSETS]
    chain = [AssetKey(n) for n in names if n not in (*DATA_ASSETS, *UNIVERSE_ASSETS)]
    if (chain or universe) and sessions[-1] < settings.start_date:
        raise ValueError(
            f"--end {end}: the model chain's first as-of date partition is "
            f"{settings.start_date} (set STOCK_PIPELINE_START to go further back)"
        )
    notify(sweep_dead_runs(instance))
    register_tickers(instance, tickers)
    registered = instance.get_dynamic_partitions(TICKERS_PARTITION)
    slot_wait = settings.automation.slot_wait_timeout_s
    runner = _Runner(defs, instance, registered, execution or Execution(), slot_wait)
    ok = list(dict.fromkeys(tickers))
    if data:
        label = f"data {sessions[0].year}..{sessions[-1].year}"
        tags = lambda group: data_tags(group, sessions[0], sessions[-1], None)  # noqa: E731
        ok = runner.until_done(data, ok, tags, label)
    if chain:
        tags = lambda group: range_tags(group, sessions[-1])  # noqa: E731
        runner.until_done(chain, ok, tags, f"model chain as of {sessions[-1]}")
    if universe:
        day = sessions[-1].isoformat()
        label = f"universe ({len(registered)} registered tickers) as of {day}"
        runner.outcomes.append(runner.run(universe, {PARTITION_TAG: day}, label))
    return runner.outcomes


def _check_range(
    start: dt.date, end: dt.date, settings: Settings, today: dt.date | None = None
) -> list[dt.date]:
    today = today or dt.datetime.now(ZoneInfo(settings.exchange_timezone)).date()
    last = next_session(today, 1, settings.exchange)
    if end > last:
        raise ValueError(
            f"--end {end} is in the future: the last allowed --end is {last}, the next "
            f"{settings.exchange} session (no bar can exist after it)"
        )
    if start < settings.history_start:
        raise ValueError(
            f"--start {start} is before the first year of data partitions "
            f"{settings.history_start.year} (set STOCK_PIPELINE_HISTORY_START to go further back)"
        )
    sessions = trading_days(start, end, settings.exchange)
    if not sessions:
        raise ValueError(f"no trading day between {start} and {end}")
    return sessions


def notify(swept: list[str]) -> None:
    """Say which runs of dead processes were failed (on stderr: stdout is the summary)."""
    for line in swept:
        print(f"stock-pipeline: {line} (its process is gone)", file=sys.stderr, flush=True)


class _Runner:
    """Runs in this process, in registry-adjacent groups; a run that fails naming some
    tickers is run again without them. A run carries this process's identity (see
    ``defs.run_health``) and its wait for a pool slot is bounded (``SlotWatch``)."""

    def __init__(
        self,
        defs: Definitions,
        instance,
        registered: list[str],
        execution: Execution,
        slot_wait_timeout_s: float,
    ):
        self.job = defs.resolve_implicit_global_asset_job_def()
        self.slot_wait_timeout_s = slot_wait_timeout_s
        self.checks = defs.resolve_asset_graph().asset_check_keys
        self.instance, self.registered, self.execution = instance, registered, execution
        self.outcomes: list[RunOutcome] = []

    def until_done(self, selection, tickers, tags, label) -> list[str]:
        """Returns the tickers that succeeded."""
        pending, failed = list(tickers), {}
        while pending:
            groups = contiguous_runs(self.registered, pending)
            pending = []
            for group in groups:
                outcome = self.run(selection, tags(group), f"{short_names(group)} {label}")
                self.outcomes.append(outcome)
                if outcome.success:
                    continue
                if not outcome.failed_tickers:  # nothing names the culprits: all failed
                    failed.update(dict.fromkeys(group, "; ".join(outcome.errors)))
                    continue
                failed.update(outcome.failed_tickers)
                pending += [t for t in group if t not in outcome.failed_tickers]
        return [t for t in tickers if t not in failed]

    def run(self, selection, tags: dict[str, str], label: str) -> RunOutcome:
        """One in-process run over the partition range in ``tags``."""
        steps = len(selection) + sum(
            c.asset_key in selection and c != FRESHNESS_CHECK for c in self.checks
        )
        run_id = str(uuid.uuid4())
        with (
            self.execution.progress.run(self.instance, run_id, label, steps),
            SlotWatch(self.instance, run_id, self.slot_wait_timeout_s) as watch,
        ):
            result = self.job.execute_in_process(
                instance=self.instance,
                asset_selection=selection,
                tags={**tags, TRIGGER_TAG: "cli", **owner_tags()},
                run_config=logging_config(self.execution.verbose),
                raise_on_error=False,
                run_id=run_id,
            )
        notify(watch.swept)
        watch.raise_if_stopped()
        events = result.all_events
        failed = failed_tickers(events) or {}
        findings = run_findings(self.instance, result.run_id)
        return RunOutcome(
            label, result.run_id, result.success, step_errors(events), failed, findings
        )


def short_names(group: list[str]) -> str:
    return ",".join(group) if len(group) <= 4 else f"{group[0]}..{group[-1]} ({len(group)})"


def newest_available(settings: Settings, ticker: str) -> dt.date | None:
    """For a source that is not live (the sample, csv files), the ticker's newest bar, or a
    ValueError saying it has none; None for a live source (it has today's)."""
    from stock_pipeline.market_data.sources import serving_sources

    (served,) = serving_sources(settings, [ticker])
    if served.live:
        return None
    source = served.open()
    newest = source.newest_bar(ticker)
    if newest is None:
        raise ValueError(
            f"{ticker}: the {source.name} source has no data for it ({source.describe()})"
        )
    return newest
