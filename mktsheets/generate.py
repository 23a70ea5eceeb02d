"""`mktsheets new`: write a styled workbook with live formulas and their cached values.

The workbook is computed in Python first (the same rules the recalculator uses),
then every formula is written together with its value, so the file shows numbers
in every viewer before Excel ever recalculates it.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd
import xlsxwriter
import xlsxwriter.worksheet
from xlsxwriter.utility import _preserve_whitespace, xl_col_to_name

from . import __version__
from .compute import compute, helper_keys, sheet_formulas
from .layout import (
    Layout,
    SheetLayout,
    col_letter,
    quote_sheet,
    setting_name,
    table_name,
)
from .model import RawBook, parse
from .period import Quarter, calendar, parse_quarter
from .problems import ProblemList
from .rules import dashboard, settings_sheet
from .rules.context import Calc
from .schema import Template, load_template
from .styles import Formats
from .validate import validate

DATA_SHEETS = ("team", "targets", "tracking", "evaluation", "incentives", "review")
TABLE_ROWS = 10          # reserved rows of each Settings table (users may add tiers)
LIST_ROWS = 40           # reserved rows of each dropdown list
CAL_ROWS = 16            # reserved calendar rows (a quarter has at most 14 weeks)
MIN_WEEKS = 14
LISTS = ("goal_type", "level", "direction", "aggregation", "kind", "yesno", "scoring", "basis")
LIST_FIRST_COL = 5       # F: dropdown lists on Settings start here
PROPERTY_TEMPLATE = "mktsheets.template"
PROPERTY_VERSION = "mktsheets.template_version"
PROPERTY_LANG = "mktsheets.lang"


@dataclass
class Written:
    """What `new` produced: the file, the computed values and the problems found."""

    path: Path
    calc: Calc
    problems: ProblemList


# ----------------------------------------------------------------- layout

def settings_positions(template: Template) -> tuple[dict[str, int], dict[str, int], int]:
    """Rows of the settings, the first data row of each table, and of the calendar."""
    rows = {s.key: 2 + i for i, s in enumerate(template.settings)}
    r = 2 + len(template.settings) + 1
    tables = {}
    for t in template.tables:
        tables[t.key] = r + 2            # title, header, then data
        r += 2 + TABLE_ROWS + 1          # one blank row after the reserved rows
    return rows, tables, r + 2


def make_layout(template: Template, lang: str, counts: Mapping[str, int], months: tuple[str, ...],
                weeks: int = MIN_WEEKS) -> Layout:
    """The generator's layout: template column order, helpers appended (hidden)."""
    sheets = {}
    for s in template.sheets:
        sl = SheetLayout(name=s.name(lang))
        keys = [c.key for c in s.columns] + list(helper_keys(s.key, weeks))
        sl.columns = {k: i for i, k in enumerate(keys)}
        if s.columns:
            n = counts.get(s.follows or s.key, 0)
            sl.last = sl.first + max(n, 1) - 1
        sheets[s.key] = sl
    rows, _, cal_first = settings_positions(template)
    return Layout(template, lang, sheets, weeks=weeks, months=months, setting_rows=rows,
                  calendar_first=cal_first, calendar_len=CAL_ROWS)


