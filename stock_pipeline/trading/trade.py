"""The trading stage as of a date d (``backtest_report``, ``backtest_summary``): trade the
walk-forward's out-of-sample forecasts, score the strategies, write the report."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from stock_pipeline.evaluation.metrics import Verdict, implied_return, verdict
from stock_pipeline.settings import Settings
from stock_pipeline.trading import backtest
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
    """Every strategy over the sessions of ``bars``, trading the LSTM's forecasts: as h-day
    log returns (return and price targets) or as probabilities (direction); a volatility
    target's variance forecasts size a volatility-targeted long position instead."""
    path = backtest.MarketPath.from_bars(bars)
    fs = settings.features
    if fs.target == "volatility":
        forecasts = {m: _by_date(preds, m, path.dates) for m in ("lstm", "naive")}
        return backtest.run_volatility_strategies(path, forecasts, settings.backtest, fs.horizon)
    lstm_rows = preds[preds["model"] == "lstm"]
    if fs.target == "direction":
        forecast = lstm_rows["predicted"].to_numpy()
    else:
        forecast, _ = implied_return(lstm_rows, fs.target)
    by_date = pd.Series(forecast, index=lstm_rows["date"].to_numpy().astype("datetime64[D]"))
    predicted = by_date.reindex(path.dates).to_numpy()
    return backtest.run_strategies(path, predicted, settings.backtest, fs.target, fs.horizon)


def _by_date(preds: pd.DataFrame, model: str, dates: np.ndarray) -> np.ndarray:
    """``model``'s predictions on ``dates`` (NaN where it made none)."""
    rows = preds[preds["model"] == model]
    by_date = pd.Series(
        rows["predicted"].to_numpy(), index=rows["date"].to_numpy().astype("datetime64[D]")
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


def backtest_asof(
    warehouse: Warehouse, ticker: str, asof: dt.date, settings: Settings
) -> BacktestRun:
    """Backtest the out-of-sample predictions of (ticker, asof); write tables and the report."""
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
    sims = simulate_asof(preds, bars, settings)
    daily, metric_rows = simulation_tables(sims, settings)
    with warehouse.connect() as con:
        results.replace_backtest(
            con,
            ticker,
            asof,
            daily.assign(ticker=ticker, asof_date=asof, date=daily["date"].dt.date),
            metric_rows.assign(ticker=ticker, asof_date=asof),
        )
    level = settings.evaluation.verdict_level
    judged = verdict(fold_metrics, ticker, level) if not fold_metrics.empty else None
    forecast = Forecast(*stored_forecast) if stored_forecast else None
    rendered = render_report(
        ReportInputs(
            ticker=ticker,
            asof=asof,
            daily=daily,
            metrics=metric_rows,
            predictions=preds[["date", "model", "predicted", "actual"]],
            fold_metrics=fold_metrics,
            dm_text=judged.text if judged else f"{ticker}: not evaluated",
            conventions=backtest.CONVENTIONS,
            config=settings.model_dump(
                mode="json", include={"features", "model", "evaluation", "backtest"}
            ),
            target_kind=settings.features.target,
            bars=report_bars(bars),
            fold_dates=fold_dates(preds),
            forecast=forecast,
            execution=settings.backtest.execution,
            risk_free_rate=settings.backtest.risk_free_rate,
            comparison=comparison,
        ),
        report_dir(settings, ticker, asof),
    )
    prune_reports(settings, ticker, asof)
    return BacktestRun(
        ticker=ticker,
        asof=asof,
        metrics=metric_rows,
        report_path=rendered.html_path,
        preview_svg_base64=rendered.preview_svg_base64,
        days=len(bars) - 1,
        stops=sims["lstm"].stops,
        breaker_trips=sims["lstm"].breaker_trips,
        verdict=judged,
        forecast=forecast,
    )


def summarize_backtests(con: Connection, settings: Settings) -> pd.DataFrame:
    """Rank tickers (their latest backtest) by skill and net Sharpe; flag where the LSTM lost."""
    frame = results.read_latest_backtests(con)
    if frame.empty:
        return frame
    frame["rank_skill"] = frame["skill"].rank(ascending=False, method="min").astype("Int64")
    frame["rank_sharpe"] = frame["lstm_sharpe"].rank(ascending=False, method="min").astype("Int64")
    # "lost": not significantly better than naive (or worse), or a lower net Sharpe
    level = settings.evaluation.verdict_level
    frame["lost_to_naive"] = ~((frame["dm_stat"] < 0) & (frame["dm_pvalue"] < level)) | (
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
