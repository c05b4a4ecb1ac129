"""The product as a user meets it: a real webserver and daemon, the CLI, GraphQL, a browser.

Starts dagster-webserver and dagster-daemon on loopback over a temporary DAGSTER_HOME,
adds two tickers with one `stock-pipeline add-ticker`, waits for the daemon to run the
data run it queued and the model-chain run that covers both, then checks the result through the
webserver's GraphQL API and in headless Chromium (Debian's package, driven by Playwright):
each ticker's partition page shows its own results, the graph is not red, and the report
opens with every section.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import shutil
import time
from pathlib import Path

import pytest

from stock_pipeline_tests.support.e2e_stack import TICKERS, dagster_stack

LINEAGE = [
    "raw_ohlcv",
    "indicators",
    "windowed_tensors",
    "lstm_model",
    "walk_forward_evaluation",
    "model_comparison",
    "backtest_report",
]
pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(__file__).parent / "screenshots"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with dagster_stack(tmp_path_factory.mktemp("e2e")) as st:
        deadline = time.monotonic() + 540
        # --wait: the command returns once the daemon has run the data run it queued
        done = st.cli(
            "add-ticker", *TICKERS, "--start", st.first.isoformat(), "--wait", timeout=540
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert all(ticker in done.stdout for ticker in TICKERS), done.stdout
        assert "  ok     " in done.stdout and "FAILED" not in done.stdout, done.stdout
        # the history: the data run add-ticker queued, which the daemon's run queue launches
        status = wait_for_job(st, "market_data_job", deadline)
        daemon_log = (st.root / "daemon.log").read_text()[-3000:]
        assert status == "SUCCESS", f"data run {status}\n{daemon_log}"
        # the data run's success makes a sensor request the model chain for the last session
        chain = wait_for_chain_run(st, deadline)
        assert chain == "SUCCESS", f"model chain {chain}\n{daemon_log}"
        # what the hourly schedule runs, launched as a user would from the UI
        check = launch_and_wait(st, "freshness_check_job", deadline)
        assert check == "SUCCESS", f"freshness check run {check}"
        yield st


def wait_for_chain_run(st, deadline: float) -> str | None:
    return wait_for_job(st, "model_chain_job", deadline)


def wait_for_job(st, job: str, deadline: float) -> str | None:
    """Status of the job's newest run once it has finished (or at the deadline)."""
    status = None
    while time.monotonic() < deadline:
        runs = st.graphql(
            "query($job: String!) { runsOrError(filter: {pipelineName: $job}) "
            "{ ... on Runs { results { status } } } }",
            {"job": job},
        )["runsOrError"]["results"]
        status = runs[0]["status"] if runs else None
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            return status
        time.sleep(3)
    return status


