"""The source registry: one entry per source, agreeing with the settings, the CLI's help
and the sources themselves; one answer to "which source serves this ticker, and is it
live?"."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from stock_pipeline.cli.main import ENVIRONMENT
from stock_pipeline.market_data.sources import (
    LIVE_SOURCES,
    SOURCES,
    MarketDataSource,
    make_source,
    serving_sources,
)
from stock_pipeline.market_data.sources.sample import SAMPLE_TICKERS, sample_date_range
from stock_pipeline.settings import SOURCE_NAMES, Settings, SourceSettings
from stock_pipeline_tests.support.synthetic import synthetic_bars, write_csv


def every_source_settings(csv_dir: Path) -> SourceSettings:
    return SourceSettings(csv_dir=csv_dir, alphavantage_api_key="not-a-real-key")


def test_the_registry_and_the_settings_name_the_same_sources() -> None:
    assert tuple(SOURCES) == SOURCE_NAMES
    for name in SOURCE_NAMES:
        assert SourceSettings(name=name).name == name
    with pytest.raises(ValueError, match="STOCK_PIPELINE_SOURCE='news'"):
        SourceSettings(name="news")


def test_the_cli_help_names_every_source() -> None:
    (line,) = [row for row in ENVIRONMENT.splitlines() if "STOCK_PIPELINE_SOURCE " in row]
    listed = line.split(maxsplit=1)[1]
    assert all(name in listed for name in SOURCES), listed


@pytest.mark.parametrize("name", list(SOURCES))
def test_each_entry_makes_its_source_with_every_member_the_product_calls(tmp_path, name) -> None:
    source = make_source(every_source_settings(tmp_path).model_copy(update={"name": name}))
    assert isinstance(source, MarketDataSource)
    assert source.name == name
    assert source.live is SOURCES[name].live
    assert source.describe() and SOURCES[name].description


def test_the_live_sources_are_the_two_that_publish_every_session() -> None:
    assert LIVE_SOURCES == ("yfinance", "alphavantage")


@pytest.mark.parametrize("name", LIVE_SOURCES)
def test_a_live_source_answers_newest_bar_without_asking_its_provider(tmp_path, name) -> None:
    source = make_source(every_source_settings(tmp_path).model_copy(update={"name": name}))
    assert source.newest_bar("AAPL") is None  # no network here: the test would hang or fail


def test_a_source_that_is_not_live_knows_its_newest_bar(tmp_path) -> None:
    sample = make_source(SourceSettings(name="sample"))
    assert sample.newest_bar("^GSPC") == sample_date_range("^GSPC")[1] == dt.date(2018, 12, 31)
    assert sample.newest_bar("AAPL") is None
    assert all(ticker in sample.describe() for ticker in SAMPLE_TICKERS)
    bars = synthetic_bars(30, start=dt.date(2020, 1, 2))
    write_csv(tmp_path, "ABC", bars)
    csv = make_source(SourceSettings(name="csv", csv_dir=tmp_path))
    assert csv.newest_bar("ABC") == bars["date"].max().date()
    assert csv.newest_bar("XYZ") is None


def test_the_csv_source_without_a_folder_is_an_error_naming_the_variable() -> None:
    with pytest.raises(ValueError, match="STOCK_PIPELINE_CSV_DIR"):
        make_source(SourceSettings(name="csv"))


def test_serving_sources_groups_by_the_watchlist_source_else_the_default(tmp_path) -> None:
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text(
        "tickers:\n  - ticker: ^GSPC\n    source: sample\n  - AAPL\n"
        "  - ticker: ^IXIC\n    source: sample\n  - ticker: ABC\n    source: csv\n"
    )
    settings = Settings(watchlist_path=watchlist, source={"name": "yfinance", "retries": 2})
    served = serving_sources(settings, ["AAPL", "^GSPC", "MSFT", "^IXIC", "ABC"])
    assert [(s.source, s.live, s.tickers) for s in served] == [
        ("yfinance", True, ["AAPL", "MSFT"]),
        ("sample", False, ["^GSPC", "^IXIC"]),
        ("csv", False, ["ABC"]),
    ]
    # each group's settings are the configured ones with that source's name
    assert [s.settings.name for s in served] == ["yfinance", "sample", "csv"]
    assert all(s.settings.retries == 2 for s in served)
    assert served[1].open().newest_bar("^IXIC") == sample_date_range("^IXIC")[1]
    no_watchlist = Settings(watchlist_path=tmp_path / "none.yaml", source={"name": "sample"})
    assert [(s.source, s.live) for s in serving_sources(no_watchlist, ["^GSPC"])] == [
        ("sample", False)
    ]


def test_importing_the_registry_loads_no_source_library() -> None:
    probe = (
        "import sys, stock_pipeline.market_data.sources as s\n"
        "assert set(s.SOURCES) >= {'yfinance', 'alphavantage', 'sample'}\n"
        "print(','.join(m for m in ('yfinance', 'curl_cffi', 'arch') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=Path(__file__).parents[2],  # this checkout's package, as the tests import it
    )
    assert done.stdout.strip() == ""
