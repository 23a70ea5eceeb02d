"""Settings: the value each formula uses (column C) and the live week calendar.

Column B holds what the user typed; column C the value in force (defaults for
blanks, 80 read as 80% for shares, the derived as-of date). Every other formula
refers to column C through a defined name MK_<KEY>.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..layout import Layout, setting_name
from ..period import calendar
from .base import from_serial, to_serial
from .context import Calc

VALUE_COL, USED_COL = "B", "C"
CAL_WEEK, CAL_START, CAL_END = "A", "B", "C"


def _literal(value) -> str:
    if value is None or value == "" or (isinstance(value, float) and np.isnan(value)):
        return '""'
    if isinstance(value, str):
        return '"' + value.replace('"', '""') + '"'
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def used_formula(L: Layout, key: str, default) -> str:
    """Formula of the 'value used' cell of one setting."""
    t = L.template
    s = next(s for s in t.settings if s.key == key)
    b = f"{VALUE_COL}{L.setting_rows[key]}"
    if key == "as_of":
        wk = L.rng("tracking", "_wkhas")
        return (f'IF({b}="",IF(MAX({wk})=0,{setting_name("start")},'
                f'IFERROR(INDEX(MK_CAL_END,MATCH(MAX({wk}),MK_CAL_WEEK,0)),{setting_name("end")})),{b})')
    if s.type in {"period", "code", "text"}:
        if s.type == "code":
            default = t.code_label(s.list, default, L.lang)
        return f'IF({b}="",{_literal(default)},TRIM({b}))'
    if s.type == "share":
        return f'IF({b}="",{_literal(default)},IF(AND(ISNUMBER({b}),{b}>1,{b}<=100),{b}/100,{b}))'
    if s.type == "percent":
        return f'IF({b}="",{_literal(default)},IF(AND(ISNUMBER({b}),{b}>10,{b}<=1000),{b}/100,{b}))'
    return f'IF({b}="",{_literal(default)},{b})'


def calendar_formulas(L: Layout, i: int) -> dict[str, str]:
    """Formulas of calendar row i (0-based): weeks run Monday-Sunday from the period start."""
    r = L.calendar_first + i
    if i == 0:
        start = setting_name("start")
    else:
        prev = f"{CAL_END}{r - 1}"
        start = f'IF({prev}="","",IF({prev}>={setting_name("end")},"",{prev}+1))'
    b = f"{CAL_START}{r}"
    return {
        CAL_WEEK: f'IF({b}="","",{i + 1})',
        CAL_START: start,
        CAL_END: f'IF({b}="","",MIN({b}+6-WEEKDAY({b},3),{setting_name("end")}))',
    }


def calendar_values(calc: Calc, n_rows: int) -> list[tuple]:
    """Python twin of the calendar rows (blank rows past the period end)."""
    s = calc.s
    rows = []
    if s.get("start") is not None and s.get("end") is not None:
        weeks = calendar(from_serial(s["start"]), from_serial(s["end"]))
        rows = [(float(w), to_serial(a), to_serial(b)) for w, a, b in weeks]
        if not weeks:  # start after end: the formula still shows week 1 from the start
            rows = [(1.0, s["start"], min(s["start"] + 6 - from_serial(s["start"]).weekday(), s["end"]))]
    rows = rows[:n_rows]
    return rows + [("", "", "")] * (n_rows - len(rows))


def settings_values(calc: Calc) -> dict[str, object]:
    """Python twin of column C (the as-of date needs the tracking helpers first)."""
    used = dict(calc.inputs.settings_used)
    for key in ("period", "scoring", "basis", "currency"):
        if isinstance(used.get(key), str):
            used[key] = " ".join(used[key].split())
    used["as_of"] = as_of(calc)
    return used


def as_of(calc: Calc) -> float:
    """As-of date: the typed one, else the end of the latest week with any actual."""
    typed = calc.inputs.settings_used.get("as_of")
    if typed is not None and not (isinstance(typed, float) and np.isnan(typed)):
        return typed
    wk = calc.out["tracking"]["_wkhas"] if "tracking" in calc.out else pd.Series(dtype=float)
    latest = float(wk.max()) if len(wk) else 0.0
    start, end = calc.s.get("start"), calc.s.get("end")
    if not latest:
        return start
    cal = calc.inputs.calendar
    hit = cal.loc[cal["week"] == latest, "end"]
    return float(hit.iloc[0]) if len(hit) else end
