"""Every ticker's daily data as one date x ticker panel, as of a date d.

The rows are the sessions on which any ticker has a bar, up to d; a ticker is in the
universe on the days it has a return (no survivorship: it enters with its history and
leaves when its history ends). Nothing dated after d is read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from stock_pipeline.settings import UniverseSettings
from stock_pipeline.settings.checks import check_universe_features
from stock_pipeline.warehouse import Connection
from stock_pipeline.warehouse.universe import read_universe_rows, stored_tickers

RETURN = "log_return"


@dataclass
class Panel:
    """``returns[t, i]``: log return of ticker i on session t (NaN where it has no bar that
    day or the session before); ``features[t, i, f]``: the model's inputs (the first is
    the return)."""

    dates: np.ndarray  # datetime64[D], ascending
    tickers: list[str]
    returns: np.ndarray  # [T, N]
    features: np.ndarray  # [T, N, F]
    feature_names: tuple[str, ...]

    @property
    def asof(self) -> dt.date:
        return self.dates[-1].astype(object)


def panel_from_rows(rows: pd.DataFrame, feature_names: Sequence[str]) -> Panel:
    """``rows``: date, ticker, adj_close and the non-return feature columns."""
    if rows.empty:
        raise ValueError("no stored bars for the universe: materialize raw_ohlcv first")
    closes = rows.pivot(index="date", columns="ticker", values="adj_close").sort_index()
    bad = closes[(closes <= 0).any(axis=1)]
    if len(bad):
        ticker = bad.columns[(bad <= 0).any(axis=0)][0]
        raise ValueError(f"{ticker}: non-positive adj_close on {bad.index[0].date()}")
    values = closes.to_numpy(float)
    returns = np.full_like(values, np.nan)
    returns[1:] = np.log(values[1:] / values[:-1])  # NaN across a missing bar
    layers = []
    for name in feature_names:
        if name == RETURN:
            layers.append(returns)
        else:
            wide = rows.pivot(index="date", columns="ticker", values=name)
            layers.append(wide.reindex(index=closes.index, columns=closes.columns).to_numpy(float))
    return Panel(
        dates=closes.index.to_numpy().astype("datetime64[D]"),
        tickers=[str(t) for t in closes.columns],
        returns=returns,
        features=np.stack(layers, axis=-1),
        feature_names=tuple(feature_names),
    )


def load_panel(
    con: Connection,
    asof: dt.date,
    settings: UniverseSettings,
    tickers: Sequence[str] | None = None,
) -> Panel:
    """The panel of ``tickers`` (default: every stored ticker) up to ``asof``."""
    names = list(tickers) if tickers is not None else stored_tickers(con)
    if not names:
        raise ValueError(f"universe as of {asof}: no ticker is registered or stored")
    # Settings checks this when they are read; settings built in code may not be
    check_universe_features(settings.features)
    extra = [f for f in settings.features if f != RETURN]
    return panel_from_rows(read_universe_rows(con, names, asof, extra), settings.features)


def median_targets(returns: np.ndarray) -> np.ndarray:
    """``y[t, i]`` = 1 when ticker i's return on session t+1 is above that session's
    cross-sectional median (over the tickers with a return then), else 0; NaN where it
    has no return on t+1, and on the last session (whose next day is unknown)."""
    y = np.full(returns.shape, np.nan)
    with np.errstate(invalid="ignore"):
        nxt = returns[1:]
        has = np.isfinite(nxt)
        median = np.nanmedian(np.where(has.any(axis=1, keepdims=True), nxt, 0.0), axis=1)
        y[:-1] = np.where(has, (nxt > median[:, None]).astype(float), np.nan)
    return y
