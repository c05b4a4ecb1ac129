"""Per-day feature rows (columns: ``feature_columns``), targets and zero-copy windows for
the network. No Dagster here.

The as-of rule lives here. For partition (ticker, d):
- feature row t uses bars dated <= t (indicators are causal), so rows <= d are known on d;
- the target of row t (``forecasting/targets``: the return, direction, price or realized
  variance from t to t+h) is known only on t+h, so a window ending at t may train the
  model of day d only if t + h <= d;
- normalization statistics are fitted on the training rows only (``fit_scaler``) and
  stored with the model, so inference reuses them; never on the whole series.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from stock_pipeline.forecasting.feature_columns import FEATURES
from stock_pipeline.forecasting.targets import TARGETS
from stock_pipeline.settings import FeatureSettings

Frame = pd.DataFrame


class FeatureError(ValueError):
    """Features that cannot be used; the message names ticker, feature and dates."""


class TrainingDataError(ValueError):
    """Too little (or unusable) data to train; the message says how much exists and is needed."""


@dataclass
class FeatureTable:
    """Feature rows of one ticker, oldest first, from the first fully defined row on."""

    ticker: str
    dates: np.ndarray  # datetime64[D], one per row
    values: np.ndarray  # (rows, features) float64
    columns: tuple[str, ...]
    log_return: np.ndarray  # adj_close log return of each row (for targets and baselines)
    adj_close: np.ndarray  # for price targets and price-unit scores
    # (rows, 4) open, high, low, close adjusted like adj_close (range-based volatility);
    # None where the table was built without bars
    ohlc: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.dates)

    def index_of(self, day: dt.date) -> int:
        """Row of the last date <= day (-1 if none)."""
        return int(np.searchsorted(self.dates, np.datetime64(day, "D"), side="right")) - 1


def build_feature_table(
    ticker: str, joined: Frame, settings: FeatureSettings, asof: dt.date | None = None
) -> FeatureTable:
    """Feature rows from ohlcv joined with indicators (one row per date, up to ``asof``).

    Leading rows inside the indicators' warm-up are dropped. A NaN or infinity after
    that is bad input: a FeatureError names the feature and the first dates.
    """
    unknown = [c for c in settings.columns if c not in FEATURES]
    if unknown:
        raise FeatureError(
            f"{ticker}: features.columns names unknown feature(s) {unknown}; "
            f"known (forecasting/feature_columns.py): {sorted(FEATURES)}"
        )
    frame = joined.sort_values("date").reset_index(drop=True)
    if asof is not None:
        frame = frame[frame["date"] <= pd.Timestamp(asof)].reset_index(drop=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        feats = pd.DataFrame({name: FEATURES[name](frame) for name in settings.columns})
    values = feats.to_numpy(dtype="float64")
    finite = np.isfinite(values).all(axis=1)
    first = int(np.argmax(finite)) if finite.any() else len(values)
    bad = ~np.isfinite(values[first:])
    if bad.any():
        dates = frame["date"].iloc[first:].dt.date.to_numpy()
        problems = []
        for j, name in enumerate(settings.columns):
            rows = np.flatnonzero(bad[:, j])
            if len(rows):
                shown = ", ".join(str(dates[r]) for r in rows[:5])
                problems.append(f"{name} on {len(rows)} day(s): {shown}")
        raise FeatureError(f"{ticker}: NaN/inf in features after warm-up: " + "; ".join(problems))
    keep = frame.iloc[first:]
    return FeatureTable(
        ticker=ticker,
        dates=keep["date"].to_numpy().astype("datetime64[D]"),
        values=np.ascontiguousarray(values[first:]),
        columns=tuple(settings.columns),
        log_return=keep["log_return"].to_numpy(dtype="float64"),
        adj_close=keep["adj_close"].to_numpy(dtype="float64"),
        ohlc=adjusted_ohlc(keep),
    )


def adjusted_ohlc(frame: Frame) -> np.ndarray | None:
    """open/high/low/close times the day's adj_close/close factor (None without them)."""
    names = ["open", "high", "low", "close"]
    if not set(names) <= set(frame.columns):
        return None
    factor = (frame["adj_close"] / frame["close"]).to_numpy(dtype="float64")
    return np.ascontiguousarray(frame[names].to_numpy(dtype="float64") * factor[:, None])


def targets(table: FeatureTable, settings: FeatureSettings) -> np.ndarray:
    """Target of each row t (NaN where t + h is past the end of the table), as the
    target's module builds it (``forecasting/targets``).

    return: log(adj_close[t+h] / adj_close[t]); direction: 1.0 if that is > 0 else 0.0;
    price: adj_close[t+h]; volatility: the realized variance over t+1..t+h.
    """
    return TARGETS[settings.target].label(table, settings)


