"""The HTML backtest report: self-contained, offline, escaped, with valid PNG charts."""

from __future__ import annotations

import base64
import datetime as dt
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stock_pipeline.trading.report.charts import (
    RenderedReport,
    ReportInputs,
    drawdown,
    rolling_sharpe,
)
from stock_pipeline.trading.report.formatting import format_metric
from stock_pipeline.trading.report.html import is_warning_verdict, render_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
STRATEGIES = ("lstm", "naive", "buy_and_hold")
MODELS = ("lstm", "naive", "drift", "arima")
CHART_NAMES = ("equity", "drawdown", "rolling_sharpe", "predicted_vs_actual")
DM_TEXT = "A<B: LSTM LOST to the naive forecast (skill -1.2%, DM 1.85, p=0.064)"


def synthetic_inputs(ticker: str = "A<B", n_days: int = 150, n_folds: int = 5) -> ReportInputs:
    rng = np.random.default_rng(7)
    dates = pd.bdate_range("2023-01-02", periods=n_days)
    daily_parts = []
    for i, strategy in enumerate(STRATEGIES):
        position = np.ones(n_days) if strategy == "buy_and_hold" else rng.choice([0.0, 1.0], n_days)
        returns = rng.normal(0.0004 * (i + 1), 0.01, n_days) * position
        daily_parts.append(
            pd.DataFrame(
                {
                    "date": dates,
                    "strategy": strategy,
                    "position": position,
                    "return": returns,
                    "equity": np.cumprod(1 + returns),
                }
            )
        )
    daily = pd.concat(daily_parts, ignore_index=True)

    metric_values = {
        "total_return": 0.1234,
        "cagr": 0.0456,
        "volatility": 0.15,
        "sharpe": 1.23456,
        "sortino": 1.8,
        "calmar": 0.9,
        "max_drawdown": -0.0789,
        "max_drawdown_days": 17.0,
        "win_rate": 0.52,
        "profit_factor": 1.1,
        "exposure": 0.6,
        "turnover": 12.5,
        "trades": 23.0,
        "costs": 0.0031,
    }
    metrics = pd.DataFrame(
        [
            {"strategy": s, "metric": m, "value": v + (0.01 * k if m == "sharpe" else 0.0)}
            for k, s in enumerate(STRATEGIES)
            for m, v in metric_values.items()
        ]
    )

    actual = rng.normal(0, 0.02, n_days)
    predictions = pd.concat(
        [
            pd.DataFrame(
                {
                    "date": dates,
                    "model": model,
                    "predicted": actual * 0.3 + rng.normal(0, 0.01, n_days),
                    "actual": actual,
                }
            )
            for model in MODELS
        ],
        ignore_index=True,
    )

    fold_rows = []
    for model in MODELS:
        for fold in [None, *range(n_folds)]:
            fold_rows += [
                {"model": model, "fold": fold, "metric": "rmse", "value": 0.0201},
                {"model": model, "fold": fold, "metric": "mae", "value": 0.015},
                {"model": model, "fold": fold, "metric": "direction_accuracy", "value": 0.537},
                {"model": model, "fold": fold, "metric": "skill", "value": -0.012},
            ]
    fold_metrics = pd.DataFrame(fold_rows)

    return ReportInputs(
        ticker=ticker,
        asof=dt.date(2024, 6, 28),
        daily=daily,
        metrics=metrics,
        predictions=predictions,
        fold_metrics=fold_metrics,
        dm_text=DM_TEXT,
        conventions="sharpe: mean(r - rf_d) / std(r - rf_d, ddof=1) x sqrt(252) & more",
        config={"ticker": ticker, "model": {"window": 60, "units": [32, 16]}, "seed": 42},
    )


