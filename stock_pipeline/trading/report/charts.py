"""The report's interactive charts: plotly figures built as plain dicts (no validation
pass: the figures are fixed, and validating 20 years of points costs more than drawing
them) and written as ``<div>`` + inline script. plotly.js itself is inlined once per page
by ``html.py`` (``plotly_js``), so the page needs no network.

``ReportInputs`` and ``RenderedReport`` are defined in ``inputs`` and re-exported here,
where callers have always imported them from."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import plotly.io as pio
import plotly.offline

from stock_pipeline.forecasting.targets import TARGETS
from stock_pipeline.trading.report.formatting import color
from stock_pipeline.trading.report.inputs import RenderedReport, ReportInputs
from stock_pipeline.trading.report.stats import ROLLING_SHARPE_WINDOW, drawdown, rolling_sharpe

__all__ = ["RenderedReport", "ReportInputs"]

PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}
SIGNIFICANT_DIGITS = 6  # finer than a pixel; full float reprs make the data ~45% larger

_BASE_LAYOUT = {
    "margin": {"l": 70, "r": 20, "t": 40, "b": 40},
    "hovermode": "x unified",
    "legend": {"orientation": "h", "y": 1.06, "x": 0},
    "font": {"size": 12},
}


@functools.cache
def plotly_js() -> str:
    """plotly.js (~4.8 MB), read once per process."""
    return plotly.offline.get_plotlyjs()


def figure_html(name: str, figure: dict, height: int) -> str:
    """One figure as a ``<div id="plot-NAME">`` and the script that draws it."""
    return pio.to_html(
        figure,
        config=PLOTLY_CONFIG,
        include_plotlyjs=False,
        full_html=False,
        validate=False,
        div_id=f"plot-{name}",
        default_height=f"{height}px",
    )


def iso_dates(dates: pd.Series | pd.DatetimeIndex) -> list[str]:
    return np.datetime_as_string(pd.DatetimeIndex(dates).values.astype("datetime64[D]")).tolist()


def json_values(values: np.ndarray | pd.Series, significant: int = SIGNIFICANT_DIGITS) -> list:
    """Rounded to ``significant`` digits, NaN as None (JSON null): plotly's encoder would
    otherwise decode and re-encode the whole figure to replace NaN."""
    array = np.asarray(values, dtype=float)
    finite = np.isfinite(array)
    if not finite.any():
        return [None] * len(array)
    magnitude = float(np.max(np.abs(array[finite])))
    decimals = significant - 1 - (int(np.floor(np.log10(magnitude))) if magnitude > 0 else 0)
    out = np.round(array, max(decimals, 0)).astype(object)
    out[~finite] = None
    return out.tolist()


def _line(x: list[str], y: list, name: str, index: int, axis: str, **extra: object) -> dict:
    return {
        "type": "scatter",
        "mode": "lines",
        "x": x,
        "y": y,
        "name": name,
        "legendgroup": name,
        "line": {"color": color(name, index), "width": 1.3},
        "yaxis": axis,
        **extra,
    }


def performance_figure(frames: dict[str, pd.DataFrame], x_range: list[str]) -> dict:
    """Equity, drawdown and rolling Sharpe of every strategy stacked on ONE date axis, so
    the three panels start and end together and zoom together."""
    data = []
    for index, (name, frame) in enumerate(frames.items()):
        x = iso_dates(frame["date"])
        data += [
            _line(x, json_values(frame["equity"]), name, index, "y", hovertemplate="%{y:.4f}"),
            _line(
                x,
                json_values(drawdown(frame["equity"])),
                name,
                index,
                "y2",
                showlegend=False,
                hovertemplate="%{y:.2%}",
            ),
            _line(
                x,
                json_values(rolling_sharpe(frame["return"])),
                name,
                index,
                "y3",
                showlegend=False,
                hovertemplate="%{y:.2f}",
            ),
        ]
    layout = {
        **_BASE_LAYOUT,
        "xaxis": {"type": "date", "range": x_range, "anchor": "y3", "showgrid": True},
        "yaxis": {"domain": [0.68, 1.0], "title": {"text": "equity (start = 1)"}},
        "yaxis2": {"domain": [0.36, 0.63], "title": {"text": "drawdown"}, "tickformat": ".0%"},
        "yaxis3": {
            "domain": [0.0, 0.31],
            "title": {"text": f"Sharpe, rolling {ROLLING_SHARPE_WINDOW}d"},
        },
    }
    return {"data": data, "layout": layout}


def _markers(
    trades: pd.DataFrame, when: str, price: str, label: str, symbol: str, shade: str
) -> dict:
    """One marker per trade at (date, execution price); the hover text is a template
    over the point's own values (no per-point strings: 1,000 trades would cost 50 kB)."""
    hover = f"{label} %{{x|%Y-%m-%d}} at %{{y:,.2f}}"
    trace = {
        "type": "scatter",
        "mode": "markers",
        "x": iso_dates(trades[when]),
        "y": json_values(trades[price]),
        "name": label,
        "marker": {"symbol": symbol, "size": 9 if symbol != "x" else 7, "color": shade},
        "yaxis": "y",
    }
    if when == "exit_date":  # an exit closes the trade: show its P&L
        trace["customdata"] = json_values(trades["pnl"], 4)
        hover += ", P&L %{customdata:+.2%}"
    return {**trace, "hovertemplate": hover + "<extra></extra>"}


