"""The on-disk cache of study-period models and their predictions, so that a night
costs a prediction for one session, and a training only when a study period ends.

Nothing cached is trusted by position or age: a period's model is reused only while the
digest of its training inputs (the tickers with data in its training span, their
features and dates) and of the training settings and code version match, and a cached
prediction of signal date t only while the chained digest of the panel rows feeding it
(from the first sequence row of the period's trading span through t) matches.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from stock_pipeline.settings import UniverseSettings
from stock_pipeline.universe.panel import Panel
from stock_pipeline.universe.periods import StudyPeriod

#: Bump when the training code changes what a period model computes.
MODEL_CODE_VERSION = "2"

#: The settings a period model depends on (the trading rule's and the tests' do not).
TRAINING_FIELDS = (
    "features",
    "sequence_length",
    "train_sessions",
    "trade_sessions",
    "lstm_units",
    "dropout",
    "learning_rate",
    "batch_size",
    "epochs",
    "patience",
    "validation_fraction",
    "training",
    "sequence_batch",
    "predict_with",
    "warm_start",
    "seed",
)
MODEL_FILE, META_FILE, PREDICTIONS_FILE = "model.keras", "meta.json", "predictions.json"


def config_digest(settings: UniverseSettings) -> str:
    fields = settings.model_dump(mode="json", include=set(TRAINING_FIELDS))
    payload = json.dumps({**fields, "code": MODEL_CODE_VERSION}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def _row_digest(panel: Panel, row: int) -> bytes:
    """The tickers with data on ``row`` and their values there (float32 precision)."""
    values = panel.features[row].astype("float32")
    present = np.flatnonzero(np.isfinite(values).any(axis=-1))
    names = ",".join(panel.tickers[i] for i in present)
    return hashlib.sha256(names.encode() + values[present].tobytes()).digest()


def period_digest(panel: Panel, period: StudyPeriod, settings: UniverseSettings) -> str:
    """What the period's model saw: its training rows (dates, tickers, values)."""
    h = hashlib.sha256(config_digest(settings).encode())
    for row in range(period.train_first, period.train_last + 1):
        h.update(str(panel.dates[row]).encode() + _row_digest(panel, row))
    return h.hexdigest()[:32]


def chain_digests(panel: Panel, first: int, rows: np.ndarray, model_digest: str) -> list[str]:
    """For each of ``rows`` (ascending), the digest of the rows ``first``..row."""
    out, chain, row = [], hashlib.sha256(model_digest.encode()).digest(), first
    for target in rows:
        while row <= target:
            chain = hashlib.sha256(chain + str(panel.dates[row]).encode() + _row_digest(panel, row))
            chain = chain.digest()
            row += 1
        out.append(chain.hex()[:32])
    return out


class PeriodCache:
    """One folder per study period, named by its last training session: the model, its
    meta (digest, scaler, training facts) and its predictions by signal date."""

    def __init__(self, root: Path, settings: UniverseSettings, trained_through: str):
        self.folder = root / config_digest(settings) / trained_through

    def meta(self) -> dict[str, Any]:
        path = self.folder / META_FILE
        return json.loads(path.read_text()) if path.exists() else {}

    def model_digest(self) -> str | None:
        if not (self.folder / MODEL_FILE).exists():
            return None
        return self.meta().get("inputs_digest")

    def save_model(self, model, meta: dict[str, Any]) -> None:
        """Replace the folder by the new model (its old predictions go with it)."""
        from stock_pipeline.forecasting.network import save_network

        tmp = self.folder.with_name(f".{self.folder.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        save_network(tmp / MODEL_FILE, model)
        (tmp / META_FILE).write_text(json.dumps(meta, sort_keys=True))
        shutil.rmtree(self.folder, ignore_errors=True)
        tmp.rename(self.folder)

    def load_model(self):
        from stock_pipeline.forecasting.network import load_network

        return load_network(self.folder / MODEL_FILE)

    def load_predictions(self) -> dict[str, Any]:
        path = self.folder / PREDICTIONS_FILE
        return json.loads(path.read_text()) if path.exists() else {}

    def save_predictions(self, data: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{PREDICTIONS_FILE}.tmp"
        tmp.write_text(json.dumps(data, sort_keys=True))
        tmp.replace(self.folder / PREDICTIONS_FILE)
