"""Study periods (Fischer & Krauss 2018): ``train_sessions`` sessions to train on, then
``trade_sessions`` sessions traded with that model; the next period starts
``trade_sessions`` later, so the traded spans tile the history without overlap.

Rows are panel rows, counted from the panel's first session. A prediction is keyed by
its *signal row* t (made with data through the close of t, for the return of t+1). Period
j trains on the returns of rows R0 = j x trade .. R1 = R0 + train - 1 (its last training
target is the return of R1), and signals at rows R1 .. R1 + trade - 1: its model exists
at the close of R1, the first session it is used on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stock_pipeline.settings import UniverseSettings
from stock_pipeline.universe.panel import Panel


@dataclass(frozen=True)
class StudyPeriod:
    index: int
    train_first: int  # R0: first return row of the training span
    train_last: int  # R1: last return row of the training span (its model's cut-off)
    signal_last: int  # last signal row of the trading span (may lie beyond the panel)

    def signal_rows(self, last_row: int) -> np.ndarray:
        """The period's signal rows that exist by ``last_row``."""
        return np.arange(self.train_last, min(self.signal_last, last_row) + 1)


def study_periods(n_rows: int, settings: UniverseSettings) -> list[StudyPeriod]:
    """Every period whose model exists by the last row (``n_rows - 1``)."""
    out, j = [], 0
    while (last := j * settings.trade_sessions + settings.train_sessions - 1) <= n_rows - 1:
        first = j * settings.trade_sessions
        out.append(StudyPeriod(j, first, last, last + settings.trade_sessions - 1))
        j += 1
    return out


@dataclass(frozen=True)
class Scaler:
    """Per-feature mean and standard deviation of a period's training rows."""

    mean: np.ndarray  # [F]
    std: np.ndarray  # [F]

    def apply(self, values: np.ndarray) -> np.ndarray:
        return ((values - self.mean) / self.std).astype("float32")


def training_scaler(panel: Panel, period: StudyPeriod) -> Scaler:
    """Mean/std over the training rows R0..R1 only (every ticker's finite values): the
    trading span's data never shapes the inputs."""
    block = panel.features[period.train_first : period.train_last + 1]
    flat = block.reshape(-1, block.shape[-1])
    mean = np.nanmean(flat, axis=0)
    std = np.nanstd(flat, axis=0)
    if not np.all(np.isfinite(std)) or np.any(std == 0):
        raise ValueError(
            f"study period {period.index} (training through {panel.dates[period.train_last]}):"
            f" a feature of {list(panel.feature_names)} has no variation or no values"
        )
    return Scaler(mean, std)


def complete_windows(panel: Panel, first_row: int, length: int) -> np.ndarray:
    """``ok[t, i]``: ticker i has finite features on every row t-length+1..t, all at or
    after ``first_row`` (rows before first_row + length - 1 are False)."""
    finite = np.all(np.isfinite(panel.features), axis=-1).astype(np.int64)
    finite[:first_row] = 0
    csum = np.concatenate([np.zeros((1, finite.shape[1]), np.int64), np.cumsum(finite, 0)])
    ok = np.zeros(finite.shape, dtype=bool)
    ok[length - 1 :] = (csum[length:] - csum[:-length]) == length
    return ok


def gather(panel: Panel, scaler: Scaler, rows: np.ndarray, cols: np.ndarray, length: int):
    """The standardized sequences ending at (rows[k], cols[k]): [n, length, F] float32."""
    offsets = np.arange(-length + 1, 1)
    return scaler.apply(panel.features[rows[:, None] + offsets, cols[:, None]])


def training_pairs(
    panel: Panel, period: StudyPeriod, targets: np.ndarray, length: int
) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the period's training sequences, time-ordered: each lies inside
    R0..R1 and its target (the return of the next row) is R1 at the latest."""
    ok = complete_windows(panel, period.train_first, length)
    ok[period.train_last :] = False
    ok &= np.isfinite(targets)
    rows, cols = np.nonzero(ok)  # row-major: ordered by date
    return rows, cols
