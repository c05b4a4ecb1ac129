"""The volatility target: its label, its baselines, its scores, and the LSTM against
GARCH(1,1) on a series simulated from GARCH(1,1) itself."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pandas as pd
import pytest

from stock_pipeline.evaluation.metrics import score, verdict
from stock_pipeline.evaluation.volatility_baselines import (
    VolatilityBaselines,
    garch_fit,
    garch_forecasts,
    har_fit,
)
from stock_pipeline.evaluation.volatility_scores import mse, qlike, qlike_losses
from stock_pipeline.evaluation.walk_forward import walk_forward
from stock_pipeline.forecasting.features import FeatureTable, fit_label_scaler, targets
from stock_pipeline.forecasting.folds import folds_of_origins, span_origins
from stock_pipeline.settings import EvaluationSettings, FeatureSettings, Settings
from stock_pipeline_tests.support.synthetic import feature_table_of, sessions, synthetic_bars

# GARCH(1,1) of daily log returns: unconditional variance omega / (1 - a - b) = 1e-4 (1%
# a day), persistence 0.98, as equity indices typically show.
OMEGA, ALPHA, BETA = 2e-6, 0.08, 0.90


def garch_returns(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(returns, conditional variances) from the GARCH(1,1) recursion, started at the
    unconditional variance."""
    z = np.random.default_rng(seed).standard_normal(n)
    r, sigma2 = np.zeros(n), np.zeros(n)
    s2 = OMEGA / (1 - ALPHA - BETA)
    for t in range(n):
        sigma2[t], r[t] = s2, math.sqrt(s2) * z[t]
        s2 = OMEGA + ALPHA * r[t] ** 2 + BETA * s2
    return r, sigma2


def returns_table(r: np.ndarray, ticker: str = "G") -> FeatureTable:
    dates = np.array(sessions(len(r)), dtype="datetime64[D]")
    return FeatureTable(ticker, dates, r[:, None].copy(), ("log_return",), r.copy(), np.exp(r))


@pytest.fixture(scope="module")
def simulated() -> tuple[np.ndarray, np.ndarray]:
    return garch_returns(2500, seed=3)


# --- the label ------------------------------------------------------------------------


def test_realized_variance_and_range_estimators_by_hand() -> None:
    o = np.array([100.0, 101.0, 99.0, 102.0, 100.0])
    h = np.array([102.0, 103.0, 101.0, 104.0, 101.0])
    lo = np.array([99.0, 100.0, 97.0, 101.0, 98.0])
    c = np.array([101.0, 100.0, 100.0, 103.0, 99.0])
    r = np.array([0.0, 0.01, -0.02, 0.03, -0.005])
    table = FeatureTable(
        "T",
        np.array(sessions(5), dtype="datetime64[D]"),
        r[:, None],
        ("log_return",),
        r,
        c,
        np.column_stack([o, h, lo, c]),
    )
    settings = FeatureSettings(target="volatility", horizon=2)
    # row 1: days 2 and 3; the last two rows have no complete future
    got = targets(table, settings)
    assert got[1] == pytest.approx(0.02**2 + 0.03**2, rel=1e-12)
    assert np.isnan(got[-2:]).all()

    def parkinson(i: int) -> float:
        return math.log(h[i] / lo[i]) ** 2 / (4 * math.log(2))

    def garman_klass(i: int) -> float:
        return (
            0.5 * math.log(h[i] / lo[i]) ** 2 - (2 * math.log(2) - 1) * math.log(c[i] / o[i]) ** 2
        )

    for name, daily in (("parkinson", parkinson), ("garman_klass", garman_klass)):
        got = targets(table, settings.model_copy(update={"volatility_estimator": name}))
        assert got[0] == pytest.approx(daily(1) + daily(2), rel=1e-12)
        assert got[2] == pytest.approx(daily(3) + daily(4), rel=1e-12)


def test_the_log_label_round_trips_and_floors_zero_variance() -> None:
    y = np.array([1e-4, 4e-4, 0.0, 2.5e-5])
    labels = fit_label_scaler("volatility", y, np.ones(4))
    floor = 1e-4 * y.mean()
    assert labels.floor == pytest.approx(floor)
    logs = np.log([1e-4, 4e-4, floor, 2.5e-5])
    assert labels.center == pytest.approx(logs.mean()) and labels.scale == pytest.approx(logs.std())
    back = labels.from_label(labels.to_label(y, np.ones(4)), np.ones(4))
    np.testing.assert_allclose(back, [1e-4, 4e-4, floor, 2.5e-5], rtol=1e-12)
    assert (back > 0).all()  # exp(): never a zero or negative variance, whatever the output


# --- the scores -----------------------------------------------------------------------


