"""Point in time: whatever happened between nights (a split, a dividend, missed nights),
every table equals what a fresh full backfill of the final data gives.

The source is the real yfinance code against a local Yahoo-like server that re-bases
its history the way Yahoo does: on the evening of each night it serves Close (and Open,
High, Low, Volume) adjusted for the splits known that day and Adj Close for the splits
and dividends. The nightly side is Dagster's own: the ``nightly_refresh`` schedule is
evaluated for each evening and the runs it requests are executed. The fresh side is the
core functions on a new warehouse, over the whole history as served that evening.

Both sides share the fold-model cache: it is keyed by what each model was trained on
(``forecasting.fold_models``), so the fresh side retrains exactly the folds whose inputs
differ from the nightly side's, which is what the comparison must reveal; that results
do not depend on the cache is tested on its own (``test_cache_independence``).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from dagster import AssetKey, build_schedule_context, instance_for_test

from stock_pipeline.cli import launch
from stock_pipeline.definitions import build_definitions
from stock_pipeline.defs import run_requests
from stock_pipeline.evaluation.evaluate import evaluate_asof
from stock_pipeline.forecasting.feature_rows import update_feature_rows
from stock_pipeline.forecasting.forecast import forecast_asof
from stock_pipeline.market_data import ingest
from stock_pipeline.market_data.sources import make_source, yfinance_source
from stock_pipeline.settings import Settings
from stock_pipeline.trading.trade import backtest_asof
from stock_pipeline.warehouse import WarehouseFile, connect
from stock_pipeline_tests.support.fake_yahoo import (  # noqa: F401 (fixtures)
    Company,
    FakeYahoo,
    LocalYahooSession,
    fresh_yfinance,
    no_internet,
    yahoo,
)
from stock_pipeline_tests.support.synthetic import sessions

pytestmark = pytest.mark.slow

TICKER = "PIT"
# Nine nights hold every kind of night: ordinary ones, a split, a dividend, a fold's
# first session after both (the default grid, staggered for PIT, opens a fold at night
# 6), whose model is trained on the re-based history (the test checks that it is), and
# a night the daemon missed, with a second dividend on it.
HISTORY, NIGHTS = 255, 9
DAYS = sessions(HISTORY + NIGHTS, start=dt.date(2017, 1, 3))
SPLIT, DIVIDEND, MISSED = DAYS[HISTORY + 2], DAYS[HISTORY + 4], DAYS[HISTORY + 7]
NY = ZoneInfo("America/New_York")

#: (table, columns compared) of everything derived; rows of the as-of tables are those of
#: the night compared (a fresh backfill has no earlier nights).
TABLES = {
    "ohlcv": "date, open, high, low, close, adj_close, volume",
    "indicators": "*",
    "features": "date, x",
    "forecasts": "asof_date, target_date, predicted",
    "predictions": "date, fold, model, predicted, actual, target_date",
    "evaluation_metrics": "model, fold, metric, value",
    "backtest_daily": "date, strategy, position, return, equity",
    "backtest_metrics": "strategy, metric, value",
}
ASOF_TABLES = {
    "forecasts",
    "predictions",
    "evaluation_metrics",
    "backtest_daily",
    "backtest_metrics",
}


@pytest.fixture
def served(yahoo: FakeYahoo, monkeypatch):  # noqa: F811
    """The Yahoo-like server, and yfinance pointed at it."""
    monkeypatch.setattr(yfinance_source, "_new_session", lambda: LocalYahooSession(yahoo.port))
    return yahoo


def settings_for(root, name: str) -> Settings:
    return Settings(
        data_dir=root / name,
        models_path=root / "models",
        source={"name": "yfinance", "retries": 1},
        start_date=DAYS[0],
        history_start=DAYS[0],
        watchlist_path=root / "watchlist.yaml",
    )


def snapshot(settings: Settings, night: dt.date) -> dict[str, pd.DataFrame]:
    out = {}
    with connect(settings.warehouse, read_only=True) as con:
        for table, columns in TABLES.items():
            # the rows as of ``night``: of that as-of date, or dated on or before it
            where = "ticker = ? AND " + ("asof_date = ?" if table in ASOF_TABLES else "date <= ?")
            params = [TICKER, night]
            frame = con.execute(f"SELECT {columns} FROM {table} WHERE {where}", params).df()
            keys = [
                c for c in frame.columns if c != "x" and (frame[c].dtype == object or "date" in c)
            ]
            keys += [c for c in ("fold",) if c in frame.columns]
            out[table] = frame.sort_values(keys).reset_index(drop=True)
    return out


def assert_same(nightly: dict, fresh: dict, night: dt.date) -> None:
    for table in TABLES:
        a, b = nightly[table], fresh[table]
        assert len(a) == len(b) > 0, (night, table, len(a), len(b))
        for column in a.columns:
            x, y = a[column], b[column]
            if column == "x":
                x, y = np.vstack(x.to_numpy()), np.vstack(y.to_numpy())
            if np.issubdtype(np.asarray(x).dtype, np.number):
                np.testing.assert_allclose(
                    np.asarray(x, float),
                    np.asarray(y, float),
                    rtol=1e-9,
                    atol=1e-12,
                    err_msg=f"{night} {table}.{column}",
                )
            else:
                assert list(x) == list(y), (night, table, column)


def fresh_backfill(settings: Settings, night: dt.date) -> None:
    """What a user who adds the ticker on this evening gets: its whole history, then the
    model chain as of this night."""
    days = [d for d in DAYS if d <= night]
    warehouse = WarehouseFile(settings.warehouse)
    with connect(settings.warehouse) as con:
        (result,) = ingest.ingest_bars(con, make_source(settings.source), {TICKER: days})
        assert result.error is None, result.error
        assert ingest.update_indicators(con, TICKER, days).error is None
        update_feature_rows(con, TICKER, night, settings.features)
    forecast_asof(warehouse, TICKER, night, settings)
    evaluate_asof(warehouse, TICKER, night, settings)
    backtest_asof(warehouse, TICKER, night, settings)


def run_nightly(defs, instance, night: dt.date) -> list:
    """Evaluate the schedule for this evening, execute every data run it requests and the
    model-chain run the sensor requests when a data run succeeds."""
    schedule = defs.resolve_schedule_def("nightly_refresh")
    tick = dt.datetime.combine(night, dt.time(18, 30), NY)
    with build_schedule_context(instance=instance, scheduled_execution_time=tick) as context:
        requests = schedule.evaluate_tick(context).run_requests
    for request in requests:
        data = defs.resolve_job_def(request.job_name).execute_in_process(
            instance=instance, tags=request.tags, run_config=launch.logging_config(verbose=False)
        )
        assert data.success, night
        chain = defs.resolve_job_def("model_chain_job").execute_in_process(
            instance=instance,
            tags=run_requests.chain_tags(request.tags, data.run_id),
            run_config=launch.logging_config(verbose=False),
        )
        assert chain.success, night
    return requests


def rebase_notes(instance) -> str:
    records = instance.fetch_materializations(AssetKey("raw_ohlcv"), limit=100).records
    return " ".join(r.asset_materialization.metadata["rebased_histories"].value for r in records)


def nights_that_trained(instance) -> list[dt.date]:
    """The as-of dates on which the nightly ``lstm_model`` trained a fold's model."""
    records = instance.fetch_materializations(AssetKey("lstm_model"), limit=100).records
    return sorted(
        dt.date.fromisoformat(r.partition_key.split("|")[0])
        for r in records
        if r.asset_materialization.metadata["training_mode"].value == "trained"
    )


