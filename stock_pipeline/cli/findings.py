"""What a finished run found wrong with the data, read back from the instance: the rows a
source's bars were refused for (``raw_ohlcv``'s metadata) and the data checks that failed
(the run's asset-check evaluations). The CLI prints them under the run's line; a failed
check of severity ERROR makes its exit code non-zero."""

from __future__ import annotations

from dataclasses import dataclass, field

from dagster import AssetCheckSeverity, DagsterEventType, DagsterInstance

from stock_pipeline.defs.asset_bodies import FAILED_TICKERS
from stock_pipeline.defs.market_data import FRESHNESS_CHECK, REJECTED_BY_TICKER
from stock_pipeline.defs.market_data_checks import FAILING_TICKERS

_RAW_ASSET = "raw_ohlcv"


@dataclass(frozen=True)
class FailedCheck:
    name: str
    severity: AssetCheckSeverity
    tickers: tuple[str, ...]  # empty: the check named none

    @property
    def is_error(self) -> bool:
        return self.severity == AssetCheckSeverity.ERROR


@dataclass
class RunFindings:
    rejected: dict[str, tuple[int, str]] = field(default_factory=dict)  # ticker -> (rows, first)
    failed_checks: list[FailedCheck] = field(default_factory=list)

    def lines(self) -> list[str]:
        """One line per ticker with rejected rows or failed checks; then one per failed
        check that names no ticker."""
        tickers = list(self.rejected)
        tickers += [t for c in self.failed_checks for t in c.tickers if t not in tickers]
        lines = []
        for ticker in tickers:
            parts = []
            if ticker in self.rejected:
                rows, first = self.rejected[ticker]
                parts.append(f"{rows} row(s) rejected, first {first}")
            checks = [_named(c) for c in self.failed_checks if ticker in c.tickers]
            if checks:
                parts.append(f"failed check(s): {', '.join(checks)}")
            lines.append(f"{ticker}: {'; '.join(parts)}")
        lines += [f"failed check: {_named(c)}" for c in self.failed_checks if not c.tickers]
        return lines


def _named(check: FailedCheck) -> str:
    return check.name if check.is_error else f"{check.name} (warning)"


def run_findings(instance: DagsterInstance, run_id: str) -> RunFindings:
    """The rejected rows and failed data checks of the finished run ``run_id``."""
    return RunFindings(_rejected_rows(instance, run_id), _failed_checks(instance, run_id))


def _rejected_rows(instance: DagsterInstance, run_id: str) -> dict[str, tuple[int, str]]:
    """From ``raw_ohlcv``'s metadata: its first materialization (every partition of a
    ranged run carries the same), or its step's failure (some tickers failed)."""
    found: dict[str, tuple[int, str]] = {}
    kinds = {DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.STEP_FAILURE}
    cursor = None
    while True:  # a materialization per partition: stop at raw_ohlcv's first
        page = instance.get_records_for_run(run_id, cursor, of_type=kinds, limit=50)
        events = [r.event_log_entry.dagster_event for r in page.records]
        metadata = next((m for m in map(_raw_metadata, events) if m is not None), None)
        if metadata is not None or not page.has_more:
            break
        cursor = page.cursor
    value = metadata.get(REJECTED_BY_TICKER) if metadata is not None else None
    for ticker, rows in (value.value if value is not None else {}).items():
        found[ticker] = (int(rows["rows"]), str(rows["first"]))
    return found


def _raw_metadata(event) -> dict | None:
    if event is None:
        return None
    if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key.to_user_string() == _RAW_ASSET:
            return dict(materialization.metadata)
        return None
    failure = event.event_specific_data.user_failure_data
    if event.step_key == _RAW_ASSET and failure is not None and FAILED_TICKERS in failure.metadata:
        return dict(failure.metadata)
    return None


def _failed_checks(instance: DagsterInstance, run_id: str) -> list[FailedCheck]:
    """The run's failed data checks. The freshness check is left out: it compares the
    stored bars with today's due session, not what this run stored (a backfill of an
    old year is not stale data), and it has its own hourly job."""
    records = instance.get_records_for_run(
        run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    failed = []
    for record in records:
        evaluation = record.event_log_entry.dagster_event.asset_check_evaluation_data
        if evaluation.passed or evaluation.asset_check_key == FRESHNESS_CHECK:
            continue
        named = evaluation.metadata.get(FAILING_TICKERS)
        tickers = tuple(named.value) if named is not None else ()
        failed.append(FailedCheck(evaluation.check_name, evaluation.severity, tickers))
    return failed
