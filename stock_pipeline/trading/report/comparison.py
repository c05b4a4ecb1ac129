"""The report's model-comparison section, from the ``model_comparison`` rows."""

from __future__ import annotations

import math

import pandas as pd

from stock_pipeline.evaluation.compare import FAMILY, comparison_table
from stock_pipeline.evaluation.family_tests import format_pvalue
from stock_pipeline.trading.report.tables import Cell, escape, html_table

COLUMNS = (
    ("skill", "skill vs naive"),
    ("dm_pvalue", "DM p"),
    ("holm_pvalue", "Holm p"),
    ("mcs_pvalue", "MCS p"),
    ("in_mcs", "in the confidence set"),
    ("superior", "beats naive (StepM)"),
)
NOTE = (
    "Every model is scored on the same days. SPA: Hansen's test of 'no model beats naive'; "
    "StepM (Romano-Wolf) names the models that beat naive with the family-wise error rate "
    "controlled; the Model Confidence Set keeps the models the data cannot tell apart from "
    "the best; DM p is each model's own Diebold-Mariano test against naive, and Holm p its "
    "Holm adjustment over the family. A model's own p below 5% is not evidence when many "
    "models were tried: read StepM and the Holm column."
)


def _cell(metric: str, value: float) -> str | Cell:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "\u2013"
    if metric == "skill":
        return f"{value:+.2%}"
    if metric in ("in_mcs", "superior"):
        return "yes" if value else "no"
    return format_pvalue(value)


def comparison_section(rows: pd.DataFrame | None) -> str:
    """The section, or an empty string when the comparison was not materialized."""
    if rows is None or rows.empty:
        return ""
    family = rows[rows["model"] == FAMILY].set_index("metric")["value"]
    table = comparison_table(rows)
    beat = [str(m) for m in table.index if table.at[m, "superior"] == 1]
    spa = float(family.get("spa_pvalue", math.nan))
    summary = (
        f"SPA p = {_cell('spa', spa)} over {int(family.get('models_tested', len(table) - 1))} "
        f"models; beat the naive forecast after the snooping correction: "
        f"{', '.join(beat) if beat else 'none'}."
    )
    body = html_table(
        "comparison-table",
        COLUMNS,
        [(str(m), str(m), [_cell(k, table.at[m, k]) for k, _ in COLUMNS]) for m in table.index],
        corner="model (lowest loss first)",
    )
    return f"""<section id="comparison">
<h2>Model comparison</h2>
<p id="comparison-verdict">{escape(summary)}</p>
{body}
<p class="note">{escape(NOTE)}</p>
</section>"""
