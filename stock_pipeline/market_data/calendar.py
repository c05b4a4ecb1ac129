"""Trading days of the exchange (NYSE by default), from the maintained ``exchange_calendars``."""

from __future__ import annotations

import datetime as dt
from functools import cache

import exchange_calendars as xcals
import pandas as pd

CALENDAR_HORIZON_YEARS = 1  # holidays are listed through the end of next year
CALENDAR_START = dt.date(1960, 1, 1)


@cache
def _calendar(exchange: str, start: dt.date, end: dt.date) -> xcals.ExchangeCalendar:
    return xcals.get_calendar(exchange, start=pd.Timestamp(start), end=pd.Timestamp(end))


def calendar_end(today: dt.date | None = None) -> dt.date:
    today = today or dt.date.today()
    return dt.date(today.year + CALENDAR_HORIZON_YEARS, 12, 31)


def trading_days(start: dt.date, end: dt.date, exchange: str = "XNYS") -> list[dt.date]:
    """Sessions between start and end inclusive."""
    if end < start:
        return []
    lo = min(start, CALENDAR_START)  # one calendar for every query after it
    cal = _calendar(exchange, lo, max(end, calendar_end()))
    sessions = cal.sessions_in_range(pd.Timestamp(start), pd.Timestamp(end))
    return [ts.date() for ts in sessions]


def weekday_holidays(start: dt.date, end: dt.date, exchange: str = "XNYS") -> list[dt.date]:
    """Weekdays on which the exchange is closed (holidays and one-off closures)."""
    weekdays = {ts.date() for ts in pd.bdate_range(start, end)}
    return sorted(weekdays - set(trading_days(start, end, exchange)))


def is_trading_day(day: dt.date, exchange: str = "XNYS") -> bool:
    return bool(trading_days(day, day, exchange))


def latest_due_session(
    now: dt.datetime, close: dt.time, due_hours: float, exchange: str = "XNYS"
) -> dt.date:
    """The newest session whose bar should be stored by ``now`` (exchange-local time).

    A session's bar is due ``due_hours`` after its close; before that, the previous
    session is the newest one that must be there.
    """
    today = now.date()
    recent = trading_days(today - dt.timedelta(days=14), today, exchange)
    for day in reversed(recent):
        due = dt.datetime.combine(day, close) + dt.timedelta(hours=due_hours)
        if now.replace(tzinfo=None) >= due:
            return day
    raise ValueError(f"no session of {exchange} in the two weeks before {today}")


def current_session(today: dt.date, exchange: str = "XNYS") -> dt.date:
    """The newest session on or before ``today`` (the exchange-local date): no bar can be
    dated after it yet."""
    recent = trading_days(today - dt.timedelta(days=14), today, exchange)
    if not recent:
        raise ValueError(f"no session of {exchange} in the two weeks before {today}")
    return recent[-1]


def next_session(day: dt.date, steps: int, exchange: str = "XNYS") -> dt.date:
    """The session ``steps`` sessions after ``day``."""
    return trading_days(
        day + dt.timedelta(days=1), day + dt.timedelta(days=7 * steps + 14), exchange
    )[steps - 1]
