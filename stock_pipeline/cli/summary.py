"""What the CLI prints after a run: one plain line per ticker, and where reports are."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from stock_pipeline.evaluation.metrics import verdict
from stock_pipeline.settings import Settings
from stock_pipeline.warehouse import connect, results


def summary_lines(settings: Settings, tickers: list[str], asof: dt.date) -> list[str]:
    """One plain line per ticker: the forecast and whether the LSTM beat naive, with p."""
    lines = []
    with connect(settings.warehouse, read_only=True) as con:
        for ticker in tickers:
            fc = results.read_forecast(con, ticker, asof)
            metrics = results.read_evaluation_metrics(con, ticker, asof)
            forecast = f"forecast for {fc[0]}: {fc[1]:+.5f} ({fc[2]})" if fc else "no forecast"
            if metrics.empty:
                lines.append(f"{ticker}: {forecast}; not evaluated")
            else:
                lines.append(f"{verdict(metrics, ticker).text}; {forecast}")
    return lines


def latest_report(settings: Settings, ticker: str, asof: dt.date | None = None) -> Path | None:
    """The report of ``asof`` (or the newest one) for ``ticker``, or None."""
    folder = settings.ticker_reports_dir(ticker)
    if asof is not None:
        path = folder / asof.isoformat() / "report.html"
        return path.resolve() if path.exists() else None
    found = sorted(folder.glob("*/report.html"))
    return found[-1].resolve() if found else None
