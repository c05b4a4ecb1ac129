"""What the Dagster assets (or a notebook) call: the pooled model's predictions as of
d, and the backtest of its ranking against the reversal rule as of d. Each reads the
stored data up to d only and replaces its rows of d in the warehouse."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from stock_pipeline.compute.engine import Engine
from stock_pipeline.settings import Settings, UniverseSettings
from stock_pipeline.universe import honesty
from stock_pipeline.universe.panel import Panel, load_panel, median_targets
from stock_pipeline.universe.periods import study_periods
from stock_pipeline.universe.strategies import (
    STRATEGIES,
    Book,
    book_metrics,
    daily_frame,
    gross_frame,
    run_strategies,
)
from stock_pipeline.universe.walk import PeriodRun, PooledForecaster
from stock_pipeline.warehouse import Warehouse
from stock_pipeline.warehouse.universe import (
    prune_prediction_histories,
    read_universe_predictions,
    replace_universe,
)

MODEL = "lstm"


def universe_models_dir(settings: Settings) -> Path:
    return settings.models_dir / "universe"


@dataclass
class UniverseModelRun:
    asof: dt.date
    tickers: int
    sessions: int
    periods: list[PeriodRun]
    predictions: int
    latest: pd.DataFrame  # the ranking of the last signal date: ticker, probability, rank
    note: str = ""
    seconds: float = 0.0
    training: str = ""  # the procedure (universe.training, and how it predicts)


PREDICTION_COLUMNS = ["asof_date", "date", "ticker", "model", "probability", "rank"]


def prediction_rows(predictions: pd.DataFrame, asof: dt.date) -> pd.DataFrame:
    """The ``universe_predictions`` rows: rank 1 = the highest probability of its date."""
    if predictions.empty:
        return pd.DataFrame(columns=PREDICTION_COLUMNS)
    frame = predictions[["date", "ticker", "probability"]].copy()
    frame["rank"] = (
        frame.groupby("date")["probability"].rank(ascending=False, method="first").astype(int)
    )
    frame.insert(0, "asof_date", asof)
    frame["date"] = pd.to_datetime(frame["date"]).dt.date
    frame.insert(3, "model", MODEL)
    return frame.sort_values(["date", "rank"], ignore_index=True)


def universe_model_asof(
    warehouse: Warehouse,
    asof: dt.date,
    settings: Settings,
    tickers: Sequence[str] | None = None,
    engine: Engine | None = None,
) -> UniverseModelRun:
    """Train (or reuse) every study period's model whose training ended by ``asof`` and
    store its predictions of every signal date up to ``asof``. The periods are calls on
    ``engine`` (default: in turn, in this process); the warehouse is read and written
    here only."""
    started, us = time.perf_counter(), settings.universe
    with warehouse.connect(read_only=True) as con:
        panel = load_panel(con, asof, us, tickers)
    periods = study_periods(len(panel.dates), us)
    note = ""
    if not periods:
        note = (
            f"no study period has ended by {asof}: the first needs {us.train_sessions} "
            f"sessions of data (universe.train_sessions), the panel has {len(panel.dates)}"
        )
    walk = PooledForecaster(panel, us, universe_models_dir(settings)).run(periods, engine)
    frame = prediction_rows(walk.predictions, asof)
    with warehouse.connect() as con:
        replace_universe(con, asof, {"universe_predictions": frame})
        if us.histories_kept is not None:
            prune_prediction_histories(con, us.histories_kept)
    latest = frame[frame["date"] == frame["date"].max()] if len(frame) else frame
    return UniverseModelRun(
        asof, len(panel.tickers), len(panel.dates), walk.periods, len(frame),
        latest[["ticker", "probability", "rank"]], note, time.perf_counter() - started,
        procedure(us),
    )  # fmt: skip


def procedure(us: UniverseSettings) -> str:
    """How the period models are trained and predict, in words (the asset's metadata)."""
    if us.training == "windows":
        return "windows (each pair its own sequence, as in the paper)"
    return f"sequences (each stock's whole span), predicted by {us.predict_with}" + (
        ", warm-started" if us.warm_start else ""
    )


@dataclass
class UniverseBacktestRun:
    asof: dt.date
    daily: pd.DataFrame
    metrics: pd.DataFrame
    yearly: pd.DataFrame
    verdict: str
    tests: dict[str, honesty.MeanTest] = field(default_factory=dict)
    accuracy: honesty.AccuracyTest | None = None
    gross: pd.DataFrame | None = None  # date, strategy, gross (before costs); not stored
    report_path: Path | None = None


def probability_matrix(panel: Panel, predictions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(signal rows with a next session in the panel, probabilities [rows, tickers])."""
    wide = predictions.pivot(index="date", columns="ticker", values="probability")
    wide = wide.reindex(columns=panel.tickers)
    position = {d: i for i, d in enumerate(pd.DatetimeIndex(panel.dates.astype("datetime64[ns]")))}
    rows = np.array([position[d] for d in wide.index if d in position], dtype=int)
    keep = rows < len(panel.dates) - 1
    values = wide.loc[[d for d in wide.index if d in position]].to_numpy(float)
    return rows[keep], values[keep]


def hit_frame(probs: np.ndarray, targets: np.ndarray, sessions: np.ndarray) -> pd.DataFrame:
    """date (the session predicted), hit (1: the right side of the median) per prediction."""
    known = np.isfinite(probs) & np.isfinite(targets)
    hit = np.where(known, (probs > 0.5) == (targets == 1), np.nan)
    dates = np.repeat(pd.to_datetime(sessions), hit.shape[1])
    return pd.DataFrame({"date": dates, "hit": hit.ravel()}).dropna()


def universe_backtest_asof(
    warehouse: Warehouse, asof: dt.date, settings: Settings, tickers: Sequence[str] | None = None
) -> UniverseBacktestRun:
    """The four strategies on the sessions the stored predictions as of ``asof`` cover,
    their metrics and tests; tables ``universe_backtest_daily`` and ``..._metrics``."""
    us = settings.universe
    with warehouse.connect(read_only=True) as con:
        panel = load_panel(con, asof, us, tickers)
        predictions = read_universe_predictions(con, asof, MODEL)
    rows, probs = probability_matrix(panel, predictions) if len(predictions) else ([], None)
    if not len(rows):
        return nothing_traded(warehouse, asof, len(predictions))
    books = run_strategies(
        probs, panel.returns, rows, panel.dates, us.k, us.cost_bps, us.tickers_needed
    )
    daily = daily_frame(books)
    targets = median_targets(panel.returns)[rows]
    accuracy = honesty.directional_accuracy(probs, targets)
    tests = {n: honesty.newey_west_mean(b.returns, us.newey_west_lags) for n, b in books.items()}
    gross = {n: honesty.newey_west_mean(b.gross, us.newey_west_lags) for n, b in books.items()}
    diff = books["lstm_long_short"].returns - books["reversal_long_short"].returns
    tests["lstm_minus_reversal"] = honesty.newey_west_mean(diff, us.newey_west_lags)
    yearly = honesty.by_year(daily, hit_frame(probs, targets, panel.dates[rows + 1]))
    ls, rev = tests["lstm_long_short"], tests["reversal_long_short"]
    text = honesty.verdict(ls, rev, tests["lstm_minus_reversal"], us.alpha)
    metrics = metric_rows(books, tests, gross, accuracy, yearly, settings)
    daily.insert(0, "asof_date", asof)
    daily["date"] = daily["date"].dt.date
    metrics.insert(0, "asof_date", asof)
    with warehouse.connect() as con:
        replace_universe(
            con, asof, {"universe_backtest_daily": daily, "universe_backtest_metrics": metrics}
        )
    return UniverseBacktestRun(
        asof, daily, metrics, yearly, text, tests, accuracy, gross_frame(books)
    )


def nothing_traded(warehouse: Warehouse, asof: dt.date, predictions: int) -> UniverseBacktestRun:
    """No session to trade as of ``asof`` (no study period has ended, or its first signal
    is ``asof`` itself): the tables of ``asof`` are emptied and the run says why."""
    why = (
        "the one stored signal date is the as-of date itself (it trades tomorrow)"
        if predictions
        else "no universe_predictions are stored as of it (materialize universe_model; "
        "the first study period needs universe.train_sessions sessions of data)"
    )
    with warehouse.connect() as con:
        empty = pd.DataFrame()
        replace_universe(
            con, asof, {"universe_backtest_daily": empty, "universe_backtest_metrics": empty}
        )
    text = f"No session traded as of {asof}: {why}."
    return UniverseBacktestRun(asof, pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), text)


def metric_rows(
    books: dict[str, Book],
    tests: dict[str, honesty.MeanTest],
    gross: dict[str, honesty.MeanTest],
    accuracy: honesty.AccuracyTest,
    yearly: pd.DataFrame,
    settings: Settings,
) -> pd.DataFrame:
    """strategy, metric, value: ``backtest_metrics``' names for each book, then the
    tests; the model's own figures under strategy ``lstm``, the paired test under
    ``lstm_minus_reversal``."""
    rows = []
    for name in STRATEGIES:
        figures = book_metrics(books[name], settings.backtest)
        t, g = tests[name], gross[name]
        figures |= {
            "mean_daily_return": t.mean,
            "nw_tstat": t.tstat,
            "nw_pvalue": t.pvalue,
            "nw_lags": float(t.lags),
            "mean_daily_return_gross": g.mean,
            "nw_tstat_gross": g.tstat,
            "nw_pvalue_gross": g.pvalue,
        }
        if name in yearly:
            figures |= {f"mean_daily_return_{y}": float(v) for y, v in yearly[name].items()}
        rows += [(name, m, float(v)) for m, v in figures.items()]
    d = tests["lstm_minus_reversal"]
    rows += [
        ("lstm_minus_reversal", m, float(v))
        for m, v in (("mean_daily_return", d.mean), ("nw_tstat", d.tstat), ("nw_pvalue", d.pvalue))
    ]
    model = {"accuracy": accuracy.accuracy, "accuracy_pvalue": accuracy.pvalue}
    model["predictions"] = float(accuracy.n)
    if "accuracy" in yearly:
        model |= {f"accuracy_{y}": float(v) for y, v in yearly["accuracy"].items()}
    rows += [(MODEL, m, float(v)) for m, v in model.items()]
    return pd.DataFrame(rows, columns=["strategy", "metric", "value"])
