"""Market data: sources, exchange calendar, the watchlist, ingest, indicators, quality rules.

Asset group ``market_data`` (``stock_pipeline/defs/market_data.py``) wires this package.
"""
