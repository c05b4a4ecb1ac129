"""The report's charts, drawn with ``matplotlib.figure.Figure`` directly (the Agg
renderer, no pyplot global state), so rendering is thread-safe and needs no display."""

from __future__ import annotations

import datetime as dt
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from stock_pipeline.trading.report.formatting import STRATEGIES, color, ordered

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
        "LSTM: predicted vs actual",
        "Scatter of the LSTM's forecasts against the outcomes, with a 45-degree line",
    ),
}


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
    target_kind: str = "return"  # what ``predicted`` and ``actual`` are in


#: Axis labels of the predicted-vs-actual chart, by target kind.
TARGET_AXES = {
    "return": ("predicted h-day log return", "actual h-day log return"),
    "price": ("predicted price at t+h", "actual price at t+h"),
    "direction": ("predicted probability of an up move", "actual direction (1 = up)"),
}


@dataclass
class RenderedReport:
    html_path: Path
    png_paths: dict[str, Path]
    preview_png_base64: str


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


def _new_figure() -> tuple[Figure, object]:
    fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    ax.grid(True, alpha=0.3)
    return fig, ax


def _png_bytes(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def strategy_frames(daily: pd.DataFrame) -> dict[str, pd.DataFrame]:
    if daily.empty:
        return {}
    frame = daily.copy()
    frame["date"] = pd.to_datetime(frame["date"])
    present = [str(s) for s in frame["strategy"].dropna().unique()]
    return {
        name: frame[frame["strategy"] == name].sort_values("date").reset_index(drop=True)
        for name in ordered(present, STRATEGIES)
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
            ax.plot(frame["date"], values, label=name, color=color(name, index), linewidth=1.2)
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
            color=color(name, index),
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


def predicted_vs_actual_chart(
    predictions: pd.DataFrame, model: str = "lstm", target_kind: str = "return"
) -> bytes:
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
    ax.scatter(x, y, s=8, alpha=0.5, color=color(model, 0), label=model)
    low = float(min(x.min(), y.min()))
    high = float(max(x.max(), y.max()))
    if low == high:
        low, high = low - 1e-3, high + 1e-3
    ax.plot([low, high], [low, high], color="black", linewidth=0.8, linestyle="--", label="y = x")
    ax.axhline(0.0, color="grey", linewidth=0.5)
    ax.axvline(0.0, color="grey", linewidth=0.5)
    xlabel, ylabel = TARGET_AXES[target_kind]
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    corr_text = f"{corr:.3f}" if corr is not None else "n/a"
    ax.set_title(f"{model}: predicted vs actual (n={len(x)}, correlation {corr_text})")
    ax.legend(loc="best", fontsize="small")
    return _png_bytes(fig)


def render_charts(inputs: ReportInputs) -> dict[str, bytes]:
    """Every chart of the report as PNG bytes, keyed as in ``CHARTS``."""
    frames = strategy_frames(inputs.daily)
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
        "predicted_vs_actual": predicted_vs_actual_chart(
            inputs.predictions, target_kind=inputs.target_kind
        ),
    }
