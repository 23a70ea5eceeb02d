"""`mktsheets recalc`: write every computed value back into the user's own file, losing nothing.

Only the cells of computed columns (their formulas with fresh cached values), the
Settings "value used" column, the calendar, the Dashboard figures and the Checks
rows are written; every other byte of the package is copied as it was
(`xlsxpatch`). The new file is written beside the old one and swapped in atomically.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from . import checks_sheet
from .api import Workbook, load
from .compute import helper_keys, sheet_formulas
from .layout import col_letter, setting_name
from .problems import Problem
from .reader import DATA_SHEETS
from .rules import dashboard, settings_sheet
from .rules.base import from_serial
from .safety import FileProblem, lock_files, make_backup, write_atomically
from .xlsxpatch import CellWrite, ColumnWrite, SheetWrites, patch_workbook

CHECKS_INFO_COL = 7   # H: "as of" label, I: its value


@dataclass
class RecalcResult:
    """What recalc did: where it wrote, what it found, and the weekly-review summary."""

    path: Path
    backup: Path | None
    workbook: Workbook
    cells_written: int
    summary: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[Problem]:
        return self.workbook.problems

    @property
    def errors(self) -> list[Problem]:
        return self.workbook.errors


def _cached(value):
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        return "" if math.isnan(value) else float(value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    return str(value)


def build_edits(wb: Workbook) -> dict[str, SheetWrites | dict[str, CellWrite]]:
    """Every cell recalc writes, by sheet name: whole computed columns, and single cells."""
    loaded, calc, L = wb.loaded, wb.calc, wb.loaded.layout
    edits: dict[str, SheetWrites | dict[str, CellWrite]] = {}
    builders = sheet_formulas(L)
    for key in DATA_SHEETS:
        if key not in calc.out:      # Team: all input
            continue
        sl = L.sheet(key)
        headers: dict[str, CellWrite] = {}
        columns: list[ColumnWrite] = []
        out = calc.out[key]
        t = loaded.template.sheet(key)
        keys = [c.key for c in t.columns if not c.is_input] + list(helper_keys(key, L.weeks))
        for ckey in keys:
            letter = col_letter(sl.columns[ckey])
            if ckey in loaded.missing_columns.get(key, ()):
                header = ckey if ckey.startswith("_") else t.column(ckey).header(L.lang)
                headers[f"{letter}{sl.header_row}"] = CellWrite(None, header)
            columns.append(ColumnWrite(letter, sl.first, _column_values(out[ckey], sl.rows), builders[key][ckey]))
        edits[sl.name] = SheetWrites(columns, headers)
    _settings_edits(wb, edits.setdefault(L.sheet("settings").name, {}))
    dash = edits.setdefault(L.sheet("dashboard").name, {})
    values = calc.out["dashboard"]
    for a1, formula in dashboard.formulas(L).items():
        dash[a1] = CellWrite(formula, _cached(values.get(a1)))
    _checks_edits(wb, edits.setdefault(L.sheet("checks").name, {}))
    return edits


def _column_values(values: pd.Series, rows: range) -> np.ndarray:
    """A computed column's cached values for rows, as the patcher takes them (NaN/None: empty text)."""
    values = values.reindex(rows)
    if values.dtype == np.float64:
        return values.to_numpy()
    array = values.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(array, skipna=True) in ("string", "empty", "floating", "integer",
                                                          "mixed-integer-float"):
        blank = pd.isna(array)
        if blank.any():
            array = array.copy()
            array[blank] = None
        return array
    cached = [_cached(v) for v in array]                  # anything else as it was always written
    return np.array([None if c == "" else c for c in cached], dtype=object)


def _settings_edits(wb: Workbook, edits: dict[str, CellWrite]) -> None:
    L, calc = wb.loaded.layout, wb.calc
    used = calc.out["settings"]
    for s in wb.loaded.template.settings:
        row = L.setting_rows.get(s.key)
        if row is None:
            continue
        default = s.default if s.key not in {"start", "end"} else calc.s.get(s.key)
        edits[f"{settings_sheet.USED_COL}{row}"] = CellWrite(settings_sheet.used_formula(L, s.key, default),
                                                             _cached(used.get(s.key)))
    if L.calendar_first:
        values = settings_sheet.calendar_values(calc, L.calendar_len)
        for i in range(L.calendar_len):
            for j, (col, f) in enumerate(settings_sheet.calendar_formulas(L, i).items()):
                edits[f"{col}{L.calendar_first + i}"] = CellWrite(f, _cached(values[i][j]))