class _Collector(HTMLParser):
    """Every tag with its attributes, plus table cells keyed for lookup."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.cells: dict[tuple[str, str], str] = {}
        self.fold_rows: list[str] = []
        self._metric: str | None = None
        self._cell: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "tr" and attributes.get("data-metric"):
            self._metric = attributes["data-metric"]
        if tag == "tr" and attributes.get("data-fold"):
            self.fold_rows.append(attributes["data-fold"] or "")
        if tag == "td" and self._metric and attributes.get("data-strategy"):
            self._cell = attributes["data-strategy"]
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None and self._metric is not None:
            self.cells[(self._metric, self._cell)] = "".join(self._text)
            self._cell = None
        if tag == "tr":
            self._metric = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._text.append(data)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[RenderedReport, str]:
    folder = tmp_path_factory.mktemp("report") / "nested" / "out"
    result = render_report(synthetic_inputs(), folder)
    return result, result.html_path.read_text(encoding="utf-8")


def _parse(text: str) -> _Collector:
    parser = _Collector()
    parser.feed(text)
    parser.close()
    return parser


def test_files_written(rendered: tuple[RenderedReport, str]) -> None:
    result, _ = rendered
    assert result.html_path.name == "report.html"
    assert result.html_path.is_file()
    assert set(result.png_paths) == set(CHART_NAMES)
    for name, path in result.png_paths.items():
        assert path == result.html_path.parent / f"{name}.png"
        assert path.read_bytes().startswith(PNG_SIGNATURE)
    assert base64.b64decode(result.preview_png_base64) == result.png_paths["equity"].read_bytes()
    leftovers = [p.name for p in result.html_path.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_no_external_references(rendered: tuple[RenderedReport, str]) -> None:
    _, text = rendered
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*https?:", text, re.IGNORECASE)
    assert "http://" not in text
    assert "https://" not in text
    assert "<script" not in text.lower()
    assert "<link" not in text.lower()
    assert "@import" not in text
    assert "url(" not in text


def test_renders_offline(rendered: tuple[RenderedReport, str]) -> None:
    """Every resource reference is a data: URI or a fragment: nothing to fetch."""
    _, text = rendered
    parser = _parse(text)
    references = [
        (tag, name, value)
        for tag, attributes in parser.tags
        for name, value in attributes.items()
        if name in {"src", "href", "srcset", "poster", "data", "action", "background"}
    ]
    assert references, "expected the embedded images"
    for tag, name, value in references:
        assert value is not None
        assert value.startswith("data:") or value.startswith("#"), (tag, name, value[:60])
    titles = [tag for tag, _ in parser.tags if tag == "title"]
    assert titles == ["title"]


def test_embedded_images_are_pngs(rendered: tuple[RenderedReport, str]) -> None:
    result, text = rendered
    parser = _parse(text)
    images = [attributes for tag, attributes in parser.tags if tag == "img"]
    assert len(images) == 4
    prefix = "data:image/png;base64,"
    decoded = []
    for attributes in images:
        assert (attributes.get("alt") or "").strip()
        src = attributes["src"] or ""
        assert src.startswith(prefix)
        png = base64.b64decode(src[len(prefix) :], validate=True)
        assert png.startswith(PNG_SIGNATURE)
        decoded.append(png)
    assert decoded == [result.png_paths[name].read_bytes() for name in CHART_NAMES]


def test_equity_figure_names_strategies(rendered: tuple[RenderedReport, str]) -> None:
    _, text = rendered
    parser = _parse(text)
    figures = [a for tag, a in parser.tags if tag == "figure" and "data-strategies" in a]
    assert len(figures) == 1
    assert (figures[0]["data-strategies"] or "").split() == list(STRATEGIES)
    legend_items = [a.get("data-strategy") for tag, a in parser.tags if tag == "li"]
    assert legend_items == list(STRATEGIES)


def test_metrics_table_formatting(rendered: tuple[RenderedReport, str]) -> None:
    _, text = rendered
    cells = _parse(text).cells
    assert cells[("sharpe", "lstm")] == "1.23"
    assert cells[("sharpe", "naive")] == "1.24"
    assert cells[("total_return", "lstm")] == "12.34%"
    assert cells[("max_drawdown", "buy_and_hold")] == "-7.89%"
    assert cells[("win_rate", "lstm")] == "52.00%"
    assert cells[("exposure", "lstm")] == "60.00%"
    assert cells[("trades", "lstm")] == "23"
    assert cells[("max_drawdown_days", "naive")] == "17"
    assert cells[("profit_factor", "lstm")] == "1.10"
    assert format_metric("sharpe", float("nan")) == "\u2014"
    assert format_metric("profit_factor", math.inf) == "\u221e"


def test_sections_verdict_config_and_escaping(rendered: tuple[RenderedReport, str]) -> None:
    _, text = rendered
    assert "A&lt;B" in text
    assert "A<B" not in text
    assert "A&lt;B: LSTM LOST to the naive forecast" in text
    assert 'class="verdict warning"' in text
    assert "&amp; more" in text  # conventions, escaped
    assert "&quot;window&quot;: 60" in text  # config as escaped pretty JSON
    assert "&quot;ticker&quot;: &quot;A&lt;B&quot;" in text
    order = [
        text.index('id="header"'),
        text.index('id="metrics-table"'),
        text.index('id="chart-equity"'),
        text.index('id="chart-predicted_vs_actual"'),
        text.index('id="fold-table"'),
        text.index('id="conventions"'),
        text.index('id="config"'),
    ]
    assert order == sorted(order)


def test_fold_table(rendered: tuple[RenderedReport, str]) -> None:
    _, text = rendered
    assert _parse(text).fold_rows == ["overall", "0", "1", "2", "3", "4"]
    table = text[text.index('id="fold-table"') :]
    table = table[: table.index("</table>")]
    for model in MODELS:
        assert f">{model}</th>" in table
    assert "53.7%" in table and "-1.2%" in table and "0.02010" in table
    assert "mae" not in table


def test_verdict_style() -> None:
    assert is_warning_verdict("X: LSTM LOST to the naive forecast")
    assert is_warning_verdict("X: LSTM did not beat the naive forecast")
    assert not is_warning_verdict("X: LSTM BEAT the naive forecast (p=0.01)")


def test_good_verdict_not_warning(tmp_path: Path) -> None:
    inputs = synthetic_inputs(ticker="SPY", n_days=40, n_folds=1)
    inputs.dm_text = "SPY: LSTM BEAT the naive forecast (p=0.01)"
    text = render_report(inputs, tmp_path).html_path.read_text(encoding="utf-8")
    assert 'class="verdict"' in text
    assert "warning" not in text.split('id="dm-verdict"')[1].split(">")[0]


def test_drawdown_counts_start_as_peak() -> None:
    result = drawdown(pd.Series([1.1, 0.99, 1.21]))
    np.testing.assert_allclose(result.to_numpy(), [0.0, -0.1, 0.0], atol=1e-12)
    result = drawdown(pd.Series([0.9, 1.0]))
    np.testing.assert_allclose(result.to_numpy(), [-0.1, 0.0], atol=1e-12)


def test_rolling_sharpe_hand_computed() -> None:
    returns = pd.Series([0.01, -0.02, 0.03, 0.0])
    result = rolling_sharpe(returns, window=3)
    assert result.iloc[:2].isna().all()
    # window [0.01, -0.02, 0.03]: mean 0.02/3, sample std sqrt(sum of squared deviations / 2)
    mean = 0.02 / 3
    std = math.sqrt(((0.01 - mean) ** 2 + (-0.02 - mean) ** 2 + (0.03 - mean) ** 2) / 2)
    assert result.iloc[2] == pytest.approx(mean / std * math.sqrt(252))
    # window [-0.02, 0.03, 0.0]
    mean = 0.01 / 3
    std = math.sqrt(((-0.02 - mean) ** 2 + (0.03 - mean) ** 2 + (0.0 - mean) ** 2) / 2)
    assert result.iloc[3] == pytest.approx(mean / std * math.sqrt(252))
    flat = rolling_sharpe(pd.Series([0.01, 0.01, 0.01]), window=3)
    assert flat.isna().all()


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


def test_mape_is_already_in_percent_and_is_not_multiplied_again() -> None:
    from stock_pipeline.trading.report.formatting import format_fold_metric

    assert format_fold_metric("mape", 1.234) == "1.23%"
    assert format_fold_metric("direction_accuracy", 0.523) == "52.3%"
