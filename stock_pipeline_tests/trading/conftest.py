"""Fixtures of the report tests: the synthetic inputs and the report rendered from
them once per module."""

from __future__ import annotations

import pytest

from stock_pipeline.trading.report.html import render_report
from stock_pipeline.trading.report.inputs import RenderedReport, ReportInputs
from stock_pipeline_tests.support.report_inputs import synthetic_inputs


@pytest.fixture(scope="module")
def inputs() -> ReportInputs:
    return synthetic_inputs()


@pytest.fixture(scope="module")
def rendered(
    inputs: ReportInputs, tmp_path_factory: pytest.TempPathFactory
) -> tuple[RenderedReport, str]:
    folder = tmp_path_factory.mktemp("report") / "nested" / "out"
    result = render_report(inputs, folder)
    return result, result.html_path.read_text(encoding="utf-8")
