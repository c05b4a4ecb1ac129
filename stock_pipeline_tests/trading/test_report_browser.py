"""The report in headless Chromium with every network request refused: the charts draw
from the inlined plotly.js, nothing is fetched, and a 20-year report with hundreds of
folds and many models does not widen a 1,600 px page."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from stock_pipeline_tests.support.report_inputs import synthetic_inputs

pytestmark = pytest.mark.e2e
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PLOTS = ("performance", "trades", "distribution", "predicted_vs_actual")
EXTRA_MODELS = tuple(f"model_{k}" for k in range(8))  # a fold table far wider than the page


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run does)")
def test_report_draws_offline_and_fits_the_page(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    inputs = synthetic_inputs(n_days=5000, n_folds=240)
    extra = inputs.fold_metrics[inputs.fold_metrics["model"] == "arima"]
    inputs.fold_metrics = pd.concat(
        [inputs.fold_metrics, *(extra.assign(model=m) for m in EXTRA_MODELS)], ignore_index=True
    )
    from stock_pipeline.trading.report.html import render_report

    path = render_report(inputs, tmp_path).html_path
    requests: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

        def refuse_network(route) -> None:
            if route.request.url.startswith("file:"):
                route.continue_()
            else:
                requests.append(route.request.url)
                route.abort()

        page.route("**/*", refuse_network)
        page.goto(path.as_uri(), wait_until="load")
        for name in PLOTS:
            page.wait_for_selector(f"#plot-{name} .main-svg", timeout=30_000)
        ranges = page.evaluate(
            "names => names.map(n => document.getElementById('plot-' + n)._fullLayout.xaxis.range)",
            ["performance", "trades"],
        )
        page_width = page.evaluate("document.documentElement.scrollWidth")
        folds = page.evaluate(
            "(() => { const t = document.getElementById('fold-table');"
            " const box = t.parentElement; return [t.scrollWidth, box.clientWidth]; })()"
        )
        browser.close()
    assert errors == []
    assert requests == []
    assert ranges[0] == ranges[1]
    assert str(ranges[0][0]).startswith(str(pd.Timestamp(inputs.daily["date"].min()).date()))
    assert page_width <= 1600
    table_width, box_width = folds
    assert table_width > box_width  # the table scrolls inside its own container
