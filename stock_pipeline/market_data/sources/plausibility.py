"""Bars that no market made, rejected before they are stored: dated after the current
session, priced beyond belief, or a day's move no split or dividend explains.

``validate_bars`` (in each source) refuses rows that are incomplete or contradict
themselves; ``screened`` is the second half of the shared validation, applied by the
ingest to every source's result, because its rules need the caller's clock (the current
session) and settings (``source.max_daily_move``, ``source.max_price``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from stock_pipeline.market_data.sources.base import PRICE_COLUMNS, FetchResult, RejectedRow
from stock_pipeline.settings import SourceSettings

_DEFAULTS = SourceSettings.model_fields


@dataclass(frozen=True)
class BarRules:
    """What a plausible bar is, beyond complete and self-consistent (``validate_bars``).

    ``last_session`` is the current session as of the caller's clock (the core never reads
    one): a bar dated after it is from the future. ``max_daily_move`` and ``max_price``
    are ``source.max_daily_move`` and ``source.max_price``.
    """

    last_session: dt.date | None = None  # None: no bar is from the future
    max_daily_move: float = _DEFAULTS["max_daily_move"].default
    max_price: float = _DEFAULTS["max_price"].default

    @classmethod
    def of(cls, settings: SourceSettings, last_session: dt.date | None) -> BarRules:
        return cls(last_session, settings.max_daily_move, settings.max_price)


_MOVE_COLUMNS = ("close", "open", "high", "low")  # against the previous close, in this order


def screen_bars(
    ticker: str,
    bars: pd.DataFrame,
    rules: BarRules,
    actions: pd.DataFrame | None = None,
    where: Mapping[dt.date, str] | None = None,
) -> tuple[pd.DataFrame, list[RejectedRow]]:
    """Reject the bars of ``validate_bars``' output that no market made: dated after
    ``rules.last_session``, priced above ``rules.max_price``, or moved from the previous
    kept close by more than ``rules.max_daily_move`` (either way) with no split or dividend
    in ``actions`` that day to explain it. ``where`` (date -> "file, line n") is appended
    to each reason. Each move is measured from the last kept close, so one typo bar does
    not also condemn the good bar after it; the first bar has none to be measured from."""
    reasons = _static_reasons(bars, rules)
    kept = bars.drop(index=list(reasons))
    reasons |= _move_reasons(kept, rules, _day_actions(actions))
    where = where or {}
    rejected = []
    for i in sorted(reasons, key=lambda i: bars.at[i, "date"]):
        day = bars.at[i, "date"].date()
        located = f" ({where[day]})" if day in where else ""
        rejected.append(RejectedRow(ticker, day.isoformat(), reasons[i] + located))
    clean = bars.drop(index=list(reasons)).reset_index(drop=True)
    return clean, rejected


def _static_reasons(bars: pd.DataFrame, rules: BarRules) -> dict[int, str]:
    """index -> why the bar is impossible on its own (its date, a price); the first rule
    broken names it."""
    reasons: dict[int, str] = {}
    if rules.last_session is not None:
        future = bars.index[bars["date"] > pd.Timestamp(rules.last_session)]
        why = f"dated after the current session {rules.last_session}: a bar from the future"
        reasons |= dict.fromkeys(future, why)
    for column in PRICE_COLUMNS:
        for i in bars.index[bars[column] > rules.max_price]:
            reasons.setdefault(
                i, f"{column} {bars.at[i, column]:.6g} above source.max_price ({rules.max_price:g})"
            )
    return reasons


def _day_actions(actions: pd.DataFrame | None) -> dict[dt.date, tuple[float, float]]:
    """date -> (split ratio, cash dividend) of the source's actions that day."""
    out: dict[dt.date, tuple[float, float]] = {}
    if actions is None or actions.empty:
        return out
    for row in actions.itertuples():
        ratio, cash = out.get(row.date.date(), (1.0, 0.0))
        if row.kind == "split" and row.value > 0:
            ratio *= float(row.value)
        elif row.kind == "dividend":
            cash += float(row.value)
        out[row.date.date()] = (ratio, cash)
    return out


def _move_reasons(
    bars: pd.DataFrame, rules: BarRules, actions: dict[dt.date, tuple[float, float]]
) -> dict[int, str]:
    """index -> why its move from the last kept close is implausible."""
    bound = rules.max_daily_move
    prices = bars[list(_MOVE_COLUMNS)].to_numpy(dtype=float)
    ratios = prices[1:] / prices[:-1, :1]
    if ((ratios <= bound) & (ratios >= 1 / bound)).all():
        return {}  # the usual case: no bar moves that far from the one before it
    reasons: dict[int, str] = {}
    dates = bars["date"].dt.date.to_numpy()
    last = 0  # position of the last kept bar
    for pos in range(1, len(bars)):
        ratio, cash = actions.get(dates[pos], (1.0, 0.0))
        previous = prices[last, 0]
        moves = prices[pos] / previous
        undone = (prices[pos] * ratio + cash) / previous  # the split and dividend undone
        bad = ((moves > bound) | (moves < 1 / bound)) & ((undone > bound) | (undone < 1 / bound))
        if not bad.any():
            last = pos
            continue
        k = int(np.argmax(bad))
        reasons[bars.index[pos]] = (
            f"implausible move: {_MOVE_COLUMNS[k]} {prices[pos, k]:.6g} is {moves[k]:.3g}x the "
            f"close {previous:.6g} of {dates[last]} (beyond source.max_daily_move, {bound:g}x "
            "either way, and no split or dividend that day explains it)"
        )
    return reasons


def screened(result: FetchResult, rules: BarRules) -> FetchResult:
    """``result`` with the bars ``screen_bars`` rejects moved to its rejected rows."""
    bars, rejected = screen_bars(
        result.ticker, result.bars, rules, result.actions, result.locations
    )
    if not rejected:
        return result
    return replace(result, bars=bars, rejected=[*result.rejected, *rejected])
