"""R13 and the Dashboard's headline figures, weekly sales table and grade distribution.

The Dashboard has fixed cells: headline labels in A and values in B (from row 3),
the weekly table in D:G and the grade table in I:J (header on row 2).
"""
from __future__ import annotations

import numpy as np

from ..layout import Layout, setting_name as S, table_name
from .base import xround
from .context import Calc

SHEET = "dashboard"
FIRST = 3          # first row of the blocks (row 2 holds their headers)
GRADE_ROWS = 8     # reserved rows of the grade distribution
HEADLINES = (
    ("period", "本期", "Period", "text"),
    ("as_of", "统计截止日", "As of", "date"),
    ("team_completion", "团队完成率", "Team completion", "percent"),
    ("team_award", "团队达成奖励", "Team award due", "money"),
    ("goals", "目标数", "Goals", "int"),
    ("goals_behind", "落后目标", "Goals behind", "int"),
    ("goals_met", "达标/超额目标", "Goals met or exceeded", "int"),
    ("warnings", "预警任务行", "Tracking rows in warning", "int"),
    ("repeated", "连续预警行", "Repeated warnings", "int"),
    ("people", "已出总分人数", "People with a total", "int"),
    ("avg_total", "平均总分", "Average total score", "number"),
    ("payout", "应发合计", "Total payout", "money"),
)
WEEK_HEADERS = (("周次", "Week"), ("销售计划", "Sales planned"), ("销售实际", "Sales actual"), ("完成率", "Completion"))
GRADE_HEADERS = (("等级", "Grade"), ("人数", "People"))


def headline_cell(key: str) -> str:
    i = [h[0] for h in HEADLINES].index(key)
    return f"B{FIRST + i}"


def compute(calc: Calc) -> dict[str, object]:
    """Python values of every computed Dashboard cell, by A1 address."""
    tg, to = calc.frame("targets"), calc.out["targets"]
    tr, tro = calc.frame("tracking"), calc.out["tracking"]
    inc = calc.out["incentives"]
    v: dict[str, object] = {}
    lvl = to["_lvl"].dropna()
    tc = np.nan
    if len(lvl):
        top = lvl.min()
        at_top = to["_lvl"] == top
        den = to.loc[at_top, "_wt"].sum()
        if den != 0:
            tc = to.loc[at_top, "_wc"].sum() / den
    status = to["status"]
    values = {
        "period": calc.inputs.settings_used.get("period") or "",
        "as_of": calc.s["as_of_used"],
        "team_completion": tc,
        "team_award": (calc.s["team_award"] or 0.0) if (not np.isnan(tc) and xround(tc, 4) >= 1) else 0.0,
        "goals": float((tg["id"].fillna("") != "").sum()),
        "goals_behind": float((status == calc.label("behind")).sum()),
        "goals_met": float(status.isin([calc.label("met"), calc.label("exceeded")]).sum()),
        "warnings": float((tro["status"] == calc.label("warning")).sum()),
        "repeated": float((tro["repeated"] == calc.label("yes")).sum()),
        "people": float(inc["total"].notna().sum()),
        "avg_total": inc["total"].mean() if inc["total"].notna().any() else np.nan,
        "payout": float(inc["payout"].sum()),
    }
    for key, val in values.items():
        v[headline_cell(key)] = val
    sales = tro["_sales"] == 1
    for i in range(1, calc.layout.weeks + 1):
        r = FIRST + i - 1
        in_week = tr["week"] == i
        plan = float(tr.loc[in_week & sales, "planned"].fillna(0).sum())
        has = (in_week & sales & (tro["_has"] == 1)).any()
        act = float(tr.loc[in_week & sales, "actual"].fillna(0).sum()) if has else np.nan
        v[f"D{r}"] = float(i)
        v[f"E{r}"] = plan
        v[f"F{r}"] = act
        v[f"G{r}"] = act / plan if has and plan > 0 else np.nan
    grades = calc.inputs.tables["grade_tiers"]["grade"].tolist()
    for i in range(GRADE_ROWS):
        r = FIRST + i
        g = grades[i] if i < len(grades) and grades[i] else ""
        v[f"I{r}"] = g
        v[f"J{r}"] = float((inc["grade"].str.casefold() == g.casefold()).sum()) if g else np.nan
    return v


def formulas(L: Layout) -> dict[str, str]:
    """Excel twin of compute(), by A1 address."""
    T = lambda key: L.rng("targets", key)  # noqa: E731
    K = lambda key: L.rng("tracking", key)  # noqa: E731
    inc = lambda key: L.rng("incentives", key)  # noqa: E731
    top = f'MIN({T("_lvl")})'
    den = f'SUMIFS({T("_wt")},{T("_lvl")},{top})'
    tc = headline_cell("team_completion")
    f = {
        "period": f"{S('period')}",
        "as_of": S("as_of"),
        "team_completion": f'IF(COUNT({T("_lvl")})=0,"",IF({den}=0,"",SUMIFS({T("_wc")},{T("_lvl")},{top})/{den}))',
        "team_award": f'IF(AND(ISNUMBER({tc}),ROUND(N({tc}),4)>=1),N({S("team_award")}),0)',
        "goals": f'SUMPRODUCT(--({T("id")}<>""))',
        "goals_behind": f'COUNTIF({T("status")},"{L.label("behind")}")',
        "goals_met": f'COUNTIF({T("status")},"{L.label("met")}")+COUNTIF({T("status")},"{L.label("exceeded")}")',
        "warnings": f'COUNTIF({K("status")},"{L.label("warning")}")',
        "repeated": f'COUNTIF({K("repeated")},"{L.label("yes")}")',
        "people": f'COUNT({inc("total")})',
        "avg_total": f'IF(COUNT({inc("total")})=0,"",AVERAGE({inc("total")}))',
        "payout": f'SUM({inc("payout")})',
    }
    out = {headline_cell(k): v for k, v in f.items()}
    for i in range(1, L.weeks + 1):
        r = FIRST + i - 1
        crit = f'{K("week")},D{r},{K("_sales")},1'
        out[f"D{r}"] = str(i)
        out[f"E{r}"] = f"SUMIFS({K('planned')},{crit})"
        out[f"F{r}"] = f'IF(COUNTIFS({crit},{K("_has")},1)=0,"",SUMIFS({K("actual")},{crit}))'
        out[f"G{r}"] = f'IF(OR(F{r}="",E{r}<=0),"",F{r}/E{r})'
    grade = table_name("grade_tiers", "grade")
    for i in range(GRADE_ROWS):
        r = FIRST + i
        out[f"I{r}"] = f'IF(INDEX({grade},{i + 1})="","",INDEX({grade},{i + 1}))'
        out[f"J{r}"] = f'IF(I{r}="","",COUNTIF({inc("grade")},I{r}))'
    return out
