"""The walk-forward of the pooled model as of the panel's last session: for each study
period whose model exists by then, train it (or reuse the cached one) and predict every
signal date of its trading span up to the last session.

Each study period is one call on a compute engine (``run_period``: the cache check, the
training, the period folder's model and predictions, all on the filesystem, nothing in
the warehouse), so the periods train side by side on a cluster's workers. Each period has
a folder of its own, so no two calls write one folder.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stock_pipeline.compute.engine import Engine, InProcess
from stock_pipeline.settings import UniverseSettings
from stock_pipeline.universe.cache import PeriodCache, chain_digests, period_digest
from stock_pipeline.universe.panel import Panel, median_targets
from stock_pipeline.universe.periods import (
    Scaler,
    StudyPeriod,
    complete_windows,
    gather,
    training_pairs,
    training_scaler,
)


@dataclass
class PeriodRun:
    """What one study period took."""

    index: int
    trained_through: dt.date
    mode: str  # trained | cached
    sequences: int = 0
    epochs_run: int = 0
    best_val_loss: float = float("nan")
    train_seconds: float = 0.0
    sequences_per_second: float = 0.0
    signal_dates: int = 0
    predictions_reused: int = 0
    digest: str = ""  # of the model's training inputs (and its starting weights)
    model: Any = field(default=None, repr=False)  # kept only for a warm start


@dataclass
class WalkResult:
    """``predictions``: date (signal date), ticker, probability, period."""

    predictions: pd.DataFrame
    periods: list[PeriodRun] = field(default_factory=list)

    @property
    def trained(self) -> int:
        return sum(p.mode == "trained" for p in self.periods)


class PeriodFailed(ValueError):
    """A study period's call failed on the engine (it raised on its worker, or the worker
    died): the pooled model is one model, so the walk fails, naming the period."""


def run_period(
    panel: Panel, settings: UniverseSettings, cache_root: Path | None, period: StudyPeriod
) -> tuple[pd.DataFrame, PeriodRun]:
    """One study period (the call an engine runs): its predictions and what it took."""
    return PooledForecaster(panel, settings, cache_root).period(period)


@dataclass(frozen=True)
class WarmStart:
    """The previous study period's trained weights and the digest of what made them."""

    weights: list[np.ndarray]
    digest: str


