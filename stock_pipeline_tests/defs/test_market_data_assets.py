"""raw_ohlcv and indicators through Dagster: partitions, idempotence, isolation, checks."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import duckdb
import pytest
from dagster import AssetKey, AssetSelection, DagsterInstance, materialize

from stock_pipeline.cli import launch
from stock_pipeline.definitions import build_definitions
from stock_pipeline.defs.asset_bodies import ASOF_TAG
from stock_pipeline.defs.market_data import FRESHNESS_CHECK
from stock_pipeline.defs.partitions import make_date_partitions
from stock_pipeline.market_data.calendar import trading_days
from stock_pipeline.market_data.watchlist import check_symbol
from stock_pipeline.settings import Settings
from stock_pipeline.warehouse import connect, schema
from stock_pipeline_tests.support.synthetic import synthetic_bars, write_csv

NY = ZoneInfo("America/New_York")
DATA = "raw_ohlcv,indicators"


def _checks(result) -> dict[str, bool]:
    """Data-quality checks by name (the freshness check depends on today's date; it has
    its own tests)."""
    return {
        e.check_name: e.passed
        for e in result.get_asset_check_evaluations()
        if e.check_name != "raw_ohlcv_fresh"
    }


def _count(settings: Settings, sql: str) -> int:
    with connect(settings.warehouse, read_only=True) as con:
        return con.execute(sql).fetchone()[0]


@pytest.fixture
def instance() -> DagsterInstance:
    return DagsterInstance.ephemeral()


def test_date_partitions_are_sessions_and_evening_run_sees_today(settings) -> None:
    dates = make_date_partitions(settings)
    evening = dt.datetime(2026, 11, 25, 18, 30, tzinfo=NY)  # a Wednesday, after the close
    keys = dates.get_partition_keys(current_time=evening)
    assert keys[0] == "2015-01-02"
    assert keys[-1] == "2026-11-25"
    thanksgiving = dt.datetime(2026, 11, 26, 20, 0, tzinfo=NY)
    holiday_keys = dates.get_partition_keys(current_time=thanksgiving)
    # The newest partition is the session in progress or, on a closed day, the next one.
    assert holiday_keys[-2:] == ["2026-11-25", "2026-11-27"]
    in_dec_2018 = [k for k in keys if k.startswith("2018-12")]
    assert "2018-12-05" not in in_dec_2018  # national day of mourning: exchange closed
    assert "2018-12-25" not in in_dec_2018
    expected = [d.isoformat() for d in trading_days(dt.date(2015, 1, 2), dt.date(2026, 11, 25))]
    assert keys == expected


def test_year_partitions_and_their_mappings(settings, instance) -> None:
    from stock_pipeline.defs.partitions import make_year_partitions

    years = make_year_partitions(settings).get_partition_keys(
        current_time=dt.datetime(2026, 11, 25, 18, 30, tzinfo=NY)
    )
    assert years[0] == "2000" and years[-1] == "2026"  # the current year exists, and grows
    graph = build_definitions(settings).resolve_asset_graph()
    instance.add_dynamic_partitions("tickers", ["T"])
    tensors = graph.get(AssetKey("windowed_tensors"))
    indicators = graph.get(AssetKey("indicators"))

    def upstream(asset, key: str, parent: str) -> list[str]:
        dep = next(d for d in asset.parent_entity_keys if d.to_user_string() == parent)
        mapping = graph.get_partition_mapping(asset.key, dep)
        subset = asset.partitions_def.empty_subset().with_partition_keys([key])
        upstream_def = graph.get(dep).partitions_def
        result = mapping.get_upstream_mapped_partitions_result_for_partitions(
            subset, asset.partitions_def, upstream_def, dynamic_partitions_store=instance
        )
        return sorted(result.partitions_subset.get_partition_keys())

    # an as-of partition reads the indicator rows of its year; the rows it may write reach
    # back at most the missed nights it fills (and one bar), into the year before early on
    assert upstream(tensors, "2018-06-15|T", "indicators") == ["2018|T"]
    assert upstream(tensors, "2018-01-05|T", "indicators") == ["2017|T", "2018|T"]
    # a year's indicators need the warm-up bars at the end of the year before
    assert upstream(indicators, "2018|T", "raw_ohlcv") == ["2017|T", "2018|T"]


def test_backfill_writes_rows_once_and_checks_pass(settings, instance) -> None:
    defs = build_definitions(settings)
    start, end = dt.date(2018, 9, 4), dt.date(2018, 12, 31)
    sessions = trading_days(dt.date(2018, 1, 1), end)  # a year partition: the whole year
    for _ in range(2):  # rematerializing must not duplicate anything
        outcomes = launch.materialize(defs, instance, ["^GSPC"], start, end, DATA, settings)
        assert [o.success for o in outcomes] == [True]
    assert _count(settings, "SELECT count(*) FROM ohlcv") == len(sessions)
    assert _count(settings, "SELECT count(*) FROM indicators") == len(sessions)
    # History starts with the year, so sma_50 is NULL for the first 49 stored rows only.
    assert _count(settings, "SELECT count(*) FROM indicators WHERE sma_50 IS NULL") == 49
    run = instance.get_run_by_id(outcomes[0].run_id)
    assert run.tags["dagster/asset_partition_range_start"] == "2018|^GSPC"
    records = instance.fetch_materializations(AssetKey("raw_ohlcv"), limit=1000).records
    # one materialization per (year) partition per run: not one per session
    assert len(records) == 2


def test_single_partition_materialize_and_checks(settings, instance) -> None:
    defs = build_definitions(settings)
    instance.add_dynamic_partitions("tickers", ["^IXIC"])
    result = materialize(
        [*defs.assets, *defs.asset_checks],
        instance=instance,
        partition_key="2018|^IXIC",
        resources=defs.resources,
        selection=AssetSelection.assets("raw_ohlcv", "indicators").without_checks()
        | AssetSelection.checks_for_assets("raw_ohlcv", "indicators"),
        tags={ASOF_TAG: "2018-06-01"},  # the year up to this session
    )
    assert result.success
    meta = result.asset_materializations_for_node("raw_ohlcv")[0].metadata
    sessions = trading_days(dt.date(2018, 1, 1), dt.date(2018, 6, 1))
    assert meta["rows_written"].value == len(sessions) and meta["source"].value == "sample"
    assert all(_checks(result).values()) and len(_checks(result)) == 4
    with connect(settings.warehouse, read_only=True) as con:
        row = con.execute("SELECT close, source FROM ohlcv ORDER BY date DESC").fetchone()
    assert row[1] == "sample" and row[0] == pytest.approx(7554.33, abs=0.01)


def test_failing_ticker_leaves_others_untouched(csv_settings, csv_dir, instance) -> None:
    settings = csv_settings
    defs = build_definitions(settings)
    good = synthetic_bars(40, seed=4)
    write_csv(csv_dir, "GOOD", good)
    (csv_dir / "EMPTY.csv").write_text("")
    start, end = good["date"].iloc[0].date(), good["date"].iloc[-1].date()
    outcomes = launch.materialize(
        defs, instance, ["GOOD", "EMPTY", "MISSING"], start, end, DATA, settings
    )
    # one run for the three, which fails naming the two bad ones; then GOOD alone again,
    # so that its indicators are not held back by the others' failure
    assert [o.success for o in outcomes] == [False, True]
    assert sorted(outcomes[0].failed_tickers) == ["EMPTY", "MISSING"]
    assert "EMPTY.csv" in outcomes[0].failed_tickers["EMPTY"]
    assert "MISSING.csv" in outcomes[0].failed_tickers["MISSING"]
    assert _count(settings, "SELECT count(*) FROM ohlcv WHERE ticker = 'GOOD'") == 40
    assert _count(settings, "SELECT count(*) FROM indicators WHERE ticker = 'GOOD'") == 40
    assert _count(settings, "SELECT count(*) FROM ohlcv WHERE ticker <> 'GOOD'") == 0


def test_one_run_with_a_bad_ticker_still_writes_the_good_one(
    csv_settings, csv_dir, instance
) -> None:
    settings = csv_settings
    defs = build_definitions(settings)
    good = synthetic_bars(10, seed=5)
    write_csv(csv_dir, "AAA", good)
    (csv_dir / "ZZZ.csv").write_text("Date,Open,High,Low,Close,Volume\n")
    instance.add_dynamic_partitions("tickers", ["AAA", "ZZZ"])
    first, last = good["date"].iloc[0].date(), good["date"].iloc[-1].date()
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance,
        asset_selection=[AssetKey("raw_ohlcv")],
        tags={
            "dagster/asset_partition_range_start": f"{first.year}|AAA",
            "dagster/asset_partition_range_end": f"{last.year}|ZZZ",
            ASOF_TAG: last.isoformat(),
        },
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "ZZZ.csv" in failure.event_specific_data.error.message
    assert _count(settings, "SELECT count(*) FROM ohlcv WHERE ticker = 'AAA'") == 10


def test_rejected_rows_are_reported_not_stored(csv_settings, csv_dir, instance) -> None:
    settings = csv_settings
    defs = build_definitions(settings)
    bars = synthetic_bars(12, seed=6)
    bars.loc[5, "high"] = bars.loc[5, "low"] / 2  # impossible bar
    write_csv(csv_dir, "BAD", bars)
    start, end = bars["date"].iloc[0].date(), bars["date"].iloc[-1].date()
    outcomes = launch.materialize(defs, instance, ["BAD"], start, end, "raw_ohlcv", settings)
    assert outcomes[0].success
    assert _count(settings, "SELECT count(*) FROM ohlcv") == 11
    mat = instance.fetch_materializations(AssetKey("raw_ohlcv"), limit=1).records[0]
    metadata = mat.asset_materialization.metadata
    assert metadata["rejected_rows"].value == 1
    assert bars["date"].iloc[5].date().isoformat() in metadata["rejected_preview"].value


def _run_checks(defs, instance, ticker: str, first: dt.date, last: dt.date):
    """The data checks alone over a partition range, as from the UI's "Execute checks"."""
    return materialize(
        [*defs.assets, *defs.asset_checks],
        instance=instance,
        resources=defs.resources,
        selection=AssetSelection.checks_for_assets(AssetKey("raw_ohlcv"), AssetKey("indicators"))
        - AssetSelection.checks(FRESHNESS_CHECK),
        tags={
            "dagster/asset_partition_range_start": f"{first.year}|{ticker}",
            "dagster/asset_partition_range_end": f"{last.year}|{ticker}",
        },
        raise_on_error=False,
    )


