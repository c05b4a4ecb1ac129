"""Compute engines: ``InProcess`` (the default: each call in turn, in this process) and
``DaskEngine`` (calls shipped to Dask distributed workers: a ``LocalCluster`` of worker
processes on loopback, or a running scheduler's address).

An engine only maps a function over argument tuples. What it runs must be a module-level
function of picklable arguments (the worker imports it by name, so workers need this
package at the same version), and it must not write the warehouse: DuckDB allows one
writing process per file, which stays the caller's. Each process an engine computes in
(this one, or every worker) applies the backend's settings (``backend.configure``: the
compilation cache) before its first call.

Nothing secret leaves the caller: every call shipped to Dask is pickled here with each
pydantic secret (the Alpha Vantage key of the settings it carries) replaced by None, as a
worker computes models and needs no key; the worker unpickles and runs it.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import cloudpickle
from pydantic import SecretBytes, SecretStr

from stock_pipeline.settings import ComputeSettings

T = TypeVar("T")


@dataclass
class Outcome(Generic[T]):
    """The result of the ``index``-th call, or why the engine could not deliver it."""

    index: int
    value: T | None = None
    error: str | None = None  # the worker died, or the call raised on it


class Engine(Protocol):
    def map(self, fn: Callable[..., T], calls: Iterable[tuple[Any, ...]]) -> Iterator[Outcome[T]]:
        """``fn(*args)`` for each tuple of ``calls``, yielded as each finishes."""
        ...


class InProcess:
    """Each call in turn, in this process, when the caller asks for its outcome: the
    caller's work between two outcomes (writing one ticker's rows) happens before the next
    call starts, exactly as a plain loop. An exception propagates as it would there."""

    def map(self, fn: Callable[..., T], calls: Iterable[tuple[Any, ...]]) -> Iterator[Outcome[T]]:
        for index, args in enumerate(calls):
            yield Outcome(index, fn(*args))


class DaskEngine:
    """Calls submitted all at once to a ``distributed.Client``, yielded as they complete.

    A call that raises on its worker, or whose worker dies, is an ``Outcome`` with an
    error for that call only; the others go on. If the caller stops early, the calls
    still pending are cancelled."""

    def __init__(self, client: Any):
        self.client = client

    def map(self, fn: Callable[..., T], calls: Iterable[tuple[Any, ...]]) -> Iterator[Outcome[T]]:
        from distributed import as_completed

        # pure=False: two identical calls (a rerun) are two computations, not one cached
        futures = {
            self.client.submit(run_shipped, ship(fn, args), pure=False): i
            for i, args in enumerate(calls)
        }
        try:
            for future in as_completed(futures):
                try:
                    yield Outcome(futures[future], future.result())
                except Exception as exc:  # a worker's exception or its death: this call's
                    yield Outcome(futures[future], error=f"{type(exc).__name__}: {exc}")
                finally:
                    future.release()
        finally:
            self.client.cancel([f for f in futures if not f.done()])


def configure_backend(settings: ComputeSettings) -> None:
    """Apply ``settings`` to this process's backend (the compilation cache)."""
    from stock_pipeline import backend  # imports keras: only in a process that computes

    backend.configure(settings)


class _SecretFreePickler(cloudpickle.Pickler):
    """cloudpickle (what Dask ships calls with) that writes every secret as None."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, (SecretStr, SecretBytes)):
            return _no_secret, ()
        return super().reducer_override(obj)


def _no_secret() -> None:
    return None


def ship(fn: Callable[..., T], args: tuple[Any, ...]) -> bytes:
    """``fn(*args)`` pickled for a worker, its secrets left out."""
    buffer = io.BytesIO()
    _SecretFreePickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump((fn, args))
    return buffer.getvalue()


def run_shipped(payload: bytes) -> Any:
    """On the worker: the call ``ship`` pickled."""
    fn, args = pickle.loads(payload)
    return fn(*args)


class LazyEngine:
    """The configured engine, started on the first ``map`` (a run whose tickers all fail
    before any compute starts no cluster) and stopped by ``close``."""

    def __init__(self, settings: ComputeSettings):
        self.settings = settings
        self._engine: InProcess | DaskEngine | None = None
        self._closers: list[Callable[[], Any]] = []

    def map(self, fn: Callable[..., T], calls: Iterable[tuple[Any, ...]]) -> Iterator[Outcome[T]]:
        return self.engine.map(fn, calls)

    @property
    def engine(self) -> InProcess | DaskEngine:
        if self._engine is None:
            self._engine = self._start()
        return self._engine

    def _start(self) -> InProcess | DaskEngine:
        s = self.settings
        if s.engine == "in_process":
            configure_backend(s)  # this process computes: before its first compile
            return InProcess()
        from distributed import Client, LocalCluster

        if s.engine == "local_cluster":
            cluster = LocalCluster(
                n_workers=s.workers,
                threads_per_worker=s.threads_per_worker,
                processes=True,
                host="127.0.0.1",  # loopback only: nothing outside this machine connects
                # the scheduler's HTTP routes (health, metrics) start even without a
                # dashboard, on 8787 unless told: a free loopback port, no collisions
                dashboard_address="127.0.0.1:0",
            )
            self._closers.append(cluster.close)
            client = Client(cluster)
        else:
            client = Client(s.address)
        self._closers.insert(0, client.close)
        from stock_pipeline.compute.worker_setup import BackendSettings

        client.register_plugin(BackendSettings(s))  # workers that join later apply it too
        return DaskEngine(client)

    def close(self) -> None:
        while self._closers:
            self._closers.pop(0)()
        self._engine = None


@contextmanager
def open_engine(settings: ComputeSettings) -> Iterator[LazyEngine]:
    """The engine ``settings`` names, for the duration of the block (a local cluster is
    started on first use and closed at the end; a scheduler at an address is left running)."""
    engine = LazyEngine(settings)
    try:
        yield engine
    finally:
        engine.close()
