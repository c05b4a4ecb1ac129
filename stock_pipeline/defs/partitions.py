"""Ticker x trading-day partitions shared by every asset of the lineage.

Keys read ``<date>|<ticker>`` (Dagster orders dimensions by name). The date
dimension is daily in New York time with ``end_offset=1``, so the partition of
today exists from midnight and an evening run can materialize the same day;
weekends and exchange holidays are excluded, so every date key is a session.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from dagster import (
    DailyPartitionsDefinition,
    DimensionPartitionMapping,
    DynamicPartitionsDefinition,
    IdentityPartitionMapping,
    MultiPartitionKey,
    MultiPartitionMapping,
    MultiPartitionsDefinition,
    TimeWindowPartitionMapping,
)

from stock_pipeline.market_data.calendar import calendar_end, weekday_holidays
from stock_pipeline.settings import Settings

TICKERS_PARTITION = "tickers"
WEEKEND_CRONS = ["0 0 * * 6", "0 0 * * 0"]

ticker_partitions = DynamicPartitionsDefinition(name=TICKERS_PARTITION)


def make_date_partitions(settings: Settings) -> DailyPartitionsDefinition:
    holidays = weekday_holidays(settings.start_date, calendar_end(), settings.exchange)
    return DailyPartitionsDefinition(
        start_date=settings.start_date.isoformat(),
        timezone=settings.exchange_timezone,
        end_offset=1,
        exclusions=[*WEEKEND_CRONS, *(dt.datetime(d.year, d.month, d.day) for d in holidays)],
    )


def make_partitions(settings: Settings) -> MultiPartitionsDefinition:
    return MultiPartitionsDefinition(
        {"date": make_date_partitions(settings), "ticker": ticker_partitions}
    )


def lookback_mapping(trading_days: int) -> MultiPartitionMapping:
    """Same ticker, the date and the ``trading_days`` sessions before it."""
    return MultiPartitionMapping(
        {
            "date": DimensionPartitionMapping(
                "date",
                TimeWindowPartitionMapping(
                    start_offset=-trading_days, allow_nonexistent_upstream_partitions=True
                ),
            ),
            "ticker": DimensionPartitionMapping("ticker", IdentityPartitionMapping()),
        }
    )


def partition_key(ticker: str, day: dt.date | str) -> str:
    """The ``date|ticker`` key of one (ticker, date) partition."""
    return f"{day}|{ticker}"


def range_tags(
    tickers: list[str], day: dt.date | str, last_day: dt.date | str | None = None
) -> dict[str, str]:
    """Run tags covering ``day`` (.. ``last_day``) for the registry-adjacent ``tickers``."""
    return {
        "dagster/asset_partition_range_start": partition_key(tickers[0], day),
        "dagster/asset_partition_range_end": partition_key(tickers[-1], last_day or day),
    }


def split_key(key: str | MultiPartitionKey) -> tuple[str, dt.date]:
    """(ticker, date) of a ``date|ticker`` partition key."""
    if isinstance(key, MultiPartitionKey):
        dims = key.keys_by_dimension
        return dims["ticker"], dt.date.fromisoformat(dims["date"])
    day, ticker = str(key).split("|", 1)
    return ticker, dt.date.fromisoformat(day)


def dates_by_ticker(keys: Iterable[str | MultiPartitionKey]) -> dict[str, list[dt.date]]:
    """Group a run's partition keys: ticker -> sorted dates."""
    grouped: dict[str, list[dt.date]] = defaultdict(list)
    for key in keys:
        ticker, day = split_key(key)
        grouped[ticker].append(day)
    return {ticker: sorted(days) for ticker, days in sorted(grouped.items())}


def contiguous_runs(registered: list[str], wanted: Iterable[str]) -> list[list[str]]:
    """Split ``wanted`` tickers into runs of neighbours in the registry order.

    A ranged run over ``d|A .. d|C`` covers every ticker registered between A and C,
    so one run can only cover tickers that are adjacent in that order.
    """
    position = {t: i for i, t in enumerate(registered)}
    ordered = sorted({t for t in wanted if t in position}, key=position.__getitem__)
    groups: list[list[str]] = []
    for ticker in ordered:
        if groups and position[groups[-1][-1]] == position[ticker] - 1:
            groups[-1].append(ticker)
        else:
            groups.append([ticker])
    return groups
