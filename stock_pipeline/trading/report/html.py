"""The report as one self-contained HTML file (inline CSS, no scripts, every chart a
base64 PNG ``data:`` URI, so it opens with no network), with the PNGs beside it.
Every file is written atomically (temporary file in the same folder, then rename)."""

from __future__ import annotations

import base64
import html
import json
import os
import re
import tempfile
from pathlib import Path

import pandas as pd

from stock_pipeline.trading.report.charts import (
    CHARTS,
    DPI,
    FIGSIZE,
    RenderedReport,
    ReportInputs,
    render_charts,
    strategy_frames,
)
from stock_pipeline.trading.report.formatting import (
    FOLD_METRICS,
    METRIC_ORDER,
    MODELS,
    STRATEGIES,
    color,
    format_fold_metric,
    format_metric,
    is_missing,
    ordered,
)

_WARNING_PATTERN = re.compile(r"\bLOST\b|\bdid not\b", re.IGNORECASE)


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
    strategies = ordered([str(s) for s in frame["strategy"].unique()], STRATEGIES)
    names = ordered([str(m) for m in frame["metric"].unique()], METRIC_ORDER)
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
    if is_missing(fold):
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
    models = ordered([str(m) for m in frame["model"].dropna().unique()], MODELS)
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
            f'style="background:{color(s, i)}"></span>{_e(s)}</li>'
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
    strategies = list(strategy_frames(inputs.daily))
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
