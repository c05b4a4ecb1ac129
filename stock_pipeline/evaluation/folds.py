"""The walk-forward's fold schedule and the on-disk cache of fold models.

Prediction origins t (the close at which a forecast of the return from t to t+h is
made) are cut into folds of ``retrain_every`` sessions on a grid anchored at the first
origin with enough training data, so fold boundaries do not move when history grows
and fold models can be cached. A fold's models see only windows whose labels end at
least ``embargo`` (>= h) sessions before its first origin.

The LSTM of fold k is trained from scratch when k is a multiple of
``full_retrain_every_folds`` and fine-tuned from fold k-1 otherwise, so the result of
a fold depends on the grid only, never on which as-of date computed it first.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stock_pipeline.forecasting.bundle import has_bundle, read_meta
from stock_pipeline.forecasting.features import rows_needed
from stock_pipeline.settings import Settings


@dataclass(frozen=True)
class Fold:
    index: int  # position on the grid (stable as history grows)
    start_row: int  # first prediction origin
    end_row: int  # one past the last origin of a complete fold
    train_first_end: int  # first training window's end row
    train_last_end: int  # last training window's end row
    full_retrain: bool


def embargo_of(settings: Settings) -> int:
    e = settings.evaluation.embargo
    return max(settings.features.horizon, e if e is not None else settings.features.horizon)


def first_origin(settings: Settings) -> int:
    """Grid anchor: the first origin whose fold has the minimum training data."""
    fs, ms = settings.features, settings.model
    need = rows_needed(fs.window, fs.horizon, ms.min_train_samples, ms.validation_fraction)
    # need counts rows up to the last training label; origins follow after the embargo
    return need - 1 + embargo_of(settings)


def grid_start_row(fold_index: int, settings: Settings) -> int:
    """The first origin of fold ``fold_index`` on the grid (before any span cut)."""
    return first_origin(settings) + fold_index * settings.evaluation.retrain_every


def fold_schedule(n_rows: int, asof_row: int, settings: Settings) -> tuple[list[Fold], int]:
    """Folds whose origins fall in the evaluation span, and how many folds precede them
    in their warm-start chain (computed, cached, not reported).

    Origins t need a known outcome: t + h <= asof_row.
    """
    es, fs = settings.evaluation, settings.features
    anchor = first_origin(settings)
    last_origin = asof_row - fs.horizon
    if last_origin < anchor:
        return [], 0
    span_start = (
        anchor if es.span_sessions is None else max(anchor, last_origin - es.span_sessions + 1)
    )
    first_k = (span_start - anchor) // es.retrain_every
    last_k = (last_origin - anchor) // es.retrain_every
    chain_k = first_k - first_k % es.full_retrain_every_folds
    folds = []
    for k in range(chain_k, last_k + 1):
        start = grid_start_row(k, settings)
        train_last_end = start - embargo_of(settings) - fs.horizon
        if es.window_kind == "rolling":
            train_first_end = max(fs.window - 1, train_last_end - es.rolling_sessions + 1)
        else:
            train_first_end = fs.window - 1
        folds.append(
            Fold(
                index=k,
                start_row=max(start, span_start) if k >= first_k else start,
                end_row=start + es.retrain_every,
                train_first_end=train_first_end,
                train_last_end=train_last_end,
                full_retrain=k % es.full_retrain_every_folds == 0,
            )
        )
    return folds, first_k - chain_k


def cache_key_config(settings: Settings) -> str:
    """Everything a fold's models depend on; the span is not (it only picks folds)."""
    ev = settings.evaluation.model_copy(update={"span_sessions": None})
    probe = settings.model_copy(update={"evaluation": ev})
    return probe.fingerprint("features", "model", "evaluation")


class FoldCache:
    """Fold models and their predictions, keyed by (ticker, fold start date, config hash).

    Each fold is one saved ``TrainedModel`` folder whose recorded facts hold the fold's
    origins and predictions.
    """

    def __init__(self, ticker_dir: Path, config_hash: str):
        self.folder = ticker_dir / "walk_forward" / config_hash

    def path(self, start_date: str) -> Path:
        return self.folder / start_date

    def load(self, start_date: str) -> dict[str, Any] | None:
        """The fold's recorded facts (no network loaded), or None if not cached."""
        folder = self.path(start_date)
        return read_meta(folder) if has_bundle(folder) else None

    def load_model(self, start_date: str):
        from stock_pipeline.forecasting.training import TrainedModel

        return TrainedModel.load(self.path(start_date))

    def save(self, start_date: str, trained) -> None:
        """Write the fold's ``TrainedModel`` (with its facts in ``trained.meta``) atomically."""
        target = self.path(start_date)
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        trained.save(tmp)
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