def windows(values: np.ndarray, window: int) -> np.ndarray:
    """All windows of ``window`` consecutive rows: shape (rows - window + 1, window, F).

    A read-only view onto ``values`` (no copy): window k covers rows k .. k+window-1 and
    so ends at row k + window - 1.
    """
    if len(values) < window:
        return np.empty((0, window, values.shape[1]), dtype=values.dtype)
    return sliding_window_view(values, (window, values.shape[1]))[:, 0]


@dataclass(frozen=True)
class Scaler:
    """Per-feature mean and standard deviation, fitted on training rows only."""

    mean: np.ndarray
    std: np.ndarray

    def transform(self, values: np.ndarray) -> np.ndarray:
        return (values - self.mean) / self.std

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Sequence[float]]) -> Scaler:
        return cls(np.asarray(data["mean"], float), np.asarray(data["std"], float))


def fit_scaler(values: np.ndarray) -> Scaler:
    std = values.std(axis=0)
    return Scaler(values.mean(axis=0), np.where(std > 0, std, 1.0))


@dataclass
class Split:
    train: slice
    validation: slice


def time_split(samples: int, validation_fraction: float, gap: int) -> Split:
    """Training windows first, validation windows last, ``gap`` windows dropped between.

    The gap (the target horizon) keeps the last training labels out of the first
    validation inputs; nothing is shuffled across the boundary.
    """
    n_val = max(1, math.ceil(samples * validation_fraction))
    n_train = samples - n_val - gap
    return Split(slice(0, max(n_train, 0)), slice(samples - n_val, samples))


def rows_needed(window: int, horizon: int, min_train: int, validation_fraction: float) -> int:
    """Feature rows whose windows leave ``min_train`` training windows once ``time_split``
    has taken the validation tail and the gap."""
    samples = min_train + horizon + 1
    while time_split(samples, validation_fraction, horizon).train.stop < min_train:
        samples += 1
    return window - 1 + samples + horizon  # each window's target lies h rows after its end


@dataclass(frozen=True)
class LabelScaler:
    """Maps targets to the numbers the network fits, and predictions back, as the
    target's module says (``forecasting/targets``): return and price are scaled by the
    training labels' standard deviation (price as the simple return to the window's
    last close), direction is unchanged (0/1), volatility is a centred, scaled log.
    ``smear`` is the volatility target's smearing factor (set by ``train_model``)."""

    target: str
    scale: float
    center: float = 0.0
    floor: float = 0.0
    smear: float = 1.0

    def to_label(self, target: np.ndarray, close_at_end: np.ndarray) -> np.ndarray:
        return TARGETS[self.target].to_label(self, target, close_at_end)

    def from_label(self, label: np.ndarray, close_at_end: np.ndarray) -> np.ndarray:
        return TARGETS[self.target].from_label(self, label, close_at_end)


def fit_label_scaler(target: str, y: np.ndarray, close_at_end: np.ndarray) -> LabelScaler:
    """The label scaler of ``target`` fitted on a fold's training targets ``y``."""
    return LabelScaler(target, *TARGETS[target].fit_scale(y, close_at_end))


@dataclass(frozen=True)
class TrainingRows:
    """Training windows end on rows ``first_end`` .. ``last_end`` (inclusive); their
    targets must be known when the model is trained."""

    first_end: int
    last_end: int


@dataclass
class TrainingInputs:
    """What a model is trained on: the windows ending on ``rows``, scaled with statistics of
    their own rows only, and their labels. ``digest`` identifies them exactly as the
    network sees them (float32), so a re-based history that changes no input at that
    precision keeps its trained models."""

    rows: TrainingRows
    scaler: Scaler
    labels: LabelScaler
    x: np.ndarray  # (windows, T, F) float32, a view
    y: np.ndarray  # (windows,) float32
    digest: str


def training_inputs(
    table: FeatureTable, target: np.ndarray, rows: TrainingRows, settings: FeatureSettings
) -> TrainingInputs:
    first_row = rows.first_end - settings.window + 1
    values = table.values[first_row : rows.last_end + 1]
    scaler = fit_scaler(values)
    scaled = scaler.transform(values).astype("float32")
    ends = np.arange(rows.first_end, rows.last_end + 1)
    y_raw, close = target[ends], table.adj_close[ends]
    labels = fit_label_scaler(settings.target, y_raw, close)
    y = labels.to_label(y_raw, close).astype("float32")
    digest = hashlib.sha256(scaled.tobytes() + y.tobytes()).hexdigest()
    return TrainingInputs(rows, scaler, labels, windows(scaled, settings.window), y, digest)
