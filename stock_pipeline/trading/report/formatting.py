"""Number formatting and ordering shared by the report's tables, charts and the UI."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from stock_pipeline.evaluation.metrics import MODELS
from stock_pipeline.trading.strategies import STRATEGY_NAMES as STRATEGIES

__all__ = ["MODELS", "STRATEGIES"]  # re-exported: the order tables and charts follow

COLORS = {
    "lstm": "#1f77b4",
    "naive": "#ff7f0e",
    "buy_and_hold": "#2ca02c",
    "drift": "#9467bd",
    "arima": "#8c564b",
}
FALLBACK_COLORS = ("#d62728", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")

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

FOLD_METRICS = ("rmse", "direction_accuracy", "skill", "qlike")
FOLD_PERCENT_METRICS = frozenset({"direction_accuracy", "direction_reference", "skill"})
#: Already in percent (not fractions): shown with a % sign, not multiplied by 100.
FOLD_PERCENT_POINT_METRICS = frozenset({"mape"})

MISSING = "\u2014"  # em dash


def is_missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _number_or_text(value: object) -> float | str:
    """The value as a finite float, or the text to show instead of a number."""
    if is_missing(value):
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
    if metric in FOLD_PERCENT_POINT_METRICS:
        return f"{number:.2f}%"
    if metric in {"rmse", "mae"}:
        # a variance's errors (volatility target, ~1e-5) would read 0.00001 at 5 places
        return f"{number:.3g}" if 0 < abs(number) < 1e-3 else f"{number:.5f}"
    return f"{number:.3f}"


def ordered(present: list[str], preferred: tuple[str, ...]) -> list[str]:
    known = [name for name in preferred if name in present]
    return known + sorted(name for name in present if name not in preferred)


def color(name: str, index: int) -> str:
    return COLORS.get(name, FALLBACK_COLORS[index % len(FALLBACK_COLORS)])


def format_percent(value: object, digits: int = 2, signed: bool = False) -> str:
    """A fraction as a percentage (0.0123 -> "1.23%", "+1.23%" when ``signed``)."""
    number = _number_or_text(value)
    if isinstance(number, str):
        return number
    # + 0.0 turns -0.0 (a flat session times a falling price) into 0.0: no "-0.00%"
    return f"{number * 100 + 0.0:{'+' if signed else ''}.{digits}f}%"


def format_number(value: object, digits: int = 2) -> str:
    number = _number_or_text(value)
    return number if isinstance(number, str) else f"{number:.{digits}f}"


def format_price(value: object) -> str:
    """Prices keep 2 decimals (cents) from 1 up, 4 significant digits below."""
    number = _number_or_text(value)
    if isinstance(number, str):
        return number
    return f"{number:,.2f}" if abs(number) >= 1 else f"{number:.4g}"


def format_date(value: object) -> str:
    """An ISO date, or the dash for a missing one (None, NaT)."""
    if is_missing(value):
        return MISSING
    return pd.Timestamp(value).date().isoformat()  # type: ignore[arg-type]


def format_dates(values: object) -> list[str]:
    """``format_date`` of a whole column at once (a per-value Timestamp is slow)."""
    days = pd.DatetimeIndex(values).values.astype("datetime64[D]")  # type: ignore[arg-type]
    return np.where(np.isnat(days), MISSING, np.datetime_as_string(days)).tolist()
