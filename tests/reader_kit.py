"""Helpers of tests/test_reader.py and tests/test_check.py: real files as other programs and people leave them.

* `plant` types values into cells (xlsxpatch, every other byte kept); `ErrorCell` makes a real error
  cell (`t="e"`, which calamine reads as blank) and `DateCell` a number in a date-formatted cell (what
  Excel makes of `2024-07` typed into a text column).
* `edit_part` rewrites one zip member (a sheet's `<dimension>`, docProps/custom.xml).
* `reshape` moves columns, renames headers, inserts a title band and a user column with openpyxl.
* `bad_workbook` plants one of each SPEC §4 problem into the sample quarter and says where.
* `comparable` turns computed frames of both languages into the same labels.
"""
from __future__ import annotations

import math
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd

from mktsheets.api import Workbook
from mktsheets.layout import col_index, col_letter
from mktsheets.rules.base import to_serial
from mktsheets.schema import load_template
from mktsheets.xlsxpatch import CellWrite, patch_workbook, sheet_parts

DATA_SHEETS = ("team", "targets", "tracking", "evaluation", "incentives", "review")
CJK = re.compile(r"[\u4e00-\u9fff]")


# --------------------------------------------------------------------------- writing cells


@dataclass(frozen=True)
class ErrorCell:
    """A cell holding an Excel error value, e.g. #DIV/0!."""

    text: str


@dataclass(frozen=True)
class DateCell:
    """A number in a cell with the date style of `style_of` (a date cell of the same file)."""

    serial: float


def _cell_pattern(a1: str) -> re.Pattern:
    return re.compile(rb'<c r="' + a1.encode() + rb'"(?P<attrs>[^>]*?)(?:/>|>.*?</c>)', re.DOTALL)


def date_style(path: Path, sheet: str, a1: str) -> str:
    """The s attribute of a date-formatted cell (to copy onto another cell)."""
    with zipfile.ZipFile(path) as zf:
        xml = zf.read(sheet_parts(path)[sheet])
    m = _cell_pattern(a1).search(xml)
    return re.search(rb's="(\d+)"', m.group("attrs")).group(1).decode()


def plant(src: Path, dst: Path, edits: dict[str, dict[str, object]], date_style_id: str | None = None) -> Path:
    """Copy src to dst with cells set: sheet name -> A1 -> value (None deletes; ErrorCell; DateCell)."""
    plain = {s: {a: CellWrite(None, 0 if isinstance(v, (ErrorCell, DateCell)) else v) for a, v in cells.items()}
             for s, cells in edits.items()}
    special = {s: {a: v for a, v in cells.items() if isinstance(v, (ErrorCell, DateCell))} for s, cells in edits.items()}
    special = {s: cells for s, cells in special.items() if cells}
    if not special:
        patch_workbook(src, dst, plain)
        return dst
    tmp = dst.with_name(dst.stem + ".plain.xlsx")
    patch_workbook(src, tmp, plain)
    parts = sheet_parts(tmp)

    def xml_of(a1: str, v) -> bytes:
        if isinstance(v, ErrorCell):
            return f'<c r="{a1}" t="e"><v>{v.text}</v></c>'.encode()
        assert date_style_id is not None, "DateCell needs date_style_id"
        return f'<c r="{a1}" s="{date_style_id}"><v>{v.serial!r}</v></c>'.encode()

    def edit(name: str, data: bytes) -> bytes:
        for sheet, cells in special.items():
            if parts[sheet] == name:
                for a1, v in cells.items():
                    data, n = _cell_pattern(a1).subn(xml_of(a1, v).replace(b"\\", b"\\\\"), data, count=1)
                    assert n == 1, f"{sheet}!{a1} not written"
        return data

    edit_part(tmp, dst, edit)
    tmp.unlink()
    return dst


