"""The report's HTML tables: the table builder every table goes through, and the
backtest's own tables (metrics, folds, trades, drawdowns; the tables of returns are in
``return_tables``). Every table has an id; every body row a ``data-row`` key and every
value cell a ``data-col`` key, so a reader (or a test) can address a cell without
depending on the layout. All text is escaped here (``escape``)."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from stock_pipeline.trading.report.formatting import (
    FOLD_METRICS,
    METRIC_ORDER,
    MISSING,
    MODELS,
    STRATEGIES,
    format_date,
    format_dates,
    format_fold_metric,
    format_metric,
    format_percent,
    format_price,
    is_missing,
    ordered,
)


def escape(value: object) -> str:
    """``value`` as text safe inside an element or a quoted attribute."""
    return html.escape(str(value), quote=True)


@dataclass(slots=True)
class Cell:
    text: str
    title: str = ""  # shown on hover
    style: str = ""


def html_table(
    table_id: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[tuple[str, str, Sequence[str | Cell]]],
    corner: str = "",
    scroll: bool = False,
) -> str:
    """``columns``: (key, heading); ``rows``: (key, row heading, one cell per column)."""
    head = "".join(f'<th scope="col">{escape(label)}</th>' for _, label in columns)
    keys = [escape(key) for key, _ in columns]  # escaped once, not once a cell
    body = []
    for key, label, cells in rows:
        tds = []
        for col, cell in zip(keys, cells, strict=True):
            if isinstance(cell, str):
                tds.append(f'<td data-col="{col}">{escape(cell)}</td>')
                continue
            extra = (f' title="{escape(cell.title)}"' if cell.title else "") + (
                f' style="{escape(cell.style)}"' if cell.style else ""
            )
            tds.append(f'<td data-col="{col}"{extra}>{escape(cell.text)}</td>')
        body.append(
            f'<tr data-row="{escape(key)}"><th scope="row" class="row">{escape(label)}</th>'
            + "".join(tds)
            + "</tr>"
        )
    table = (
        f'<table id="{escape(table_id)}">\n<thead><tr><th scope="col">{escape(corner)}</th>{head}'
        "</tr></thead>\n<tbody>\n" + "\n".join(body) + "\n</tbody>\n</table>"
    )
    return f'<div class="scroll">{table}</div>' if scroll else table


def metrics_table(metrics: pd.DataFrame) -> str:
    frame = metrics.dropna(subset=["strategy", "metric"])
    if frame.empty:
        return "<p>No backtest metrics.</p>"
    strategies = ordered([str(s) for s in frame["strategy"].unique()], STRATEGIES)
    names = ordered([str(m) for m in frame["metric"].unique()], METRIC_ORDER)
    values = {(str(r.strategy), str(r.metric)): r.value for r in frame.itertuples(index=False)}
    rows = [(m, m, [format_metric(m, values.get((s, m))) for s in strategies]) for m in names]
    return html_table("metrics-table", [(s, s) for s in strategies], rows, corner="metric")


def fold_key(fold: object) -> str:
    """ "overall" for the NaN fold, the integer key as text otherwise."""
    if is_missing(fold):
        return "overall"
    try:
        number = float(fold)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(fold)
    return str(int(number)) if number.is_integer() else str(fold)


def fold_label(key: str, fold_dates: dict[int, tuple[dt.date, dt.date]]) -> str:
    """The fold's first and last session ("2019-01-02 to 2019-01-31"), else its key."""
    span = fold_dates.get(int(key)) if key.lstrip("-").isdigit() else None
    if span is None:
        return key if key == "overall" else f"fold {key}"
    return f"{format_date(span[0])} to {format_date(span[1])}"


