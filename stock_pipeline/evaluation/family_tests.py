"""Many models scored against the naive forecast as one family. No Dagster here.

Trying ten model kinds on one history and reporting the best one's p-value is data
snooping: the best of ten equally useless forecasts beats naive "at 5%" far more often
than one in twenty. So the family is tested with procedures built for it, from
``arch.bootstrap`` (stationary block bootstrap of the daily loss differentials):

- Hansen's **SPA** test of "no model beats naive" (its consistent p-value);
- **StepM** (Romano-Wolf), which names the models that beat naive with the family-wise
  error rate controlled: these are the models the verdict says beat naive;
- the **Model Confidence Set** (Hansen, Lunde and Nason): the models, naive included,
  that the data cannot tell apart from the best at the ``mcs_size`` level;
- beside them, each model's own Diebold-Mariano p-value against naive and its Holm
  adjustment (two-sided p-values; "beats" also needs a negative statistic).

Losses are what the per-model DM tests and the skill use: squared errors in the
target's units, or QLIKE for the volatility target.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from stock_pipeline.evaluation import scoring

BENCHMARK = "naive"


@dataclass(frozen=True)
class FamilySettings:
    alpha: float = 0.05  # SPA and StepM level; the Holm p-values are read against it
    mcs_size: float = 0.10  # the MCS keeps models at this level (a 90% confidence set)
    reps: int = 1000  # bootstrap replications
    block_size: int | None = None  # None: arch's default for the sample size
    seed: int = 0  # the bootstrap is seeded: a night's verdict does not change on rerun
    horizon: int = 1  # for the DM test's long-run variance
    loss: str = "squared_error"  # or "qlike" (volatility target): how skill is read


@dataclass(frozen=True)
class FamilyResult:
    table: pd.DataFrame  # one row per model (benchmark included), see ``compare``
    spa_pvalue: float
    superior: tuple[str, ...]  # StepM: beat naive, family-wise error controlled
    confidence_set: tuple[str, ...]  # the MCS at ``mcs_size``
    models_tested: int


def compare(losses: pd.DataFrame, settings: FamilySettings | None = None) -> FamilyResult:
    """Test every column of ``losses`` (one per model, daily losses on the same days)
    against the ``naive`` column as a family.

    ``table`` columns: model, mean_loss, skill (1 - RMSE/RMSE_naive for squared-error
    losses), dm_stat, dm_pvalue, holm_pvalue, mcs_pvalue, in_mcs, superior.
    """
    s = settings or FamilySettings()
    if BENCHMARK not in losses:
        raise ValueError(f"the losses have no {BENCHMARK!r} column: {list(losses.columns)}")
    bench = losses[BENCHMARK].to_numpy(float)
    others = losses.drop(columns=BENCHMARK)
    dm = _dm_table(losses, s)
    distinct = [m for m in others if not np.array_equal(others[m].to_numpy(float), bench)]
    if distinct:
        spa_p, superior = _spa_stepm(bench, others[distinct], s)
    else:  # every model forecast exactly what naive did: nothing to test
        spa_p, superior = 1.0, ()
    mcs_p = model_confidence_set(losses, s)
    table = dm.assign(
        mcs_pvalue=[mcs_p[m] for m in dm["model"]],
        in_mcs=[mcs_p[m] > s.mcs_size for m in dm["model"]],
        superior=[m in superior for m in dm["model"]],
    )
    return FamilyResult(
        table=table,
        spa_pvalue=spa_p,
        superior=tuple(m for m in others if m in superior),
        confidence_set=tuple(m for m in losses if mcs_p[m] > s.mcs_size),
        models_tested=others.shape[1],
    )


def _dm_table(losses: pd.DataFrame, s: FamilySettings) -> pd.DataFrame:
    """Each model's DM test against naive (squared errors given as losses) and Holm."""
    bench = losses[BENCHMARK].to_numpy(float)
    rows = []
    for model in losses:
        loss = losses[model].to_numpy(float)
        result = scoring.diebold_mariano_losses(loss, bench, s.horizon, s.loss)
        rows.append(
            {
                "model": model,
                "mean_loss": float(loss.mean()),
                "skill": _skill(float(loss.mean()), float(bench.mean()), s.loss),
                "dm_stat": result.statistic,
                "dm_pvalue": result.pvalue if model != BENCHMARK else math.nan,
            }
        )
    table = pd.DataFrame(rows)
    tested = table["model"].ne(BENCHMARK) & table["dm_pvalue"].notna()
    table["holm_pvalue"] = math.nan
    if tested.any():
        table.loc[tested, "holm_pvalue"] = scoring.holm(table.loc[tested, "dm_pvalue"])
    return table