def _checks_edits(wb: Workbook, edits: dict[str, CellWrite]) -> None:
    """Rewrite the Checks rows; clear rows left over from the previous run."""
    rows = checks_sheet.rows(wb.calc.problems, wb.lang)
    grid = wb.loaded.grids.get("checks", [])
    old = len(grid)
    for i in range(max(old - 1, len(rows))):
        r = i + 2
        row = rows[i] if i < len(rows) else None
        for j, key in enumerate(checks_sheet.COLUMNS):
            a1 = f"{col_letter(j)}{r}"
            if row is None:
                edits[a1] = CellWrite(None, None)
            elif key == "cell":
                link = row["cell"]
                edits[a1] = CellWrite(link[0], link[1]) if link else CellWrite(None, "")
            else:
                edits[a1] = CellWrite(None, row[key] or "")
    label = "统计截止日" if wb.lang == "zh" else "As of"
    edits[f"{col_letter(CHECKS_INFO_COL)}1"] = CellWrite(None, label)
    edits[f"{col_letter(CHECKS_INFO_COL + 1)}1"] = CellWrite(
        setting_name("as_of"), _cached(wb.calc.s.get("as_of_used")))


def summary(wb: Workbook) -> list[str]:
    """A few lines for the weekly review, in the workbook's language."""
    calc = wb.calc
    say, sep = calc.say, ("、" if wb.lang == "zh" else ", ")
    trk, tro = calc.frame("tracking"), calc.out["tracking"]
    as_of = calc.s.get("as_of_used")
    known = as_of is not None and not (isinstance(as_of, float) and math.isnan(as_of))
    cal = calc.inputs.calendar
    week = cal.loc[(cal["start"] <= as_of) & (cal["end"] >= as_of), "week"] if known else []
    this_week = float(week.iloc[0]) if len(week) else None
    in_week = trk["week"] == this_week
    warnings = int((in_week & (tro["status"] == calc.label("warning"))).sum())
    repeated = sorted(set(trk.loc[in_week & (tro["repeated"] == calc.label("yes")), "goal"].fillna("")) - {""})
    behind = calc.frame("targets").loc[calc.out["targets"]["status"] == calc.label("behind"), "name"].tolist()
    inc = calc.out["incentives"]
    top = inc[inc["total"].notna()].sort_values("rank").head(3)
    date_text = str(from_serial(as_of)) if known else "-"
    wk = f"{int(this_week)}" if this_week else "-"
    others = len(wb.problems) - len(wb.errors)
    lines = [
        say(f"统计截止 {date_text}（第 {wk} 周）", f"As of {date_text} (week {wk})"),
        say(f"本周预警 {warnings} 行；连续预警目标：", f"Warnings this week: {warnings} rows; repeated warnings: ")
        + (sep.join(repeated) or say("无", "none")),
        say("落后目标：", "Goals behind: ") + (sep.join(map(str, behind)) or say("无", "none")),
    ]
    if len(top):
        lines.append(say("总分前列：", "Top people: ") + sep.join(
            f"{r['name']} {r['total']:.1f}" + say(f"（{r['grade']}）", f" ({r['grade']})") for _, r in top.iterrows()))
    lines.append(say(f"问题：{len(wb.errors)} 个错误，{others} 个警告/提示（见“检查”表）",
                     f"Problems: {len(wb.errors)} errors, {others} warnings/notes (see the Checks sheet)"))
    return lines


def recalc(path: str | Path, output: str | Path | None = None, *, backup: bool = True, force: bool = False,
           progress: Callable[[int, int], None] | None = None) -> RecalcResult:
    """Recalculate a workbook in place (or into `output`); refuses a file that is open unless force."""
    path = Path(path)
    target = Path(output) if output else path
    if not force:
        locks = lock_files(path) + (lock_files(target) if target != path and target.exists() else [])
        if locks:
            raise FileProblem(f"文件正在 Excel/WPS 中打开（{locks[0].name}），请先关闭，或用 --force",
                              f"the workbook is open in Excel/WPS ({locks[0].name}); close it first, or use --force")
    wb = load(path, keep_raw=False)
    edits = build_edits(wb)
    cells = sum(len(v) for v in edits.values())
    saved = None
    if backup and target.exists():
        saved = make_backup(target)
    write_atomically(target, lambda tmp: patch_workbook(path, tmp, edits, progress=progress))
    return RecalcResult(target, saved, wb, cells, summary(wb))
