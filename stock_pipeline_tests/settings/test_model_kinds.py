"""The model kinds the settings accept are exactly the networks the forecaster can build,
plus the ensemble of them."""

from __future__ import annotations

from typing import get_args

from stock_pipeline.forecasting.architectures import ENCODERS
from stock_pipeline.settings import MemberKind, ModelKind, ModelSettings


def test_every_member_kind_is_an_encoder_and_every_encoder_a_member_kind() -> None:
    assert set(get_args(MemberKind)) == set(ENCODERS)


def test_the_model_kinds_are_the_encoders_and_the_ensemble_of_them() -> None:
    assert set(get_args(ModelKind)) == set(ENCODERS) | {"ensemble"}
    assert "ensemble" not in ENCODERS  # the mean of its members' forecasts, not one network
    assert set(ModelSettings().ensemble_members) <= set(ENCODERS)
