"""Review rows: the goal's name, target, actual and completion looked up by goal ID."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..layout import Layout
from .context import Calc, first_index

SHEET = "review"
HELPERS: tuple[str, ...] = ()
LOOKUPS = {"goal_name": "name", "target": "target", "actual": "actual", "completion": "completion"}


def compute(calc: Calc) -> None:
    rv = calc.frame(SHEET)
    goals = calc.frame("targets")
    tgt = calc.out["targets"]
    first = first_index(calc.keys("targets", "id"))
    rows = calc.keys("review", "goal").map(lambda k: first.get(k) if k else None)
    source = {"goal_name": goals["name"], "target": goals["target"],
              "actual": tgt["actual"], "completion": tgt["completion"]}
    out = pd.DataFrame(index=rv.index)
    for key, series in source.items():
        text = key == "goal_name"
        vals = [series.get(r) if r is not None and not pd.isna(r) else None for r in rows]
        if text:
            out[key] = pd.Series([v or "" for v in vals], index=rv.index, dtype=object)
        else:
            out[key] = pd.Series([np.nan if v is None else v for v in vals], index=rv.index, dtype=float)
    calc.out[SHEET] = out


def formulas(L: Layout) -> dict[str, callable]:
    ids = L.rng("targets", "id")

    def lookup(col):
        def f(r):
            g = L.ref(SHEET, "goal", r, here=SHEET)
            idx = f'INDEX({L.rng("targets", col)},MATCH({g},{ids},0))'
            return f'IF({g}="","",IFERROR(IF({idx}="","",{idx}),""))'
        return f
    return {key: lookup(col) for key, col in LOOKUPS.items()}
