"""R5 - the weekly Tracking rows: completion, deviation status, repeated warnings."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..layout import Layout, setting_name as S
from ..problems import ERROR, WARNING
from .base import blank_text, completion, completion_formula, from_serial, xround
from .context import Calc, first_index

SHEET = "tracking"
HELPERS = ("_low", "_sales", "_has", "_wkhas")


_STATUS_CODES = np.array(["", "exceeded", "met", "on_track", "warning"], dtype=object)


def status_codes(c4: pd.Series, warn: float, over: float) -> pd.Series:
    """超额 / 达标 / 正常 / 预警 from a completion rounded to 4 decimals (blank stays blank)."""
    which = np.select([c4.isna(), c4 >= over, c4 >= 1, c4 >= warn], [0, 1, 2, 3], 4)
    return pd.Series(_STATUS_CODES[which], index=c4.index, dtype=object)   # shared strings, one per code


def status_formula(L: Layout, c: str) -> str:
    c4 = f"ROUND({c},4)"
    return (f'IF({c}="","",IF({c4}>={S("over")},"{L.label("exceeded")}",IF({c4}>=1,"{L.label("met")}",'
            f'IF({c4}>={S("warn")},"{L.label("on_track")}","{L.label("warning")}"))))')


def compute_basic(calc: Calc) -> None:
    """Everything but the repeated warning, which needs the goals' weekly totals."""
    k = calc.frame(SHEET)
    goals = calc.frame("targets")
    goal_keys = calc.keys("targets", "id")
    first = first_index(goal_keys)
    low_by_row = (goals["direction"] == "lower").astype(float)
    sales_by_row = (goals["type"] == "sales").astype(float)
    gk = calc.keys("tracking", "goal")
    # INDEX(...,MATCH(goal,ids,0)): the goal's first row; an unknown or blank goal gives 0
    rows = list(first.values())
    low = gk.map(dict(zip(first, low_by_row.reindex(rows).to_numpy()))).fillna(0.0).astype(float)
    sales = gk.map(dict(zip(first, sales_by_row.reindex(rows).to_numpy()))).fillna(0.0).astype(float)
    has = k["actual"].notna().astype(float)
    week_num = k["week"]
    wkhas = week_num.where(has.astype(bool), 0.0).fillna(0.0)
    comp = completion(k["planned"], k["actual"], low.astype(bool))
    c4 = xround(comp, 4)
    codes = status_codes(c4, calc.s["warn"], calc.s["over"])
    cal = calc.inputs.calendar
    spans = {}
    for w, start, end in zip(cal["week"], cal["start"], cal["end"]):
        if w not in spans:
            a, b = from_serial(start), from_serial(end)
            spans[w] = f"{a.month}/{a.day}~{b.month}/{b.day}"
    dates = pd.Series([spans.get(w, "") for w in week_num.tolist()], index=k.index, dtype=object)
    labels = {c: calc.label(c) for c in codes.unique() if c}
    labels[""] = ""
    calc.out[SHEET] = pd.DataFrame({
        "week_dates": dates,
        "completion": comp,
        "status": pd.Series([labels[c] for c in codes.tolist()], index=k.index, dtype=object),
        "repeated": blank_text(np.zeros(len(k), bool), ""),
        "_low": low, "_sales": sales, "_has": has, "_wkhas": wkhas,
        "_status_code": codes,
    }, index=k.index)
    _check_reasons(calc, k, codes)
    _check_completion(calc, k, comp, low)


def _check_reasons(calc: Calc, k: pd.DataFrame, codes: pd.Series) -> None:
    for row in k.index[(codes.isin(["warning", "exceeded"])) & (k["reason"].fillna("") == "")]:
        sheet, cell = calc.cell(SHEET, "reason", row)
        calc.problems.add(WARNING, sheet, cell, "", ("偏差原因", "a deviation reason"),
                          ("预警或超额的行需要填写偏差原因", "A Warning or Exceeded row needs a deviation reason"),
                          "missing-reason")


