"""The thin Dagster layer: one module per asset group (``market_data``, ``forecasting``,
``evaluation``, ``trading``), mirroring the core packages of the same names, plus
``partitions``, ``resources``, ``automation`` and the shared asset helpers (``assets``).
Each module only wires the plain core into Dagster objects.
"""
