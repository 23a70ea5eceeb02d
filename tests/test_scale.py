"""Recalc on a large quarter (issue 6): the values it writes, checked against an independent reading.

A quarter of about 50,000 tracking rows (1,000 people, ~3,850 goals) is generated with the
benchmark's own data (scripts/bench_recalc.py), given some holes (weeks without an actual,
a planned amount of 0, typed goal actuals), filled through `mktsheets new`, and recalculated
once. The checks read the result with python-calamine (not mktsheets' reader) and recompute
the Tracking and Targets figures with plain pandas from SPEC §3 (R1, R2, R5). They also
check that no input cell changed, that the bulk column writes produce exactly the bytes
the cell-by-cell patcher produces for the same cells, and that a second recalc changes
nothing. Time is measured by the benchmark, not here.
"""
from __future__ import annotations

import importlib.util
import shutil
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

from mktsheets.generate import new_workbook
from mktsheets.recalc import build_edits, recalc
from mktsheets.xlsxpatch import CellWrite, SheetWrites, patch_workbook

ROWS = 50_000
BENCH = Path(__file__).resolve().parent.parent / "scripts" / "bench_recalc.py"


def bench_module():
    spec = importlib.util.spec_from_file_location("bench_recalc", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module     # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def sheet(path: Path, name: str) -> pd.DataFrame:
    """A sheet as calamine reads it, with its first row as the header and Excel row numbers as index."""
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(name).to_python(skip_empty_area=False)
    frame = pd.DataFrame(rows[1:], columns=rows[0])
    frame.index = range(2, len(rows) + 1)
    return frame


def setting(path: Path, label: str) -> float:
    """The 'value used' (column C) of a Settings row, found by its label."""
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("参数").to_python()
    return next(r[2] for r in rows if r and r[0] == label)


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def blank(v) -> bool:
    return v is None or v == "" or (isinstance(v, float) and np.isnan(v))


@pytest.fixture(scope="module")
def quarter(tmp_path_factory):
    bench = bench_module()
    data = bench.quarter_data(ROWS)
    tracking = data["tracking"]
    for i, row in enumerate(tracking):
        if i % 97 == 5:            # a week not reported yet
            row.pop("actual", None)
        elif i % 1009 == 7:        # a planned amount of 0 with an actual: completion blank, an error
            row["planned"] = 0
    for i, goal in enumerate(data["targets"]):
        if goal["level"] == "个人" and i % 89 == 3:
            goal["manual_actual"] = round(goal["target"] * 0.5, 2)
    folder = tmp_path_factory.mktemp("scale")
    original = folder / "大季度 2024Q3.xlsx"
    new_workbook(original, period=bench.PERIOD, data=data)
    done = folder / "recalculated.xlsx"
    shutil.copy(original, done)
    result = recalc(done, backup=False)
    return original, done, result


def test_the_quarter_is_large(quarter):
    original, done, result = quarter
    assert len(sheet(done, "跟踪")) >= ROWS
    assert result.cells_written > 15 * ROWS       # 8 computed cells a tracking row, ~60 a goal, ...


def test_no_input_cell_changed(quarter):
    original, done, result = quarter
    wb = result.workbook
    for key in ("team", "targets", "tracking", "evaluation", "review"):
        name = wb.loaded.layout.sheet(key).name
        inputs = [c.header("zh") for c in wb.loaded.template.sheet(key).columns if c.is_input]
        before, after = sheet(original, name), sheet(done, name)
        assert len(after) >= len(before), name
        # pre-formatted rows below the data get cached values ("") for their live formulas
        assert before[inputs].equals(after.loc[before.index, inputs]), name
        assert after.loc[len(before) + 2:, inputs].map(blank).all().all(), name


def test_tracking_rows_against_an_independent_computation(quarter):
    _, done, _ = quarter
    trk, goals = sheet(done, "跟踪"), sheet(done, "目标")
    warn, over = setting(done, "预警阈值"), setting(done, "超额阈值")
    trk = trk[trk["目标编号"] != ""]
    lower = trk["目标编号"].map(dict(zip(goals["目标编号"], goals["方向"] == "越低越好")))
    planned = pd.to_numeric(trk["计划量"].replace("", np.nan))
    actual = pd.to_numeric(trk["实际量"].replace("", np.nan))
    ok = actual.notna() & (planned > 0) & (~lower | (actual > 0))
    expected = np.where(lower, planned / actual, actual / planned)
    expected = pd.Series(np.where(ok, expected, np.nan), index=trk.index)
    written = pd.to_numeric(trk["完成率"].replace("", np.nan))
    assert written.isna().equals(expected.isna())
    assert np.allclose(written.dropna(), expected.dropna(), rtol=1e-12, atol=0)
    c4 = expected.round(4)
    status = np.select([c4.isna(), c4 >= over, c4 >= 1, c4 >= warn], ["", "超额", "达标", "正常"], "预警")
    assert (trk["偏差状态"].to_numpy() == status).all()
    assert (actual.isna().sum(), (planned == 0).sum()) >= (400, 40)   # the holes are there


def test_goal_actuals_against_an_independent_computation(quarter):
    """R2: typed actual, else the tracking rows by the goal's aggregation, else the children's sum."""
    _, done, _ = quarter
    trk, goals = sheet(done, "跟踪"), sheet(done, "目标")
    trk = trk.assign(actual=pd.to_numeric(trk["实际量"].replace("", np.nan)))
    week_totals = trk.dropna(subset=["actual"]).groupby(["目标编号", "周次"])["actual"].agg(["sum", "mean"])
    children: dict[str, list[str]] = {}
    for gid, parent in zip(goals["目标编号"], goals["上级目标"]):
        if parent:
            children.setdefault(parent, []).append(gid)
    goals = goals[goals["目标编号"] != ""]
    by_id = dict(zip(goals["目标编号"], goals.to_dict("records")))
    has_rows = set(week_totals.index.get_level_values(0))

    def actual_of(gid: str) -> float:
        g = by_id[gid]
        if not blank(g["手填实际值"]):
            return float(g["手填实际值"])
        if gid in has_rows:
            weeks = week_totals.loc[gid]
            if g["汇总方式"] == "累计":
                return weeks["sum"].sum()
            if g["汇总方式"] == "最新":
                return weeks["mean"].iloc[-1]
            return weeks["sum"].mean()
        kids = [actual_of(k) for k in children.get(gid, [])]
        kids = [k for k in kids if not np.isnan(k)]
        return sum(kids) if kids else np.nan

    expected = pd.Series([actual_of(g) for g in goals["目标编号"]], index=goals.index)
    written = pd.to_numeric(goals["实际值"].replace("", np.nan))
    assert written.isna().equals(expected.isna())
    assert np.allclose(written.dropna(), expected.dropna(), rtol=1e-9, atol=1e-6)
    assert (goals["层级"] == "公司").sum() == 3 and written[goals["层级"] == "公司"].notna().all()


def test_column_writes_match_the_cell_by_cell_patcher(quarter, tmp_path):
    original, done, result = quarter
    edits = build_edits(result.workbook)     # what recalc computed from the original file
    one_by_one = {}
    for name, sheet_edits in edits.items():
        if not isinstance(sheet_edits, SheetWrites):
            one_by_one[name] = sheet_edits
            continue
        cells = dict(sheet_edits.cells)
        for column in sheet_edits.columns:
            for i, v in enumerate(column.values.tolist()):
                r = column.first + i
                cells[f"{column.column}{r}"] = CellWrite(column.formula(r), "" if blank(v) else v)
        one_by_one[name] = cells
    slow = tmp_path / "cell-by-cell.xlsx"
    patch_workbook(original, slow, one_by_one)
    assert members(slow) == members(done)


def test_a_second_recalc_changes_nothing(quarter, tmp_path):
    _, done, _ = quarter
    again = tmp_path / "again.xlsx"
    shutil.copy(done, again)
    recalc(again, backup=False)
    assert members(again) == members(done)
