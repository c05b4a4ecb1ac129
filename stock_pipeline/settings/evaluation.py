"""Scoring the forecasts: the walk-forward evaluation (``evaluation``) and the trading
backtest (``backtest``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from stock_pipeline.settings.base import Section
from stock_pipeline.settings.model import ModelKind


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
    verdict_level: float = Field(
        0.05,
        gt=0,
        lt=1,
        description="Level of the Diebold-Mariano test in the verdict against the naive "
        "forecast (the report's sentence, the CLI summary, the ranking's 'lost to naive')",
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
