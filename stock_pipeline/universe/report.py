"""The pooled model's HTML report: one self-contained page (plotly.js inlined, as the
per-ticker report) with the verdict, the equity curves of the four strategies, the
honesty figures, the results by year and the paper's figures beside this run's."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import pandas as pd

from stock_pipeline.settings import Settings
from stock_pipeline.trading.report import charts
from stock_pipeline.trading.report.formatting import color
from stock_pipeline.trading.report.tables import escape
from stock_pipeline.universe.pooled import UniverseBacktestRun
from stock_pipeline.universe.strategies import STRATEGIES

#: Fischer & Krauss (2018), k = 10, as the paper reports them: mean daily returns of the
#: long-short portfolio (costs: 5 bps per half-turn). Period averages, not yearly values.
#: The reversal rule's period is not given there; it is compared over 1992-2009 (marked).
PAPER = (
    ("1992-2009", 1992, 2009, "lstm_long_short", 0.0046, 0.0026),
    ("2010-2015", 2010, 2015, "lstm_long_short", math.nan, 0.0),
    ("1992-2009 (assumed)", 1992, 2009, "reversal_long_short", 0.0023, math.nan),
)

HONESTY_HEADERS = [
    "strategy", "mean/day gross", "mean/day net", "NW t (net)", "p", "Sharpe", "total",
    "max drawdown", "costs",
]  # fmt: skip
PAPER_HEADERS = [
    "paper period", "strategy", "paper gross/day", "paper net/day", "this run gross/day",
    "this run net/day", "this run",
]  # fmt: skip

_CSS = """body { font-family: Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px;
padding: 0 1em; color: #222; }
.verdict { font-size: 1.2em; font-weight: bold; padding: 0.6em; border: 1px solid #9c9;
background: #eef8ee; } .verdict.warning { border-color: #d66; background: #fdecec; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; } td { text-align: right; }
.note { color: #444; font-size: 0.92em; }"""


def pct(value: float, digits: int = 3) -> str:
    return "\u2014" if value is None or not math.isfinite(value) else f"{value:+.{digits}%}"


def num(value: float, digits: int = 2) -> str:
    return "\u2014" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def pvalue(value: float, relation: bool = False) -> str:
    """A p-value to 4 decimals, "< 0.0001" below; with ``relation``, "= 0.0123" too."""
    if value is None or not math.isfinite(value):
        return "\u2014"
    if value < 1e-4:
        return "< 0.0001"
    return f"= {value:.4f}" if relation else f"{value:.4f}"


def table(headers: list[str], rows: list[list[str]], table_id: str) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def equity_figure(daily: pd.DataFrame) -> dict:
    data = []
    for index, name in enumerate(STRATEGIES):
        frame = daily[daily["strategy"] == name]
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": name,
                "x": charts.iso_dates(pd.to_datetime(frame["date"])),
                "y": charts.json_values(frame["equity"]),
                "line": {"color": color(name, index), "width": 1.3},
            }
        )
    layout = {"yaxis": {"title": {"text": "equity (start = 1), after costs"}, "type": "log"}}
    return {"data": data, "layout": {**layout, "legend": {"orientation": "h"}}}


def honesty_rows(result: UniverseBacktestRun) -> list[list[str]]:
    values = result.metrics.pivot(index="metric", columns="strategy", values="value")
    rows = []
    for name in STRATEGIES:
        v = values[name]
        rows.append(
            [name]
            + [pct(v[m]) for m in ("mean_daily_return_gross", "mean_daily_return")]
            + [num(v["nw_tstat"]), pvalue(v["nw_pvalue"]), num(v["sharpe"])]
            + [pct(v[m], 1) for m in ("total_return", "max_drawdown")]
            + [pct(v["costs"], 1).lstrip("+")]
        )
    return rows


def paper_rows(result: UniverseBacktestRun) -> list[list[str]]:
    """The paper's period averages beside this run's over the same years (if any)."""
    gross, net = result.gross, result.daily.assign(date=pd.to_datetime(result.daily["date"]))
    rows = []
    for label, first, last, name, paper_gross, paper_net in PAPER:
        g = gross[(gross["strategy"] == name) & gross["date"].dt.year.between(first, last)]
        n = net[(net["strategy"] == name) & net["date"].dt.year.between(first, last)]
        here = f"{len(n)} days" if len(n) else "no days of this run"
        this_gross = g["gross"].mean() if len(g) else math.nan
        this_net = n["return"].mean() if len(n) else math.nan
        paper = [pct(paper_gross, 2), "about 0" if paper_net == 0 else pct(paper_net, 2)]
        cells = [*paper, pct(this_gross), pct(this_net), here]
        rows.append([label, name, *cells])
    return rows


def yearly_rows(result: UniverseBacktestRun) -> list[list[str]]:
    y = result.yearly
    return [
        [str(year), pct(y.at[year, "accuracy"], 1).lstrip("+") if "accuracy" in y else "\u2014"]
        + [pct(y.at[year, s]) if s in y else "\u2014" for s in STRATEGIES]
        + [str(int(y.at[year, "days"]))]
        for year in y.index
    ]


def build_html(result: UniverseBacktestRun, settings: Settings) -> str:
    us = settings.universe
    warning = " warning" if "NOT" in result.verdict else ""
    acc = result.accuracy
    diff = result.tests["lstm_minus_reversal"]
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Universe backtest as of {result.asof}</title><style>{_CSS}</style>
<script>{charts.plotly_js()}</script></head><body>
<h1>Pooled cross-sectional LSTM (Fischer &amp; Krauss 2018)</h1>
<p>As of {result.asof}; k = {us.k}, {us.cost_bps:g} bps per half-turn; sequences of
{us.sequence_length} returns; study periods of {us.train_sessions} + {us.trade_sessions}
sessions.</p>
<p id="verdict" class="verdict{warning}">{escape(result.verdict)}</p>
<h2>Equity after costs</h2>{charts.figure_html("equity", equity_figure(result.daily), 480)}
<h2>Honesty figures</h2>
<p id="accuracy">Directional accuracy {pct(acc.accuracy, 2).lstrip("+")} over {acc.n}
predictions; binomial test against 50%: p {escape(pvalue(acc.pvalue, True))} (treats the day's
predictions as independent, which common shocks make them not: optimistic).
LSTM minus reversal, after costs: {pct(diff.mean)}/day, Newey-West t {num(diff.tstat)},
p {escape(pvalue(diff.pvalue, True))} ({diff.lags} lags).</p>
{table(HONESTY_HEADERS, honesty_rows(result), "honesty")}
<h2>By year</h2>
{table(["year", "accuracy", *STRATEGIES, "days"], yearly_rows(result), "by-year")}
<p class="note">Mean daily net returns by calendar year of the session traded.</p>
<h2>The paper beside this run</h2>
{table(PAPER_HEADERS, paper_rows(result), "paper")}
<p class="note">Paper: S&amp;P 500 constituents, k = 10, 5 bps per half-turn; period
averages as the paper reports them, not yearly values. This run: the same years of its own
universe, if it covers any.</p>
<h2>Configuration</h2><pre>{escape(json.dumps(us.model_dump(mode="json"), indent=2))}</pre>
</body></html>"""


def write_report(result: UniverseBacktestRun, settings: Settings) -> Path:
    """``<data>/reports/universe/<asof>/report.html``, written atomically."""
    folder = settings.reports_dir / "universe" / result.asof.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "report.html"
    fd, tmp = tempfile.mkstemp(prefix=".report.", suffix=".tmp", dir=folder)
    with os.fdopen(fd, "wb") as handle:
        handle.write(build_html(result, settings).encode("utf-8"))
    os.replace(tmp, path)
    return path