def edit_part(src: Path, dst: Path, edit: Callable[[str, bytes], bytes]) -> Path:
    """Copy the package, passing every member through edit(name, data)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info, edit(info.filename, zin.read(info)))
    return dst


# --------------------------------------------------------------------------- moving things around


def reshape(src: Path, dst: Path, sheets: dict[str, dict], extra_sheets: tuple[str, ...] = ()) -> Path:
    """Rebuild sheets with openpyxl as a user would rearrange them.

    sheets: sheet name -> {"order": [header texts in the new order] (others keep theirs, appended),
    "rename": {old header: new header}, "insert": {after header: (new header, values)},
    "title_rows": n (a title band above the header)}. Formulas are kept as text (openpyxl
    leaves them without cached values, so Python has to compute everything).
    """
    wb = openpyxl.load_workbook(src)
    for name, how in sheets.items():
        ws = wb[name]
        grid = [[c.value for c in row] for row in ws.iter_rows()]
        header = grid[0]
        cols = list(range(len(header)))
        pos = {h: i for i, h in enumerate(header) if h}
        wanted = [pos[h] for h in how.get("order", ())]
        new_cols: list = wanted + [i for i in cols if i not in wanted]
        for after, (title, values) in how.get("insert", {}).items():
            new_cols.insert(new_cols.index(pos[after]) + 1, (title, values))
        rename = how.get("rename", {})
        for row in ws.iter_rows():
            for c in row:
                c.value = None
        band = how.get("title_rows", 0)
        if band:
            ws.cell(1, 1, f"{name} — 2024Q3 (用户加的标题)")
            ws.cell(band - 1 if band > 1 else 1, 3, "填表说明：黄色为输入")
        for j, src_col in enumerate(new_cols, start=1):
            for i, row in enumerate(grid, start=1):
                if isinstance(src_col, tuple):
                    title, values = src_col
                    v = title if i == 1 else (values[i - 2] if i - 2 < len(values) else None)
                else:
                    v = row[src_col] if src_col < len(row) else None
                    if i == 1:
                        v = rename.get(v, v)
                ws.cell(band + i, j, v)
    for i, extra in enumerate(extra_sheets):
        ws = wb.create_sheet(extra, index=0 if i == 0 else None)
        ws["A1"], ws["B2"], ws["C3"] = "我自己的笔记", 42, "姓名"
    wb.save(dst)
    return dst


# --------------------------------------------------------------------------- comparing


def finite_or_blank(values) -> bool:
    return all(v is None or (isinstance(v, (int, float, np.floating)) and not math.isinf(v)) for v in values)


def comparable(wb: Workbook, key: str) -> pd.DataFrame:
    """Every column of a sheet with labels and codes in Chinese, rows renumbered from 0."""
    t = load_template()
    to_zh: dict[str, str] = {}          # first meaning wins: "Warning" is 预警 as a status (警告 is a severity)
    for pairs in (t.labels.values(), *(codes.values() for codes in t.codes.values())):
        for v in pairs:
            to_zh.setdefault(v[1], v[0])
    df = wb.frame(key).reset_index(drop=True).copy()
    for col in df.columns:
        if df[col].dtype == object or str(df[col].dtype) in ("str", "string"):
            df[col] = [", ".join(to_zh.get(x, x) for x in re.split(r"、|, ", v)) if isinstance(v, str) and v else v
                       for v in df[col]]
    return df


def assert_same_frames(a: Workbook, b: Workbook, keys=DATA_SHEETS) -> None:
    for key in keys:
        pd.testing.assert_frame_equal(comparable(a, key), comparable(b, key), check_dtype=False, obj=key)


# --------------------------------------------------------------------------- a workbook with every problem


@dataclass(frozen=True)
class Planted:
    sheet: str          # sheet key
    column: str         # column key (or "" for a Settings value)
    row: int
    value: object       # what was typed
    code: str           # the problem code expected
    severity: str
    found: str          # the found text expected


def bad_plan(wb: Workbook) -> list[Planted]:
    """One planted cell per check of SPEC §4, in the workbook's language (sample quarter rows)."""
    en = wb.lang == "en"
    g = wb.frame("targets")
    row = {gid: r for r, gid in g["id"].items() if gid}
    team_last = max(r for r, n in wb.frame("team")["name"].items() if n)
    goal_new, team_new = max(row.values()) + 1, team_last + 1
    ev_new = max(r for r, n in wb.frame("evaluation")["name"].items() if n) + 1
    s = to_serial
    return [
        Planted("targets", "target", row["G4"], "abc", "unreadable", "error", "abc"),
        Planted("targets", "start", row["G5"], "2024-02-30", "unreadable", "error", "2024-02-30"),
        Planted("tracking", "actual", 10, ErrorCell("#DIV/0!"), "formula-error", "error", "#DIV/0!"),
        Planted("targets", "owner", row["G2"], "王小明", "unknown-name", "warning", "王小明"),
        Planted("tracking", "goal", 5, "G99", "unknown-goal", "error", "G99"),
        Planted("targets", "id", goal_new, "G2", "duplicate-goal", "error", "G2"),
        Planted("targets", "level", goal_new, "Company" if en else "公司", "", "", ""),
        Planted("team", "name", team_new, "张三", "duplicate-name", "error", "张三"),
        Planted("targets", "start", row["G3"], s(date(2024, 9, 1)), "", "", ""),
        Planted("targets", "end", row["G3"], s(date(2024, 8, 1)), "end-before-start", "error", "2024-08-01"),
        Planted("tracking", "due", 6, s(date(2025, 1, 15)), "date-outside", "warning", "2025-01-15"),
        Planted("tracking", "week", 7, 20, "week-outside", "error", "20"),
        Planted("targets", "weight", row["G211"], 0.5, "weights-goals", "warning", "90.00%"),
        Planted("team", "bonus_base", 3, -5000, "negative", "error", "-5000"),
        Planted("tracking", "planned", 8, -3, "negative", "error", "-3"),
        Planted("targets", "completion", row["G1"], 0.9, "overwritten", "warning", "0.9"),
        Planted("evaluation", "weight", 2, 50, "percent-as-whole", "note", "50"),
        Planted("tracking", "actual", 9, "150000", "number-as-text", "note", "150000"),
        Planted("evaluation", "period", ev_new, DateCell(s(date(2024, 7, 1))), "period-variant", "note", "2024-07-01"),
        Planted("evaluation", "name", ev_new, "刘洋", "", "", ""),
        Planted("evaluation", "indicator", ev_new, "月度", "", "", ""),
        Planted("evaluation", "kind", ev_new, "Qualitative" if en else "定性", "", "", ""),
        Planted("evaluation", "weight", ev_new, 1, "", "", ""),
        Planted("evaluation", "manager_score", ev_new, 70, "", "", ""),
    ]


def a1_of(wb: Workbook, p: Planted) -> str:
    return f"{wb.loaded.layout.sheet(p.sheet).letter(p.column)}{p.row}"


def bad_workbook(src: Path, dst: Path, wb: Workbook) -> list[Planted]:
    """Plant bad_plan(wb) into a copy of wb's file; returns the plan (with a1_of for addresses)."""
    plan = bad_plan(wb)
    L = wb.loaded.layout
    edits: dict[str, dict] = {}
    for p in plan:
        edits.setdefault(L.sheet(p.sheet).name, {})[a1_of(wb, p)] = p.value
    start_cell = f"{L.sheet('targets').letter('start')}2"
    plant(src, dst, edits, date_style(src, L.sheet("targets").name, start_cell))
    return plan


def a1_parts(a1: str) -> tuple[int, int]:
    m = re.fullmatch(r"([A-Z]+)(\d+)", a1)
    return col_index(m.group(1)), int(m.group(2))


__all__ = ["CJK", "DATA_SHEETS", "DateCell", "ErrorCell", "Planted", "a1_of", "a1_parts", "assert_same_frames",
           "bad_plan", "bad_workbook", "col_letter", "comparable", "date_style", "edit_part", "finite_or_blank",
           "plant", "reshape"]
