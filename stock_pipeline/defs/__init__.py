"""The thin Dagster layer: partitions, resources, assets, checks and automation.

Each module only wires the plain core (sources, storage, indicators, ...) into
Dagster objects; the logic lives in the core modules.
"""