def launch_and_wait(st, job: str, deadline: float) -> str | None:
    launched = st.graphql(
        "mutation($job: String!) { launchRun(executionParams: {selector: {"
        'repositoryLocationName: "stock_pipeline", repositoryName: "__repository__", '
        "jobName: $job}}) { __typename ... on PythonError { message } } }",
        {"job": job},
    )["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return wait_for_job(st, job, deadline)


def test_every_lineage_asset_materialized_for_each_new_ticker(stack) -> None:
    for name, ticker in itertools.product(LINEAGE, TICKERS):
        # the data assets by year, the model chain as of the last session
        day = stack.last.year if name in ("raw_ohlcv", "indicators") else stack.last
        partition = f"{day}|{ticker}"
        data = stack.graphql(
            "query($key: AssetKeyInput!, $p: [String!]) { assetOrError(assetKey: $key) {"
            " ... on Asset { assetMaterializations(partitions: $p) { partition runId } } } }",
            {"key": {"path": [name]}, "p": [partition]},
        )
        mats = data["assetOrError"]["assetMaterializations"]
        assert [m["partition"] for m in mats] == [partition], name
    history = stack.graphql(
        "query($key: AssetKeyInput!) { assetOrError(assetKey: $key) {"
        " ... on Asset { assetMaterializations(limit: 1000) { partition } } } }",
        {"key": {"path": ["raw_ohlcv"]}},
    )["assetOrError"]["assetMaterializations"]
    years = {str(d.year) for d in (stack.first, stack.last)}
    # the whole backfilled history of the data asset: one partition per ticker and year
    assert sorted(h["partition"] for h in history) == sorted(
        f"{y}|{t}" for y in years for t in TICKERS
    )


def test_one_model_chain_run_covered_both_tickers(stack) -> None:
    runs = stack.graphql(
        '{ runsOrError(filter: {pipelineName: "model_chain_job"}) '
        "{ ... on Runs { results { runId tags { key value } } } } }"
    )["runsOrError"]["results"]
    assert len(runs) == 1
    tags = {t["key"]: t["value"] for t in runs[0]["tags"]}
    first, last = (
        tags["dagster/asset_partition_range_start"],
        tags["dagster/asset_partition_range_end"],
    )
    assert (first, last) == (f"{stack.last}|{TICKERS[0]}", f"{stack.last}|{TICKERS[-1]}")


def test_the_graph_is_not_red(stack) -> None:
    """No check of any asset has failed, and the freshness check (offline csv) passed."""
    nodes = stack.graphql(
        "{ assetNodes { assetKey { path } assetChecksOrError {"
        " ... on AssetChecks { checks { name } } } } }"
    )["assetNodes"]
    statuses = {}
    for node in nodes:
        key = node["assetKey"]["path"]
        for check in node["assetChecksOrError"].get("checks", []):
            runs = stack.graphql(
                "query($key: AssetKeyInput!, $name: String!) { assetCheckExecutions("
                "assetKey: $key, checkName: $name, limit: 100) { status } }",
                {"key": {"path": key}, "name": check["name"]},
            )["assetCheckExecutions"]
            statuses[f"{key[-1]}.{check['name']}"] = {r["status"] for r in runs}
    assert statuses["raw_ohlcv.raw_ohlcv_fresh"] == {"SUCCEEDED"}
    failed = {name: s for name, s in statuses.items() if s - {"SUCCEEDED"}}
    assert not failed
    assert sum(bool(s) for s in statuses.values()) >= 5  # the data checks ran too


def test_lineage_edges_in_the_webserver(stack) -> None:
    nodes = stack.graphql("{ assetNodes { assetKey { path } dependencyKeys { path } } }")
    deps = {
        n["assetKey"]["path"][-1]: {d["path"][-1] for d in n["dependencyKeys"]}
        for n in nodes["assetNodes"]
    }
    for upstream, downstream in itertools.pairwise(LINEAGE):
        if downstream == "backtest_report":  # it backtests the evaluation's predictions
            assert deps[downstream] == {upstream, "walk_forward_evaluation"}
            continue
        assert deps[downstream] == {upstream}, downstream
    assert deps["raw_ohlcv"] == set()
    assert deps["backtest_summary"] == {"backtest_report"}


def test_add_ticker_ran_one_data_run_for_the_history(stack) -> None:
    runs = stack.graphql(
        "{ runsOrError { ... on Runs { results { pipelineName status tags { key value } } } } }"
    )["runsOrError"]["results"]
    data = [
        {t["key"]: t["value"] for t in r["tags"]}
        for r in runs
        if r["pipelineName"] == "market_data_job"
    ]
    # history: one ranged run of every year over both tickers, tagged as the CLI's
    assert [
        (d["dagster/asset_partition_range_start"], d["dagster/asset_partition_range_end"])
        for d in data
    ] == [(f"{stack.first.year}|{TICKERS[0]}", f"{stack.last.year}|{TICKERS[-1]}")]
    assert data[0]["stock_pipeline/trigger"] == "cli"
    assert data[0]["stock_pipeline/new_ticker"] == ",".join(TICKERS)
    assert all(r["status"] == "SUCCESS" for r in runs)


def dismiss_welcome_dialog(page) -> None:
    """Dagster's first-visit "Join the community" dialog covers the page; skip it."""
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.wait_for(timeout=5_000)
        skip.click()
    except Exception:
        pass


BROWSER_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPORT_SECTIONS = (
    "dm-verdict",
    "reading",
    "forecast",
    "period",
    "metrics",
    "benchmark",
    "trades",
    "drawdowns",
    "periods",
    "distribution",
    "folds",
)


def stored_metric(stack, ticker: str, metric: str) -> dict[str, float]:
    from stock_pipeline.settings import Settings
    from stock_pipeline.warehouse import connect

    with connect(Settings.from_env(stack.env).warehouse, read_only=True) as con:
        return dict(
            con.execute(
                "SELECT strategy, value FROM backtest_metrics "
                "WHERE ticker = ? AND asof_date = ? AND metric = ?",
                [ticker, stack.last, metric],
            ).fetchall()
        )


def metadata_row(page, label: str) -> list[str]:
    """The cells of the metadata (or headline) row whose first cell is ``label``."""
    row = page.locator("tr", has=page.get_by_text(label, exact=True)).last
    return row.inner_text().split()


def read_partition_page(page, stack, ticker: str) -> dict:
    """What the ``backtest_report`` page of (last session, ticker) shows."""
    partition = f"{stack.last}|{ticker}"
    page.goto(
        f"{stack.url}/assets/backtest_report?view=partitions&partition={partition}",
        wait_until="networkidle",
    )
    dismiss_welcome_dialog(page)
    page.get_by_text("headline", exact=True).first.wait_for(timeout=60_000)
    shown = {
        "columns": metadata_row(page, "buy_and_hold"),
        "trades": metadata_row(page, "trades"),
        "sharpe": metadata_row(page, "sharpe"),
        "report": metadata_row(page, "report_path")[-1],
        "forecast": " ".join(metadata_row(page, "next_session_forecast")),
        "verdict": " ".join(metadata_row(page, "verdict")),
    }
    page.screenshot(path=str(SCREENSHOTS / f"backtest_report_{ticker}.png"), full_page=True)
    page.get_by_text("[Show Markdown]").first.click()
    chart = page.locator('img[alt="equity curves"]').first
    chart.wait_for(timeout=10_000)
    shown["chart_size"] = chart.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    return shown


def read_report(page, path: str, ticker: str) -> dict[str, str]:
    """The text of each section of the self-contained report, opened from disk."""
    page.goto(f"file://{path}", wait_until="load")
    page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
    page.screenshot(path=str(SCREENSHOTS / f"report_{ticker}.png"), full_page=True)
    return {sid: page.locator(f"#{sid}").first.inner_text() for sid in REPORT_SECTIONS}


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run does)")
def test_ui_shows_lineage_and_each_tickers_results_in_a_browser(stack) -> None:
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_FLAGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})

        # The asset graph: all seven assets, laid out left to right in lineage order.
        page.goto(
            f"{stack.url}/assets/backtest_report?view=lineage&lineageScope=upstream&lineageDepth=7",
            wait_until="networkidle",
        )
        dismiss_welcome_dialog(page)
        nodes = []
        for name in LINEAGE:
            # the graph shortens long names in the middle ("walk_f…_evaluation")
            abbreviated = re.compile(f"^{re.escape(name[:6])}.+{re.escape(name[-6:])}$")
            node = page.get_by_text(name if len(name) < 16 else abbreviated, exact=True).last
            node.wait_for(timeout=60_000)
            nodes.append(node.bounding_box())
        graph_text = page.inner_text("body")
        page.screenshot(path=str(SCREENSHOTS / "asset_graph.png"))

        pages = {ticker: read_partition_page(page, stack, ticker) for ticker in TICKERS}
        reports = {ticker: read_report(page, pages[ticker]["report"], ticker) for ticker in TICKERS}
        browser.close()

    xs = [box["x"] for box in nodes]
    assert xs == sorted(xs) and len(set(xs)) == len(xs), f"lineage not left to right: {xs}"
    groups = ("market_data", "forecasting", "evaluation", "trading")
    assert all(group in graph_text for group in groups)
    after = next_session_after(stack.last)
    for ticker, shown in pages.items():
        assert shown["report"] == str(
            Path(stack.env["STOCK_PIPELINE_DATA_DIR"]).resolve()
            / "reports"
            / ticker
            / str(stack.last)
            / "report.html"
        )
        assert min(shown["chart_size"]) > 100  # a real image rendered from the data URL
        # the headline shows the numbers stored in DuckDB for this ticker's partition
        columns, trades, sharpe = shown["columns"], shown["trades"], shown["sharpe"]
        assert columns[0] == "metric" and trades[0] == "trades"
        cells = dict(zip(columns[1:], trades[1:], strict=True))
        assert {k: float(v) for k, v in cells.items()} == stored_metric(stack, ticker, "trades")
        # naive never trades (zero forecast): its Sharpe ratio is a dash, not "nan"
        assert dict(zip(columns[1:], sharpe[1:], strict=True))["naive"] == "\u2014"
        assert f"for {after}" in shown["forecast"]
        assert f"{ticker}: LSTM" in shown["verdict"] and "naive forecast" in shown["verdict"]

        report = {k: v.lower() for k, v in reports[ticker].items()}
        assert "naive" in report["dm-verdict"]
        assert f"target {after}" in report["forecast"] or str(after) in report["forecast"]
        assert "naive" in report["reading"]
        assert "beta" in report["benchmark"] and "information ratio" in report["benchmark"]
        assert "var 95%" in report["distribution"] and "skew" in report["distribution"]
        assert "trades (" in report["trades"]
        assert str(stack.last.year) in report["periods"]
        assert "backtest from" in report["period"]
    # each partition shows its own ticker's results, not the run's first ticker twice
    assert pages[TICKERS[0]]["report"] != pages[TICKERS[1]]["report"]


def next_session_after(day):
    from stock_pipeline.market_data.calendar import trading_days

    return next(d for d in trading_days(day, day + dt.timedelta(days=10)) if d > day)