def test_qlike_and_mse_by_hand() -> None:
    f, a = np.array([1.0, 2.0]), np.array([2.0, 1.0])
    # day 1: 2/1 - log 2 - 1; day 2: 1/2 - log(1/2) - 1
    assert qlike(f, a) == pytest.approx(((1 - math.log(2)) + (math.log(2) - 0.5)) / 2)
    assert mse(f, a) == 1.0
    assert qlike(a, a) == 0.0  # a perfect forecast loses nothing
    # a zero actual is raised to the floor: 0.1/2 - log(0.1/2) - 1
    assert qlike_losses(np.array([2.0]), np.array([0.0]), 0.1)[0] == pytest.approx(
        0.05 - math.log(0.05) - 1
    )


# --- the GARCH family and HAR ---------------------------------------------------------


def test_garch_recovers_the_simulated_parameters(simulated) -> None:
    r, _ = simulated
    omega, alpha, beta = garch_fit(r, "garch")  # percent units: omega x 1e4
    # With 2,500 days the MLE's standard errors are about 0.012 for alpha and 0.02 for
    # beta (arch's robust estimates on this very fit: 0.0122, 0.0198); 3 of them either
    # side. omega alone is poorly identified when alpha + beta is near 1, so the test is on
    # the unconditional variance it implies, 1 (% a day, squared) in truth, within 30%
    # (this fit: alpha 0.059, beta 0.915, unconditional 0.86).
    assert alpha == pytest.approx(ALPHA, abs=0.036)
    assert beta == pytest.approx(BETA, abs=0.06)
    assert omega / (1 - alpha - beta) == pytest.approx(OMEGA * 1e4 / (1 - ALPHA - BETA), rel=0.3)


def test_garch_one_step_forecast_is_the_recursion_on_returns_up_to_the_origin(simulated):
    r, _ = simulated
    params = garch_fit(r[:2000], "garch")
    origins = np.arange(1500, 2400, 7)
    got = garch_forecasts(r, params, "garch", origins, 1)
    # by hand, in decimal units: sigma2[t+1] = omega + alpha r_t^2 + beta sigma2[t]; the
    # start value is forgotten (0.9^1500 ~ 1e-69) long before the first origin
    omega, alpha, beta = params[0] / 1e4, params[1], params[2]
    s2, by_hand = float(np.var(r)), np.empty(len(r))
    for t in range(len(r)):
        s2 = omega + alpha * r[t] ** 2 + beta * s2  # the forecast made at t's close
        by_hand[t] = s2
    np.testing.assert_allclose(got, by_hand[origins], rtol=1e-8)
    # rewriting every return after an origin changes nothing at or before it
    cut = 2000
    other = r.copy()
    other[cut + 1 :] = np.random.default_rng(1).standard_normal(len(r) - cut - 1) * 0.03
    again = garch_forecasts(other, params, "garch", origins, 1)
    before = origins <= cut
    np.testing.assert_array_equal(again[before], got[before])
    assert not np.array_equal(again[~before], got[~before])


def test_har_is_the_ols_of_its_definition() -> None:
    daily = np.random.default_rng(4).gamma(2.0, 5e-5, 400)
    s = pd.Series(daily)
    target = s.shift(-1).to_numpy()  # h = 1: tomorrow's variance
    rows = np.arange(30, 350)
    x = np.column_stack([np.ones(400), daily, s.rolling(5).mean(), s.rolling(22).mean()])[rows]
    by_hand = np.linalg.solve(x.T @ x, x.T @ target[rows])
    np.testing.assert_allclose(har_fit(daily, target, rows), by_hand, rtol=1e-8)


