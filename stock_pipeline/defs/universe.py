"""Asset group ``universe``: ``universe_model`` and ``universe_backtest``, the pooled
cross-sectional forecaster as of a trading date (one partition per session: the
universe-wide as-of date, the chain's date dimension on its own).

Wiring only; the logic is in ``stock_pipeline/universe``. keras is imported inside
``universe_model`` only.

Both depend on every ticker's data through ``AllPartitionMapping``: partition d needs
every ticker (any registered ticker may be in the universe on d) and every year up to
d's, and Dagster has no mapping from one day onto "the years up to this one, of every
ticker" of a ticker x year grid: ``MultiToSingleDimensionPartitionMapping`` needs the
day to BE a dimension of the upstream (its dimension is years, not days) and
``TimeWindowPartitionMapping`` maps time partitions to time partitions, not into a
multi-partition. All is the smallest superset; the future years it names are never
read (the panel is read up to d, and a test rewrites every bar after d to prove it).
"""

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dagster import (
    AllPartitionMapping,
    AssetDep,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSelection,
    BackfillPolicy,
    DagsterRunStatus,
    DefaultSensorStatus,
    Definitions,
    Failure,
    MaterializeResult,
    MetadataValue,
    RunRequest,
    RunsFilter,
    SkipReason,
    asset,
    define_asset_job,
    run_status_sensor,
)

from stock_pipeline.defs.asset_bodies import log_lines, table_md
from stock_pipeline.defs.automation import CHAIN_SENSOR_INTERVAL_S, model_chain_job
from stock_pipeline.defs.market_data import market_data_job
from stock_pipeline.defs.partitions import TICKERS_PARTITION, make_date_partitions
from stock_pipeline.defs.resources import ComputeParam, DuckDBWarehouse, SettingsParam
from stock_pipeline.defs.run_requests import NIGHTLY_TAG
from stock_pipeline.errors import error_text
from stock_pipeline.settings import Settings

if TYPE_CHECKING:  # the core is imported inside the asset bodies (keras, plotly)
    from stock_pipeline.universe.pooled import UniverseBacktestRun, UniverseModelRun

GROUP = "universe"
#: The group's asset names, for the CLI, which sorts the names it is given into runs
#: before it picks a job (a test checks they are the group's).
UNIVERSE_ASSETS = ("universe_model", "universe_backtest")
#: What the universe is trained and traded on: every ticker's bars and indicators.
DATA_KEYS = (AssetKey("raw_ohlcv"), AssetKey("indicators"))


def run_days(context: AssetExecutionContext) -> list[dt.date]:
    return sorted(dt.date.fromisoformat(k) for k in context.partition_keys)


def registered(context: AssetExecutionContext) -> list[str]:
    """The universe: every ticker registered as a partition of the data assets."""
    return sorted(context.instance.get_dynamic_partitions(TICKERS_PARTITION))


def model_metadata(r: "UniverseModelRun") -> dict[str, Any]:
    """What the UI shows on one date partition of ``universe_model``."""
    return {
        "tickers": r.tickers,
        "sessions": r.sessions,
        "training": r.training,
        "study_periods": len(r.periods),
        "periods_trained": sum(p.mode == "trained" for p in r.periods),
        "predictions": r.predictions,
        "periods": table_md(
            [
                {
                    "period": p.index,
                    "trained_through": str(p.trained_through),
                    "mode": p.mode,
                    "sequences": p.sequences,
                    "epochs": p.epochs_run,
                    "seconds": round(p.train_seconds, 2),
                    "sequences_per_s": round(p.sequences_per_second),
                    "signal_dates": p.signal_dates,
                    "reused": p.predictions_reused,
                }
                for p in r.periods
            ]
        ),
        "top_and_bottom": table_md(
            r.latest.head(5).to_dict("records") + r.latest.tail(5).to_dict("records")
        ),
        "note": r.note or "none",
        "seconds": round(r.seconds, 2),
    }


def backtest_metadata(r: "UniverseBacktestRun") -> dict[str, Any]:
    """What the UI shows on one date partition of ``universe_backtest``."""
    if r.accuracy is None:  # nothing traded yet
        return {"verdict": r.verdict, "days": 0}
    table = r.metrics.pivot(index="metric", columns="strategy", values="value")
    shown = ["mean_daily_return", "nw_tstat", "sharpe", "total_return", "max_drawdown", "costs"]
    metadata: dict[str, Any] = {
        "verdict": r.verdict,
        "headline": MetadataValue.md(table.reindex(shown).round(5).to_markdown()),
        "accuracy": float(r.accuracy.accuracy),
        "accuracy_pvalue": float(r.accuracy.pvalue),
        "lstm_minus_reversal_pvalue": float(r.tests["lstm_minus_reversal"].pvalue),
        "days": int(r.daily["date"].nunique()),
    }
    if r.report_path is not None:
        metadata["report_path"] = MetadataValue.path(str(r.report_path.resolve()))
    return metadata


def per_day(
    context: AssetExecutionContext, work: Callable[[dt.date], Any]
) -> tuple[list, dict[str, str]]:
    """``work(day)`` for each date partition of the run; a failure is recorded under its
    date (the others go on)."""
    done, errors = [], {}
    for day in run_days(context):
        try:
            done.append(work(day))
        except (ValueError, OSError) as exc:
            errors[str(day)] = f"{day}: {error_text(exc)}"
    return done, errors


