"""R2-R4 - goals: actual (own, or rolled up from child goals), completion, change, time, status.

Roll-ups must not be circular in Excel (SPEC §8), so each goal row carries hidden
helper columns: its own actual (_own), its ancestors (_p1.._p4, each looked up
from the previous one), and whether its own actual counts for each ancestor
(_k1.._k4: only if no goal in between has an actual of its own). A goal's rolled
up actual is then the sum of SUMIFS over those columns: no formula reads its own
column. The week matrix (_a*, _c*) holds each goal's weekly totals and completion.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..layout import Layout, setting_name as S
from ..problems import ERROR
from .base import completion, completion_formula, share_formula, share_used, xround
from .context import Calc, first_index, keys_of

SHEET = "targets"
DEPTH = 4            # company -> department -> group -> individual: at most 4 ancestors
LEVELS = {"company": 1, "department": 2, "group": 3, "individual": 4}
AGG = {"sum": 1, "latest": 2, "average": 3}


def helpers(weeks: int) -> tuple[str, ...]:
    return (("_lvl", "_low", "_agg", "_sales", "_w")
            + tuple(f"_a{i}" for i in range(1, weeks + 1)) + tuple(f"_c{i}" for i in range(1, weeks + 1))
            + ("_last", "_own", "_hasown") + tuple(f"_p{i}" for i in range(1, DEPTH + 1))
            + tuple(f"_k{i}" for i in range(1, DEPTH + 1)) + ("_cyc", "_wc", "_wt"))


# ----------------------------------------------------------------- Python

def compute(calc: Calc) -> None:
    g = calc.frame(SHEET)
    k = calc.frame("tracking")
    W = calc.layout.weeks
    out = pd.DataFrame(index=g.index)
    ids = calc.keys("targets", "id")
    has_id = ids != ""
    out["_lvl"] = g["level"].map(LEVELS).astype(float)
    out["_low"] = (g["direction"] == "lower").astype(float)
    out["_agg"] = g["aggregation"].map(AGG).fillna(1.0).astype(float)
    out["_sales"] = (g["type"] == "sales").astype(float)
    out["_w"] = share_used(g["weight"])

    # weekly totals per goal (only rows with an actual count as "having" that week)
    kk = pd.DataFrame({"g": calc.keys("tracking", "goal"), "w": k["week"], "a": k["actual"],
                       "p": k["planned"].fillna(0.0), "has": k["actual"].notna()})
    by = kk[kk["g"] != ""].groupby(["g", "w"])
    wk_has = by["has"].sum()
    wk_act = by["a"].sum()
    wk_plan = by["p"].sum()
    weeks = [float(i) for i in range(1, W + 1)]

    def matrix(series: pd.Series, fill: float) -> pd.DataFrame:
        """goal x week, one row per Targets row (by its ID), columns = calendar weeks."""
        wide = series.unstack("w") if len(series) else pd.DataFrame(index=pd.Index([], name="g"))
        return wide.reindex(columns=weeks).reindex(ids.to_numpy()).fillna(fill).set_axis(g.index)

    has_m = matrix(wk_has.astype(float), 0.0)
    act_m = matrix(wk_act, np.nan).where(has_m > 0)
    plan_m = matrix(wk_plan, 0.0)
    low = out["_low"].astype(bool)
    for i, w in enumerate(weeks, 1):
        a = act_m[w].where(has_id).astype(float)
        out[f"_a{i}"] = a
        out[f"_c{i}"] = xround(completion(plan_m[w], a, low), 4)
    amat = out[[f"_a{i}" for i in range(1, W + 1)]]
    has_any = amat.notna().any(axis=1)
    last = amat.notna().to_numpy() * np.arange(1, W + 1)
    out["_last"] = np.where(has_id, last.max(axis=1) if W else 0, 0).astype(float)

    # own actual: manual, else from tracking by the goal's aggregation
    by_goal = kk[kk["g"] != ""].groupby("g")
    any_actual = ids.map(by_goal["has"].sum()).fillna(0) > 0
    total = ids.map(by_goal["a"].sum()).astype(float)
    # 最新: the actuals of the latest week that has any, averaged over its rows
    last_col = out["_last"].astype(int).to_numpy()
    rows = np.arange(len(g))
    pick = np.clip(last_col - 1, 0, max(W - 1, 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        per_row = (matrix(wk_act, np.nan).to_numpy() / has_m.to_numpy()) if W else np.zeros((len(g), 1))
    latest = pd.Series(np.where(last_col > 0, per_row[rows, pick] if len(g) else [], np.nan),
                       index=g.index, dtype=float)
    average = amat.mean(axis=1).where(has_any)
    tracked = np.select([out["_agg"] == 2, out["_agg"] == 3], [latest, average], total)
    tracked = pd.Series(tracked, index=g.index, dtype=float).where(any_actual)
    own = g["manual_actual"].where(g["manual_actual"].notna(), tracked).where(has_id)
    out["_own"] = own
    out["_hasown"] = own.notna().astype(float)

    # ancestors and contribution flags (first occurrence wins, as MATCH does)
    first = first_index(ids)
    parent_of = calc.keys("targets", "parent")
    parent_by_key = _by_key(first, parent_of)
    hasown_by_key = _by_key(first, out["_hasown"])
    anc = [parent_of.where(has_id, "")]
    for _ in range(DEPTH - 1):
        anc.append(anc[-1].map(lambda p: parent_by_key.get(p, "") if p else ""))
    # the cells show the parent IDs as typed; matching ignores case like MATCH does
    parent_text = g["parent"].fillna("").astype(object)
    text_by_key = _by_key(first, parent_text)
    shown = parent_text.where(has_id, "")
    out["_p1"] = shown
    for i in range(2, DEPTH + 1):
        out[f"_p{i}"] = anc[i - 2].map(lambda p: text_by_key.get(p, "") if p else "")
    contrib = ((out["_hasown"] == 1) & (anc[0] != "")).astype(float)
    out["_k1"] = contrib
    for i in range(2, DEPTH + 1):
        prev_has_own = anc[i - 2].map(lambda p: hasown_by_key.get(p, np.nan))
        ok = (out[f"_k{i - 1}"] == 1) & (anc[i - 1] != "") & (prev_has_own == 0)
        out[f"_k{i}"] = ok.astype(float)
    out["_cyc"] = (has_id & pd.concat([a == ids for a in anc], axis=1).any(axis=1)).astype(float)

    rolled = pd.Series(0.0, index=g.index)
    count = pd.Series(0.0, index=g.index)
    for i in range(1, DEPTH + 1):
        mask = out[f"_k{i}"] == 1
        sums = out.loc[mask].groupby(anc[i - 1][mask])["_own"].sum()
        counts = out.loc[mask].groupby(anc[i - 1][mask])["_own"].count()
        rolled += ids.map(sums).fillna(0.0)
        count += ids.map(counts).fillna(0.0)
    actual = own.where(out["_hasown"] == 1, rolled.where((count > 0) & (out["_cyc"] == 0)))
    out["actual"] = actual.where(has_id)

    comp = completion(g["target"], out["actual"], out["_low"].astype(bool))
    out["completion"] = comp
    base = g["baseline"]
    out["change"] = (out["actual"] / base - 1).where(out["actual"].notna() & base.notna() & (base.fillna(0) != 0))

    start = g["start"].fillna(calc.s["start"])
    end = g["end"].fillna(calc.s["end"])
    asof = calc.s["as_of_used"]
    asof = np.nan if asof is None else asof          # no period dates at all (a Settings error): no elapsed time
    span = end - start + 1
    elapsed = ((asof - start + 1) / span).clip(0, 1).where(end >= start)
    out["elapsed"] = elapsed.where(has_id)
    c4 = xround(comp, 4)
    line = np.where(out["_agg"] == 1, elapsed.fillna(1.0) * calc.s["warn"], calc.s["warn"])
    code = np.select(
        [~has_id, asof < start, comp.isna(), c4 >= calc.s["over"], c4 >= 1, c4 >= line],
        ["", "not_started", "", "exceeded", "met", "on_track"], "behind")
    out["_status_code"] = code
    out["status"] = [calc.label(c) if c else "" for c in code]
    cmat = out[[f"_c{i}" for i in range(1, W + 1)]]
    out["warning_weeks"] = (cmat < calc.s["warn"]).sum(axis=1).astype(float).where(has_id)
    w = out["_w"]
    out["_wc"] = np.where(comp.notna() & out["_lvl"].notna(), w * comp.fillna(0), 0.0)
    out["_wt"] = np.where(comp.notna() & out["_lvl"].notna(), w, 0.0)
    calc.out[SHEET] = out
    _check_rules(calc, g, out)


def _long_cycles(g: pd.DataFrame, out: pd.DataFrame) -> pd.Series:
    """Goals on a cycle of parent links longer than the DEPTH ancestor columns can see (_cyc misses them)."""
    ids = keys_of(g["id"])
    first = first_index(ids)
    parent_at = dict(zip(g.index, keys_of(g["parent"])))
    parent = {key: parent_at[row] for key, row in first.items()}
    on_cycle: set[str] = set()
    state: dict[str, int] = {}          # 1: on the path being walked, 2: done (each goal is walked once)
    for start in parent:
        path, k = [], start
        while k in parent and k not in state:
            state[k] = 1
            path.append(k)
            k = parent[k]
        if state.get(k) == 1:           # the walk came back to itself: a cycle
            on_cycle.update(path[path.index(k):])
        for key in path:
            state[key] = 2
    cyc = out["_cyc"].to_numpy()
    return pd.Series([bool(k) and k in on_cycle and cyc[i] == 0 for i, k in enumerate(ids)], index=g.index)


def _check_rules(calc: Calc, g: pd.DataFrame, out: pd.DataFrame) -> None:
    p = calc.problems
    for row in g.index[out["_cyc"] == 1]:
        sheet, cell = calc.cell(SHEET, "parent", row)
        p.add(ERROR, sheet, cell, g.at[row, "parent"], ("不构成循环的上级目标", "a parent that does not lead back"),
              ("上级目标形成循环，实际值无法汇总", "Parent goals form a cycle; the actual cannot be rolled up"), "cycle")
    for row in g.index[_long_cycles(g, out)]:
        sheet, cell = calc.cell(SHEET, "parent", row)
        p.add(ERROR, sheet, cell, g.at[row, "parent"], ("不构成循环的上级目标", "a parent that does not lead back"),
              (f"上级目标形成超过 {DEPTH} 层的循环，汇总的实际值不可信",
               f"Parent goals form a cycle longer than {DEPTH} levels; rolled-up actuals are not reliable"), "cycle")
    has_actual = out["actual"].notna()
    bad_target = has_actual & ~(g["target"].fillna(0) > 0)
    for row in g.index[bad_target]:
        sheet, cell = calc.cell(SHEET, "target", row)
        p.add(ERROR, sheet, cell, g.at[row, "target"], ("大于 0 的目标值", "a target above 0"),
              ("有实际值但目标值为空或不大于 0，完成率留空", "Actual present but the target is blank or not above 0; completion left blank"),
              "target-missing")
    bad_low = has_actual & (out["_low"] == 1) & (g["target"].fillna(0) > 0) & ~(out["actual"].fillna(0) > 0)
    for row in g.index[bad_low]:
        sheet, cell = calc.cell(SHEET, "actual", row)
        p.add(ERROR, sheet, cell, out.at[row, "actual"], ("大于 0 的实际值", "an actual above 0"),
              ("越低越好的目标实际值不大于 0，完成率留空", "Lower-is-better goal with an actual not above 0; completion left blank"),
              "actual-not-positive")


# ----------------------------------------------------------------- Excel

def formulas(L: Layout) -> dict[str, callable]:
    c = lambda key, r: L.ref(SHEET, key, r, here=SHEET)  # noqa: E731
    R = lambda key: L.rng(SHEET, key, here=SHEET)  # noqa: E731
    T = lambda key: L.rng("tracking", key)  # noqa: E731
    W = L.weeks
    f: dict[str, callable] = {}

    def guard(r, body):
        return f'IF({c("id", r)}="","",{body})'

    f["_lvl"] = lambda r: "IF({},1,IF({},2,IF({},3,IF({},4,\"\"))))".format(
        *(L.is_code(c("level", r), "level", code) for code in LEVELS))
    f["_low"] = lambda r: f'IF({L.is_code(c("direction", r), "direction", "lower")},1,0)'
    f["_agg"] = lambda r: (f'IF({L.is_code(c("aggregation", r), "aggregation", "latest")},2,'
                           f'IF({L.is_code(c("aggregation", r), "aggregation", "average")},3,1))')
    f["_sales"] = lambda r: f'IF({L.is_code(c("type", r), "goal_type", "sales")},1,0)'
    f["_w"] = lambda r: share_formula(c("weight", r))
    for i in range(1, W + 1):
        def a_i(r, i=i):
            crit = f'{T("goal")},{c("id", r)},{T("week")},{i}'
            return guard(r, f'IF(COUNTIFS({crit},{T("_has")},1)=0,"",SUMIFS({T("actual")},{crit}))')

        def c_i(r, i=i):
            plan = f'SUMIFS({T("planned")},{T("goal")},{c("id", r)},{T("week")},{i})'
            a = c(f"_a{i}", r)
            return (f'IF({a}="","",IF({c("_low", r)}=1,IF(AND({plan}>0,N({a})>0),ROUND({plan}/{a},4),""),'
                    f'IF({plan}>0,ROUND({a}/{plan},4),"")))')
        f[f"_a{i}"], f[f"_c{i}"] = a_i, c_i
    arr = "{" + ",".join(str(i) for i in range(1, W + 1)) + "}"
    f["_last"] = lambda r: (f'IF({c("id", r)}="",0,SUMPRODUCT(MAX(ISNUMBER({c("_a1", r)}:{c(f"_a{W}", r)})'
                            f'*{arr})))')

    def own(r):
        crit = f'{T("goal")},{c("id", r)}'
        last = c("_last", r)
        latest = (f'IF({last}=0,"",SUMIFS({T("actual")},{crit},{T("week")},{last})'
                  f'/COUNTIFS({crit},{T("week")},{last},{T("_has")},1))')
        amat = f'{c("_a1", r)}:{c(f"_a{W}", r)}'
        avg = f'IF(COUNT({amat})=0,"",AVERAGE({amat}))'
        tracked = (f'IF(COUNTIFS({crit},{T("_has")},1)=0,"",IF({c("_agg", r)}=2,{latest},'
                   f'IF({c("_agg", r)}=3,{avg},SUMIFS({T("actual")},{crit}))))')
        return guard(r, f'IF({c("manual_actual", r)}<>"",{c("manual_actual", r)},{tracked})')
    f["_own"] = own
    f["_hasown"] = lambda r: f'IF({c("_own", r)}="",0,1)'
    f["_p1"] = lambda r: f'IF(OR({c("id", r)}="",{c("parent", r)}=""),"",{c("parent", r)})'
    for i in range(2, DEPTH + 1):
        f[f"_p{i}"] = (lambda r, i=i: f'IF({c(f"_p{i-1}", r)}="","",IFERROR(INDEX({R("_p1")},'
                       f'MATCH({c(f"_p{i-1}", r)},{R("id")},0)),""))')
    f["_k1"] = lambda r: f'IF(AND({c("_hasown", r)}=1,{c("_p1", r)}<>""),1,0)'
    for i in range(2, DEPTH + 1):
        f[f"_k{i}"] = (lambda r, i=i: f'IFERROR(IF(AND({c(f"_k{i-1}", r)}=1,{c(f"_p{i}", r)}<>"",'
                       f'INDEX({R("_hasown")},MATCH({c(f"_p{i-1}", r)},{R("id")},0))=0),1,0),0)')
    f["_cyc"] = lambda r: (f'IF({c("id", r)}="",0,IF(OR(' + ",".join(
        f'{c(f"_p{i}", r)}={c("id", r)}' for i in range(1, DEPTH + 1)) + "),1,0))")

    def actual(r):
        terms = [(f'SUMIFS({R("_own")},{R(f"_p{i}")},{c("id", r)},{R(f"_k{i}")},1)',
                  f'COUNTIFS({R(f"_p{i}")},{c("id", r)},{R(f"_k{i}")},1)') for i in range(1, DEPTH + 1)]
        n = "+".join(t[1] for t in terms)
        s = "+".join(t[0] for t in terms)
        return guard(r, f'IF({c("_hasown", r)}=1,{c("_own", r)},IF({c("_cyc", r)}=1,"",IF({n}=0,"",{s})))')
    f["actual"] = actual
    f["completion"] = lambda r: completion_formula(c("target", r), c("actual", r), f"{c('_low', r)}=1")
    f["change"] = lambda r: (f'IF(OR({c("actual", r)}="",{c("baseline", r)}=""),"",'
                             f'IF(N({c("baseline", r)})=0,"",{c("actual", r)}/{c("baseline", r)}-1))')

    def start(r):
        return f'IF({c("start", r)}="",{S("start")},{c("start", r)})'

    def end(r):
        return f'IF({c("end", r)}="",{S("end")},{c("end", r)})'
    f["elapsed"] = lambda r: guard(r, f'IF({end(r)}<{start(r)},"",MAX(0,MIN(1,({S("as_of")}-{start(r)}+1)'
                                      f'/({end(r)}-{start(r)}+1))))')

    def status(r):
        c4 = f'ROUND({c("completion", r)},4)'
        el = c("elapsed", r)
        line = f'IF({c("_agg", r)}=1,IF({el}="",1,{el})*{S("warn")},{S("warn")})'
        return guard(r, f'IF({S("as_of")}<{start(r)},"{L.label("not_started")}",IF({c("completion", r)}="","",'
                        f'IF({c4}>={S("over")},"{L.label("exceeded")}",IF({c4}>=1,"{L.label("met")}",'
                        f'IF({c4}>={line},"{L.label("on_track")}","{L.label("behind")}")))))')
    f["status"] = status
    f["warning_weeks"] = lambda r: guard(r, f'SUMPRODUCT(ISNUMBER({c("_c1", r)}:{c(f"_c{W}", r)})'
                                            f'*({c("_c1", r)}:{c(f"_c{W}", r)}<{S("warn")}))')
    f["_wc"] = lambda r: (f'IF(OR({c("completion", r)}="",{c("_lvl", r)}=""),0,'
                          f'{c("_w", r)}*{c("completion", r)})')
    f["_wt"] = lambda r: f'IF(OR({c("completion", r)}="",{c("_lvl", r)}=""),0,{c("_w", r)})'
    return f


def _by_key(first: dict[str, int], values: pd.Series) -> dict:
    """key -> the value on the key's first row (one look-up for all keys, not one per key)."""
    return dict(zip(first, values.reindex(list(first.values())).tolist()))
