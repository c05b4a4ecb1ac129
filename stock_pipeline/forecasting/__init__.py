"""Forecasting: feature rows (columns: ``feature_columns``), the targets (``targets``:
one module and one registry entry each), the Keras network, the one training step, the
as-of model.

Asset group ``forecasting`` (``stock_pipeline/defs/forecasting.py``) wires this package.
``network``, ``training`` and ``forecast`` import keras (about 2 s); the rest do not.
"""