def trades_figure(
    bars: pd.DataFrame, position: pd.DataFrame, trades: pd.DataFrame, x_range: list[str]
) -> dict:
    """The adjusted close with entry (triangles) and exit (crosses) markers at their
    execution prices, above the strategy's position at each close, on one date axis."""
    data: list[dict] = [
        _line(iso_dates(bars["date"]), json_values(bars["close"]), "adjusted close", 2, "y"),
    ]
    data[0]["line"] = {"color": "#555", "width": 1.0}
    priced = trades[trades["entry_price"].notna()]
    for side, symbol, shade in (
        ("long", "triangle-up", "#2ca02c"),
        ("short", "triangle-down", "#d62728"),
    ):
        entries = priced[priced["side"] == side]
        if len(entries):
            data.append(
                _markers(entries, "entry_date", "entry_price", f"{side} entry", symbol, shade)
            )
    exits = trades[trades["exit_price"].notna()]
    if len(exits):
        data.append(_markers(exits, "exit_date", "exit_price", "exit", "x", "#222"))
    data.append(
        _line(
            iso_dates(position["date"]),
            json_values(position["position"]),
            "position",
            0,
            "y2",
            line={"color": color("lstm", 0), "width": 1.2, "shape": "hv"},
            hovertemplate="%{y:.2f}",
        )
    )
    layout = {
        **_BASE_LAYOUT,
        "hovermode": "closest",
        "xaxis": {"type": "date", "range": x_range, "anchor": "y2", "showgrid": True},
        "yaxis": {"domain": [0.3, 1.0], "title": {"text": "adjusted price"}},
        "yaxis2": {"domain": [0.0, 0.22], "title": {"text": "position"}, "zeroline": True},
    }
    return {"data": data, "layout": layout}


def predicted_vs_actual_figure(
    predictions: pd.DataFrame, model: str = "lstm", target_kind: str = "return"
) -> dict | None:
    """The model's forecasts against the outcomes, with the line y = x; None: no pairs."""
    subset = predictions[predictions["model"] == model]
    pairs = subset[["date", "predicted", "actual"]].dropna()
    if pairs.empty:
        return None
    x, y = pairs["predicted"].to_numpy(float), pairs["actual"].to_numpy(float)
    varies = len(x) > 1 and np.ptp(x) > 0 and np.ptp(y) > 0
    corr = f"{np.corrcoef(x, y)[0, 1]:.3f}" if varies else "n/a"
    low, high = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
    xlabel, ylabel = TARGETS[target_kind].axis_labels
    data = [
        {
            "type": "scatter",  # SVG, not WebGL: draws in any browser, 5,000 points are fine
            "mode": "markers",
            "x": json_values(x),
            "y": json_values(y),
            "text": iso_dates(pairs["date"]),
            "name": model,
            "marker": {"color": color(model, 0), "size": 5, "opacity": 0.5},
            "hovertemplate": "%{text}: predicted %{x:.4g}, actual %{y:.4g}<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "x": [low, high],
            "y": [low, high],
            "name": "y = x",
            "line": {"color": "black", "dash": "dash", "width": 1},
            "hoverinfo": "skip",
        },
    ]
    layout = {
        **_BASE_LAYOUT,
        "hovermode": "closest",
        "title": {"text": f"{model}: n = {len(x)}, correlation {corr}", "x": 0.01},
        "xaxis": {"title": {"text": xlabel}, "zeroline": True},
        "yaxis": {"title": {"text": ylabel}, "zeroline": True},
    }
    return {"data": data, "layout": layout}


def distribution_figure(
    returns: dict[str, pd.Series], var: dict[str, float], bins: int = 80
) -> dict | None:
    """Histograms of daily returns on shared bins (counted here: 80 numbers a strategy
    instead of every return), with each strategy's VaR as a dotted line."""
    values = {name: r.dropna().to_numpy(float) for name, r in returns.items()}
    pooled = np.concatenate([v for v in values.values() if len(v)] or [np.array([])])
    if len(pooled) == 0:
        return None
    edges = np.histogram_bin_edges(pooled, bins=bins)
    centers, widths = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    data, shapes = [], []
    for index, (name, v) in enumerate(values.items()):
        counts, _ = np.histogram(v, bins=edges)
        shade = color(name, index)
        data.append(
            {
                "type": "bar",
                "x": json_values(centers),
                "y": counts.tolist(),
                "width": json_values(widths),
                "name": name,
                "marker": {"color": shade},
                "opacity": 0.55,
                "hovertemplate": "%{x:.2%}: %{y} sessions",
            }
        )
        if np.isfinite(var.get(name, np.nan)):
            shapes.append(
                {
                    "type": "line",
                    "xref": "x",
                    "yref": "paper",
                    "x0": var[name],
                    "x1": var[name],
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": shade, "dash": "dot", "width": 1.5},
                }
            )
    layout = {
        **_BASE_LAYOUT,
        "barmode": "overlay",
        "hovermode": "closest",
        "shapes": shapes,
        "xaxis": {"title": {"text": "daily net return"}, "tickformat": ".1%"},
        "yaxis": {"title": {"text": "sessions"}},
    }
    return {"data": data, "layout": layout}
