"""``add-ticker``: new tickers' data history queued on the instance for the daemon.

The history is queued as the watchlist sensor requests it (``data_run_request``): one
ranged run of ``market_data_job`` per group of new tickers registered next to each other
(normally one), with the same tags, so ``model_chain_after_data`` follows it with their
model chain and ``split_failed_runs`` re-runs it without a ticker that fails. An asset
backfill was used before; the backfill daemon launched one run per year (each paying a
process start, a code-location load and a turn of the DuckDB writer) after a 30 s poll,
which made 200 tickers x 10 years take 11 minutes where one run takes a few.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from dagster import DagsterEventType, DagsterInstance, DagsterRun, RunRequest, RunsFilter

from stock_pipeline.cli.findings import run_findings
from stock_pipeline.cli.launch import (
    TRIGGER_TAG,
    RunOutcome,
    newest_available,
    register_tickers,
    step_errors,
)
from stock_pipeline.defs._dagster_private import (
    SINGLETON_REPOSITORY_NAME,
    InProcessCodeLocationOrigin,
    InProcessWorkspaceLoadTarget,
    LoadableTargetOrigin,
    WorkspaceProcessContext,
)
from stock_pipeline.defs.partitions import (
    RANGE_END,
    RANGE_START,
    TICKERS_PARTITION,
    contiguous_runs,
    split_key,
)
from stock_pipeline.defs.run_requests import (
    NEW_TICKER_TAG,
    backfill_days,
    data_run_request,
    failed_tickers,
    new_ticker_chain,
    remaining_runs,
)
from stock_pipeline.market_data.watchlist import check_symbol
from stock_pipeline.settings import Settings

DEFINITIONS_MODULE = "stock_pipeline.definitions"
WITHOUT_FAILED_TAG = "stock_pipeline/without_failed_of"  # set by remaining_runs
# Dagster's tags on a failed run it retries (run_retries in dagster.yaml) and on the retry
WILL_RETRY_TAG, PARENT_RUN_ID_TAG = "dagster/will_retry", "dagster/parent_run_id"
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


@dataclass
class SubmittedHistory:
    tickers: list[str]
    run_ids: list[str]  # one queued data run per group of registry neighbours
    first: dt.date
    last: dt.date
    sessions: int
    chain_asof: dt.date | None  # the model chain follows the data, as of this session


def submit_history(
    instance: DagsterInstance,
    tickers: list[str],
    start: dt.date | None,
    settings: Settings,
    now: dt.datetime | None = None,
) -> tuple[SubmittedHistory | None, list[str]]:
    """Register new tickers and queue the data run(s) of their history for the daemon.

    Tickers already registered are left alone (their history was queued when they were
    registered, and the nightly run keeps it up to date): returns (what was queued, those
    tickers). Every symbol is checked before anything is registered.
    """
    symbols = list(dict.fromkeys(check_symbol(t) for t in tickers))
    known = set(instance.get_dynamic_partitions(TICKERS_PARTITION))
    already = [t for t in symbols if t in known]
    new = [t for t in symbols if t not in known]
    days = backfill_days(settings, start, now or dt.datetime.now(dt.UTC))
    if not days:
        raise ValueError(f"no session between {start or settings.history_start} and now")
    if not new:
        return None, already
    last = min((newest_available(settings, t) or days[-1] for t in new), default=days[-1])
    days = [d for d in days if d <= last]  # a finished history (sample, csv) ends earlier
    if not days:
        raise ValueError(f"{', '.join(new)}: no data between {start} and {last}")
    # the code location loads before anything is registered: a ticker registered without
    # its history queued would be "already registered" to the next add-ticker
    with RunQueue(instance, settings.automation.code_location) as queue:
        register_tickers(instance, new)
        registered = instance.get_dynamic_partitions(TICKERS_PARTITION)
        chain_asof = new_ticker_chain(days, settings)
        run_ids = [
            queue.submit(
                data_run_request(
                    group,
                    days[0],
                    days[-1],
                    chain_asof,
                    {NEW_TICKER_TAG: ",".join(group), TRIGGER_TAG: "cli"},
                )
            )
            for group in contiguous_runs(registered, new)
        ]
    return SubmittedHistory(new, run_ids, days[0], days[-1], len(days), chain_asof), already


class RunQueue:
    """Creates a request's run and submits it to the instance's run coordinator, as
    ``dagster job launch`` and the sensor daemon do.

    The code location is loaded in this process under the daemon's name for it, so the
    run records the origin the daemon launches it from, and sensors that watch this code
    location (``model_chain_after_data``, ``split_failed_runs``) see it as theirs.
    """

    def __init__(self, instance: DagsterInstance, location: str):
        origin = InProcessCodeLocationOrigin(
            LoadableTargetOrigin(executable_path=sys.executable, module_name=DEFINITIONS_MODULE),
            location_name=location,
        )
        self.instance, self.location = instance, location
        self._target = InProcessWorkspaceLoadTarget(origin)

    def __enter__(self) -> RunQueue:
        with warnings.catch_warnings():  # a load error is raised below, in one line
            warnings.simplefilter("ignore", UserWarning)
            self._process = WorkspaceProcessContext(self.instance, self._target)
        self._process.__enter__()
        self._workspace = self._process.create_request_context()
        try:
            self._code_location = self._workspace.get_code_location(self.location)
        except Exception as exc:  # Dagster's load error holds a whole traceback
            self._process.__exit__(None, None, None)
            first = str(exc).strip().splitlines()[0]
            raise ValueError(f"cannot load the code location to queue runs: {first}") from exc
        self._repo = self._code_location.get_repository(SINGLETON_REPOSITORY_NAME)
        return self

    def __exit__(self, *exc) -> None:
        self._process.__exit__(*exc)

    def submit(self, request: RunRequest) -> str:
        """Queue the request's run; returns its id."""
        run = _create_run(self.instance, self._code_location, self._repo, request)
        return self.instance.submit_run(run.run_id, self._workspace).run_id


