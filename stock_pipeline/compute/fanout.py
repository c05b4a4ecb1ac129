"""A stage's (ticker, date) items fanned out to an engine: the warehouse is read (``load``)
and written (``store``) in the caller's process, the one writer DuckDB allows, and only
the pure part (``compute``: feature table in, frames out) is shipped, one call per ticker.

A ticker's dates go to one call, in order: they share the ticker's fold cache, so a later
date reuses the fold models an earlier one trained, as in a plain loop, and no two
workers ever write one fold's folder. Failures stay per ticker: an item whose load,
compute or store raises ``ValueError`` or ``OSError`` (bad data, too little history, a
locked file) is recorded for its ticker and the rest go on, as does a ticker whose worker
died or raised anything else on a cluster.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from stock_pipeline.compute.engine import Engine
from stock_pipeline.errors import error_text

J = TypeVar("J")  # what one item's compute needs (a feature table, the settings)
Out = TypeVar("Out")  # what it returns (frames to store)
R = TypeVar("R")  # what storing them returns (the stage's run record)

#: Failures of one item that leave the other items running (as ``defs.asset_bodies.per_item``).
ITEM_ERRORS = (ValueError, OSError)


@dataclass(frozen=True)
class Failed:
    """An item that failed; ``message`` is its exception's text with its causes
    (``errors.error_text``), made where it failed (on a worker, for a cluster)."""

    message: str


@dataclass(frozen=True)
class Stage(Generic[J, Out, R]):
    """``load(ticker, day)`` and ``store(output)`` run in the caller's process;
    ``compute(job)`` wherever the engine runs it, so it must be a module-level function."""

    load: Callable[[str, dt.date], J]
    compute: Callable[[J], Out]
    store: Callable[[Out], R]


def compute_dates(compute: Callable[[J], Out], jobs: Sequence[J | Failed]) -> list[Out | Failed]:
    """One ticker's items, in order (the call an engine runs)."""
    out: list[Out | Failed] = []
    for job in jobs:
        if isinstance(job, Failed):
            out.append(job)
            continue
        try:
            out.append(compute(job))
        except ITEM_ERRORS as exc:
            out.append(Failed(error_text(exc)))
    return out


def fan_out(
    engine: Engine, wanted: Mapping[str, Sequence[dt.date]], stage: Stage[J, Out, R]
) -> tuple[list[R], dict[str, str]]:
    """``stage`` for every (ticker, day) in ``wanted``: the stored results in ticker and
    day order, and ticker -> what failed (``"T d: message | ..."``)."""
    tickers = list(wanted)
    done: dict[tuple[int, int], R] = {}
    errors: dict[str, list[str]] = {}

    def fail(ticker: str, message: str) -> None:
        errors.setdefault(ticker, []).append(f"{ticker} {message}")

    def calls() -> Iterator[tuple[Any, ...]]:
        # a generator: the in-process engine loads a ticker only when it computes it
        for ticker in tickers:
            yield stage.compute, [_load(stage, ticker, d) for d in wanted[ticker]]

    for outcome in engine.map(compute_dates, calls()):
        ticker = tickers[outcome.index]
        days = wanted[ticker]
        if outcome.error is not None or outcome.value is None:
            fail(ticker, f"{days[0]}..{days[-1]}: {outcome.error}")
            continue
        for j, (day, result) in enumerate(zip(days, outcome.value, strict=True)):
            if isinstance(result, Failed):
                fail(ticker, f"{day}: {result.message}")
                continue
            try:
                done[(outcome.index, j)] = stage.store(result)
            except ITEM_ERRORS as exc:
                fail(ticker, f"{day}: {error_text(exc)}")
    failed = {t: " | ".join(errors[t]) for t in tickers if t in errors}
    return [done[key] for key in sorted(done)], failed


def _load(stage: Stage[J, Out, R], ticker: str, day: dt.date) -> J | Failed:
    try:
        return stage.load(ticker, day)
    except ITEM_ERRORS as exc:
        return Failed(error_text(exc))
