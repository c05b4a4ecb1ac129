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
from collections import Counter
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
from stock_pipeline.settings import ModelSettings, Settings

#: Bump when the training code changes what a fold model computes: cached models of an
#: older version are then retrained.
MODEL_CODE_VERSION = "3"
PREDICTIONS_FILE = "predictions.json"
DEFAULT_MEMBERS = ModelSettings().ensemble_members
MEMBER_FACTS = ("epochs_run", "best_val_loss", "train_seconds", "parameter_count", "shrink")


def config_digest(settings: Settings) -> str:
    """What a fold model depends on besides its data: features, model, code version."""
    if settings.model.kind != "ensemble":
        # a network does not depend on the ensembles it may serve in: an lstm keeps its
        # cache whatever ensemble_members says, and an ensemble's lstm member shares it
        settings = settings.with_changes(model={"ensemble_members": DEFAULT_MEMBERS})
    return f"{settings.fingerprint('features', 'model')}-v{MODEL_CODE_VERSION}"


def member_settings(settings: Settings) -> list[Settings]:
    """The configurations of an ensemble's members: its own with each member's kind, and
    seed + k for the k-th earlier member of the same kind (so the first member of a kind
    is exactly that kind's plain configuration, and shares its fold cache)."""
    seed, seen = settings.model.seed, Counter()
    out = []
    for kind in settings.model.ensemble_members:
        out.append(settings.with_changes(model={"kind": kind, "seed": seed + seen[kind]}))
        seen[kind] += 1
    return out


def stale_forecasts(
    by_date: dict[str, list], rows: np.ndarray, dates: list[str], digests: list[str]
) -> list[int]:
    """Positions of the ``rows`` whose cached forecast (``by_date[date] = [digest of the
    rows up to it, value...]``) is missing or was made from other input rows."""
    return [
        i
        for i, (row, day) in enumerate(zip(rows, dates, strict=True))
        if by_date.get(day, [None])[0] != digests[row]
    ]


def load_fitted(cache: FoldCache | None, start: str, name: str, fit_digest: str) -> dict:
    """A fold's cached baseline fit and forecasts (file ``name``), or a fresh record when
    there is none or it was fitted on other training data (``fit_digest``)."""
    cached = cache.load_forecasts(start, name) if cache is not None else {}
    return cached if cached.get("fit") == fit_digest else {"fit": fit_digest, "by_date": {}}


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
        self.ticker_dir = ticker_dir
        self.folder = ticker_dir / "folds" / config_digest(settings)

    def for_settings(self, settings: Settings) -> FoldCache:
        """The same ticker's cache under another configuration (an ensemble's member)."""
        return FoldCache(self.ticker_dir, settings)

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
    # an ensemble's: one run per member (Forecaster.members); a fold of the ensemble is
    # "trained" when any member trained its model now, "reused" when every member reused
    members: list[ForecastRun] = field(default_factory=list)


class Forecaster:
    """The network forecasts of one ticker's feature table under one configuration; an
    ensemble's are the mean of its members' (one Forecaster per member, each with its
    own fold cache)."""

    def __init__(
        self,
        table: FeatureTable,
        settings: Settings,
        cache: FoldCache | None,
        digests: list[str] | None = None,
    ):
        self.table, self.settings, self.cache = table, settings, cache
        self.target = targets(table, settings.features)
        self.digests = running_digests(table.values) if digests is None else digests
        self.members: list[Forecaster] = []
        if settings.model.kind == "ensemble":
            self.members = [
                Forecaster(table, s, cache and cache.for_settings(s), self.digests)
                for s in member_settings(settings)
            ]

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
        if self.members:
            return self._ensemble_forecasts(fold, rows, run)
        run.folds.append(fold)
        start, dates = fold.start_date(self.table), [str(self.table.dates[r]) for r in rows]
        inputs = self.inputs(fold)
        fresh = self.cache is None or self.cache.model_digest(start) != inputs.digest
        known = {} if fresh else self.cache.load_forecasts(start)
        missing = stale_forecasts(known, rows, dates, self.digests)
        if missing:
            model = self._train(fold, inputs, start) if fresh else self.cache.load_model(start)
            values = model.predict(self.table, rows[missing], self.settings.features.window)
            for i, value in zip(missing, values, strict=True):
                known[dates[i]] = [self.digests[rows[i]], float(value)]
            if self.cache is not None:
                self.cache.save_forecasts(start, known)
        (run.trained if fresh else run.reused).append(start)
        return np.array([known[d][1] for d in dates])

    def _ensemble_forecasts(self, fold: Fold, rows: np.ndarray, run: ForecastRun) -> np.ndarray:
        """The mean of the members' forecasts (each already shrunk by its own factor)."""
        run.folds.append(fold)
        if not run.members:
            run.members = [ForecastRun(np.empty(0), []) for _ in self.members]
        start = fold.start_date(self.table)
        values = [
            member.fold_forecasts(fold, rows, member_run)
            for member, member_run in zip(self.members, run.members, strict=True)
        ]
        trained_now = any(member_run.trained[-1:] == [start] for member_run in run.members)
        (run.trained if trained_now else run.reused).append(start)
        return np.mean(values, axis=0) + 0.0  # + 0.0: no "-0" forecasts

    def fold_facts(self, start: str, run: ForecastRun) -> dict[str, Any]:
        """What the model of the fold starting ``start`` recorded when trained (bundle.json);
        an ensemble's: its members' summed (epochs, seconds spent in ``run``, parameters)
        or averaged (validation loss, shrink factor), and each member's in ``members``."""
        if self.cache is None:
            raise ValueError("fold facts are read from the fold cache; this Forecaster has none")
        if not self.members:
            return read_meta(self.cache.path(start))
        facts = [m.fold_facts(start, r) for m, r in zip(self.members, run.members, strict=True)]
        seconds = [
            f["train_seconds"] if start in r.trained else 0.0
            for f, r in zip(facts, run.members, strict=True)
        ]
        samples = sum(f["samples_per_second"] * f["train_seconds"] for f in facts)
        return {
            "inputs_digest": facts[0]["inputs_digest"],  # every member saw the same inputs
            "trained_through": facts[0]["trained_through"],
            "epochs_run": sum(f["epochs_run"] for f in facts),
            "best_val_loss": float(np.mean([f["best_val_loss"] for f in facts])),
            "train_seconds": sum(seconds),
            "samples_per_second": samples / max(sum(f["train_seconds"] for f in facts), 1e-9),
            "parameter_count": sum(f.get("parameter_count", 0) for f in facts),
            "shrink": float(np.mean([f.get("shrink", 1.0) for f in facts])),
            "members": [
                {"kind": m.settings.model.kind, "seed": m.settings.model.seed}
                | {k: f.get(k) for k in MEMBER_FACTS}
                for m, f in zip(self.members, facts, strict=True)
            ],
        }

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
