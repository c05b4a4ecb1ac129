"""``stock-pipeline``: the parser (``main``), the commands (``commands``), run submission
(``launch``), progress on a terminal (``progress``) and what it prints (``summary``)."""

from stock_pipeline.cli.main import main

__all__ = ["main"]
