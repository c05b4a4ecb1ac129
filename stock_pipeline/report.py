"""A self-contained HTML backtest report, with PNG copies of its charts.

No Dagster here. ``render_report`` writes ``report.html`` (no network needed to open
it: inline CSS, no scripts, every chart embedded as a base64 PNG ``data:`` URI) and
``equity.png``, ``drawdown.png``, ``rolling_sharpe.png`` and ``predicted_vs_actual.png``
beside it. Charts are drawn with ``matplotlib.figure.Figure`` directly (the Agg
renderer, no pyplot global state), so rendering is thread-safe and needs no display.
Every file is written atomically (temporary file in the same folder, then rename).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
import math
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

STRATEGIES = ("lstm", "naive", "buy_and_hold")
MODELS = ("lstm", "naive", "drift", "arima")
PERIODS_PER_YEAR = 252
ROLLING_SHARPE_WINDOW = 63
FIGSIZE = (9.0, 3.2)
DPI = 100

# Chart name (also the PNG file stem) -> (heading, alt text), in report order.
CHARTS = {
    "equity": ("Equity curves", "Equity of each strategy, starting from 1.0"),
    "drawdown": ("Drawdown", "Drawdown of each strategy from its running peak"),
    "rolling_sharpe": (
        f"Rolling {ROLLING_SHARPE_WINDOW}-day Sharpe ratio",
        f"Annualized rolling {ROLLING_SHARPE_WINDOW}-day Sharpe ratio of each strategy",
    ),
    "predicted_vs_actual": (
        "LSTM: predicted vs actual returns",
        "Scatter of LSTM predicted against realized log-returns, with a 45-degree line",
    ),
}

COLORS = {
    "lstm": "#1f77b4",
    "naive": "#ff7f0e",
    "buy_and_hold": "#2ca02c",
    "drift": "#9467bd",
    "arima": "#8c564b",
}
_FALLBACK_COLORS = ("#d62728", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")

METRIC_ORDER = (
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "max_drawdown_days",
    "win_rate",
    "profit_factor",
    "exposure",
    "turnover",
    "trades",
    "costs",
)
PERCENT_METRICS = frozenset(
    {"total_return", "cagr", "volatility", "max_drawdown", "win_rate", "exposure", "costs"}
)
INTEGER_METRICS = frozenset({"trades", "max_drawdown_days"})
RATIO_METRICS = frozenset({"sharpe", "sortino", "calmar", "profit_factor", "turnover"})

FOLD_METRICS = ("rmse", "direction_accuracy", "skill")
FOLD_PERCENT_METRICS = frozenset({"direction_accuracy", "skill", "mape"})

_WARNING_PATTERN = re.compile(r"\bLOST\b|\bdid not\b", re.IGNORECASE)
MISSING = "\u2014"  # em dash


@dataclass
class ReportInputs:
    ticker: str
    asof: dt.date
    daily: pd.DataFrame  # date, strategy, position, return, equity
    metrics: pd.DataFrame  # strategy, metric, value
    predictions: pd.DataFrame  # date, model, predicted, actual
    fold_metrics: pd.DataFrame  # model, fold (NaN/None = overall), metric, value
    dm_text: str
    conventions: str
    config: dict


@dataclass
class RenderedReport:
    html_path: Path
    png_paths: dict[str, Path]
    preview_png_base64: str


# --- series helpers ---------------------------------------------------------------


def drawdown(equity: pd.Series, start: float = 1.0) -> pd.Series:
    """``equity / running peak - 1``, the starting equity ``start`` counting as a peak."""
    values = equity.astype(float)
    peak = values.cummax().clip(lower=start)
    return values / peak - 1.0


def rolling_sharpe(
    returns: pd.Series,
    window: int = ROLLING_SHARPE_WINDOW,
    periods_per_year: int = PERIODS_PER_YEAR,
) -> pd.Series:
    """Annualized rolling Sharpe: ``mean / std(ddof=1) * sqrt(periods_per_year)``.

    NaN for the first ``window - 1`` points and wherever the window's std is zero.
    """
    values = returns.astype(float)
    roll = values.rolling(window, min_periods=window)
    std = roll.std(ddof=1)
    sharpe = roll.mean() / std.where(std > 0) * math.sqrt(periods_per_year)
    return sharpe


# --- formatting ---------------------------------------------------------------------


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _number_or_text(value: object) -> float | str:
    """The value as a finite float, or the text to show instead of a number."""
    if _is_missing(value):
        return MISSING
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if math.isinf(number):
        return "\u221e" if number > 0 else "-\u221e"
    return number


def format_metric(metric: str, value: object) -> str:
    """Format one backtest metric for the report table."""
    number = _number_or_text(value)
    if isinstance(number, str):
        return number
    if metric in PERCENT_METRICS:
        return f"{number * 100:.2f}%"
    if metric in INTEGER_METRICS:
        return f"{round(number):d}"
    if metric in RATIO_METRICS:
        return f"{number:.2f}"
    return f"{number:.4g}"


def format_fold_metric(metric: str, value: object) -> str:
    """Format one forecast-evaluation metric for the per-fold table."""
    number = _number_or_text(value)
    if isinstance(number, str):
        return number
    if metric in FOLD_PERCENT_METRICS:
        return f"{number * 100:.1f}%"
    if metric in {"rmse", "mae"}:
        return f"{number:.5f}"
    return f"{number:.3f}"


def _ordered(present: list[str], preferred: tuple[str, ...]) -> list[str]:
    known = [name for name in preferred if name in present]
    return known + sorted(name for name in present if name not in preferred)


def _color(name: str, index: int) -> str:
    return COLORS.get(name, _FALLBACK_COLORS[index % len(_FALLBACK_COLORS)])


# --- charts ---------------------------------------------------------------------------


def _new_figure() -> tuple[Figure, object]:
    fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    ax.grid(True, alpha=0.3)
    return fig, ax


def _png_bytes(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _strategy_frames(daily: pd.DataFrame) -> dict[str, pd.DataFrame]:
    if daily.empty:
        return {}
    frame = daily.copy()
    frame["date"] = pd.to_datetime(frame["date"])
    present = [str(s) for s in frame["strategy"].dropna().unique()]
    return {
        name: frame[frame["strategy"] == name].sort_values("date").reset_index(drop=True)
        for name in _ordered(present, STRATEGIES)
    }


def _no_data(ax: object, message: str = "no data") -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes)  # type: ignore[attr-defined]


def _line_chart(
    frames: dict[str, pd.DataFrame], series: dict[str, pd.Series], title: str, ylabel: str
) -> bytes:
    fig, ax = _new_figure()
    plotted = False
    for index, (name, frame) in enumerate(frames.items()):
        values = series[name]
        if values.notna().any():
            ax.plot(frame["date"], values, label=name, color=_color(name, index), linewidth=1.2)
            plotted = True
    if plotted:
        ax.legend(loc="best", fontsize="small")
    else:
        _no_data(ax)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    return _png_bytes(fig)


def equity_chart(frames: dict[str, pd.DataFrame]) -> bytes:
    fig, ax = _new_figure()
    for index, (name, frame) in enumerate(frames.items()):
        ax.plot(
            frame["date"],
            frame["equity"].astype(float),
            label=name,
            color=_color(name, index),
            linewidth=1.2,
        )
    ax.axhline(1.0, color="black", linewidth=0.6, alpha=0.5)
    if frames:
        ax.legend(loc="best", fontsize="small")
    else:
        _no_data(ax)
    ax.set_title("Equity (start = 1.0)")
    ax.set_ylabel("equity")
    return _png_bytes(fig)


def predicted_vs_actual_chart(predictions: pd.DataFrame, model: str = "lstm") -> bytes:
    fig, ax = _new_figure()
    subset = predictions[predictions["model"] == model] if not predictions.empty else predictions
    pairs = (
        subset[["predicted", "actual"]].astype(float).dropna()
        if not subset.empty
        else pd.DataFrame(columns=["predicted", "actual"], dtype=float)
    )
    if pairs.empty:
        _no_data(ax)
        ax.set_title(f"{model}: predicted vs actual (no data)")
        return _png_bytes(fig)
    x = pairs["predicted"].to_numpy()
    y = pairs["actual"].to_numpy()
    corr = float(np.corrcoef(x, y)[0, 1]) if len(x) > 1 and x.std() > 0 and y.std() > 0 else None
    ax.scatter(x, y, s=8, alpha=0.5, color=_color(model, 0), label=model)
    low = float(min(x.min(), y.min()))
    high = float(max(x.max(), y.max()))
    if low == high:
        low, high = low - 1e-3, high + 1e-3
    ax.plot([low, high], [low, high], color="black", linewidth=0.8, linestyle="--", label="y = x")
    ax.axhline(0.0, color="grey", linewidth=0.5)
    ax.axvline(0.0, color="grey", linewidth=0.5)
    ax.set_xlabel("predicted log-return")
    ax.set_ylabel("actual log-return")
    corr_text = f"{corr:.3f}" if corr is not None else "n/a"
    ax.set_title(f"{model}: predicted vs actual (n={len(x)}, correlation {corr_text})")
    ax.legend(loc="best", fontsize="small")
    return _png_bytes(fig)


def render_charts(inputs: ReportInputs) -> dict[str, bytes]:
    """Every chart of the report as PNG bytes, keyed as in ``CHARTS``."""
    frames = _strategy_frames(inputs.daily)
    return {
        "equity": equity_chart(frames),
        "drawdown": _line_chart(
            frames,
            {name: drawdown(frame["equity"]) for name, frame in frames.items()},
            "Drawdown from running peak",
            "drawdown",
        ),
        "rolling_sharpe": _line_chart(
            frames,
            {name: rolling_sharpe(frame["return"]) for name, frame in frames.items()},
            f"Rolling {ROLLING_SHARPE_WINDOW}-day Sharpe (annualized)",
            "Sharpe",
        ),
        "predicted_vs_actual": predicted_vs_actual_chart(inputs.predictions),
    }


# --- HTML ---------------------------------------------------------------------------------

_CSS = """\
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
  max-width: 1000px; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; }
