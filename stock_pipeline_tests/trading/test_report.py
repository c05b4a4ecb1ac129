"""The HTML backtest report as a page: one self-contained file (plotly.js inlined once),
the header and its reading paragraph, escaping and order, the SVG preview, rendering with
missing pieces, bad inputs. Each section's content: ``test_report_sections``."""

from __future__ import annotations

import base64
import datetime as dt
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stock_pipeline.trading.report.html import is_warning_verdict, render_report
from stock_pipeline.trading.report.inputs import Forecast, RenderedReport, ReportInputs
from stock_pipeline.trading.report.preview import equity_svg
from stock_pipeline.trading.report.summary import explanation
from stock_pipeline_tests.support.report_html import figure, parse, text_of
from stock_pipeline_tests.support.report_inputs import STRATEGIES, synthetic_inputs

PLOTS = ("performance", "trades", "distribution", "predicted_vs_actual")
SVG = "{http://www.w3.org/2000/svg}"


def test_only_the_html_file_is_written(rendered: tuple[RenderedReport, str]) -> None:
    result, _ = rendered
    assert result.html_path.name == "report.html"
    assert [p.name for p in result.html_path.parent.iterdir()] == ["report.html"]


def test_self_contained_with_plotly_inlined_once(rendered: tuple[RenderedReport, str]) -> None:
    _, text = rendered
    parser = parse(text)
    for tag, attributes in parser.tags:
        for name in ("src", "href", "srcset", "poster", "data", "action", "background"):
            value = attributes.get(name)
            assert value is None or value.startswith(("data:", "#")), (tag, name, value)
    assert not [a for tag, a in parser.tags if tag == "link"]
    assert all("src" not in a for tag, a in parser.tags if tag == "script")
    assert text.count("plotly.js v") == 1  # the library's banner: inlined once
    bundle = [s for s in parser.scripts if "plotly.js v" in s]
    assert len(bundle) == 1 and len(bundle[0]) > 1_000_000
    assert text.index("plotly.js v") < text.index("Plotly.newPlot")
    page = text.replace(bundle[0], "")  # outside the library's own source
    assert "@import" not in page and "url(" not in page
    assert not re.search(r"https?://", page)
    for name in PLOTS:
        assert len(re.findall(r'Plotly\.newPlot\(\s*"plot-' + name + '"', page)) == 1


def test_header_period_forecast_and_verdict(
    inputs: ReportInputs, rendered: tuple[RenderedReport, str]
) -> None:
    _, text = rendered
    dates = pd.DatetimeIndex(inputs.daily["date"])
    period = text_of(
        text[text.index('id="period"') : text.index("</p>", text.index('id="period"'))]
    )
    assert f"from {dates.min().date()} to {dates.max().date()}" in period
    assert f"({dates.nunique()} sessions)" in period and "next_close" in period
    forecast = text[text.index('id="forecast"') :]
    forecast = forecast[: forecast.index("</p>")]
    assert inputs.forecast is not None
    assert f"a log return of +1.23% to {inputs.forecast.target_date}" in forecast
    assert f"close of {inputs.asof}" in forecast and "target kind return" in forecast
    assert 'class="verdict warning"' in text
    assert "A&lt;B: LSTM LOST to the naive forecast" in text


def test_reading_paragraph_fills_in_this_reports_numbers(
    rendered: tuple[RenderedReport, str],
) -> None:
    _, text = rendered
    start = text.index('id="reading"')
    reading = text_of(text[start : text.index("</p>", start)])
    assert "answer different questions" in reading
    # skill -1.2% (fold_metrics), p 0.064; total return 12.34% for both (metrics)
    assert "1.2% higher than that of the naive forecast" in reading
    assert "skill -1.2%, Diebold-Mariano p = 0.064" in reading
    assert "it returned +12.34% after costs (Sharpe 1.23)" in reading
    assert "buy-and-hold's +12.34% (Sharpe 1.25)" in reading
    assert "never trades" not in reading  # this naive has 23 trades in its metrics


def test_reading_when_the_lstm_lost_to_naive_but_beat_buy_and_hold() -> None:
    metrics = pd.DataFrame(
        [
            {"strategy": "lstm", "metric": "total_return", "value": 0.20},
            {"strategy": "lstm", "metric": "sharpe", "value": 0.9},
            {"strategy": "buy_and_hold", "metric": "total_return", "value": 0.10},
            {"strategy": "buy_and_hold", "metric": "sharpe", "value": 0.5},
            {"strategy": "naive", "metric": "trades", "value": 0.0},
        ]
    )
    folds = pd.DataFrame(
        [
            {"model": "lstm", "fold": None, "metric": "skill", "value": -0.05},
            {"model": "lstm", "fold": None, "metric": "dm_pvalue", "value": 0.01},
            {"model": "lstm", "fold": 0, "metric": "skill", "value": 0.3},  # not overall
        ]
    )
    frames = {name: pd.DataFrame() for name in STRATEGIES}
    text = explanation(metrics, folds, frames)
    assert "error is 5.0% higher than that of the naive forecast" in text
    assert "(skill -5.0%, Diebold-Mariano p = 0.01)" in text
    assert "returned +20.00% after costs (Sharpe 0.90), more than buy-and-hold's +10.00%" in text
    assert "never trades" in text  # naive made 0 trades
    direction = pd.DataFrame(
        [{"model": "lstm", "fold": None, "metric": "direction_accuracy", "value": 0.55}]
    )
    assert "direction right on 55.0% of its" in explanation(metrics, direction, frames)


