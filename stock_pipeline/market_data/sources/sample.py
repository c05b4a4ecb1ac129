"""Offline sample: the daily ^GSPC and ^IXIC series (1999-2018) bundled with ``arch``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from functools import cache

import pandas as pd

from stock_pipeline.market_data.sources.base import (
    YAHOO_COLUMNS,
    FetchOutcome,
    FetchResult,
    UnknownTickerError,
    validate_bars,
)

SAMPLE_TICKERS: dict[str, str] = {"^GSPC": "sp500", "^IXIC": "nasdaq"}


@cache
def _load(dataset: str) -> pd.DataFrame:
    import importlib

    module = importlib.import_module(f"arch.data.{dataset}")
    frame = module.load().reset_index()
    return frame.rename(columns={"Date": "date", **YAHOO_COLUMNS})


def sample_date_range(ticker: str = "^GSPC") -> tuple[dt.date, dt.date]:
    frame = _load(SAMPLE_TICKERS[ticker])
    return frame["date"].iloc[0].date(), frame["date"].iloc[-1].date()


class SampleSource:
    name = "sample"
    live = False

    def fetch(
        self, tickers: Sequence[str], start: dt.date, end: dt.date
    ) -> Mapping[str, FetchOutcome]:
        out: dict[str, FetchOutcome] = {}
        for ticker in tickers:
            dataset = SAMPLE_TICKERS.get(ticker)
            if dataset is None:
                out[ticker] = UnknownTickerError(
                    ticker, f"not in the offline sample (it has {', '.join(SAMPLE_TICKERS)})"
                )
                continue
            bars, rejected = validate_bars(ticker, _load(dataset), start, end)
            out[ticker] = FetchResult(ticker, self.name, bars, rejected)
        return out

    def newest_bar(self, ticker: str) -> dt.date | None:
        """The sample's last session for ``ticker`` (None when it is not in the sample)."""
        return sample_date_range(ticker)[1] if ticker in SAMPLE_TICKERS else None

    def describe(self) -> str:
        return f"the offline sample holds {', '.join(SAMPLE_TICKERS)}"
