"""Assets ``windowed_tensors`` and ``lstm_model``: wiring only, logic in ``forecasting``."""

from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd
from dagster import (
    AssetDep,
    AssetExecutionContext,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    asset,
)

from stock_pipeline import forecasting
from stock_pipeline.defs.market_data import DUCKDB_POOL, fail_tickers, run_dates
from stock_pipeline.defs.resources import DuckDBWarehouse, PipelineSettings


def per_item(
    items: Iterable[tuple[str, Any]], work: Callable[[str, Any], Any]
) -> tuple[list[Any], dict[str, str]]:
    """Run ``work`` per (ticker, date); one failure is recorded, the rest go on."""
    done, errors = [], {}
    for ticker, day in items:
        try:
            done.append(work(ticker, day))
        except (ValueError, OSError) as exc:
            errors[f"{day}|{ticker}"] = f"{ticker} {day}: {exc}"
    return done, errors


def per_partition(
    context: AssetExecutionContext, work: Callable[[str, Any], Any]
) -> tuple[list[Any], dict[str, str]]:
    """``per_item`` over every (ticker, date) partition of the run."""
    return per_item([(t, d) for t, days in run_dates(context).items() for d in days], work)


def log_lines(context: AssetExecutionContext, lines: list[str]) -> None:
    """One log event for the whole run: each event is a write to the instance's storage."""
    if lines:
        context.log.info("\n".join(lines))


def table_md(rows: list[dict[str, Any]]) -> MetadataValue:
    return MetadataValue.md(pd.DataFrame(rows).to_markdown(index=False) if rows else "none")


def build_forecast_assets(partitions_def):
    @asset(
        partitions_def=partitions_def,
        deps=[AssetDep("indicators")],
        backfill_policy=BackfillPolicy.single_run(),
        pool=DUCKDB_POOL,
        group_name="forecasting",
        kinds={"duckdb", "numpy"},
        description=(
            "Per-day feature rows (DuckDB table `features`) and the window spec; windows of "
            "T rows are built as zero-copy views when training. Partition (T, d) stores rows "
            "dated <= d only."
        ),
    )
    def windowed_tensors(
        context: AssetExecutionContext, settings: PipelineSettings, warehouse: DuckDBWarehouse
    ) -> MaterializeResult:
        cfg = settings.get()
        wanted = run_dates(context)
        with warehouse.connect() as con:
            # Rows are causal, so the latest date of each ticker covers the earlier ones.
            items = [(t, days[-1]) for t, days in wanted.items()]
            results, errors = per_item(
                items,
                lambda t, d: forecasting.update_feature_rows(con, t, d, cfg.features),
            )
        fs = cfg.features
        metadata = {
            "feature_set": forecasting.feature_set_id(fs),
            "features": MetadataValue.json(list(fs.columns)),
            "window_spec": MetadataValue.json(
                {"window": fs.window, "horizon": fs.horizon, "target": fs.target}
            ),
            "bytes_stored": sum(r.bytes_stored for r in results),
            "rows_stored": sum(r.rows_new for r in results),
            "per_ticker": table_md(
                [
                    {
                        "ticker": r.ticker,
                        "asof": str(r.asof),
                        "rows_total": r.rows_total,
                        "rows_new": r.rows_new,
                        "bytes_stored": r.bytes_stored,
                        "windows_available": r.windows_available,
                    }
                    for r in results
                ]
            ),
        }
        fail_tickers(errors, metadata)
        return MaterializeResult(metadata=metadata)

    @asset(
        partitions_def=partitions_def,
        deps=[windowed_tensors],
        backfill_policy=BackfillPolicy.single_run(),
        group_name="forecasting",
        kinds={"keras", "jax"},
        description=(
            "Keras 3 LSTM (JAX) trained as of the close of d: full retrain every "
            "`retrain_every` sessions or on a config change, warm-started fine-tuning between. "
            "Saves <data>/models/<ticker>/<d>/ and the next-session forecast in `forecasts`."
        ),
    )
    def lstm_model(context: AssetExecutionContext, settings: PipelineSettings) -> MaterializeResult:
        cfg = settings.get()
        runs, errors = per_partition(context, lambda t, d: forecasting.train_asof(t, d, cfg))
        log_lines(
            context,
            [
                f"{r.ticker} {r.asof}: {r.mode} ({r.reason}); {r.epochs_run} epochs, "
                f"forecast {r.predicted:.6g} for {r.target_date}"
                for r in runs
            ],
        )
        metadata: dict[str, Any] = {
            "models": table_md(
                [
                    {
                        "ticker": r.ticker,
                        "asof": str(r.asof),
                        "mode": r.mode,
                        "epochs": r.epochs_run,
                        "best_val_loss": round(r.best_val_loss, 6),
                        "train_s": round(r.train_seconds, 2),
                        "samples_per_s": round(r.samples_per_second),
                        "forecast": f"{r.predicted:.6g} for {r.target_date}",
                    }
                    for r in runs
                ]
            ),
            "config_hash": cfg.fingerprint("features", "model"),
            "target_kind": cfg.features.target,
        }
        if len(runs) == 1:
            (r,) = runs
            metadata.update(
                epochs_run=r.epochs_run,
                best_val_loss=r.best_val_loss,
                train_seconds=round(r.train_seconds, 3),
                samples_per_second=round(r.samples_per_second, 1),
                parameter_count=r.parameter_count,
                training_mode=r.mode,
                forecast=r.predicted,
                forecast_target_date=str(r.target_date),
                model_path=MetadataValue.path(str(r.model_path)),
                model_version=r.model_version,
            )
        fail_tickers(errors, metadata)
        return MaterializeResult(metadata=metadata)

    @asset(
        partitions_def=partitions_def,
        deps=[lstm_model],
        backfill_policy=BackfillPolicy.single_run(),
        group_name="evaluation",
        kinds={"keras", "statsmodels", "duckdb"},
        description=(
            "Walk-forward evaluation as of d: LSTM vs naive, drift and ARIMA on the same "
            "dates, fold models cached; tables `predictions` and `evaluation_metrics`, and "
            "a Diebold-Mariano test of the LSTM against the naive forecast."
        ),
    )
    def walk_forward_evaluation(
        context: AssetExecutionContext, settings: PipelineSettings
    ) -> MaterializeResult:
        cfg = settings.get()
        runs, errors = per_partition(context, lambda t, d: forecasting.evaluate_asof(t, d, cfg))
        log_lines(context, [r.verdict.text for r in runs])
        metadata: dict[str, Any] = {
            "verdicts": MetadataValue.md("\n".join(f"- {r.verdict.text}" for r in runs) or "none"),
            "folds_trained": sum(r.folds_trained for r in runs),
            "folds_reused": sum(r.folds_reused for r in runs),
        }
        if len(runs) == 1:
            (r,) = runs
            overall = r.metrics[r.metrics["fold"].isna()]
            table = overall.pivot(index="model", columns="metric", values="value")
            metadata.update(
                metrics=MetadataValue.md(table.round(5).to_markdown()),
                skill=float(r.verdict.skill),
                dm_stat=float(r.verdict.dm_stat),
                dm_pvalue=float(r.verdict.dm_pvalue),
                lstm_beats_naive=bool(r.verdict.beats_naive and r.verdict.significant),
                folds=r.folds,
                predictions=r.predictions,
                span=f"{r.span[0]} .. {r.span[1]}",
                seconds=round(r.seconds, 2),
            )
        fail_tickers(errors, metadata)
        return MaterializeResult(metadata=metadata)

    return [windowed_tensors, lstm_model, walk_forward_evaluation]
