"""How good the pooled model is, said plainly: directional accuracy against a fair coin
(binomial test), each strategy's mean daily return with a Newey-West t-statistic, the
LSTM against the reversal rule (Newey-West on the daily difference), results by year
and a one-line verdict."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats


@dataclass(frozen=True)
class MeanTest:
    """Mean of a daily series with its Newey-West (Bartlett kernel) standard error."""

    mean: float
    se: float
    tstat: float
    pvalue: float  # two-sided, normal
    lags: int
    n: int


def default_lags(n: int) -> int:
    """The Newey-West (1994) rule of thumb, floor(4 (n/100)^(2/9))."""
    return math.floor(4 * (n / 100) ** (2 / 9)) if n > 0 else 0


def newey_west_mean(x: np.ndarray, lags: int | None = None) -> MeanTest:
    """statsmodels' OLS on a constant with ``cov_type="HAC"`` (no small-sample
    correction): the standard error allows for serial correlation up to ``lags``."""
    import statsmodels.api as sm

    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    lags = default_lags(n) if lags is None else lags
    if n < 3 or np.allclose(x, x[0]):
        return MeanTest(float(np.mean(x)) if n else math.nan, math.nan, math.nan, math.nan, lags, n)
    fit = sm.OLS(x, np.ones(n)).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
    return MeanTest(
        float(fit.params[0]), float(fit.bse[0]), float(fit.tvalues[0]), float(fit.pvalues[0]),
        lags, n,
    )  # fmt: skip


@dataclass(frozen=True)
class AccuracyTest:
    hits: int
    n: int
    pvalue: float  # two-sided exact binomial test against 50%

    @property
    def accuracy(self) -> float:
        return self.hits / self.n if self.n else math.nan


def directional_accuracy(probabilities: np.ndarray, targets: np.ndarray) -> AccuracyTest:
    """Share of (date, ticker) predictions on the right side of the median (probability
    > 0.5 for a target of 1). The test treats them as independent, which the day's
    common shocks make them not: read its p-value as optimistic."""
    keep = np.isfinite(probabilities) & np.isfinite(targets)
    hits = int(np.sum((probabilities[keep] > 0.5) == (targets[keep] == 1)))
    n = int(keep.sum())
    pvalue = float(stats.binomtest(hits, n, 0.5).pvalue) if n else math.nan
    return AccuracyTest(hits, n, pvalue)


def by_year(daily: pd.DataFrame, hits: pd.DataFrame) -> pd.DataFrame:
    """Per year: each strategy's mean daily return (net) and the LSTM's accuracy.
    ``daily``: date, strategy, return; ``hits``: date (the session predicted), hit."""
    years = daily.assign(year=daily["date"].dt.year)
    table = years.pivot_table(index="year", columns="strategy", values="return", aggfunc="mean")
    if len(hits):
        table["accuracy"] = hits.groupby(hits["date"].dt.year)["hit"].mean()
    table["days"] = years.groupby("year")["date"].nunique()
    return table


def verdict(lstm: MeanTest, reversal: MeanTest, difference: MeanTest, alpha: float) -> str:
    """One plain line: does the LSTM beat the reversal rule after costs?"""
    facts = (
        f"after costs the LSTM long-short earned {lstm.mean:+.3%}/day (NW t {lstm.tstat:.2f}), "
        f"the reversal rule {reversal.mean:+.3%}/day (NW t {reversal.tstat:.2f}); "
        f"difference {difference.mean:+.3%}/day, NW t {difference.tstat:.2f}, "
        f"p = {difference.pvalue:.3g}"
    )
    if difference.n < 3 or not math.isfinite(difference.pvalue):
        return f"Too few trading days to compare the LSTM with the reversal rule: {facts}."
    if difference.mean > 0 and difference.pvalue < alpha:
        return f"The LSTM beats the reversal rule after costs: {facts}."
    return f"The LSTM does NOT beat the reversal rule after costs: {facts}."