def finish_days(metadata: dict[str, Any], errors: dict[str, str]) -> MaterializeResult:
    """The step's result; a ``Failure`` naming each failed date (the others are written)."""
    if errors:
        raise Failure(description=" | ".join(errors.values()), metadata=metadata)
    return MaterializeResult(metadata=metadata)


def build_universe_assets(partitions_def) -> list:
    """``partitions_def``: one partition per session."""
    args = {
        "partitions_def": partitions_def,
        "backfill_policy": BackfillPolicy.single_run(),
        "group_name": GROUP,
    }
    return [build_model_asset(args), build_backtest_asset(args)]


def build_model_asset(args: dict[str, Any]) -> AssetsDefinition:
    every = AllPartitionMapping()

    @asset(
        **args,
        deps=[AssetDep(key, partition_mapping=every) for key in DATA_KEYS],
        kinds={"keras", "jax", "duckdb"},
        description=(
            "ONE LSTM across every registered ticker (Fischer & Krauss 2018), trained per "
            "study period on what is known at its end, predicting for each session the "
            "probability that each stock beats the next day's cross-sectional median; "
            "table `universe_predictions`. Models: <data>/models/universe/."
        ),
    )
    def universe_model(
        context: AssetExecutionContext,
        settings: SettingsParam,
        warehouse: DuckDBWarehouse,
        compute: ComputeParam,
    ) -> MaterializeResult:
        from stock_pipeline import backend
        from stock_pipeline.universe.pooled import universe_model_asof

        backend.configure(settings.compute)  # the compilation cache, before the first compile
        tickers = registered(context)
        runs, errors = per_day(  # the study periods on the compute engine, a call each
            context, lambda d: universe_model_asof(warehouse, d, settings, tickers, compute)
        )
        for r in runs:
            context.add_asset_metadata(model_metadata(r), partition_key=r.asof.isoformat())
        log_lines(context, [f"{r.asof}: {r.note}" for r in runs if r.note])
        return finish_days(
            {"periods_trained": sum(p.mode == "trained" for r in runs for p in r.periods)}, errors
        )

    return universe_model


def build_backtest_asset(args: dict[str, Any]) -> AssetsDefinition:
    @asset(
        **args,
        deps=[AssetKey("universe_model")],
        kinds={"statsmodels", "duckdb", "html"},
        description=(
            "The ranking traded daily (long the top k, short the bottom k; long-only top "
            "k) against the short-term reversal rule and the equal-weight universe, costs "
            "per half-turn; Newey-West t-statistics, the LSTM against reversal, accuracy "
            "against a coin, results by year; tables `universe_backtest_daily`, "
            "`universe_backtest_metrics` and an HTML report."
        ),
    )
    def universe_backtest(
        context: AssetExecutionContext, settings: SettingsParam, warehouse: DuckDBWarehouse
    ) -> MaterializeResult:
        from stock_pipeline.universe.pooled import universe_backtest_asof
        from stock_pipeline.universe.report import write_report

        tickers = registered(context)

        def work(day):
            result = universe_backtest_asof(warehouse, day, settings, tickers)
            if result.accuracy is not None:
                result.report_path = write_report(result, settings)
            return result

        runs, errors = per_day(context, work)
        for r in runs:
            context.add_asset_metadata(backtest_metadata(r), partition_key=r.asof.isoformat())
        log_lines(context, [f"{r.asof}: {r.verdict}" for r in runs])
        return finish_days({"reports": len(runs)}, errors)

    return universe_backtest


universe_job = define_asset_job(
    "universe_job",
    selection=AssetSelection.groups(GROUP),
    description="The pooled cross-sectional model and its backtest as of one session.",
)

#: The nightly runs still to finish before the universe may run: queued or running.
IN_FLIGHT = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]


def universe_request(day: str | None, runs_in_flight: int) -> RunRequest | SkipReason:
    """After a nightly model-chain run of ``day`` succeeded: the universe run of ``day``
    once no nightly data or chain run of that day is queued or running (every group's
    bars are stored); one per day (the run key)."""
    if day is None:
        return SkipReason("not a nightly run")
    if runs_in_flight:
        return SkipReason(f"{runs_in_flight} nightly run(s) of {day} still to finish")
    return RunRequest(
        run_key=f"universe:{day}", partition_key=day, tags={"stock_pipeline/universe": day}
    )


@run_status_sensor(
    run_status=DagsterRunStatus.SUCCESS,
    monitored_jobs=[model_chain_job],
    request_job=universe_job,
    minimum_interval_seconds=CHAIN_SENSOR_INTERVAL_S,  # as the chain sensor's
    default_status=DefaultSensorStatus.RUNNING,
    description="After the night's last per-ticker run: the universe model and backtest as "
    "of the night's session, over every registered ticker.",
)
def universe_after_nightly(context):
    day = context.dagster_run.tags.get(NIGHTLY_TAG)
    if day is None:
        return universe_request(None, 0)
    runs = context.instance.get_runs(
        filters=RunsFilter(job_name=None, statuses=IN_FLIGHT, tags={NIGHTLY_TAG: day})
    )
    names = {market_data_job.name, model_chain_job.name}
    return universe_request(day, sum(r.job_name in names for r in runs))


def universe_definitions(settings: Settings) -> Definitions:
    """The group's assets (one partition per session), its job, and the sensor that runs
    it after the night's per-ticker runs."""
    return Definitions(
        assets=build_universe_assets(make_date_partitions(settings)),
        jobs=[universe_job],
        sensors=[universe_after_nightly],
    )
