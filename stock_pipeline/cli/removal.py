"""``remove-ticker``: a ticker's partition key, stored rows, reports and cached models,
removed on request.

The symbol is not checked against the symbol rules: a ticker registered before them
(``..``, ``A/B``, a name with a control character) must be removable too. Its folders
are removed only when they are its own: under a reserved name (``universe``, ``..``)
the folder would be the product's own.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter

from stock_pipeline.defs.partitions import (
    PARTITION_TAG,
    RANGE_END,
    RANGE_START,
    TICKERS_PARTITION,
    split_key,
)
from stock_pipeline.defs.run_requests import range_tickers
from stock_pipeline.market_data.watchlist import RESERVED_SYMBOLS, watchlist_entries
from stock_pipeline.settings import Settings
from stock_pipeline.warehouse import connect
from stock_pipeline.warehouse.removal import delete_ticker_rows, ticker_row_counts


@dataclass
class TickerContents:
    """What the product holds for one ticker."""

    ticker: str
    registered: bool
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows of the ticker
    folders: list[Path] = field(default_factory=list)  # its reports and cached models

    def lines(self) -> list[str]:
        lines = []
        if self.registered:
            lines.append(
                f"the partition key {self.ticker!r} of the Dagster partitions "
                f"'{TICKERS_PARTITION}' (every asset's partitions of the ticker)"
            )
        lines += [f"{count} row(s) of the warehouse table {t}" for t, count in self.rows.items()]
        lines += [f"{folder} ({_file_count(folder)} file(s))" for folder in self.folders]
        return lines


def ticker_contents(instance: DagsterInstance, settings: Settings, ticker: str) -> TickerContents:
    """What ``remove_ticker`` would remove; a ValueError when the ticker is still on the
    watchlist (its sensor would register it again) or when nothing is held for it."""
    listed = {e.ticker for e in watchlist_entries(settings.watchlist_path)}
    if ticker in listed:
        raise ValueError(
            f"{ticker!r} is on the watchlist {settings.watchlist_path}: take it off there "
            "first, or the watchlist sensor registers it again and fetches its history"
        )
    registered = instance.get_dynamic_partitions(TICKERS_PARTITION)
    running = runs_covering(instance, ticker, registered)
    if running:
        raise ValueError(
            f"{ticker!r} is in run(s) not finished yet: {', '.join(running)}; they would "
            "store its rows again. Wait for them (or cancel them in the UI), then remove it"
        )
    rows = {}
    if settings.warehouse.exists():
        with connect(settings.warehouse, read_only=True) as con:
            rows = ticker_row_counts(con, ticker)
    contents = TickerContents(ticker, ticker in registered, rows, _own_folders(settings, ticker))
    if not contents.lines():
        same = [t for t in registered if t.lower() == ticker.lower()]
        hint = f"; did you mean {' or '.join(map(repr, same))}?" if same else ""
        raise ValueError(f"{ticker!r} is not registered and nothing is stored for it{hint}")
    return contents


def remove_ticker(
    instance: DagsterInstance, settings: Settings, contents: TickerContents
) -> list[str]:
    """Remove what ``contents`` lists: the rows first (one transaction), then the partition
    key, then the folders, so that a failure part way leaves a state the same command
    finishes. Returns a line per thing removed."""
    rows = {}
    if contents.rows:
        with connect(settings.warehouse) as con:
            rows = delete_ticker_rows(con, contents.ticker)
    if contents.registered:
        instance.delete_dynamic_partition(TICKERS_PARTITION, contents.ticker)
    removed = TickerContents(contents.ticker, contents.registered, rows, contents.folders)
    lines = removed.lines()  # before the folders go: the lines count their files
    for folder in contents.folders:
        shutil.rmtree(folder)
    return lines


#: Runs that may still write a ticker's rows.
UNFINISHED = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]


def runs_covering(instance: DagsterInstance, ticker: str, registered: list[str]) -> list[str]:
    """Ids of the unfinished runs whose partitions include ``ticker``."""
    return [
        run.run_id
        for run in instance.get_runs(filters=RunsFilter(statuses=UNFINISHED))
        if ticker in _run_tickers(run, registered)
    ]


def _run_tickers(run: DagsterRun, registered: list[str]) -> list[str]:
    """The tickers of a run's partition (``dagster/partition``) or partition range (the
    registered tickers from the range's first to its last, as Dagster orders them)."""
    tags = run.tags
    if PARTITION_TAG in tags and "|" in tags[PARTITION_TAG]:
        return [split_key(tags[PARTITION_TAG])[0]]
    if RANGE_START not in tags or RANGE_END not in tags:
        return []
    ends = [split_key(tags[key])[0] for key in (RANGE_START, RANGE_END)]
    if not set(ends) <= set(registered):  # an end removed already: the range is unknown
        return ends
    return range_tickers(tags, registered)


def _own_folders(settings: Settings, ticker: str) -> list[Path]:
    """The ticker's report and model folders that exist and are its own."""
    folders = []
    for base, folder in (
        (settings.reports_dir, settings.ticker_reports_dir(ticker)),
        (settings.models_dir, settings.ticker_models_dir(ticker)),
    ):
        # ``.`` collapses to ``base`` itself and ``..`` is its parent; ``universe`` is
        # the pooled model's
        if folder.parent != base or folder.name.lower() in RESERVED_SYMBOLS:
            continue
        if folder.is_dir() and not folder.is_symlink():
            folders.append(folder)
    return folders


def _file_count(folder: Path) -> int:
    return sum(1 for path in folder.rglob("*") if path.is_file())
