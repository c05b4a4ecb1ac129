"""Forecasts are point-in-time facts: a recomputed forecast keeps the one it replaced."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from stock_pipeline.defs.forecasting import model_metadata
from stock_pipeline.forecasting.forecast import ForecastOutput, ModelRun, store_forecast
from stock_pipeline.warehouse import WarehouseFile, results

ASOF, TARGET = dt.date(2014, 6, 2), dt.date(2014, 6, 3)


def output(predicted: float, version: str = "lstm-FIX-2014-05-01-abcd1234") -> ForecastOutput:
    row = {
        "ticker": "FIX",
        "asof_date": ASOF,
        "target_date": TARGET,
        "target_kind": "log_return",
        "predicted": predicted,
        "model_version": version,
    }
    run = ModelRun(
        "FIX", ASOF, "cached", "2014-05-01", "2014-05-30", 3, 0.1, 0.0, 0.0, 10, 1.0,
        TARGET, predicted, version, Path("models"),
    )  # fmt: skip
    return ForecastOutput(row, run)


def test_a_recomputed_forecast_keeps_the_one_it_replaced(tmp_path) -> None:
    warehouse = WarehouseFile(tmp_path / "w.duckdb")
    first = store_forecast(warehouse, output(0.0125))
    same = store_forecast(warehouse, output(0.0125))  # a re-run that computes the same
    with warehouse.connect() as con:
        assert results.read_forecast_history(con, "FIX").empty
    second = store_forecast(warehouse, output(-0.004, "lstm-FIX-2014-05-01-ffff0000"))
    with warehouse.connect() as con:
        history = results.read_forecast_history(con, "FIX")
        stored = results.read_forecast(con, "FIX", ASOF)
    assert first.replaced == same.replaced == ""
    assert "replaced_forecast" not in model_metadata(same)
    assert stored == (TARGET, -0.004, "log_return")
    assert len(history) == 1
    old = history.iloc[0]
    assert (old["asof_date"].date(), old["target_date"].date()) == (ASOF, TARGET)
    assert (old["predicted"], old["model_version"]) == (0.0125, "lstm-FIX-2014-05-01-abcd1234")
    assert isinstance(old["superseded_at"], pd.Timestamp)
    assert second.replaced == (
        "replaced the forecast made on 2014-06-02 (for 2014-06-03): 0.0125 -> -0.004 "
        "(model lstm-FIX-2014-05-01-abcd1234 -> lstm-FIX-2014-05-01-ffff0000)"
    )
    assert model_metadata(second)["replaced_forecast"] == second.replaced
