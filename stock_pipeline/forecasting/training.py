"""The one training step, and the one way a trained model is stored.

Every fold model, deployed or evaluated, is trained by ``train_model`` on
``features.training_inputs`` (windows scaled with their own rows' statistics, labels
scaled likewise). A ``TrainedModel`` is the network plus everything inference needs (the
scalers) and is saved as one folder: ``model.keras`` and ``bundle.json``.
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
    TrainingInputs,
    windows,
)
from stock_pipeline.settings import Settings


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
    inputs: TrainingInputs, settings: Settings
) -> tuple[TrainedModel, network.TrainResult]:
    """Train a network from scratch on ``inputs`` (early stopping on their time-ordered
    validation tail); the model keeps the inputs' scalers for inference."""
    fs, ms = settings.features, settings.model
    net = network.build_model(fs.window, len(fs.columns), ms, fs.target)
    result = network.fit(net, inputs.x, inputs.y, ms, fs.horizon, ms.epochs)
    return TrainedModel(net, inputs.scaler, inputs.labels), result
