"""Where per-ticker compute runs (``engine``) and how a stage's tickers fan out to it
while the warehouse stays in the caller's process (``fanout``). No Dagster here."""

from stock_pipeline.compute.engine import Engine, InProcess, Outcome, open_engine
from stock_pipeline.compute.fanout import Failed, Stage, fan_out

__all__ = ["Engine", "Failed", "InProcess", "Outcome", "Stage", "fan_out", "open_engine"]