def _skill(mean_loss: float, bench_mean: float, loss: str) -> float:
    """As ``evaluation_metrics`` defines it: 1 - RMSE/RMSE_naive for squared errors,
    1 - QLIKE/QLIKE_naive for QLIKE."""
    if not bench_mean:
        return math.nan
    ratio = mean_loss / bench_mean
    return 1 - (math.sqrt(ratio) if loss == "squared_error" else ratio)


def _spa_stepm(
    bench: np.ndarray, models: pd.DataFrame, s: FamilySettings
) -> tuple[float, tuple[str, ...]]:
    """Hansen's SPA p-value ("consistent") and the models Romano and Wolf's StepM finds
    better than naive. The step-down is written out over arch's ``SPA`` (``subset``, as
    arch's ``StepM`` does, the same bootstrap draws in the same order): arch 8.0's
    ``StepM`` goes on stepping while the last step found fewer than all models, so when
    its steps together found all of them it tests an empty set and fails (seen on a
    21-session span where every model beat naive)."""
    from arch.bootstrap import SPA

    k = models.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # arch warns about constant differentials
        spa = SPA(bench, models, block_size=s.block_size, reps=s.reps, seed=s.seed)
        spa.compute()
        pvalue = float(spa.pvalues["consistent"])
        found = [int(i) for i in spa.better_models(s.alpha)]
        step = found
        while step and len(found) < k:
            spa.subset(~np.isin(np.arange(k), found))  # the models not yet found better
            spa.compute()
            step = [int(i) for i in spa.better_models(s.alpha)]
            found += step
    return pvalue, tuple(str(models.columns[i]) for i in sorted(found))


def model_confidence_set(losses: pd.DataFrame, s: FamilySettings) -> dict[str, float]:
    """MCS p-value of every model. Models with identical losses (a network shrunk to the
    naive forecast on every day) are one column to the MCS, which cannot tell them apart
    and fails on duplicates; each gets the p-value of its group."""
    from arch.bootstrap import MCS

    groups: dict[str, list[str]] = {}
    for model in losses:
        twin = next(
            (g for g in groups if np.array_equal(losses[g].to_numpy(), losses[model].to_numpy())),
            None,
        )
        groups.setdefault(twin or model, []).append(model)
    if len(groups) == 1:
        return dict.fromkeys(losses, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mcs = MCS(losses[list(groups)], s.mcs_size, s.reps, s.block_size, seed=s.seed)
        mcs.compute()
    pvalues = mcs.pvalues["Pvalue"]
    return {m: float(pvalues[lead]) for lead, members in groups.items() for m in members}


def family_verdict(ticker: str, result: FamilyResult, alpha: float = 0.05) -> str:
    """One plain sentence: which models, if any, beat naive after the snooping correction."""
    table = result.table.set_index("model")
    n = result.models_tested
    others = table.drop(index=BENCHMARK)
    if not len(others) or (others["mean_loss"] == table.at[BENCHMARK, "mean_loss"]).all():
        return f"{ticker}: every model made the naive forecast (no change); nothing to compare"
    kept = ", ".join(result.confidence_set)
    if result.superior:
        names = ", ".join(result.superior)
        return (
            f"{ticker}: {names} BEAT the naive forecast after accounting for data snooping "
            f"over {n} models (SPA p={format_pvalue(result.spa_pvalue)}; StepM at {alpha:.0%}); "
            f"best-model confidence set: {kept}"
        )
    head = (
        f"{ticker}: NO model beats the naive forecast once data snooping over {n} models is "
        f"accounted for (SPA p={format_pvalue(result.spa_pvalue)})"
    )
    lower = others[others["mean_loss"] < table.at[BENCHMARK, "mean_loss"]]
    if lower.empty:
        return f"{head}; none has a lower loss than naive; best-model confidence set: {kept}"
    best = str(lower["mean_loss"].idxmin())
    row = lower.loc[best]
    dm, holm = format_pvalue(row["dm_pvalue"]), format_pvalue(row["holm_pvalue"])
    return (
        f"{head}; lowest loss: {best} (skill {row['skill']:+.2%}, DM p={dm}, Holm p={holm}); "
        f"best-model confidence set: {kept}"
    )


def format_pvalue(pvalue: float) -> str:
    """A p-value as text; a bootstrap p of 0 means below one replication's weight."""
    if not math.isfinite(pvalue):
        return "n/a"
    return "<0.001" if pvalue < 0.001 else f"{pvalue:.3g}"