def test_sections_escaping_and_order(rendered: tuple[RenderedReport, str]) -> None:
    _, text = rendered
    assert "A&lt;B" in text and "A<B" not in text
    assert "&amp; more" in text  # conventions, escaped
    assert "&quot;window&quot;: 60" in text  # config as escaped pretty JSON
    order = [
        text.index(marker)
        for marker in (
            'id="header"',
            'id="reading"',
            'id="metrics-table"',
            'id="plot-performance"',
            'id="benchmark-table"',
            'id="trades-table"',
            'id="drawdowns-table"',
            'id="monthly-table"',
            'id="distribution-table"',
            'id="plot-predicted_vs_actual"',
            'id="fold-table"',
            'id="conventions"',
            'id="config"',
        )
    ]
    assert order == sorted(order)


def test_svg_preview(rendered: tuple[RenderedReport, str]) -> None:
    result, _ = rendered
    svg = ET.fromstring(base64.b64decode(result.preview_svg_base64))
    assert svg.tag == f"{SVG}svg"
    assert int(svg.get("width") or 0) > 100 and int(svg.get("height") or 0) > 100
    assert len(svg.findall(f"{SVG}polyline")) == len(STRATEGIES)
    labels = [t.text for t in svg.findall(f"{SVG}text")]
    assert all(name in labels for name in STRATEGIES)


def test_svg_coordinates_by_hand() -> None:
    dates = pd.bdate_range("2024-01-01", periods=3)
    frames = {"lstm": pd.DataFrame({"date": dates, "equity": [1.0, 1.5, 0.5]})}
    svg = ET.fromstring(equity_svg(frames))
    (line,) = svg.findall(f"{SVG}polyline")
    # plot area: x 46..588 (600 - 12), y 24..198 (220 - 22); equity 1.5 at the top
    assert line.get("points") == "46.0,111.0 317.0,24.0 588.0,198.0"
    long = {"lstm": pd.DataFrame({"date": pd.bdate_range("2000-01-03", periods=5000),
                                  "equity": np.linspace(1.0, 2.0, 5000)})}  # fmt: skip
    (line,) = ET.fromstring(equity_svg(long)).findall(f"{SVG}polyline")
    points = (line.get("points") or "").split()
    assert len(points) == 300
    assert points[0] == "46.0,198.0" and points[-1] == "588.0,24.0"


def test_verdict_style() -> None:
    assert is_warning_verdict("X: LSTM LOST to the naive forecast")
    assert is_warning_verdict("X: LSTM did not beat the naive forecast")
    assert not is_warning_verdict("X: LSTM BEAT the naive forecast (p=0.01)")


def test_renders_with_missing_pieces(tmp_path: Path) -> None:
    """No forecast, no bars, no trades, fewer sessions than the rolling window, no folds,
    no predictions, a good verdict: every section still renders."""
    inputs = synthetic_inputs(ticker="SPY", n_days=15, n_folds=0)
    inputs.dm_text = "SPY: LSTM BEAT the naive forecast (p=0.01)"
    inputs.forecast, inputs.bars, inputs.fold_dates = None, None, {}
    inputs.daily.loc[inputs.daily["strategy"] == "lstm", ["position", "return"]] = 0.0
    inputs.daily.loc[inputs.daily["strategy"] == "lstm", "equity"] = 1.0
    inputs.fold_metrics = inputs.fold_metrics.iloc[0:0]
    inputs.predictions = inputs.predictions.iloc[0:0]
    text = render_report(inputs, tmp_path).html_path.read_text(encoding="utf-8")
    assert 'class="verdict"' in text
    assert "none stored as of" in text
    assert "No trades." in text and "No price bars to draw." in text
    assert "No per-fold evaluation." in text
    data, _ = figure(text, "performance")
    assert all(v is None for v in data[2]["y"])  # 15 sessions: no 63-day Sharpe yet
    assert 'id="plot-predicted_vs_actual">No data.' in text


def test_renders_with_no_sessions_at_all(tmp_path: Path) -> None:
    inputs = synthetic_inputs(n_days=10, n_folds=1)
    inputs.daily, inputs.metrics = inputs.daily.iloc[0:0], inputs.metrics.iloc[0:0]
    text = render_report(inputs, tmp_path).html_path.read_text(encoding="utf-8")
    for message in ("Backtest: no sessions.", "No backtest metrics.", "No trades.",
                    "No daily returns.", "No monthly returns.", "No yearly returns."):  # fmt: skip
        assert message in text
    assert 'id="plot-performance">No data.' in text