def _create_run(instance, code_location, repo, request: RunRequest) -> DagsterRun:
    job = repo.get_full_job(request.job_name)
    plan = code_location.get_execution_plan(
        job, {}, step_keys_to_execute=None, known_state=None, instance=instance
    )
    return instance.create_run(
        job_name=job.name,
        run_id=None,
        run_config={},
        resolved_op_selection=None,
        step_keys_to_execute=None,
        status=None,
        op_selection=None,
        root_run_id=None,
        parent_run_id=None,
        tags={**(job.run_tags or {}), **request.tags},
        job_snapshot=job.job_snapshot,
        execution_plan_snapshot=plan.execution_plan_snapshot,
        parent_job_snapshot=job.parent_job_snapshot,
        remote_job_origin=job.get_remote_origin(),
        job_code_origin=job.get_python_origin(),
        asset_selection=None,
        asset_check_selection=None,
        asset_graph=repo.asset_graph,
    )


def wait_for_history(
    instance: DagsterInstance,
    run_ids: list[str],
    timeout_s: float,
    poll_s: float = 2.0,
    clock: Callable[[], float] = time.monotonic,
) -> list[RunOutcome]:
    """The outcome of each queued data run once it has finished, and of the runs that
    follow a failed one a daemon tick later: ``split_failed_runs``'s re-runs without the
    tickers it names, and the instance's automatic retry (whose outcome then stands for
    the run it retries). A TimeoutError names the runs still unfinished after
    ``timeout_s``."""
    deadline = clock() + timeout_s
    pending = {run_id: 0 for run_id in run_ids}  # run -> runs expected to follow it
    seen: set[str] = set()
    outcomes: list[RunOutcome] = []
    while pending:
        for run_id, followers in list(pending.items()):
            if followers:
                found = [r for r in _followers_of(instance, run_id) if r not in seen]
                if len(found) >= followers:
                    del pending[run_id]
                    pending.update(dict.fromkeys(found, 0))
                    seen.update(found)
                continue
            run = instance.get_run_by_id(run_id)
            retried = _will_retry(instance, run)
            if run.status.value not in FINISHED or retried is None:
                continue
            outcome = run_outcome(instance, run)
            if not retried:
                outcomes.append(outcome)
            del pending[run_id]
            expected = _expected_reruns(instance, run, outcome) + retried
            if expected:
                pending[run_id] = expected
        if pending and clock() > deadline:
            raise TimeoutError(f"not finished after {timeout_s:.0f} s: run(s) {sorted(pending)}")
        if pending:
            time.sleep(poll_s)
    return outcomes


def _will_retry(instance: DagsterInstance, run: DagsterRun) -> bool | None:
    """Whether the instance retries a failed run (None: not decided yet; Dagster tags the
    run just after marking it failed)."""
    if run.status.value != "FAILURE" or not instance.run_retries_enabled:
        return False
    decided = run.tags.get(WILL_RETRY_TAG)
    return None if decided is None else decided == "true"


def _followers_of(instance: DagsterInstance, run_id: str) -> list[str]:
    """Runs requested because ``run_id`` failed: re-runs without its failed tickers, and
    its retry."""
    found = []
    for tag in (WITHOUT_FAILED_TAG, PARENT_RUN_ID_TAG):
        found += [r.run_id for r in instance.get_runs(RunsFilter(tags={tag: run_id}))]
    return list(dict.fromkeys(found))


def _expected_reruns(instance: DagsterInstance, run: DagsterRun, outcome: RunOutcome) -> int:
    """How many runs ``split_failed_runs`` requests after ``run``: none unless it failed
    naming some tickers, and then one per group of the others."""
    if outcome.success or not outcome.failed_tickers:
        return 0
    registered = instance.get_dynamic_partitions(TICKERS_PARTITION)
    return len(remaining_runs(run, registered, outcome.failed_tickers))


def run_outcome(instance: DagsterInstance, run: DagsterRun) -> RunOutcome:
    """A finished run's outcome, with its failed tickers from the step failures' metadata."""
    kinds = {DagsterEventType.STEP_FAILURE, DagsterEventType.RUN_FAILURE}
    records = instance.get_records_for_run(run.run_id, of_type=kinds).records
    events = [r.event_log_entry.dagster_event for r in records]
    steps = [e for e in events if e.event_type == DagsterEventType.STEP_FAILURE]
    errors = step_errors(steps) or [e.message for e in events if e not in steps]
    (first, year), (last, last_year) = (
        split_key(run.tags[RANGE_START]),
        split_key(run.tags[RANGE_END]),
    )
    names = first if first == last else f"{first}..{last}"
    label = f"{names} data {year}..{last_year}"
    success = run.status.value == "SUCCESS"
    failed = {} if success else failed_tickers(steps) or {}
    findings = run_findings(instance, run.run_id)
    return RunOutcome(label, run.run_id, success, [] if success else errors, failed, findings)
