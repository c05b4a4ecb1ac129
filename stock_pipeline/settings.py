"""The one configuration object. Every tunable lives here with its documented default.

Values come from environment variables (``STOCK_PIPELINE_*``) so the same code
location behaves the same under ``dagster dev``, the daemon and the CLI.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

SOURCE_NAMES = ("yfinance", "sample", "csv", "alphavantage")


class Section(BaseModel):
    """A settings section: an unknown field is an error that names it, never ignored."""

    model_config = ConfigDict(extra="forbid")


class SourceSettings(Section):
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


class FeatureSettings(Section):
    """What ``windowed_tensors`` builds: per-day feature rows, windows and the target."""

    columns: tuple[str, ...] = Field(
        DEFAULT_FEATURES,
        description="Feature names from stock_pipeline.forecasting.features.FEATURES",
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


ModelKind = Literal["lstm", "gru", "attention_lstm", "transformer", "tcn", "multiscale", "ensemble"]
MemberKind = Literal["lstm", "gru", "attention_lstm", "transformer", "tcn", "multiscale"]
LossName = Literal["mse", "huber", "cross_entropy"]


class ModelSettings(Section):
    """The network and its training (``lstm_model``)."""

    kind: ModelKind = Field(
        "lstm",
        description="Architecture (forecasting.architectures): lstm | gru (stacks of "
        "lstm_units) | attention_lstm (the stack's states pooled by learned attention) | "
        "transformer (one encoder block, sinusoidal positions) | tcn (dilated causal "
        "convolutions) | multiscale (the daily window and its weekly sums, each through a "
        "recurrent encoder) | ensemble (the mean of the ensemble_members' forecasts)",
    )
    lstm_units: tuple[int, ...] = Field(
        (16,),
        description="Units of each stacked recurrent layer (lstm, gru, attention_lstm); "
        "multiscale's two encoders have the first's",
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


class EvaluationSettings(Section):
    """Walk-forward evaluation (``walk_forward_evaluation``): which sessions are scored and
    the baselines; the folds are the model's (``ModelSettings.retrain_every``)."""

    span_sessions: int | None = Field(
        756,
        ge=1,
        description="Sessions evaluated, ending at the as-of date (756 = 3 years); "
        "null = the whole history",
    )
    arima_order: tuple[int, int, int] = Field((1, 0, 1), description="ARIMA(p, d, q) baseline")
    compare_kinds: tuple[ModelKind, ...] = Field(
        ("lstm", "gru", "ensemble"),
        min_length=1,
        description="Model kinds (model.kind values) that `model_comparison` walks forward "
        "and tests as one family against naive with the target's baselines; each kind's fold "
        "models are cached, and the kind the evaluation uses shares its cache",
    )
    comparison_alpha: float = Field(
        0.05, gt=0, lt=1, description="Family-wise level of the SPA, StepM and Holm tests"
    )
    mcs_size: float = Field(
        0.10, gt=0, lt=1, description="Model Confidence Set level (0.10: a 90% set)"
    )
    bootstrap_reps: int = Field(
        1000, ge=100, description="Stationary-bootstrap replications of SPA, StepM and MCS"
    )