def fold_table(
    fold_metrics: pd.DataFrame,
    fold_dates: dict[int, tuple[dt.date, dt.date]],
    metrics: tuple[str, ...] = FOLD_METRICS,
) -> str:
    """Model x metric columns, one row per fold (overall first), labelled by dates; in a
    scrolling container so hundreds of folds or many models never widen the page."""
    frame = fold_metrics[fold_metrics["metric"].isin(metrics)]
    if frame.empty:
        return "<p>No per-fold evaluation.</p>"
    models = ordered([str(m) for m in frame["model"].dropna().unique()], MODELS)
    values = {
        (fold_key(r.fold), str(r.model), str(r.metric)): r.value
        for r in frame.itertuples(index=False)
    }
    numbered = sorted(
        {k for k, _, _ in values if k != "overall"},
        key=lambda k: (0, int(k)) if k.lstrip("-").isdigit() else (1, k),
    )
    keys = (["overall"] if any(k[0] == "overall" for k in values) else []) + numbered
    present = [m for m in metrics if any(k[2] == m for k in values)]
    top = "".join(f'<th scope="colgroup" colspan="{len(present)}">{escape(m)}</th>' for m in models)
    sub = "".join(f'<th scope="col">{escape(m)}</th>' for _ in models for m in present)
    rows = []
    for key in keys:
        cells = "".join(
            f'<td data-model="{escape(model)}" data-col="{escape(model)}.{escape(m)}">'
            f"{escape(format_fold_metric(m, values.get((key, model, m))))}</td>"
            for model in models
            for m in present
        )
        rows.append(
            f'<tr data-row="{escape(key)}"><th scope="row" class="row">'
            f"{escape(fold_label(key, fold_dates))}</th>{cells}</tr>"
        )
    return (
        '<div class="scroll tall"><table id="fold-table">\n<thead>\n'
        f'<tr><th rowspan="2" scope="col">fold (forecast dates)</th>{top}</tr>\n<tr>{sub}</tr>\n'
        "</thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table></div>"
    )


def trades_table(trades: pd.DataFrame) -> str:
    columns = [
        ("side", "side"),
        ("entry_date", "entry"),
        ("entry_price", "entry price"),
        ("exit_date", "exit"),
        ("exit_price", "exit price"),
        ("sessions", "sessions"),
        ("days", "days"),
        ("pnl", "P&L"),
    ]
    entries, exits = format_dates(trades["entry_date"]), format_dates(trades["exit_date"])
    rows = []
    for number, t in enumerate(trades.itertuples(index=False)):
        cells = [
            t.side,
            entries[number],
            format_price(t.entry_price),
            "open" if t.is_open else exits[number],
            MISSING if t.is_open else format_price(t.exit_price),
            str(t.sessions),
            str(t.days),
            Cell(format_percent(t.pnl, signed=True), style=heat(t.pnl, 0.05)),
        ]
        rows.append((str(number + 1), str(number + 1), cells))
    return html_table("trades-table", columns, rows, corner="#", scroll=True)


def drawdowns_table(periods: pd.DataFrame) -> str:
    columns = [
        ("start", "start"),
        ("trough", "trough"),
        ("recovery", "recovery"),
        ("depth", "depth"),
        ("sessions", "sessions"),
    ]
    rows = []
    for rank, p in enumerate(periods.itertuples(index=False), start=1):
        recovery = "not recovered" if is_missing(p.recovery) else format_date(p.recovery)
        cells = [
            format_date(p.start),
            format_date(p.trough),
            recovery,
            format_percent(p.depth),
            str(p.sessions),
        ]
        rows.append((str(rank), str(rank), cells))
    if not rows:
        return '<p id="drawdowns-table">No drawdown: the equity never fell below a peak.</p>'
    return html_table("drawdowns-table", columns, rows, corner="rank")


def heat(value: object, scale: float) -> str:
    """A background from red (losses) to green (gains), full at ``|value| >= scale``."""
    if is_missing(value) or not scale > 0:
        return ""
    strength = min(abs(float(value)) / scale, 1.0) * 0.75  # type: ignore[arg-type]
    rgb = "44,160,44" if float(value) > 0 else "214,39,40"  # type: ignore[arg-type]
    return f"background: rgba({rgb},{strength:.2f})"