.asof { color: #555; margin-top: 0; }
.verdict { font-size: 1.25em; font-weight: bold; padding: 0.6em 0.9em; border-radius: 4px;
  border: 1px solid #9c9; background: #eef8ee; }
.verdict.warning { border-color: #d66; background: #fdecec; color: #8a1010; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; }
td { text-align: right; }
th { background: #f3f3f3; }
th.row { text-align: left; font-weight: normal; }
figure { margin: 1em 0 2em; }
figure img { max-width: 100%; height: auto; }
ul.legend { list-style: none; padding: 0; margin: 0.3em 0; }
ul.legend li { display: inline-block; margin-right: 1.5em; }
.swatch { display: inline-block; width: 1.5em; height: 0.35em; vertical-align: middle;
  margin-right: 0.4em; }
.conventions { white-space: pre-wrap; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def is_warning_verdict(dm_text: str) -> bool:
    """Whether the Diebold-Mariano verdict says the LSTM lost (rendered as a warning)."""
    return bool(_WARNING_PATTERN.search(dm_text or ""))


def _metrics_table(metrics: pd.DataFrame) -> str:
    if metrics.empty:
        return "<p>No backtest metrics.</p>"
    frame = metrics.dropna(subset=["strategy", "metric"])
    strategies = _ordered([str(s) for s in frame["strategy"].unique()], STRATEGIES)
    names = _ordered([str(m) for m in frame["metric"].unique()], METRIC_ORDER)
    values = {(str(r.strategy), str(r.metric)): r.value for r in frame.itertuples(index=False)}
    head = "".join(f'<th scope="col">{_e(s)}</th>' for s in strategies)
    rows = []
    for metric in names:
        cells = "".join(
            f'<td data-strategy="{_e(s)}">{_e(format_metric(metric, values.get((s, metric))))}</td>'
            for s in strategies
        )
        rows.append(
            f'<tr data-metric="{_e(metric)}"><th scope="row" class="row">{_e(metric)}</th>'
            f"{cells}</tr>"
        )
    return (
        '<table id="metrics-table">\n<thead><tr><th scope="col">metric</th>'
        f"{head}</tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"
    )


def _fold_label(fold: object) -> str:
    if _is_missing(fold):
        return "overall"
    try:
        number = float(fold)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(fold)
    return str(int(number)) if number.is_integer() else str(fold)


def _fold_table(fold_metrics: pd.DataFrame, metrics: tuple[str, ...] = FOLD_METRICS) -> str:
    if fold_metrics.empty:
        return "<p>No per-fold evaluation.</p>"
    frame = fold_metrics[fold_metrics["metric"].isin(metrics)]
    if frame.empty:
        return "<p>No per-fold evaluation.</p>"
    models = _ordered([str(m) for m in frame["model"].dropna().unique()], MODELS)
    values: dict[tuple[str, str, str], object] = {}
    for row in frame.itertuples(index=False):
        values[(_fold_label(row.fold), str(row.model), str(row.metric))] = row.value
    numbered = sorted(
        {label for label, _, _ in values if label != "overall"},
        key=lambda label: (0, int(label)) if label.lstrip("-").isdigit() else (1, label),
    )
    labels = (["overall"] if any(k[0] == "overall" for k in values) else []) + numbered
    present = [m for m in metrics if any(k[2] == m for k in values)]
    top = "".join(
        f'<th scope="colgroup" colspan="{len(present)}">{_e(model)}</th>' for model in models
    )
    sub = "".join(f'<th scope="col">{_e(m)}</th>' for _ in models for m in present)
    rows = []
    for label in labels:
        cells = "".join(
            f'<td data-model="{_e(model)}" data-metric="{_e(m)}">'
            f"{_e(format_fold_metric(m, values.get((label, model, m))))}</td>"
            for model in models
            for m in present
        )
        rows.append(
            f'<tr data-fold="{_e(label)}"><th scope="row" class="row">{_e(label)}</th>{cells}</tr>'
        )
    return (
        '<table id="fold-table">\n<thead>\n'
        f'<tr><th rowspan="2" scope="col">fold</th>{top}</tr>\n<tr>{sub}</tr>\n'
        "</thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"
    )


def _figure_html(name: str, png: bytes, strategies: list[str]) -> str:
    heading, alt = CHARTS[name]
    encoded = base64.b64encode(png).decode("ascii")
    attrs = f'id="chart-{_e(name)}" class="chart"'
    legend = ""
    if name == "equity":
        attrs += f' data-strategies="{_e(" ".join(strategies))}"'
        items = "".join(
            f'<li data-strategy="{_e(s)}"><span class="swatch" '
            f'style="background:{_color(s, i)}"></span>{_e(s)}</li>'
            for i, s in enumerate(strategies)
        )
        legend = f'\n<ul class="legend" aria-label="legend">{items}</ul>'
    return (
        f"<figure {attrs}>\n<h3>{_e(heading)}</h3>\n"
        f'<img src="data:image/png;base64,{encoded}" alt="{_e(alt)}" '
        f'width="{int(FIGSIZE[0] * DPI)}" height="{int(FIGSIZE[1] * DPI)}">{legend}\n'
        f"<figcaption>{_e(alt)}</figcaption>\n</figure>"
    )


def build_html(inputs: ReportInputs, charts: dict[str, bytes]) -> str:
    """The whole report as one self-contained HTML document."""
    strategies = list(_strategy_frames(inputs.daily))
    verdict_class = "verdict warning" if is_warning_verdict(inputs.dm_text) else "verdict"
    title = f"{inputs.ticker} backtest report \u2014 {inputs.asof.isoformat()}"
    figures = "\n".join(_figure_html(name, charts[name], strategies) for name in CHARTS)
    config_json = json.dumps(inputs.config, indent=2, default=str, ensure_ascii=False)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
<style>
{_CSS}</style>
</head>
<body>
<header id="header">
<h1>{_e(inputs.ticker)} backtest report</h1>
<p class="asof">As of {_e(inputs.asof.isoformat())}</p>
<p id="dm-verdict" class="{verdict_class}">{_e(inputs.dm_text)}</p>
</header>
<section id="metrics">
<h2>Backtest metrics</h2>
{_metrics_table(inputs.metrics)}
</section>
<section id="charts">
<h2>Charts</h2>
{figures}
</section>
<section id="folds">
<h2>Forecast evaluation per fold</h2>
{_fold_table(inputs.fold_metrics)}
</section>
<section id="conventions">
<h2>Conventions</h2>
<p class="conventions">{_e(inputs.conventions)}</p>
</section>
<section id="config">
<h2>Configuration</h2>
<pre>{_e(config_json)}</pre>
</section>
</body>
</html>
"""


# --- files ------------------------------------------------------------------------------------


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
    """Write ``folder/report.html`` and the chart PNGs beside it; return their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    charts = render_charts(inputs)
    png_paths: dict[str, Path] = {}
    for name, png in charts.items():
        path = folder / f"{name}.png"
        _write_atomic(path, png)
        png_paths[name] = path
    html_path = folder / "report.html"
    _write_atomic(html_path, build_html(inputs, charts).encode("utf-8"))
    return RenderedReport(
        html_path=html_path,
        png_paths=png_paths,
        preview_png_base64=base64.b64encode(charts["equity"]).decode("ascii"),
    )