def test_nightly_equals_a_fresh_backfill_across_a_split_dividends_and_a_missed_night(
    served, tmp_path
):
    """Every night, and the night after one the daemon missed (a dividend on it), every
    table as of each session equals a fresh backfill's; the missed session gets its
    forecast from the next night's run."""
    company = Company.simulate(
        DAYS, seed=5, splits={SPLIT: 2.0}, dividends={DIVIDEND: 1.0, MISSED: 0.5}
    )
    nightly = settings_for(tmp_path, "nightly")
    nightly.watchlist_path.write_text(f"tickers: [{TICKER}]\n")
    defs = build_definitions(nightly)
    with instance_for_test() as instance:
        served.listings[TICKER] = company.listing(DAYS[HISTORY - 1])
        outcomes = launch.materialize(
            defs, instance, [TICKER], DAYS[0], DAYS[HISTORY - 1], "*", nightly
        )
        assert all(o.success for o in outcomes), [o.errors for o in outcomes]
        for k in range(NIGHTS):
            night = DAYS[HISTORY + k]
            served.listings[TICKER] = company.listing(night)
            if night == MISSED:
                continue  # the daemon was down
            requests = run_nightly(defs, instance, night)
            previous = DAYS[HISTORY + k - 1]
            if previous == MISSED:  # this night's run covers the missed session too
                assert [r.tags[run_requests.CHAIN_FROM_TAG] for r in requests] == [str(MISSED)]
            for day in (previous, night) if previous == MISSED else (night,):
                fresh = settings_for(tmp_path, f"fresh{day}")
                fresh_backfill(fresh, day)
                assert_same(snapshot(nightly, day), snapshot(fresh, day), day)
            # the forecast made that night is the walk-forward's prediction once known; on
            # the night a dividend re-bases the history, the walk-forward forecasts from the
            # re-based rows, which agree with the old ones to float32 precision
            if k:
                with connect(nightly.warehouse, read_only=True) as con:
                    made, scored = con.execute(
                        "SELECT f.predicted, p.predicted FROM forecasts f JOIN predictions p "
                        "ON p.ticker = f.ticker AND p.date = f.asof_date AND p.model = 'lstm' "
                        "WHERE f.asof_date = ? AND p.asof_date = ?",
                        [previous, night],
                    ).fetchone()
                if night in (SPLIT, DIVIDEND):
                    assert made == pytest.approx(scored, rel=1e-5, abs=1e-9), night
                else:
                    assert made == scored, night
        notes = rebase_notes(instance)
        trained = nights_that_trained(instance)
    assert f"split 2:1 on {SPLIT}" in notes and f"dividend 1 on {DIVIDEND}" in notes
    assert f"dividend 0.5 on {MISSED}" in notes
    # a fold opened after the split and the first dividend, so a model trained on the
    # re-based rows was compared
    assert any(SPLIT < DIVIDEND < night for night in trained), trained
    with connect(nightly.warehouse, read_only=True) as con:
        asof = [r[0] for r in con.execute("SELECT asof_date FROM forecasts ORDER BY 1").fetchall()]
    assert asof == DAYS[HISTORY - 1 :]  # every session got its forecast, the missed one too
