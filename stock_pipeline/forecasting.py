"""As-of training and forecasting: the work behind ``windowed_tensors`` and ``lstm_model``.

Plain functions over a DuckDB connection and settings; the Dagster assets only
call them. Every function takes an as-of date d and reads nothing dated after d.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import numpy as np
import pandas as pd

from stock_pipeline import storage
from stock_pipeline.calendar import trading_days
from stock_pipeline.features import (
    FeatureError,
    FeatureTable,
    LabelScaler,
    Scaler,
    build_feature_table,
    fit_label_scaler,
    fit_scaler,
    rows_needed,
    targets,
    training_windows,
    windows,
)
from stock_pipeline.settings import FeatureSettings, Settings


def feature_set_id(features: FeatureSettings) -> str:
    """Stored feature rows depend on the columns only (window/target are applied later)."""
    return Settings(features=FeatureSettings(columns=features.columns)).fingerprint("features")


@dataclass
class FeatureRowsResult:
    ticker: str
    asof: dt.date
    feature_set: str
    rows_total: int
    rows_new: int
    bytes_stored: int
    first_date: dt.date
    windows_available: int


def update_feature_rows(
    con: duckdb.DuckDBPyConnection, ticker: str, asof: dt.date, features: FeatureSettings
) -> FeatureRowsResult:
    """Compute the ticker's feature rows up to ``asof`` and store the ones not yet stored.

    Rows are causal, so rows already stored never change; only windows' *spec* is kept
    (window length, horizon, target), and windows are built as views when training.
    """
    joined = storage.read_joined(con, ticker, end=asof)
    if joined.empty or joined["date"].iloc[-1].date() != asof:
        last = joined["date"].iloc[-1].date() if not joined.empty else None
        raise FeatureError(
            f"{ticker}: no indicator row on {asof} (latest: {last}); materialize "
            "raw_ohlcv and indicators for that date first"
        )
    table = build_feature_table(ticker, joined, features, asof)
    fs = feature_set_id(features)
    con.execute(
        "INSERT OR REPLACE INTO feature_sets VALUES (?, ?, ?, ?, ?)",
        [fs, list(features.columns), features.window, features.horizon, features.target],
    ).fetchall()
    stored = con.execute(
        "SELECT max(date) FROM features WHERE ticker = ? AND feature_set = ?", [ticker, fs]
    ).fetchall()[0][0]
    start = (
        0
        if stored is None
        else int(np.searchsorted(table.dates, np.datetime64(stored, "D"), "right"))
    )
    new_dates = [d.item() for d in table.dates[start:]]
    storage.upsert_features(con, ticker, fs, new_dates, table.values[start:])
    return FeatureRowsResult(
        ticker=ticker,
        asof=asof,
        feature_set=fs,
        rows_total=len(table),
        rows_new=len(new_dates),
        bytes_stored=int(table.values[start:].nbytes),
        first_date=table.dates[0].item(),
        windows_available=max(len(table) - features.window + 1, 0),
    )


def load_feature_table(
    con: duckdb.DuckDBPyConnection, ticker: str, asof: dt.date, features: FeatureSettings
) -> FeatureTable:
    frame = storage.read_features(con, ticker, feature_set_id(features), asof)
    if frame.empty or frame["date"].iloc[-1].date() != asof:
        raise FeatureError(
            f"{ticker}: no feature row on {asof}; materialize windowed_tensors for that date first"
        )
    return FeatureTable(
        ticker=ticker,
        dates=frame["date"].to_numpy().astype("datetime64[D]"),
        values=np.vstack(frame["x"].to_numpy()).astype("float64"),
        columns=tuple(features.columns),
        log_return=frame["log_return"].to_numpy(dtype="float64"),
        adj_close=frame["adj_close"].to_numpy(dtype="float64"),
    )


def next_session(day: dt.date, steps: int, exchange: str = "XNYS") -> dt.date:
    return trading_days(
        day + dt.timedelta(days=1), day + dt.timedelta(days=7 * steps + 14), exchange
    )[steps - 1]


def ticker_dir(models_dir: Path, ticker: str) -> Path:
    return models_dir / quote(ticker, safe="")


_ASOF_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def latest_bundle_before(models_dir: Path, ticker: str, asof: dt.date) -> Path | None:
    folder = ticker_dir(models_dir, ticker)
    if not folder.exists():
        return None
    earlier = sorted(
        p
        for p in folder.iterdir()
        if _ASOF_DIR.match(p.name) and p.name < asof.isoformat() and (p / "bundle.json").exists()
    )
    return earlier[-1] if earlier else None


@dataclass
class ModelRun:
    ticker: str
    asof: dt.date
    mode: str  # "full" or "warm_start"
    reason: str
    epochs_run: int
    best_val_loss: float
    train_seconds: float
    samples_per_second: float
    train_samples: int
    parameter_count: int
    target_date: dt.date
    predicted: float
    model_version: str
    model_path: Path
    extra: dict[str, Any] = field(default_factory=dict)


def train_asof(ticker: str, asof: dt.date, settings: Settings) -> ModelRun:
    """Train (or warm-start) the model of (ticker, asof), save it, store its forecast.

    The warehouse is opened only to read the features and to write the forecast, not
    while training, so other writers are not locked out for minutes.
    """
    from stock_pipeline import model as lstm  # keras/JAX only when a model is needed

    fs, ms = settings.features, settings.model
    with storage.connect(settings.warehouse) as con:
        table = load_feature_table(con, ticker, asof, fs)
    asof_row = len(table) - 1
    needed = rows_needed(fs.window, fs.horizon, ms.min_train_samples, ms.validation_fraction)
    if len(table) < needed:
        raise lstm.TrainingDataError(
            f"{ticker} as of {asof}: {len(table)} usable feature rows (after the indicator "
            f"warm-up), need at least {needed} (window {fs.window} + horizon {fs.horizon} + "
            f"{ms.min_train_samples} training windows + validation)"
        )
    config_hash = settings.fingerprint("features", "model")
    previous = latest_bundle_before(settings.models_dir, ticker, asof)
    prev_bundle: dict[str, Any] | None = None
    if previous is not None:
        prev_model, prev_bundle = lstm.load_bundle(previous)
    mode, reason = "full", "no earlier model"
    if prev_bundle is not None:
        full_asof = np.datetime64(prev_bundle["full_retrain_asof"], "D")
        since_full = int(np.sum(table.dates > full_asof))
        if prev_bundle["config_hash"] != config_hash:
            reason = "configuration changed"
        elif since_full >= ms.retrain_every:
            reason = f"{since_full} sessions since the last full retrain (every {ms.retrain_every})"
        else:
            mode, reason = "warm_start", f"from {previous.name}, {since_full} session(s) since full"

    target = targets(table, fs)
    if mode == "full":
        train_rows = asof_row - fs.horizon + 1  # rows whose windows may train the model
        scaler = fit_scaler(table.values[:train_rows])
    else:
        scaler = Scaler.from_dict(prev_bundle["scaler"])
    scaled = scaler.transform(table.values)
    train = training_windows(scaled, target, fs.window, fs.horizon, asof_row)
    close_at_end = table.adj_close[train.end_rows]
    if mode == "full":
        labels = fit_label_scaler(fs.target, train.y, close_at_end)
        net = lstm.build_model(fs.window, len(fs.columns), ms, fs.target)
        x, y, epochs = train.x, labels.to_label(train.y, close_at_end), ms.epochs
    else:
        labels = LabelScaler(**prev_bundle["labels"])
        net = prev_model
        keep = slice(max(len(train.x) - ms.fine_tune_samples, 0), len(train.x))
        x, y = train.x[keep], labels.to_label(train.y[keep], close_at_end[keep])
        epochs = ms.fine_tune_epochs
    result = lstm.fit(net, x, y.astype("float32"), ms, fs.horizon, epochs)

    last_window = windows(scaled, fs.window)[-1:]
    raw = lstm.predict(result.model, last_window.astype("float32"))
    predicted = float(labels.from_label(raw, table.adj_close[-1:])[0])
    target_date = next_session(asof, fs.horizon, settings.exchange)
    full_asof = asof.isoformat() if mode == "full" else prev_bundle["full_retrain_asof"]
    version = f"lstm-{config_hash}-{full_asof}"
    folder = ticker_dir(settings.models_dir, ticker) / asof.isoformat()
    bundle = {
        "ticker": ticker,
        "asof": asof.isoformat(),
        "config_hash": config_hash,
        "features": fs.model_dump(mode="json"),
        "model": ms.model_dump(mode="json"),
        "feature_set": feature_set_id(fs),
        "scaler": scaler.to_dict(),
        "labels": {"kind": labels.kind, "scale": labels.scale},
        "mode": mode,
        "full_retrain_asof": full_asof,
        "epochs_run": result.epochs_run,
        "best_val_loss": result.best_val_loss,
        "trained_through": table.dates[train.end_rows[-1]].item().isoformat(),
        "model_version": version,
    }
    path = lstm.save_bundle(folder, result.model, bundle)
    forecast = {
        "ticker": ticker,
        "asof_date": asof,
        "target_date": target_date,
        "target_kind": fs.target,
        "predicted": predicted,
        "model_version": version,
    }
    with storage.connect(settings.warehouse) as con:
        storage.upsert_frame(
            con, "forecasts", pd.DataFrame([forecast]), ["ticker", "asof_date", "target_kind"]
        )
    return ModelRun(
        ticker=ticker,
        asof=asof,
        mode=mode,
        reason=reason,
        epochs_run=result.epochs_run,
        best_val_loss=result.best_val_loss,
        train_seconds=result.train_seconds,
        samples_per_second=result.samples_per_second,
        train_samples=result.samples,
        parameter_count=lstm.parameter_count(result.model),
        target_date=target_date,
        predicted=predicted,
        model_version=version,
        model_path=path,
    )


@dataclass
class EvaluationRun:
    ticker: str
    asof: dt.date
    metrics: pd.DataFrame
    verdict: Any
    folds: int
    folds_trained: int
    folds_reused: int
    predictions: int
    seconds: float
    span: tuple[dt.date, dt.date]


def evaluate_asof(ticker: str, asof: dt.date, settings: Settings) -> EvaluationRun:
    """Walk-forward evaluation as of d; writes ``predictions`` and ``evaluation_metrics``."""
    import time

    from stock_pipeline import evaluation

    started = time.perf_counter()
    with storage.connect(settings.warehouse) as con:
        table = load_feature_table(con, ticker, asof, settings.features)
    cache = evaluation.FoldCache(
        ticker_dir(settings.models_dir, ticker), evaluation.cache_key_config(settings)
    )
    result = evaluation.walk_forward(table, len(table) - 1, settings, cache)
    frame = result.predictions
    metrics = evaluation.score(frame, settings.features.target, settings.features.horizon)
    outcome = evaluation.verdict(metrics, ticker)
    predictions = frame[["date", "fold", "model", "predicted", "actual", "target_date"]].assign(
        ticker=ticker, asof_date=asof
    )
    predictions["date"] = predictions["date"].dt.date
    predictions["target_date"] = predictions["target_date"].dt.date
    metric_rows = metrics.assign(ticker=ticker, asof_date=asof)
    metric_rows["fold"] = metric_rows["fold"].astype("Int64")
    with storage.connect(settings.warehouse) as con:
        storage.replace_asof(
            con, {"predictions": predictions, "evaluation_metrics": metric_rows}, ticker, asof
        )
    return EvaluationRun(
        ticker=ticker,
        asof=asof,
        metrics=metrics,
        verdict=outcome,
        folds=len(result.folds),
        folds_trained=result.folds_trained,
        folds_reused=result.folds_reused,
        predictions=len(frame) // len(evaluation.MODELS),
        seconds=time.perf_counter() - started,
        span=(frame["date"].min().date(), frame["date"].max().date()),
    )


def summary_lines(settings: Settings, tickers: list[str], asof: dt.date) -> list[str]:
    """One plain line per ticker: the forecast and whether the LSTM beat naive, with p."""
    from stock_pipeline import evaluation

    lines = []
    with storage.connect(settings.warehouse, read_only=True) as con:
        for ticker in tickers:
            fc = con.execute(
                "SELECT target_date, predicted, target_kind FROM forecasts "
                "WHERE ticker = ? AND asof_date = ?",
                [ticker, asof],
            ).fetchall()
            metrics = con.execute(
                "SELECT model, fold, metric, value FROM evaluation_metrics "
                "WHERE ticker = ? AND asof_date = ?",
                [ticker, asof],
            ).df()
            forecast = (
                f"forecast for {fc[0][0]}: {fc[0][1]:+.5f} ({fc[0][2]})" if fc else "no forecast"
            )
            if metrics.empty:
                lines.append(f"{ticker}: {forecast}; not evaluated")
            else:
                lines.append(f"{evaluation.verdict(metrics, ticker).text}; {forecast}")
    return lines


@dataclass
class BacktestRun:
    ticker: str
    asof: dt.date
    metrics: pd.DataFrame  # strategy, metric, value
    report_path: Path
    preview_png_base64: str
    days: int
    stops: int
    breaker_trips: int


def report_dir(settings: Settings, ticker: str, asof: dt.date) -> Path:
    return settings.reports_dir / quote(ticker, safe="") / asof.isoformat()


def backtest_asof(ticker: str, asof: dt.date, settings: Settings) -> BacktestRun:
    """Backtest the out-of-sample predictions of (ticker, asof); write tables and the report."""
    from stock_pipeline import backtest, evaluation, report

    with storage.connect(settings.warehouse, read_only=True) as con:
        preds = con.execute(
            "SELECT p.date, p.model, p.predicted, p.actual, p.fold, o.adj_close AS close, "
            "t.adj_close AS actual_price FROM predictions p "
            "JOIN ohlcv o ON o.ticker = p.ticker AND o.date = p.date "
            "JOIN ohlcv t ON t.ticker = p.ticker AND t.date = p.target_date "
            "WHERE p.ticker = ? AND p.asof_date = ? ORDER BY p.date",
            [ticker, asof],
        ).df()
        if preds.empty:
            raise ValueError(
                f"{ticker}: no predictions as of {asof}; materialize walk_forward_evaluation first"
            )
        first = preds["date"].min()
        bars = con.execute(
            "SELECT o.date, o.open, o.close, o.adj_close, i.volatility_20 FROM ohlcv o "
            "JOIN indicators i USING (ticker, date) WHERE o.ticker = ? AND o.date BETWEEN ? AND ? "
            "ORDER BY o.date",
            [ticker, first, asof],
        ).df()
        fold_metrics = con.execute(
            "SELECT model, fold, metric, value FROM evaluation_metrics "
            "WHERE ticker = ? AND asof_date = ?",
            [ticker, asof],
        ).df()
    preds["date"] = pd.to_datetime(preds["date"])
    bars["date"] = pd.to_datetime(bars["date"])
    path = backtest.MarketPath.from_bars(bars)
    lstm_rows = preds[preds["model"] == "lstm"]
    implied, _ = evaluation.implied_return(lstm_rows, settings.features.target)
    by_date = pd.Series(implied, index=lstm_rows["date"].to_numpy().astype("datetime64[D]"))
    predicted = by_date.reindex(path.dates).to_numpy()
    sims = backtest.run_strategies(path, predicted, settings.backtest)
    daily = pd.concat(
        [
            pd.DataFrame(
                {
                    "date": sim.dates.astype("datetime64[ns]"),
                    "strategy": name,
                    "position": sim.position,
                    "return": sim.returns,
                    "equity": sim.equity,
                }
            )
            for name, sim in sims.items()
        ],
        ignore_index=True,
    )
    metric_rows = pd.DataFrame(
        [
            {"strategy": name, "metric": k, "value": v}
            for name, sim in sims.items()
            for k, v in backtest.metrics(sim, settings.backtest).items()
        ]
    )
    with storage.connect(settings.warehouse) as con:
        storage.replace_asof(
            con,
            {
                "backtest_daily": daily.assign(
                    ticker=ticker, asof_date=asof, date=daily["date"].dt.date
                ),
                "backtest_metrics": metric_rows.assign(ticker=ticker, asof_date=asof),
            },
            ticker,
            asof,
        )
    verdict = evaluation.verdict(fold_metrics, ticker) if not fold_metrics.empty else None
    rendered = report.render_report(
        report.ReportInputs(
            ticker=ticker,
            asof=asof,
            daily=daily,
            metrics=metric_rows,
            predictions=preds[["date", "model", "predicted", "actual"]],
            fold_metrics=fold_metrics,
            dm_text=verdict.text if verdict else f"{ticker}: not evaluated",
            conventions=backtest.CONVENTIONS,
            config=settings.model_dump(
                mode="json", include={"features", "model", "evaluation", "backtest"}
            ),
        ),
        report_dir(settings, ticker, asof),
    )
    return BacktestRun(
        ticker=ticker,
        asof=asof,
        metrics=metric_rows,
        report_path=rendered.html_path,
        preview_png_base64=rendered.preview_png_base64,
        days=len(path.dates) - 1,
        stops=sims["lstm"].stops,
        breaker_trips=sims["lstm"].breaker_trips,
    )


def summarize_backtests(settings: Settings) -> pd.DataFrame:
    """Rank tickers (their latest backtest) by skill and net Sharpe; flag where the LSTM lost."""
    with storage.connect(settings.warehouse) as con:
        frame = con.execute(
            """
            WITH latest AS (
                SELECT ticker, max(asof_date) AS asof_date FROM backtest_metrics GROUP BY ticker
            ),
            sharpe AS (
                SELECT b.ticker, b.asof_date,
                       max(value) FILTER (WHERE strategy = 'lstm') AS lstm_sharpe,
                       max(value) FILTER (WHERE strategy = 'naive') AS naive_sharpe,
                       max(value) FILTER (WHERE strategy = 'buy_and_hold') AS buy_and_hold_sharpe
                FROM backtest_metrics b JOIN latest USING (ticker, asof_date)
                WHERE metric = 'sharpe' GROUP BY ALL
            ),
            ev AS (
                SELECT e.ticker, e.asof_date,
                       max(value) FILTER (WHERE metric = 'skill') AS skill,
                       max(value) FILTER (WHERE metric = 'dm_pvalue') AS dm_pvalue,
                       max(value) FILTER (WHERE metric = 'dm_stat') AS dm_stat
                FROM evaluation_metrics e JOIN latest USING (ticker, asof_date)
                WHERE model = 'lstm' AND fold IS NULL GROUP BY ALL
            )
            SELECT * FROM sharpe LEFT JOIN ev USING (ticker, asof_date) ORDER BY ticker
            """
        ).df()
        if frame.empty:
            return frame
        frame["rank_skill"] = frame["skill"].rank(ascending=False, method="min").astype("Int64")
        frame["rank_sharpe"] = (
            frame["lstm_sharpe"].rank(ascending=False, method="min").astype("Int64")
        )
        # "lost": not significantly better than naive (or worse), or a lower net Sharpe
        frame["lost_to_naive"] = ~((frame["dm_stat"] < 0) & (frame["dm_pvalue"] < 0.05)) | (
            frame["lstm_sharpe"].fillna(-np.inf) < frame["naive_sharpe"].fillna(0)
        )
        frame["lost_to_buy_and_hold"] = frame["lstm_sharpe"].fillna(-np.inf) < frame[
            "buy_and_hold_sharpe"
        ].fillna(-np.inf)
        frame["report_path"] = [
            str(report_dir(settings, t, d) / "report.html")
            for t, d in zip(
                frame["ticker"], pd.to_datetime(frame["asof_date"]).dt.date, strict=True
            )
        ]
        out = frame.drop(columns=["dm_stat"])
        con.execute("DELETE FROM backtest_summary").fetchall()
        storage.upsert_frame(con, "backtest_summary", out, ["ticker"])
    return out.sort_values(["rank_skill", "ticker"])
