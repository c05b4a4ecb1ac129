"""Synthetic ``ReportInputs`` for the report tests: prices, positions and returns made
with plain numpy, so a test can recompute any figure by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd

from stock_pipeline.trading.report.inputs import Forecast, ReportInputs

STRATEGIES = ("lstm", "naive", "buy_and_hold")
MODELS = ("lstm", "naive", "drift", "arima")
DM_TEXT = "A<B: LSTM LOST to the naive forecast (skill -1.2%, DM 1.85, p=0.064)"
METRIC_VALUES = {
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


def synthetic_bars(n_sessions: int, seed: int = 7) -> pd.DataFrame:
    """Sessions D_0..D_n: date, open, close (a random walk; opens near the prior close)."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2022-11-01", periods=n_sessions + 1)
    close = 100 * np.cumprod(1 + rng.normal(0.0004, 0.012, n_sessions + 1))
    opens = np.concatenate([[close[0]], close[:-1]]) * (1 + rng.normal(0, 0.004, n_sessions + 1))
    return pd.DataFrame({"date": dates, "open": opens, "close": close})


def cost_free_daily(bars: pd.DataFrame, positions: dict[str, np.ndarray]) -> pd.DataFrame:
    """Daily rows of D_1..D_n for each strategy, traded at the next close without costs:
    the return of D_i is the position held at the close of D_{i-1} times the close-to-close
    move (the ``next_close`` timeline)."""
    close = bars["close"].to_numpy(float)
    move = close[1:] / close[:-1] - 1
    parts = []
    for name, position in positions.items():
        held_before = np.concatenate([[0.0], position[:-1]])
        returns = held_before * move
        parts.append(
            pd.DataFrame(
                {
                    "date": bars["date"].iloc[1:].to_numpy(),
                    "strategy": name,
                    "position": position,
                    "return": returns,
                    "equity": np.cumprod(1 + returns),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def fold_scores(n_folds: int) -> pd.DataFrame:
    """The same scores for every model and fold (NaN fold: overall)."""
    return pd.DataFrame(
        [
            {"model": model, "fold": fold, "metric": metric, "value": value}
            for model in MODELS
            for fold in [None, *range(n_folds)]
            for metric, value in (
                ("rmse", 0.0201),
                ("mae", 0.015),
                ("direction_accuracy", 0.537),
                ("skill", -0.012),
                ("dm_pvalue", 0.064),
            )
        ]
    )


def synthetic_inputs(
    ticker: str = "A<B", n_days: int = 300, n_folds: int = 5, seed: int = 7
) -> ReportInputs:
    rng = np.random.default_rng(seed)
    bars = synthetic_bars(n_days, seed)
    dates = bars["date"].iloc[1:].reset_index(drop=True)
    lstm = np.repeat(rng.choice([0.0, 1.0], n_days // 5 + 1), 5)[:n_days]  # 5-session holds
    daily = cost_free_daily(
        bars, {"lstm": lstm, "naive": np.zeros(n_days), "buy_and_hold": np.ones(n_days)}
    )
    metrics = pd.DataFrame(
        [
            {"strategy": s, "metric": m, "value": v + (0.01 * k if m == "sharpe" else 0.0)}
            for k, s in enumerate(STRATEGIES)
            for m, v in METRIC_VALUES.items()
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
    size = max(n_days // max(n_folds, 1), 1)
    fold_dates = {
        k: (dates[k * size].date(), dates[min((k + 1) * size, n_days) - 1].date())
        for k in range(n_folds)
    }
    return ReportInputs(
        ticker=ticker,
        asof=dates.iloc[-1].date(),
        daily=daily,
        metrics=metrics,
        predictions=predictions,
        fold_metrics=fold_scores(n_folds),
        dm_text=DM_TEXT,
        conventions="sharpe: mean(r - rf_d) / std(r - rf_d, ddof=1) x sqrt(252) & more",
        config={"ticker": ticker, "model": {"window": 60, "units": [32, 16]}, "seed": 42},
        bars=bars,
        fold_dates=fold_dates,
        forecast=Forecast((dates.iloc[-1] + pd.offsets.BDay(1)).date(), 0.0123, "return"),
        execution="next_close",
    )


def lstm_rows(inputs: ReportInputs) -> pd.DataFrame:
    daily = inputs.daily[inputs.daily["strategy"] == "lstm"]
    return daily.sort_values("date").set_index("date")