def test_checks_fail_on_bad_stored_data(csv_settings, csv_dir, instance) -> None:
    settings = csv_settings
    defs = build_definitions(settings)
    bars = synthetic_bars(80, seed=8)
    write_csv(csv_dir, "CHK", bars)
    days = [d.date() for d in bars["date"]]
    assert all(
        o.success
        for o in launch.materialize(defs, instance, ["CHK"], days[0], days[-1], DATA, settings)
    )
    assert all(_checks(_run_checks(defs, instance, "CHK", days[0], days[-1])).values())

    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute("UPDATE ohlcv SET low = high * 2 WHERE date = ?", [days[30]])
        con.execute("DELETE FROM ohlcv WHERE date = ?", [days[40]])
        con.execute("UPDATE indicators SET rsi_14 = NULL WHERE date = ?", [days[70]])
    checks = _checks(_run_checks(defs, instance, "CHK", days[0], days[-1]))
    assert checks == {
        "ohlc_sanity": False,
        "ohlcv_no_gaps": False,
        "ohlcv_unique_dates": True,
        "indicators_finite_after_warmup": False,
    }


def test_check_results_are_recorded_as_passed_not_skipped(csv_settings, csv_dir, instance) -> None:
    """A ranged data run leaves no check execution "Skipped" (planned, never evaluated);
    a check run without partitions (the UI's "Execute") checks every stored ticker."""
    from dagster import AssetCheckKey

    settings = csv_settings
    defs = build_definitions(settings)
    for seed, ticker in enumerate(("CHA", "CHB")):
        write_csv(csv_dir, ticker, synthetic_bars(60, seed=seed))
    days = [d.date() for d in synthetic_bars(60, seed=0)["date"]]
    outcomes = launch.materialize(defs, instance, ["CHA", "CHB"], days[0], days[-1], DATA, settings)
    assert all(o.success for o in outcomes)
    for name in ("ohlc_sanity", "ohlcv_unique_dates", "ohlcv_no_gaps"):
        key = AssetCheckKey(AssetKey("raw_ohlcv"), name)
        records = instance.event_log_storage.get_asset_check_execution_history(key, limit=50)
        assert [r.status.value for r in records] == ["SUCCEEDED"] * len(outcomes), name
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute("UPDATE ohlcv SET low = high * 2 WHERE ticker = 'CHB' AND date = ?", [days[9]])
    alone = materialize(
        [*defs.assets, *defs.asset_checks],
        instance=instance,
        resources=defs.resources,
        selection=AssetSelection.checks(AssetCheckKey(AssetKey("raw_ohlcv"), "ohlc_sanity")),
    )
    (evaluation,) = alone.get_asset_check_evaluations()
    assert not evaluation.passed
    assert evaluation.metadata["violations"].value == 1


