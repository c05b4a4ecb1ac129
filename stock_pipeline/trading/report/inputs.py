"""What the report is drawn from (``ReportInputs``) and what rendering it returns
(``RenderedReport``). Inputs are checked here, so a bad one fails with a clear message
before anything is written."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from stock_pipeline.forecasting.targets import TARGETS
from stock_pipeline.trading.report.formatting import STRATEGIES, ordered

PERIODS_PER_YEAR = 252
EXECUTIONS = ("next_open", "next_close")
TARGET_KINDS = tuple(TARGETS)

_COLUMNS = {
    "daily": ("date", "strategy", "position", "return", "equity"),
    "metrics": ("strategy", "metric", "value"),
    "predictions": ("date", "model", "predicted", "actual"),
    "fold_metrics": ("model", "fold", "metric", "value"),
    "bars": ("date", "open", "close"),
    "comparison": ("model", "metric", "value"),
}


@dataclass(frozen=True)
class Forecast:
    """The forecast made at the close of the as-of date (table ``forecasts``)."""

    target_date: dt.date
    predicted: float  # in the units of ``kind``: h-day log return, price, P(up move)
    kind: str

    def __post_init__(self) -> None:
        if self.kind not in TARGET_KINDS:
            raise ValueError(f"forecast kind {self.kind!r} is not one of {TARGET_KINDS}")


@dataclass
class ReportInputs:
    ticker: str
    asof: dt.date
    daily: pd.DataFrame  # date, strategy, position, return, equity
    metrics: pd.DataFrame  # strategy, metric, value
    predictions: pd.DataFrame  # date, model, predicted, actual
    fold_metrics: pd.DataFrame  # model, fold (NaN/None = overall), metric, value
    dm_text: str
    conventions: str
    config: dict
    target_kind: str = "return"  # what ``predicted`` and ``actual`` are in
    # Sessions D_0..D_n of the backtest (``backtest.MarketPath``): date and the adjusted
    # open and close, the prices trades execute at. None: trades are listed without prices.
    bars: pd.DataFrame | None = None
    # fold key -> (first, last) forecast origin of the fold, for the per-fold table
    fold_dates: dict[int, tuple[dt.date, dt.date]] = field(default_factory=dict)
    forecast: Forecast | None = None  # the next-session forecast, if one is stored
    execution: str = "next_open"  # BacktestSettings.execution: the bar trades execute at
    risk_free_rate: float = 0.0  # annual, as BacktestSettings.risk_free_rate
    # ``model_comparison`` rows (model, metric, value); None or empty: no such section
    comparison: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        for name, columns in _COLUMNS.items():
            frame = getattr(self, name)
            if frame is None:
                continue
            if not isinstance(frame, pd.DataFrame):
                raise TypeError(f"ReportInputs.{name} must be a DataFrame, not {type(frame)}")
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise ValueError(f"ReportInputs.{name} lacks column(s) {missing}")
        if self.execution not in EXECUTIONS:
            raise ValueError(f"execution {self.execution!r} is not one of {EXECUTIONS}")
        if self.target_kind not in TARGET_KINDS:
            raise ValueError(f"target_kind {self.target_kind!r} is not one of {TARGET_KINDS}")
        for key, span in self.fold_dates.items():
            if len(span) != 2 or span[0] > span[1]:
                raise ValueError(f"fold_dates[{key!r}] = {span!r} is not (first, last)")


@dataclass
class RenderedReport:
    html_path: Path
    preview_svg_base64: str  # the equity curves as a small SVG, for the Dagster UI


def strategy_frames(daily: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """One frame per strategy (in report order), sorted by date, ``date`` as Timestamps."""
    if daily.empty:
        return {}
    frame = daily.copy()
    frame["date"] = pd.to_datetime(frame["date"])
    present = [str(s) for s in frame["strategy"].dropna().unique()]
    return {
        name: frame[frame["strategy"] == name].sort_values("date").reset_index(drop=True)
        for name in ordered(present, STRATEGIES)
    }


def daily_returns(frame: pd.DataFrame) -> pd.Series:
    """A strategy's net daily returns indexed by date."""
    return pd.Series(
        frame["return"].to_numpy(float), index=pd.DatetimeIndex(frame["date"]), name="return"
    )
