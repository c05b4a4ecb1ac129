"""dagster-postgres.yaml against a real PostgreSQL server: the whole lineage for one ticker.

The instance is the repo's multi-machine profile verbatim, its ``DAGSTER_PG_*``
variables pointed at a private server that ``pg_server`` starts on loopback.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml

pytest.importorskip(
    "dagster_postgres", reason="dagster-postgres (pip install -e '.[postgres]') is not installed"
)

from dagster import AssetKey, DagsterInstance

from stock_pipeline.cli import launch
from stock_pipeline.definitions import build_definitions
from stock_pipeline.defs.partitions import TICKERS_PARTITION
from stock_pipeline.settings import Settings
from stock_pipeline_tests.support.pg_server import PostgresServer, postgres_server_fixture

PROFILE = Path(__file__).resolve().parents[2] / "dagster-postgres.yaml"
TICKER = "^GSPC"
START, END = dt.date(2018, 7, 2), dt.date(2018, 12, 31)
PARTITION = f"{END}|{TICKER}"

TINY_MODEL_YAML = """
features:
  window: 10
model:
  lstm_units: [8]
  epochs: 3
  patience: 2
  batch_size: 32
  min_train_samples: 30
  retrain_every: 42
"""

pytestmark = pytest.mark.postgres

pg = postgres_server_fixture(scope="session", dbname="dagster")


@pytest.fixture
def pg_home(pg: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """DAGSTER_HOME holding dagster-postgres.yaml, plus the settings a fast lineage needs."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(PROFILE, home / "dagster.yaml")
    for name, value in pg.dagster_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")  # as the profile recommends
    config = tmp_path / "settings.yaml"
    config.write_text(TINY_MODEL_YAML)
    monkeypatch.setenv("STOCK_PIPELINE_CONFIG", str(config))
    monkeypatch.setenv("STOCK_PIPELINE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STOCK_PIPELINE_SOURCE", "sample")
    for name in ("STOCK_PIPELINE_WAREHOUSE", "STOCK_PIPELINE_START", "STOCK_PIPELINE_CSV_DIR"):
        monkeypatch.delenv(name, raising=False)
    return home


def test_profile_keeps_the_single_machine_concurrency_settings():
    profile = yaml.safe_load(PROFILE.read_text())
    single = yaml.safe_load((PROFILE.parent / "stock_pipeline" / "dagster.yaml").read_text())
    assert profile["concurrency"] == single["concurrency"]
    assert set(profile["storage"]["postgres"]["postgres_db"]) == {
        "username",
        "password",
        "hostname",
        "db_name",
        "port",
    }


def test_lineage_on_postgres_instance(pg: PostgresServer, pg_home: Path):
    import psycopg2

    settings = Settings.from_env()
    defs = build_definitions(settings)
    graph = defs.resolve_asset_graph()
    # The lineage's assets as they are now: the data assets at the year's partition, the
    # model chain at the as-of partition, the cross-ticker summary unpartitioned (the
    # universe model has its own test: stock_pipeline_tests/universe).
    data_assets = {"raw_ohlcv", "indicators"}
    expected = {
        key.to_user_string(): (
            (f"{END.year}|{TICKER}" if key.to_user_string() in data_assets else PARTITION)
            if graph.get(key).is_partitioned
            else None
        )
        for key in graph.get_all_asset_keys()
        if graph.get(key).group_name != "universe"  # "*" is the per-ticker lineage
    }
    with DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"

        outcomes = launch.materialize(defs, instance, [TICKER], START, END, "*", settings)
        assert outcomes
        failed = [(o.label, o.errors) for o in outcomes if not o.success]
        assert not failed, failed

        for name, partition in expected.items():
            event = instance.get_latest_materialization_event(AssetKey(name))
            assert event is not None, f"no materialization of {name}"
            records = instance.fetch_materializations(AssetKey(name), limit=1000).records
            partitions = {r.partition_key for r in records}
            assert partition in partitions, (name, sorted(map(str, partitions))[-3:])
        assert instance.get_dynamic_partitions(TICKERS_PARTITION) == [TICKER]

    # ...and all of it is in the Postgres database, not a file under DAGSTER_HOME.
    run_ids = {o.run_id for o in outcomes}
    with psycopg2.connect(pg.dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT run_id, status FROM runs WHERE run_id = ANY(%s)", (list(run_ids),))
        assert dict(cur.fetchall()) == dict.fromkeys(run_ids, "SUCCESS")
        cur.execute(
            "SELECT partition FROM dynamic_partitions WHERE partitions_def_name = %s",
            (TICKERS_PARTITION,),
        )
        assert [row[0] for row in cur.fetchall()] == [TICKER]
        cur.execute(
            "SELECT DISTINCT asset_key, partition FROM event_logs "
            "WHERE dagster_event_type = 'ASSET_MATERIALIZATION' AND run_id = ANY(%s)",
            (list(run_ids),),
        )
        stored = {(AssetKey.from_db_string(key).to_user_string(), p) for key, p in cur}
    assert set(expected.items()) <= stored
    assert not list(pg_home.glob("**/*.db")), "SQLite storage was created under DAGSTER_HOME"
