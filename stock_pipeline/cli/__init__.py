"""``stock-pipeline``: the command line (``main``), run submission (``launch``) and what
it prints (``summary``)."""

from stock_pipeline.cli.main import main

__all__ = ["main"]
