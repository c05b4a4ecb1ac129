"""Checks of the settings whose valid values live outside this package: the exchange
calendars, the IANA time zones and the feature-column names. A bad value is a ValueError
that names the setting, the value and, where one is close, the value meant.

``exchange_calendars`` (pandas and every calendar: seconds to import) is imported only
when an ``exchange`` is given, and ``difflib`` only for a bad value, so importing the
settings stays as cheap as before."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence, Set
from functools import cache
from typing import Any

from stock_pipeline.settings.data import FEATURE_COLUMNS


@cache
def _calendar_names() -> tuple[str, ...]:
    import exchange_calendars

    return tuple(exchange_calendars.get_calendar_names(include_aliases=True))


@cache
def _timezone_names() -> frozenset[str]:
    import zoneinfo

    return frozenset(zoneinfo.available_timezones())


def did_you_mean(value: str, known: Iterable[str]) -> str:
    """``; did you mean 'X'?`` for the closest known names (compared in any case), or ''."""
    import difflib

    by_folded = {name.casefold(): name for name in known}
    close = difflib.get_close_matches(value.casefold(), list(by_folded), n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(repr(by_folded[c]) for c in close)}?" if close else ""


def check_exchange(value: str) -> str:
    """``value`` if it is an exchange_calendars calendar name (or alias)."""
    names = _calendar_names()
    if value not in names:
        raise ValueError(
            f"exchange={value!r} is not an exchange_calendars calendar{did_you_mean(value, names)}"
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
        hint = did_you_mean(value, _timezone_names()) or " (e.g. 'America/New_York')"
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


def check_universe_features(features: Sequence[str]) -> None:
    """``log_return`` first (the target and the trading rules are built from it), then
    columns of the ``indicators`` table."""
    from stock_pipeline.warehouse.schema import INDICATOR_COLUMNS  # names only: no SQL run

    if features[0] != "log_return":
        raise ValueError(
            f"universe.features={list(features)}: the first feature must be log_return "
            "(the target and the trading rules are built from it)"
        )
    for name in features[1:]:
        if name not in INDICATOR_COLUMNS:
            raise ValueError(
                f"universe.features names {name!r}, which is not an indicators column"
                + (did_you_mean(name, INDICATOR_COLUMNS) or f"; known: {INDICATOR_COLUMNS}")
            )


def describe_errors(errors: Sequence[Mapping[str, Any]], secret_fields: Set[str]) -> str:
    """Pydantic's ``errors()`` on one line, each as ``section.field: what is wrong (got
    value)``. A value is shown only when it is a plain scalar of a field that is not a
    secret: pydantic's own text shows the whole input of a section-level error, an API key
    read from the environment included."""
    lines = []
    for error in errors:
        where = ".".join(str(part) for part in error["loc"])
        what = str(error["msg"]).removeprefix("Value error, ")
        value = error.get("input")
        shown = isinstance(value, str | int | float | dt.date) and not any(
            str(part) in secret_fields for part in error["loc"]
        )
        got = f" (got {str(value)[:80]!r})" if shown and repr(value) not in what else ""
        lines.append(f"{where}: {what}{got}" if where else f"{what}{got}")
    return "; ".join(lines)