def test_every_volatility_baseline_is_causal(simulated) -> None:
    r, _ = simulated
    settings = Settings(features={"target": "volatility"}, evaluation={"span_sessions": 63})
    table = returns_table(r[:1200])
    origins = span_origins(len(table) - 1, settings)
    fold, rows = folds_of_origins(table, origins, settings)[-1]
    cut = int(rows[len(rows) // 2])
    other = returns_table(r[:1200])
    other.log_return[cut + 1 :] *= 3.0
    got = VolatilityBaselines(table, settings, None).fold_forecasts(fold, rows)
    again = VolatilityBaselines(other, settings, None).fold_forecasts(fold, rows)
    before = rows <= cut
    for name, values in got.items():
        assert (values > 0).all(), name
        np.testing.assert_array_equal(again[name][before], values[before], err_msg=name)
    for name in ("naive", "garch", "gjr", "egarch", "har"):  # drift is fixed in a fold
        assert not np.array_equal(again[name][~before], got[name][~before]), name
    # naive is the last 21 sessions' mean squared return, times h = 1
    t = int(rows[0])
    assert got["naive"][0] == pytest.approx(np.mean(r[t - 20 : t + 1] ** 2), rel=1e-12)


# --- through the walk-forward ---------------------------------------------------------


def _overall(metrics: pd.DataFrame, model: str) -> dict[str, float]:
    rows = metrics[(metrics["model"] == model) & metrics["fold"].isna()]
    return dict(zip(rows["metric"], rows["value"], strict=True))


def test_the_lstm_does_not_beat_garch_on_garch_data(simulated) -> None:
    # Default features and model, the volatility target; the span is the last 126
    # sessions (6 folds, 6 trainings) rather than the default 756 (36), to stay fast.
    settings = Settings(features={"target": "volatility"}, evaluation={"span_sessions": 126})
    r, sigma2 = simulated
    result = walk_forward(returns_table(r), len(r) - 1, settings)
    frame = result.predictions
    metrics = score(frame, "volatility", 1)
    lstm = _overall(metrics, "lstm")
    beat = lstm["dm_vs_garch_stat_qlike"] < 0 and lstm["dm_vs_garch_pvalue_qlike"] < 0.05
    assert not beat, lstm
    judged = verdict(metrics, "G", EvaluationSettings().verdict_level)
    assert judged.beats_garch is False
    assert "G: volatility: LSTM " in judged.text and "beat GARCH(1,1)" in judged.text
    assert (frame["predicted"] > 0).all() and np.isfinite(frame["predicted"]).all()
    # the comparison has teeth: GARCH's forecast at t tracks the true sigma2 of t+1 ...
    garch = frame[frame["model"] == "garch"]
    rows = np.searchsorted(returns_table(r).dates, garch["date"].to_numpy().astype("M8[D]"))
    assert np.corrcoef(garch["predicted"], sigma2[rows + 1])[0, 1] > 0.95
    # ... and, scored against that true variance (126 squared returns are too noisy a proxy
    # to rank them), is far closer to it than the unconditional variance is
    drift = frame[frame["model"] == "drift"]["predicted"]
    truth = sigma2[rows + 1]
    assert qlike(garch["predicted"], truth) < 0.2 * qlike(drift, truth)


def test_bars_after_d_change_nothing_dated_on_or_before_d() -> None:
    settings = Settings(
        features={"target": "volatility", "volatility_estimator": "garman_klass", "window": 10},
        model={"lstm_units": (8,), "epochs": 3, "patience": 2, "min_train_samples": 100},
        evaluation={"span_sessions": 40},
    )
    r, _ = garch_returns(400, seed=5)
    bars = synthetic_bars(400, seed=5, returns=r)
    cut = 380  # bars after row 380 are rewritten: their closes, ranges and volumes
    future = bars.copy()
    rng = np.random.default_rng(6)
    n = len(bars) - cut - 1
    for col in ("open", "close", "adj_close"):
        future.loc[cut + 1 :, col] *= rng.uniform(0.9, 1.1, n)
    future.loc[cut + 1 :, "high"] = future.loc[cut + 1 :, ["open", "close"]].max(axis=1) * 1.02
    future.loc[cut + 1 :, "low"] = future.loc[cut + 1 :, ["open", "close"]].min(axis=1) * 0.97
    d = np.datetime64(bars["date"].iloc[cut].date(), "ns")
    frames = []
    for source in (bars, future):
        table = feature_table_of("V", source, settings)
        frames.append(walk_forward(table, len(table) - 1, settings).predictions)
    a, b = frames
    assert (a["date"] <= d).any() and (a["date"] > d).any()  # d inside the scored span
    known = a["date"] <= d
    pd.testing.assert_series_equal(a.loc[known, "predicted"], b.loc[known, "predicted"])
    settled = a["target_date"] <= d
    pd.testing.assert_series_equal(a.loc[settled, "actual"], b.loc[settled, "actual"])
    for model in ("lstm", "garch", "har", "naive"):  # ...while every model's later ones move
        later = ~known & (a["model"] == model)
        assert not np.array_equal(a.loc[later, "predicted"], b.loc[later, "predicted"]), model


def test_the_lineage_runs_with_the_volatility_target(small_csv, csv_dir) -> None:
    from dagster import AssetKey, DagsterInstance

    from stock_pipeline.cli import launch
    from stock_pipeline.definitions import build_definitions
    from stock_pipeline.evaluation.volatility_scores import VOLATILITY_MODELS
    from stock_pipeline.warehouse import connect
    from stock_pipeline_tests.support.synthetic import write_csv

    settings = small_csv.with_changes(
        features={"target": "volatility", "volatility_estimator": "parkinson"},
        backtest={"target_volatility": 0.05},  # below the bars' ~14%: positions under the cap
    )
    bars = synthetic_bars(170, seed=12)
    first, d = bars["date"].iloc[0].date(), bars["date"].iloc[-1].date()
    write_csv(csv_dir, "VOL", bars)
    defs, instance = build_definitions(settings), DagsterInstance.ephemeral()
    outcomes = launch.materialize(defs, instance, ["VOL"], first, d, "*", settings)
    assert all(o.success for o in outcomes), [o.errors for o in outcomes]
    with connect(settings.warehouse, read_only=True) as con:
        preds = con.execute("SELECT * FROM predictions").df()
        metrics = con.execute("SELECT * FROM evaluation_metrics").df()
        (forecast,) = con.execute("SELECT target_kind, predicted FROM forecasts").fetchall()
        daily = con.execute("SELECT * FROM backtest_daily").df()
        compared = con.execute("SELECT * FROM model_comparison WHERE model != 'family'").df()
    assert set(preds["model"]) == set(VOLATILITY_MODELS) and (preds["predicted"] > 0).all()
    # the family comparison scores QLIKE: the LSTM kind's mean loss by hand
    table = compared.pivot(index="model", columns="metric", values="value")
    kinds = set(settings.evaluation.compare_kinds)
    assert set(table.index) == (set(VOLATILITY_MODELS) - {"lstm"}) | kinds
    own = preds[preds["model"] == "lstm"]
    actual = np.maximum(own["actual"].to_numpy(), 1e-4 * own["actual"].mean())
    ratio = actual / own["predicted"].to_numpy()
    assert table.at["lstm", "mean_loss"] == pytest.approx(np.mean(ratio - np.log(ratio) - 1))
    assert forecast[0] == "volatility" and forecast[1] > 0
    lstm = _overall(metrics, "lstm")
    assert {"qlike", "mse", "dm_pvalue_qlike", "dm_vs_garch_pvalue_qlike"} <= set(lstm)
    # the backtest held, from each session on, the long position the previous close's
    # forecast sized: 5% a year over the forecast's annualized volatility, capped at 1
    held = daily[daily["strategy"] == "lstm"].sort_values("date")["position"].to_numpy()
    made = preds[preds["model"] == "lstm"].sort_values("date")["predicted"].to_numpy()
    sized = np.minimum(1.0, 0.05 / np.sqrt(252 * made))
    np.testing.assert_allclose(held[: len(made)], sized, rtol=1e-12)
    assert len(np.unique(held)) > 2
    meta = instance.fetch_materializations(AssetKey("backtest_report"), limit=1).records[0]
    text = meta.asset_materialization.metadata["verdict"].value
    assert text.startswith("VOL: volatility: LSTM") and "GARCH(1,1)" in text


def test_the_estimator_keys_caches_only_when_it_is_not_the_default() -> None:
    # adding the field kept the fold caches and feature sets of every existing
    # configuration (its default is left out of the fingerprint) ...
    base = Settings()
    payload = {"features": base.features.model_dump(mode="json")}
    del payload["features"]["volatility_estimator"]
    legacy = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]
    assert base.fingerprint("features") == legacy
    # ... while another estimator is another model
    other = Settings(features={"target": "volatility", "volatility_estimator": "parkinson"})
    assert other.fingerprint("features") != Settings(features={"target": "volatility"}).fingerprint(
        "features"
    )


@pytest.mark.parametrize(
    ("stat", "p", "says"),
    [
        (-3.0, 0.01, "T: volatility: LSTM BEAT GARCH(1,1) (QLIKE 1.1 vs 1.2, DM p=0.01)"),
        (-1.0, 0.31, "T: volatility: LSTM did not significantly beat GARCH(1,1) (QLIKE 1.1"),
        (1.0, 0.31, "T: volatility: LSTM did not beat GARCH(1,1) (QLIKE 1.1 vs 1.2, DM p=0.31)"),
        (3.0, 0.01, "T: volatility: LSTM LOST to GARCH(1,1)"),
    ],
)
def test_the_verdict_says_whether_the_lstm_beat_garch(stat, p, says) -> None:
    rows = [
        ("lstm", "qlike", 1.1),
        ("garch", "qlike", 1.2),
        ("naive", "qlike", 1.3),
        ("lstm", "skill", 1 - 1.1 / 1.3),
        ("lstm", "dm_vs_garch_stat_qlike", stat),
        ("lstm", "dm_vs_garch_pvalue_qlike", p),
        ("lstm", "dm_stat_qlike", -2.5),
        ("lstm", "dm_pvalue_qlike", 0.02),
        ("lstm", "dm_stat", -2.5),
        ("lstm", "dm_pvalue", 0.02),
    ]
    metrics = pd.DataFrame(rows, columns=["model", "metric", "value"]).assign(fold=np.nan)
    judged = verdict(metrics, "T", EvaluationSettings().verdict_level)
    assert judged.text.startswith(says)
    assert judged.text.endswith("naive 21-session historical variance: QLIKE 1.1 vs 1.3, DM p=0.02")
    assert judged.beats_garch == (stat < 0 and p < 0.05)
    assert judged.beats_naive and judged.significant and judged.dm_pvalue == 0.02