class BacktestSettings(Section):
    """Trading rules, costs and risk controls (``backtest_report``)."""

    rule: Literal["long_flat", "long_short"] = "long_flat"
    execution: Literal["next_open", "next_close"] = Field(
        "next_open", description="A signal formed at the close of t trades at t+1's open or close"
    )
    threshold_bps: float | None = Field(
        None,
        ge=0,
        description="return and price targets: trade only when the forecast h-day log "
        "return exceeds this (in basis points); null = the round-trip cost, "
        "2 x (cost + slippage). A position entered on an h-day forecast is held h sessions",
    )
    direction_margin: float | None = Field(
        None,
        ge=0,
        lt=0.5,
        description="direction target: go long when the probability of an up move exceeds "
        "0.5 + margin (short below 0.5 - margin); null = the margin at which the bet's "
        "expected h-day return, (2p - 1) x the trailing-year mean absolute h-day return, "
        "equals the threshold",
    )
    sizing: Literal["fixed", "vol_target"] = "fixed"
    position_size: float = Field(1.0, gt=0, description="Fixed sizing: fraction of equity")
    target_volatility: float = Field(0.15, gt=0, description="vol_target: annual volatility aim")
    max_position: float = Field(1.0, gt=0, description="vol_target: cap on the position")
    cost_bps: float = Field(5.0, ge=0, description="Commission per unit of position traded")
    slippage_bps: float = Field(5.0, ge=0, description="Slippage per unit of position traded")
    stop_loss: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="Exit when a position has lost this fraction since entry; "
        "re-enter only on a fresh signal",
    )
    max_drawdown_stop: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="Circuit breaker: go flat when equity falls this far below its peak",
    )
    breaker_cooldown: int = Field(
        21, ge=1, description="Sessions flat after the breaker trips; the peak then resets"
    )
    risk_free_rate: float = Field(0.0, description="Annual risk-free rate for Sharpe/Sortino")
    periods_per_year: int = 252
    reports_kept: int | None = Field(
        30,
        ge=1,
        description="HTML reports kept per ticker, the newest as-of dates (each is a "
        "self-contained file of a few MB); older ones are deleted when a new one is written "
        "(their numbers stay in DuckDB, and rematerializing the partition writes the report "
        "again). null = keep all",
    )

    @property
    def trade_cost(self) -> float:
        """Cost per unit of position changed, as a fraction of equity."""
        return (self.cost_bps + self.slippage_bps) / 1e4

    @property
    def threshold(self) -> float:
        bps = (
            self.threshold_bps
            if self.threshold_bps is not None
            else 2 * (self.cost_bps + self.slippage_bps)
        )
        return bps / 1e4


class AutomationSettings(Section):
    """The nightly refresh and the freshness check."""

    nightly_cron: str = Field(
        "30 18 * * 1-5", description="Nightly refresh, exchange time; holidays are skipped"
    )
    market_close: dt.time = Field(dt.time(16, 0), description="Regular session close")
    bar_due_hours: float = Field(
        4.0, gt=0, description="A session's bar must be stored this long after the close"
    )
    max_chain_sessions_per_run: int = Field(
        63,
        ge=1,
        description="The most as-of sessions per ticker one model-chain run accepts: each is "
        "a forecast, a walk-forward evaluation and a report. A larger request (the UI's "
        "'Materialize all' over every partition) fails at once and says so",
    )
    max_catch_up_sessions: int = Field(
        10,
        ge=1,
        description="The nightly run also materializes the sessions a ticker missed since its "
        "last forecast (the daemon was down, a source failed), at most this many; the data "
        "tables are always healed in full, and the run log names the older sessions whose "
        "forecasts and evaluations were left out",
    )
    code_location: str = Field(
        "stock_pipeline",
        min_length=1,
        description="The name the daemon's workspace gives this code location (workspace.yaml "
        "says stock_pipeline): `add-ticker` queues its runs for that location",
    )


class ComputeSettings(Section):
    """Where the per-ticker model compute (fold training, forecasting, the walk-forward)
    runs. The warehouse is read and written only by the asset's own process either way."""

    engine: Literal["in_process", "local_cluster", "address"] = Field(
        "in_process",
        description="in_process: each ticker in turn in the step's process (the default); "
        "local_cluster: a Dask LocalCluster of `workers` processes on loopback, started by "
        "the run and closed with it; address: the Dask scheduler at `address` (workers "
        "on other machines need the same package version and the same models_path)",
    )
    workers: int = Field(2, ge=1, description="local_cluster: worker processes")
    threads_per_worker: int = Field(
        1, ge=1, description="local_cluster: tickers one worker computes at a time"
    )
    address: str | None = Field(
        None, description="address: the scheduler, e.g. tcp://10.0.0.5:8786"
    )

    @model_validator(mode="after")
    def _address_fits_engine(self) -> ComputeSettings:
        if (self.engine == "address") != (self.address is not None):
            raise ValueError(
                "compute.address is needed by compute.engine=address and by no other engine "
                f"(engine {self.engine!r}, address {self.address!r})"
            )
        return self


