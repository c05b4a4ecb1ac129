"""Compute engines and the fan-out: the same results in process and on a real Dask
``LocalCluster`` of worker processes on loopback, and a ticker that fails on a worker
(an error, an unexpected exception, a worker that dies) fails alone."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from stock_pipeline.compute import Failed, InProcess, Stage, fan_out, open_engine
from stock_pipeline.compute.fanout import compute_dates
from stock_pipeline.settings import ComputeSettings, Settings

DAYS = [dt.date(2024, 1, 2), dt.date(2024, 1, 3)]


def square_or_fail(job: tuple[str, int]) -> tuple[str, int, int]:
    """The toy compute: shipped to workers by name, so it lives at module level."""
    ticker, n = job
    if ticker == "BAD":
        raise ValueError(f"no data for {ticker}")
    if ticker == "BUG":
        raise RuntimeError("a bug")
    if ticker == "DIE":
        os._exit(3)  # the worker process dies mid-task
    return ticker, n * n, os.getpid()


def toy_stage(stored: list) -> Stage:
    return Stage(
        load=lambda ticker, day: (ticker, day.day),
        compute=square_or_fail,
        store=lambda out: stored.append(out) or out[:2],
    )


def test_compute_dates_keeps_going_after_a_failed_date():
    assert compute_dates(square_or_fail, [("A", 2), Failed("x"), ("A", 3)]) == [
        ("A", 4, os.getpid()),
        Failed("x"),
        ("A", 9, os.getpid()),
    ]


def test_in_process_is_a_plain_loop_and_a_bug_still_propagates():
    stored: list = []
    done, errors = fan_out(InProcess(), {"A": DAYS, "BAD": DAYS, "C": DAYS[:1]}, toy_stage(stored))
    assert done == [("A", 4), ("A", 9), ("C", 4)]
    assert errors == {"BAD": f"BAD {DAYS[0]}: no data for BAD | BAD {DAYS[1]}: no data for BAD"}
    assert {pid for *_, pid in stored} == {os.getpid()}
    with pytest.raises(RuntimeError, match="a bug"):
        fan_out(InProcess(), {"BUG": DAYS}, toy_stage([]))


def test_a_ticker_failing_on_a_worker_does_not_take_the_others_down():
    import dask
    import distributed  # noqa: F401  (its defaults in dask's config before the set below)

    wanted = {t: DAYS for t in ("A", "BAD", "BUG", "E", "F")}
    stored: list = []
    # a dead worker's task is retried on another 3 times by default; once is enough here.
    # Set before distributed was imported, the set's exit deleted the whole "distributed"
    # section it had created, with the defaults distributed had put there meanwhile, and
    # every later cluster of the process failed (this worker's, in the other tests)
    once = dask.config.set({"distributed.scheduler.allowed-failures": 0})
    with once, open_engine(ComputeSettings(engine="local_cluster", workers=2)) as engine:
        done, errors = fan_out(engine, wanted, toy_stage(stored))
        # a worker that dies fails its ticker (and, by Dask's design, whatever else was
        # queued on it at that moment: so it runs alone here, which makes the test exact)
        # and the cluster goes on serving the next tickers
        _, died = fan_out(engine, {"DIE": DAYS}, toy_stage(stored))
        after, _ = fan_out(engine, {"G": DAYS}, toy_stage(stored))
    assert done == [(t, n) for t in ("A", "E", "F") for n in (4, 9)]  # in ticker, day order
    assert list(errors) == ["BAD", "BUG"]
    assert "no data for BAD" in errors["BAD"]
    assert errors["BUG"].startswith(f"BUG {DAYS[0]}..{DAYS[1]}: RuntimeError: a bug")
    assert list(died) == ["DIE"] and "KilledWorker" in died["DIE"]
    assert after == [("G", 4), ("G", 9)]
    assert os.getpid() not in {pid for *_, pid in stored}  # computed on the workers


def test_settings_name_the_engine_and_its_address():
    assert Settings().compute.engine == "in_process"
    with pytest.raises(ValueError, match=r"compute.address"):
        ComputeSettings(engine="address")
    with pytest.raises(ValueError, match=r"compute.address"):
        ComputeSettings(engine="local_cluster", address="tcp://127.0.0.1:8786")
    env = {"STOCK_PIPELINE_COMPUTE": "address", "STOCK_PIPELINE_COMPUTE_ADDRESS": "tcp://h:1"}
    compute = Settings.from_env(env).compute
    assert (compute.engine, compute.address) == ("address", "tcp://h:1")
