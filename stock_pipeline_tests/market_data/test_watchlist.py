"""The watchlist file and ticker symbols: a bad entry is skipped by name, the good ones go on."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from dagster import build_sensor_context, instance_for_test

from stock_pipeline.definitions import build_definitions
from stock_pipeline.defs import automation
from stock_pipeline.market_data.watchlist import check_symbol, read_watchlist

NY = ZoneInfo("America/New_York")
START, END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"

# one good entry between each bad one, so a bad entry cannot take its neighbours with it
WATCHLIST = """\
tickers:
  - AAA
  - ticker: BRK-B
    start: 2026-10-01
  - ticker: null
  - ticker: LATER
    start: 2099-01-02
  - ticker: BF.B
  - ticker: BADDAY
    start: 2020-02-30
  - ticker: NOSRC
    source: nope
  - ticker: ..
  - ticker: Universe
  - A/B
  - ticker: ^GSPC
    start: 2026-11-02
"""


def test_bad_entries_are_skipped_naming_the_file_the_entry_and_the_reason(tmp_path) -> None:
    path = tmp_path / "watchlist.yaml"
    path.write_text(WATCHLIST)
    watchlist = read_watchlist(path)
    assert [(e.ticker, e.start) for e in watchlist.entries] == [
        ("AAA", None),
        ("BRK-B", dt.date(2026, 10, 1)),
        ("LATER", dt.date(2099, 1, 2)),  # a future start is the sensor's to judge, by date
        ("BF.B", None),
        ("^GSPC", dt.date(2026, 11, 2)),
    ]
    lines = [str(s) for s in watchlist.skipped]
    where = f"watchlist {path}: entry"
    assert lines == [
        f"{where} 3: needs a 'ticker' symbol",  # not the ticker "None"
        f"{where} 6 ('BADDAY'): start '2020-02-30' is not a YYYY-MM-DD date: "
        "day is out of range for month",
        f"{where} 7 ('NOSRC'): unknown source 'nope'; use one of "
        "('yfinance', 'sample', 'csv', 'alphavantage')",
        f"{where} 8 ('..'): ticker '..' is a reserved name (., .., universe, in any case: "
        "the product's own folders)",
        f"{where} 9 ('Universe'): ticker 'Universe' is a reserved name (., .., universe, in "
        "any case: the product's own folders)",
        f"{where} 10 ('A/B'): ticker 'A/B' contains '/': a symbol holds only letters, "
        "digits and . - ^ = _ &",
    ]


def _tick(defs, instance, when: dt.datetime, monkeypatch):
    monkeypatch.setattr(automation, "utc_now", lambda: when)
    ctx = build_sensor_context(
        instance=instance, repository_def=defs.get_repository_def(), sensor_name="watchlist_sensor"
    )
    # evaluated as the daemon does: a run request must name a job the sensor targets
    return defs.resolve_sensor_def("watchlist_sensor").evaluate_tick(ctx)


def test_the_sensor_registers_the_good_entries_and_reports_the_bad(
    settings, monkeypatch, capsys
) -> None:
    settings.watchlist_path.write_text(WATCHLIST)
    defs = build_definitions(settings)
    now = dt.datetime(2026, 11, 25, 21, 0, tzinfo=NY)  # 2026-11-25 is due
    with instance_for_test() as instance:
        instance.add_dynamic_partitions("tickers", ["AAA"])
        result = _tick(defs, instance, now, monkeypatch)
        (add,) = result.dynamic_partitions_requests
        # LATER (start in 2099) is neither registered nor requested: no bar exists yet
        assert list(add.partition_keys) == ["BRK-B", "BF.B", "^GSPC"]
        ranges = sorted((r.tags[START], r.tags[END]) for r in result.run_requests)
        assert ranges == [
            ("2000|BF.B", "2026|BF.B"),
            ("2026|BRK-B", "2026|BRK-B"),
            ("2026|^GSPC", "2026|^GSPC"),
        ]
        logged = capsys.readouterr().err
        path = settings.watchlist_path
        for entry in [
            "entry 3: needs a 'ticker' symbol; skipped",
            "entry 4 ('LATER'): start 2099-01-02 is after the latest due session 2026-11-25; "
            "skipped",
            "entry 6 ('BADDAY'): start '2020-02-30' is not a YYYY-MM-DD date",
            "entry 7 ('NOSRC'): unknown source 'nope'",
            "entry 8 ('..'): ticker '..' is a reserved name",
            "entry 9 ('Universe'): ticker 'Universe' is a reserved name",
            "entry 10 ('A/B'): ticker 'A/B' contains '/'",
        ]:
            assert f"watchlist {path}: {entry}" in logged

        # once the good ones are registered, the next tick says why the rest wait
        instance.add_dynamic_partitions("tickers", list(add.partition_keys))
        again = _tick(defs, instance, now, monkeypatch)
        assert not again.run_requests and not again.dynamic_partitions_requests
        message = again.skip_message
        assert message.startswith("5 watched ticker(s), none new; ")
        assert "entry 4 ('LATER'): start 2099-01-02 is after" in message
        assert "entry 10 ('A/B')" in message


def test_a_future_start_is_taken_once_it_is_due(settings, monkeypatch) -> None:
    settings.watchlist_path.write_text("tickers:\n  - ticker: NEXT\n    start: 2026-12-01\n")
    defs = build_definitions(settings)
    with instance_for_test() as instance:
        early = _tick(defs, instance, dt.datetime(2026, 11, 25, 21, 0, tzinfo=NY), monkeypatch)
        assert not early.dynamic_partitions_requests and not early.run_requests
        due = _tick(defs, instance, dt.datetime(2026, 12, 1, 21, 0, tzinfo=NY), monkeypatch)
        (add,) = due.dynamic_partitions_requests
        (run,) = due.run_requests
        assert list(add.partition_keys) == ["NEXT"]
        assert (run.tags[START], run.tags["stock_pipeline/asof"]) == ("2026|NEXT", "2026-12-01")


@pytest.mark.parametrize(
    "symbol", ["^GSPC", "BRK-B", "BF.B", "EURUSD=X", "GC=F", "0700.HK", "M&M.NS", "A" * 20]
)
def test_real_symbols_pass(symbol) -> None:
    assert check_symbol(symbol) == symbol


@pytest.mark.parametrize(
    ("symbol", "rule"),
    [
        ("..", "is a reserved name"),
        (".", "is a reserved name"),
        ("UNIVERSE", "is a reserved name"),
        ("universe", "is a reserved name"),
        (".A", "must start with a letter, a digit or ^"),
        ("-X", "must start with a letter, a digit or ^"),
        ("A/B", "contains '/': a symbol holds only letters, digits and . - ^ = _ &"),
        ("A\\B", "contains '\\\\'"),
        ("AB\x07", "contains '\\x07'"),
        ("A\nB", "contains '\\n'"),
        ("X;rm", "contains ';'"),
        ("A*", "contains '*'"),
        ("A|B", "contains '|': a symbol holds only"),
        ("A,B", "(Dagster partition keys cannot hold | , [ ])"),
        ("A" * 21, "is 21 characters long; a symbol has at most 20"),
        ("\u00c4PFEL", "contains '\u00c4'"),
    ],
)
def test_symbols_break_a_named_rule(symbol, rule) -> None:
    with pytest.raises(ValueError) as raised:
        check_symbol(symbol)
    message = str(raised.value)
    assert message.startswith(f"ticker {symbol[:20]!r}") and rule in message, message


def test_the_nightly_refresh_goes_on_for_the_good_entries(settings) -> None:
    from dagster import build_schedule_context

    settings.watchlist_path.write_text(WATCHLIST)
    defs = build_definitions(settings)
    with instance_for_test() as instance:
        instance.add_dynamic_partitions("tickers", ["AAA", "NOSRC", "BF.B"])
        when = dt.datetime(2026, 11, 24, 18, 30, tzinfo=NY)
        with build_schedule_context(instance=instance, scheduled_execution_time=when) as ctx:
            result = defs.resolve_schedule_def("nightly_refresh").evaluate_tick(ctx)
    # NOSRC's entry names a source that does not exist: it is skipped, not fetched elsewhere
    ranges = [(r.tags[START], r.tags[END]) for r in result.run_requests]
    assert ranges == [("2026|AAA", "2026|AAA"), ("2026|BF.B", "2026|BF.B")]
