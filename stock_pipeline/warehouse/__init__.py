"""The storage layer: every SQL statement of the product lives in this package.

``connection`` opens the DuckDB file and writes transactionally; ``schema`` holds the
tables; ``prices``, ``features`` and ``results`` read and write the tables of each
stage, behind functions named for what they read or write.
"""

from stock_pipeline.warehouse.connection import (
    READER_LOCK_WAIT_SECONDS,
    Connection,
    Warehouse,
    WarehouseFile,
    WarehouseLockedError,
    connect,
)

__all__ = [
    "READER_LOCK_WAIT_SECONDS",
    "Connection",
    "Warehouse",
    "WarehouseFile",
    "WarehouseLockedError",
    "connect",
]
