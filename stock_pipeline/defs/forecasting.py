"""Asset group ``forecasting``: ``windowed_tensors`` and ``lstm_model`` (the network of the
configured ``model.kind``, whatever the kind: the key is kept for the assets' history).

Wiring only; the logic is in ``stock_pipeline/forecasting``. ``lstm_model``'s training and
forecasting run on the ``compute`` engine (a call per ticker); DuckDB is read and written
here. keras is imported inside ``lstm_model`` only (about 2 s), so loading the code
location does not pay for it.
"""

from typing import Any

from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    Definitions,
    MaterializeResult,
    MetadataValue,
    asset,
)

from stock_pipeline.compute import Stage
from stock_pipeline.defs.asset_bodies import (
    DUCKDB_POOL,
    finish,
    finish_partitions,
    log_lines,
    per_item,
    per_ticker,
    run_dates,
    table_md,
    ticker_date_asset_args,
)
from stock_pipeline.defs.partitions import lookback_mapping, make_partitions, partition_key
from stock_pipeline.defs.resources import ComputeParam, DuckDBWarehouse, SettingsParam
from stock_pipeline.forecasting.feature_rows import feature_set_id, update_feature_rows
from stock_pipeline.settings import Settings

GROUP = "forecasting"


def feature_metadata(results: list, settings) -> dict[str, Any]:
    fs = settings.features
    return {
        "feature_set": feature_set_id(fs),
        "features": MetadataValue.json(list(fs.columns)),
        "window_spec": MetadataValue.json(
            {"window": fs.window, "horizon": fs.horizon, "target": fs.target}
        ),
        "bytes_stored": sum(r.bytes_stored for r in results),
        "rows_stored": sum(r.rows_new for r in results),
        "rows_recomputed": sum(r.rows_recomputed for r in results),
        "per_ticker": table_md(
            [
                {
                    "ticker": r.ticker,
                    "asof": str(r.asof),
                    "rows_total": r.rows_total,
                    "rows_new": r.rows_new,
                    "rows_recomputed": r.rows_recomputed,
                    "bytes_stored": r.bytes_stored,
                    "windows_available": r.windows_available,
                }
                for r in results
            ]
        ),
    }


def model_metadata(r) -> dict[str, Any]:
    """What the UI shows on one (ticker, date) partition of ``lstm_model``."""
    return {
        "forecast": r.predicted,
        "forecast_target_date": str(r.target_date),
        "fold_start": r.fold_start,
        "trained_through": r.trained_through,
        "training_mode": r.mode,
        "epochs_run": r.epochs_run,
        "best_val_loss": r.best_val_loss,
        "train_seconds": round(r.train_seconds, 3),
        "samples_per_second": round(r.samples_per_second, 1),
        "parameter_count": r.parameter_count,
        "forecast_shrink": r.shrink,
        "model_path": MetadataValue.path(str(r.model_path.resolve())),
        "model_version": r.model_version,
        # forecasts are point-in-time facts: the one this replaced is in forecast_history
        **({"replaced_forecast": r.replaced} if r.replaced else {}),
    }


def build_forecasting_assets(partitions_def, lookback_sessions: int) -> list:
    """``partitions_def``: ticker x trading day; ``lookback_sessions``: how far before d the
    feature rows written by partition d can reach (missed nights it fills, plus the one
    bar a feature row looks back)."""
    args = ticker_date_asset_args(partitions_def, GROUP)
    return [build_feature_asset(args, lookback_sessions), build_model_asset(args)]


def build_feature_asset(args: dict[str, Any], lookback_sessions: int) -> AssetsDefinition:
    @asset(
        **args,
        deps=[
            AssetDep(AssetKey("indicators"), partition_mapping=lookback_mapping(lookback_sessions))
        ],
        pool=DUCKDB_POOL,
        kinds={"duckdb", "numpy"},
        description=(
            "Per-day feature rows (DuckDB table `features`) and the window spec; windows of "
            "T rows are built as zero-copy views when training. Partition (T, d) stores rows "
            "dated <= d only."
        ),
    )
    def windowed_tensors(
        context: AssetExecutionContext, settings: SettingsParam, warehouse: DuckDBWarehouse
    ) -> MaterializeResult:
        # Rows are causal, so the latest date of each ticker covers the earlier ones.
        latest = [(t, days[-1]) for t, days in run_dates(context).items()]
        with warehouse.connect() as con:
            results, errors = per_item(
                latest, lambda t, d: update_feature_rows(con, t, d, settings.features)
            )
        log_lines(
            context,
            [
                f"{r.ticker}: recomputed {r.rows_recomputed} stored feature row(s) whose bars "
                "changed (a re-based history)"
                for r in results
                if r.rows_recomputed
            ],
        )
        return finish(feature_metadata(results, settings), errors)

    return windowed_tensors


def build_model_asset(args: dict[str, Any]) -> AssetsDefinition:
    @asset(
        **args,
        deps=[AssetKey("windowed_tensors")],
        kinds={"keras", "jax"},
        description=(
            "The network of the configured kind (`model.kind`: an LSTM by default, or a "
            "GRU, attention LSTM, transformer, TCN, multiscale network or an ensemble; the "
            "asset keeps its first name), Keras 3 on JAX: the model of the fold holding d "
            "(a fold is `retrain_every` sessions; its model is trained from scratch at its "
            "first session on what is known then, and is the one the walk-forward "
            "evaluation scores), and its next-session forecast in `forecasts`. Models: "
            "<data>/models/<ticker>/folds/."
        ),
    )
    def lstm_model(
        context: AssetExecutionContext,
        settings: SettingsParam,
        warehouse: DuckDBWarehouse,
        compute: ComputeParam,
    ) -> MaterializeResult:
        from stock_pipeline.forecasting import forecast

        stage = Stage(
            load=lambda t, d: forecast.load_forecast(warehouse, t, d, settings),
            compute=forecast.compute_forecast,
            store=lambda output: forecast.store_forecast(warehouse, output),
        )
        runs, errors = per_ticker(context, compute, stage, settings)
        log_lines(
            context,
            [
                f"{r.ticker} {r.asof}: fold from {r.fold_start} ({r.mode} model, trained "
                f"through {r.trained_through}); forecast {r.predicted:.6g} for {r.target_date}"
                + (f"; {r.replaced}" if r.replaced else "")
                for r in runs
            ],
        )
        partitions = {partition_key(r.ticker, r.asof): model_metadata(r) for r in runs}
        summary = {
            "config_hash": settings.fingerprint("features", "model"),
            "target_kind": settings.features.target,
            "model_kind": settings.model.kind,
            "folds_trained": sum(r.mode == "trained" for r in runs),
        }
        return finish_partitions(context, partitions, errors, summary)

    return lstm_model


def forecasting_definitions(settings: Settings) -> Definitions:
    """The group's assets, ticker x trading day; the feature rows of partition d reach back
    over the nights a catch-up fills."""
    lookback = settings.automation.max_catch_up_sessions + 1
    return Definitions(assets=build_forecasting_assets(make_partitions(settings), lookback))
