"""windowed_tensors and lstm_model through Dagster: the as-of property end to end."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import numpy as np
import pytest
from dagster import AssetKey, DagsterInstance

from stock_pipeline.cli import launch
from stock_pipeline.definitions import build_definitions
from stock_pipeline.forecasting.feature_rows import (
    feature_set_id,
    load_feature_table,
    update_feature_rows,
)
from stock_pipeline.market_data import ingest
from stock_pipeline.settings import Settings
from stock_pipeline.warehouse import WarehouseFile, connect, prices
from stock_pipeline.warehouse import features as stored_features
from stock_pipeline_tests.support.synthetic import synthetic_bars, write_csv

CHAIN = "windowed_tensors,lstm_model"


def run_pipeline(
    base: Settings, root: Path, bars_by_ticker: dict, asof: dt.date, tickers=None
) -> tuple[Settings, list, DagsterInstance]:
    """Materialize data assets over all bars, then the model chain as of ``asof``."""
    csv, data = root / "csv", root / "data"
    for ticker, bars in bars_by_ticker.items():
        write_csv(csv, ticker, bars)
    settings = base.with_changes(data_dir=data, source={"name": "csv", "csv_dir": csv})
    defs, instance = build_definitions(settings), DagsterInstance.ephemeral()
    tickers = tickers or list(bars_by_ticker)
    any_bars = next(iter(bars_by_ticker.values()))
    first, last = any_bars["date"].iloc[0].date(), any_bars["date"].iloc[-1].date()
    data_runs = launch.materialize(
        defs, instance, tickers, first, last, "raw_ohlcv,indicators", settings
    )
    assert all(o.success for o in data_runs), [o.errors for o in data_runs]
    outcomes = launch.materialize(defs, instance, tickers, asof, asof, CHAIN, settings)
    return settings, outcomes, instance


def test_perturbing_bars_after_d_changes_nothing_as_of_d(small, tmp_path):
    bars = synthetic_bars(220, seed=11)
    d = bars["date"].iloc[180].date()
    future = bars.copy()
    rng = np.random.default_rng(5)
    scale = rng.uniform(0.7, 1.4, len(bars) - 181)
    for col in ("open", "high", "low", "close", "adj_close"):
        future.loc[181:, col] *= scale
    future.loc[181:, "volume"] *= rng.uniform(0.5, 2.0, len(bars) - 181)

    results = {}
    for name, frame in (("original", bars), ("perturbed", future)):
        settings, outcomes, _ = run_pipeline(small, tmp_path / name, {"AAA": frame}, d)
        assert [o.success for o in outcomes] == [True], outcomes[0].errors
        with connect(settings.warehouse, read_only=True) as con:
            fs = feature_set_id(settings.features)
            rows = stored_features.read_features(con, "AAA", fs, bars["date"].iloc[-1].date())
            forecast = con.execute("SELECT predicted, target_date FROM forecasts").fetchall()
            ohlcv_rows = con.execute("SELECT count(*) FROM ohlcv").fetchall()[0][0]
        (bundle,) = settings.ticker_models_dir("AAA").glob("folds/*/*/bundle.json")
        results[name] = (rows, forecast, json.loads(bundle.read_text()))
        assert ohlcv_rows == 220  # the future bars are in the warehouse...

    (rows_a, fc_a, bundle_a), (rows_b, fc_b, bundle_b) = results.values()
    # ...but partition d stored feature rows up to d only, identical in both worlds,
    assert rows_a["date"].max().date() == d and rows_b["date"].max().date() == d
    assert np.array_equal(np.vstack(rows_a["x"]), np.vstack(rows_b["x"]))
    # and trained the same model, to the bit, with the same forecast for the next session.
    assert fc_a == fc_b and fc_a[0][1] == bars["date"].iloc[181].date()
    assert bundle_a["scaler"] == bundle_b["scaler"]
    assert bundle_a["inputs_digest"] == bundle_b["inputs_digest"]
    assert bundle_a["best_val_loss"] == bundle_b["best_val_loss"]


def test_lstm_metadata_and_forecast_row(small, tmp_path):
    bars = synthetic_bars(150, seed=2)
    d = bars["date"].iloc[-1].date()
    settings, outcomes, instance = run_pipeline(small, tmp_path, {"M1": bars}, d)
    assert outcomes[-1].success, outcomes[-1].errors
    with connect(settings.warehouse, read_only=True) as con:
        (row,) = con.execute(
            "SELECT ticker, asof_date, target_kind, predicted, model_version FROM forecasts"
        ).fetchall()
    assert row[:3] == ("M1", d, "return") and np.isfinite(row[3])
    (path,) = settings.ticker_models_dir("M1").glob("folds/*/*/bundle.json")
    bundle = json.loads(path.read_text())
    assert len(bundle["scaler"]["mean"]) == len(settings.features.columns)
    assert row[4].endswith(f"-{bundle['fold_start']}-{bundle['inputs_digest'][:8]}")
    mat = instance.fetch_materializations(AssetKey("lstm_model"), limit=1).records[0]
    meta = mat.asset_materialization.metadata
    assert meta["fold_start"].value == bundle["fold_start"] == path.parent.name
    assert meta["trained_through"].value == bundle["trained_through"] < bundle["fold_start"]
    assert meta["forecast"].value == row[3] and meta["training_mode"].value == "trained"
    assert meta["forecast_shrink"].value == bundle["shrink"] == 1.0  # small: no shrinkage


def _stored_features(settings, ticker: str, bars) -> list:
    days = [t.date() for t in bars["date"]]
    with connect(settings.warehouse) as con:
        prices.upsert_ohlcv(con, ticker, bars, "test")
        ingest.update_indicators(con, ticker, days)
        update_feature_rows(con, ticker, days[-1], settings.features)
    return days


def test_the_deployed_forecast_is_its_folds_model_and_the_walk_forwards_prediction(small):
    from stock_pipeline.evaluation.evaluate import evaluate_asof
    from stock_pipeline.forecasting.folds import fold_keys
    from stock_pipeline.forecasting.forecast import forecast_asof

    settings = small
    days = _stored_features(settings, "W", synthetic_bars(160, seed=4))
    warehouse = WarehouseFile(settings.warehouse)
    nights = days[-8:-1]
    runs = [forecast_asof(warehouse, "W", d, settings) for d in nights]
    with connect(settings.warehouse, read_only=True) as con:
        table = load_feature_table(con, "W", days[-1], settings.features)
    keys = fold_keys(table, settings)[-8:-1]
    # a fold's model is trained on the first night it is needed, then only predicts
    expected = ["trained"] + [
        "trained" if keys[i] != keys[i - 1] else "cached" for i in range(1, len(keys))
    ]
    assert [r.mode for r in runs] == expected and "cached" in expected
    assert len({r.fold_start for r in runs}) == len(set(keys))
    # once each night's outcome is known, the walk-forward's prediction for it is the
    # forecast the deployed model stored that night
    evaluation = evaluate_asof(warehouse, "W", days[-1], settings)
    assert evaluation.folds_trained == 0 or evaluation.folds > len(set(keys))
    with connect(settings.warehouse, read_only=True) as con:
        stored = dict(con.execute("SELECT asof_date, predicted FROM forecasts").fetchall())
        predicted = dict(
            con.execute(
                "SELECT date, predicted FROM predictions WHERE model = 'lstm' AND asof_date = ?",
                [days[-1]],
            ).fetchall()
        )
    for night in nights:
        assert predicted[night] == stored[night]


def test_too_few_rows_says_how_many(small, tmp_path):
    bars = synthetic_bars(42, seed=3)  # 41 usable rows: log_return needs the previous close
    d = bars["date"].iloc[-1].date()
    _, outcomes, _ = run_pipeline(small, tmp_path, {"TINY": bars}, d)
    assert not outcomes[-1].success
    message = " ".join(outcomes[-1].errors)
    assert "TINY" in message and "41 usable feature rows" in message
    # window-1 + h + min_train + gap + validation, and an embargo of h before the first
    # forecast of a fold
    needed = 10 - 1 + 1 + 30 + 1 + 8 + 1
    assert f"need at least {needed}" in message


def test_nan_in_features_fails_that_ticker_only(small, tmp_path):
    good, bad = synthetic_bars(120, seed=6), synthetic_bars(120, seed=7)
    root = tmp_path / "run"
    d = good["date"].iloc[-1].date()
    with_rsi = small.with_changes(features={"columns": ("log_return", "rsi_14")})
    settings, _, _ = run_pipeline(with_rsi, root, {"GOOD": good, "BAD": bad}, d)
    broken_day = bad["date"].iloc[100].date()
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute(
            "UPDATE indicators SET rsi_14 = NULL WHERE ticker = 'BAD' AND date = ?", [broken_day]
        )
        con.execute("DELETE FROM features")
    defs, instance = build_definitions(settings), DagsterInstance.ephemeral()
    outcomes = launch.materialize(
        defs, instance, ["GOOD", "BAD"], d, d, "windowed_tensors", settings
    )
    # the run fails naming BAD; GOOD is carried on in a run of its own
    assert [o.success for o in outcomes] == [False, True]
    message = outcomes[0].failed_tickers["BAD"]
    assert "rsi_14" in message and str(broken_day) in message
    assert list(outcomes[0].failed_tickers) == ["BAD"]
    with connect(settings.warehouse, read_only=True) as con:
        counts = dict(con.execute("SELECT ticker, count(*) FROM features GROUP BY 1").fetchall())
    assert counts == {"GOOD": 120 - 13}  # rsi_14 (Wilder, 14 closes) is first valid on row 13


@pytest.mark.parametrize("target", ["direction", "price"])
def test_other_target_kinds_train_and_forecast(target, small):
    from stock_pipeline.forecasting.forecast import forecast_asof

    settings = small.with_changes(features={"target": target})
    bars = synthetic_bars(150, seed=9)
    days = _stored_features(settings, "K", bars)
    run = forecast_asof(WarehouseFile(settings.warehouse), "K", days[-1], settings)
    if target == "direction":
        assert 0.0 <= run.predicted <= 1.0
    else:  # a price near the last close, in price units
        last = bars["adj_close"].iloc[-1]
        assert 0.7 * last < run.predicted < 1.3 * last


def test_walk_forward_asset_writes_predictions_and_metrics(small_csv, csv_dir):
    bars = synthetic_bars(170, seed=12)
    d = bars["date"].iloc[-1].date()
    write_csv(csv_dir, "WF", bars)
    settings = small_csv
    defs, instance = build_definitions(settings), DagsterInstance.ephemeral()
    first = bars["date"].iloc[0].date()
    outcomes = launch.materialize(defs, instance, ["WF"], first, d, "*", settings)
    assert all(o.success for o in outcomes), [o.errors for o in outcomes]
    with connect(settings.warehouse, read_only=True) as con:
        preds = con.execute("SELECT * FROM predictions").df()
        metrics = con.execute("SELECT * FROM evaluation_metrics").df()
    assert set(preds["model"]) == {"lstm", "naive", "drift", "arima"}
    per_model = preds.groupby("model")["date"].apply(lambda s: tuple(sorted(s)))
    assert per_model.nunique() == 1
    assert (preds["date"] < preds["target_date"]).all() and (preds["asof_date"].dt.date == d).all()
    assert preds["target_date"].max().date() <= d  # only outcomes known by d are scored
    overall = metrics[metrics["fold"].isna() & (metrics["model"] == "lstm")]
    assert {
        "rmse",
        "mae",
        "mape",
        "direction_accuracy",
        "direction_ci_low",
        "direction_ci_high",
        "skill",
        "dm_stat",
        "dm_pvalue",
    } <= set(overall["metric"])
    assert metrics["fold"].notna().any()
    mat = instance.fetch_materializations(AssetKey("walk_forward_evaluation"), limit=1).records[0]
    meta = mat.asset_materialization.metadata
    assert 0 <= meta["dm_pvalue"].value <= 1 and meta["folds_trained"].value >= 1
    assert "naive" in meta["metrics"].value


def test_model_comparison_scores_every_kind_on_the_evaluation_days(small_csv, csv_dir):
    """The comparison's row for the configured kind is the evaluation's own forecasts (the
    fold cache is shared), every model is scored on the same days, and the report and the
    asset's metadata show the family tests."""
    bars = synthetic_bars(170, seed=13)
    d = bars["date"].iloc[-1].date()
    write_csv(csv_dir, "MC", bars)
    settings = small_csv
    defs, instance = build_definitions(settings), DagsterInstance.ephemeral()
    outcomes = launch.materialize(
        defs, instance, ["MC"], bars["date"].iloc[0].date(), d, "*", settings
    )
    assert all(o.success for o in outcomes), [o.errors for o in outcomes]
    with connect(settings.warehouse, read_only=True) as con:
        preds = con.execute("SELECT * FROM predictions WHERE model = 'lstm'").df()
        rows = con.execute("SELECT * FROM model_comparison").df()
    kinds = set(settings.evaluation.compare_kinds)
    per_model = rows[rows["model"] != "family"].pivot(
        index="model", columns="metric", values="value"
    )
    assert set(per_model.index) == kinds | {"naive", "drift", "arima"}
    # mean squared error of the evaluation's LSTM forecasts, by hand
    expected = float(((preds["predicted"] - preds["actual"]) ** 2).mean())
    assert per_model.at[settings.model.kind, "mean_loss"] == pytest.approx(expected)
    family = rows[rows["model"] == "family"].set_index("metric")["value"]
    assert 0 <= family["spa_pvalue"] <= 1 and family["models_tested"] == len(kinds) + 2
    mat = instance.fetch_materializations(AssetKey("model_comparison"), limit=1).records[0]
    meta = mat.asset_materialization.metadata
    assert meta["verdict"].value.startswith("MC: ")
    assert meta["best_kind"].value in kinds
    report = Path(
        instance.fetch_materializations(AssetKey("backtest_report"), limit=1)
        .records[0]
        .asset_materialization.metadata["report_path"]
        .value
    ).read_text()
    assert 'id="comparison-table"' in report and f'data-row="{settings.model.kind}"' in report
