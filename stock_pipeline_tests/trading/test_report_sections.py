"""The content of each section of the report, recomputed here from the synthetic inputs
(cost-free positions traded at the close, so P&L and returns telescope by hand)."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from stock_pipeline.trading.report.formatting import format_metric
from stock_pipeline.trading.report.inputs import RenderedReport, ReportInputs
from stock_pipeline_tests.support.report_html import figure, parse, section, text_of
from stock_pipeline_tests.support.report_inputs import MODELS, STRATEGIES, lstm_rows


def test_metrics_table_formatting(rendered: tuple[RenderedReport, str]) -> None:
    cells = parse(rendered[1]).cells["metrics-table"]
    assert cells[("sharpe", "lstm")] == "1.23"
    assert cells[("sharpe", "naive")] == "1.24"
    assert cells[("total_return", "lstm")] == "12.34%"
    assert cells[("max_drawdown", "buy_and_hold")] == "-7.89%"
    assert cells[("trades", "lstm")] == "23"
    assert cells[("max_drawdown_days", "naive")] == "17"
    assert format_metric("sharpe", float("nan")) == "\u2014"
    assert format_metric("profit_factor", math.inf) == "\u221e"


def test_charts_share_the_backtest_date_range(
    inputs: ReportInputs, rendered: tuple[RenderedReport, str]
) -> None:
    _, text = rendered
    dates = pd.DatetimeIndex(inputs.daily["date"])
    expected = [str(dates.min().date()), str(dates.max().date())]
    data, layout = figure(text, "performance")
    assert layout["xaxis"]["range"] == expected
    # equity, drawdown and rolling Sharpe of each strategy, all on the one x axis
    assert [t["yaxis"] for t in data] == ["y", "y2", "y3"] * len(STRATEGIES)
    assert all("xaxis" not in t for t in data)
    assert [t["name"] for t in data[::3]] == list(STRATEGIES)
    equity = lstm_rows(inputs)["equity"].to_numpy()
    np.testing.assert_allclose(data[0]["y"], equity, rtol=1e-5)
    sharpe = data[2]["y"]
    assert sharpe[:62] == [None] * 62 and sharpe[62] is not None  # 63-session window
    _, trades_layout = figure(text, "trades")
    assert trades_layout["xaxis"]["range"] == expected


def test_trades_section(inputs: ReportInputs, rendered: tuple[RenderedReport, str]) -> None:
    _, text = rendered
    lstm = lstm_rows(inputs)
    position, returns = lstm["position"].to_numpy(), lstm["return"].to_numpy()
    entries = [i for i in range(len(position)) if position[i] and (i == 0 or not position[i - 1])]
    parsed = parse(text)
    cells = parsed.cells["trades-table"]
    assert len({row for row, _ in cells}) == len(entries)
    first = entries[0]
    exit_at = next(i for i in range(first, len(position)) if not position[i])
    close = inputs.bars.set_index("date")["close"]  # type: ignore[union-attr]
    assert cells[("1", "entry_date")] == str(lstm.index[first].date())
    assert cells[("1", "entry_price")] == f"{close[lstm.index[first]]:,.2f}"
    assert cells[("1", "exit_date")] == str(lstm.index[exit_at].date())
    assert cells[("1", "sessions")] == str(exit_at - first)
    # cost-free, traded at closes: the P&L telescopes to the ratio of the two closes
    pnl = close[lstm.index[exit_at]] / close[lstm.index[first]] - 1
    assert cells[("1", "pnl")] == f"{pnl * 100:+.2f}%"
    assert cells[("1", "pnl")] == f"{(np.prod(1 + returns[first : exit_at + 1]) - 1) * 100:+.2f}%"
    summary = text_of(text[text.index('id="trade-summary"') :].split("</p>")[0])
    assert f"{len(entries)} trades" in summary
    data, _ = figure(text, "trades")
    names = [t["name"] for t in data]
    assert names[0] == "adjusted close" and names[-1] == "position" and "long entry" in names
    entry_trace = data[names.index("long entry")]
    assert len(entry_trace["x"]) == len(entries)
    assert data[-1]["line"]["shape"] == "hv"


def test_worst_drawdowns_table(inputs: ReportInputs, rendered: tuple[RenderedReport, str]) -> None:
    lstm = lstm_rows(inputs)
    equity = lstm["equity"].to_numpy()
    peak = np.maximum.accumulate(np.concatenate([[1.0], equity]))[1:]
    depth = equity / peak - 1
    trough = int(np.argmin(depth))
    start = trough
    while start > 0 and depth[start - 1] < 0:
        start -= 1
    cells = parse(rendered[1]).cells["drawdowns-table"]
    assert cells[("1", "depth")] == f"{depth[trough] * 100:.2f}%"
    assert cells[("1", "trough")] == str(lstm.index[trough].date())
    assert cells[("1", "start")] == str(lstm.index[start].date())
    recovered = next((i for i in range(trough, len(equity)) if depth[i] >= 0), None)
    expected = "not recovered" if recovered is None else str(lstm.index[recovered].date())
    assert cells[("1", "recovery")] == expected


def test_monthly_and_yearly_returns(
    inputs: ReportInputs, rendered: tuple[RenderedReport, str]
) -> None:
    lstm = lstm_rows(inputs)
    growth: dict[tuple[int, int], float] = {}
    for day, r in lstm["return"].items():
        key = (day.year, day.month)
        growth[key] = growth.get(key, 1.0) * (1 + r)
    parsed = parse(rendered[1])
    monthly = parsed.cells["monthly-table"]
    for (year, month), g in growth.items():
        assert monthly[(str(year), str(month))] == f"{(g - 1) * 100:.1f}%"
    year = max(y for y, _ in growth)
    in_year = [g for (y, _), g in growth.items() if y == year]
    assert monthly[(str(year), "year")] == f"{(np.prod(in_year) - 1) * 100:.1f}%"
    yearly = parsed.cells["yearly-table"]
    hold = inputs.daily[inputs.daily["strategy"] == "buy_and_hold"]
    hold_year = hold[pd.DatetimeIndex(hold["date"]).year == year]["return"]
    assert yearly[(str(year), "buy_and_hold")] == f"{(np.prod(1 + hold_year) - 1) * 100:.2f}%"
    assert yearly[(str(year), "naive")] == "0.00%"


def test_distribution_and_benchmark_tables(
    inputs: ReportInputs, rendered: tuple[RenderedReport, str]
) -> None:
    parsed = parse(rendered[1])
    lstm = lstm_rows(inputs)["return"]
    hold = inputs.daily[inputs.daily["strategy"] == "buy_and_hold"].sort_values("date")
    r = lstm.to_numpy()
    dist = parsed.cells["distribution-table"]
    assert dist[("var", "lstm")] == f"{np.percentile(r, 5) * 100:.2f}%"
    best = lstm.idxmax()
    assert dist[("best_day", "lstm")] == f"{lstm.max() * 100:+.2f}% ({best.date()})"
    assert dist[("skew", "naive")] == "\u2014"  # never in the market: no shape
    b = hold["return"].to_numpy()
    slope = np.sum((b - b.mean()) * (r - r.mean())) / np.sum((b - b.mean()) ** 2)
    bench = parsed.cells["benchmark-table"]
    assert bench[("beta", "lstm")] == f"{slope:.3f}"
    intercept = r.mean() - slope * b.mean()
    assert bench[("alpha", "lstm")] == f"{252 * intercept * 100:.2f}%"
    text = rendered[1]
    assert "historical, one day" in section(text, "distribution")
    assert "information ratio: mean(active) / std(active, ddof=1)" in text_of(
        section(text, "benchmark")
    )


def test_fold_table_dates_and_scrolling(
    inputs: ReportInputs, rendered: tuple[RenderedReport, str]
) -> None:
    _, text = rendered
    parsed = parse(text)
    first, last = inputs.fold_dates[0]
    assert parsed.row_labels["fold-table"][:2] == ["overall", f"{first} to {last}"]
    assert len(parsed.row_labels["fold-table"]) == 1 + len(inputs.fold_dates)
    cells = parsed.cells["fold-table"]
    assert cells[("0", "lstm.direction_accuracy")] == "53.7%"
    assert cells[("overall", "arima.skill")] == "-1.2%"
    assert cells[("3", "naive.rmse")] == "0.02010"
    assert not any(col.endswith(".mae") for _, col in cells)
    assert re.search(r'<div class="scroll[^"]*"><table id="fold-table">', text)
    head = text[
        text.index('id="fold-table"') : text.index("</thead>", text.index('id="fold-table"'))
    ]
    assert all(f">{model}</th>" in head for model in MODELS)
