"""The DuckDB file: opening it, creating the schema, and the two transactional writes.

Every write is an upsert keyed by the table's primary key (``upsert_frame``) or a
replacement of one (ticker, as-of date) slice (``replace_asof``), each inside one
transaction: rematerializing a partition replaces its rows, never duplicates them,
and a failure rolls back to the rows that were there before.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import duckdb
import pandas as pd
import psutil

from stock_pipeline.warehouse.schema import TABLES

Connection = duckdb.DuckDBPyConnection

# How long an open waits for another process's lock: a step's write ends within seconds
# to a minute; an interactive reader (the CLI's summaries) passes a shorter wait.
LOCK_RETRY_SECONDS = 60.0
READER_LOCK_WAIT_SECONDS = 30.0
_FIRST_DELAY, _MAX_DELAY = 0.05, 1.0
_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")


class WarehouseLockedError(TimeoutError):
    """The warehouse file stayed locked by another process for the whole wait."""

    def __init__(self, path: Path, waited_s: float, duckdb_message: str):
        self.path = path
        super().__init__(
            f"the warehouse {path} is locked by another process ({_holder(duckdb_message)}) "
            f"and stayed locked for {waited_s:.0f} s: a pipeline step or another program is "
            "writing it; try again when it has finished"
        )


@contextmanager
def connect(
    path: Path | str, read_only: bool = False, lock_wait_s: float = LOCK_RETRY_SECONDS
) -> Iterator[Connection]:
    """Open the warehouse, creating the schema. Waits while another process holds the lock.

    DuckDB allows one writing process per file, and a reader cannot open it while a
    writer has it; Dagster pools serialize our own writers, and this wait (retries with
    a growing pause, up to ``lock_wait_s``) covers a step, a UI or a notebook that holds
    the file for a while. Past it, a ``WarehouseLockedError`` names the file and holder.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = _open_waiting(path, read_only, lock_wait_s)
    try:
        if not read_only:
            for ddl in TABLES.values():
                con.execute(ddl)
        yield con
    finally:
        con.close()


def _open_waiting(path: Path, read_only: bool, lock_wait_s: float) -> Connection:
    started = time.monotonic()
    delay = _FIRST_DELAY
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only and path.exists())
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            waited = time.monotonic() - started
            if waited >= lock_wait_s:
                raise WarehouseLockedError(path, waited, str(exc)) from exc
            time.sleep(min(delay, lock_wait_s - waited))
            delay = min(delay * 2, _MAX_DELAY)


def _holder(duckdb_message: str) -> str:
    """``PID 123: <its command line>`` from DuckDB's lock message, as far as it is known."""
    match = _HOLDER.search(duckdb_message)
    if match is None:
        return "unknown"
    pid = int(match["pid"])
    try:
        command = " ".join(" ".join(psutil.Process(pid).cmdline()).split())  # one line
    except (psutil.Error, OSError):
        command = match["program"]
    return f"PID {pid}: {command[:160] or match['program']}"


class Warehouse(Protocol):
    """Anything that opens the warehouse: ``WarehouseFile`` in a notebook, the
    ``DuckDBWarehouse`` resource in Dagster. Core functions that hold the file only
    briefly around long work (training) take one; the rest take an open connection."""

    def connect(self, read_only: bool = False) -> AbstractContextManager[Connection]: ...


@dataclass(frozen=True)
class WarehouseFile:
    """The warehouse at ``path``."""

    path: Path

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[Connection]:
        with connect(self.path, read_only=read_only) as con:
            yield con


def upsert_frame(con: Connection, table: str, frame: pd.DataFrame, key: Sequence[str]) -> int:
    """Insert or replace ``frame``'s rows in ``table`` atomically; returns rows written."""
    if frame.empty:
        return 0
    columns = list(frame.columns)
    missing = [k for k in key if k not in columns]
    if missing:
        raise ValueError(f"upsert into {table}: frame lacks key columns {missing}")
    with transaction(con):
        insert_frame(con, table, frame, or_replace=True)
    return len(frame)


def replace_asof(
    con: Connection, tables: dict[str, pd.DataFrame], ticker: str, asof: dt.date
) -> dict[str, int]:
    """Replace every row of (ticker, asof_date) in each table, all in one transaction."""
    written = {}
    with transaction(con):
        for table, frame in tables.items():
            con.execute(
                f"DELETE FROM {table} WHERE ticker = ? AND asof_date = ?", [ticker, asof]
            ).fetchall()
            if not frame.empty:
                insert_frame(con, table, frame)
            written[table] = len(frame)
    return written


def replace_table(con: Connection, table: str, frame: pd.DataFrame) -> int:
    """Replace the whole content of ``table`` with ``frame``, in one transaction."""
    with transaction(con):
        con.execute(f"DELETE FROM {table}").fetchall()
        if not frame.empty:
            insert_frame(con, table, frame)
    return len(frame)


@contextmanager
def transaction(con: Connection) -> Iterator[None]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def insert_frame(
    con: Connection, table: str, frame: pd.DataFrame, or_replace: bool = False
) -> None:
    """Insert ``frame``'s rows (inside the caller's transaction)."""
    con.register("_incoming", frame)
    try:
        cols = ", ".join(f'"{c}"' for c in frame.columns)
        verb = "INSERT OR REPLACE" if or_replace else "INSERT"
        # DuckDB 2 wants every result consumed before the next statement
        con.execute(f"{verb} INTO {table} ({cols}) SELECT {cols} FROM _incoming").fetchall()
    finally:
        con.unregister("_incoming")


def date_filter(
    start: dt.date | None, end: dt.date | None, column: str = "date"
) -> tuple[str, list[object]]:
    """`` AND column >= ? AND column <= ?`` for the bounds given, and their parameters."""
    clauses, params = [], []
    if start is not None:
        clauses.append(f"{column} >= ?")
        params.append(start)
    if end is not None:
        clauses.append(f"{column} <= ?")
        params.append(end)
    return "".join(f" AND {c}" for c in clauses), params


def dated(con: Connection, sql: str, params: Sequence[object]) -> pd.DataFrame:
    """Run a query whose ``date`` column comes back as a Timestamp column."""
    frame = con.execute(sql, list(params)).df()
    frame["date"] = pd.to_datetime(frame["date"])
    return frame
