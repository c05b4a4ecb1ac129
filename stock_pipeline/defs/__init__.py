"""The thin Dagster layer: one module per asset group (``market_data``, ``forecasting``,
``evaluation``, ``trading``, ``universe``), mirroring the core packages of the same
names, each with one function returning the group's ``Definitions``; ``automation`` (the
model-chain job, the nightly schedule and the sensors that chain runs) and
``run_requests`` (the runs they ask for); ``partitions``, ``resources`` and the shared
asset helpers (``asset_bodies``). Each module only wires the plain core into Dagster
objects; ``stock_pipeline.definitions`` merges the groups.
"""