def test_duplicate_check_catches_a_table_without_key(csv_settings, csv_dir, instance) -> None:
    settings = csv_settings
    defs = build_definitions(settings)
    settings.warehouse.parent.mkdir(parents=True)
    with duckdb.connect(str(settings.warehouse)) as con:  # a legacy table with no primary key
        con.execute(schema.TABLES["ohlcv"].replace(",\n            PRIMARY KEY (ticker, date)", ""))
        con.execute(
            "INSERT INTO ohlcv VALUES "
            "('DUP', DATE '2018-06-01', 1, 2, 1, 1.5, 1.5, 10, 't', now()),"
            "('DUP', DATE '2018-06-01', 1, 2, 1, 1.5, 1.5, 10, 't', now())"
        )
    instance.add_dynamic_partitions("tickers", ["DUP"])
    day = dt.date(2018, 6, 1)
    assert _checks(_run_checks(defs, instance, "DUP", day, day))["ohlcv_unique_dates"] is False


@pytest.mark.parametrize("symbol", ["^GSPC", "BRK-B", "BF.B"])
def test_real_symbols_are_valid_partition_keys(symbol) -> None:
    assert check_symbol(symbol) == symbol


@pytest.mark.parametrize("symbol", ["A|B", "A,B", "A[1]", "A B", ""])
def test_symbols_dagster_cannot_hold_are_rejected(symbol) -> None:
    with pytest.raises(ValueError, match=r"ticker|empty"):
        check_symbol(symbol)


