"""The trade list of a strategy, derived from its daily positions.

A trade is a run of sessions whose closing position is non-zero on one side (a resize
of the same side stays in the trade). With the timeline of ``backtest.simulate`` (the
position held at the close of D_i was traded at D_i's bar):

- entry: the first session of the run, at its execution price (the open of that
  session for ``next_open``, its close for ``next_close``);
- exit: the session after the run, whose bar closes the position, at its execution
  price; a trade still held at the last session is open (no exit);
- P&L: the strategy's net daily returns compounded from the entry session through the
  exit session (through the last session for an open trade). Those are the sessions
  the position earns or pays in: the entry session carries the entry cost (and, for
  ``next_open``, the move from the open to the close), the exit session the move up to
  the exit bar and the exit cost. A reversal (long to short at one bar) is the exit of
  one trade and the entry of the next; its session counts in the trade it closes only
  (with ``next_open`` that includes the new side's first open-to-close move and its entry
  cost), so every session is in at most one trade and the trades compound to the
  strategy's return.
- sessions: exit session - entry session (bars between entry and exit; to the last
  session for an open trade); days: calendar days between the two dates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from stock_pipeline.trading.report.inputs import EXECUTIONS

TRADE_COLUMNS = [
    "side",
    "entry_date",
    "entry_price",
    "exit_date",
    "exit_price",
    "sessions",
    "days",
    "pnl",
    "is_open",
    "reversal",
]


def execution_prices(
    bars: pd.DataFrame | None, dates: pd.DatetimeIndex, execution: str
) -> np.ndarray:
    """The price each session's trades execute at (NaN where ``bars`` lacks the session)."""
    if execution not in EXECUTIONS:
        raise ValueError(f"execution {execution!r} is not one of {EXECUTIONS}")
    if bars is None or bars.empty:
        return np.full(len(dates), np.nan)
    column = "open" if execution == "next_open" else "close"
    by_date = pd.Series(bars[column].to_numpy(float), index=pd.DatetimeIndex(bars["date"]))
    if by_date.index.has_duplicates:
        raise ValueError("bars has more than one row for a session")
    return by_date.reindex(dates).to_numpy(float)


def trade_list(
    strategy: pd.DataFrame, bars: pd.DataFrame | None = None, execution: str = "next_open"
) -> pd.DataFrame:
    """The trades of one strategy's daily rows (date, position, return), oldest first,
    with the columns ``TRADE_COLUMNS`` (prices NaN without ``bars``)."""
    frame = strategy.sort_values("date")
    dates = pd.DatetimeIndex(pd.to_datetime(frame["date"]))
    position = frame["position"].to_numpy(float)
    returns = frame["return"].to_numpy(float)
    if np.isnan(position).any():
        raise ValueError("the positions contain NaN")
    prices = execution_prices(bars, dates, execution)
    side = np.sign(position)
    n = len(side)
    starts = np.flatnonzero(side != np.concatenate([[0.0], side[:-1]]))  # every run
    ends = np.append(starts[1:], n)  # exclusive: the session after the run
    held = side[starts] != 0
    entry, end = starts[held], ends[held]
    is_open = end == n
    last = np.where(is_open, n - 1, end)  # the last session whose return is the trade's
    exit_at = np.minimum(end, n - 1)  # a valid index; masked below for open trades
    growth = 1.0 + returns
    reversal = np.zeros(len(entry), dtype=bool)
    reversal[1:] = entry[1:] == end[:-1]  # entered at the bar that closed the previous one
    first = entry + reversal  # a reversal session stays with the trade it closed
    day = dates.values.astype("datetime64[D]")
    return pd.DataFrame(
        {
            "side": np.where(side[entry] > 0, "long", "short"),
            "entry_date": dates.values[entry],
            "entry_price": prices[entry],
            "exit_date": np.where(is_open, np.datetime64("NaT"), dates.values[exit_at]),
            "exit_price": np.where(is_open, np.nan, prices[exit_at]),
            "sessions": (last - entry).astype(int),
            "days": (day[last] - day[entry]).astype(int),
            "pnl": [
                float(np.prod(growth[a : b + 1])) - 1.0 for a, b in zip(first, last, strict=True)
            ],
            "is_open": is_open,
            "reversal": reversal,
        },
        columns=TRADE_COLUMNS,
    )


def trade_summary(trades: pd.DataFrame) -> dict[str, float]:
    """Count, open count, share of closed trades with a positive P&L, mean P&L and mean
    sessions held over closed trades (NaN without one)."""
    closed = trades[~trades["is_open"].astype(bool)]
    return {
        "trades": float(len(trades)),
        "open": float(trades["is_open"].astype(bool).sum()),
        "winners": float((closed["pnl"] > 0).mean()) if len(closed) else np.nan,
        "mean_pnl": float(closed["pnl"].mean()) if len(closed) else np.nan,
        "mean_sessions": float(closed["sessions"].mean()) if len(closed) else np.nan,
    }
