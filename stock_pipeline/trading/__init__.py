"""Trading: the strategies (``strategies``, one registry entry each), the backtest that
simulates them (costs, one-bar delay, risk controls) and its metrics, the HTML report
and the cross-ticker summary.

Asset group ``trading`` (``stock_pipeline/defs/trading.py``) wires this package.
"""
