"""Asset group ``trading``: ``backtest_report`` (per ticker x date) and
``backtest_summary`` (cross-ticker).

Wiring only; the logic is in ``stock_pipeline/trading``. The report's plotting library
is imported inside the asset bodies, so loading the code location does not pay for it.
"""

from typing import Any

import pandas as pd
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from stock_pipeline.defs.assets import finish, per_partition, table_md, ticker_date_asset_args
from stock_pipeline.defs.resources import DuckDBWarehouse, SettingsParam
from stock_pipeline.trading.report.formatting import format_metric

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


def backtest_metadata(runs: list) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "reports": MetadataValue.md(
            "\n".join(f"- {r.ticker} {r.asof}: `{r.report_path}`" for r in runs) or "none"
        )
    }
    if len(runs) == 1:
        (r,) = runs
        metadata.update(
            headline=MetadataValue.md(headline_table(r.metrics).to_markdown()),
            report_path=MetadataValue.path(str(r.report_path)),
            equity_preview=MetadataValue.md(
                f"![equity curves](data:image/svg+xml;base64,{r.preview_svg_base64})"
            ),
            days=r.days,
            stop_losses=r.stops,
            breaker_trips=r.breaker_trips,
        )
    return metadata


def build_trading_assets(partitions_def, upstream):
    @asset(
        **ticker_date_asset_args(partitions_def, GROUP),
        deps=[upstream],
        kinds={"duckdb", "html"},
        description=(
            "Backtest of the out-of-sample predictions (signal at the close of t, traded at "
            "t+1, costs charged) vs the naive rule and buy-and-hold; tables `backtest_daily`, "
            "`backtest_metrics` and an HTML tearsheet with PNG charts."
        ),
    )
    def backtest_report(
        context: AssetExecutionContext, settings: SettingsParam, warehouse: DuckDBWarehouse
    ) -> MaterializeResult:
        from stock_pipeline.trading.asof import backtest_asof

        runs, errors = per_partition(context, lambda t, d: backtest_asof(warehouse, t, d, settings))
        return finish(backtest_metadata(runs), errors)

    @asset(
        deps=[backtest_report],
        group_name=GROUP,
        kinds={"duckdb"},
        description=(
            "Every ticker's latest backtest ranked by skill and by net Sharpe, with flags "
            "where the LSTM lost to naive or to buy-and-hold (table `backtest_summary`)."
        ),
    )
    def backtest_summary(settings: SettingsParam, warehouse: DuckDBWarehouse) -> MaterializeResult:
        from stock_pipeline.trading.asof import summarize_backtests

        with warehouse.connect() as con:
            frame = summarize_backtests(con, settings)
        shown = frame.drop(columns=["report_path"]) if not frame.empty else frame
        shown = shown.round(dict.fromkeys(shown.select_dtypes("number").columns, 4))
        return MaterializeResult(
            metadata={
                "tickers": len(frame),
                "lost_to_naive": int(frame["lost_to_naive"].sum()) if len(frame) else 0,
                "lost_to_buy_and_hold": (
                    int(frame["lost_to_buy_and_hold"].sum()) if len(frame) else 0
                ),
                "ranking": table_md(shown.to_dict("records")),
            }
        )

    return [backtest_report, backtest_summary]