def test_renders_with_one_strategy_and_a_price_forecast(tmp_path: Path) -> None:
    inputs = synthetic_inputs(n_days=30, n_folds=1)
    inputs.daily = inputs.daily[inputs.daily["strategy"] == "lstm"]
    inputs.forecast = Forecast(inputs.asof, 123.456, "price")
    text = render_report(inputs, tmp_path).html_path.read_text(encoding="utf-8")
    assert "a price of 123.46 at the close of" in text
    assert "No benchmark comparison" in text


def test_bad_inputs_fail_clearly() -> None:
    base = synthetic_inputs(n_days=10, n_folds=1)
    fields = {k: getattr(base, k) for k in base.__dataclass_fields__}
    with pytest.raises(ValueError, match="execution"):
        ReportInputs(**{**fields, "execution": "at_noon"})
    with pytest.raises(ValueError, match=r"daily lacks column\(s\) \['equity'\]"):
        ReportInputs(**{**fields, "daily": base.daily.drop(columns="equity")})
    with pytest.raises(ValueError, match="fold_dates"):
        ReportInputs(**{**fields, "fold_dates": {0: (base.asof, base.asof - dt.timedelta(days=1))}})
    with pytest.raises(ValueError, match="forecast kind"):
        Forecast(base.asof, 1.0, "volume")  # "volatility" is a kind now (issue 17)


def test_headline_table_formats_like_the_report_and_shows_undefined_as_a_dash() -> None:
    from stock_pipeline.defs.trading import HEADLINE, headline_table

    values = {"total_return": 0.125, "sharpe": 1.234, "trades": 7.0, "costs": 0.0031}
    rows = [
        {"metric": m, "strategy": s, "value": values.get(m, 0.5)}
        for s in ("lstm", "naive")
        for m in (*HEADLINE, "sortino")  # a metric outside the headline is left out
    ]
    frame = pd.DataFrame(rows)
    frame.loc[(frame["strategy"] == "naive") & (frame["metric"] == "sharpe"), "value"] = np.nan
    table = headline_table(frame)
    assert list(table.index) == list(HEADLINE) and list(table.columns) == ["lstm", "naive"]
    assert table.at["total_return", "lstm"] == "12.50%"
    assert table.at["costs", "lstm"] == "0.31%"
    assert table.at["trades", "naive"] == "7"
    assert table.at["sharpe", "lstm"] == "1.23"
    assert table.at["sharpe", "naive"] == "\u2014"
    assert "nan" not in table.to_markdown()


def test_backtest_metadata_embeds_the_svg_preview() -> None:
    from types import SimpleNamespace

    from stock_pipeline.defs.trading import HEADLINE, backtest_metadata

    metrics = pd.DataFrame([{"metric": m, "strategy": "lstm", "value": 3.0} for m in HEADLINE])
    run = SimpleNamespace(
        ticker="X", asof="2024-01-02", report_path=Path("/r/report.html"), metrics=metrics,
        preview_svg_base64="PHN2Zz4=", days=5, stops=0, breaker_trips=0, verdict=None,
        forecast=None,
    )  # fmt: skip
    metadata = backtest_metadata(run)
    markdown = metadata["equity_preview"].value
    assert markdown == "![equity curves](data:image/svg+xml;base64,PHN2Zz4=)"
    assert metadata["report_path"].value == "/r/report.html"  # absolute


def test_mape_is_already_in_percent_and_is_not_multiplied_again() -> None:
    from stock_pipeline.trading.report.formatting import format_fold_metric

    assert format_fold_metric("mape", 1.234) == "1.23%"
    assert format_fold_metric("direction_accuracy", 0.523) == "52.3%"


def test_asof_gives_the_report_fold_dates_and_adjusted_execution_prices() -> None:
    from stock_pipeline.trading.trade import fold_dates, report_bars

    days = pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"])
    preds = pd.DataFrame(
        {"date": days.repeat(2), "model": ["lstm", "naive"] * 4, "fold": [3, 3, 3, 3, 4, 4, 4, 4]}
    )
    assert fold_dates(preds) == {
        3: (dt.date(2024, 1, 2), dt.date(2024, 1, 3)),
        4: (dt.date(2024, 1, 4), dt.date(2024, 1, 5)),
    }
    bars = pd.DataFrame(
        {
            "date": days[:2],
            "open": [102.0, 99.0],
            "close": [100.0, 98.0],
            "adj_close": [50.0, 49.0],  # a 2:1 split after these sessions
            "volatility_20": [np.nan, 0.01],
        }
    )
    priced = report_bars(bars)
    assert priced["date"].tolist() == list(days[:2])
    np.testing.assert_allclose(priced["open"], [51.0, 49.5])
    np.testing.assert_allclose(priced["close"], [50.0, 49.0])
