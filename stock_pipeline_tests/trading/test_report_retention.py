"""Old HTML reports are deleted beyond ``backtest.reports_kept`` per ticker."""

from __future__ import annotations

import datetime as dt

from stock_pipeline.settings import Settings
from stock_pipeline.trading.trade import prune_reports, report_dir


def _write(settings: Settings, ticker: str, day: dt.date) -> None:
    folder = report_dir(settings, ticker, day)
    folder.mkdir(parents=True)
    (folder / "report.html").write_text("<html></html>")


def test_keeps_the_newest_reports_and_the_one_just_written(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path).with_changes(backtest={"reports_kept": 3})
    days = [dt.date(2024, 1, d) for d in (2, 3, 4, 5, 8)]
    for day in days:
        _write(settings, "AAA", day)
    _write(settings, "BBB", days[0])
    (settings.ticker_reports_dir("AAA") / "notes").mkdir()  # not ours: left alone

    deleted = prune_reports(settings, "AAA", days[-1])
    left = sorted(p.name for p in settings.ticker_reports_dir("AAA").iterdir())
    assert sorted(p.name for p in deleted) == ["2024-01-02", "2024-01-03"]
    assert left == ["2024-01-04", "2024-01-05", "2024-01-08", "notes"]
    assert report_dir(settings, "BBB", days[0]).exists()  # another ticker's are its own

    # a backfilled old date keeps its fresh report; the oldest beyond the limit goes
    old = dt.date(2023, 12, 29)
    _write(settings, "AAA", old)
    assert prune_reports(settings, "AAA", old) == []
    assert report_dir(settings, "AAA", old).exists()


def test_none_keeps_everything(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path).with_changes(backtest={"reports_kept": None})
    for d in range(2, 9):
        _write(settings, "AAA", dt.date(2024, 1, d))
    assert prune_reports(settings, "AAA", dt.date(2024, 1, 8)) == []
    assert len(list(settings.ticker_reports_dir("AAA").iterdir())) == 7