def _check_completion(calc: Calc, k: pd.DataFrame, comp: pd.Series, low: pd.Series) -> None:
    """R1: an actual without a completion (planned blank or not above 0, lower-is-better actual <= 0)."""
    undefined = k["actual"].notna() & comp.isna()
    no_plan = undefined & ~(k["planned"].fillna(0) > 0)
    for row in k.index[no_plan]:
        sheet, cell = calc.cell(SHEET, "planned", row)
        calc.problems.add(ERROR, sheet, cell, k.at[row, "planned"], ("大于 0 的计划量", "a planned amount above 0"),
                          ("有实际量但计划量为空或不大于 0，完成率留空",
                           "Actual present but the planned amount is blank or not above 0; completion left blank"),
                          "target-missing")
    for row in k.index[undefined & ~no_plan & (low == 1)]:
        sheet, cell = calc.cell(SHEET, "actual", row)
        calc.problems.add(ERROR, sheet, cell, k.at[row, "actual"], ("大于 0 的实际量", "an actual above 0"),
                          ("越低越好的目标实际量不大于 0，完成率留空",
                           "Lower-is-better goal with an actual not above 0; completion left blank"),
                          "actual-not-positive")


def compute_repeated(calc: Calc) -> None:
    """Repeated warning: the goal's week total below the threshold this week and the weeks before."""
    k = calc.frame(SHEET)
    tgt = calc.out["targets"]
    first = first_index(calc.keys("targets", "id"))
    n = int(calc.s["repeat_weeks"] or 0)
    warn = calc.s["warn"]
    weeks = calc.layout.weeks
    matrix = tgt[[f"_c{i}" for i in range(1, weeks + 1)]].to_numpy(dtype=float)
    below = matrix < warn  # NaN compares False: a week without actuals breaks the run
    position = {r: i for i, r in enumerate(tgt.index)}
    goal_pos = calc.keys("tracking", "goal").map({g: position[r] for g, r in first.items()}).to_numpy(dtype=float)
    w = k["week"].to_numpy(dtype=float)
    flagged = np.zeros(len(k), dtype=bool)
    if 1 <= n <= weeks:
        ok = ~np.isnan(goal_pos) & (w >= n) & (w <= weeks) & (w == np.floor(w))
        at, week = goal_pos[ok].astype(np.int64), w[ok].astype(np.int64)
        run = np.ones(len(at), dtype=bool)
        for back in range(1, n + 1):   # weeks w-n+1 .. w, i.e. matrix columns w-n .. w-1
            run &= below[at, week - back]
        flagged[np.flatnonzero(ok)[run]] = True
    out = np.where(flagged, calc.label("yes"), "").astype(object)
    calc.out[SHEET]["repeated"] = pd.Series(out, index=k.index, dtype=object)


def formulas(L: Layout) -> dict[str, callable]:
    c = lambda key, r: L.ref(SHEET, key, r, here=SHEET)  # noqa: E731
    ids = L.rng("targets", "id")

    def week_dates(r):
        s = f"INDEX(MK_CAL_START,MATCH({c('week', r)},MK_CAL_WEEK,0))"
        e = f"INDEX(MK_CAL_END,MATCH({c('week', r)},MK_CAL_WEEK,0))"
        return f'IFERROR(MONTH({s})&"/"&DAY({s})&"~"&MONTH({e})&"/"&DAY({e}),"")'

    def repeated(r):
        w, g = c("week", r), c("goal", r)
        gi = f"MATCH({g},{ids},0)"
        mat = L.rng("targets", "_c1", last_key=f"_c{L.weeks}")
        span = f"INDEX({mat},{gi},{w}-{S('repeat_weeks')}+1):INDEX({mat},{gi},{w})"
        # 0 repeated-warning weeks switches the flag off (as in Python): there is no run of 0 weeks
        return (f'IF(OR({g}="",NOT(ISNUMBER({w}))),"",IFERROR(IF(AND({S("repeat_weeks")}>=1,'
                f'{w}>={S("repeat_weeks")},{w}<={L.weeks},'
                f'SUMPRODUCT(ISNUMBER({span})*({span}<{S("warn")}))={S("repeat_weeks")}),"{L.label("yes")}",""),""))')

    return {
        "week_dates": week_dates,
        "completion": lambda r: completion_formula(c("planned", r), c("actual", r), f"{c('_low', r)}=1"),
        "status": lambda r: status_formula(L, c("completion", r)),
        "repeated": repeated,
        "_low": lambda r: (f'IF({c("goal", r)}="",0,IFERROR(INDEX({L.rng("targets", "_low")},'
                           f'MATCH({c("goal", r)},{ids},0)),0))'),
        "_sales": lambda r: (f'IF({c("goal", r)}="",0,IFERROR(INDEX({L.rng("targets", "_sales")},'
                             f'MATCH({c("goal", r)},{ids},0)),0))'),
        "_has": lambda r: f'IF({c("actual", r)}="",0,1)',
        "_wkhas": lambda r: f'IF(AND({c("_has", r)}=1,ISNUMBER({c("week", r)})),{c("week", r)},0)',
    }
