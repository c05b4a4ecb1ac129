"""The forecasts of one ticker under the one procedure (``folds``), with fold models and
their forecasts cached on disk so that a night costs a prediction, not a training.

Nothing cached is ever trusted by position or by age: a fold model is reused only while
the digest of its training inputs (``features.training_inputs``) and the configuration
and code version match, and a cached forecast of date t only while the feature rows up to
t are unchanged (a running digest over float32 rows). Anything else is recomputed, so
results never depend on what the cache held, and a corrected bar before a fold's training
cutoff retrains that fold and every later one while a bar after it retrains nothing.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from stock_pipeline.forecasting.bundle import has_bundle, read_meta
from stock_pipeline.forecasting.features import (
    FeatureTable,
    TrainingInputs,
    TrainingRows,
    targets,
    training_inputs,
)
from stock_pipeline.forecasting.folds import Fold, folds_of_origins
from stock_pipeline.settings import Settings

#: Bump when the training code changes what a fold model computes: cached models of an
#: older version are then retrained.
MODEL_CODE_VERSION = "3"
PREDICTIONS_FILE = "predictions.json"


def config_digest(settings: Settings) -> str:
    """What a fold model depends on besides its data: features, model, code version."""
    return f"{settings.fingerprint('features', 'model')}-v{MODEL_CODE_VERSION}"


def running_digests(values: np.ndarray) -> list[str]:
    """digest[i] identifies rows 0..i at float32 precision (a hash chain)."""
    out, previous = [], b""
    for row in np.asarray(values, dtype="float32"):
        previous = hashlib.sha256(previous + row.tobytes()).digest()
        out.append(previous.hex()[:32])
    return out


class FoldCache:
    """One folder per fold (named by its first session): the trained model's bundle and
    ``predictions.json`` (date -> [input digest, forecast])."""

    def __init__(self, ticker_dir: Path, settings: Settings):
        self.folder = ticker_dir / "folds" / config_digest(settings)

    def path(self, start: str) -> Path:
        return self.folder / start

    def model_digest(self, start: str) -> str | None:
        folder = self.path(start)
        return read_meta(folder).get("inputs_digest") if has_bundle(folder) else None

    def load_model(self, start: str):
        from stock_pipeline.forecasting.training import TrainedModel

        return TrainedModel.load(self.path(start))

    def save_model(self, start: str, model) -> None:
        """Replace the fold's folder by the new model (its old forecasts go with it)."""
        target = self.path(start)
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        model.save(tmp)
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)

    def load_forecasts(self, start: str, name: str = PREDICTIONS_FILE) -> dict[str, Any]:
        path = self.path(start) / name
        return json.loads(path.read_text()) if path.exists() else {}

    def save_forecasts(self, start: str, data: dict[str, Any], name: str = PREDICTIONS_FILE):
        path = self.path(start) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_text(json.dumps(data, sort_keys=True))
        tmp.replace(path)


@dataclass
class ForecastRun:
    """Forecasts at the requested origins, and what it took."""

    values: np.ndarray
    folds: list[Fold]
    trained: list[str] = field(default_factory=list)  # first sessions of folds trained now
    reused: list[str] = field(default_factory=list)  # ... whose cached model was used


class Forecaster:
    """The LSTM forecasts of one ticker's feature table under one configuration."""

    def __init__(self, table: FeatureTable, settings: Settings, cache: FoldCache | None):
        self.table, self.settings, self.cache = table, settings, cache
        self.target = targets(table, settings.features)
        self.digests = running_digests(table.values)

    def forecast(self, origins: np.ndarray) -> ForecastRun:
        """The forecast made at each origin row by the model of the fold holding it."""
        run = ForecastRun(np.full(len(origins), np.nan), [])
        for fold, rows in folds_of_origins(self.table, origins, self.settings):
            run.values[np.isin(origins, rows)] = self.fold_forecasts(fold, rows, run)
        return run

    def inputs(self, fold: Fold) -> TrainingInputs:
        rows = TrainingRows(fold.train_first_end, fold.train_last_end)
        return training_inputs(self.table, self.target, rows, self.settings.features)

    def fold_forecasts(self, fold: Fold, rows: np.ndarray, run: ForecastRun) -> np.ndarray:
        """The forecasts of fold ``fold`` at ``rows``; records the fold in ``run``."""
        run.folds.append(fold)
        start, dates = fold.start_date(self.table), [str(self.table.dates[r]) for r in rows]
        inputs = self.inputs(fold)
        fresh = self.cache is None or self.cache.model_digest(start) != inputs.digest
        known = {} if fresh else self.cache.load_forecasts(start)
        missing = [
            i
            for i, (r, d) in enumerate(zip(rows, dates, strict=True))
            if known.get(d, [None])[0] != self.digests[r]
        ]
        if missing:
            model = self._train(fold, inputs, start) if fresh else self.cache.load_model(start)
            values = model.predict(self.table, rows[missing], self.settings.features.window)
            for i, value in zip(missing, values, strict=True):
                known[dates[i]] = [self.digests[rows[i]], float(value)]
            if self.cache is not None:
                self.cache.save_forecasts(start, known)
        (run.trained if fresh else run.reused).append(start)
        return np.array([known[d][1] for d in dates])

    def _train(self, fold: Fold, inputs: TrainingInputs, start: str):
        from stock_pipeline.forecasting.training import train_model

        model, result = train_model(inputs, self.settings)
        model.meta = {
            "ticker": self.table.ticker,
            "fold_start": start,
            "fold_key": fold.key,
            "inputs_digest": inputs.digest,
            "config": config_digest(self.settings),
            "trained_through": str(self.table.dates[fold.train_last_end]),
            "epochs_run": result.epochs_run,
            "best_val_loss": result.best_val_loss,
            "train_seconds": result.train_seconds,
            "samples_per_second": result.samples_per_second,
            "parameter_count": int(model.net.count_params()),
        }
        if self.cache is not None:
            self.cache.save_model(start, model)
        return model
