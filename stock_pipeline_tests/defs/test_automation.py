"""Schedule, sensors and freshness decisions, with Dagster's test contexts."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from dagster import (
    AssetKey,
    SensorResult,
    SkipReason,
    build_run_status_sensor_context,
    build_schedule_context,
    build_sensor_context,
    instance_for_test,
)

from stock_pipeline.cli import launch
from stock_pipeline.definitions import build_definitions
from stock_pipeline.defs import automation
from stock_pipeline.defs.automation import backfill_days
from stock_pipeline.market_data.calendar import latest_due_session
from stock_pipeline.market_data.watchlist import load_watchlist

NY = ZoneInfo("America/New_York")


@pytest.fixture
def setup(settings):
    watchlist = settings.watchlist_path
    defs = build_definitions(settings)
    with instance_for_test() as instance:  # schedule/sensor contexts need an instance ref
        yield settings, defs, instance, watchlist


def _schedule(defs, instance, when: dt.datetime):
    nightly = defs.resolve_schedule_def("nightly_refresh")
    ctx = build_schedule_context(instance=instance, scheduled_execution_time=when)
    return nightly.evaluate_tick(ctx)


def test_nightly_covers_watched_tickers_in_contiguous_runs(setup) -> None:
    _, defs, instance, watchlist = setup
    instance.add_dynamic_partitions("tickers", ["AAA", "BBB", "OLD", "CCC", "DDD"])
    watchlist.write_text("tickers: [AAA, BBB, CCC, DDD]\n")  # OLD was removed
    result = _schedule(defs, instance, dt.datetime(2026, 11, 24, 18, 30, tzinfo=NY))
    ranges = [
        (r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
        for r in result.run_requests
    ]
    assert ranges == [("2026-11-24|AAA", "2026-11-24|BBB"), ("2026-11-24|CCC", "2026-11-24|DDD")]
    assert all(r.job_name in (None, "nightly_refresh_job") for r in result.run_requests)


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
    result = sensor(ctx)
    assert isinstance(result, SensorResult)
    (add,) = result.dynamic_partitions_requests
    assert list(add.partition_keys) == ["BRK-B", "BF.B"]
    by_ticker = {r.tags["stock_pipeline/new_ticker"]: r for r in result.run_requests}
    brk = by_ticker["BRK-B"].asset_graph_subset
    raw = brk.get_partitions_subset(AssetKey("raw_ohlcv")).get_partition_keys()
    assert min(raw) == "2026-10-01|BRK-B" and max(raw) == "2026-11-25|BRK-B"
    model = brk.get_partitions_subset(AssetKey("lstm_model")).get_partition_keys()
    assert list(model) == ["2026-11-25|BRK-B"]  # the chain only for the latest session
    bf = by_ticker["BF.B"].asset_graph_subset
    assert min(bf.get_partitions_subset(AssetKey("raw_ohlcv")).get_partition_keys()) == (
        "2015-01-02|BF.B"  # no start given: STOCK_PIPELINE_START
    )


def test_watchlist_sensor_reports_a_bad_file_without_registering(setup) -> None:
    _, defs, instance, watchlist = setup
    watchlist.write_text("tickers:\n  - GOOD\n  - 'BAD|ONE'\n")
    sensor = defs.resolve_sensor_def("watchlist_sensor")
    ctx = build_sensor_context(instance=instance, repository_def=defs.get_repository_def())
    result = sensor(ctx)
    assert isinstance(result, SkipReason) and "BAD|ONE" in result.skip_message
    assert instance.get_dynamic_partitions("tickers") == []


def test_failed_nightly_run_is_split_per_ticker(setup) -> None:
    _, defs, instance, _ = setup
    instance.add_dynamic_partitions("tickers", ["AAA", "BBB", "CCC"])
    job = defs.resolve_job_def("nightly_refresh_job")
    run = instance.create_run_for_job(
        job,
        tags={
            "dagster/asset_partition_range_start": "2026-11-24|AAA",
            "dagster/asset_partition_range_end": "2026-11-24|CCC",
            "stock_pipeline/nightly": "2026-11-24",
        },
    )
    from dagster import DagsterEventType, DagsterRunStatus

    instance.report_run_failed(run)
    failure = instance.get_records_for_run(run.run_id).records[-1].event_log_entry
    assert failure.dagster_event.event_type == DagsterEventType.RUN_FAILURE
    sensor = defs.resolve_sensor_def("split_failed_nightly")
    ctx = build_run_status_sensor_context(
        sensor_name="split_failed_nightly",
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(run.run_id),
        dagster_event=failure.dagster_event,
    ).for_run_failure()
    requests = list(sensor._run_status_sensor_fn(ctx))
    assert [r.tags["dagster/asset_partition_range_start"] for r in requests] == [
        "2026-11-24|AAA",
        "2026-11-24|BBB",
        "2026-11-24|CCC",
    ]
    assert all(r.tags["stock_pipeline/split_from"] == run.run_id for r in requests)
    assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.FAILURE


def test_latest_due_session_respects_the_refresh_window() -> None:
    close = dt.time(16, 0)
    assert latest_due_session(dt.datetime(2026, 11, 25, 19, 59), close, 4) == dt.date(2026, 11, 24)
    assert latest_due_session(dt.datetime(2026, 11, 25, 20, 0), close, 4) == dt.date(2026, 11, 25)
    # Thanksgiving and the weekend after it: Wednesday stays the newest due session
    assert latest_due_session(dt.datetime(2026, 11, 26, 23, 0), close, 4) == dt.date(2026, 11, 25)


def test_add_ticker_submits_a_backfill_through_the_instance(setup) -> None:
    settings, defs, instance, _ = setup
    now = dt.datetime(2026, 11, 25, 21, 0, tzinfo=NY)
    (sub,) = launch.submit_backfills(defs, instance, ["BRK-B"], dt.date(2026, 9, 1), settings, now)
    assert instance.get_dynamic_partitions("tickers") == ["BRK-B"]
    (backfill,) = instance.get_backfills()
    assert backfill.backfill_id == sub.backfill_id and backfill.tags["stock_pipeline/new_ticker"]
    subset = backfill.asset_backfill_data.target_subset
    keys = subset.get_partitions_subset(AssetKey("indicators")).get_partition_keys()
    assert len(keys) == sub.sessions == len(backfill_days(settings, dt.date(2026, 9, 1), now))
    with pytest.raises(ValueError, match=r"'\['"):
        launch.submit_backfills(defs, instance, ["X[1]"], None, settings, now)
    assert instance.get_dynamic_partitions("tickers") == ["BRK-B"]


def test_watchlist_file_errors_name_the_entry(tmp_path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text("tickers:\n  - ticker: AAA\n    source: nope\n")
    with pytest.raises(ValueError, match=r"entry 1: unknown source 'nope'"):
        load_watchlist(path)
    path.write_text("tickers:\n  - ticker: AAA\n    start: 2020-02-30\n")
    with pytest.raises(ValueError, match=r"w.yaml: cannot read: day is out of range"):
        load_watchlist(path)


def test_nightly_job_runs_the_data_checks_but_not_the_hourly_freshness_check(setup) -> None:
    _, defs, _, _ = setup
    job = defs.resolve_job_def("nightly_refresh_job")
    checks = {k.name for k in job.asset_layer.asset_graph.asset_check_keys}
    assert checks == {
        "ohlc_sanity",
        "ohlcv_unique_dates",
        "ohlcv_no_gaps",
        "indicators_finite_after_warmup",
    }
    assert "raw_ohlcv_fresh" in {k.name for k in defs.resolve_asset_graph().asset_check_keys}


def test_data_checks_are_partitioned_like_their_assets(setup) -> None:
    # An unpartitioned check in a ranged run makes Dagster list every partition key of its
    # asset when it records the result: seconds per check on a real history.
    _, defs, _, _ = setup
    graph = defs.resolve_asset_graph()
    specs = [spec for checks in defs.asset_checks for spec in checks.check_specs]
    data_checks = [s for s in specs if s.name != "raw_ohlcv_fresh"]
    assert len(data_checks) == 4
    for spec in data_checks:
        assert spec.partitions_def == graph.get(spec.asset_key).partitions_def, spec.name
