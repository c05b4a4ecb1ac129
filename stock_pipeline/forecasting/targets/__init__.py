"""The forecast targets (``features.target``): one module each, and the registry.

A new target is one module with a ``Target`` subclass (``base.py`` says what it must
say) and one entry here (the ``return`` target's module is ``log_return``: ``return`` is
a Python keyword); ``settings/data.py`` names the targets a setting may choose
(a test checks the two agree). No keras here.
"""

from __future__ import annotations

from stock_pipeline.forecasting.targets.base import LabelScale, Target
from stock_pipeline.forecasting.targets.direction import DirectionTarget
from stock_pipeline.forecasting.targets.log_return import ReturnTarget
from stock_pipeline.forecasting.targets.price import PriceTarget
from stock_pipeline.forecasting.targets.volatility import VolatilityTarget

TARGETS: dict[str, Target] = {
    target.name: target
    for target in (ReturnTarget(), DirectionTarget(), PriceTarget(), VolatilityTarget())
}


__all__ = ["TARGETS", "LabelScale", "Target"]
