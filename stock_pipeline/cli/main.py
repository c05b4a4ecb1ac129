"""``stock-pipeline``: the command line users and scripts drive the product with."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a YYYY-MM-DD date") from exc


def _quiet() -> None:
    warnings.filterwarnings("ignore")
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")


def _report(outcomes, rerun: str = "") -> int:
    """Each run's line, then every failed ticker in one place, with the command that
    re-runs only them (``rerun`` holds the rest of the command line)."""
    for o in outcomes:
        print(f"  {'ok    ' if o.success else 'FAILED'} {o.label} (run {o.run_id[:8]})")
        for err in o.errors if not o.failed_tickers else []:
            print(f"         {err}")
    failed = {t: e for o in outcomes for t, e in o.failed_tickers.items()}
    unnamed = [o for o in outcomes if not o.success and not o.failed_tickers]
    if not failed and not unnamed:
        return 0
    if failed:
        print(f"{len(failed)} ticker(s) failed (the others completed):")
        for ticker, error in failed.items():
            print(f"  {ticker}: {error}")
        if rerun:
            print(
                f"re-run only them: stock-pipeline materialize --tickers {','.join(failed)} {rerun}"
            )
    for o in unnamed:
        print(f"run {o.label} failed")
    return 1


def cmd_materialize(args: argparse.Namespace) -> int:
    from stock_pipeline.cli import launch
    from stock_pipeline.definitions import build_definitions
    from stock_pipeline.settings import Settings

    settings = Settings.from_env()
    tickers = [t.strip() for t in args.tickers.split(",") if t.strip()]
    with launch.open_instance(settings) as instance:
        outcomes = launch.materialize(
            build_definitions(settings),
            instance,
            tickers,
            args.start,
            args.end,
            args.select,
            settings,
        )
    rerun = f"--start {args.start} --end {args.end} --select {args.select}"
    return _report(outcomes, rerun)


def cmd_add_ticker(args: argparse.Namespace) -> int:
    from stock_pipeline.cli import launch
    from stock_pipeline.definitions import build_definitions
    from stock_pipeline.settings import Settings

    settings = Settings.from_env()
    with launch.open_instance(settings) as instance:
        submitted, already = launch.submit_backfills(
            build_definitions(settings), instance, args.tickers, args.start, settings
        )
    for ticker in already:
        print(
            f"{ticker} is already registered: not submitted again (the nightly run keeps it "
            "up to date; `stock-pipeline materialize` re-runs a range)"
        )
    if submitted is not None:
        chain = (
            f", then the model chain as of {submitted.chain_asof}" if submitted.chain_asof else ""
        )
        print(
            f"submitted backfill {submitted.backfill_id} for {', '.join(submitted.tickers)}: "
            f"data assets on {submitted.sessions} sessions {submitted.first}..{submitted.last}"
            f"{chain}"
        )
        home = launch.dagster_home(settings)
        print(f"the daemon of {home} runs it (dagster dev, or dagster-daemon run)")
    return 0


def demo_settings(data_dir: str | None):
    """The environment's settings with the offline sample as the source, and data
    partitions reaching back to the sample's first year."""
    from stock_pipeline.market_data.sources.sample import sample_date_range
    from stock_pipeline.settings import Settings

    settings = Settings.from_env()
    if data_dir:
        settings = settings.with_changes(data_dir=Path(data_dir))
    first = min(sample_date_range()[0], settings.history_start)
    return settings.with_changes(source={"name": "sample"}, history_start=first)


def cmd_demo(args: argparse.Namespace) -> int:
    from stock_pipeline.cli import launch
    from stock_pipeline.cli.summary import latest_report, summary_lines
    from stock_pipeline.definitions import build_definitions
    from stock_pipeline.market_data.sources.sample import SAMPLE_TICKERS, sample_date_range

    settings = demo_settings(args.data_dir)
    tickers = list(SAMPLE_TICKERS)
    first, end = sample_date_range()
    start = max(args.start or first, settings.history_start)
    print(f"stock-pipeline demo: offline sample {', '.join(tickers)}, {start}..{end}")
    with launch.open_instance(settings) as instance:
        outcomes = launch.materialize(
            build_definitions(settings), instance, tickers, start, end, "*", settings
        )
    code = _report(outcomes)
    print(f"\nAs of {end}:")
    for line in summary_lines(settings, tickers, end):
        print(f"  {line}")
    print("\nreports:")
    for ticker in tickers:
        path = latest_report(settings, ticker, end)
        print(f"  {ticker}: {path if path else 'none'}")
    home = launch.dagster_home(settings)
    print(f"\nwarehouse (DuckDB): {settings.warehouse.resolve()}")
    print(f"models:             {settings.models_dir.resolve()}")
    print(f"Dagster instance:   {home}  (see the runs: DAGSTER_HOME={home} dagster dev)")
    return code


def cmd_report(args: argparse.Namespace) -> int:
    from stock_pipeline.cli.summary import latest_report
    from stock_pipeline.settings import Settings

    settings = Settings.from_env()
    path = latest_report(settings, args.ticker, args.asof)
    if path is None:
        when = f"as of {args.asof}" if args.asof else "yet"
        print(
            f"stock-pipeline: no report for {args.ticker} {when} under {settings.reports_dir}",
            file=sys.stderr,
        )
        return 1
    print(path)
    if args.open:
        import webbrowser

        webbrowser.open(path.as_uri())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stock-pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run the whole lineage offline on the bundled sample")
    demo.add_argument(
        "--data-dir", help="where to write (default STOCK_PIPELINE_DATA_DIR or ./data)"
    )
    demo.add_argument(
        "--start",
        type=_date,
        help="first date of the data assets (default: the sample's first, 1999-01-04)",
    )
    demo.set_defaults(func=cmd_demo)

    mat = sub.add_parser("materialize", help="materialize assets for tickers and a date range")
    mat.add_argument("--tickers", required=True, help="comma-separated symbols, e.g. AAPL,^GSPC")
    mat.add_argument("--start", type=_date, required=True, help="first date, YYYY-MM-DD")
    mat.add_argument("--end", type=_date, required=True, help="last (as-of) date, YYYY-MM-DD")
    mat.add_argument("--select", default="*", help="comma-separated asset names, or * (default)")
    mat.set_defaults(func=cmd_materialize)

    add = sub.add_parser(
        "add-ticker", help="register tickers and submit their history backfill to the daemon"
    )
    add.add_argument("tickers", nargs="+", help="symbols, e.g. AAPL ^GSPC BRK-B")
    add.add_argument("--start", type=_date, help="first date (default STOCK_PIPELINE_START)")
    add.set_defaults(func=cmd_add_ticker)

    rep = sub.add_parser("report", help="print (or open) the latest backtest report of a ticker")
    rep.add_argument("ticker")
    rep.add_argument("--asof", type=_date, help="the report of this as-of date")
    rep.add_argument("--open", action="store_true", help="open it in the browser")
    rep.set_defaults(func=cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    _quiet()
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:
        print(f"stock-pipeline: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
