"""The report's sentences: the backtest period, the next-session forecast, and the
paragraph that says why the forecast verdict and the trading results can disagree,
with this report's own numbers. Plain text: the caller escapes it."""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd

from stock_pipeline.forecasting.targets import TARGETS
from stock_pipeline.trading.report.formatting import (
    format_date,
    format_number,
    format_percent,
    format_price,
    is_missing,
)
from stock_pipeline.trading.report.inputs import Forecast


def backtest_period(frames: dict[str, pd.DataFrame], execution: str) -> str:
    dates = [f["date"] for f in frames.values() if len(f)]
    if not dates:
        return "Backtest: no sessions."
    first, last = min(d.min() for d in dates), max(d.max() for d in dates)
    sessions = max(len(d) for d in dates)
    at = "open" if execution == "next_open" else "close"
    return (
        f"Backtest from {format_date(first)} to {format_date(last)} ({sessions} sessions); "
        f"a signal formed at a close trades at the next session's {at} ({execution})."
    )


def _log_return_phrase(predicted: float, day: str) -> str:
    return f"a log return of {format_percent(predicted, signed=True)} to {day}"


def _variance_phrase(predicted: float, day: str) -> str:
    return (
        f"a realized variance of {predicted:.3g} to {day} (a volatility of "
        f"{format_percent(math.sqrt(max(predicted, 0.0)), 2)} over those sessions)"
    )


def _price_phrase(predicted: float, day: str) -> str:
    return f"a price of {format_price(predicted)} at the close of {day}"


def _probability_phrase(predicted: float, day: str) -> str:
    return f"a {format_percent(predicted, 1)} probability of an up move to {day}"


#: How a forecast is put in words, by its units (``Target.units``).
FORECAST_PHRASES: dict[str, Callable[[float, str], str]] = {
    "log_return": _log_return_phrase,
    "variance": _variance_phrase,
    "price": _price_phrase,
    "probability": _probability_phrase,
}


def forecast_text(forecast: Forecast | None, asof: object) -> str:
    if forecast is None:
        return f"Next-session forecast: none stored as of {format_date(asof)}."
    phrase = FORECAST_PHRASES[TARGETS[forecast.kind].units]
    what = phrase(forecast.predicted, format_date(forecast.target_date))
    return (
        f"Next-session forecast (made at the close of {format_date(asof)}, target kind "
        f"{forecast.kind}): {what}."
    )


def _lookup(frame: pd.DataFrame, key: str, row: str, metric: str) -> float:
    rows = frame[(frame[key] == row) & (frame["metric"] == metric)]
    if key == "model":  # the overall scores are the fold-less rows
        rows = rows[rows["fold"].isna()]
    value = rows["value"].iloc[0] if len(rows) else math.nan
    return math.nan if is_missing(value) else float(value)


def _accuracy_sentence(fold_metrics: pd.DataFrame) -> str:
    skill = _lookup(fold_metrics, "model", "lstm", "skill")
    qlike = _lookup(fold_metrics, "model", "lstm", "qlike")
    if math.isfinite(qlike) and math.isfinite(skill):
        p = _lookup(fold_metrics, "model", "lstm", "dm_pvalue_qlike")
        garch = _lookup(fold_metrics, "model", "garch", "qlike")
        p_garch = _lookup(fold_metrics, "model", "lstm", "dm_vs_garch_pvalue_qlike")
        side = "lower" if skill > 0 else "higher"
        return (
            "The verdict is about forecast accuracy: over every out-of-sample forecast, the "
            f"LSTM's QLIKE loss ({format_number(qlike)}) is {format_percent(abs(skill), 1)} "
            f"{side} than that of the naive forecast, the last 21 sessions' mean variance "
            f"(Diebold-Mariano p = {p:.3g}); GARCH(1,1)'s is {format_number(garch)} "
            f"(p = {p_garch:.3g})."
        )
    if math.isfinite(skill):
        p = _lookup(fold_metrics, "model", "lstm", "dm_pvalue")
        test = f", Diebold-Mariano p = {p:.3g}" if math.isfinite(p) else ""
        side = "lower" if skill > 0 else "higher"
        return (
            "The verdict is about forecast accuracy: over every out-of-sample forecast, the "
            f"LSTM's root mean squared error is {format_percent(abs(skill), 1)} {side} than "
            f"that of the naive forecast of no change (skill {format_percent(skill, 1, True)}"
            f"{test})."
        )
    hits = _lookup(fold_metrics, "model", "lstm", "direction_accuracy")
    if math.isfinite(hits):
        return (
            "The verdict is about forecast accuracy: the LSTM called the direction right on "
            f"{format_percent(hits, 1)} of its out-of-sample forecasts."
        )
    return "The verdict is about forecast accuracy; this ticker has no scores yet."


def explanation(
    metrics: pd.DataFrame,
    fold_metrics: pd.DataFrame,
    frames: dict[str, pd.DataFrame],
    target: str = "return",
) -> str:
    """Why "the LSTM lost to naive" can sit above a strategy that beat buy-and-hold."""
    sized = TARGETS[target].traded_as == "variance"  # no signal: sized by its forecasts
    ret = {s: _lookup(metrics, "strategy", s, "total_return") for s in frames}
    sharpe = {s: _lookup(metrics, "strategy", s, "sharpe") for s in frames}
    parts = [
        "Forecast accuracy and trading profit answer different questions, so the verdict "
        "above and the strategy results below can point different ways.",
        _accuracy_sentence(fold_metrics),
    ]
    if "lstm" in frames and "buy_and_hold" in frames:
        lstm, hold = ret["lstm"], ret["buy_and_hold"]
        if not (math.isfinite(lstm) and math.isfinite(hold)):
            compared = "against"
        else:
            compared = "more than" if lstm > hold else "less than" if lstm < hold else "the same as"
        rule = (
            "The strategy results are about money: a variance forecast has no direction, so "
            "for a volatility target the LSTM and naive strategies hold a long position "
            "sized each session to the target volatility by that model's forecast "
            "(backtest.target_volatility over its annualized volatility, capped at "
            "backtest.max_position). Over this backtest the LSTM-sized one returned "
            if sized
            else "The strategy results are about money: the LSTM strategy takes a position "
            "only when its forecast clears a cost threshold, so what counts is the sign of "
            "its larger forecasts, not its squared error. Over this backtest it returned "
        )
        parts.append(
            rule + f"{format_percent(lstm, signed=True)} after costs (Sharpe "
            f"{format_number(sharpe['lstm'])}), {compared} buy-and-hold's "
            f"{format_percent(hold, signed=True)} (Sharpe "
            f"{format_number(sharpe['buy_and_hold'])})."
        )
    if sized:
        return " ".join(parts)
    parts.append(
        "A forecast that loses to naive on squared error can still trade profitably (a few "
        "large misses dominate squared error; the trades depend on the sign), and a more "
        "accurate one can still lose money after costs."
    )
    if "naive" in frames and _lookup(metrics, "strategy", "naive", "trades") == 0:
        parts.append(
            "The naive forecast (a zero return) never clears the threshold, so the naive "
            "strategy never trades and its equity stays at 1."
        )
    return " ".join(parts)
