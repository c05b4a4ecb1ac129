"""The trading stage as of a date d (``backtest_report``, ``backtest_summary``): trade the
walk-forward's out-of-sample forecasts, score the strategies, write the report.

In three parts like the other stages, so that the simulation and the report can run on a
compute engine's workers while the warehouse stays with the caller: ``load_backtest``
(read predictions, bars, scores and the stored forecast), ``compute_backtest`` (pure but
for the ticker's report folder: simulate, score, render the HTML report, prune older
ones) and ``store_backtest`` (the one write). ``backtest_asof`` is the three in turn.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from stock_pipeline.evaluation.metrics import Verdict, verdict
from stock_pipeline.forecasting.targets import TARGETS, Target
from stock_pipeline.settings import Settings
from stock_pipeline.trading import backtest, strategies
from stock_pipeline.trading.report.html import render_report
from stock_pipeline.trading.report.inputs import Forecast, ReportInputs
from stock_pipeline.warehouse import Connection, Warehouse, results


@dataclass
class BacktestRun:
    ticker: str
    asof: dt.date
    metrics: pd.DataFrame  # strategy, metric, value
    report_path: Path
    preview_svg_base64: str
    days: int
    stops: int
    breaker_trips: int
    verdict: Verdict | None = None
    forecast: Forecast | None = None


def report_dir(settings: Settings, ticker: str, asof: dt.date) -> Path:
    return settings.ticker_reports_dir(ticker) / asof.isoformat()


def prune_reports(settings: Settings, ticker: str, written: dt.date) -> list[Path]:
    """Delete the ticker's report folders beyond the ``reports_kept`` newest as-of dates
    (never the one just ``written``); returns what was deleted."""
    keep = settings.backtest.reports_kept
    folder = settings.ticker_reports_dir(ticker)
    if keep is None or not folder.is_dir():
        return []
    dated = []
    for child in folder.iterdir():
        try:
            dated.append((dt.date.fromisoformat(child.name), child))
        except ValueError:
            continue  # not a report folder of ours
    dated.sort(reverse=True)
    doomed = [path for day, path in dated[keep:] if day != written]
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)
    return doomed


def simulate_asof(
    preds: pd.DataFrame, bars: pd.DataFrame, settings: Settings
) -> dict[str, backtest.Simulation]:
    """Every strategy over the sessions of ``bars``, trading the models' forecasts in the
    units their target trades (``Target.traded_forecast``: h-day log returns for return
    and price targets, probabilities for direction, variances for volatility)."""
    path = backtest.MarketPath.from_bars(bars)
    fs = settings.features
    target = TARGETS[fs.target]
    forecasts = {m: _by_date(preds, m, path.dates, target) for m in ("lstm", "naive")}
    return strategies.run_strategies(path, forecasts, settings.backtest, fs.target, fs.horizon)


def _by_date(preds: pd.DataFrame, model: str, dates: np.ndarray, target: Target) -> np.ndarray:
    """``model``'s forecasts on ``dates`` in the units ``target`` trades (NaN where it made
    none)."""
    rows = preds[preds["model"] == model]
    by_date = pd.Series(
        target.traded_forecast(rows), index=rows["date"].to_numpy().astype("datetime64[D]")
    )
    return by_date.reindex(dates).to_numpy()


def simulation_tables(
    sims: dict[str, backtest.Simulation], settings: Settings
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(daily: date, strategy, position, return, equity; metrics: strategy, metric, value)."""
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
    return daily, metric_rows


def report_bars(bars: pd.DataFrame) -> pd.DataFrame:
    """The sessions the backtest trades on with the prices it executes at: date and the
    adjusted open and close of ``backtest.MarketPath``."""
    path = backtest.MarketPath.from_bars(bars)
    return pd.DataFrame(
        {"date": path.dates.astype("datetime64[ns]"), "open": path.open, "close": path.close}
    )


def fold_dates(preds: pd.DataFrame) -> dict[int, tuple[dt.date, dt.date]]:
    """Each fold's first and last forecast origin (the sessions its model forecast from)."""
    spans = preds.groupby("fold")["date"].agg(["min", "max"])
    return {
        int(fold): (pd.Timestamp(first).date(), pd.Timestamp(last).date())
        for fold, (first, last) in spans.iterrows()
    }


@dataclass
class BacktestJob:
    """What the backtest of (ticker, d) needs, read from the warehouse: all of it picklable."""

    ticker: str
    asof: dt.date
    settings: Settings
    predictions: pd.DataFrame  # the walk-forward's, with the prices they are scored on
    bars: pd.DataFrame  # the sessions traded, from the first prediction to d
    fold_metrics: pd.DataFrame
    forecast: Forecast | None  # the next-session forecast made at d, if one is stored
    comparison: pd.DataFrame


@dataclass
class BacktestFrames:
    """The simulation's rows for ``backtest_daily`` and the run record to return once
    they (and ``run.metrics``, for ``backtest_metrics``) are stored."""

    daily: pd.DataFrame  # date, strategy, position, return, equity
    run: BacktestRun


