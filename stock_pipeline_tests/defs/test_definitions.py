"""The code location is the groups' ``Definitions`` merged: each group brings its own
assets, jobs select by group, and the names users' run history and the daemon's state
are keyed by stay what they are."""

from __future__ import annotations

from dagster import AssetKey, Definitions

from stock_pipeline.definitions import GROUP_DEFINITIONS, build_definitions
from stock_pipeline.defs.asset_bodies import CHAIN_ASSETS, DATA_ASSETS
from stock_pipeline.defs.universe import UNIVERSE_ASSETS

GROUPS = {
    "market_data": {"raw_ohlcv", "indicators"},
    "forecasting": {"windowed_tensors", "lstm_model"},
    "evaluation": {"walk_forward_evaluation", "model_comparison"},
    "trading": {"backtest_report", "backtest_summary"},
    "universe": {"universe_model", "universe_backtest"},
}
#: child -> parents: the lineage, wired by asset key across the group modules
LINEAGE = {
    "raw_ohlcv": set(),
    "indicators": {"raw_ohlcv"},
    "windowed_tensors": {"indicators"},
    "lstm_model": {"windowed_tensors"},
    "walk_forward_evaluation": {"lstm_model"},
    "model_comparison": {"walk_forward_evaluation"},
    "backtest_report": {"walk_forward_evaluation", "model_comparison"},
    "backtest_summary": {"backtest_report"},
    "universe_model": {"raw_ohlcv", "indicators"},
    "universe_backtest": {"universe_model"},
}


def job_assets(defs: Definitions, name: str) -> set[str]:
    return {k.to_user_string() for k in defs.resolve_job_def(name).asset_layer.selected_asset_keys}


def test_each_group_module_brings_exactly_its_own_assets(settings) -> None:
    brought = {}
    for group in GROUP_DEFINITIONS:
        names = {
            key.to_user_string(): name
            for assets in group(settings).assets or []
            for key, name in assets.group_names_by_key.items()
        }
        for name in set(names.values()):
            brought[name] = {k for k, n in names.items() if n == name}
        assert len(set(names.values())) <= 1, names  # one group per module
    assert brought == GROUPS


def test_the_lineage_and_the_jobs_select_by_group(settings) -> None:
    defs = build_definitions(settings)
    graph = defs.resolve_asset_graph()
    assert {
        k.to_user_string(): {p.to_user_string() for p in graph.get(k).parent_keys}
        for k in graph.get_all_asset_keys()
    } == LINEAGE
    assert job_assets(defs, "market_data_job") == GROUPS["market_data"]
    chain = GROUPS["forecasting"] | GROUPS["evaluation"] | GROUPS["trading"]
    assert job_assets(defs, "model_chain_job") == chain
    assert job_assets(defs, "universe_job") == GROUPS["universe"]
    freshness = defs.resolve_job_def("freshness_check_job")
    assert not freshness.asset_layer.selected_asset_keys
    # the names the CLI sorts --select by are the groups' assets
    assert set(DATA_ASSETS) == GROUPS["market_data"]
    assert set(CHAIN_ASSETS) == chain - {"backtest_summary"}
    assert set(UNIVERSE_ASSETS) == GROUPS["universe"]


def test_names_the_instance_and_the_daemon_key_their_state_by(settings) -> None:
    defs = build_definitions(settings)
    assert {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()} == set(
        LINEAGE
    )
    jobs = {j.name for j in defs.jobs}
    assert jobs == {"market_data_job", "model_chain_job", "freshness_check_job", "universe_job"}
    assert {s.name for s in defs.schedules} == {
        "nightly_refresh",
        "freshness_check_hourly",
        "revision_check_weekly",
    }
    assert {s.name for s in defs.sensors} == {
        "model_chain_after_data",
        "split_failed_runs",
        "watchlist_sensor",
        "universe_after_nightly",
        "dead_run_sweep",
    }
    checks = {
        (k.asset_key.to_user_string(), k.name) for k in defs.resolve_asset_graph().asset_check_keys
    }
    assert checks == {
        ("raw_ohlcv", "ohlc_sanity"),
        ("raw_ohlcv", "ohlcv_unique_dates"),
        ("raw_ohlcv", "ohlcv_no_gaps"),
        ("raw_ohlcv", "raw_ohlcv_fresh"),
        ("indicators", "indicators_finite_after_warmup"),
    }


def test_the_networks_assets_say_they_hold_the_configured_kind(settings) -> None:
    graph = build_definitions(settings).resolve_asset_graph()
    for name in ("lstm_model", "walk_forward_evaluation", "backtest_summary"):
        description = graph.get(AssetKey(name)).description
        assert "`model.kind`" in description, name
        assert "LSTM vs" not in description and "the LSTM" not in description, name
