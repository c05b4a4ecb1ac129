"""The pooled cross-sectional forecaster's settings (``universe``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from stock_pipeline.settings.base import Section


class UniverseSettings(Section):
    """The pooled cross-sectional forecaster (``universe_model``, ``universe_backtest``):
    one LSTM over every registered ticker predicting whether each beats the day's
    cross-sectional median. Defaults after Fischer & Krauss (2018, EJOR 270(2))."""

    features: tuple[str, ...] = Field(
        ("log_return",),
        min_length=1,
        description="Per-day inputs of a sequence: log_return (from ohlcv adj_close) and any "
        "columns of the indicators table (e.g. rsi_14); the paper uses returns only",
    )
    sequence_length: int = Field(240, ge=2, description="Sessions in one input sequence")
    train_sessions: int = Field(750, ge=10, description="Training sessions of a study period")
    trade_sessions: int = Field(
        250, ge=1, description="Trading sessions of a study period; periods roll by this much"
    )
    lstm_units: int = Field(25, ge=1, description="Units of the one LSTM layer")
    dropout: float = Field(0.1, ge=0, lt=1, description="Dropout after the LSTM layer")
    learning_rate: float = Field(1e-3, gt=0, description="RMSprop learning rate")
    batch_size: int = Field(
        512, ge=1, description="Sequences per gradient step (not taken from the paper)"
    )
    epochs: int = Field(1000, ge=1, description="Upper bound; early stopping ends sooner")
    patience: int = Field(10, ge=1, description="Early-stopping patience (epochs)")
    validation_fraction: float = Field(
        0.2, gt=0, lt=1, description="Time-ordered tail of the training sessions for early stopping"
    )
    k: int = Field(10, ge=1, description="Stocks in each leg: long the top k, short the bottom k")
    cost_bps: float = Field(
        5.0, ge=0, description="Cost per half-turn in bps (per unit of weight traded)"
    )
    min_tickers: int | None = Field(
        None, ge=2, description="Fewest tickers with data on a day to trade it; null = 2k"
    )
    newey_west_lags: int | None = Field(
        None, ge=0, description="Newey-West lags; null = floor(4 (n/100)^(2/9))"
    )
    alpha: float = Field(0.05, gt=0, lt=1, description="Level of the honesty tests")
    histories_kept: int | None = Field(
        30,
        ge=1,
        description="As-of dates whose whole prediction history stays in "
        "universe_predictions (each is every ranked ticker on every traded session, about a "
        "million rows at 500 tickers x 10 years); older as-of dates keep the ranking made "
        "on their own date only. null = keep all",
    )
    training: Literal["windows", "sequences"] = Field(
        "sequences",
        description="windows: the paper's procedure, every (stock, day) pair its own "
        "sequence_length-session sequence from a zero state; sequences: the same network "
        "run once over each stock's whole training span, the loss on exactly the pairs "
        "windows trains on (far cheaper; equivalent in skill, see benchmarks/README.md)",
    )
    sequence_batch: int = Field(
        64, ge=1, description="sequences: stocks per gradient step (each its whole span)"
    )
    predict_with: Literal["state", "windows"] = Field(
        "state",
        description="sequences: predict by carrying each stock's state from the start of "
        "the study period through the signal day (state), or by the paper's "
        "sequence_length-session windows from a zero state with the trained weights",
    )
    warm_start: bool = Field(
        False,
        description="Start each study period's training from the previous period's "
        "trained weights instead of fresh ones (the periods then train one after another)",
    )
    seed: int = 42

    @model_validator(mode="after")
    def _sequence_fits(self) -> UniverseSettings:
        if self.sequence_length >= self.train_sessions:
            raise ValueError(
                f"universe.sequence_length={self.sequence_length} must be shorter than "
                f"universe.train_sessions={self.train_sessions}"
            )
        return self

    @property
    def tickers_needed(self) -> int:
        return self.min_tickers or 2 * self.k
