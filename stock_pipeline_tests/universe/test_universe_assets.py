"""universe_model and universe_backtest through Dagster: materialized as of D over the
registered csv tickers by ``launch.materialize`` (the CLI's path), writing the three
tables and the report. SMALL settings (support.universe.SMALL_UNIVERSE, k = 1, 2 epochs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from dagster import AssetKey, DagsterInstance

from stock_pipeline.cli import launch
from stock_pipeline.definitions import build_definitions
from stock_pipeline.warehouse import connect
from stock_pipeline_tests.support.synthetic import write_csv
from stock_pipeline_tests.support.universe import bars_of, small_universe, universe_returns

TICKERS = ["AAA", "BBB", "CCC"]


def test_universe_assets_materialize_as_of_d_over_registered_tickers(csv_settings, csv_dir):
    returns = universe_returns(260, len(TICKERS), 0.2, seed=3)
    for i, ticker in enumerate(TICKERS):
        write_csv(csv_dir, ticker, bars_of(returns[:, i]))
    dates = bars_of(returns[:, 0])["date"].dt.date
    first, d = dates.iloc[0], dates.iloc[240]
    settings = small_universe(csv_settings.with_changes(start_date=first), k=1, epochs=2)
    defs, instance = build_definitions(settings), DagsterInstance.ephemeral()
    data = launch.materialize(defs, instance, TICKERS, first, d, "raw_ohlcv,indicators", settings)
    assert all(o.success for o in data), [o.errors for o in data]

    outcomes = launch.materialize(
        defs, instance, TICKERS[:1], d, d, "universe_model,universe_backtest", settings
    )
    assert [o.success for o in outcomes] == [True], outcomes[0].errors
    assert "3 registered tickers" in outcomes[0].label  # the universe, not --tickers

    with connect(settings.warehouse, read_only=True) as con:
        preds = con.execute("SELECT * FROM universe_predictions").df()
        daily = con.execute("SELECT * FROM universe_backtest_daily").df()
        metrics = con.execute("SELECT * FROM universe_backtest_metrics").df()
    # periods end at rows 149, 199 (241 rows of data up to d): signal dates 149..240
    assert set(preds["asof_date"].astype(str)) == {str(d)}
    assert set(preds["model"]) == {"lstm"} and set(preds["ticker"]) == set(TICKERS)
    assert preds["date"].nunique() == 240 - 149 + 1 and preds["date"].max() == pd.Timestamp(d)
    assert sorted(preds.groupby("date")["rank"].apply(sorted).iloc[0]) == [1, 2, 3]
    # signal dates with a next session by d are traded: 149..239, earning on 150..240
    assert set(daily["strategy"]) == {
        "lstm_long_short",
        "lstm_long_only",
        "reversal_long_short",
        "equal_weight",
    }
    assert len(daily) == 4 * 91 and daily["date"].max() == pd.Timestamp(d)
    ls = daily[daily["strategy"] == "lstm_long_short"]
    assert (ls["longs"] == 1).all() and (ls["shorts"] == 1).all()
    names = set(metrics["metric"])
    assert {"sharpe", "total_return", "max_drawdown", "nw_tstat", "accuracy"} <= names
    equity = ls["equity"].to_numpy()
    assert np.isclose(equity[-1], np.prod(1 + ls["return"].to_numpy()))

    events = instance.get_latest_materialization_event(AssetKey("universe_backtest"))
    metadata = events.asset_materialization.metadata
    assert events.asset_materialization.partition == str(d)
    assert "reversal rule" in metadata["verdict"].value
    report = settings.reports_dir / "universe" / str(d) / "report.html"
    page = report.read_text()
    assert "The paper beside this run" in page and 'id="by-year"' in page
    assert all(f"<td>{name}</td>" in page for name in set(daily["strategy"]))
    assert metadata["verdict"].value in page.replace("&#x27;", "'")
