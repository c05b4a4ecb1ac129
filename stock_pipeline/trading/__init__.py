"""Trading: the backtest of forecast-driven rules (costs, one-bar delay, risk controls),
its metrics, the HTML report and the cross-ticker summary.

Asset group ``trading`` (``stock_pipeline/defs/trading.py``) wires this package.
"""
