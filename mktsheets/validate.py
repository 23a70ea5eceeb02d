"""Cross-sheet checks of SPEC §4: unknown names and goals, duplicates, dates, weeks, weights."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .problems import ERROR, WARNING
from .rules.base import from_serial, share_used
from .rules.context import Calc, key_of

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NAME_COLUMNS = (("targets", "owner", WARNING), ("targets", "executor", WARNING), ("tracking", "owner", WARNING),
                ("evaluation", "name", ERROR), ("review", "owner", WARNING))
GOAL_COLUMNS = (("targets", "parent"), ("tracking", "goal"), ("evaluation", "goal"), ("review", "goal"))


def validate(calc: Calc) -> None:
    """Add every cross-sheet problem to calc.problems."""
    _team(calc)
    _names(calc)
    _goals(calc)
    _dates(calc)
    _weeks(calc)
    _goal_weights(calc)


def _add(calc: Calc, severity, sheet, key, row, found, expected, message, code) -> None:
    name, cell = calc.cell(sheet, key, row)
    calc.problems.add(severity, name, cell, found, expected, message, code)


def _team(calc: Calc) -> None:
    team = calc.frame("team")
    names = team["name"].fillna("")
    seen: dict[str, int] = {}
    for row, n in names.items():
        k = key_of(n)
        if not k:
            others = team.loc[row].drop("name")
            if any(v not in ("", None) and not (isinstance(v, float) and np.isnan(v)) for v in others):
                _add(calc, ERROR, "team", "name", row, "", ("姓名", "a name"),
                     ("这一行没有姓名", "This row has no name"), "name-missing")
            continue
        if k in seen:
            _add(calc, ERROR, "team", "name", row, n, ("不重复的姓名", "a unique name"),
                 (f"姓名重复（第 {seen[k]} 行已有），无法区分两人的评估与奖金",
                  f"Duplicate name (also on row {seen[k]}): evaluations and payouts cannot be told apart"),
                 "duplicate-name")
        else:
            seen[k] = row
    for row, e in team["email"].fillna("").items():
        if e and not EMAIL.match(e):
            _add(calc, WARNING, "team", "email", row, e, ("邮箱地址，如 zhang@example.com", "an email address"),
                 ("邮箱格式不对", "Not an email address"), "email")


def _names(calc: Calc) -> None:
    known = {key_of(n) for n in calc.frame("team")["name"].fillna("") if n}
    for sheet, col, severity in NAME_COLUMNS:
        values = calc.frame(sheet)[col].fillna("")
        if sheet != "targets":   # one name per cell: look each distinct text up once
            unknown = {v for v in pd.unique(values) if v and key_of(v) not in known}
            values = values[values.isin(unknown)] if unknown else values.iloc[:0]
        for row, v in values.items():
            # several people may share a cell: 张三、李四
            people = [p for p in re.split(r"[、,，;；/\s]+", v) if p] if sheet == "targets" else [v] if v else []
            for person in people:
                if key_of(person) not in known:
                    _add(calc, severity, sheet, col, row, person, ("“团队”表中的姓名", "a name on Team"),
                         ("不在团队名单上", "Not on the Team roster"), "unknown-name")


def _goals(calc: Calc) -> None:
    ids = calc.frame("targets")["id"].fillna("")
    first: dict[str, int] = {}
    for row, g in ids.items():
        k = key_of(g)
        if not k:
            continue
        if k in first:
            _add(calc, ERROR, "targets", "id", row, g, ("不重复的目标编号", "a unique goal ID"),
                 (f"目标编号重复（第 {first[k]} 行已有），查找时只用第一行",
                  f"Duplicate goal ID (also on row {first[k]}); look-ups use the first one"), "duplicate-goal")
        else:
            first[k] = row
    for sheet, col in GOAL_COLUMNS:
        values = calc.frame(sheet)[col].fillna("")
        unknown = {v for v in pd.unique(values) if v and key_of(v) not in first}
        for row, v in (values[values.isin(unknown)] if unknown else values.iloc[:0]).items():
            if v and key_of(v) not in first:
                _add(calc, ERROR, sheet, col, row, v, ("“目标”表中的目标编号", "a goal ID on Targets"),
                     ("找不到这个目标编号", "Unknown goal ID"), "unknown-goal")


def _dates(calc: Calc) -> None:
    start, end = calc.s.get("start"), calc.s.get("end")
    if start is None or end is None:
        return
    if end < start:
        calc.problems.add(ERROR, calc.layout.sheet("settings").name, f"B{calc.layout.setting_rows['end']}",
                          str(from_serial(end)), calc.say("不早于开始日期", "not before the start"),
                          ("结束日期早于开始日期", "The period ends before it starts"), "end-before-start")
        return
    g = calc.frame("targets")
    bad = g["start"].notna() & g["end"].notna() & (g["end"] < g["start"])
    for row in g.index[bad]:
        _add(calc, ERROR, "targets", "end", row, str(from_serial(g.at[row, "end"])),
             calc.say("不早于开始日期", "not before the start"), ("结束日期早于开始日期", "End before start"),
             "end-before-start")
    for sheet, col in (("targets", "start"), ("targets", "end"), ("tracking", "due")):
        s = calc.frame(sheet)[col]
        outside = s.notna() & ((s < start) | (s > end))
        for row in s.index[outside]:
            _add(calc, WARNING, sheet, col, row, str(from_serial(s[row])),
                 f"{from_serial(start)} ~ {from_serial(end)}", ("日期不在本期内", "Date outside the period"),
                 "date-outside")


def _weeks(calc: Calc) -> None:
    n = len(calc.inputs.calendar)
    k = calc.frame("tracking")
    w = k["week"]
    # without a calendar (period unreadable, reported on Settings) every week would look outside it
    bad = w.notna() & ((w < 1) | (w > n) | (w % 1 != 0)) & (n > 0)
    for row in w.index[bad]:
        _add(calc, ERROR, "tracking", "week", row, w[row], f"1-{n}", ("周次不在本期周历内", "Week outside the calendar"),
             "week-outside")
    missing = w.isna() & (k["actual"].notna() | k["planned"].notna())
    for row in w.index[missing]:
        _add(calc, ERROR, "tracking", "week", row, "", f"1-{n}", ("有计划或实际量但没有周次", "Planned or actual without a week"),
             "week-missing")


def _goal_weights(calc: Calc) -> None:
    """Weights of the goals under one parent (or of the roots of one level) should sum to 100%."""
    g = calc.frame("targets")
    rows = g[g["id"].fillna("") != ""]
    if rows.empty:
        return
    w = share_used(rows["weight"])
    parent = rows["parent"].fillna("").map(key_of)
    level = rows["level"].fillna("")
    group = np.where(parent != "", "p:" + parent, "l:" + level)
    frame = pd.DataFrame({"w": w, "has": rows["weight"].notna(), "group": group}, index=rows.index)
    for _, grp in frame.groupby("group"):
        if not grp["has"].any():
            continue
        total = grp["w"].sum()
        if abs(total - 1) > 0.0001:
            row = grp.index[0]
            _add(calc, WARNING, "targets", "weight", row, f"{total:.2%}", "100%",
                 ("同一上级目标（或同一层级的顶层目标）的权重合计不是 100%",
                  "Weights of the goals under one parent (or of one level's top goals) do not sum to 100%"),
                 "weights-goals")
