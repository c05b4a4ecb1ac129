"""The report as ONE self-contained HTML file: inline CSS, plotly.js inlined once in the
head, every chart a ``<div>`` drawn by an inline script, so it opens with no network.
Written atomically (temporary file in the same folder, then rename); nothing else is
written beside it. The equity preview for the Dagster UI is returned, not written."""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from stock_pipeline.trading.report import charts, return_tables, stats, summary, tables
from stock_pipeline.trading.report.comparison import comparison_section
from stock_pipeline.trading.report.formatting import format_number, format_percent
from stock_pipeline.trading.report.inputs import (
    RenderedReport,
    ReportInputs,
    daily_returns,
    strategy_frames,
)
from stock_pipeline.trading.report.preview import equity_svg_base64
from stock_pipeline.trading.report.tables import escape
from stock_pipeline.trading.report.trades import TRADE_COLUMNS, trade_list, trade_summary

_WARNING_PATTERN = re.compile(r"\bLOST\b|\bdid not\b", re.IGNORECASE)
STRATEGY, BENCHMARK = "lstm", "buy_and_hold"

_CSS = """\
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
  max-width: 1200px; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; }
.facts { color: #444; margin: 0.2em 0; }
.verdict { font-size: 1.25em; font-weight: bold; padding: 0.6em 0.9em; border-radius: 4px;
  border: 1px solid #9c9; background: #eef8ee; }
.verdict.warning { border-color: #d66; background: #fdecec; color: #8a1010; }
.reading { background: #f6f8fb; border-left: 4px solid #7a9cc6; padding: 0.6em 0.9em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; white-space: nowrap; }
td { text-align: right; }
th { background: #f3f3f3; }
th.row { text-align: left; font-weight: normal; }
.scroll { max-width: 100%; overflow: auto; max-height: 30em; margin: 0.5em 0 1.5em; }
.scroll.tall { max-height: 40em; }
.scroll table { margin: 0; }
.scroll thead tr:first-child th { position: sticky; top: 0; }
.plot { margin: 0.5em 0 2em; }
.note, .conventions { color: #444; font-size: 0.92em; }
.conventions { white-space: pre-wrap; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; }
"""


def is_warning_verdict(dm_text: str) -> bool:
    """Whether the Diebold-Mariano verdict says the LSTM lost (rendered as a warning)."""
    return bool(_WARNING_PATTERN.search(dm_text or ""))


@dataclass
class _Derived:
    """What the page shows beyond the inputs, computed once."""

    frames: dict[str, pd.DataFrame]
    x_range: list[str]
    trades: pd.DataFrame


def _derive(inputs: ReportInputs) -> _Derived:
    frames = strategy_frames(inputs.daily)
    dates = [f["date"] for f in frames.values() if len(f)]
    x_range = (
        charts.iso_dates(
            pd.DatetimeIndex([min(d.min() for d in dates), max(d.max() for d in dates)])
        )
        if dates
        else []
    )
    trades = (
        trade_list(frames[STRATEGY], inputs.bars, inputs.execution)
        if STRATEGY in frames
        else pd.DataFrame(columns=TRADE_COLUMNS)
    )
    return _Derived(frames, x_range, trades)


def _plot(name: str, figure: dict | None, height: int, empty: str = "No data.") -> str:
    if figure is None:
        return f'<p class="plot" id="plot-{escape(name)}">{escape(empty)}</p>'
    return f'<div class="plot">{charts.figure_html(name, figure, height)}</div>'


def _header(inputs: ReportInputs, derived: _Derived) -> str:
    verdict_class = "verdict warning" if is_warning_verdict(inputs.dm_text) else "verdict"
    reading = summary.explanation(
        inputs.metrics, inputs.fold_metrics, derived.frames, inputs.target_kind
    )
    return f"""<header id="header">
<h1>{escape(inputs.ticker)} backtest report</h1>
<p class="facts" id="asof">As of {escape(inputs.asof.isoformat())}</p>
<p class="facts" id="period">{escape(summary.backtest_period(derived.frames, inputs.execution))}</p>
<p class="facts" id="forecast">{escape(summary.forecast_text(inputs.forecast, inputs.asof))}</p>
<p id="dm-verdict" class="{verdict_class}">{escape(inputs.dm_text)}</p>
<p id="reading" class="reading">{escape(reading)}</p>
</header>"""


def _benchmark_section(inputs: ReportInputs, derived: _Derived) -> str:
    frames = derived.frames
    if STRATEGY not in frames or BENCHMARK not in frames:
        body = "<p>No benchmark comparison: a strategy is missing.</p>"
    else:
        figures = stats.benchmark_stats(
            daily_returns(frames[STRATEGY]),
            daily_returns(frames[BENCHMARK]),
            inputs.risk_free_rate,
        )
        body = return_tables.benchmark_table(figures, STRATEGY, BENCHMARK)
    return f"""<section id="benchmark">
<h2>{STRATEGY} against the benchmark ({BENCHMARK})</h2>
{body}
<p class="note">{escape(stats.BENCHMARK_CONVENTIONS)}</p>
</section>"""


