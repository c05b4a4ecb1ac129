"""Reads and writes of what the model chain produces: forecasts, out-of-sample
predictions and their scores, backtests and the cross-ticker summary."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from stock_pipeline.warehouse.connection import (
    Connection,
    dated,
    insert_frame,
    replace_asof,
    replace_table,
    transaction,
)
from stock_pipeline.warehouse.schema import NETWORK

FORECAST_KEY = ("ticker", "asof_date", "target_kind")
FORECAST_VALUES = ("target_date", "predicted", "model_version")


def upsert_forecast(con: Connection, forecast: dict[str, Any]) -> dict[str, Any] | None:
    """Store one ``forecasts`` row (ticker, asof_date, target_date, target_kind,
    predicted, model_version). Forecasts are point-in-time facts: a stored forecast of the
    same key with other values is first copied to ``forecast_history``, in the same
    transaction. Returns the replaced values (None when nothing changed)."""
    superseded_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    key = [forecast[k] for k in FORECAST_KEY]
    with transaction(con):
        rows = con.execute(
            f"SELECT {', '.join(FORECAST_VALUES)} FROM forecasts "
            "WHERE ticker = ? AND asof_date = ? AND target_kind = ?",
            key,
        ).fetchall()
        old = dict(zip(FORECAST_VALUES, rows[0], strict=True)) if rows else None
        if old is not None and any(old[k] != forecast[k] for k in FORECAST_VALUES):
            row = {**dict(zip(FORECAST_KEY, key, strict=True)), **old}
            row["superseded_at"] = superseded_at
            insert_frame(con, "forecast_history", pd.DataFrame([row]))
        else:
            old = None
        insert_frame(con, "forecasts", pd.DataFrame([forecast]), or_replace=True)
    return old


def read_forecast(
    con: Connection, ticker: str, asof: dt.date, target_kind: str | None = None
) -> tuple | None:
    """(target_date, predicted, target_kind) of the forecast made as of ``asof`` (of that
    target kind, when given), if any."""
    kind = "" if target_kind is None else " AND target_kind = ?"
    rows = con.execute(
        "SELECT target_date, predicted, target_kind FROM forecasts "
        f"WHERE ticker = ? AND asof_date = ?{kind}",
        [ticker, asof, *([target_kind] if target_kind else [])],
    ).fetchall()
    return rows[0] if rows else None


def read_forecast_history(con: Connection, ticker: str) -> pd.DataFrame:
    return con.execute(
        "SELECT * FROM forecast_history WHERE ticker = ? ORDER BY asof_date, superseded_at",
        [ticker],
    ).df()


def latest_forecast_dates(con: Connection) -> dict[str, dt.date]:
    """Each ticker's newest as-of date with a stored forecast."""
    return dict(con.execute("SELECT ticker, max(asof_date) FROM forecasts GROUP BY 1").fetchall())


def replace_evaluation(
    con: Connection, ticker: str, asof: dt.date, predictions: pd.DataFrame, metrics: pd.DataFrame
) -> None:
    replace_asof(con, {"predictions": predictions, "evaluation_metrics": metrics}, ticker, asof)


def replace_comparison(con: Connection, ticker: str, asof: dt.date, rows: pd.DataFrame) -> None:
    """``model_comparison`` as of ``asof``: per model (and ``family``) metric rows."""
    replace_asof(con, {"model_comparison": rows}, ticker, asof)


def read_comparison(con: Connection, ticker: str, asof: dt.date) -> pd.DataFrame:
    """model, metric, value of the model comparison as of ``asof`` (empty if none)."""
    return con.execute(
        "SELECT model, metric, value FROM model_comparison WHERE ticker = ? AND asof_date = ?",
        [ticker, asof],
    ).df()


def read_evaluation_metrics(con: Connection, ticker: str, asof: dt.date) -> pd.DataFrame:
    """model, fold (NULL = overall), metric, value of the evaluation as of ``asof``."""
    return con.execute(
        "SELECT model, fold, metric, value FROM evaluation_metrics "
        "WHERE ticker = ? AND asof_date = ?",
        [ticker, asof],
    ).df()


def read_predictions_with_prices(con: Connection, ticker: str, asof: dt.date) -> pd.DataFrame:
    """Out-of-sample predictions as of ``asof`` with the adjusted close at each origin
    (``close``) and at the target date (``actual_price``)."""
    return dated(
        con,
        "SELECT p.date, p.model, p.predicted, p.actual, p.fold, o.adj_close AS close, "
        "t.adj_close AS actual_price FROM predictions p "
        "JOIN ohlcv o ON o.ticker = p.ticker AND o.date = p.date "
        "JOIN ohlcv t ON t.ticker = p.ticker AND t.date = p.target_date "
        "WHERE p.ticker = ? AND p.asof_date = ? ORDER BY p.date",
        [ticker, asof],
    )


def read_backtest_bars(con: Connection, ticker: str, first: dt.date, last: dt.date) -> pd.DataFrame:
    """Bars the backtest trades on: open, close, adj_close and volatility_20 per session."""
    return dated(
        con,
        "SELECT o.date, o.open, o.close, o.adj_close, i.volatility_20 FROM ohlcv o "
        "JOIN indicators i USING (ticker, date) WHERE o.ticker = ? AND o.date BETWEEN ? AND ? "
        "ORDER BY o.date",
        [ticker, first, last],
    )


def replace_backtest(
    con: Connection, ticker: str, asof: dt.date, daily: pd.DataFrame, metrics: pd.DataFrame
) -> None:
    replace_asof(con, {"backtest_daily": daily, "backtest_metrics": metrics}, ticker, asof)


def read_latest_backtests(con: Connection) -> pd.DataFrame:
    """Per ticker, its newest backtest: the Sharpe ratio of each strategy beside the LSTM's
    overall skill and Diebold-Mariano result against naive."""
    return con.execute(
        """
        WITH latest AS (
            SELECT ticker, max(asof_date) AS asof_date FROM backtest_metrics GROUP BY ticker
        ),
        sharpe AS (
            SELECT b.ticker, b.asof_date,
                   max(value) FILTER (WHERE strategy = $network) AS lstm_sharpe,
                   max(value) FILTER (WHERE strategy = 'naive') AS naive_sharpe,
                   max(value) FILTER (WHERE strategy = 'buy_and_hold') AS buy_and_hold_sharpe
            FROM backtest_metrics b JOIN latest USING (ticker, asof_date)
            WHERE metric = 'sharpe' GROUP BY ALL
        ),
        ev AS (
            SELECT e.ticker, e.asof_date,
                   max(value) FILTER (WHERE metric = 'skill') AS skill,
                   max(value) FILTER (WHERE metric = 'dm_pvalue') AS dm_pvalue,
                   max(value) FILTER (WHERE metric = 'dm_stat') AS dm_stat
            FROM evaluation_metrics e JOIN latest USING (ticker, asof_date)
            WHERE model = $network AND fold IS NULL GROUP BY ALL
        )
        SELECT * FROM sharpe LEFT JOIN ev USING (ticker, asof_date) ORDER BY ticker
        """,
        {"network": NETWORK},
    ).df()


def replace_backtest_summary(con: Connection, summary: pd.DataFrame) -> None:
    replace_table(con, "backtest_summary", summary)
