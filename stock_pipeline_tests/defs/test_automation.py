"""Schedule, sensors and freshness decisions, with Dagster's test contexts."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from dagster import (
    DagsterRunStatus,
    SkipReason,
    build_schedule_context,
    build_sensor_context,
    instance_for_test,
)

from stock_pipeline.cli import queued
from stock_pipeline.definitions import build_definitions
from stock_pipeline.defs import automation, run_requests
from stock_pipeline.defs.asset_bodies import ASOF_TAG
from stock_pipeline.defs.run_requests import backfill_days
from stock_pipeline.market_data.calendar import latest_due_session
from stock_pipeline.market_data.watchlist import load_watchlist

NY = ZoneInfo("America/New_York")
START, END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
CHAIN_FROM = run_requests.CHAIN_FROM_TAG
NEW_TICKER = run_requests.NEW_TICKER_TAG


@pytest.fixture
def setup(settings):
    watchlist = settings.watchlist_path
    defs = build_definitions(settings)
    with instance_for_test() as instance:  # schedule/sensor contexts need an instance ref
        yield settings, defs, instance, watchlist


def _schedule(defs, instance, when: dt.datetime):
    nightly = defs.resolve_schedule_def("nightly_refresh")
    with build_schedule_context(instance=instance, scheduled_execution_time=when) as ctx:
        return nightly.evaluate_tick(ctx)


def test_nightly_covers_watched_tickers_in_contiguous_runs(setup) -> None:
    _, defs, instance, watchlist = setup
    instance.add_dynamic_partitions("tickers", ["AAA", "BBB", "OLD", "CCC", "DDD"])
    watchlist.write_text("tickers: [AAA, BBB, CCC, DDD]\n")  # OLD was removed
    result = _schedule(defs, instance, dt.datetime(2026, 11, 24, 18, 30, tzinfo=NY))
    ranges = [(r.tags[START], r.tags[END]) for r in result.run_requests]
    # the data runs: this year's partition of each group of registry neighbours...
    assert ranges == [("2026|AAA", "2026|BBB"), ("2026|CCC", "2026|DDD")]
    assert {r.job_name for r in result.run_requests} == {"market_data_job"}
    assert {r.tags[ASOF_TAG] for r in result.run_requests} == {"2026-11-24"}
    # ...each followed, when it succeeds, by the model chain of its tickers for the night
    first = result.run_requests[0]
    chain = run_requests.chain_tags(first.tags, "run-1")
    assert (chain[START], chain[END]) == ("2026-11-24|AAA", "2026-11-24|BBB")
    assert chain["stock_pipeline/nightly"] == "2026-11-24"
    assert run_requests.chain_tags({**first.tags, CHAIN_FROM: "2026-11-20"}, "r")[START] == (
        "2026-11-20|AAA"  # a catch-up: every missed session of the chain
    )


def test_nightly_skips_exchange_holidays(setup) -> None:
    _, defs, instance, watchlist = setup
    instance.add_dynamic_partitions("tickers", ["AAA"])
    watchlist.write_text("tickers: [AAA]\n")
    result = _schedule(defs, instance, dt.datetime(2026, 11, 26, 18, 30, tzinfo=NY))
    assert not result.run_requests and "not a XNYS session" in result.skip_message


def test_nightly_schedule_fires_after_the_close_on_weekdays(setup) -> None:
    _, defs, _, _ = setup
    nightly = defs.resolve_schedule_def("nightly_refresh")
    assert nightly.cron_schedule == "30 18 * * 1-5"
    assert nightly.execution_timezone == "America/New_York"


def test_watchlist_sensor_registers_and_backfills_new_tickers(setup, monkeypatch) -> None:
    _, defs, instance, watchlist = setup
    instance.add_dynamic_partitions("tickers", ["AAA"])
    watchlist.write_text(
        "tickers:\n  - AAA\n  - ticker: BRK-B\n    start: 2026-10-01\n  - ticker: BF.B\n"
    )
    sensor = defs.resolve_sensor_def("watchlist_sensor")
    now = dt.datetime(2026, 11, 25, 21, 0, tzinfo=NY)  # after 16:00 + 4 h: today is due
    ctx = build_sensor_context(
        instance=instance, repository_def=defs.get_repository_def(), sensor_name="watchlist_sensor"
    )
    monkeypatch.setattr(automation, "utc_now", lambda: now)
    # evaluated as the daemon does: a run request must name a job the sensor targets
    result = sensor.evaluate_tick(ctx)
    (add,) = result.dynamic_partitions_requests
    assert list(add.partition_keys) == ["BRK-B", "BF.B"]
    by_ticker = {r.tags["stock_pipeline/new_ticker"]: r for r in result.run_requests}
    brk, bf = by_ticker["BRK-B"], by_ticker["BF.B"]
    assert brk.job_name == bf.job_name == "market_data_job"
    assert (brk.tags[START], brk.tags[END]) == ("2026|BRK-B", "2026|BRK-B")
    # no start given: the whole history from STOCK_PIPELINE_HISTORY_START
    assert (bf.tags[START], bf.tags[END]) == ("2000|BF.B", "2026|BF.B")
    # then the model chain only for the latest due session
    assert brk.tags[ASOF_TAG] == brk.tags[CHAIN_FROM] == "2026-11-25"


def test_watchlist_sensor_reports_a_bad_file_without_registering(setup) -> None:
    _, defs, instance, watchlist = setup
    watchlist.write_text("tickers:\n  - GOOD\n  - [unclosed\n")  # not YAML at all
    sensor = defs.resolve_sensor_def("watchlist_sensor")
    ctx = build_sensor_context(instance=instance, repository_def=defs.get_repository_def())
    result = sensor(ctx)
    assert isinstance(result, SkipReason) and "cannot read" in result.skip_message
    assert str(watchlist) in result.skip_message
    assert instance.get_dynamic_partitions("tickers") == []
    # one bad entry: skipped by name, and the good one goes on
    watchlist.write_text("tickers:\n  - GOOD\n  - 'BAD|ONE'\n")
    result = sensor(ctx)
    (add,) = result.dynamic_partitions_requests
    assert list(add.partition_keys) == ["GOOD"]


def test_a_run_that_failed_for_some_tickers_is_run_again_without_them(setup) -> None:
    _, defs, instance, _ = setup
    instance.add_dynamic_partitions("tickers", ["AAA", "BBB", "CCC", "DDD"])
    job = defs.resolve_job_def("market_data_job")
    tags = {START: "2026|AAA", END: "2026|DDD", ASOF_TAG: "2026-11-24", CHAIN_FROM: "2026-11-24"}
    run = instance.create_run_for_job(job, tags=tags)
    failed = {"BBB": "BBB: no bars", "DDD": "DDD: no file"}
    registered = instance.get_dynamic_partitions("tickers")
    requests = run_requests.remaining_runs(run, registered, failed)
    assert [(r.tags[START], r.tags[END]) for r in requests] == [
        ("2026|AAA", "2026|AAA"),
        ("2026|CCC", "2026|CCC"),
    ]
    for request in requests:  # still followed by their model chain
        assert request.tags[CHAIN_FROM] == "2026-11-24" and request.job_name == "market_data_job"
        assert request.tags["stock_pipeline/without_failed_of"] == run.run_id


def test_failed_tickers_are_read_from_the_step_failures(settings) -> None:
    from dagster import DagsterInstance

    from stock_pipeline_tests.support.synthetic import synthetic_bars, write_csv

    csv = settings.data_dir.parent / "csv"
    write_csv(csv, "AAA", synthetic_bars(30, seed=1))
    csv_settings = settings.with_changes(source={"name": "csv", "csv_dir": csv})
    defs, instance = build_definitions(csv_settings), DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("tickers", ["AAA", "NOPE"])
    result = defs.resolve_job_def("market_data_job").execute_in_process(
        instance=instance,
        tags={START: "2016|AAA", END: "2016|NOPE", ASOF_TAG: "2016-02-16"},
        raise_on_error=False,
    )
    assert not result.success
    failed = run_requests.failed_tickers(result.all_events)
    assert list(failed) == ["NOPE"] and "NOPE.csv" in failed["NOPE"]


def test_add_ticker_wait_follows_a_failed_run_to_the_rerun_of_the_others(settings, capsys) -> None:
    from dagster import DagsterInstance

    from stock_pipeline.cli import commands
    from stock_pipeline_tests.support.synthetic import synthetic_bars, write_csv

    csv = settings.data_dir.parent / "csv"
    write_csv(csv, "AAA", synthetic_bars(30, seed=1))
    csv_settings = settings.with_changes(source={"name": "csv", "csv_dir": csv})
    job = build_definitions(csv_settings).resolve_job_def("market_data_job")
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("tickers", ["AAA", "NOPE"])
    tags = {START: "2016|AAA", END: "2016|NOPE", ASOF_TAG: "2016-02-16"}
    first = job.execute_in_process(instance=instance, tags=tags, raise_on_error=False)
    # what split_failed_runs requests a sensor tick later: the run without NOPE
    rerun = {**tags, END: "2016|AAA", queued.WITHOUT_FAILED_TAG: first.run_id}
    second = job.execute_in_process(instance=instance, tags=rerun, raise_on_error=False)
    outcomes = queued.wait_for_history(instance, [first.run_id], timeout_s=30, poll_s=0.01)
    assert [(o.run_id, o.success) for o in outcomes] == [
        (first.run_id, False),
        (second.run_id, True),
    ]
    assert list(outcomes[0].failed_tickers) == ["NOPE"]
    sub = queued.SubmittedHistory(
        ["AAA", "NOPE"], [first.run_id], dt.date(2016, 1, 4), dt.date(2016, 2, 16), 30, None
    )
    assert commands.print_outcomes(outcomes, commands._rerun_args(sub)) == 1
    out = capsys.readouterr().out
    assert "NOPE: " in out and "NOPE.csv" in out
    assert (
        "re-run only them: stock-pipeline materialize --tickers NOPE --start 2016-01-04 "
        "--end 2016-02-16 --select raw_ohlcv,indicators"
    ) in out


def test_add_ticker_wait_reports_the_retry_of_a_run_the_instance_retries(settings) -> None:
    csv_settings = settings.with_changes(
        source={"name": "csv", "csv_dir": settings.data_dir.parent / "csv"}
    )
    job = build_definitions(csv_settings).resolve_job_def("market_data_job")
    with instance_for_test(overrides={"run_retries": {"enabled": True, "max_retries": 1}}) as inst:
        inst.add_dynamic_partitions("tickers", ["NOPE"])
        tags = {START: "2016|NOPE", END: "2016|NOPE", ASOF_TAG: "2016-02-16"}
        first = job.execute_in_process(instance=inst, tags=tags, raise_on_error=False)
        assert inst.get_run_by_id(first.run_id).tags["dagster/will_retry"] == "true"
        # what the daemon's retry launches: the last one allowed, so it is not retried
        retry = {**tags, "dagster/parent_run_id": first.run_id}
        second = job.execute_in_process(instance=inst, tags=retry, raise_on_error=False)
        inst.add_run_tags(second.run_id, {"dagster/will_retry": "false"})  # as Dagster decides
        outcomes = queued.wait_for_history(inst, [first.run_id], timeout_s=30, poll_s=0.01)
    # the retry's outcome stands for the run it retried
    assert [(o.run_id, list(o.failed_tickers)) for o in outcomes] == [(second.run_id, ["NOPE"])]


def test_add_ticker_wait_gives_up_naming_the_runs_left(setup) -> None:
    _, defs, instance, _ = setup
    run = instance.create_run_for_job(defs.resolve_job_def("market_data_job"))  # never runs
    ticks = iter([0.0, 1.0, 99.0])
    with pytest.raises(TimeoutError, match=run.run_id):
        queued.wait_for_history(instance, [run.run_id], 10, 0.0, clock=lambda: next(ticks))


def test_latest_due_session_respects_the_refresh_window() -> None:
    close = dt.time(16, 0)
    assert latest_due_session(dt.datetime(2026, 11, 25, 19, 59), close, 4) == dt.date(2026, 11, 24)
    assert latest_due_session(dt.datetime(2026, 11, 25, 20, 0), close, 4) == dt.date(2026, 11, 25)
    # Thanksgiving and the weekend after it: Wednesday stays the newest due session
    assert latest_due_session(dt.datetime(2026, 11, 26, 23, 0), close, 4) == dt.date(2026, 11, 25)


def test_add_ticker_queues_one_data_run_and_never_twice(setup) -> None:
    settings, _, instance, _ = setup
    settings = settings.with_changes(source={"name": "yfinance"})  # live: nothing fetched now
    now = dt.datetime(2026, 11, 25, 21, 0, tzinfo=NY)
    sub, already = queued.submit_history(
        instance, ["BRK-B", "BF.B", "BRK-B"], dt.date(2025, 9, 1), settings, now
    )
    assert instance.get_dynamic_partitions("tickers") == ["BRK-B", "BF.B"] and not already
    (run,) = instance.get_runs()
    assert sub.run_ids == [run.run_id] and run.status == DagsterRunStatus.QUEUED
    # the run the watchlist sensor requests for the same tickers: one range over both
    # tickers and every year, the same tags, so the model chain follows it
    days = backfill_days(settings, dt.date(2025, 9, 1), now)
    assert sub.sessions == len(days)
    request = run_requests.data_run_request(
        ["BRK-B", "BF.B"], days[0], days[-1], days[-1], {NEW_TICKER: "BRK-B,BF.B"}
    )
    assert run.job_name == request.job_name == "market_data_job"
    assert request.tags.items() <= run.tags.items()
    assert (run.tags[START], run.tags[END]) == ("2025|BRK-B", "2026|BF.B")
    chain = run_requests.chain_tags(run.tags, run.run_id)
    assert (chain[START], chain[END]) == ("2026-11-25|BRK-B", "2026-11-25|BF.B")
    # queued for the daemon's code location, whose sensors then see the run as theirs
    assert run.remote_job_origin.location_name == "stock_pipeline"
    assert run.remote_job_origin.repository_origin.repository_name == "__repository__"
    again, already = queued.submit_history(instance, ["BRK-B"], None, settings, now)
    assert again is None and already == ["BRK-B"] and len(instance.get_runs()) == 1
    with pytest.raises(ValueError, match=r"'\['"):
        queued.submit_history(instance, ["X[1]"], None, settings, now)
    assert instance.get_dynamic_partitions("tickers") == ["BRK-B", "BF.B"]


def test_add_ticker_registers_nothing_when_it_cannot_queue(setup, monkeypatch) -> None:
    settings, _, instance, _ = setup
    settings = settings.with_changes(source={"name": "yfinance"})
    monkeypatch.setattr(queued, "DEFINITIONS_MODULE", "stock_pipeline.no_such_module")
    with pytest.raises(ValueError, match="cannot load the code location"):
        queued.submit_history(instance, ["AAA"], None, settings)
    # registered without its history queued, the next add-ticker would skip it
    assert instance.get_dynamic_partitions("tickers") == [] and not instance.get_runs()


def test_watchlist_file_errors_name_the_entry(tmp_path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text("tickers:\n  - ticker: AAA\n    source: nope\n")
    with pytest.raises(ValueError, match=r"entry 1 \('AAA'\): unknown source 'nope'"):
        load_watchlist(path)
    path.write_text("tickers:\n  - ticker: AAA\n    start: 2020-02-30\n")
    with pytest.raises(
        ValueError, match=r"w.yaml: entry 1 \('AAA'\): start '2020-02-30' .*day is out of range"
    ):
        load_watchlist(path)
    # a misspelt key would have fetched from the default start, or watched nothing
    path.write_text("tickers:\n  - ticker: AAA\n    strat: 2020-02-03\n")
    with pytest.raises(
        ValueError, match=r"entry 1 \('AAA'\): unknown key 'strat'; did you mean 'start'\?"
    ):
        load_watchlist(path)
    path.write_text("tickers: [AAA]\ntickrs: [BBB]\n")
    with pytest.raises(ValueError, match=r"w.yaml: unknown key 'tickrs'; did you mean 'tickers'\?"):
        load_watchlist(path)


def test_data_job_runs_the_data_checks_but_not_the_hourly_freshness_check(setup) -> None:
    _, defs, _, _ = setup
    job = defs.resolve_job_def("market_data_job")
    checks = {k.name for k in job.asset_layer.asset_graph.asset_check_keys}
    assert checks == {
        "ohlc_sanity",
        "ohlcv_unique_dates",
        "ohlcv_no_gaps",
        "indicators_finite_after_warmup",
    }
    assert "raw_ohlcv_fresh" in {k.name for k in defs.resolve_asset_graph().asset_check_keys}


def test_data_checks_are_not_partitioned(setup) -> None:
    # Dagster records a partitioned check's result of a ranged run for no partition: every
    # partition it planned would stay "Skipped" in the UI (and planning them is slow).
    _, defs, _, _ = setup
    specs = [spec for checks in defs.asset_checks for spec in checks.check_specs]
    data_checks = [s for s in specs if s.name != "raw_ohlcv_fresh"]
    assert len(data_checks) == 4
    for spec in data_checks:
        assert spec.partitions_def is None, spec.name


def test_catch_up_beyond_its_limit_names_a_command_that_covers_the_rest(settings) -> None:
    """Nights missed beyond ``max_catch_up_sessions``: the nightly run covers the last ones
    and the warning gives the command for the others, quoted as a shell reads it back."""
    import shlex

    from stock_pipeline.market_data.calendar import trading_days
    from stock_pipeline.warehouse import connect

    days = trading_days(dt.date(2024, 3, 1), dt.date(2024, 3, 28))  # 19 sessions (Good Friday)
    with connect(settings.warehouse) as con:
        con.execute(
            "INSERT INTO forecasts VALUES (?, ?, ?, 'return', 0.0, 'v')",
            ["^GSPC", days[0], days[1]],
        )
    limit = settings.automation.max_catch_up_sessions
    warnings: list[str] = []

    class Log:
        warning = warnings.append

    first = run_requests.catch_up_days(days[-1], ["^GSPC", "NEW"], settings, Log)
    missed = days[1:]
    assert len(missed) > limit  # the case under test
    assert first == {"^GSPC": missed[-limit]}  # NEW has no forecast yet: its backfill covers it
    (line,) = warnings
    command = shlex.split(line.split("For the rest: ")[1])
    assert command == [
        "stock-pipeline", "materialize", "--tickers", "^GSPC",
        "--start", str(missed[0]), "--end", str(missed[-limit - 1]),
    ]  # fmt: skip
