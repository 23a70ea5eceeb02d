"""Run every rule over the typed inputs, in dependency order."""
from __future__ import annotations

from .layout import Layout
from .model import Inputs
from .problems import ProblemList
from .rules import dashboard, evaluation, incentives, review, settings_sheet, targets, tracking
from .rules.context import Calc

RULES = {
    "targets": targets, "tracking": tracking, "evaluation": evaluation,
    "incentives": incentives, "review": review,
}


def helper_keys(sheet: str, weeks: int) -> tuple[str, ...]:
    """Hidden helper columns of a sheet (they hold parts of the formulas)."""
    if sheet == "targets":
        return targets.helpers(weeks)
    mod = RULES.get(sheet)
    return tuple(getattr(mod, "HELPERS", ())) if mod else ()


def sheet_formulas(layout: Layout) -> dict[str, dict[str, callable]]:
    """Formula builders by sheet and column key: builder(row) -> formula text without '='."""
    return {key: mod.formulas(layout) for key, mod in RULES.items()}


def compute(inputs: Inputs, layout: Layout, problems: ProblemList | None = None) -> Calc:
    """All computed values (and the rule problems) of one workbook."""
    calc = Calc(inputs, layout, problems or ProblemList(lang=inputs.lang))
    tracking.compute_basic(calc)
    used = settings_sheet.settings_values(calc)
    calc.inputs.settings["as_of_used"] = used["as_of"]
    calc.out["settings"] = used
    targets.compute(calc)
    tracking.compute_repeated(calc)
    evaluation.compute(calc)
    incentives.compute(calc)
    review.compute(calc)
    calc.out["dashboard"] = dashboard.compute(calc)
    return calc