class PooledForecaster:
    """The study-period models of one panel under one configuration."""

    def __init__(self, panel: Panel, settings: UniverseSettings, cache_root: Path | None):
        self.panel, self.settings, self.cache_root = panel, settings, cache_root
        self.length = settings.sequence_length
        self.targets = median_targets(panel.returns)
        self.ready = complete_windows(panel, 0, self.length)

    def run(self, periods: list[StudyPeriod], engine: Engine | None = None) -> WalkResult:
        """Every period. The periods that must train are independent calls on ``engine``
        (default: in turn, in this process); those whose model is cached only predict,
        here. Warm-started periods depend on each other: all run here, in order."""
        if self.settings.warm_start:
            done, warm = {}, None
            for period in periods:
                done[period.index] = self.period(period, warm)
                warm = self.warm_start_from(period, done[period.index][1])
        else:
            training = [p for p in periods if self.must_train(p)]
            done = self.on_engine(training, engine or InProcess())
            done |= {p.index: self.period(p) for p in periods if p.index not in done}
        frames = [done[i][0] for i in sorted(done)]
        runs = [done[i][1] for i in sorted(done)]
        columns = ["date", "ticker", "probability", "period"]
        out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
        return WalkResult(out, runs)

    def on_engine(self, periods: list[StudyPeriod], engine: Engine) -> dict[int, tuple]:
        done: dict[int, tuple[pd.DataFrame, PeriodRun]] = {}
        if not periods:  # no call, no cluster started
            return done
        calls = [(self.panel, self.settings, self.cache_root, p) for p in periods]
        with closing(engine.map(run_period, calls)) as outcomes:
            for outcome in outcomes:  # closing: a failure cancels the periods pending
                period = periods[outcome.index]
                if outcome.error is not None or outcome.value is None:
                    raise PeriodFailed(
                        f"study period {period.index} (training through "
                        f"{self.through(period)}): {outcome.error}"
                    )
                done[period.index] = outcome.value
        return done

    def through(self, period: StudyPeriod) -> dt.date:
        return self.panel.dates[period.train_last].astype(object)

    def cache(self, period: StudyPeriod) -> PeriodCache | None:
        if self.cache_root is None:
            return None
        return PeriodCache(self.cache_root, self.settings, self.through(period).isoformat())

    def must_train(self, period: StudyPeriod) -> bool:
        cache = self.cache(period)
        digest = period_digest(self.panel, period, self.settings)
        return cache is None or cache.model_digest() != digest

    def warm_start_from(self, period: StudyPeriod, run: PeriodRun) -> WarmStart:
        cache = self.cache(period)
        model = run.model if run.model is not None else cache.load_model()
        return WarmStart(model.get_weights(), run.digest)

    def period(
        self, period: StudyPeriod, warm: WarmStart | None = None
    ) -> tuple[pd.DataFrame, PeriodRun]:
        digest = period_digest(self.panel, period, self.settings)
        if warm is not None:  # the starting weights are part of what made the model
            digest = hashlib.sha256((digest + warm.digest).encode()).hexdigest()[:32]
        cache = self.cache(period)
        fresh = cache is None or cache.model_digest() != digest
        run = PeriodRun(period.index, self.through(period), "trained" if fresh else "cached")
        run.digest = digest
        model = None
        if fresh:
            model, scaler = self.train(period, run, warm)
            if cache is not None:
                cache.save_model(model, self.meta(digest, scaler, run))
        else:
            meta = cache.meta()
            scaler = Scaler(np.asarray(meta["mean"]), np.asarray(meta["std"]))
        frame = self.predict(period, digest, scaler, cache, model, run)
        frame["period"] = period.index
        if warm is not None or self.settings.warm_start:
            run.model = model  # the next period starts from it (not shipped by an engine)
        return frame, run

    def train(
        self, period: StudyPeriod, run: PeriodRun, warm: WarmStart | None = None
    ) -> tuple[Any, Scaler]:
        from stock_pipeline.universe import network

        rows, cols = training_pairs(self.panel, period, self.targets, self.length)
        if len(rows) < 2:
            raise ValueError(
                f"study period {period.index} (training through {run.trained_through}): "
                f"no ticker has {self.length} sessions of data in its training span"
            )
        scaler = training_scaler(self.panel, period)
        n_features = self.panel.features.shape[-1]
        if self.settings.training == "sequences":
            from stock_pipeline.universe import sequences

            us = self.settings
            data = sequences.span_data(
                self.panel, period, scaler, self.targets, rows, cols, us.validation_fraction
            )
            model = sequences.build_sequence_network(n_features, us)
            if warm is not None:
                model.set_weights(warm.weights)
            fit = sequences.fit_sequences(model, data, us)
        else:
            x = gather(self.panel, scaler, rows, cols, self.length)
            y = self.targets[rows, cols].astype("float32")
            model = network.build_network(self.length, n_features, self.settings)
            if warm is not None:
                model.set_weights(warm.weights)
            fit = network.fit_network(model, x, y, self.settings)
        run.sequences, run.epochs_run = len(rows), fit.epochs_run
        run.best_val_loss, run.train_seconds = fit.best_val_loss, fit.train_seconds
        run.sequences_per_second = fit.sequences_per_second
        return model, scaler

    def by_state(self) -> bool:
        """Predictions carried by each stock's state from the period's first row."""
        return self.settings.training == "sequences" and self.settings.predict_with == "state"

    def probabilities(self, model, period, scaler, rows, cols) -> np.ndarray:
        from stock_pipeline.universe import network, sequences

        us = self.settings
        if self.by_state():
            return sequences.predict_state(model, self.panel, scaler, period, rows, cols)
        if us.training == "sequences":
            model = sequences.windows_network(model, self.length, us)
        return network.predict(model, gather(self.panel, scaler, rows, cols, self.length))

    def meta(self, digest: str, scaler: Scaler, run: PeriodRun) -> dict:
        return {
            "inputs_digest": digest,
            "mean": scaler.mean.tolist(),
            "std": scaler.std.tolist(),
            "trained_through": run.trained_through.isoformat(),
            "sequences": run.sequences,
            "epochs_run": run.epochs_run,
            "best_val_loss": run.best_val_loss,
            "train_seconds": run.train_seconds,
        }

    def predict(
        self,
        period: StudyPeriod,
        digest: str,
        scaler: Scaler,
        cache: PeriodCache | None,
        model: Any,
        run: PeriodRun,
    ) -> pd.DataFrame:
        """Probabilities at the period's signal rows; cached ones whose inputs are
        unchanged are reused, the others computed (one ``predict`` call)."""
        last = len(self.panel.dates) - 1
        rows = period.signal_rows(last)
        # what a prediction reads: the state's whole run, or its last window
        first = period.train_first if self.by_state() else period.train_last - self.length + 1
        chains = chain_digests(self.panel, first, rows, digest)
        known = {} if cache is None else cache.load_predictions()
        dates = [str(self.panel.dates[r]) for r in rows]
        missing = [i for i, d in enumerate(dates) if known.get(d, [None])[0] != chains[i]]
        if missing:
            pairs = [(rows[i], c) for i in missing for c in np.flatnonzero(self.ready[rows[i]])]
            r = np.array([p[0] for p in pairs], dtype=int)
            c = np.array([p[1] for p in pairs], dtype=int)
            if model is None:
                model = cache.load_model()
            probs = self.probabilities(model, period, scaler, r, c)
            for i in missing:
                known[dates[i]] = [chains[i], {}]
            for row, col, p in zip(r, c, probs, strict=True):
                known[str(self.panel.dates[row])][1][self.panel.tickers[col]] = float(p)
            if cache is not None:
                cache.save_predictions(known)
        run.signal_dates, run.predictions_reused = len(rows), len(rows) - len(missing)
        records = [(d, t, p) for d in dates for t, p in known[d][1].items()]
        frame = pd.DataFrame(records, columns=["date", "ticker", "probability"])
        frame["date"] = pd.to_datetime(frame["date"])
        return frame
