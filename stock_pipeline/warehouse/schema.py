"""The warehouse's tables: one DDL statement each, keyed so that writes are upserts."""

from __future__ import annotations

#: Columns of the ``indicators`` table after (ticker, date), in order; what each one is and
#: how it is computed is in ``market_data/indicators.py``.
INDICATOR_COLUMNS: list[str] = [
    "sma_20",
    "sma_50",
    "ema_12",
    "ema_26",
    "macd",
    "macd_signal",
    "macd_hist",
    "rsi_14",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "bb_pctb",
    "bb_width",
    "atr_14",
    "obv",
    "stoch_k",
    "stoch_d",
    "log_return",
    "volatility_20",
]


TABLES: dict[str, str] = {
    "ohlcv": """
        CREATE TABLE IF NOT EXISTS ohlcv (
            ticker VARCHAR NOT NULL,
            date DATE NOT NULL,
            open DOUBLE NOT NULL,
            high DOUBLE NOT NULL,
            low DOUBLE NOT NULL,
            close DOUBLE NOT NULL,
            adj_close DOUBLE NOT NULL,
            volume DOUBLE NOT NULL,
            source VARCHAR NOT NULL,
            ingested_at TIMESTAMP NOT NULL,
            PRIMARY KEY (ticker, date)
        )""",
    "corporate_actions": """
        CREATE TABLE IF NOT EXISTS corporate_actions (
            ticker VARCHAR NOT NULL,
            date DATE NOT NULL,
            kind VARCHAR NOT NULL,
            value DOUBLE NOT NULL,
            source VARCHAR NOT NULL,
            PRIMARY KEY (ticker, date, kind)
        )""",
    "price_revisions": """
        CREATE TABLE IF NOT EXISTS price_revisions (
            ticker VARCHAR NOT NULL,
            ex_date DATE NOT NULL,
            detected_on DATE NOT NULL,
            action VARCHAR NOT NULL,
            close_factor DOUBLE NOT NULL,
            adj_factor DOUBLE NOT NULL,
            first_changed DATE NOT NULL,
            last_changed DATE NOT NULL,
            rows_replaced INTEGER NOT NULL,
            recorded_at TIMESTAMP NOT NULL,
            PRIMARY KEY (ticker, ex_date, detected_on)
        )""",
    "indicators": f"""
        CREATE TABLE IF NOT EXISTS indicators (
            ticker VARCHAR NOT NULL,
            date DATE NOT NULL,
            {", ".join(f"{c} DOUBLE" for c in INDICATOR_COLUMNS)},
            PRIMARY KEY (ticker, date)
        )""",
    "features": """
        CREATE TABLE IF NOT EXISTS features (
            ticker VARCHAR NOT NULL,
            feature_set VARCHAR NOT NULL,
            date DATE NOT NULL,
            x DOUBLE[] NOT NULL,
            PRIMARY KEY (ticker, feature_set, date)
        )""",
    "feature_sets": """
        CREATE TABLE IF NOT EXISTS feature_sets (
            feature_set VARCHAR PRIMARY KEY,
            columns VARCHAR[] NOT NULL,
            window_length INTEGER NOT NULL,
            horizon INTEGER NOT NULL,
            target_kind VARCHAR NOT NULL
        )""",
    "forecasts": """
        CREATE TABLE IF NOT EXISTS forecasts (
            ticker VARCHAR NOT NULL,
            asof_date DATE NOT NULL,
            target_date DATE NOT NULL,
            target_kind VARCHAR NOT NULL,
            predicted DOUBLE NOT NULL,
            model_version VARCHAR NOT NULL,
            PRIMARY KEY (ticker, asof_date, target_kind)
        )""",
    "predictions": """
        CREATE TABLE IF NOT EXISTS predictions (
            ticker VARCHAR NOT NULL,
            date DATE NOT NULL,
            fold INTEGER NOT NULL,
            model VARCHAR NOT NULL,
            predicted DOUBLE,
            actual DOUBLE NOT NULL,
            asof_date DATE NOT NULL,
            target_date DATE NOT NULL,
            PRIMARY KEY (ticker, asof_date, model, date)
        )""",
    "evaluation_metrics": """
        CREATE TABLE IF NOT EXISTS evaluation_metrics (
            ticker VARCHAR NOT NULL,
            asof_date DATE NOT NULL,
            model VARCHAR NOT NULL,
            fold INTEGER,
            metric VARCHAR NOT NULL,
            value DOUBLE
        )""",
    "model_comparison": """
        CREATE TABLE IF NOT EXISTS model_comparison (
            ticker VARCHAR NOT NULL,
            asof_date DATE NOT NULL,
            model VARCHAR NOT NULL,
            metric VARCHAR NOT NULL,
            value DOUBLE,
            PRIMARY KEY (ticker, asof_date, model, metric)
        )""",
    "backtest_daily": """
        CREATE TABLE IF NOT EXISTS backtest_daily (
            ticker VARCHAR NOT NULL,
            date DATE NOT NULL,
            asof_date DATE NOT NULL,
            strategy VARCHAR NOT NULL,
            position DOUBLE NOT NULL,
            "return" DOUBLE NOT NULL,
            equity DOUBLE NOT NULL,
            PRIMARY KEY (ticker, asof_date, strategy, date)
        )""",
    "backtest_metrics": """
        CREATE TABLE IF NOT EXISTS backtest_metrics (
            ticker VARCHAR NOT NULL,
            asof_date DATE NOT NULL,
            strategy VARCHAR NOT NULL,
            metric VARCHAR NOT NULL,
            value DOUBLE,
            PRIMARY KEY (ticker, asof_date, strategy, metric)
        )""",
    "backtest_summary": """
        CREATE TABLE IF NOT EXISTS backtest_summary (
            ticker VARCHAR PRIMARY KEY,
            asof_date DATE NOT NULL,
            skill DOUBLE,
            dm_pvalue DOUBLE,
            lstm_sharpe DOUBLE,
            naive_sharpe DOUBLE,
            buy_and_hold_sharpe DOUBLE,
            rank_skill INTEGER,
            rank_sharpe INTEGER,
            lost_to_naive BOOLEAN,
            lost_to_buy_and_hold BOOLEAN,
            report_path VARCHAR
        )""",
    "universe_predictions": """
        CREATE TABLE IF NOT EXISTS universe_predictions (
            asof_date DATE NOT NULL,
            date DATE NOT NULL,
            ticker VARCHAR NOT NULL,
            model VARCHAR NOT NULL,
            probability DOUBLE NOT NULL,
            rank INTEGER NOT NULL,
            PRIMARY KEY (asof_date, model, date, ticker)
        )""",
    "universe_backtest_daily": """
        CREATE TABLE IF NOT EXISTS universe_backtest_daily (
            asof_date DATE NOT NULL,
            date DATE NOT NULL,
            strategy VARCHAR NOT NULL,
            "return" DOUBLE NOT NULL,
            equity DOUBLE NOT NULL,
            longs INTEGER NOT NULL,
            shorts INTEGER NOT NULL,
            PRIMARY KEY (asof_date, strategy, date)
        )""",
    "universe_backtest_metrics": """
        CREATE TABLE IF NOT EXISTS universe_backtest_metrics (
            asof_date DATE NOT NULL,
            strategy VARCHAR NOT NULL,
            metric VARCHAR NOT NULL,
            value DOUBLE,
            PRIMARY KEY (asof_date, strategy, metric)
        )""",
}
