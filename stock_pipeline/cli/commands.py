"""The CLI's commands. Each returns the exit code; a user error is a ``ValueError`` whose
message ``main`` prints as one line."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
from collections.abc import Sequence
from pathlib import Path

from stock_pipeline.cli import launch
from stock_pipeline.cli.progress import progress_for
from stock_pipeline.settings import Settings


def _execution(args: argparse.Namespace) -> launch.Execution:
    return launch.Execution(progress_for(args.quiet), args.verbose)


def print_outcomes(outcomes, rerun: Sequence[str] = ()) -> int:
    """Each run's line, with a line per ticker whose rows were rejected or that failed a
    data check; then every failed ticker in one place, with the command that re-runs only
    them (``rerun`` holds the rest of its arguments), and the data checks of severity
    ERROR that failed. The exit code is 1 when a ticker, a run or such a check failed."""
    for o in outcomes:
        print(f"  {'ok    ' if o.success else 'FAILED'} {o.label} (run {o.run_id[:8]})")
        for err in o.errors if not o.failed_tickers else []:
            print(f"         {err}")
        for line in o.findings.lines():
            print(f"         {line}")
    failed = {t: e for o in outcomes for t, e in o.failed_tickers.items()}
    unnamed = [o for o in outcomes if not o.success and not o.failed_tickers]
    checks = _failed_error_checks(outcomes)
    if checks:
        print(f"{len(checks)} data check(s) failed: " + "; ".join(checks))
    if not failed and not unnamed:
        return 1 if checks else 0
    if failed:
        print(f"{len(failed)} ticker(s) failed (the others completed):")
        for ticker, error in failed.items():
            # a source's error names its ticker already: say it once
            print(f"  {ticker}: {error.removeprefix(ticker + ': ')}")
        if rerun:
            print(f"re-run only them: {rerun_command(list(failed), rerun)}")
    for o in unnamed:
        print(f"run {o.label} failed")
    return 1


def _failed_error_checks(outcomes) -> list[str]:
    """Each failed data check of severity ERROR once, with the tickers it names."""
    named: dict[str, list[str]] = {}
    for o in outcomes:
        for check in o.findings.failed_checks:
            if check.is_error:
                tickers = named.setdefault(check.name, [])
                tickers += [t for t in check.tickers if t not in tickers]
    return [f"{name} ({', '.join(t) or 'no ticker named'})" for name, t in named.items()]


def cmd_materialize(args: argparse.Namespace) -> int:
    from stock_pipeline.definitions import build_definitions

    settings = Settings.from_env()
    tickers = args.tickers
    execution = _execution(args)
    try:
        with launch.open_instance(settings) as instance:
            outcomes = launch.materialize(
                build_definitions(settings),
                instance,
                tickers,
                args.start,
                args.end,
                args.select,
                settings,
                execution,
            )
    finally:
        execution.progress.close()
    rerun = ["--start", str(args.start), "--end", str(args.end), "--select", args.select]
    return print_outcomes(outcomes, rerun)


def rerun_command(tickers: list[str], rest: Sequence[str]) -> str:
    """The ``materialize`` command line for ``tickers``, every argument shell-quoted: a line
    pasted into a shell runs that command and nothing else (no ``;``, no ``*`` expanded)."""
    return shlex.join(["stock-pipeline", "materialize", "--tickers", ",".join(tickers), *rest])


def cmd_add_ticker(args: argparse.Namespace) -> int:
    from stock_pipeline.cli import queued

    settings = Settings.from_env()
    if len(args.tickers) > 20:  # checking and queuing take ~1 s per ticker: say what it does
        print(f"checking {len(args.tickers)} tickers and queuing their history...", flush=True)
    with launch.open_instance(settings) as instance:
        submitted, already = queued.submit_history(instance, args.tickers, args.start, settings)
        for ticker in already:
            print(
                f"{ticker} is already registered: not submitted again (the nightly run keeps "
                "it up to date; `stock-pipeline materialize` re-runs a range)"
            )
        if submitted is None:
            return 0
        _print_submitted(submitted, launch.dagster_home(settings))
        if not args.wait:
            return 0
        print("waiting for the data run(s)...", flush=True)
        try:
            outcomes = queued.wait_for_history(instance, submitted.run_ids, args.timeout)
        except TimeoutError as exc:
            raise ValueError(f"{exc}; the daemon goes on with them") from exc
    return print_outcomes(outcomes, _rerun_args(submitted))


def _print_submitted(submitted, home: Path) -> None:
    chain = f"; then the model chain as of {submitted.chain_asof}" if submitted.chain_asof else ""
    runs = ", ".join(run_id[:8] for run_id in submitted.run_ids)
    print(
        f"queued {len(submitted.run_ids)} data run(s) ({runs}) for "
        f"{launch.short_names(submitted.tickers)}: data assets on {submitted.sessions} "
        f"sessions {submitted.first}..{submitted.last}{chain}"
    )
    print(f"the daemon of {home} runs them (dagster dev, or dagster-daemon run)")


def _rerun_args(submitted) -> list[str]:
    """The rest of the ``materialize`` command that redoes a failed ticker's add-ticker:
    its history, then (when add-ticker's has one) its model chain as of the last session."""
    select = [] if submitted.chain_asof else ["--select", "raw_ohlcv,indicators"]
    return ["--start", str(submitted.first), "--end", str(submitted.last), *select]


def cmd_remove_ticker(args: argparse.Namespace) -> int:
    from stock_pipeline.cli import removal

    settings = Settings.from_env()
    with launch.open_instance(settings) as instance:
        contents = removal.ticker_contents(instance, settings, args.ticker)
        if not args.yes:
            print(f"remove-ticker would remove for {args.ticker!r}:")
            for line in contents.lines():
                print(f"  {line}")
            print("nothing removed: run it again with --yes to remove them")
            return 1
        removed = removal.remove_ticker(instance, settings, contents)
    print(f"removed for {args.ticker!r}:")
    for line in removed:
        print(f"  {line}")
    return 0


def demo_settings(data_dir: str | None) -> Settings:
    """The environment's settings with the offline sample as the source, and data
    partitions reaching back to the sample's first year."""
    from stock_pipeline.market_data.sources.sample import sample_date_range

    settings = Settings.from_env()
    if data_dir:
        settings = settings.with_changes(data_dir=Path(data_dir))
    first = min(sample_date_range()[0], settings.history_start)
    return settings.with_changes(source={"name": "sample"}, history_start=first)


def cmd_demo(args: argparse.Namespace) -> int:
    from stock_pipeline.cli.summary import comparison_lines, latest_report, summary_lines
    from stock_pipeline.definitions import build_definitions
    from stock_pipeline.market_data.sources.sample import SAMPLE_TICKERS, sample_date_range

    settings = demo_settings(args.data_dir)
    tickers = list(SAMPLE_TICKERS)
    first, end = sample_date_range()
    start = max(args.start or first, settings.history_start)
    print(f"stock-pipeline demo: offline sample {', '.join(tickers)}, {start}..{end}")
    execution = _execution(args)
    try:
        with launch.open_instance(settings) as instance:
            outcomes = launch.materialize(
                build_definitions(settings), instance, tickers, start, end, "*", settings, execution
            )
    finally:
        execution.progress.close()
    code = print_outcomes(outcomes)
    print(f"\nAs of {end}:")
    for line in summary_lines(settings, tickers, end):
        print(f"  {line}")
    print(f"\nModel comparison ({', '.join(settings.evaluation.compare_kinds)}, drift, ARIMA):")
    for line in comparison_lines(settings, tickers, end):
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
    from stock_pipeline.cli.summary import find_report

    settings = Settings.from_env()
    path = find_report(settings, args.ticker, args.asof)
    print(path)
    if args.open:
        if not _can_open_a_browser():
            raise ValueError(
                f"cannot open a browser here (no display, no BROWSER set); open {path.as_uri()}"
            )
        import webbrowser

        if not webbrowser.open(path.as_uri()):
            raise ValueError(f"no browser could be started; open {path.as_uri()}")
    return 0


def _can_open_a_browser() -> bool:
    if os.environ.get("BROWSER"):
        return True
    if os.name == "nt" or os.uname().sysname == "Darwin":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def parse_tickers(text: str) -> list[str]:
    """A comma-separated ``--tickers`` argument (empty entries, as after a trailing comma,
    are dropped), or an error when it names no ticker at all: a run over nothing would
    exit 0 having done nothing."""
    tickers = [t.strip() for t in text.split(",") if t.strip()]
    if not tickers:
        raise argparse.ArgumentTypeError(
            f"{text!r} names no ticker; give comma-separated symbols, e.g. AAPL,MSFT"
        )
    return tickers


def parse_date(text: str) -> dt.date:
    """A ``YYYY-MM-DD`` argument, or an error that says what is wrong with it."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        if len(text) == 10 and text[4] == "-" and text[7] == "-":
            raise argparse.ArgumentTypeError(f"{text!r} is not a date: {exc}") from exc
        raise argparse.ArgumentTypeError(f"{text!r} is not a YYYY-MM-DD date") from exc
