"""R7-R12 - one Incentives row per Team member: totals, grade, rank, bonus, commission, payout.

A wrong payout is worse than no payout: when a person's weights for the period do
not sum to 100% or a score is missing, total, grade, bonus and commission stay blank.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..layout import Layout, setting_name as S, table_name
from ..problems import ERROR, WARNING
from .base import ceil_share, tier_formula, tier_lookup, xround
from .context import Calc, keys_of

SHEET = "incentives"
TOLERANCE = 0.0001   # weights must sum to 100% ± 0.01%
HELPERS = ("_n", "_wsum", "_okn", "_valid", "_m1", "_m2", "_m3", "_r1", "_r2", "_r3")
HUGE = "1E+300"      # "no upper bound" of the last commission bracket, inside SUMPRODUCT


# ----------------------------------------------------------------- Python

def _by_name(keys: pd.Series, values: pd.Series, mask: pd.Series, names: pd.Series) -> pd.Series:
    """SUMIFS(values, name, each name, <mask>) for every name."""
    sums = values[mask].groupby(keys[mask]).sum()
    return names.map(sums).fillna(0.0).astype(float)


def commission(target: pd.Series, actual: pd.Series, brackets: pd.DataFrame) -> pd.Series:
    """R11: marginal commission over the brackets (from after the last bracket is unbounded)."""
    froms = brackets["from"].tolist()
    rates = brackets["rate"].fillna(0.0).tolist()
    nexts = froms[1:] + [np.inf]
    with np.errstate(divide="ignore", invalid="ignore"):
        c = (actual.fillna(0.0) / target).where(target > 0, 0.0)
    total = pd.Series(0.0, index=target.index)
    for f, rate, nxt in zip(froms, rates, nexts):
        band = np.minimum(c, nxt) - f
        total += rate * band.clip(lower=0)
    return (target * total).where(target > 0, 0.0)


def brackets_ascending(brackets: pd.DataFrame) -> bool:
    froms = brackets["from"].tolist()
    return all(b >= a for a, b in zip(froms, froms[1:]))


def compute(calc: Calc) -> None:
    s = calc.s
    team = calc.frame("team")
    ev = calc.frame("evaluation")
    evo = calc.out["evaluation"]
    rows = calc.layout.sheet(SHEET).rows
    team_rows = calc.layout.sheet("team").rows
    # Incentives row i follows Team row i
    align = dict(zip(rows, team_rows))
    idx = pd.Index(list(rows))
    names = pd.Series([team["name"].get(align[r], "") or "" for r in rows], index=idx, dtype=object)
    groups = pd.Series([team["group"].get(align[r], "") or "" for r in rows], index=idx, dtype=object)
    base = pd.Series([team["bonus_base"].get(align[r], np.nan) for r in rows], index=idx, dtype=float)
    nk = keys_of(names)
    has_name = nk != ""
    ek = keys_of(ev["name"])
    cur = evo["_cur"] == 1

    out = pd.DataFrame(index=idx)
    out["name"], out["group"] = names, groups
    one = pd.Series(1.0, index=ev.index)
    out["_n"] = _by_name(ek, one, cur, nk).where(has_name, 0.0)
    out["_wsum"] = _by_name(ek, evo["_w"], cur, nk).where(has_name, 0.0)
    out["_okn"] = _by_name(ek, evo["_ok"], cur, nk).where(has_name, 0.0)
    valid = (out["_n"] > 0) & ((out["_wsum"] - 1).abs() <= TOLERANCE) & (out["_okn"] == out["_n"])
    out["_valid"] = valid.astype(float)

    def avg(num_col, den_col):
        num, den = _by_name(ek, evo[num_col], cur, nk), _by_name(ek, evo[den_col], cur, nk)
        return (num / den.where(den != 0)).where(has_name)
    out["quant_score"] = avg("_qws", "_qw")
    out["qual_score"] = avg("_lws", "_lw")
    total = xround(_by_name(ek, evo["weighted"].fillna(0.0), cur, nk), 4).where(valid)
    out["total"] = total
    grades = calc.inputs.tables["grade_tiers"].dropna(subset=["min"])
    out["grade"] = tier_lookup(total, grades["min"].tolist(), grades["grade"].tolist(), "").fillna("")
    n = int(total.notna().sum())
    out["rank"] = total.rank(method="min", ascending=False)
    out["overall"] = avg("_wc", "_wq")
    out["bonus_base"] = base.where(has_name)

    if s["basis"] == "grade":
        factor = tier_lookup(total, grades["min"].tolist(), grades["factor"].fillna(0.0).tolist(), 0.0)
    else:
        payout = calc.inputs.tables["payout_tiers"].dropna(subset=["min"])
        factor = tier_lookup(xround(out["overall"], 4), payout["min"].tolist(),
                             payout["factor"].fillna(0.0).tolist(), 0.0)
    factor = factor.astype(float).where(valid)
    out["factor"] = factor
    out["bonus"] = xround(base * factor, 2)

    tg, to = calc.frame("targets"), calc.out["targets"]
    owners = keys_of(tg["owner"])
    sales = to["_sales"] == 1
    out["sales_target"] = _by_name(owners, tg["target"].fillna(0.0), sales, nk).where(has_name)
    out["sales_actual"] = _by_name(owners, to["actual"].fillna(0.0), sales, nk).where(has_name)
    brackets = calc.inputs.tables["brackets"].dropna(subset=["from"])
    raw = commission(out["sales_target"].fillna(0.0), out["sales_actual"], brackets)
    cap = s.get("commission_cap")
    if cap is not None and not pd.isna(cap):
        raw = np.minimum(raw, cap)
    ok = valid & brackets_ascending(brackets)
    out["commission"] = xround(raw, 2).where(ok)
    adj = pd.Series([calc.frame(SHEET)["adjustment"].get(r, np.nan) for r in rows], index=idx, dtype=float)
    reason = pd.Series([calc.frame(SHEET)["adjustment_reason"].get(r, "") or "" for r in rows], index=idx)
    adj_ok = ~(adj.notna() & (reason == ""))
    out["payout"] = xround(out["bonus"] + out["commission"] + adj.fillna(0.0), 2).where(adj_ok & has_name)

    top = ceil_share(n, s["top_share"])
    bottom = ceil_share(n, s["bottom_share"])
    r = out["rank"]
    out["honours"] = np.where(r.notna() & (r <= top), calc.label("star"), "")
    is_bottom = r.notna() & (n >= 5) & (r > n - bottom)
    coach = _coaching(calc, out, ek, evo, nk)
    alerts = []
    for b, c in zip(is_bottom, coach):
        parts = [calc.label("bottom")] * bool(b) + [calc.label("coaching")] * bool(c)
        alerts.append("、".join(parts) if calc.lang == "zh" else ", ".join(parts))
    out["alerts"] = pd.Series(alerts, index=idx, dtype=object)
    out["honours"] = out["honours"].astype(object)
    calc.out[SHEET] = out
    _check(calc, out, adj, reason, brackets, valid, has_name)


def _coaching(calc: Calc, out, ek, evo, nk) -> pd.Series:
    """Monthly totals below the coaching line in N consecutive months of this workbook."""
    line, need = calc.s["coach_line"], int(calc.s["coach_months"] or 0)
    one = pd.Series(1.0, index=evo.index)
    run = pd.Series(0.0, index=out.index)
    longest = pd.Series(0.0, index=out.index)
    for i in (1, 2, 3):
        m = evo["_mon"] == i
        n = _by_name(ek, one, m, nk)
        w = _by_name(ek, evo["_w"], m, nk)
        ok = _by_name(ek, evo["_ok"], m, nk)
        tot = xround(_by_name(ek, evo["weighted"].fillna(0.0), m, nk), 4)
        mt = tot.where((n > 0) & ((w - 1).abs() <= TOLERANCE) & (ok == n) & (nk != ""))
        out[f"_m{i}"] = mt
        for row in out.index[(n > 0) & ((w - 1).abs() > TOLERANCE) & (nk != "")]:
            sheet, cell = calc.cell(SHEET, "alerts", row)
            calc.problems.add(WARNING, sheet, cell, f"{w[row]:.2%}", "100%",
                              (f"{out.at[row, 'name']} {calc.inputs.months[i - 1]} 的权重合计不是 100%，该月不计入绩效辅导判断",
                               f"{out.at[row, 'name']}'s weights for {calc.inputs.months[i - 1]} do not sum to 100%; "
                               "that month is left out of the coaching rule"), "weights-month")
        below = mt.notna() & (mt < line)
        run = np.where(below, run + 1, 0.0)
        out[f"_r{i}"] = run
        longest = np.maximum(longest, run)
    return pd.Series(longest >= max(need, 1), index=out.index)


def _check(calc: Calc, out, adj, reason, brackets, valid, has_name) -> None:
    p = calc.problems
    for row in out.index[has_name & ~valid & (out["_n"] > 0) & ((out["_wsum"] - 1).abs() > TOLERANCE)]:
        sheet, cell = calc.cell(SHEET, "total", row)
        p.add(ERROR, sheet, cell, f"{out.at[row, '_wsum']:.2%}", "100%",
              (f"{out.at[row, 'name']} 本期权重合计不是 100%，总分与奖金留空",
               f"{out.at[row, 'name']}'s weights for the period do not sum to 100%; total and payout left blank"),
              "weights-person")
    for row in out.index[has_name & ~valid & (out["_n"] > 0) & (out["_okn"] < out["_n"])
                         & ((out["_wsum"] - 1).abs() <= TOLERANCE)]:
        sheet, cell = calc.cell(SHEET, "total", row)
        p.add(WARNING, sheet, cell, f"{int(out.at[row, '_okn'])}/{int(out.at[row, '_n'])}",
              calc.say("每个指标都有得分", "a score for every indicator"),
              (f"{out.at[row, 'name']} 尚有指标未评分，总分暂不计算",
               f"{out.at[row, 'name']} has indicators without a score yet; no total"), "scores-missing")
    no_factor = has_name & valid & out["factor"].isna()
    for row in out.index[no_factor]:
        sheet, cell = calc.cell(SHEET, "factor", row)
        p.add(WARNING, sheet, cell, "", calc.say("至少一个有完成率的定量指标", "a quantitative indicator with a completion"),
              (f"{out.at[row, 'name']} 没有可计算完成率的定量指标，按完成率定系数时奖金留空",
               f"{out.at[row, 'name']} has no quantitative indicator with a completion; under the completion basis the bonus stays blank"),
              "no-overall")
    for row in out.index[has_name & out["bonus_base"].isna() & valid]:
        sheet, cell = calc.cell(SHEET, "bonus_base", row)
        p.add(WARNING, sheet, cell, "", calc.say("“团队”表中的奖金基数", "a bonus base on Team"),
              (f"{out.at[row, 'name']} 没有奖金基数，绩效奖金留空", f"{out.at[row, 'name']} has no bonus base; no performance bonus"),
              "no-bonus-base")
    for row in out.index[adj.notna() & (reason == "")]:
        sheet, cell = calc.cell(SHEET, "adjustment_reason", row)
        p.add(ERROR, sheet, cell, "", calc.say("调整原因", "a reason for the adjustment"),
              ("有调整金额但没有调整原因，应发合计留空", "Adjustment without a reason; total payout left blank"),
              "adjustment-reason")
    if not brackets_ascending(brackets):
        p.add(ERROR, calc.layout.sheet("settings").name, "", " / ".join(f"{f:.0%}" for f in brackets["from"]),
              calc.say("按完成率下限从小到大排列", "brackets in ascending order"),
              ("提成档位未按从小到大排列，提成留空", "Commission brackets are not in ascending order; commission left blank"),
              "brackets-order")


# ----------------------------------------------------------------- Excel

def formulas(L: Layout) -> dict[str, callable]:
    c = lambda key, r: L.ref(SHEET, key, r, here=SHEET)  # noqa: E731
    E = lambda key: L.rng("evaluation", key)  # noqa: E731
    G = lambda key: L.rng("targets", key)  # noqa: E731
    offset = L.sheet("team").first - L.sheet(SHEET).first
    team = lambda key, r: L.ref("team", key, r + offset)  # noqa: E731
    name = lambda r: c("name", r)  # noqa: E731

    def cur_sum(col, r):
        return f'SUMIFS({E(col)},{E("name")},{name(r)},{E("_cur")},1)'

    def avg(num, den):
        return lambda r: (f'IF({name(r)}="","",IF({cur_sum(den, r)}=0,"",{cur_sum(num, r)}/{cur_sum(den, r)}))')

    def month_total(i):
        def f(r):
            crit = f'{E("name")},{name(r)},{E("_mon")},{i}'
            n = f'COUNTIFS({crit})'
            return (f'IF({name(r)}="","",IF(AND({n}>0,ABS(SUMIFS({E("_w")},{crit})-1)<={TOLERANCE},'
                    f'SUMIFS({E("_ok")},{crit})={n}),ROUND(SUMIFS({E("weighted")},{crit}),4),""))')
        return f

    def r_col(i):
        def f(r):
            m = c(f"_m{i}", r)
            prev = f'{c(f"_r{i-1}", r)}+1' if i > 1 else "1"
            return f'IF(AND(ISNUMBER({m}),{m}<{S("coach_line")}),{prev},0)'
        return f

    totals = L.rng(SHEET, "total", here=SHEET)
    count = f"COUNT({totals})"
    gt = lambda col: table_name("grade_tiers", col)  # noqa: E731

    def factor(r):
        grade = tier_formula(c("total", r), gt("min"), gt("factor"), "0")
        payout = tier_formula(f'ROUND({c("overall", r)},4)', table_name("payout_tiers", "min"),
                              table_name("payout_tiers", "factor"), "0")
        basis = L.is_code(S("basis"), "basis", "grade")
        return f'IF({c("total", r)}="","",IF({basis},{grade},IF({c("overall", r)}="","",{payout})))'

    def commission_f(r):
        frm, nxt, rate = (table_name("brackets", k) for k in ("from", "next", "rate"))
        tgt, act = c("sales_target", r), c("sales_actual", r)
        ratio = f"({act}/{tgt})"
        nx = f'({nxt}+({nxt}="")*{HUGE})'
        m = f"(({ratio}<{nx})*{ratio}+({ratio}>={nx})*{nx})"
        marginal = f"SUMPRODUCT({rate}*(({m}-{frm})>0)*({m}-{frm}))"
        raw = f"{tgt}*{marginal}"
        capped = f'IF({S("commission_cap")}="",{raw},MIN({raw},{S("commission_cap")}))'
        unsorted = f'SUMPRODUCT(({nxt}<{frm})*({nxt}<>""))>0'
        return (f'IF(OR({name(r)}="",{c("_valid", r)}=0,{unsorted}),"",'
                f'IF(N({tgt})<=0,0,ROUND({capped},2)))')

    def alerts(r):
        rank = c("rank", r)
        bottom = (f'AND({rank}<>"",{count}>=5,{rank}>{count}-ROUNDUP(ROUND({count}*{S("bottom_share")},9),0))')
        coach = f'MAX({c("_r1", r)}:{c("_r3", r)})>=MAX(1,{S("coach_months")})'
        sep = "、" if L.lang == "zh" else ", "
        return (f'IF({bottom},"{L.label("bottom")}","")&IF(AND({bottom},{coach}),"{sep}","")'
                f'&IF({coach},"{L.label("coaching")}","")')

    return {
        "name": lambda r: f'IF({team("name", r)}="","",{team("name", r)})',
        "group": lambda r: f'IF(OR({name(r)}="",{team("group", r)}=""),"",{team("group", r)})',
        "_n": lambda r: f'IF({name(r)}="",0,COUNTIFS({E("name")},{name(r)},{E("_cur")},1))',
        "_wsum": lambda r: f'IF({name(r)}="",0,{cur_sum("_w", r)})',
        "_okn": lambda r: f'IF({name(r)}="",0,{cur_sum("_ok", r)})',
        "_valid": lambda r: (f'IF(AND({c("_n", r)}>0,ABS({c("_wsum", r)}-1)<={TOLERANCE},'
                             f'{c("_okn", r)}={c("_n", r)}),1,0)'),
        "quant_score": avg("_qws", "_qw"),
        "qual_score": avg("_lws", "_lw"),
        "total": lambda r: f'IF({c("_valid", r)}=1,ROUND({cur_sum("weighted", r)},4),"")',
        "grade": lambda r: f'IF({c("total", r)}="","",{tier_formula(c("total", r), gt("min"), gt("grade"), chr(34) * 2)})',
        "rank": lambda r: f'IF({c("total", r)}="","",RANK({c("total", r)},{totals},0))',
        "overall": avg("_wc", "_wq"),
        "bonus_base": lambda r: f'IF(OR({name(r)}="",{team("bonus_base", r)}=""),"",{team("bonus_base", r)})',
        "factor": factor,
        "bonus": lambda r: (f'IF(OR({c("factor", r)}="",{c("bonus_base", r)}=""),"",'
                            f'ROUND({c("bonus_base", r)}*{c("factor", r)},2))'),
        "sales_target": lambda r: f'IF({name(r)}="","",SUMIFS({G("target")},{G("_sales")},1,{G("owner")},{name(r)}))',
        "sales_actual": lambda r: f'IF({name(r)}="","",SUMIFS({G("actual")},{G("_sales")},1,{G("owner")},{name(r)}))',
        "commission": commission_f,
        "payout": lambda r: (f'IF(OR({name(r)}="",{c("bonus", r)}="",{c("commission", r)}=""),"",'
                             f'IF(AND({c("adjustment", r)}<>"",{c("adjustment_reason", r)}=""),"",'
                             f'ROUND({c("bonus", r)}+{c("commission", r)}+N({c("adjustment", r)}),2)))'),
        "honours": lambda r: (f'IF({c("rank", r)}="","",IF({c("rank", r)}<=ROUNDUP(ROUND({count}*{S("top_share")},9),0),'
                              f'"{L.label("star")}",""))'),
        "alerts": alerts,
        "_m1": month_total(1), "_m2": month_total(2), "_m3": month_total(3),
        "_r1": r_col(1), "_r2": r_col(2), "_r3": r_col(3),
    }
