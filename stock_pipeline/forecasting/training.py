"""The one training step, and the one way a trained model is stored.

Every fold model, deployed or evaluated, is trained by ``train_model`` on
``features.training_inputs`` (windows scaled with their own rows' statistics, labels
scaled likewise). A ``TrainedModel`` is the network plus everything inference needs (the
scalers and the shrinkage factor) and is saved as one folder: ``model.keras`` and
``bundle.json``.
"""

from __future__ import annotations

import dataclasses
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
    time_split,
    windows,
)
from stock_pipeline.forecasting.targets import TARGETS
from stock_pipeline.settings import Settings


@dataclass
class TrainedModel:
    net: Any  # keras.Model
    scaler: Scaler
    labels: LabelScaler
    shrink: float = 1.0  # forecasts in label units are multiplied by it (model.shrinkage)
    meta: dict[str, Any] = field(default_factory=dict)  # recorded in bundle.json

    def predict(self, table: FeatureTable, origins: np.ndarray, window: int) -> np.ndarray:
        """Forecasts in target units from the windows ending at the ``origins`` rows."""
        if not len(origins):
            return np.empty(0)
        scaled = self.scaler.transform(table.values)
        x = windows(scaled, window)[origins - (window - 1)].astype("float32")
        raw = network.predict(self.net, x) * self.shrink + 0.0  # + 0.0: no "-0" forecasts
        return self.labels.from_label(raw, table.adj_close[origins])

    def save(self, folder: Path) -> Path:
        """``folder``/model.keras and ``folder``/bundle.json (scalers + meta)."""
        folder.mkdir(parents=True, exist_ok=True)
        network.save_network(folder / MODEL_FILE, self.net)
        scalers = {
            "scaler": self.scaler.to_dict(),
            "labels": dataclasses.asdict(self.labels),
            "shrink": self.shrink,
        }
        write_meta(folder, {**self.meta, **scalers})
        return folder / MODEL_FILE

    @classmethod
    def load(cls, folder: Path) -> TrainedModel:
        meta = read_meta(folder)
        scaler = Scaler.from_dict(meta.pop("scaler"))
        labels = LabelScaler(**_renamed(meta.pop("labels"), kind="target"))
        shrink = float(meta.pop("shrink", 1.0))
        return cls(network.load_network(folder / MODEL_FILE), scaler, labels, shrink, meta)


def train_model(
    inputs: TrainingInputs, settings: Settings
) -> tuple[TrainedModel, network.TrainResult]:
    """Train a network from scratch on ``inputs`` (early stopping on their time-ordered
    validation tail); the model keeps the inputs' scalers for inference."""
    fs, ms = settings.features, settings.model
    target = TARGETS[fs.target]
    net = network.build_model(fs.window, len(fs.columns), ms, fs.target)
    result = network.fit(net, inputs.x, inputs.y, ms, fs.horizon, ms.epochs)
    shrink, labels = 1.0, inputs.labels
    if target.smeared:
        labels = dataclasses.replace(labels, smear=smearing_factor(net, inputs))
    # Shrinkage pulls a forecast toward zero in label units, which must be the naive
    # forecast (a return or price target); the target says whether it is (``shrunk``).
    if ms.shrinkage != "none" and target.shrunk:
        validation = time_split(len(inputs.x), ms.validation_fraction, fs.horizon).validation
        predicted = network.predict(net, inputs.x[validation])
        actual = inputs.y[validation].astype(float)
        gate = ms.shrinkage_z if ms.shrinkage == "gated_beta" else None
        shrink = shrink_factor(predicted, actual, gate)
    return TrainedModel(net, inputs.scaler, labels, shrink), result


def _renamed(fields: dict[str, Any], **old_to_new: str) -> dict[str, Any]:
    """``fields`` with keys of bundles saved before a rename given their new name."""
    return {old_to_new.get(key, key): value for key, value in fields.items()}


def smearing_factor(net: Any, inputs: TrainingInputs) -> float:
    """Duan's smearing estimate for a log-variance fit: the mean of exp(residual), in log
    units, over the fold's training windows (what the fit saw and its validation tail).
    exp(fitted log) times it estimates the mean variance rather than its geometric mean."""
    fitted = network.predict(net, inputs.x)
    residual = (inputs.y.astype(float) - fitted) * inputs.labels.scale
    return float(np.mean(np.exp(residual)))


def shrink_factor(predicted: np.ndarray, actual: np.ndarray, gate_z: float | None) -> float:
    """How much of a forecast its validation tail supports: the least-squares slope through
    the origin of ``actual`` on ``predicted``, clipped to [0, 1]; with ``gate_z``, zero
    unless corr(predicted, actual) is significantly positive (t-statistic > ``gate_z``).

    Early stopping chose the weights on the same tail, so the slope is optimistic: the clip
    at 1 never lets it inflate a forecast, a forecast that points the wrong way or is
    constant becomes zero (the naive forecast), and the gate keeps a network that found
    nothing from adding noise (benchmarks/README.md, "Does the LSTM find what is there?").
    """
    power = float(predicted @ predicted)
    if power <= 0 or len(predicted) < 3:
        return 0.0
    beta = float(np.clip(float(predicted @ actual) / power, 0.0, 1.0))
    if gate_z is None:
        return beta
    if np.std(predicted) == 0 or np.std(actual) == 0:
        return 0.0
    r = float(np.corrcoef(predicted, actual)[0, 1])
    t = r * np.sqrt((len(predicted) - 2) / max(1.0 - r * r, 1e-12))
    return beta if t > gate_z else 0.0
