"""Asset group ``trading``: ``backtest_report`` (per ticker x date) and
``backtest_summary`` (cross-ticker).

Wiring only; the logic is in ``stock_pipeline/trading``. The report's plotting library
is imported inside the asset bodies, so loading the code location does not pay for it.
"""

from pathlib import Path
from typing import Any

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetKey,
    Definitions,
    MaterializeResult,
    MetadataValue,
    asset,
)

from stock_pipeline.compute import Stage
from stock_pipeline.defs.asset_bodies import (
    finish_partitions,
    per_ticker,
    table_md,
    ticker_date_asset_args,
)
from stock_pipeline.defs.partitions import make_partitions, partition_key
from stock_pipeline.defs.resources import ComputeParam, DuckDBWarehouse, SettingsParam
from stock_pipeline.settings import Settings
from stock_pipeline.trading.report.formatting import MISSING, format_metric

GROUP = "trading"
HEADLINE = ("total_return", "cagr", "sharpe", "max_drawdown", "exposure", "trades", "costs")


def headline_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """Headline metric x strategy, formatted as in the HTML report.

    An undefined value (the Sharpe ratio of a strategy that never trades) shows as a
    dash, not as "nan".
    """
    table = metrics[metrics["metric"].isin(HEADLINE)].pivot(
        index="metric", columns="strategy", values="value"
    )
    return pd.DataFrame(
        {
            strategy: [format_metric(m, table.at[m, strategy]) for m in HEADLINE]
            for strategy in table.columns
        },
        index=pd.Index(HEADLINE, name="metric"),
    )


def backtest_metadata(r) -> dict[str, Any]:
    """What the UI shows on one (ticker, date) partition of ``backtest_report``."""
    metadata: dict[str, Any] = {
        "headline": MetadataValue.md(headline_table(r.metrics).to_markdown()),
        "equity_preview": MetadataValue.md(
            f"![equity curves](data:image/svg+xml;base64,{r.preview_svg_base64})"
        ),
        "report_path": MetadataValue.path(str(Path(r.report_path).resolve())),
        "days": r.days,
        "stop_losses": r.stops,
        "breaker_trips": r.breaker_trips,
    }
    if r.verdict is not None:
        metadata["verdict"] = r.verdict.text
        metadata["dm_pvalue"] = float(r.verdict.dm_pvalue)
    if r.forecast is not None:
        f = r.forecast
        metadata["next_session_forecast"] = f"{f.predicted:+.6g} ({f.kind}) for {f.target_date}"
    return metadata


def summary_rows(frame: pd.DataFrame) -> list[dict[str, str]]:
    """The ranking as the UI shows it: dates as dates, percentages, a dash for undefined."""
    rows = []
    for r in frame.itertuples(index=False):
        sharpes = (r.lstm_sharpe, r.naive_sharpe, r.buy_and_hold_sharpe)
        rows.append(
            {
                "ticker": r.ticker,
                "as of": str(pd.Timestamp(r.asof_date).date()),
                "skill": format_metric("total_return", r.skill),
                "DM p": MISSING if pd.isna(r.dm_pvalue) else f"{r.dm_pvalue:.3g}",
                "Sharpe lstm / naive / B&H": " / ".join(
                    format_metric("sharpe", x) for x in sharpes
                ),
                "rank (skill, Sharpe)": f"{r.rank_skill}, {r.rank_sharpe}",
                "lost to": ", ".join(
                    name
                    for name, lost in (("naive", r.lost_to_naive), ("B&H", r.lost_to_buy_and_hold))
                    if lost
                )
                or MISSING,
            }
        )
    return rows


def build_trading_assets(partitions_def) -> list:
    @asset(
        **ticker_date_asset_args(partitions_def, GROUP),
        deps=[AssetKey("walk_forward_evaluation"), AssetKey("model_comparison")],
        kinds={"duckdb", "html"},
        description=(
            "Backtest of the out-of-sample predictions (signal at the close of t, traded at "
            "t+1, costs charged) vs the naive rule and buy-and-hold; tables `backtest_daily`, "
            "`backtest_metrics` and a self-contained interactive HTML tearsheet."
        ),
    )
    def backtest_report(
        context: AssetExecutionContext,
        settings: SettingsParam,
        warehouse: DuckDBWarehouse,
        compute: ComputeParam,
    ) -> MaterializeResult:
        from stock_pipeline.trading import trade

        stage = Stage(
            load=lambda t, d: trade.load_backtest(warehouse, t, d, settings),
            compute=trade.compute_backtest,
            store=lambda frames: trade.store_backtest(warehouse, frames),
        )
        runs, errors = per_ticker(context, compute, stage, settings)
        partitions = {partition_key(r.ticker, r.asof): backtest_metadata(r) for r in runs}
        return finish_partitions(context, partitions, errors, {"reports": len(runs)})

    @asset(
        deps=[AssetKey("backtest_report")],
        group_name=GROUP,
        kinds={"duckdb"},
        description=(
            "Every ticker's latest backtest ranked by skill and by net Sharpe, with flags "
            "where the network (`model.kind`) lost to naive or to buy-and-hold (table "
            "`backtest_summary`)."
        ),
    )
    def backtest_summary(settings: SettingsParam, warehouse: DuckDBWarehouse) -> MaterializeResult:
        from stock_pipeline.trading.trade import summarize_backtests

        with warehouse.connect() as con:
            frame = summarize_backtests(con, settings)
        return MaterializeResult(
            metadata={
                "tickers": len(frame),
                "lost_to_naive": int(frame["lost_to_naive"].sum()) if len(frame) else 0,
                "lost_to_buy_and_hold": (
                    int(frame["lost_to_buy_and_hold"].sum()) if len(frame) else 0
                ),
                "ranking": table_md(summary_rows(frame)),
            }
        )

    return [backtest_report, backtest_summary]


def trading_definitions(settings: Settings) -> Definitions:
    """The group's assets: the per-(ticker, day) report and the cross-ticker summary."""
    return Definitions(assets=build_trading_assets(make_partitions(settings)))
