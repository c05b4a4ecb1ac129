"""The one configuration object. Every tunable lives here with its documented default.

Values come from environment variables (``STOCK_PIPELINE_*``) so the same code
location behaves the same under ``dagster dev``, the daemon and the CLI.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, field_validator

SOURCE_NAMES = ("yfinance", "sample", "csv", "alphavantage")


class SourceSettings(BaseModel):
    """How market data is fetched."""

    name: str = Field("yfinance", description="yfinance | sample | csv | alphavantage")
    csv_dir: Path | None = Field(None, description="Folder of <TICKER>.csv files (csv source)")
    alphavantage_api_key: SecretStr | None = Field(
        None, description="Alpha Vantage key; a SecretStr so it never reaches logs or metadata"
    )
    retries: int = Field(4, ge=1, description="Attempts per request on transient failures")
    backoff_seconds: float = Field(1.0, ge=0, description="First retry delay; doubles each time")
    tickers_per_request: int = Field(
        20, ge=1, description="yfinance batches this many symbols into one download"
    )
    timeout_seconds: float = Field(30.0, gt=0, description="HTTP timeout per request")

    @field_validator("name")
    @classmethod
    def _known_source(cls, value: str) -> str:
        if value not in SOURCE_NAMES:
            raise ValueError(
                f"STOCK_PIPELINE_SOURCE={value!r} is not a source; use one of {SOURCE_NAMES}"
            )
        return value


class Settings(BaseModel):
    """Top-level configuration. ``Settings.from_env()`` is what the pipeline uses."""

    data_dir: Path = Field(Path("data"), description="Warehouse, models and reports live here")
    warehouse_path: Path | None = Field(
        None, description="DuckDB file; default <data_dir>/warehouse.duckdb"
    )
    start_date: dt.date = Field(dt.date(2015, 1, 2), description="First date partition")
    exchange: str = Field("XNYS", description="exchange_calendars code for trading days")
    exchange_timezone: str = "America/New_York"
    source: SourceSettings = SourceSettings()

    @property
    def warehouse(self) -> Path:
        return self.warehouse_path or self.data_dir / "warehouse.duckdb"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("STOCK_PIPELINE_DATA_DIR", "data"))
        source = SourceSettings(
            name=env.get("STOCK_PIPELINE_SOURCE", "yfinance"),
            csv_dir=env.get("STOCK_PIPELINE_CSV_DIR") or None,
            alphavantage_api_key=env.get("ALPHAVANTAGE_API_KEY") or None,
        )
        start = env.get("STOCK_PIPELINE_START")
        try:
            start_date = dt.date.fromisoformat(start) if start else dt.date(2015, 1, 2)
        except ValueError as exc:
            raise ValueError(f"STOCK_PIPELINE_START={start!r} is not a YYYY-MM-DD date") from exc
        return cls(
            data_dir=data_dir,
            warehouse_path=env.get("STOCK_PIPELINE_WAREHOUSE") or None,
            start_date=start_date,
            source=source,
        )
