"""The network and its training (``model``), with the model kinds other sections name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator

from stock_pipeline.settings.base import Section

ModelKind = Literal["lstm", "gru", "attention_lstm", "transformer", "tcn", "multiscale", "ensemble"]
MemberKind = Literal["lstm", "gru", "attention_lstm", "transformer", "tcn", "multiscale"]
LossName = Literal["mse", "huber", "cross_entropy"]


class ModelSettings(Section):
    """The network and its training (``lstm_model``)."""

    # ``units`` sizes the layers of every kind; fold caches keyed by its earlier name survive
    earlier_names: ClassVar[Mapping[str, str]] = {"lstm_units": "units"}

    kind: ModelKind = Field(
        "lstm",
        description="Architecture (forecasting.architectures): lstm | gru (stacks of "
        "units) | attention_lstm (the stack's states pooled by learned attention) | "
        "transformer (one encoder block, sinusoidal positions) | tcn (dilated causal "
        "convolutions) | multiscale (the daily window and its weekly sums, each through a "
        "recurrent encoder) | ensemble (the mean of the ensemble_members' forecasts)",
    )
    units: tuple[Annotated[int, Field(ge=1)], ...] = Field(
        (16,),
        description="Units of each stacked recurrent layer (lstm, gru, attention_lstm); "
        "multiscale's two encoders have the first's. Also accepted as lstm_units, its "
        "earlier name",
    )
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout after each recurrent layer")
    heads: int = Field(2, ge=1, description="transformer: attention heads")
    key_dim: int = Field(8, ge=1, description="transformer: width of each head")
    filters: int = Field(16, ge=1, description="tcn: channels of each convolution")
    kernel_size: int = Field(
        3, ge=2, description="tcn: kernel of the convolutions dilated 1, 2, 4, 8 (3: 31 sessions)"
    )
    weekly_period: int = Field(
        5, ge=2, description="multiscale: sessions summed into one weekly row of the window"
    )
    ensemble_members: tuple[MemberKind, ...] = Field(
        ("lstm", "gru"),
        min_length=1,
        description="ensemble: the member kinds; each is trained by the fold procedure with "
        "this configuration and its own kind (the k-th repeat of a kind gets seed + k)",
    )
    zero_init_output: bool = Field(
        True,
        description="Start the output layer's weights at zero, so an untrained network "
        "forecasts the mean label and early stopping keeps it there unless the validation "
        "loss finds something (do no harm on series with nothing to learn)",
    )
    shrinkage: Literal["gated_beta", "beta", "none"] = Field(
        "gated_beta",
        description="How much of a fold's return/price forecasts to keep, judged on its "
        "validation tail. beta: multiply them by the least-squares slope of the tail's "
        "outcomes on its forecasts, clipped to [0, 1]; gated_beta: the same, but 0 (the "
        "naive forecast) unless the tail's forecast-outcome correlation is significant at "
        "z > shrinkage_z; none: raw network output",
    )
    shrinkage_z: float = Field(
        2.326, ge=0, description="gated_beta's one-sided threshold (2.326: 1% level)"
    )
    loss: LossName | None = Field(
        None,
        description="Training loss. mse | huber for the return and price targets, "
        "cross_entropy for direction (a sigmoid output); null = mse, or cross_entropy for "
        "direction",
    )
    learning_rate: float = Field(1e-3, gt=0)
    batch_size: int = Field(64, ge=1)
    epochs: int = Field(100, ge=1, description="Upper bound; EarlyStopping usually ends sooner")
    patience: int = Field(5, ge=1, description="EarlyStopping patience (epochs)")
    validation_fraction: float = Field(
        0.2, gt=0, lt=1, description="Tail of the training span used for early stopping"
    )
    min_train_samples: int = Field(
        100, ge=1, description="Fewest training windows (before validation) a fit accepts"
    )
    seed: int = 42
    retrain_every: int = Field(
        21,
        ge=1,
        description="Sessions per fold: a model is trained from scratch at the first session "
        "of each fold and forecasts every session of it. The deployed model (`lstm_model`) "
        "and the walk-forward evaluation use the same folds and the same fold models",
    )
    stagger: bool = Field(
        True,
        description="Shift each ticker's fold boundaries by a fixed offset derived from its "
        "symbol, so that tickers retrain on different nights",
    )
    window_kind: Literal["expanding", "rolling"] = Field(
        "expanding", description="expanding: train on all history; rolling: the last rows"
    )
    rolling_sessions: int = Field(1260, ge=10, description="Training rows of a rolling window")
    embargo: int | None = Field(
        None,
        ge=0,
        description="Sessions between the last training label and the first forecast of a "
        "fold; null = the horizon h (never less than h)",
    )

    @field_validator("units")
    @classmethod
    def _some_units(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value:
            raise ValueError("model.units (or lstm_units) needs at least one layer's units")
        return value

    @property
    def lstm_units(self) -> tuple[int, ...]:
        """``units`` under its earlier name."""
        return self.units

    def loss_for(self, target: str) -> LossName:
        """The loss trained on for ``target``; a ValueError naming the fields if they clash."""
        loss = self.loss or ("cross_entropy" if target == "direction" else "mse")
        if (target == "direction") != (loss == "cross_entropy"):
            raise ValueError(
                f"model.loss={loss!r} does not fit features.target={target!r}: use "
                "cross_entropy for direction, mse or huber for return and price (or leave "
                "model.loss unset for the target's default)"
            )
        return loss