class UniverseSettings(Section):
    """The pooled cross-sectional forecaster (``universe_model``, ``universe_backtest``):
    one LSTM over every registered ticker predicting whether each beats the day's
    cross-sectional median. Defaults after Fischer & Krauss (2018, EJOR 270(2))."""

    features: tuple[str, ...] = Field(
        ("log_return",),
        min_length=1,
        description="Per-day inputs of a sequence: log_return (from ohlcv adj_close) and any "
        "columns of the indicators table (e.g. rsi_14); the paper uses returns only",
    )
    sequence_length: int = Field(240, ge=2, description="Sessions in one input sequence")
    train_sessions: int = Field(750, ge=10, description="Training sessions of a study period")
    trade_sessions: int = Field(
        250, ge=1, description="Trading sessions of a study period; periods roll by this much"
    )
    lstm_units: int = Field(25, ge=1, description="Units of the one LSTM layer")
    dropout: float = Field(0.1, ge=0, lt=1, description="Dropout after the LSTM layer")
    learning_rate: float = Field(1e-3, gt=0, description="RMSprop learning rate")
    batch_size: int = Field(
        512, ge=1, description="Sequences per gradient step (not taken from the paper)"
    )
    epochs: int = Field(1000, ge=1, description="Upper bound; early stopping ends sooner")
    patience: int = Field(10, ge=1, description="Early-stopping patience (epochs)")
    validation_fraction: float = Field(
        0.2, gt=0, lt=1, description="Time-ordered tail of the training sessions for early stopping"
    )
    k: int = Field(10, ge=1, description="Stocks in each leg: long the top k, short the bottom k")
    cost_bps: float = Field(
        5.0, ge=0, description="Cost per half-turn in bps (per unit of weight traded)"
    )
    min_tickers: int | None = Field(
        None, ge=2, description="Fewest tickers with data on a day to trade it; null = 2k"
    )
    newey_west_lags: int | None = Field(
        None, ge=0, description="Newey-West lags; null = floor(4 (n/100)^(2/9))"
    )
    alpha: float = Field(0.05, gt=0, lt=1, description="Level of the honesty tests")
    histories_kept: int | None = Field(
        30,
        ge=1,
        description="As-of dates whose whole prediction history stays in "
        "universe_predictions (each is every ranked ticker on every traded session, about a "
        "million rows at 500 tickers x 10 years); older as-of dates keep the ranking made "
        "on their own date only. null = keep all",
    )
    seed: int = 42

    @model_validator(mode="after")
    def _sequence_fits(self) -> UniverseSettings:
        if self.sequence_length >= self.train_sessions:
            raise ValueError(
                f"universe.sequence_length={self.sequence_length} must be shorter than "
                f"universe.train_sessions={self.train_sessions}"
            )
        return self

    @property
    def tickers_needed(self) -> int:
        return self.min_tickers or 2 * self.k


