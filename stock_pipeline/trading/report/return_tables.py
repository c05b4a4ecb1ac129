"""The report's tables of returns: the monthly heatmap, calendar years, the
distribution of daily returns and the statistics against a benchmark, built with
``tables.html_table`` (so addressed and escaped as every other table)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from stock_pipeline.trading.report.formatting import MISSING, format_number, format_percent
from stock_pipeline.trading.report.tables import Cell, escape, heat, html_table

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def monthly_table(grid: pd.DataFrame, table_id: str = "monthly-table") -> str:
    """The year x month grid of ``stats.monthly_grid`` as a heatmap."""
    if grid.empty:
        return f'<p id="{escape(table_id)}">No monthly returns.</p>'
    months = grid[list(range(1, 13))].to_numpy(float)
    scale = float(np.nanmax(np.abs(months))) if np.isfinite(months).any() else 0.0
    columns = [(str(m), MONTHS[m - 1]) for m in range(1, 13)] + [("year", "year")]
    rows = []
    for year, row in grid.iterrows():
        cells = [
            Cell(format_percent(row[m], 1), f"{year}-{m:02d}", heat(row[m], scale))
            for m in range(1, 13)
        ]
        cells.append(Cell(format_percent(row["year"], 1), str(year)))
        rows.append((str(year), str(year), cells))
    return html_table(table_id, columns, rows, corner="year", scroll=True)


def yearly_table(yearly: dict[str, pd.Series]) -> str:
    """Calendar-year returns, one column per strategy (``pandas.Period`` index)."""
    years = sorted({p.year for series in yearly.values() for p in series.index})
    if not years:
        return '<p id="yearly-table">No yearly returns.</p>'
    by_year = {name: {p.year: v for p, v in s.items()} for name, s in yearly.items()}
    rows = [
        (
            str(y),
            str(y),
            [
                Cell(format_percent(by_year[n].get(y), 2), style=heat(by_year[n].get(y), 0.3))
                for n in yearly
            ],
        )
        for y in years
    ]
    return html_table("yearly-table", [(n, n) for n in yearly], rows, corner="year")


DISTRIBUTION_ROWS = (
    ("skew", "skew"),
    ("kurtosis", "excess kurtosis"),
    ("var", "VaR 95% (historical, 1 day)"),
    ("cvar", "CVaR 95% (historical, 1 day)"),
    ("best_day", "best day"),
    ("worst_day", "worst day"),
    ("best_month", "best month"),
    ("worst_month", "worst month"),
)


def distribution_table(
    shape: dict[str, dict[str, float]], extremes: dict[str, dict[str, tuple[float, str]]]
) -> str:
    names = list(shape)
    if not names:
        return '<p id="distribution-table">No daily returns.</p>'
    rows = []
    for key, label in DISTRIBUTION_ROWS:
        cells: list[str | Cell] = []
        for name in names:
            if key in ("skew", "kurtosis"):
                cells.append(format_number(shape[name][key], 3))
            elif key in ("var", "cvar"):
                cells.append(format_percent(shape[name][key]))
            elif key in extremes[name]:
                value, when = extremes[name][key]
                cells.append(Cell(f"{format_percent(value, signed=True)} ({when})", when))
            else:
                cells.append(MISSING)
        rows.append((key, label, cells))
    return html_table("distribution-table", [(n, n) for n in names], rows, corner="daily returns")


BENCHMARK_ROWS = (
    ("alpha", "alpha (annualized)"),
    ("beta", "beta"),
    ("correlation", "correlation"),
    ("active_return", "active return (annualized)"),
    ("tracking_error", "tracking error (annualized)"),
    ("information_ratio", "information ratio"),
)


def benchmark_table(stats: dict[str, float], strategy: str, benchmark: str) -> str:
    percent = {"alpha", "active_return", "tracking_error"}
    rows = [
        (
            key,
            label,
            [format_percent(stats[key]) if key in percent else format_number(stats[key], 3)],
        )
        for key, label in BENCHMARK_ROWS
    ]
    return html_table(
        "benchmark-table", [(strategy, f"{strategy} vs {benchmark}")], rows, corner="statistic"
    )
