"""What the CLI prints after a run: one plain line per ticker, and where reports are."""

from __future__ import annotations

import datetime as dt
import difflib
from pathlib import Path
from urllib.parse import unquote

from stock_pipeline.evaluation.metrics import verdict
from stock_pipeline.settings import Settings
from stock_pipeline.warehouse import READER_LOCK_WAIT_SECONDS, connect, results


def summary_lines(settings: Settings, tickers: list[str], asof: dt.date) -> list[str]:
    """One plain line per ticker: the forecast and whether the LSTM beat naive, with p."""
    lines = []
    with connect(settings.warehouse, True, READER_LOCK_WAIT_SECONDS) as con:
        for ticker in tickers:
            fc = results.read_forecast(con, ticker, asof)
            metrics = results.read_evaluation_metrics(con, ticker, asof)
            forecast = f"forecast for {fc[0]}: {fc[1]:+.5f} ({fc[2]})" if fc else "no forecast"
            if metrics.empty:
                lines.append(f"{ticker}: {forecast}; not evaluated")
            else:
                level = settings.evaluation.verdict_level
                lines.append(f"{verdict(metrics, ticker, level).text}; {forecast}")
    return lines


def comparison_lines(settings: Settings, tickers: list[str], asof: dt.date) -> list[str]:
    """One line per ticker from ``model_comparison``: the kind with the lowest loss, and
    which models, if any, beat naive once data snooping is accounted for (StepM)."""
    from stock_pipeline.evaluation.compare import (
        best_kind,
        comparison_table,
        spa_pvalue,
    )
    from stock_pipeline.evaluation.family_tests import format_pvalue

    kinds = settings.evaluation.compare_kinds
    lines = []
    with connect(settings.warehouse, True, READER_LOCK_WAIT_SECONDS) as con:
        for ticker in tickers:
            rows = results.read_comparison(con, ticker, asof)
            if rows.empty:
                lines.append(f"{ticker}: models not compared")
                continue
            table = comparison_table(rows)
            best = best_kind(table, kinds)
            beat = [str(m) for m in table.index if table.at[m, "superior"] == 1]
            naive = table.at["naive", "mean_loss"]
            if all(table.at[k, "mean_loss"] == naive for k in kinds if k in table.index):
                lead = "every kind made the naive forecast"
            else:
                lead = f"best kind {best} (skill {table.at[best, 'skill']:+.2%})"
            lines.append(
                f"{ticker}: {lead}; beat naive after the data-snooping correction: "
                f"{', '.join(beat) or 'none'} (SPA p={format_pvalue(spa_pvalue(rows))}, "
                f"{len(table) - 1} models)"
            )
    return lines


def find_report(settings: Settings, ticker: str, asof: dt.date | None = None) -> Path:
    """The report of ``ticker`` (any case) as of ``asof`` (default: its newest), or a
    ValueError that says which tickers and as-of dates have reports."""
    known = _reported_tickers(settings)
    matches = [t for t in known if t.lower() == ticker.lower()]
    if not matches:
        where = settings.reports_dir.resolve()
        close = difflib.get_close_matches(ticker.upper(), known, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        listed = ", ".join(known[:20]) or "none yet"
        raise ValueError(
            f"no report for {ticker} under {where}{hint} (reports exist for: {listed})"
        )
    ticker = matches[0]
    dates = sorted(p.parent.name for p in settings.ticker_reports_dir(ticker).glob("*/report.html"))
    if asof is None:
        return (settings.ticker_reports_dir(ticker) / dates[-1] / "report.html").resolve()
    path = settings.ticker_reports_dir(ticker) / asof.isoformat() / "report.html"
    if not path.exists():
        shown = ", ".join(dates[-10:])
        raise ValueError(f"no report for {ticker} as of {asof}; its reports are as of: {shown}")
    return path.resolve()


def _reported_tickers(settings: Settings) -> list[str]:
    folder = settings.reports_dir
    if not folder.exists():
        return []
    return sorted(unquote(p.name) for p in folder.iterdir() if any(p.glob("*/report.html")))


def latest_report(settings: Settings, ticker: str, asof: dt.date | None = None) -> Path | None:
    """The report of ``asof`` (or the newest one) for ``ticker``, or None."""
    folder = settings.ticker_reports_dir(ticker)
    if asof is not None:
        path = folder / asof.isoformat() / "report.html"
        return path.resolve() if path.exists() else None
    found = sorted(folder.glob("*/report.html"))
    return found[-1].resolve() if found else None