def _trades_section(inputs: ReportInputs, derived: _Derived) -> str:
    trades = derived.trades
    facts = trade_summary(trades)
    line = (
        f"{int(facts['trades'])} trades ({int(facts['open'])} still open); of the closed ones "
        f"{format_percent(facts['winners'], 1)} made money, mean P&L "
        f"{format_percent(facts['mean_pnl'], 2, True)}, mean holding "
        f"{format_number(facts['mean_sessions'], 1)} sessions."
    )
    reversal = (
        " A reversal session (long to short at one bar) counts in the trade it closes."
        if trades["reversal"].any()
        else ""
    )
    figure = None
    if STRATEGY in derived.frames and inputs.bars is not None and len(inputs.bars):
        figure = charts.trades_figure(
            inputs.bars, derived.frames[STRATEGY], trades, derived.x_range
        )
    return f"""<section id="trades">
<h2>Trades of the {STRATEGY} strategy</h2>
<p id="trade-summary">{escape(line)}</p>
{_plot("trades", figure, 560, "No price bars to draw.")}
{tables.trades_table(trades) if len(trades) else '<p id="trades-table">No trades.</p>'}
<p class="note">Entry and exit prices are the adjusted execution prices (the open for
next_open, the close for next_close). P&amp;L compounds the strategy's net daily returns from
the entry session through the exit session (costs included); sessions count the bars from
entry to exit.{escape(reversal)}</p>
</section>"""


def _returns_sections(derived: _Derived) -> str:
    frames = derived.frames
    returns = {name: daily_returns(f) for name, f in frames.items()}
    lstm = returns.get(STRATEGY, pd.Series(dtype=float))
    periods = stats.drawdown_periods(
        pd.Series(frames[STRATEGY]["equity"].to_numpy(float), index=lstm.index)
        if STRATEGY in frames
        else pd.Series(dtype=float)
    )
    shape = {n: stats.distribution_stats(r) for n, r in returns.items()}
    extremes = {n: stats.extremes(r) for n, r in returns.items()}
    shown = {n: returns[n] for n in (STRATEGY, BENCHMARK) if n in returns}
    histogram = charts.distribution_figure(shown, {n: shape[n]["var"] for n in shown})
    yearly = {n: stats.period_returns(r, "Y") for n, r in returns.items()}
    return f"""<section id="drawdowns">
<h2>Worst drawdowns of the {STRATEGY} strategy</h2>
{tables.drawdowns_table(periods)}
<p class="note">start: the first session below the previous peak (the starting equity 1
counts as a peak); trough: the deepest session; recovery: the first session back at the
peak; depth: trough equity / peak - 1; sessions: sessions below the peak.</p>
</section>
<section id="periods">
<h2>Monthly returns of the {STRATEGY} strategy</h2>
{return_tables.monthly_table(stats.monthly_grid(lstm))}
<h2>Yearly returns</h2>
{return_tables.yearly_table(yearly)}
<p class="note">Calendar months and years, net daily returns compounded over their sessions
(the first and last may be partial).</p>
</section>
<section id="distribution">
<h2>Distribution of daily returns</h2>
{_plot("distribution", histogram, 380)}
{return_tables.distribution_table(shape, extremes)}
<p class="note">{escape(stats.DISTRIBUTION_CONVENTIONS)}</p>
</section>"""


def build_html(inputs: ReportInputs, derived: _Derived | None = None) -> str:
    """The whole report as one self-contained HTML document."""
    derived = derived or _derive(inputs)
    title = f"{inputs.ticker} backtest report \u2014 {inputs.asof.isoformat()}"
    performance = (
        charts.performance_figure(derived.frames, derived.x_range) if derived.frames else None
    )
    scatter = charts.predicted_vs_actual_figure(inputs.predictions, target_kind=inputs.target_kind)
    config_json = json.dumps(inputs.config, indent=2, default=str, ensure_ascii=False)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>
{_CSS}</style>
<script>{charts.plotly_js()}</script>
</head>
<body>
{_header(inputs, derived)}
<section id="metrics">
<h2>Backtest metrics</h2>
{tables.metrics_table(inputs.metrics)}
</section>
<section id="performance">
<h2>Equity, drawdown and rolling {stats.ROLLING_SHARPE_WINDOW}-day Sharpe ratio</h2>
{_plot("performance", performance, 720)}
</section>
{_benchmark_section(inputs, derived)}
{_trades_section(inputs, derived)}
{_returns_sections(derived)}
<section id="predictions">
<h2>LSTM: predicted vs actual</h2>
{_plot("predicted_vs_actual", scatter, 480)}
</section>
{comparison_section(inputs.comparison)}
<section id="folds">
<h2>Forecast evaluation per fold</h2>
{tables.fold_table(inputs.fold_metrics, inputs.fold_dates)}
</section>
<section id="conventions">
<h2>Conventions</h2>
<p class="conventions">{escape(inputs.conventions)}</p>
</section>
<section id="config">
<h2>Configuration</h2>
<pre>{escape(config_json)}</pre>
</section>
</body>
</html>
"""


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def render_report(inputs: ReportInputs, folder: Path) -> RenderedReport:
    """Write ``folder/report.html``; return its path and the equity preview (SVG)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    html_path = folder / "report.html"
    derived = _derive(inputs)
    _write_atomic(html_path, build_html(inputs, derived).encode("utf-8"))
    return RenderedReport(html_path=html_path, preview_svg_base64=equity_svg_base64(derived.frames))