def row_counts(template: Template, data: Mapping[str, list]) -> dict[str, int]:
    """Pre-formatted rows per sheet: the template's default, or the data plus room to grow."""
    counts = {}
    for s in template.sheets:
        if not s.columns or s.follows:
            continue
        n = len(data.get(s.key, ()))
        # spare rows to grow into, never past Excel's last row (1,048,576 with the header)
        counts[s.key] = min(max(s.rows, n + max(10, n // 5)) if n else s.rows, max(n, 1_048_575))
    counts["checks"] = 0
    return counts


# ----------------------------------------------------------------- raw book

def build_raw(template: Template, lang: str, quarter: Quarter, data: Mapping[str, list],
              layout: Layout, settings: Mapping[str, Any] | None = None,
              tables: Mapping[str, list] | None = None) -> RawBook:
    """The cells the generator will write, as a RawBook the parser reads like a file."""
    values: dict[str, Any] = {}
    for s in template.settings:
        v = s.default
        if s.key == "period":
            v = quarter.code
        elif s.key in {"start", "end"}:
            v = getattr(quarter, s.key)
        elif s.type == "code":
            v = template.code_label(s.list, s.default, lang)
        values[s.key] = None if v == "" else v
    values.update(settings or {})
    cells = {k: f"B{r}" for k, r in layout.setting_rows.items()}
    _, table_rows, _ = settings_positions(template)
    tables = {t.key: [tuple(r) for r in (tables or {}).get(t.key, t.rows)][:TABLE_ROWS] for t in template.tables}
    table_cells = {t.key: (table_rows[t.key], [col_letter(i) for i in range(len(t.columns))])
                   for t in template.tables}
    sheets = {}
    for key in DATA_SHEETS:
        sheet = template.sheet(key)
        sl = layout.sheet(key)
        records = list(data.get(key, ()))
        cols = [c.key for c in sheet.input_columns]
        frame = pd.DataFrame([{k: r.get(k) for k in cols} for r in records], columns=cols, dtype=object)
        frame = frame.reindex(range(len(sl.rows)))
        frame.index = list(sl.rows)
        sheets[key] = frame.astype(object).where(frame.notna(), None)
    return RawBook(lang, values, cells, tables, table_cells, sheets)


# ----------------------------------------------------------------- public API

def new_workbook(path: str | Path, period: str = "2024Q3", lang: str = "zh",
                 data: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
                 settings: Mapping[str, Any] | None = None, tables: Mapping[str, list] | None = None,
                 template: Template | None = None, *, streaming: bool = True) -> Written:
    """Write a quarterly workbook.

    `data` maps sheet keys to rows (dicts keyed by column key, values as a person would type them);
    `settings` overrides Settings values by key; `tables` replaces Settings tables (rows of tuples).
    `streaming` (the default) writes each row to disk as soon as the next one starts (XlsxWriter's
    constant_memory mode: memory stays flat at any size, text cells are stored inline); False keeps
    every cell in memory until close and stores text as shared strings (what `new` did before
    it streamed; kept for the differential test, tests/test_generate_stream.py).
    """
    template = template or load_template()
    if lang not in ("zh", "en"):
        raise ValueError(f"language must be zh or en, not {lang!r}")
    quarter = parse_quarter(period)
    if quarter is None:
        raise ValueError(f"period {period!r} is not a quarter code such as 2024Q3")
    data = {k: list(v) for k, v in (data or {}).items()}
    weeks = max(MIN_WEEKS, len(calendar(quarter.start, quarter.end)))
    layout = make_layout(template, lang, row_counts(template, data), quarter.months, weeks)
    raw = build_raw(template, lang, quarter, data, layout, settings, tables)
    inputs, problems = parse(template, raw, layout)
    calc = compute(inputs, layout, problems)
    validate(calc)
    path = Path(path)
    _Writer(template, layout, raw, calc).write(path, streaming=streaming)
    return Written(path, calc, calc.problems)


# ----------------------------------------------------------------- writing

def _cached(value):
    """A Python result as the cached value of a formula ("" for blank)."""
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        return "" if math.isnan(value) else float(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    return _xstring(str(value))


_XSTRING_SPECIAL = re.compile(r"[\x00-\x08\x0b-\x1f]|_(?=x[0-9A-Fa-f]{4}_)")


def _xstring(text: str) -> str:
    """Text as OOXML stores it: control characters (no XML allows them) as _xHHHH_, and the
    underscore of a literal "_x0041_" escaped so that it reads back as typed. XlsxWriter does
    this for strings, not for the cached text of formulas (a pasted \x01 made the file unreadable)."""
    if text.isprintable() and "_x" not in text:
        return text
    return _XSTRING_SPECIAL.sub(lambda m: "_x%04X_" % ord(m.group()), text)


def _cached_column(series: pd.Series) -> list:
    """_cached of every value of a column; float and int columns without a per-value type test."""
    if series.dtype == np.float64:
        return ["" if math.isnan(v) else v for v in series.tolist()]
    if series.dtype == np.int64:
        return series.tolist()
    return [_cached(v) for v in series.tolist()]


def _discard_row_files(wb) -> None:
    """After a failed write: close and delete the rows XlsxWriter streamed to its temporary files.

    (close() does that when it succeeds; when writing or close() itself fails, the open files and
    their data - possibly gigabytes - would otherwise stay behind.)
    """
    for ws in wb.worksheets():
        fh, name = getattr(ws, "row_data_fh", None), getattr(ws, "row_data_filename", None)
        if fh is not None and not fh.closed:
            fh.close()
        if name:
            Path(name).unlink(missing_ok=True)


class RowOrderError(RuntimeError):
    """A cell written above a row already streamed to disk (XlsxWriter would drop it silently)."""


class _Sheet(xlsxwriter.worksheet.Worksheet):
    """A worksheet that skips XlsxWriter's per-formula regular expressions.

    Our formulas use only Excel-2010 functions (tests/test_generate.py checks it, and that none
    matches XlsxWriter's dynamic-array pattern), so the ~30 _xlfn. rewriting expressions and the
    dynamic-array search (one long alternation run over each ~160-character formula, a fifth of
    the time of `new` at 100k rows) never change anything; skipping them changes no byte.
    In constant_memory mode a write to a row above the current one raises RowOrderError
    instead of vanishing.
    """

    def _prepare_formula(self, formula, expand_future_functions=False):
        return formula[1:] if formula.startswith("=") else formula

    def _check_dimensions(self, row, col, ignore_row=False, ignore_col=False):
        if self.constant_memory and row < self.previous_row and not ignore_row and not ignore_col:
            raise RowOrderError(f"{self.name}: row {row + 1} written after row {self.previous_row + 1} "
                                "was started (constant_memory writes rows in order)")
        return super()._check_dimensions(row, col, ignore_row, ignore_col)

    def _write_formula(self, row, col, formula, cell_format=None, value=0):
        # XlsxWriter 3.x's _write_formula without re_dynamic_function.search; anything unusual
        # (empty, array braces) goes the stock way.
        if not formula or formula.startswith("{"):
            return super()._write_formula(row, col, formula, cell_format, value)
        if self._check_dimensions(row, col):
            return -1
        formula = self._prepare_formula(formula)
        if self.constant_memory and row > self.previous_row:
            self._write_single_row(row)
        self.table[row][col] = _CellFormula(formula, cell_format, value)
        return 0

    # -- chart caches in constant_memory mode
    # XlsxWriter fills a chart's cached points (what a viewer shows before it recalculates) from the
    # cells it still holds at close(); in constant_memory mode those rows are long gone and the charts
    # would be written without data (and text categories as numbers). So the cells of the columns
    # the charts use are kept as their rows stream out, and handed back the way XlsxWriter reads them.
    _keep: frozenset = frozenset()
    _kept: dict | None = None

    def keep_columns(self, columns: Iterable[int]) -> None:
        """Keep the cells of these columns for the charts (call before writing the sheet)."""
        self._keep, self._kept = frozenset(columns), {}

    def _write_single_row(self, current_row_num=0):
        """Write the finished row (constant_memory mode): XlsxWriter's XML, made faster.

        The row's cells are turned into XML here as Worksheet._write_cell would write them (the
        streamed and the in-memory workbook are compared byte for byte in the tests, the latter
        written by XlsxWriter alone); a cell of any other kind or without a format is left to it.
        """
        row = self.previous_row
        cells = self.table.get(row)
        if self._keep and cells:
            self._kept[row] = {c: cells[c] for c in self._keep if c in cells}
        if not cells or row in self.comments:
            return super()._write_single_row(current_row_num)
        self.previous_row = current_row_num
        self._write_row(row, None, self.row_info.get(row))
        write, esc, n = self.fh.write, self._escape_data, str(row + 1)
        for col in sorted(cells):
            cell = cells[col]
            kind = type(cell)
            if cell.format is None or kind not in _FAST_CELLS:
                self._write_cell(row, col, cell)
                continue
            head = f'<c r="{_col_name(col)}{n}" s="{cell.format._get_xf_index()}"'
            if kind is _CellFormula:
                value = cell.value
                if isinstance(value, str):
                    t = "" if value == "" else ' t="e"' if value in _ERROR_CODES else ' t="str"'
                    value = esc(value)
                elif isinstance(value, bool):
                    t, value = ' t="b"', int(value)
                else:
                    t = ""
                write(f"{head}{t}><f>{esc(cell.formula)}</f><v>{value}</v></c>")
            elif kind is _CellNumber:
                write(f"{head}><v>{cell.number:.16G}</v></c>")
            elif kind is _CellBlank:
                write(f"{head}/>")
            else:                                            # an inline string
                text = self._escape_control_characters(cell.string)
                if text.startswith("<r>") and text.endswith("</r>"):
                    self._write_cell(row, col, cell)         # rich text: XlsxWriter writes it as it is
                    continue
                space = ' xml:space="preserve"' if _preserve_whitespace(text) else ""
                write(f'{head} t="inlineStr"><is><t{space}>{esc(text)}</t></is></c>')
        write("</row>")
        self.table.clear()

    def _get_range_data(self, row_start, col_start, row_end, col_end):
        if not self.constant_memory:
            return super()._get_range_data(row_start, col_start, row_end, col_end)
        missing = set(range(col_start, col_end + 1)) - self._keep
        if missing:
            raise RuntimeError(f"{self.name}: a chart uses column(s) {sorted(missing)} that keep_columns() "
                               "did not keep; its cached points would be empty")
        rows = dict(self._kept)
        current = self.table.get(self.previous_row)      # the last row has not been flushed yet
        if current:
            rows[self.previous_row] = current
        data = []                                        # as Worksheet._get_range_data in XlsxWriter 3.x
        for r in range(row_start, row_end + 1):
            if r not in rows:
                data.append(None)
                continue
            for c in range(col_start, col_end + 1):
                cell = rows[r].get(c)
                kind = cell.__class__.__name__
                if cell is None:                         # no such cell
                    data.append(None)
                elif kind in ("Number", "Datetime"):
                    data.append(f"{cell.number:.16g}")
                elif kind == "String":
                    data.append(cell.string)             # inline: the text itself, not an index
                elif kind in ("Formula", "ArrayFormula"):
                    data.append(0 if cell.value is None else cell.value)
                elif kind == "Blank":
                    data.append("")
        return data


_CellFormula = xlsxwriter.worksheet.CellFormulaTuple
_CellNumber = xlsxwriter.worksheet.CellNumberTuple
_CellBlank = xlsxwriter.worksheet.CellBlankTuple
_FAST_CELLS = frozenset({_CellFormula, _CellNumber, _CellBlank, xlsxwriter.worksheet.CellStringTuple})
_ERROR_CODES = frozenset({"#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!"})


@cache
def _col_name(col: int) -> str:
    return xl_col_to_name(col)


class _RowMajor:
    """Collects the cell writes of a small sheet and plays them back in row order.

    In constant_memory mode XlsxWriter flushes a row when a later one is started, so a sheet laid
    out block by block (Settings: values, tables and calendar on the left, dropdown lists on the
    right over the same rows) is recorded here first. Writes keep their order within a row (the
    last write to a cell wins, as before); everything that is not a cell write goes straight through,
    and so does every write after flush() (a write above the current row then raises RowOrderError).
    """

    _CELL = ("write_string", "write_number", "write_blank", "write_formula", "write_datetime", "set_row")

    def __init__(self, ws):
        self._ws, self._calls = ws, []

    def __getattr__(self, name):
        if name in self._CELL and self._calls is not None:
            return lambda row, *args: self._calls.append((row, len(self._calls), name, args))
        return getattr(self._ws, name)

    def flush(self) -> None:
        """Play the writes back in row order; later writes go straight to the sheet."""
        ws, calls, self._calls = self._ws, self._calls, None
        for row, _, name, args in sorted(calls, key=lambda call: call[:2]):
            getattr(ws, name)(row, *args)


class _Writer:
    def __init__(self, template: Template, layout: Layout, raw: RawBook, calc: Calc):
        self.t, self.L, self.raw, self.calc = template, layout, raw, calc
        self.lang = layout.lang

    def say(self, zh: str, en: str) -> str:
        return zh if self.lang == "zh" else en

    def write(self, path: Path, streaming: bool = True) -> None:
        # use_zip64: a part over 2 GiB (Tracking's XML at ~900k rows) needs ZIP64 records, which Python's
        # zipfile writes for such parts only: a smaller workbook comes out byte for byte as without it
        wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_numbers": False,
                                             "strings_to_urls": False, "constant_memory": streaming,
                                             "use_zip64": True})
        try:
            self._write(wb)
            wb.close()
        except BaseException:
            _discard_row_files(wb)
            raise

    def _write(self, wb) -> None:
        self.wb, self.fmt = wb, Formats(wb)
        self.sheets = {s.key: wb.add_worksheet(s.name(self.lang), worksheet_class=_Sheet) for s in self.t.sheets}
        self._properties()
        for key, columns in self._chart_columns().items():
            self.sheets[key].keep_columns(columns)
        for key in ("guide", "settings", "dashboard", "checks"):     # small sheets: recorded, then row by row
            self.sheets[key] = _RowMajor(self.sheets[key])
        self._guide()
        self.sheets["guide"].flush()
        self._settings()
        self.sheets["settings"].flush()
        for key in DATA_SHEETS:
            self._data_sheet(key)       # written row by row
        self._names()
        self._validations()
        self._dashboard()
        self.sheets["dashboard"].flush()
        self._checks()
        self.sheets["checks"].flush()
        self.sheets["guide"].activate()

    # -- document
    def _properties(self) -> None:
        period = self.calc.s.get("period", "")
        self.wb.set_properties({
            "title": self.say(f"{period} 目标与激励", f"{period} goals and incentives"),
            "subject": self.say("营销团队季度目标、跟踪、评估与激励", "Marketing team quarter: goals, tracking, evaluation, incentives"),
            "author": "mktsheets", "comments": f"{self.t.name} v{self.t.version}",
            "keywords": "mktsheets", "created": datetime(2000, 1, 1),
        })
        self.wb.set_custom_property(PROPERTY_TEMPLATE, self.t.name)
        self.wb.set_custom_property(PROPERTY_VERSION, str(self.t.version))
        self.wb.set_custom_property(PROPERTY_LANG, self.lang)

    def _print_setup(self, ws, header_row: int | None = 0) -> None:
        ws.set_landscape()
        ws.set_paper(9)  # A4
        ws.fit_to_pages(1, 0)
        ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.5)
        if header_row is not None:
            ws.repeat_rows(header_row)

    # -- Guide
    def _guide(self) -> None:
        ws = self.sheets["guide"]
        f = self.fmt
        ws.set_column(0, 0, 22)
        ws.set_column(1, 1, 90)
        period = self.calc.s.get("period", "")
        ws.write_string(0, 0, self.say(f"{period} 营销团队目标与激励表", f"{period} marketing goals and incentives"),
                        f.get("title"))
        rows = [
            (self.say("模板", "Template"), f"{self.t.name} v{self.t.version}"),
            (self.say("生成工具", "Made by"), f"mktsheets {__version__}"),
            (self.say("本期", "Period"), period),
            ("", ""),
            (self.say("黄色单元格", "Yellow cells"), self.say("由您填写（输入）", "You type here (input)")),
            (self.say("蓝灰色单元格", "Blue-grey cells"),
             self.say("公式自动计算，请勿填写；被改写的公式会在重算时恢复并提示",
                      "Formulas; do not type here - an overwritten formula is restored by recalc and reported")),
            ("", ""),
            (self.say("使用步骤", "How to use it"), self.say(
                "1 目标：填写目标、拆解（公司→部门→小组→个人）、权重与负责人\n"
                "2 跟踪：每周填写计划量、实际量；预警或超额时写明偏差原因与改进措施\n"
                "3 评估：期末填写定量指标实际值与 360 评分（上级/同事/客户）\n"
                "4 激励：自动计算总分、等级、排名、奖金与提成；调整金额须写原因\n"
                "5 复盘：记录亮点、问题、根本原因、改进计划、责任人与时限\n"
                "每周例会前运行：mktsheets recalc 本文件.xlsx",
                "1 Targets: goals, their breakdown (company → department → group → person), weights, owners\n"
                "2 Tracking: each week planned and actual; for warnings or over-achievement the reason and the action\n"
                "3 Evaluation: at period end the quantitative actuals and the 360 scores (manager/peer/customer)\n"
                "4 Incentives: totals, grades, ranks, bonuses and commissions are computed; an adjustment needs a reason\n"
                "5 Review: highlights, problems, root causes, improvement plan, owner and deadline\n"
                "Before each weekly review run: mktsheets recalc this-file.xlsx")),
            (self.say("数字写法", "Numbers"), self.say(
                "可填 5万、1.2亿、¥1,200、80%；权重可填 30% 或 30。建议直接填数字，表内公式才能实时计算。",
                "You may type 5万, 1.2亿, ¥1,200, 80%; weights as 30% or 30. Plain numbers keep the live formulas working.")),
            (self.say("参数", "Settings"), self.say(
                "阈值、评分档位、奖金系数、等级、提成档位都在“参数”表，可直接修改",
                "Thresholds, score tiers, payout factors, grades and commission brackets live on Settings and may be edited")),
        ]
        ws.set_row(2 + 7, 110)
        legend = {4: f.get("input"), 5: f.get("computed")}   # the colour legend shows the real fills
        for i, (a, b) in enumerate(rows):
            ws.write_string(2 + i, 0, a, legend.get(i) or (f.get("label") if a else f.get("text")))
            ws.write_string(2 + i, 1, b, f.get("text"))
        self._print_setup(ws, None)

    # -- Settings
    def _settings(self) -> None:
        ws = self.sheets["settings"]
        f = self.fmt
        L = self.L
        used = self.calc.out["settings"]
        for c, w in enumerate((18, 16, 16, 52)):
            ws.set_column(c, c, w)
        heads = (self.say("参数", "Setting"), self.say("值", "Value"), self.say("生效值", "Value used"),
                 self.say("说明", "Note"))
        for c, h in enumerate(heads):
            ws.write_string(0, c, h, f.get("header_computed" if c == 2 else "header_input"))
        for s in self.t.settings:
            r = L.setting_rows[s.key] - 1
            label = s.label[0 if self.lang == "zh" else 1]
            ws.write_string(r, 0, label, f.get("label"))
            self._write_input(ws, r, 1, self.raw.settings.get(s.key), s.type if s.type != "code" else "text")
            default = (s.default if s.key not in {"start", "end"}
                       else self.calc.s.get(s.key))
            formula = settings_sheet.used_formula(L, s.key, default)
            ctype = "text" if s.type in {"code", "period", "text"} else ("money" if s.type == "money" else s.type)
            ws.write_formula(r, 2, "=" + formula, f.get("computed", ctype), _cached(used.get(s.key)))
            ws.write_string(r, 3, s.note[0 if self.lang == "zh" else 1], f.get("text"))
        _, table_rows, cal_first = settings_positions(self.t)
        for t in self.t.tables:
            first = table_rows[t.key]
            ws.write_string(first - 3, 0, t.title[0 if self.lang == "zh" else 1], f.get("subtitle"))
            for j, (key, zh, en, ctype) in enumerate(t.columns):
                ws.write_string(first - 2, j, zh if self.lang == "zh" else en, f.get("header_input"))
                for i in range(TABLE_ROWS):
                    v = self.raw.tables[t.key][i][j] if i < len(self.raw.tables[t.key]) else None
                    self._write_input(ws, first - 1 + i, j, v, ctype)
        # calendar: live formulas from the period start and end
        ws.write_string(cal_first - 3, 0, self.say("周历", "Calendar"), f.get("subtitle"))
        for j, h in enumerate((self.say("周次", "Week"), self.say("开始", "Start"), self.say("结束", "End"))):
            ws.write_string(cal_first - 2, j, h, f.get("header_computed"))
        cal_values = settings_sheet.calendar_values(self.calc, CAL_ROWS)
        for i in range(CAL_ROWS):
            formulas = settings_sheet.calendar_formulas(L, i)
            for j, col in enumerate(("A", "B", "C")):
                ws.write_formula(cal_first - 1 + i, j, "=" + formulas[col],
                                 f.get("computed", "int" if j == 0 else "date"), _cached(cal_values[i][j]))
        # dropdown lists
        for j, key in enumerate(LISTS):
            col = LIST_FIRST_COL + j
            ws.set_column(col, col, 14)
            ws.write_string(0, col, self._list_title(key), f.get("header_input"))
            for i, label in enumerate(self.t.code_labels(key, self.lang)):
                ws.write_string(1 + i, col, label, f.get("input", "text"))
        pcol = LIST_FIRST_COL + len(LISTS)
        ws.set_column(pcol, pcol, 12)
        ws.write_string(0, pcol, self.say("考核周期", "Periods"), f.get("header_input"))
        for i, p in enumerate((self.calc.s.get("period", ""),) + tuple(self.calc.inputs.months)):
            ws.write_string(1 + i, pcol, p, f.get("input", "text"))
        ws.freeze_panes(1, 1)
        self._print_setup(ws)

    def _list_title(self, key: str) -> str:
        titles = {"goal_type": ("目标类型", "Goal types"), "level": ("层级", "Levels"),
                  "direction": ("方向", "Directions"), "aggregation": ("汇总方式", "Aggregations"),
                  "kind": ("指标类型", "Kinds"), "yesno": ("是/否", "Yes/No"),
                  "scoring": ("评分方式", "Scoring"), "basis": ("系数依据", "Payout basis")}
        return titles[key][0 if self.lang == "zh" else 1]

    def _names(self) -> None:
        L = self.L
        st = quote_sheet(L.sheet("settings").name)
        for s in self.t.settings:
            self.wb.define_name(setting_name(s.key), f"={st}!$C${L.setting_rows[s.key]}")
        _, table_rows, cal_first = settings_positions(self.t)
        for t in self.t.tables:
            first = table_rows[t.key]
            for j, (key, *_rest) in enumerate(t.columns):
                c = col_letter(j)
                self.wb.define_name(table_name(t.key, key), f"={st}!${c}${first}:${c}${first + TABLE_ROWS - 1}")
            if t.key == "brackets":
                self.wb.define_name(table_name("brackets", "next"), f"={st}!$A${first + 1}:$A${first + TABLE_ROWS}")
        last = cal_first + CAL_ROWS - 1
        for key, c in (("WEEK", "A"), ("START", "B"), ("END", "C")):
            self.wb.define_name(f"MK_CAL_{key}", f"={st}!${c}${cal_first}:${c}${last}")
        for j, key in enumerate(LISTS + ("period",)):
            c = col_letter(LIST_FIRST_COL + j)
            self.wb.define_name(f"MK_LIST_{key.upper()}", f"={st}!${c}$2:${c}${1 + LIST_ROWS}")
        self.wb.define_name("MK_LIST_NAMES", "=" + L.rng("team", "name"))
        self.wb.define_name("MK_LIST_GOALS", "=" + L.rng("targets", "id"))

    # -- data sheets
    def _write_input(self, ws, r: int, c: int, value, ctype: str, fmt=None) -> None:
        fmt = fmt or self.fmt.get("input", ctype)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            ws.write_blank(r, c, None, fmt)
        elif isinstance(value, bool):
            ws.write_string(r, c, str(value), fmt)
        elif isinstance(value, (int, float, np.integer, np.floating)):
            ws.write_number(r, c, float(value), fmt)
        elif isinstance(value, (date, datetime)):
            ws.write_datetime(r, c, datetime(value.year, value.month, value.day)
                              if not isinstance(value, datetime) else value, fmt)
        else:
            ws.write_string(r, c, str(value), fmt)  # never a formula: "=foo" stays text

    def _data_sheet(self, key: str) -> None:
        sheet = self.t.sheet(key)
        ws = self.sheets[key]
        sl = self.L.sheet(key)
        f = self.fmt
        formulas = sheet_formulas(self.L).get(key, {})
        out = self.calc.out.get(key)
        raw = self.raw.sheets.get(key)
        helpers = helper_keys(key, self.L.weeks)
        columns = list(sheet.columns) + [None] * len(helpers)
        rows = list(sl.rows)
        ws.set_row(0, 30)
        specs, values = [], []     # per column: (0-based column, formula builder or None, format); its values
        for idx, col in enumerate(columns):
            ckey = col.key if col else helpers[idx - len(sheet.columns)]
            c = sl.columns[ckey]
            role = col.role if col else "helper"
            ctype = col.type if col else "number"
            header = col.header(self.lang) if col else ckey
            ws.write_string(0, c, header, f.get("header_input" if role == "input" else "header_computed"))
            if col:
                ws.set_column(c, c, col.width)
            else:
                ws.set_column(c, c, 8, None, {"hidden": True})
            if role == "input":
                has = raw is not None and ckey in raw.columns
                specs.append((c, None, f.get("input", ctype)))
                values.append(raw[ckey].tolist() if has else [None] * len(rows))
            else:
                has = out is not None and ckey in out.columns
                specs.append((c, formulas[ckey], f.get("computed", ctype)))
                values.append(_cached_column(out[ckey].reindex(rows)) if has else [""] * len(rows))
        # XlsxWriter's undecorated writers (the public ones only add A1-notation parsing); plain text,
        # floats and blanks, most input cells, without _write_input's chain of type tests
        write_formula, write_input = ws._write_formula, self._write_input
        write_blank, write_number, write_string = ws._write_blank, ws._write_number, ws._write_string
        for r, row_values in zip(rows, zip(*values)):      # row by row: constant_memory streams each one
            r0 = r - 1
            for (c, build, fmt), value in zip(specs, row_values):
                if build is not None:
                    write_formula(r0, c, "=" + build(r), fmt, value)
                elif value is None:
                    write_blank(r0, c, None, fmt)
                elif type(value) is str:
                    write_string(r0, c, value, fmt)
                elif type(value) is float and not math.isnan(value):
                    write_number(r0, c, value, fmt)
                else:
                    write_input(ws, r0, c, value, None, fmt)
        ws.freeze_panes(1, 1)
        last_visible = len(sheet.columns) - 1
        ws.autofilter(0, 0, sl.last - 1, last_visible)
        self._print_setup(ws)
        ws.print_area(0, 0, sl.last - 1, last_visible)
        self._conditional_formats(key, ws, sl)

    def _conditional_formats(self, key: str, ws, sl: SheetLayout) -> None:
        wb = self.wb
        red = wb.add_format({"bg_color": "#F8CBAD", "font_color": "#9C0006"})
        orange = wb.add_format({"bg_color": "#FFE699", "font_color": "#7F6000"})
        green = wb.add_format({"bg_color": "#C6EFCE", "font_color": "#006100"})
        grey = wb.add_format({"font_color": "#808080"})
        label = self.L.label
        colours = {"behind": red, "warning": red, "exceeded": green, "met": green, "not_started": grey,
                   "star": green, "yes": red}

        def by_text(col_key: str, label_keys: Iterable[str]) -> None:
            c = sl.columns[col_key]
            for lk in label_keys:
                ws.conditional_format(sl.first - 1, c, sl.last - 1, c, {
                    "type": "cell", "criteria": "==", "value": f'"{label(lk)}"', "format": colours[lk]})

        def completion(col_key: str) -> None:
            c = sl.columns[col_key]
            a1 = f"{col_letter(c)}{sl.first}"
            ws.conditional_format(sl.first - 1, c, sl.last - 1, c, {
                "type": "formula", "criteria": f"=AND(ISNUMBER({a1}),{a1}<{setting_name('warn')})", "format": red})
            ws.conditional_format(sl.first - 1, c, sl.last - 1, c, {
                "type": "formula", "criteria": f"=AND(ISNUMBER({a1}),{a1}>={setting_name('over')})", "format": green})

        if key == "targets":
            by_text("status", ("behind", "exceeded", "met", "not_started"))
            completion("completion")
        elif key == "tracking":
            by_text("status", ("warning", "exceeded", "met"))
            by_text("repeated", ("yes",))
            completion("completion")
        elif key == "evaluation":
            completion("completion")
        elif key == "incentives":
            by_text("honours", ("star",))
            c = sl.columns["alerts"]
            a1 = f"{col_letter(c)}{sl.first}"
            ws.conditional_format(sl.first - 1, c, sl.last - 1, c, {
                "type": "formula", "criteria": f'={a1}<>""', "format": orange})
            g = sl.columns["grade"]
            grades = self.t.table("grade_tiers").rows
            for grade, fmt in ((grades[0][1], green), (grades[-1][1], red)):
                ws.conditional_format(sl.first - 1, g, sl.last - 1, g, {
                    "type": "cell", "criteria": "==", "value": f'"{grade}"', "format": fmt})
        elif key == "review":
            completion("completion")

    def _validations(self) -> None:
        """Dropdowns from named lists on Settings (a form Excel, WPS and LibreOffice all keep)."""
        say = self.say
        for s in self.t.settings:   # coded settings (scoring, payout basis) are guarded too
            if s.type == "code":
                r = self.L.setting_rows[s.key] - 1
                self.sheets["settings"].data_validation(r, 1, r, 1, {
                    "validate": "list", "source": f"=MK_LIST_{s.list.upper()}", "error_type": "warning",
                    "input_message": say("请从下拉列表选择", "Pick from the list")})
        for sheet in self.t.sheets:
            if sheet.key not in DATA_SHEETS:
                continue
            ws = self.sheets[sheet.key]
            sl = self.L.sheet(sheet.key)
            for col in sheet.input_columns:
                c = sl.columns[col.key]
                rng = (sl.first - 1, c, sl.last - 1, c)
                header = col.header(self.lang)
                if col.type == "code":
                    ws.data_validation(*rng, {
                        "validate": "list", "source": f"=MK_LIST_{col.list.upper()}",
                        "error_type": "warning", "input_title": header[:32],
                        "input_message": say("请从下拉列表选择", "Pick from the list")})
                elif col.type == "period":
                    ws.data_validation(*rng, {"validate": "list", "source": "=MK_LIST_PERIOD",
                                              "error_type": "warning"})
                elif col.type in {"number", "money"} and (sheet.key, col.key) != ("incentives", "adjustment"):
                    ws.data_validation(*rng, {
                        "validate": "decimal", "criteria": ">=", "value": 0, "error_type": "warning",
                        "error_title": header[:32],
                        "error_message": say("应为不小于 0 的数字，如 500000 或 50万",
                                             "Expected a number of 0 or more, e.g. 500000")})
                elif col.type == "share":
                    ws.data_validation(*rng, {
                        "validate": "decimal", "criteria": "between", "minimum": 0, "maximum": 100,
                        "error_type": "warning", "input_title": header[:32],
                        "input_message": say("如 30% 或 30", "e.g. 30% or 30")})
                elif col.type == "score":
                    ws.data_validation(*rng, {
                        "validate": "decimal", "criteria": "between", "minimum": 0, "maximum": 100,
                        "error_type": "stop", "error_title": header[:32],
                        "error_message": say("评分应在 0 到 100 之间", "A score is between 0 and 100")})
                elif col.type == "week":
                    ws.data_validation(*rng, {
                        "validate": "integer", "criteria": "between", "minimum": 1, "maximum": self.L.weeks,
                        "error_type": "warning", "input_title": header[:32],
                        "input_message": say("周次，见“参数”表周历", "Week number, see the calendar on Settings")})
                elif col.type == "date":
                    ws.data_validation(*rng, {
                        "validate": "date", "criteria": ">=", "value": datetime(2000, 1, 1),
                        "error_type": "warning", "input_message": "yyyy-mm-dd"})
            names_cols = {"targets": ("owner", "executor"), "tracking": ("owner",), "evaluation": ("name",),
                          "review": ("owner",)}
            for ckey in names_cols.get(sheet.key, ()):
                c = sl.columns[ckey]
                ws.data_validation(sl.first - 1, c, sl.last - 1, c, {
                    "validate": "list", "source": "=MK_LIST_NAMES", "error_type": "warning"})
            for ckey in {"tracking": ("goal",), "evaluation": ("goal",), "review": ("goal",),
                         "targets": ("parent",)}.get(sheet.key, ()):
                c = sl.columns[ckey]
                ws.data_validation(sl.first - 1, c, sl.last - 1, c, {
                    "validate": "list", "source": "=MK_LIST_GOALS", "error_type": "warning"})

    # -- Dashboard
    def _dashboard(self) -> None:
        ws = self.sheets["dashboard"]
        f = self.fmt
        L = self.L
        values = self.calc.out["dashboard"]
        formulas = dashboard.formulas(L)
        ws.write_string(0, 0, self.say(f"{self.calc.s.get('period', '')} 团队看板",
                                       f"{self.calc.s.get('period', '')} team dashboard"), f.get("title"))
        ws.set_column(0, 0, 18)
        ws.set_column(1, 1, 16)
        ws.set_column(3, 6, 13)
        ws.set_column(8, 9, 9)
        ws.write_string(1, 0, self.say("指标", "Figure"), f.get("header_computed"))
        ws.write_string(1, 1, self.say("数值", "Value"), f.get("header_computed"))
        for i, (key, zh, en, ctype) in enumerate(dashboard.HEADLINES):
            r = dashboard.FIRST + i - 1
            ws.write_string(r, 0, zh if self.lang == "zh" else en, f.get("label"))
            a1 = dashboard.headline_cell(key)
            ws.write_formula(r, 1, "=" + formulas[a1], f.get("computed", ctype), _cached(values[a1]))
        for j, (zh, en) in enumerate(dashboard.WEEK_HEADERS):
            ws.write_string(1, 3 + j, zh if self.lang == "zh" else en, f.get("header_computed"))
        for j, (zh, en) in enumerate(dashboard.GRADE_HEADERS):
            ws.write_string(1, 8 + j, zh if self.lang == "zh" else en, f.get("header_computed"))
        types = {"D": "int", "E": "money", "F": "money", "G": "percent", "I": "text", "J": "int"}
        for a1, formula in formulas.items():
            col = a1.rstrip("0123456789")
            if col in types:
                r = int(a1[len(col):]) - 1
                ws.write_formula(r, ord(col) - 65, "=" + formula, f.get("computed", types[col]),
                                 _cached(values[a1]))
        self._charts(ws)
        self._print_setup(ws, None)

    def _chart_columns(self) -> dict[str, tuple[int, ...]]:
        """Columns the charts below plot, by sheet (kept for the charts' cached points when streaming)."""
        tg, inc = self.L.sheet("targets"), self.L.sheet("incentives")
        return {"targets": (tg.columns["name"], tg.columns["completion"]),
                "incentives": (inc.columns["name"], inc.columns["payout"]),
                "dashboard": (3, 4, 5, 8, 9)}            # D E F (weekly sales), I J (grades)

    def _charts(self, ws) -> None:
        L, say = self.L, self.say
        dash = quote_sheet(L.sheet("dashboard").name)
        first, last_week = dashboard.FIRST, dashboard.FIRST + L.weeks - 1
        tg = L.sheet("targets")
        tname = quote_sheet(tg.name)
        # bar charts cover the filled rows (and a few spare ones), not hundreds of empty categories
        goals_last = self._chart_last(tg, int((self.calc.frame("targets")["id"].fillna("") != "").sum()))

        chart = self.wb.add_chart({"type": "bar"})
        chart.add_series({
            "name": say("完成率", "Completion"),
            "categories": f"={tname}!${tg.letter('name')}${tg.first}:${tg.letter('name')}${goals_last}",
            "values": f"={tname}!${tg.letter('completion')}${tg.first}:${tg.letter('completion')}${goals_last}",
            "data_labels": {"value": True, "num_format": "0%"}, "fill": {"color": "#5B9BD5"}})
        chart.set_title({"name": say("各目标完成率", "Completion per goal")})
        chart.set_x_axis({"num_format": "0%", "min": 0})
        chart.set_y_axis({"reverse": True})
        chart.set_legend({"none": True})
        chart.set_size({"width": 620, "height": 420})
        chart.show_blanks_as("gap")
        ws.insert_chart("L2", chart)

        weekly = self.wb.add_chart({"type": "column"})
        for col, name, color in (("E", say("销售计划", "Sales planned"), "#A5A5A5"),
                                 ("F", say("销售实际", "Sales actual"), "#ED7D31")):
            weekly.add_series({"name": name, "categories": f"={dash}!$D${first}:$D${last_week}",
                               "values": f"={dash}!${col}${first}:${col}${last_week}", "fill": {"color": color}})
        weekly.set_title({"name": say("每周销售：计划与实际", "Weekly sales: planned vs actual")})
        weekly.set_x_axis({"name": say("周次", "Week")})
        weekly.set_y_axis({"num_format": "#,##0"})
        weekly.set_size({"width": 620, "height": 300})
        ws.insert_chart("A19", weekly)

        grades = self.wb.add_chart({"type": "column"})
        g_last = dashboard.FIRST + dashboard.GRADE_ROWS - 1
        grades.add_series({"name": say("人数", "People"), "categories": f"={dash}!$I${first}:$I${g_last}",
                           "values": f"={dash}!$J${first}:$J${g_last}", "fill": {"color": "#70AD47"},
                           "data_labels": {"value": True}})
        grades.set_title({"name": say("等级分布", "Grade distribution")})
        grades.set_legend({"none": True})
        grades.set_size({"width": 400, "height": 300})
        ws.insert_chart("L24", grades)

        inc = L.sheet("incentives")
        iname = quote_sheet(inc.name)
        people_last = self._chart_last(inc, int((self.calc.out["incentives"]["name"] != "").sum()))
        pay = self.wb.add_chart({"type": "bar"})
        pay.add_series({
            "name": say("应发合计", "Total payout"),
            "categories": f"={iname}!${inc.letter('name')}${inc.first}:${inc.letter('name')}${people_last}",
            "values": f"={iname}!${inc.letter('payout')}${inc.first}:${inc.letter('payout')}${people_last}",
            "fill": {"color": "#FFC000"}})
        pay.set_title({"name": say("每人应发合计", "Total payout per person")})
        pay.set_y_axis({"reverse": True})
        pay.set_x_axis({"num_format": "#,##0"})
        pay.set_legend({"none": True})
        pay.set_size({"width": 620, "height": 420})
        pay.show_blanks_as("gap")
        ws.insert_chart("A35", pay)

    @staticmethod
    def _chart_last(sl: SheetLayout, filled: int) -> int:
        """Last row a bar chart covers: the filled rows and a few spare ones (all rows of a blank sheet)."""
        return sl.last if not filled else min(sl.last, sl.first + filled + 4)

    # -- Checks
    def _checks(self) -> None:
        from .checks_sheet import write_checks_xlsxwriter
        write_checks_xlsxwriter(self, self.sheets["checks"])