class Settings(Section):
    """Top-level configuration. ``Settings.from_env()`` is what the pipeline uses."""

    data_dir: Path = Field(Path("data"), description="Warehouse, models and reports live here")
    warehouse_path: Path | None = Field(
        None, description="DuckDB file; default <data_dir>/warehouse.duckdb"
    )
    models_path: Path | None = Field(
        None,
        description="Folder of trained fold models (a cache keyed by what each model saw, "
        "shareable between warehouses); default <data_dir>/models",
    )
    start_date: dt.date = Field(
        dt.date(2015, 1, 2),
        description="First as-of date partition of the model chain (windowed_tensors .. "
        "backtest_report): the first session a forecast, evaluation and report can be made for",
    )
    history_start: dt.date = Field(
        dt.date(2000, 1, 1),
        description="First year partition of the data assets (raw_ohlcv, indicators): bars "
        "before it are not fetched; a new ticker's history is backfilled from here",
    )
    exchange: str = Field("XNYS", description="exchange_calendars code for trading days")
    exchange_timezone: str = "America/New_York"
    source: SourceSettings = SourceSettings()
    features: FeatureSettings = FeatureSettings()
    model: ModelSettings = ModelSettings()
    evaluation: EvaluationSettings = EvaluationSettings()
    backtest: BacktestSettings = BacktestSettings()
    automation: AutomationSettings = AutomationSettings()
    compute: ComputeSettings = ComputeSettings()
    universe: UniverseSettings = UniverseSettings()
    watchlist_path: Path = Field(Path("watchlist.yaml"), description="The declared universe")

    @model_validator(mode="after")
    def _loss_fits_target(self) -> Settings:
        self.model.loss_for(self.features.target)
        return self

    @property
    def warehouse(self) -> Path:
        return self.warehouse_path or self.data_dir / "warehouse.duckdb"

    @property
    def models_dir(self) -> Path:
        return self.models_path or self.data_dir / "models"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    def ticker_models_dir(self, ticker: str) -> Path:
        """One ticker's models (the symbol URL-quoted: ``^GSPC`` -> ``%5EGSPC``)."""
        return self.models_dir / quote(ticker, safe="")

    def ticker_reports_dir(self, ticker: str) -> Path:
        """One ticker's reports, a folder per as-of date (the symbol URL-quoted)."""
        return self.reports_dir / quote(ticker, safe="")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Defaults, then the YAML file in ``STOCK_PIPELINE_CONFIG``, then ``STOCK_PIPELINE_*``."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        config_file = env.get("STOCK_PIPELINE_CONFIG")
        if config_file:
            values = _load_yaml(Path(config_file))
        source = dict(values.get("source") or {})
        for key, var in (
            ("name", "STOCK_PIPELINE_SOURCE"),
            ("csv_dir", "STOCK_PIPELINE_CSV_DIR"),
            ("alphavantage_api_key", "ALPHAVANTAGE_API_KEY"),
        ):
            if env.get(var):
                source[key] = env[var]
        values["source"] = source
        compute = dict(values.get("compute") or {})
        for key, var in (
            ("engine", "STOCK_PIPELINE_COMPUTE"),
            ("address", "STOCK_PIPELINE_COMPUTE_ADDRESS"),
            ("workers", "STOCK_PIPELINE_COMPUTE_WORKERS"),
        ):
            if env.get(var):
                compute[key] = env[var]
        values["compute"] = compute
        for key, var in (
            ("data_dir", "STOCK_PIPELINE_DATA_DIR"),
            ("warehouse_path", "STOCK_PIPELINE_WAREHOUSE"),
            ("models_path", "STOCK_PIPELINE_MODELS"),
            ("start_date", "STOCK_PIPELINE_START"),
            ("history_start", "STOCK_PIPELINE_HISTORY_START"),
            ("watchlist_path", "STOCK_PIPELINE_WATCHLIST"),
        ):
            if env.get(var):
                values[key] = env[var]
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            where = f"{config_file} and " if config_file else ""
            raise ValueError(
                f"invalid settings (from {where}STOCK_PIPELINE_* variables): {exc}"
            ) from exc

    def with_changes(self, **changes: Any) -> Settings:
        """A validated copy: a section given as a dict changes only the fields it names
        (``settings.with_changes(model={"lstm_units": [32]}, data_dir=folder)``)."""
        data = self.model_dump()
        for name, value in changes.items():
            data[name] = {**data[name], **value} if isinstance(value, dict) else value
        return Settings.model_validate(data)

    def fingerprint(self, *sections: str) -> str:
        """Short hash of the named sections: a model is reusable only while it is unchanged.

        Fields in ``FINGERPRINT_OMITTED_AT_DEFAULT`` are left out while at their default, so
        adding such a field keeps the fold caches and feature sets of existing
        configurations (a non-default value still changes the hash)."""
        payload = json.dumps(
            {name: _fingerprinted(getattr(self, name)) for name in sections}, sort_keys=True
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:12]


#: section -> fields added after caches keyed by the fingerprint existed. Never change
#: such a field's default: configurations before and after would share a hash.
FINGERPRINT_OMITTED_AT_DEFAULT: dict[str, tuple[str, ...]] = {
    "features": ("volatility_estimator",),  # issue 17; only a volatility target reads it
}


def _fingerprinted(section: BaseModel) -> dict[str, Any]:
    data = section.model_dump(mode="json")
    kind = {FeatureSettings: "features"}.get(type(section), "")
    for name in FINGERPRINT_OMITTED_AT_DEFAULT.get(kind, ()):
        if getattr(section, name) == type(section).model_fields[name].default:
            data.pop(name)
    return data


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"STOCK_PIPELINE_CONFIG={path}: cannot read settings: {exc}") from exc
    if not isinstance(loaded, dict):
        raise ValueError(f"STOCK_PIPELINE_CONFIG={path}: expected a mapping of settings")
    return loaded