def _freshness(defs, instance):
    return materialize(
        [*defs.assets, *defs.asset_checks],
        instance=instance,
        resources=defs.resources,
        selection=AssetSelection.checks(FRESHNESS_CHECK),
        raise_on_error=False,
    ).get_asset_check_evaluations()[0]


def test_a_finished_history_is_fresh_and_a_stale_file_names_its_ticker(
    csv_settings, csv_dir, instance
) -> None:
    """A source that is not live is checked against its own newest bar, not today."""
    settings = csv_settings
    defs = build_definitions(settings)
    bars = synthetic_bars(30, seed=9)
    write_csv(csv_dir, "OLD", bars.iloc[:25])
    days = [d.date() for d in bars["date"]]
    launch.materialize(defs, instance, ["OLD"], days[0], days[24], DATA, settings)
    fresh = _freshness(defs, instance)
    assert fresh.passed  # years ago, but the file has nothing newer
    assert "newest bar in the csv source" in fresh.metadata["checked_against"].value
    write_csv(csv_dir, "OLD", bars)  # the file grows; the warehouse has not caught up
    stale = _freshness(defs, instance)
    assert not stale.passed
    assert stale.metadata["stale_tickers"].value == {
        "OLD": {
            "stored": str(days[24]),
            "due": str(days[29]),
            "against": ("the newest bar in the csv source"),
        }
    }


def test_a_file_with_bars_from_the_future_is_fresh_once_today_is_stored(
    csv_settings, csv_dir, instance
) -> None:
    """The bars after today's session are neither stored nor due."""
    settings = csv_settings
    defs = build_definitions(settings)
    today = dt.datetime.now(NY).date()
    current = trading_days(today - dt.timedelta(days=14), today)[-1]
    bars = synthetic_bars(40, seed=10, start=current - dt.timedelta(days=50))
    days = [d.date() for d in bars["date"]]
    assert days[-1] > current  # the file reaches past today
    write_csv(csv_dir, "AHEAD", bars)
    (outcome,) = launch.materialize(defs, instance, ["AHEAD"], days[0], current, DATA, settings)
    assert outcome.success
    assert _count(settings, "SELECT max(date) FROM ohlcv") == current
    assert _freshness(defs, instance).passed
