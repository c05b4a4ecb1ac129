"""The one training step, and the one way a trained model is stored.

Both the as-of model (``lstm_model``) and every walk-forward fold train through
``train_model``: fit the feature scaler on the training rows, build the windows that end
on those rows, fit the label scaler, then train from scratch or fine-tune an earlier
model. A ``TrainedModel`` is the network plus everything inference needs (the scalers)
and is saved as one folder: ``model.keras`` and ``bundle.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from stock_pipeline.forecasting import network
from stock_pipeline.forecasting.bundle import MODEL_FILE, read_meta, write_meta
from stock_pipeline.forecasting.features import (
    FeatureTable,
    LabelScaler,
    Scaler,
    fit_label_scaler,
    fit_scaler,
    windows,
)
from stock_pipeline.settings import Settings


@dataclass(frozen=True)
class TrainingRows:
    """Training windows end on rows ``first_end`` .. ``last_end`` (inclusive); their
    targets must be known when the model is trained."""

    first_end: int
    last_end: int


@dataclass
class TrainedModel:
    net: Any  # keras.Model
    scaler: Scaler
    labels: LabelScaler
    meta: dict[str, Any] = field(default_factory=dict)  # recorded in bundle.json

    def predict(self, table: FeatureTable, origins: np.ndarray, window: int) -> np.ndarray:
        """Forecasts in target units from the windows ending at the ``origins`` rows."""
        if not len(origins):
            return np.empty(0)
        scaled = self.scaler.transform(table.values)
        x = windows(scaled, window)[origins - (window - 1)].astype("float32")
        raw = network.predict(self.net, x)
        return self.labels.from_label(raw, table.adj_close[origins])

    def save(self, folder: Path) -> Path:
        """``folder``/model.keras and ``folder``/bundle.json (scalers + meta)."""
        folder.mkdir(parents=True, exist_ok=True)
        network.save_network(folder / MODEL_FILE, self.net)
        scalers = {
            "scaler": self.scaler.to_dict(),
            "labels": {"kind": self.labels.kind, "scale": self.labels.scale},
        }
        write_meta(folder, {**self.meta, **scalers})
        return folder / MODEL_FILE

    @classmethod
    def load(cls, folder: Path) -> TrainedModel:
        meta = read_meta(folder)
        scaler = Scaler.from_dict(meta.pop("scaler"))
        labels = LabelScaler(**meta.pop("labels"))
        return cls(network.load_network(folder / MODEL_FILE), scaler, labels, meta)


def train_model(
    table: FeatureTable,
    target: np.ndarray,
    rows: TrainingRows,
    settings: Settings,
    warm_from: TrainedModel | None = None,
) -> tuple[TrainedModel, network.TrainResult]:
    """Train on the windows ending on ``rows``: from scratch, or fine-tune ``warm_from``.

    A fine-tuned model keeps the scalers it was first trained with (its weights expect
    inputs on that scale) and trains on the most recent ``fine_tune_samples`` windows for
    ``fine_tune_epochs``; a fresh model fits both scalers on the training rows only.
    """
    fs, ms = settings.features, settings.model
    window = fs.window
    if warm_from is None:
        scaler = fit_scaler(table.values[rows.first_end - window + 1 : rows.last_end + 1])
    else:
        scaler = warm_from.scaler
    scaled = scaler.transform(table.values[: rows.last_end + 1])
    ends = np.arange(rows.first_end, rows.last_end + 1)
    x = windows(scaled, window)[ends - (window - 1)]
    y_raw, close = target[ends], table.adj_close[ends]
    if warm_from is None:
        labels = fit_label_scaler(fs.target, y_raw, close)
        net = network.build_model(window, len(fs.columns), ms, fs.target)
        epochs, keep = ms.epochs, slice(0, len(ends))
    else:
        labels, net, epochs = warm_from.labels, warm_from.net, ms.fine_tune_epochs
        keep = slice(max(len(ends) - ms.fine_tune_samples, 0), len(ends))
    y = labels.to_label(y_raw[keep], close[keep]).astype("float32")
    result = network.fit(net, x[keep], y, ms, fs.horizon, epochs)
    return TrainedModel(net, scaler, labels), result
