"""stock-pipeline: LSTM stock forecasts that say plainly how good they are.

Runs the Dagster lineage (raw_ohlcv -> indicators -> windowed_tensors -> lstm_model ->
walk_forward_evaluation -> backtest_report) against the instance in DAGSTER_HOME.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings
from collections.abc import Sequence

from stock_pipeline import __version__

ENVIRONMENT = """\
environment:
  STOCK_PIPELINE_SOURCE          yfinance (default), sample (offline), csv, alphavantage
  STOCK_PIPELINE_DATA_DIR        warehouse, models and reports (default ./data)
  STOCK_PIPELINE_START           first as-of date of the model chain (default 2015-01-02)
  STOCK_PIPELINE_HISTORY_START   first year of data (default 2000-01-01)
  STOCK_PIPELINE_CSV_DIR         folder of <TICKER>.csv files for the csv source
  STOCK_PIPELINE_CONFIG          a YAML file overriding any setting
  STOCK_PIPELINE_WATCHLIST       the declared universe (default watchlist.yaml)
  STOCK_PIPELINE_WAREHOUSE       the DuckDB file; STOCK_PIPELINE_MODELS: the model cache
  ALPHAVANTAGE_API_KEY           key of the alphavantage source
  DAGSTER_HOME                   the Dagster instance (default <data dir>/dagster_home)
"""

EXAMPLES = {
    "demo": "example:\n  stock-pipeline demo --data-dir /tmp/demo",
    "materialize": (
        "examples:\n"
        "  stock-pipeline materialize --tickers AAPL,MSFT --start 2015-01-02 --end 2024-12-31\n"
        "  stock-pipeline materialize --tickers ^GSPC --start 2024-01-02 --end 2024-12-31 "
        "--select raw_ohlcv,indicators\n"
        "  stock-pipeline materialize --tickers AAPL,MSFT --start 2010-01-04 --end 2024-12-31 "
        "--select raw_ohlcv,indicators,universe_model,universe_backtest"
    ),
    "add-ticker": (
        "examples:\n  stock-pipeline add-ticker NVDA BRK-B --start 2010-01-04\n"
        "  stock-pipeline add-ticker NVDA --wait"
    ),
    "remove-ticker": (
        "examples:\n  stock-pipeline remove-ticker BRK-B        (lists what it would remove)\n"
        "  stock-pipeline remove-ticker BRK-B --yes  (removes it)"
    ),
    "report": (
        "examples:\n  stock-pipeline report AAPL\n  stock-pipeline report ^gspc --asof 2018-12-31"
    ),
}


def _subparser(sub, name: str, help_text: str) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog=f"{EXAMPLES[name]}\n\n{ENVIRONMENT}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="Dagster's log and tracebacks on errors"
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    from stock_pipeline.cli import commands

    parser = argparse.ArgumentParser(
        prog="stock-pipeline",
        description=__doc__,
        epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    date = commands.parse_date

    demo = _subparser(sub, "demo", "run the whole lineage offline on the bundled sample")
    demo.add_argument("--data-dir", help="where to write (default STOCK_PIPELINE_DATA_DIR)")
    demo.add_argument("--start", type=date, help="first date of data (default: the sample's)")
    demo.set_defaults(func=commands.cmd_demo)

    mat = _subparser(sub, "materialize", "materialize assets for tickers and a date range")
    mat.add_argument(
        "--tickers",
        type=commands.parse_tickers,
        required=True,
        help="comma-separated symbols, e.g. AAPL,^GSPC",
    )
    mat.add_argument("--start", type=date, required=True, help="first date of data, YYYY-MM-DD")
    mat.add_argument("--end", type=date, required=True, help="the as-of date, YYYY-MM-DD")
    mat.add_argument(
        "--select",
        default="*",
        help="comma-separated asset names, or * (default: the per-ticker lineage; the "
        "universe assets run as of --end over every registered ticker when named)",
    )
    mat.set_defaults(func=commands.cmd_materialize)

    add = _subparser(sub, "add-ticker", "register tickers and queue their history for the daemon")
    add.add_argument("tickers", nargs="+", help="symbols, e.g. AAPL ^GSPC BRK-B")
    add.add_argument("--start", type=date, help="first date (default STOCK_PIPELINE_HISTORY_START)")
    add.add_argument(
        "--wait",
        action="store_true",
        help="wait for the data run(s), then list the tickers that failed with the command "
        "that re-runs only them (exit code 1 if any failed)",
    )
    add.add_argument(
        "--timeout", type=float, default=3600.0, help="with --wait: give up after (s, 3600)"
    )
    add.set_defaults(func=commands.cmd_add_ticker)

    rm = _subparser(
        sub,
        "remove-ticker",
        "remove a ticker: its partitions, its rows in every warehouse table, its reports "
        "and cached models (take it off the watchlist first)",
    )
    rm.add_argument("ticker", help="the symbol exactly as registered")
    rm.add_argument(
        "--yes",
        action="store_true",
        help="remove them (without it: list what would be removed and exit with code 1)",
    )
    rm.set_defaults(func=commands.cmd_remove_ticker)

    rep = _subparser(sub, "report", "print (or open) the backtest report of a ticker")
    rep.add_argument("ticker")
    rep.add_argument("--asof", type=date, help="the report of this as-of date (default: newest)")
    rep.add_argument("--open", action="store_true", help="open it in the browser")
    rep.set_defaults(func=commands.cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    warnings.filterwarnings("ignore")
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    from stock_pipeline.cli.slot_wait import RunStopped

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except RunStopped as exc:  # a run ended by a signal or by its wait for a slot
        print(f"stock-pipeline: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:  # SIGINT (or SIGTERM, after a run) between runs
        print("stock-pipeline: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError) as exc:  # a user error: bad input, a missing file
        if args.verbose:
            traceback.print_exc()
        print(f"stock-pipeline: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
