"""R6 - one Evaluation row: target/actual used, completion, score, weighted score."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..layout import Layout, setting_name as S, table_name
from ..problems import ERROR
from .base import completion, completion_formula, share_formula, share_used, tier_formula, tier_lookup, xround
from .context import Calc, first_index

SHEET = "evaluation"
HELPERS = ("_low", "_q", "_ql", "_w", "_cur", "_mon", "_ok", "_qws", "_qw", "_lws", "_lw", "_wc", "_wq")
SCORES = (("manager_score", "w_manager"), ("peer_score", "w_peer"), ("customer_score", "w_customer"))


def quant_score(c: pd.Series, calc: Calc) -> pd.Series:
    """Score of a quantitative indicator from its completion (tiers or linear)."""
    if calc.s["scoring"] == "linear":
        return np.minimum(c * 100, calc.s["linear_cap"]).where(c.notna())
    tiers = calc.inputs.tables["score_tiers"].dropna()
    return tier_lookup(xround(c, 4), tiers["min"].tolist(), tiers["score"].tolist(), 0.0).astype(float)


def quant_score_formula(L: Layout, c: str) -> str:
    linear = L.is_code(S("scoring"), "scoring", "linear")
    tier = tier_formula(f"ROUND({c},4)", table_name("score_tiers", "min"), table_name("score_tiers", "score"), "0")
    return f'IF({c}="","",IF({linear},MIN({c}*100,{S("linear_cap")}),{tier}))'


def compute(calc: Calc) -> None:
    e = calc.frame(SHEET)
    goals = calc.frame("targets")
    tgt = calc.out["targets"]
    first = first_index(calc.keys("targets", "id"))
    gk = calc.keys("evaluation", "goal")
    grow = gk.map(lambda x: first.get(x) if x else None)

    def from_goal(series: pd.Series) -> pd.Series:
        return pd.Series([series.get(r, np.nan) if r is not None and not pd.isna(r) else np.nan for r in grow],
                         index=e.index, dtype=float)

    out = pd.DataFrame(index=e.index)
    goal_low = from_goal(tgt["_low"]).fillna(0.0)
    out["_low"] = np.where(e["direction"] == "lower", 1.0, np.where(e["direction"] == "higher", 0.0, goal_low))
    out["_q"] = (e["kind"] == "quantitative").astype(float)
    out["_ql"] = (e["kind"] == "qualitative").astype(float)
    out["_w"] = share_used(e["weight"])
    period = calc.s["period"].casefold()
    out["_cur"] = (e["period"].fillna("").str.casefold() == period).astype(float) if period else 0.0
    months = [m.casefold() for m in calc.inputs.months]
    out["_mon"] = e["period"].fillna("").str.casefold().map(
        lambda p: float(months.index(p) + 1) if p in months else 0.0)
    out["target_used"] = e["target"].where(e["target"].notna(), from_goal(goals["target"]))
    out["actual_used"] = e["actual"].where(e["actual"].notna(), from_goal(tgt["actual"]))
    comp = completion(out["target_used"], out["actual_used"], out["_low"] == 1).where(out["_q"] == 1)
    out["completion"] = comp
    qual = _qualitative(calc, e)
    score = np.where(out["_q"] == 1, quant_score(comp, calc), np.where(out["_ql"] == 1, qual, np.nan))
    out["score"] = pd.Series(score, index=e.index, dtype=float)
    out["weighted"] = out["_w"] * out["score"]
    has = out["score"].notna()
    out["_ok"] = has.astype(float)
    q, ql = (out["_q"] == 1) & has, (out["_ql"] == 1) & has
    out["_qws"] = np.where(q, out["weighted"], 0.0)
    out["_qw"] = np.where(q, out["_w"], 0.0)
    out["_lws"] = np.where(ql, out["weighted"], 0.0)
    out["_lw"] = np.where(ql, out["_w"], 0.0)
    cq = (out["_q"] == 1) & comp.notna()
    out["_wc"] = np.where(cq, out["_w"] * np.minimum(comp, calc.s["completion_cap"]), 0.0)
    out["_wq"] = np.where(cq, out["_w"], 0.0)
    calc.out[SHEET] = out
    _check(calc, e, out)


def _qualitative(calc: Calc, e: pd.DataFrame) -> pd.Series:
    """Weighted mean of the 360 scores present, weights renormalised; blank if any is out of range."""
    num = pd.Series(0.0, index=e.index)
    den = pd.Series(0.0, index=e.index)
    bad = pd.Series(False, index=e.index)
    for col, wkey in SCORES:
        v = e[col]
        w = calc.s[wkey]
        present = v.notna()
        num += np.where(present, v * w, 0.0)
        den += np.where(present, w, 0.0)
        bad |= present & ((v < 0) | (v > 100))
    with np.errstate(divide="ignore", invalid="ignore"):
        return (num / den).where((den != 0) & ~bad)


def _check(calc: Calc, e: pd.DataFrame, out: pd.DataFrame) -> None:
    p = calc.problems
    for row in e.index[(out["_q"] == 0) & (out["_ql"] == 0) & (e["name"].fillna("") != "")]:
        sheet, cell = calc.cell(SHEET, "kind", row)
        p.add(ERROR, sheet, cell, e.at[row, "kind"] or "", calc.say("定量 或 定性", "Quantitative or Qualitative"),
              ("缺少指标类型，无法评分", "The indicator kind is missing; no score"), "kind-missing")
    quant_blank = (out["_q"] == 1) & out["actual_used"].notna() & out["completion"].isna()
    for row in e.index[quant_blank]:
        sheet, cell = calc.cell(SHEET, "target", row)
        p.add(ERROR, sheet, cell, out.at[row, "target_used"], ("大于 0 的目标值", "a target above 0"),
              ("有实际值但无法计算完成率（目标值为空或不大于 0，或越低越好时实际值不大于 0）",
               "Actual present but no completion (target blank or not above 0, or a lower-is-better actual not above 0)"),
              "target-missing")


def formulas(L: Layout) -> dict[str, callable]:
    c = lambda key, r: L.ref(SHEET, key, r, here=SHEET)  # noqa: E731
    ids = L.rng("targets", "id")

    def goal_value(r, key):
        idx = f'INDEX({L.rng("targets", key)},MATCH({c("goal", r)},{ids},0))'
        return f'IF({c("goal", r)}="","",IFERROR(IF({idx}="","",{idx}),""))'

    def low(r):
        d = c("direction", r)
        return (f'IF({L.is_code(d, "direction", "lower")},1,IF({L.is_code(d, "direction", "higher")},0,'
                f'IF({c("goal", r)}="",0,IFERROR(INDEX({L.rng("targets", "_low")},MATCH({c("goal", r)},{ids},0)),0))))')

    def month_index(r):
        expr = "0"
        for i, m in reversed(list(enumerate(L.months, 1))):
            expr = f'IF({c("period", r)}="{m}",{i},{expr})'
        return expr

    def qualitative(r):
        num = "+".join(f'IF(ISNUMBER({c(k, r)}),{c(k, r)}*{S(w)},0)' for k, w in SCORES)
        den = "+".join(f'IF(ISNUMBER({c(k, r)}),{S(w)},0)' for k, w in SCORES)
        bad = ",".join(f'AND(ISNUMBER({c(k, r)}),OR({c(k, r)}<0,{c(k, r)}>100))' for k, _ in SCORES)
        return f'IF(OR({bad}),"",IF(({den})=0,"",({num})/({den})))'

    def sum_if(cond, value):
        return lambda r: f'IF(AND({cond(r)},{c("score", r)}<>""),{value(r)},0)'

    q = lambda r: f'{c("_q", r)}=1'  # noqa: E731
    ql = lambda r: f'{c("_ql", r)}=1'  # noqa: E731
    return {
        "_low": low,
        "_q": lambda r: f'IF({L.is_code(c("kind", r), "kind", "quantitative")},1,0)',
        "_ql": lambda r: f'IF({L.is_code(c("kind", r), "kind", "qualitative")},1,0)',
        "_w": lambda r: share_formula(c("weight", r)),
        "_cur": lambda r: f'IF({c("period", r)}={S("period")},1,0)',
        "_mon": month_index,
        "target_used": lambda r: f'IF({c("target", r)}<>"",{c("target", r)},{goal_value(r, "target")})',
        "actual_used": lambda r: f'IF({c("actual", r)}<>"",{c("actual", r)},{goal_value(r, "actual")})',
        "completion": lambda r: (f'IF({c("_q", r)}=1,' + completion_formula(
            c("target_used", r), c("actual_used", r), f"{c('_low', r)}=1") + ',"")'),
        "score": lambda r: (f'IF({c("_q", r)}=1,{quant_score_formula(L, c("completion", r))},'
                            f'IF({c("_ql", r)}=1,{qualitative(r)},""))'),
        "weighted": lambda r: f'IF({c("score", r)}="","",{c("_w", r)}*{c("score", r)})',
        "_ok": lambda r: f'IF({c("score", r)}="",0,1)',
        "_qws": sum_if(q, lambda r: c("weighted", r)),
        "_qw": sum_if(q, lambda r: c("_w", r)),
        "_lws": sum_if(ql, lambda r: c("weighted", r)),
        "_lw": sum_if(ql, lambda r: c("_w", r)),
        "_wc": lambda r: (f'IF(AND({q(r)},{c("completion", r)}<>""),'
                          f'{c("_w", r)}*MIN({c("completion", r)},{S("completion_cap")}),0)'),
        "_wq": lambda r: f'IF(AND({q(r)},{c("completion", r)}<>""),{c("_w", r)},0)',
    }
