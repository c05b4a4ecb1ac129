"""Checks of the settings whose valid values live outside this package: the exchange
calendars, the IANA time zones and the feature-column names. A bad value is a ValueError
that names the setting, the value and, where one is close, the value meant.

``exchange_calendars`` (pandas and every calendar: seconds to import) is imported only
when an ``exchange`` is given, so importing the settings stays cheap."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from functools import cache

from stock_pipeline.settings.data import FEATURE_COLUMNS


@cache
def _calendar_names() -> tuple[str, ...]:
    import exchange_calendars

    return tuple(exchange_calendars.get_calendar_names(include_aliases=True))


@cache
def _timezone_names() -> frozenset[str]:
    import zoneinfo

    return frozenset(zoneinfo.available_timezones())


def _did_you_mean(value: str, known: Iterable[str]) -> str:
    """``; did you mean 'X'?`` for the closest known names (compared in any case), or ''."""
    by_folded = {name.casefold(): name for name in known}
    close = difflib.get_close_matches(value.casefold(), list(by_folded), n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(repr(by_folded[c]) for c in close)}?" if close else ""


def check_exchange(value: str) -> str:
    """``value`` if it is an exchange_calendars calendar name (or alias)."""
    names = _calendar_names()
    if value not in names:
        raise ValueError(
            f"exchange={value!r} is not an exchange_calendars calendar{_did_you_mean(value, names)}"
            " (the names are exchange_calendars.get_calendar_names(), e.g. 'XNYS', 'XLON')"
        )
    return value


def check_timezone(value: str) -> str:
    """``value`` if ``zoneinfo`` knows it as a time zone."""
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        # ZoneInfoNotFoundError is a KeyError, whose text is only the quoted key
        why = "" if isinstance(exc, KeyError) else f" ({exc})"
        hint = _did_you_mean(value, _timezone_names()) or " (e.g. 'America/New_York')"
        message = f"exchange_timezone={value!r} is not an IANA time zone{why}{hint}"
        raise ValueError(message) from None
    return value


def check_feature_columns(columns: Sequence[str]) -> None:
    """Every name in ``columns`` is a feature column."""
    unknown = [c for c in columns if c not in FEATURE_COLUMNS]
    if unknown:
        raise ValueError(
            f"features.columns names unknown feature(s) {unknown}; known: {list(FEATURE_COLUMNS)}"
        )
