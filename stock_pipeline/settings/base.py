"""What every settings section shares: the ``Section`` base and the constants that more
than one module of this package (or of the pipeline) reads."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

SOURCE_NAMES = ("yfinance", "sample", "csv", "alphavantage")


class Section(BaseModel):
    """A settings section: an unknown field is an error that names it, never ignored."""

    model_config = ConfigDict(extra="forbid")
