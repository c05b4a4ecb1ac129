"""Wiring: the universe joins the nightly refresh (after the night's per-ticker runs, one run of
the night's date partition), depends on every ticker's data, and runs from the CLI when named."""

from __future__ import annotations

from dagster import AllPartitionMapping, AssetKey, RunRequest, SkipReason

from stock_pipeline.definitions import build_definitions
from stock_pipeline.defs.universe import universe_request


def test_universe_runs_once_no_nightly_run_of_the_day_is_in_flight() -> None:
    assert isinstance(universe_request(None, 0), SkipReason)  # not a nightly run
    waiting = universe_request("2026-11-20", 2)
    assert isinstance(waiting, SkipReason) and "2 nightly run(s)" in waiting.skip_message
    request = universe_request("2026-11-20", 0)
    assert isinstance(request, RunRequest)
    assert request.partition_key == "2026-11-20" and request.run_key == "universe:2026-11-20"


def test_universe_assets_are_date_partitioned_and_read_every_tickers_data(settings) -> None:
    defs = build_definitions(settings)
    graph = defs.resolve_asset_graph()
    model = graph.get(AssetKey("universe_model"))
    assert model.group_name == "universe"
    assert model.partitions_def == defs.resolve_job_def("universe_job").partitions_def
    assert set(model.parent_keys) == {AssetKey("raw_ohlcv"), AssetKey("indicators")}
    for parent in model.parent_keys:
        mapping = graph.get_partition_mapping(AssetKey("universe_model"), parent)
        assert isinstance(mapping, AllPartitionMapping)
    sensors = {s.name for s in defs.sensors}
    assert "universe_after_nightly" in sensors


def test_star_is_the_per_ticker_lineage_and_the_universe_runs_when_named(settings) -> None:
    from stock_pipeline.cli.launch import resolve_selection

    defs = build_definitions(settings)
    everything = resolve_selection(defs, "*")
    assert "raw_ohlcv" in everything and "backtest_report" in everything
    assert not {"universe_model", "universe_backtest"} & set(everything)
    named = resolve_selection(defs, "universe_model,universe_backtest")
    assert named == ["universe_model", "universe_backtest"]


def test_the_sensor_waits_for_the_nights_other_runs() -> None:
    from dagster import (
        DagsterEvent,
        DagsterEventType,
        DagsterInstance,
        DagsterRunStatus,
        build_run_status_sensor_context,
    )
    from dagster._core.storage.dagster_run import DagsterRun

    from stock_pipeline.defs.run_requests import NIGHTLY_TAG
    from stock_pipeline.defs.universe import universe_after_nightly

    night = {NIGHTLY_TAG: "2026-11-20"}
    done = DagsterRun(
        job_name="model_chain_job", run_id="chain", status=DagsterRunStatus.SUCCESS, tags=night
    )
    event = DagsterEvent(
        event_type_value=DagsterEventType.RUN_SUCCESS.value, job_name="model_chain_job"
    )
    outcomes = []
    for other_status in (DagsterRunStatus.STARTED, DagsterRunStatus.SUCCESS):
        instance = DagsterInstance.ephemeral()
        instance.add_run(done)
        instance.add_run(
            DagsterRun(job_name="market_data_job", run_id="data", status=other_status, tags=night)
        )
        context = build_run_status_sensor_context(
            sensor_name="universe_after_nightly",
            dagster_event=event,
            dagster_instance=instance,
            dagster_run=done,
        )
        outcomes.append(universe_after_nightly(context))
    waiting, request = outcomes
    assert isinstance(waiting, SkipReason) and "1 nightly run(s)" in waiting.skip_message
    assert isinstance(request, RunRequest) and request.partition_key == "2026-11-20"
