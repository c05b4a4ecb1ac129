"""The product as a user meets it: a real webserver and daemon, the CLI, GraphQL, a browser.

Starts dagster-webserver and dagster-daemon on loopback over a temporary DAGSTER_HOME,
adds a ticker with `stock-pipeline add-ticker`, waits for the daemon to run its
backfill, then checks the result through the webserver's GraphQL API and in headless
Chromium (Debian's package, driven by Playwright).
"""

from __future__ import annotations

import itertools
import shutil
import time
from pathlib import Path

import pytest

from stock_pipeline_tests.e2e_stack import TICKER, dagster_stack

LINEAGE = [
    "raw_ohlcv",
    "indicators",
    "windowed_tensors",
    "lstm_model",
    "walk_forward_evaluation",
    "backtest_report",
]
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
        yield st


def test_all_six_assets_materialized_for_the_new_ticker(stack) -> None:
    partition = f"{stack.last}|{TICKER}"
    for name in LINEAGE:
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
    assert len(history) == 170  # the whole backfilled history of the data asset


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
    assert f"{stack.first}|{TICKER}" in ranges  # history: one ranged run, not one per day
    assert all(r["status"] == "SUCCESS" for r in runs)


def dismiss_welcome_dialog(page) -> None:
    """Dagster's first-visit "Join the community" dialog covers the page; skip it."""
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.wait_for(timeout=5_000)
        skip.click()
    except Exception:
        pass


@pytest.mark.skip(
    reason="unfinished: the asset page's metadata selector is not verified yet (see issue 6 note)"
)
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run does)")
def test_ui_shows_lineage_and_report_metadata_in_a_browser(stack) -> None:
    from playwright.sync_api import sync_playwright

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
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=flags)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(
            f"{stack.url}/assets/backtest_report?view=lineage&lineageScope=upstream",
            wait_until="networkidle",
        )
        dismiss_welcome_dialog(page)
        for name in LINEAGE:
            # the graph shortens long names in the middle ("walk_f…_evaluation")
            shown = name if len(name) < 16 else name[:6]
            page.get_by_text(shown).first.wait_for(timeout=60_000)
        graph_text = page.inner_text("body")
        page.screenshot(path=str(SCREENSHOTS / "asset_graph.png"))

        page.goto(
            f"{stack.url}/assets/backtest_report?view=partitions&partition={stack.last}|{TICKER}",
            wait_until="networkidle",
        )
        dismiss_welcome_dialog(page)
        page.get_by_text("report_path").first.wait_for(timeout=60_000)
        body = page.inner_text("body")
        page.screenshot(path=str(SCREENSHOTS / "backtest_report.png"), full_page=True)
        browser.close()
    assert all(group in graph_text for group in ("market_data", "forecasting", "evaluation"))
    assert "headline" in body and "report.html" in body
    assert "sharpe" in body
