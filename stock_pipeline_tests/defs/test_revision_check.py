"""``revision_check_weekly``: a csv whose 2014 close was edited after the backfill makes
the check request a data run of the (2014, ticker) partition, and of nothing else."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from dagster import build_schedule_context, instance_for_test

from stock_pipeline.defs.asset_bodies import ASOF_TAG
from stock_pipeline.defs.revisions import build_revision_check
from stock_pipeline.market_data.sources.csv_source import CsvSource
from stock_pipeline.warehouse import connect
from stock_pipeline_tests.support.history import backfill_by_year, sessions_of
from stock_pipeline_tests.support.synthetic import synthetic_bars, write_csv

START, END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
SATURDAY = dt.datetime(2026, 11, 28, 7, 0, tzinfo=ZoneInfo("America/New_York"))


def tick(settings, instance):
    check = build_revision_check(settings)
    with build_schedule_context(instance=instance, scheduled_execution_time=SATURDAY) as ctx:
        return check.evaluate_tick(ctx)


def test_an_edited_old_close_requests_its_year_partition_again(csv_settings, csv_dir) -> None:
    seeds = {"A": 1, "B": 2, "C": 3}
    bars = {t: synthetic_bars(260, seed=s, start=dt.date(2013, 7, 1)) for t, s in seeds.items()}
    source = CsvSource(csv_dir)
    with connect(csv_settings.warehouse) as con:
        for ticker, frame in bars.items():
            write_csv(csv_dir, ticker, frame)
            backfill_by_year(con, source, ticker, sessions_of(frame))
    with instance_for_test() as instance:
        instance.add_dynamic_partitions("tickers", ["A", "B", "C"])
        unchanged = tick(csv_settings, instance)
        for ticker in ("A", "C"):  # two tickers that are not registry neighbours
            edited = bars[ticker].copy()
            edited.loc[150, ["close", "adj_close", "high"]] *= 1.01
            write_csv(csv_dir, ticker, edited)
        result = tick(csv_settings, instance)
    assert unchanged.run_requests == [] and isinstance(unchanged.skip_message, str)
    assert "no change" in unchanged.skip_message
    ranges = [(r.tags[START], r.tags[END]) for r in result.run_requests]
    assert ranges == [("2014|A", "2014|A"), ("2014|C", "2014|C")]
    assert {r.job_name for r in result.run_requests} == {"market_data_job"}
    assert {r.tags[ASOF_TAG] for r in result.run_requests} == {"2026-11-27"}
