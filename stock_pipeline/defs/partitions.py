"""Partitions: ticker x year for the data assets, ticker x trading day for the model chain.

Both are multi-partitioned by a dynamic ``ticker`` dimension (add tickers any time) and a
``date`` dimension, so keys read ``<date>|<ticker>`` (Dagster orders dimensions by name):

- the data assets (``raw_ohlcv``, ``indicators``) by **year** (``2018|AAPL``): a ticker's
  20-year history is 20 partitions, not 5,000, which is what makes a backfill cost about
  as much as the work itself; the current year's partition is rematerialized every night
  as it grows;
- the model chain (``windowed_tensors`` .. ``backtest_report``) by **trading day**
  (``2018-06-15|AAPL``): partition (T, d) is the as-of d forecast, evaluation and report,
  and uses nothing dated after d. Daily in New York time with ``end_offset=1``, so the
  partition of today exists from midnight; weekends and exchange holidays are excluded.

No code path lists every key of the chain (tickers x sessions can reach millions).
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
    TimeWindowPartitionsDefinition,
)

from stock_pipeline.market_data.calendar import calendar_end, trading_days, weekday_holidays
from stock_pipeline.settings import Settings

TICKERS_PARTITION = "tickers"
# the run tags Dagster reads a run's partitions from
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
PARTITION_TAG = "dagster/partition"
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


def make_year_partitions(settings: Settings) -> TimeWindowPartitionsDefinition:
    return TimeWindowPartitionsDefinition(
        cron_schedule="0 0 1 1 *",
        fmt="%Y",
        start=str(settings.history_start.year),
        timezone=settings.exchange_timezone,
        end_offset=1,
    )


def make_partitions(settings: Settings) -> MultiPartitionsDefinition:
    """The model chain's: ticker x trading day."""
    return MultiPartitionsDefinition(
        {"date": make_date_partitions(settings), "ticker": ticker_partitions}
    )


def make_data_partitions(settings: Settings) -> MultiPartitionsDefinition:
    """The data assets': ticker x year."""
    return MultiPartitionsDefinition(
        {"date": make_year_partitions(settings), "ticker": ticker_partitions}
    )


def lookback_mapping(windows: int) -> MultiPartitionMapping:
    """Same ticker; the date partition and the ``windows`` date partitions before it
    (counted in the downstream asset's partitions: years, or sessions)."""
    return MultiPartitionMapping(
        {
            "date": DimensionPartitionMapping(
                "date",
                TimeWindowPartitionMapping(
                    start_offset=-windows, allow_nonexistent_upstream_partitions=True
                ),
            ),
            "ticker": DimensionPartitionMapping("ticker", IdentityPartitionMapping()),
        }
    )


def partition_key(ticker: str, day: dt.date | str | int) -> str:
    """The ``date|ticker`` key of one partition (a session, or a year)."""
    return f"{day}|{ticker}"


def range_tags(
    tickers: list[str], first: dt.date | str | int, last: dt.date | str | int | None = None
) -> dict[str, str]:
    """Run tags covering ``first`` (.. ``last``) for the registry-adjacent ``tickers``."""
    return {
        RANGE_START: partition_key(tickers[0], first),
        RANGE_END: partition_key(tickers[-1], last or first),
    }


def split_key(key: str | MultiPartitionKey) -> tuple[str, str]:
    """(ticker, date text) of a ``date|ticker`` partition key."""
    if isinstance(key, MultiPartitionKey):
        dims = key.keys_by_dimension
        return dims["ticker"], dims["date"]
    day, ticker = str(key).split("|", 1)
    return ticker, day


def dates_by_ticker(keys: Iterable[str | MultiPartitionKey]) -> dict[str, list[dt.date]]:
    """Group a model-chain run's partition keys: ticker -> sorted sessions."""
    grouped: dict[str, list[dt.date]] = defaultdict(list)
    for key in keys:
        ticker, day = split_key(key)
        grouped[ticker].append(dt.date.fromisoformat(day))
    return {ticker: sorted(days) for ticker, days in sorted(grouped.items())}


def sessions_by_ticker(
    keys: Iterable[str | MultiPartitionKey],
    last: dt.date,
    settings: Settings,
    since: dt.date | None = None,
) -> dict[str, list[dt.date]]:
    """Group a data run's year keys: ticker -> the sessions of its years, from
    ``history_start`` (or ``since``: a nightly run fetches only the new sessions of the
    current year, the ones before are stored) to ``last`` (the run's as-of date)."""
    years: dict[str, set[int]] = defaultdict(set)
    for key in keys:
        ticker, year = split_key(key)
        years[ticker].add(int(year))
    out = {}
    for ticker, wanted in sorted(years.items()):
        first = max(dt.date(min(wanted), 1, 1), settings.history_start, since or dt.date.min)
        days = trading_days(first, min(last, dt.date(max(wanted), 12, 31)), settings.exchange)
        out[ticker] = [d for d in days if d.year in wanted]
    return out


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
