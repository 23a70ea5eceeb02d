"""From raw cell values to clean, typed inputs (SPEC §4), collecting every problem on the way.

A RawBook holds what the cells contain (from a file, or from Python rows for the
generator and the demo); `parse()` turns it into Inputs: pandas frames indexed by
Excel row number, with canonical codes, floats (NaN = blank) and dates as Excel
serial numbers, exactly what the formulas see.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd

from . import parsing
from .layout import Layout
from .period import Quarter, calendar, parse_quarter, period_code
from .problems import ERROR, NOTE, ProblemList
from .rules.base import EXCEL_EPOCH, from_serial, to_serial
from .schema import Template

# Beyond these magnitudes a number is no amount, share or score anyone means (Excel keeps 15 digits): its
# sums and ratios overflow to inf. Such a cell is a problem (and blank) rather than a wrong number.
MAX_MAGNITUDE, MIN_MAGNITUDE = 1e15, 1e-100

# Columns whose negative values make no sense (SPEC §4 "negative amounts").
NON_NEGATIVE = {
    ("team", "bonus_base"), ("targets", "target"), ("targets", "baseline"), ("targets", "stretch"),
    ("targets", "manual_actual"), ("tracking", "planned"), ("tracking", "actual"),
    ("evaluation", "target"), ("evaluation", "actual"),
}


# Names and IDs the formulas look up (MATCH/SUMIFS): stray spaces break the look-up in Excel.
KEY_COLUMNS = {
    ("team", "name"), ("targets", "id"), ("targets", "parent"), ("targets", "owner"), ("tracking", "goal"),
    ("evaluation", "name"), ("evaluation", "goal"), ("evaluation", "period"), ("review", "goal"),
}


@dataclass
class RawBook:
    """Cell values as found, before any interpretation."""

    lang: str
    settings: dict[str, Any]                      # setting key -> value cell content
    setting_cells: dict[str, str]                 # setting key -> A1 address of its value
    tables: dict[str, list[tuple]]                # settings table -> rows (until the first blank row)
    table_cells: dict[str, tuple[int, list[str]]]  # table -> (first data row, column letters)
    sheets: dict[str, pd.DataFrame]               # sheet key -> input columns, index = Excel row


@dataclass
class Inputs:
    """Typed inputs the rules compute from."""

    template: Template
    lang: str
    settings: dict[str, Any]          # canonical values (floats, codes, serials)
    settings_used: dict[str, Any]     # what the Settings "value used" cells show
    tables: dict[str, pd.DataFrame]
    calendar: pd.DataFrame            # week, start, end (serials)
    months: tuple[str, ...]
    frames: dict[str, pd.DataFrame]
    quarter: Quarter | None = None
    notes: dict = field(default_factory=dict)

    def label(self, key: str) -> str:
        return self.template.label(key, self.lang)


# ----------------------------------------------------------------- cells

# True: column() parses the ordinary cells in bulk and sends only the others through cell();
# False: every cell goes through cell(), the reference the bulk path must agree with exactly.
FAST = True

_NONE, _STR, _FLOAT, _INT, _DATE, _OTHER = range(6)
# Exact types only: bool (an int) and subclasses such as pandas' Timestamp take the per-cell path.
_TYPE_KIND = {type(None): _NONE, str: _STR, float: _FLOAT, int: _INT, np.float64: _FLOAT,
              date: _DATE, datetime: _DATE}
_EXACT_INT = 2 ** 53
_EPOCH_ORDINAL = EXCEL_EPOCH.toordinal()
_toordinal = date.toordinal       # the day of a datetime too, as parse_date's v.date() keeps it


def _say(lang: str, zh: str, en: str) -> str:
    return zh if lang == "zh" else en


class _CellReader:
    """Parses one column at a time and files problems against the right cells."""

    def __init__(self, template: Template, layout: Layout, problems: ProblemList, year: int | None):
        self.t, self.layout, self.p, self.year = template, layout, problems, year

    def column(self, sheet: str, key: str, col_type: str, values: pd.Series, list_key: str | None = None):
        sl = self.layout.sheet(sheet)
        letter = sl.letter(key)
        name = sl.name
        header = self.t.sheet(sheet).column(key).header(self.layout.lang) if sheet in {
            s.key for s in self.t.sheets} else key
        where = (sheet, key)
        if FAST:
            return self._column_fast(name, letter, header, col_type, values, list_key, where)
        out = []
        for row, raw in values.items():
            cell = f"{letter}{row}"
            out.append(self.cell(name, cell, header, col_type, raw, list_key, where))
        kind = "text" if col_type in {"text", "code", "period"} else "num"
        if kind == "text":
            return pd.Series(out, index=values.index, dtype=object)
        return pd.Series(out, index=values.index, dtype=float)

    def _column_fast(self, name, letter, header, col_type, values: pd.Series, list_key, where):
        """column(), with the ordinary cells done in bulk: same values, same problems, same order.

        Ordinary cells are the ones the per-cell path files no problem for: blanks (None), plain
        numbers the column takes as they are, date objects in date columns, and strings that parse
        without a problem (each distinct string is parsed once, by cell() itself, off the record).
        Every other cell goes through cell() in row order, so the problems come out as before.
        """
        text_like = col_type in {"text", "code", "period"}
        raw = values.to_numpy(dtype=object)
        n = len(raw)
        if text_like:
            out = np.full(n, "", dtype=object)
        else:
            out = np.full(n, np.nan)
        done = np.zeros(n, dtype=bool)
        if pd.api.types.infer_dtype(raw, skipna=False) == "string":     # all text: no need to look
            kinds = np.full(n, _STR, dtype=np.int8)
        else:
            kinds = np.fromiter(map(_TYPE_KIND.get, map(type, raw), repeat(_OTHER)), dtype=np.int8, count=n)
        done[kinds == _NONE] = True                     # None: blank, silently, in every column type

        strings = np.flatnonzero(kinds == _STR)
        if len(strings):
            codes, uniques = pd.factorize(raw[strings])
            parsed, ok = self._quiet_values(name, header, col_type, uniques, list_key, where)
            good = ok[codes]
            at = strings[good]
            out[at] = parsed[codes[good]]
            done[at] = True

        if not text_like:
            numbers = np.flatnonzero((kinds == _FLOAT) | (kinds == _INT))
            if len(numbers):
                value, ok = self._plain_numbers(col_type, raw[numbers], kinds[numbers] == _INT, where)
                out[numbers[ok]] = value[ok]
                done[numbers[ok]] = True
            if col_type == "date":
                days = np.flatnonzero(kinds == _DATE)
                if len(days):
                    ordinals = np.fromiter(map(_toordinal, raw[days]), dtype=np.int64, count=len(days))
                    value = (ordinals - _EPOCH_ORDINAL).astype(float)
                    ok = ~(value < 0) if where in NON_NEGATIVE else np.ones(len(days), dtype=bool)
                    out[days[ok]] = value[ok]
                    done[days[ok]] = True

        slow = np.flatnonzero(~done)
        if len(slow):
            rows = values.index[slow].tolist()
            for i, row in zip(slow.tolist(), rows):
                out[i] = self.cell(name, f"{letter}{row}", header, col_type, raw[i], list_key, where)
        return pd.Series(out, index=values.index, dtype=object if text_like else float)

    def _quiet_values(self, name, header, col_type, uniques, list_key, where):
        """(values, ok) for distinct strings: ok where cell() files no problem for the string.

        cell() depends on the cell's address only for the problems it files, so a string it
        parses without a problem parses the same, without a problem, in every cell of the column.
        """
        text_like = col_type in {"text", "code", "period"}
        m = len(uniques)
        values = np.full(m, "", dtype=object) if text_like else np.full(m, np.nan)
        ok = np.zeros(m, dtype=bool)
        if col_type == "text":       # what cell() does for a str in a text column, without the calls
            key = where in KEY_COLUMNS
            for j, s in enumerate(uniques.tolist()):
                v = parsing.clean_str(s)
                if v is not None and not (key and s != s.strip()):   # spaces: cell() notes them
                    values[j], ok[j] = v, True
            return values, ok
        real, scratch = self.p, ProblemList(lang=self.p.lang)
        self.p = scratch
        try:
            for j, s in enumerate(uniques.tolist()):
                scratch.items.clear()
                scratch._seen.clear()          # else a problem met before would not show again
                v = self.cell(name, "", header, col_type, s, list_key, where)
                if not scratch.items:
                    values[j] = v
                    ok[j] = True
        finally:
            self.p = real
        return values, ok

    def _plain_numbers(self, col_type, objs: np.ndarray, is_int: np.ndarray, where):
        """(values, ok) for int/float cells: ok where cell() would take the number without a problem.

        Mirrors cell() and _parse() for plain numbers; a cell that would get a note or an error
        (out of range, negative, a share typed as a whole percent, a month.day date...) is not ok.
        """
        try:
            x = objs.astype(float)
        except OverflowError:          # an int too large for a float: such cells are never ok
            x = np.array([v if not isinstance(v, int) or abs(v) < _EXACT_INT else np.inf for v in objs.tolist()],
                         dtype=float)
        with np.errstate(invalid="ignore"):
            blank = np.isnan(x)
            # ints beyond 2**53 do not convert exactly: to cell() with them
            ok = np.isfinite(x) & ~(is_int & (np.abs(x) >= _EXACT_INT))
            value = x
            if col_type == "date":
                serial = np.floor(x)
                ok &= ((serial >= 1) & (serial <= parsing._EXCEL_MAX_SERIAL)
                       & (serial != parsing._EXCEL_FAKE_LEAP_DAY) & ((x == serial) | (x >= 13)))
                value = serial + (serial < parsing._EXCEL_FAKE_LEAP_DAY)
            elif col_type == "week":
                ok &= (x >= 1) & (x <= parsing._MAX_WEEK) & (x == np.floor(x))
            elif col_type in {"number", "money", "int", "score", "percent", "share"}:
                ok &= (x == 0) | ((np.abs(x) >= MIN_MAGNITUDE) & (np.abs(x) <= MAX_MAGNITUDE))
                if col_type == "int":
                    ok &= x == np.floor(x)
                elif col_type == "score":
                    ok &= (x >= 0) & (x <= 100)
                elif col_type == "share":
                    ok &= ~((x > 1) & (x <= 100))     # read as a percent, with a note
            else:
                ok[:] = False
            if where in NON_NEGATIVE:
                ok &= ~(value < 0)
            ok |= blank
        return np.where(blank, np.nan, value), ok

    def cell(self, sheet_name: str, cell: str, header: str, col_type: str, raw, list_key, where):
        """One value, parsed; on failure a problem and a blank."""
        text_like = col_type in {"text", "code", "period"}
        blank = "" if text_like else np.nan
        if parsing.is_formula_error(raw):
            self.p.add(ERROR, sheet_name, cell, raw, ("一个值", "a value"),
                       (f"“{header}”含公式错误", f"'{header}' holds a formula error"), "formula-error")
            return blank
        try:
            value = self._parse(col_type, raw, list_key, sheet_name, cell, header)
        except parsing.ParseError as e:
            self.p.add(ERROR, sheet_name, cell, raw, (e.expected_zh, e.expected_en),
                       (f"无法识别“{header}”", f"Cannot read '{header}'"), "unreadable")
            return blank
        if value is None:
            if not text_like and isinstance(raw, str) and raw.strip():
                # "-", "无", "N/A": blank to mktsheets, but text to the live formulas
                self.p.add(NOTE, sheet_name, cell, raw, _say(self.layout.lang, "空单元格", "an empty cell"),
                           ("按空白读取；表内公式会把它当作文字，请清空该单元格",
                            "Read as blank; live formulas see text here - clear the cell"), "placeholder")
            return blank
        if where in KEY_COLUMNS and isinstance(raw, str) and raw != raw.strip():
            # MATCH and SUMIFS do not ignore spaces: the live formulas would not find this name or ID
            self.p.add(NOTE, sheet_name, cell, raw, raw.strip(),
                       ("前后有空格；表内公式不会忽略空格，请删除", "Leading or trailing spaces; live formulas do not "
                        "ignore them - remove them"), "spaces")
        if col_type not in {"date", "week"} and isinstance(value, float) and value and not (
                MIN_MAGNITUDE <= abs(value) <= MAX_MAGNITUDE):
            shown = f"{raw:g}" if isinstance(raw, (int, float)) and not isinstance(raw, bool) else raw
            self.p.add(ERROR, sheet_name, cell, shown, ("-10^15 到 10^15 之间的数", "a number between -10^15 and 10^15"),
                       (f"“{header}”的数值超出可计算范围", f"'{header}' is out of the range that can be computed"),
                       "out-of-range")
            return blank
        if isinstance(value, float) and isinstance(raw, str) and not text_like and col_type == "date":
            day = from_serial(value).isoformat()
            self.p.add(NOTE, sheet_name, cell, raw, (f"日期 {day}", f"the date {day}"),
                       ("按日期读取；该单元格是文本，表内公式无法计算，请改填日期",
                        "Read as a date; the cell holds text, which live formulas cannot use - type the date"),
                       "number-as-text")
        elif isinstance(value, float) and isinstance(raw, str) and not text_like:
            shown = f"{value:g}" + (f" = {value * 100:g}%" if col_type in {"percent", "share"} else "")
            self.p.add(NOTE, sheet_name, cell, raw, (f"数字 {shown}", f"the number {shown}"),
                       ("按数字读取；该单元格是文本，表内公式无法计算，请改填数字",
                        "Read as a number; the cell holds text, which live formulas cannot use - type the number"),
                       "number-as-text")
        if where in NON_NEGATIVE and isinstance(value, float) and value < 0:
            self.p.add(ERROR, sheet_name, cell, raw, ("不小于 0 的数", "a number of 0 or more"),
                       (f"“{header}”为负数", f"'{header}' is negative"), "negative")
        return value

    def _parse(self, col_type, raw, list_key, sheet_name, cell, header):
        if col_type == "text":
            return parsing.clean_text(raw)
        if col_type in {"number", "money"}:
            return parsing.parse_number(raw)
        if col_type == "int":
            v = parsing.parse_number(raw)
            if v is not None and not float(v).is_integer():
                raise parsing.ParseError(raw, "整数", "a whole number")
            return v
        if col_type == "score":
            v = parsing.parse_number(raw)
            if v is not None and not 0 <= v <= 100:
                # kept, so the score of the row is left blank by the rule (and by the formula)
                self.p.add(ERROR, sheet_name, cell, raw, ("0 到 100 的分数", "a score from 0 to 100"),
                           (f"“{header}”超出 0-100，该行得分留空", f"'{header}' is outside 0-100; the row's score is left blank"),
                           "score-range")
            return v
        if col_type in {"percent", "share"}:
            v, whole = parsing.parse_percent(raw)
            typed_percent = isinstance(raw, str) and ("%" in raw or "％" in raw)
            if col_type == "share" and v is not None and not whole and 1 < v <= 100 and not typed_percent:
                v, whole = v / 100, True      # SPEC §4: >1 and <=100 in a weight/threshold column is a percent
            if whole and col_type == "share":
                self.p.add(NOTE, sheet_name, cell, raw, (f"{v:.4g} 即 {v:.2%}", f"{v:.4g}, i.e. {v:.2%}"),
                           (f"“{header}”按百分数读取", f"'{header}' read as a percentage"), "percent-as-whole")
                return v
            if whole:  # a ratio column (may exceed 100%): take the number as typed
                return float(parsing.parse_number(raw))
            return v
        if col_type == "date":
            d = parsing.parse_date(raw, year=self.year)
            return None if d is None else to_serial(d)
        if col_type == "week":
            w = parsing.parse_week(raw)
            return None if w is None else float(w)
        if col_type == "code":
            if parsing.is_blank(raw):
                return None
            code = parsing.parse_code(raw, self.t.codes[list_key])
            labels = self.t.codes[list_key][code][:2]
            if str(raw).strip() not in labels:
                self.p.add(NOTE, sheet_name, cell, raw, f"{labels[0] if self.layout.lang == 'zh' else labels[1]}",
                           ("已按下拉选项识别；请从下拉列表选择，表内公式只认下拉选项",
                            "Understood; please pick it from the dropdown - live formulas only know the dropdown values"),
                           "code-variant")
            return code
        if col_type == "period":
            if parsing.is_blank(raw):
                return None
            code = period_code(raw)
            if code is None:
                raise parsing.ParseError(raw, "季度或月份，如 2024Q3、2024-07", "a quarter or month such as 2024Q3 or 2024-07")
            if not isinstance(raw, str) or raw.strip() != code:
                self.p.add(NOTE, sheet_name, cell, raw, code,
                           ("已按周期代码识别；请以文本填写", "Understood as this period code; type it as text"),
                           "period-variant")
            return code
        raise ValueError(f"unknown column type {col_type!r}")


# ----------------------------------------------------------------- settings

def _parse_settings(t: Template, raw: RawBook, layout: Layout, p: ProblemList, cells: _CellReader):
    """Settings values: canonical for Python, and the 'value used' each formula sees."""
    sheet_name = layout.sheet("settings").name
    values: dict[str, Any] = {}
    used: dict[str, Any] = {}
    quarter = parse_quarter(raw.settings.get("period"))
    if quarter is None:
        p.add(ERROR, sheet_name, raw.setting_cells.get("period", ""), raw.settings.get("period"),
              ("季度代码，如 2024Q3", "a quarter code such as 2024Q3"),
              ("无法识别本期", "Cannot read the period"), "period")
    cells.year = quarter.year if quarter else None
    for s in t.settings:
        cell = raw.setting_cells.get(s.key, "")
        r = raw.settings.get(s.key)
        label = s.label[0 if raw.lang == "zh" else 1]
        if s.key == "period":
            values["period"] = quarter.code if quarter else ""
            used["period"] = "" if parsing.is_blank(r) else str(r).strip()
            if quarter and used["period"] != quarter.code:
                p.add(NOTE, sheet_name, cell, r, quarter.code,
                      (f"已按 {quarter.code} 识别；请写成 {quarter.code}，表内公式按原文比较考核周期",
                       f"Understood as {quarter.code}; type {quarter.code} - live formulas compare periods as typed"),
                      "period-variant")
            continue
        default = s.default
        if s.key == "start":
            default = to_serial(quarter.start) if quarter else None
        elif s.key == "end":
            default = to_serial(quarter.end) if quarter else None
        if s.type == "code":
            code = cells.cell(sheet_name, cell, label, "code", r, s.list, None)
            values[s.key] = code or default
            used[s.key] = (str(r).strip() if not parsing.is_blank(r)
                           else t.code_label(s.list, default, raw.lang))
            continue
        if s.type == "text":
            v = cells.cell(sheet_name, cell, label, "text", r, None, None) or None
            values[s.key] = v if v is not None else default
            used[s.key] = values[s.key]
            continue
        v = cells.cell(sheet_name, cell, label, s.type, r, None, None)
        if isinstance(v, float) and np.isnan(v):
            v = None
        if s.type == "percent" and v is not None and 10 < v <= 1000:
            v = v / 100       # an over-threshold typed as 120 means 120%, as the formula reads it
        if v is None and default not in (None, ""):
            v = float(default)
        values[s.key] = v
        used[s.key] = v
    return values, used, quarter


def _parse_tables(t: Template, raw: RawBook, layout: Layout, cells: _CellReader) -> dict[str, pd.DataFrame]:
    sheet_name = layout.sheet("settings").name
    out = {}
    for table in t.tables:
        first, letters = raw.table_cells.get(table.key, (0, []))
        records = []
        for i, row in enumerate(raw.tables.get(table.key, [])):
            rec = {}
            for j, (key, zh, en, ctype) in enumerate(table.columns):
                cell = f"{letters[j]}{first + i}" if letters else ""
                v = row[j] if j < len(row) else None
                if ctype == "text":
                    rec[key] = cells.cell(sheet_name, cell, zh if raw.lang == "zh" else en, "text", v, None, None)
                else:
                    # tier values are taken as typed (120% may well exceed 1)
                    parsed = cells.cell(sheet_name, cell, zh if raw.lang == "zh" else en, "number"
                                        if ctype == "number" else "percent", v, None, None)
                    rec[key] = parsed
            records.append(rec)
        cols = [c[0] for c in table.columns]
        out[table.key] = pd.DataFrame.from_records(records, columns=cols)
    return out


# ----------------------------------------------------------------- entry point

def parse(template: Template, raw: RawBook, layout: Layout) -> tuple[Inputs, ProblemList]:
    """Typed inputs and the problems found while reading them."""
    p = ProblemList(lang=raw.lang)
    cells = _CellReader(template, layout, p, None)
    settings, used, quarter = _parse_settings(template, raw, layout, p, cells)
    tables = _parse_tables(template, raw, layout, cells)
    frames = {}
    for key, df in raw.sheets.items():
        sheet = template.sheet(key)
        cols = {}
        for c in sheet.input_columns:
            if c.key in df.columns:
                cols[c.key] = cells.column(key, c.key, c.type, df[c.key], c.list)
        frames[key] = pd.DataFrame(cols, index=df.index)
    start, end = settings.get("start"), settings.get("end")
    weeks = []
    if start is not None and end is not None and end >= start:
        weeks = calendar(_date(start), _date(end))
    cal = pd.DataFrame({"week": [float(w) for w, _, _ in weeks],
                        "start": [to_serial(s) for _, s, _ in weeks],
                        "end": [to_serial(e) for _, _, e in weeks]})
    months = quarter.months if quarter else ()
    inputs = Inputs(template, raw.lang, settings, used, tables, cal, months, frames, quarter)
    return inputs, p


def _date(serial: float) -> date:
    from .rules.base import from_serial
    return from_serial(serial)
