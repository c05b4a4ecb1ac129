"""What a Dask worker receives carries no secret: the Alpha Vantage key stays with the
caller, and the results are those of the in-process engine; the local cluster listens on
loopback only."""

from __future__ import annotations

import os
import pickle

from stock_pipeline.compute import InProcess, open_engine
from stock_pipeline.compute.engine import ship
from stock_pipeline.settings import ComputeSettings, Settings
from stock_pipeline.settings.data import SourceSettings

KEY = "av-key-7f3a9c"


def key_seen(settings: Settings, n: int) -> tuple[str | None, int, int, str]:
    """Shipped by name: what the worker sees of the key, a result, its pid, a setting."""
    key = settings.source.alphavantage_api_key
    seen = None if key is None else key.get_secret_value()
    return seen, n * n, os.getpid(), settings.source.name


def keyed_settings() -> Settings:
    return Settings(source=SourceSettings(name="alphavantage", alphavantage_api_key=KEY))


def test_the_shipped_bytes_hold_no_key():
    settings = keyed_settings()
    payload = ship(key_seen, (settings, 3))
    assert KEY.encode() not in payload
    assert KEY.encode() in pickle.dumps(settings)  # a plain pickle would have carried it
    fn, args = pickle.loads(payload)
    assert fn is key_seen
    assert args[0].source.alphavantage_api_key is None
    assert args[0].model_dump(exclude={"source"}) == settings.model_dump(exclude={"source"})
    assert args[0].source.name == "alphavantage"
    assert settings.source.alphavantage_api_key.get_secret_value() == KEY  # caller's intact


def test_a_local_cluster_worker_gets_no_key_and_the_same_results():
    settings = keyed_settings()
    calls = [(settings, n) for n in (2, 3, 4)]
    with open_engine(ComputeSettings(engine="local_cluster", workers=1)) as engine:
        on_cluster = sorted((o.index, o.value) for o in engine.map(key_seen, calls))
        client = engine.engine.client
        workers = list(client.scheduler_info()["workers"])
        # scheduler and workers listen on loopback only
        assert client.scheduler.address.startswith("tcp://127.0.0.1:")
        assert workers and all(w.startswith("tcp://127.0.0.1:") for w in workers)
    in_process = [(o.index, o.value) for o in InProcess().map(key_seen, calls)]

    assert [value[0] for _, value in on_cluster] == [None, None, None]
    assert [value[0] for _, value in in_process] == [KEY, KEY, KEY]  # nothing to strip here
    assert {value[2] for _, value in on_cluster}.isdisjoint({os.getpid()})  # really shipped
    strip = [(i, (v[1], v[3])) for i, v in on_cluster]
    assert (
        strip
        == [(i, (v[1], v[3])) for i, v in in_process]
        == [
            (0, (4, "alphavantage")),
            (1, (9, "alphavantage")),
            (2, (16, "alphavantage")),
        ]
    )
