"""Market data and features: where bars come from (``source``) and what the network is
fed (``features``)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, field_validator

from stock_pipeline.settings.base import SOURCE_NAMES, Section


class SourceSettings(Section):
    """How market data is fetched."""

    name: str = Field("yfinance", description=" | ".join(SOURCE_NAMES))
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
    # 10x: the bundled indices' largest day is +14% (^IXIC, 2001-01-03) and a real share's
    # rarely beats +300% or -90%; a typo bar (a misplaced decimal point) is a 10x-1000x step.
    max_daily_move: float = Field(
        10.0,
        gt=1,
        description="A bar whose open, high, low or close is more than this factor above, or "
        "below 1/this factor of, the previous close is rejected (unless a split or dividend "
        "that day explains it)",
    )
    max_price: float = Field(
        1e9, gt=0, description="A bar with a price above this is rejected (a typo or overflow)"
    )

    @field_validator("name")
    @classmethod
    def _known_source(cls, value: str) -> str:
        if value not in SOURCE_NAMES:
            raise ValueError(
                f"STOCK_PIPELINE_SOURCE={value!r} is not a source; use one of {SOURCE_NAMES}"
            )
        return value


# Chosen by measurement (benchmarks/signal.py, benchmarks/README.md): on planted AR(1)
# series the ten indicator features of earlier releases diluted the signal (skill 55% of
# ARIMA's) and on a random walk they fitted noise; the return alone loses nothing on the
# sample indices. Others stay one setting away (features.columns).
DEFAULT_FEATURES: tuple[str, ...] = ("log_return",)

#: The ten scale-free indicator features (the default before the measurement above); set
#: ``features.columns`` to them, or to any subset, to try them on real data.
INDICATOR_FEATURES: tuple[str, ...] = (
    "log_return",
    "close_to_sma_20",
    "close_to_sma_50",
    "macd_hist_rel",
    "rsi_14",
    "bb_pctb",
    "bb_width",
    "atr_rel",
    "volatility_20",
    "volume_change",
)

#: Every name ``features.columns`` accepts: the keys of the forecasting registry of feature
#: columns (``FEATURES``), listed here so that validating the settings imports no forecasting
#: code (keras); a test keeps the two equal.
FEATURE_COLUMNS: tuple[str, ...] = (
    *INDICATOR_FEATURES,
    "stoch_k",
    "range_rel",
)


class FeatureSettings(Section):
    """What ``windowed_tensors`` builds: per-day feature rows, windows and the target."""

    # added after fold caches existed; only a volatility target reads it
    fingerprint_omitted_at_default: ClassVar[tuple[str, ...]] = ("volatility_estimator",)

    columns: tuple[str, ...] = Field(
        DEFAULT_FEATURES,
        description="Feature names from stock_pipeline.forecasting.feature_columns.FEATURES",
    )
    window: int = Field(20, ge=2, description="T: trading days in one input window")
    horizon: int = Field(1, ge=1, description="h: predict the h-day-ahead target")
    target: Literal["return", "direction", "price", "volatility"] = Field(
        "return",
        description="return: h-day log return; direction: up (1) / down (0); price: close at "
        "t+h; volatility: realized variance over t+1..t+h (volatility_estimator's daily "
        "variances summed), forecast through its log (forecasting/variance.py)",
    )
    volatility_estimator: Literal["squared_return", "parkinson", "garman_klass"] = Field(
        "squared_return",
        description="volatility target's daily variance: the squared close-to-close log "
        "return, or a range-based estimator from the day's high/low (Parkinson) or "
        "open/high/low/close (Garman-Klass); the range-based ones leave out the overnight gap",
    )