def load_backtest(
    warehouse: Warehouse, ticker: str, asof: dt.date, settings: Settings
) -> BacktestJob:
    """Everything the backtest and its report of (ticker, d) read from the warehouse."""
    with warehouse.connect(read_only=True) as con:
        preds = results.read_predictions_with_prices(con, ticker, asof)
        if preds.empty:
            raise ValueError(
                f"{ticker}: no predictions as of {asof}; materialize walk_forward_evaluation first"
            )
        bars = results.read_backtest_bars(con, ticker, preds["date"].min(), asof)
        fold_metrics = results.read_evaluation_metrics(con, ticker, asof)
        stored_forecast = results.read_forecast(con, ticker, asof, settings.features.target)
        comparison = results.read_comparison(con, ticker, asof)
    return BacktestJob(
        ticker=ticker,
        asof=asof,
        settings=settings,
        predictions=preds,
        bars=bars,
        fold_metrics=fold_metrics,
        forecast=Forecast(*stored_forecast) if stored_forecast else None,
        comparison=comparison,
    )


def report_inputs(
    job: BacktestJob, daily: pd.DataFrame, metric_rows: pd.DataFrame, judged: Verdict | None
) -> ReportInputs:
    """The HTML report of (ticker, d), drawn from the loaded rows and the simulation."""
    settings = job.settings
    return ReportInputs(
        ticker=job.ticker,
        asof=job.asof,
        daily=daily,
        metrics=metric_rows,
        predictions=job.predictions[["date", "model", "predicted", "actual"]],
        fold_metrics=job.fold_metrics,
        dm_text=judged.text if judged else f"{job.ticker}: not evaluated",
        conventions=backtest.CONVENTIONS,
        config=settings.model_dump(
            mode="json", include={"features", "model", "evaluation", "backtest"}
        ),
        target_kind=settings.features.target,
        bars=report_bars(job.bars),
        fold_dates=fold_dates(job.predictions),
        forecast=job.forecast,
        execution=settings.backtest.execution,
        risk_free_rate=settings.backtest.risk_free_rate,
        comparison=job.comparison,
    )


def compute_backtest(job: BacktestJob) -> BacktestFrames:
    """Simulate every strategy, score them and write the HTML report (pruning the
    ticker's older ones): no warehouse, only the ticker's report folder on disk, so it
    can run on an engine's worker (a ticker's dates go to one call, in order)."""
    ticker, asof, settings = job.ticker, job.asof, job.settings
    sims = simulate_asof(job.predictions, job.bars, settings)
    daily, metric_rows = simulation_tables(sims, settings)
    judged = verdict(job.fold_metrics, ticker) if not job.fold_metrics.empty else None
    rendered = render_report(
        report_inputs(job, daily, metric_rows, judged), report_dir(settings, ticker, asof)
    )
    prune_reports(settings, ticker, asof)
    run = BacktestRun(
        ticker=ticker,
        asof=asof,
        metrics=metric_rows,
        report_path=rendered.html_path,
        preview_svg_base64=rendered.preview_svg_base64,
        days=len(job.bars) - 1,
        stops=sims["lstm"].stops,
        breaker_trips=sims["lstm"].breaker_trips,
        verdict=judged,
        forecast=job.forecast,
    )
    return BacktestFrames(daily=daily, run=run)


def store_backtest(warehouse: Warehouse, frames: BacktestFrames) -> BacktestRun:
    """Writes ``backtest_daily`` and ``backtest_metrics`` of (ticker, d)."""
    run, daily = frames.run, frames.daily
    with warehouse.connect() as con:
        results.replace_backtest(
            con,
            run.ticker,
            run.asof,
            daily.assign(ticker=run.ticker, asof_date=run.asof, date=daily["date"].dt.date),
            run.metrics.assign(ticker=run.ticker, asof_date=run.asof),
        )
    return run


def backtest_asof(
    warehouse: Warehouse, ticker: str, asof: dt.date, settings: Settings
) -> BacktestRun:
    """Backtest the out-of-sample predictions of (ticker, asof); write tables and the report."""
    job = load_backtest(warehouse, ticker, asof, settings)
    return store_backtest(warehouse, compute_backtest(job))


def summarize_backtests(con: Connection, settings: Settings) -> pd.DataFrame:
    """Rank tickers (their latest backtest) by skill and net Sharpe; flag where the LSTM lost."""
    frame = results.read_latest_backtests(con)
    if frame.empty:
        return frame
    frame["rank_skill"] = frame["skill"].rank(ascending=False, method="min").astype("Int64")
    frame["rank_sharpe"] = frame["lstm_sharpe"].rank(ascending=False, method="min").astype("Int64")
    # "lost": not significantly better than naive (or worse), or a lower net Sharpe
    frame["lost_to_naive"] = ~((frame["dm_stat"] < 0) & (frame["dm_pvalue"] < 0.05)) | (
        frame["lstm_sharpe"].fillna(-np.inf) < frame["naive_sharpe"].fillna(0)
    )
    frame["lost_to_buy_and_hold"] = frame["lstm_sharpe"].fillna(-np.inf) < frame[
        "buy_and_hold_sharpe"
    ].fillna(-np.inf)
    frame["report_path"] = [
        str(report_dir(settings, t, d) / "report.html")
        for t, d in zip(frame["ticker"], pd.to_datetime(frame["asof_date"]).dt.date, strict=True)
    ]
    out = frame.drop(columns=["dm_stat"])
    results.replace_backtest_summary(con, out)
    return out.sort_values(["rank_skill", "ticker"])
