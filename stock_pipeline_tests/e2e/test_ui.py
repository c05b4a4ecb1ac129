"""The product as a user meets it: a real webserver and daemon, the CLI, GraphQL, a browser.

Starts dagster-webserver and dagster-daemon on loopback over a temporary DAGSTER_HOME,
adds a ticker with `stock-pipeline add-ticker`, waits for the daemon to run its
backfill, then checks the result through the webserver's GraphQL API and in headless
Chromium (Debian's package, driven by Playwright).
"""

from __future__ import annotations

import itertools
import re
import shutil
import time
from pathlib import Path

import pytest

from stock_pipeline_tests.support.e2e_stack import TICKER, dagster_stack

LINEAGE = [
    "raw_ohlcv",
    "indicators",
    "windowed_tensors",
    "lstm_model",
    "walk_forward_evaluation",
    "backtest_report",
]
pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(__file__).parent / "screenshots"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with dagster_stack(tmp_path_factory.mktemp("e2e")) as st:
        done = st.cli("add-ticker", TICKER, "--start", st.first.isoformat())
        assert done.returncode == 0, done.stderr
        assert f"for {TICKER}" in done.stdout
        deadline = time.monotonic() + 540
        status = None
        while time.monotonic() < deadline:
            data = st.graphql(
                "{ partitionBackfillsOrError { ... on PartitionBackfills "
                "{ results { id status } } } }"
            )
            (backfill,) = data["partitionBackfillsOrError"]["results"]
            status = backfill["status"]
            if status not in ("REQUESTED", "CANCELING"):
                break
            time.sleep(3)
        daemon_log = (st.root / "daemon.log").read_text()[-3000:]
        assert status == "COMPLETED_SUCCESS", f"backfill {status}\n{daemon_log}"
        # the data run's success makes a sensor request the model chain for the last session
        chain = wait_for_chain_run(st, deadline)
        assert chain == "SUCCESS", f"model chain {chain}\n{daemon_log}"
        yield st


def wait_for_chain_run(st, deadline: float) -> str | None:
    status = None
    while time.monotonic() < deadline:
        runs = st.graphql(
            '{ runsOrError(filter: {pipelineName: "model_chain_job"}) '
            "{ ... on Runs { results { status } } } }"
        )["runsOrError"]["results"]
        status = runs[0]["status"] if runs else None
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            return status
        time.sleep(3)
    return status


def test_all_six_assets_materialized_for_the_new_ticker(stack) -> None:
    for name in LINEAGE:
        # the data assets by year, the model chain as of the last session
        day = stack.last.year if name in ("raw_ohlcv", "indicators") else stack.last
        partition = f"{day}|{TICKER}"
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
    years = sorted({str(d.year) for d in (stack.first, stack.last)})
    # the whole backfilled history of the data asset: one partition per year
    assert sorted(h["partition"].split("|")[0] for h in history) == years


def test_lineage_edges_in_the_webserver(stack) -> None:
    nodes = stack.graphql("{ assetNodes { assetKey { path } dependencyKeys { path } } }")
    deps = {
        n["assetKey"]["path"][-1]: {d["path"][-1] for d in n["dependencyKeys"]}
        for n in nodes["assetNodes"]
    }
    for upstream, downstream in itertools.pairwise(LINEAGE):
        assert deps[downstream] == {upstream}, downstream
    assert deps["raw_ohlcv"] == set()
    assert deps["backtest_summary"] == {"backtest_report"}


def test_backfill_ran_one_data_run_for_the_history(stack) -> None:
    runs = stack.graphql(
        "{ runsOrError { ... on Runs { results { status tags { key value } } } } }"
    )["runsOrError"]["results"]
    ranges = [
        {t["key"]: t["value"] for t in r["tags"]}.get("dagster/asset_partition_range_start")
        for r in runs
    ]
    assert f"{stack.first.year}|{TICKER}" in ranges  # history: one ranged run of years
    assert all(r["status"] == "SUCCESS" for r in runs)


def dismiss_welcome_dialog(page) -> None:
    """Dagster's first-visit "Join the community" dialog covers the page; skip it."""
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.wait_for(timeout=5_000)
        skip.click()
    except Exception:
        pass


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run does)")
def test_ui_shows_lineage_and_report_metadata_in_a_browser(stack) -> None:
    from playwright.sync_api import sync_playwright

    from stock_pipeline.settings import Settings
    from stock_pipeline.warehouse import connect

    SCREENSHOTS.mkdir(exist_ok=True)
    flags = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    partition = f"{stack.last}|{TICKER}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=flags)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})

        # The asset graph: all six assets, laid out left to right in lineage order.
        page.goto(
            f"{stack.url}/assets/backtest_report?view=lineage&lineageScope=upstream&lineageDepth=6",
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

        # The asset page of the new partition: headline table, report path, chart preview.
        page.goto(
            f"{stack.url}/assets/backtest_report?view=partitions&partition={partition}",
            wait_until="networkidle",
        )
        dismiss_welcome_dialog(page)
        page.get_by_text("headline", exact=True).first.wait_for(timeout=60_000)
        report_row = page.locator("tr", has=page.get_by_text("report_path", exact=True))
        report_text = report_row.last.inner_text()
        header = page.locator("tr", has=page.get_by_text("buy_and_hold", exact=True)).last
        columns = header.inner_text().split()
        trades = page.locator("tr", has=page.get_by_text("trades", exact=True)).last
        trades_cells = trades.inner_text().split()
        sharpe = page.locator("tr", has=page.get_by_text("sharpe", exact=True)).last
        sharpe_cells = sharpe.inner_text().split()
        page.screenshot(path=str(SCREENSHOTS / "backtest_report.png"), full_page=True)
        page.get_by_text("[Show Markdown]").first.click()
        chart = page.locator('img[alt="equity curves"]').first
        chart.wait_for(timeout=10_000)
        chart_size = chart.evaluate("img => [img.naturalWidth, img.naturalHeight]")
        page.screenshot(path=str(SCREENSHOTS / "equity_preview.png"))
        browser.close()

    xs = [box["x"] for box in nodes]
    assert xs == sorted(xs) and len(set(xs)) == len(xs), f"lineage not left to right: {xs}"
    groups = ("market_data", "forecasting", "evaluation", "trading")
    assert all(group in graph_text for group in groups)
    assert report_text.split()[-1].endswith(f"/reports/{TICKER}/{stack.last}/report.html")
    assert min(chart_size) > 100  # a real PNG rendered from the data URL
    # The headline table shows the number stored in DuckDB for this partition.
    warehouse = Settings.from_env(stack.env).warehouse
    with connect(warehouse, read_only=True) as con:
        stored = dict(
            con.execute(
                "SELECT strategy, value FROM backtest_metrics "
                "WHERE ticker = ? AND asof_date = ? AND metric = 'trades'",
                [TICKER, stack.last],
            ).fetchall()
        )
    shown = dict(zip(columns[1:], trades_cells[1:], strict=True))
    assert columns[0] == "metric" and trades_cells[0] == "trades"
    assert {k: float(v) for k, v in shown.items()} == stored
    # naive never trades (zero forecast), so its Sharpe ratio is undefined: a dash, not "nan"
    assert dict(zip(columns[1:], sharpe_cells[1:], strict=True))["naive"] == "\u2014"
