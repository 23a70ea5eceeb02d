"""Read a filled workbook: find sheets by name and columns by header, in any order.

Values come from python-calamine (fast, and it returns the cached value of any
formula); which cells hold formulas comes from a streaming scan of the sheet XML.
Works on files saved by Excel, WPS (wrong <dimension>), LibreOffice and openpyxl.
"""
from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from pathlib import Path, PurePosixPath

import pandas as pd
from defusedxml import ElementTree as SafeET
from python_calamine import CalamineWorkbook

from . import parsing
from .compute import helper_keys
from .generate import (CAL_ROWS, MIN_WEEKS, PROPERTY_LANG, PROPERTY_TEMPLATE, PROPERTY_VERSION)
from .layout import Layout, SheetLayout, col_index, col_letter
from .period import parse_quarter
from .problems import ERROR, NOTE, WARNING, ProblemList
from .schema import Template, load_template, normalise_label
from .safety import FileProblem, inspect_workbook_file

if TYPE_CHECKING:  # model imports the reader's neighbours; only the type is needed here
    from .model import RawBook

DATA_SHEETS = ("team", "targets", "tracking", "evaluation", "incentives", "review")
HEADER_SEARCH_ROWS = 15
_CELL_REF = re.compile(r"([A-Z]+)(\d+)")
_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"


class NotAWorkbook(FileProblem):
    """The file is an xlsx, but not one mktsheets can read."""


@dataclass
class Loaded:
    """A workbook as read: raw values, where everything is, and what was noticed."""

    path: Path
    template: Template
    lang: str
    layout: Layout
    raw: "RawBook"
    problems: ProblemList
    sheet_parts: dict[str, str]                         # sheet key -> zip part of its XML
    formula_cells: dict[str, set[str]] = field(default_factory=dict)   # sheet key -> A1 refs with a formula
    grids: dict[str, list[list]] = field(default_factory=dict)          # sheet key -> values (row-major)
    missing_columns: dict[str, list[str]] = field(default_factory=dict)


# ----------------------------------------------------------------- package scan

def _sheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> part name, from workbook.xml and its relationships."""
    wb = SafeET.fromstring(zf.read("xl/workbook.xml"))
    rels = SafeET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    targets = {}
    for r in rels:
        target = r.get("Target", "")
        if target.startswith("/"):
            part = target.lstrip("/")
        else:
            part = str(PurePosixPath("xl") / target)
        targets[r.get("Id")] = _normalise_part(part)
    out = {}
    for s in wb.iter(f"{_NS_MAIN}sheet"):
        rid = s.get(f"{_NS_REL}id")
        if rid in targets:
            out[s.get("name")] = targets[rid]
    return out


def _normalise_part(part: str) -> str:
    parts = []
    for p in part.split("/"):
        if p == "..":
            parts.pop()
        elif p not in ("", "."):
            parts.append(p)
    return "/".join(parts)


_TOKEN = re.compile(
    rb"<(?:[A-Za-z][\w.-]*:)?(?:(row)\b([^>]*?)/?>|c\b([^>]*?)(?:/>|>(.*?)</(?:[A-Za-z][\w.-]*:)?c>))", re.S)
_ATTR_R = re.compile(rb'\br="([A-Z]+)?(\d+)?"')
_ATTR_T_ERROR = re.compile(rb'\bt="e"')
_HAS_F = re.compile(rb"<(?:[A-Za-z][\w.-]*:)?f[\s>/]")
_VALUE = re.compile(rb"<(?:[A-Za-z][\w.-]*:)?v>([^<]*)</")
_ROW_END = re.compile(rb"</(?:[A-Za-z][\w.-]*:)?row>|<(?:[A-Za-z][\w.-]*:)?row\b[^>]*/>")
_CHUNK = 1 << 20
# A number calamine cannot turn into a date if its cell is date-formatted (|days| beyond ~1e11 panics in chrono)
_HUGE_NUMBER = re.compile(rb"<(?:[A-Za-z][\w.-]*:)?v>\s*-?(?:\d{12,}|\d*\.?\d+[eE]\+?(?:1[1-9]|[2-9]\d|\d{3}))")


def _scan_cells(zf: zipfile.ZipFile, part: str) -> tuple[set[str], dict[str, str], bool]:
    """A1 refs of the cells that hold a formula, the cells that hold an error value (#DIV/0!…),
    and whether any cell holds a number too large for calamine's date conversion.

    Streams the sheet XML in chunks of whole rows (calamine reads error cells as blanks,
    and tells nothing about formulas). Rows and cells without an r attribute are numbered
    implicitly, as Excel does.
    """
    out: set[str] = set()
    errors: dict[str, str] = {}
    huge = False
    row_num, col_num = 0, -1
    buf = b""
    with zf.open(part) as fh:
        while True:
            chunk = fh.read(_CHUNK)
            buf += chunk
            cut = len(buf)
            if chunk:
                ends = list(_ROW_END.finditer(buf, max(0, len(buf) - _CHUNK - 64)))
                if not ends:
                    continue
                cut = ends[-1].end()
            for m in _TOKEN.finditer(buf, 0, cut):
                if m.group(1):                       # <row ...>
                    r = _ATTR_R.search(m.group(2))
                    row_num = int(r.group(2)) if r and r.group(2) else row_num + 1
                    col_num = -1
                    continue
                attrs, body = m.group(3), m.group(4) or b""
                r = _ATTR_R.search(attrs)
                if r and r.group(1):
                    col_num = col_index(r.group(1).decode())
                    if r.group(2):
                        row_num = int(r.group(2))
                else:
                    col_num += 1
                if _HAS_F.search(body):
                    out.add(f"{col_letter(col_num)}{row_num}")
                if _ATTR_T_ERROR.search(attrs):
                    v = _VALUE.search(body)
                    errors[f"{col_letter(col_num)}{row_num}"] = (v.group(1).decode("utf-8", "replace")
                                                                 if v and v.group(1) else "#VALUE!")
            huge = huge or bool(_HUGE_NUMBER.search(buf, 0, cut))
            buf = buf[cut:]
            if not chunk:
                break
    return out, errors, huge


def _custom_properties(zf: zipfile.ZipFile) -> dict[str, str]:
    try:
        xml = zf.read("docProps/custom.xml")
    except KeyError:
        return {}
    root = SafeET.fromstring(xml)
    out = {}
    for prop in root:
        name = prop.get("name")
        value = "".join(ch.text or "" for ch in prop)
        out[name] = value
    return out


# ----------------------------------------------------------------- finding things

def _match_sheets(template: Template, names: list[str]) -> tuple[dict[str, str], str | None]:
    """Sheet key -> actual name, and the language the names are in."""
    found: dict[str, str] = {}
    votes = {"zh": 0, "en": 0}
    by_norm = {normalise_label(n): n for n in names}
    for s in template.sheets:
        for lang in ("zh", "en"):
            actual = by_norm.get(normalise_label(s.name(lang)))
            if actual and s.key not in found:
                found[s.key] = actual
                votes[lang] += 1
    lang = max(votes, key=votes.get) if any(votes.values()) else None
    return found, lang


def _header_row(grid: list[list], accepted: dict[str, str]) -> int:
    """0-based index of the row whose texts match the most known headers."""
    best, best_hits = 0, -1
    for i, row in enumerate(grid[:HEADER_SEARCH_ROWS]):
        hits = sum(1 for v in row if isinstance(v, str) and normalise_label(v) in accepted)
        if hits > best_hits:
            best, best_hits = i, hits
    return best


def _columns(template: Template, key: str, header: list, weeks: int) -> tuple[dict[str, int], list[str]]:
    """Column key -> 0-based index for this sheet's header row; keys not found."""
    sheet = template.sheet(key)
    accepted: dict[str, str] = {}
    for c in sheet.columns:
        for h in c.accepted_headers():
            accepted.setdefault(normalise_label(h), c.key)
    for h in helper_keys(key, weeks):
        accepted[normalise_label(h)] = h
    found: dict[str, int] = {}
    for i, v in enumerate(header):
        if isinstance(v, str) and v.strip():
            k = accepted.get(normalise_label(v))
            if k and k not in found:
                found[k] = i
    wanted = [c.key for c in sheet.columns] + list(helper_keys(key, weeks))
    return found, [k for k in wanted if k not in found]


# ----------------------------------------------------------------- entry point

def read_workbook(path: str | Path, template: Template | None = None) -> Loaded:
    """Read a workbook file; raises FileProblem for files that cannot be read at all."""
    from .model import RawBook

    path = Path(path)
    inspect_workbook_file(path)
    template = template or load_template()
    with zipfile.ZipFile(path) as zf:
        parts = _sheet_parts(zf)
        props = _custom_properties(zf)
        sheet_names = list(parts)
        found, lang = _match_sheets(template, sheet_names)
        missing = [s for s in template.sheets if s.key not in found and (s.key == "settings" or s.key in DATA_SHEETS)]
        if len(missing) >= 5:
            raise NotAWorkbook(
                "不是 mktsheets 工作簿：缺少工作表 " + "、".join(s.zh for s in missing),
                "not a mktsheets workbook: missing sheets " + ", ".join(s.en for s in missing))
        lang = props.get(PROPERTY_LANG) if props.get(PROPERTY_LANG) in ("zh", "en") else (lang or "zh")
        problems = ProblemList(lang=lang)
        _check_fingerprint(template, props, problems)
        if missing:
            raise NotAWorkbook(
                "缺少工作表 " + "、".join(s.zh for s in missing) + "（可用 mktsheets new 生成新模板）",
                "missing sheets " + ", ".join(s.en for s in missing) + " (mktsheets new makes a fresh one)")
        scans = {key: _scan_cells(zf, parts[name]) for key, name in found.items()
                 if key in DATA_SHEETS or key in ("settings", "dashboard", "checks")}
        formula_cells = {key: scan[0] for key, scan in scans.items()}
        error_cells = {key: scan[1] for key, scan in scans.items()}
        huge = {key for key, scan in scans.items() if scan[2]}
    book = CalamineWorkbook.from_path(str(path))
    grids = {key: _grid(book, path, name, key in huge) for key, name in found.items()
             if key not in ("guide", "dashboard")}
    for key, errors in error_cells.items():   # put the error text back where calamine left a blank
        grid = grids.get(key)
        for a1, text in errors.items() if grid is not None else ():
            m = _CELL_REF.match(a1)
            r, c = int(m.group(2)) - 1, col_index(m.group(1))
            if r < len(grid) and c < len(grid[r]) and grid[r][c] in ("", None):
                grid[r][c] = text
    loaded_parts = {key: parts[name] for key, name in found.items()}

    settings_grid = grids["settings"]
    setting_rows, values, tables, table_cells, cal_first = _read_settings(template, settings_grid, lang, problems,
                                                                          found["settings"])
    quarter = parse_quarter(values.get("period"))
    weeks = MIN_WEEKS
    sheets: dict[str, SheetLayout] = {}
    frames: dict[str, pd.DataFrame] = {}
    missing_cols: dict[str, list[str]] = {}
    for s in template.sheets:
        name = found.get(s.key, s.name(lang))
        sl = SheetLayout(name=name)
        sheets[s.key] = sl
        if not s.columns or s.key == "checks":
            sl.columns = {c.key: i for i, c in enumerate(s.columns)}
            continue
        grid = grids[s.key]
        accepted = {normalise_label(h): c.key for c in s.columns for h in c.accepted_headers()}
        hr = _header_row(grid, accepted)
        header = grid[hr] if grid else []
        cols, absent = _columns(template, s.key, header, weeks)
        width = max(len(header), max(cols.values(), default=-1) + 1)
        for k in absent:          # computed/helper columns the file lacks are added at the end
            cols[k] = width
            width += 1
        sl.columns = cols
        sl.header_row = hr + 1
        sl.first = hr + 2
        absent_inputs = [k for k in absent if s.column(k).is_input] if s.columns else []
        absent_inputs = [k for k in absent_inputs if k in {c.key for c in s.columns}]
        for k in absent_inputs:
            col = s.column(k)
            problems.add(ERROR if s.key != "incentives" else WARNING, name, f"{col_letter(cols[k])}{sl.header_row}",
                         "", col.header(lang), (f"找不到“{col.header('zh')}”列", f"Column '{col.header('en')}' not found"),
                         "missing-column")
        missing_cols[s.key] = absent
        data = grid[hr + 1:]
        input_idx = {c.key: cols[c.key] for c in s.input_columns if c.key not in absent_inputs}
        formulas = formula_cells.get(s.key, set())
        last = _last_row(data, input_idx.values(), sl.first, formulas)
        sl.last = max(last, sl.first)
        rows = []
        for r in range(sl.first, sl.last + 1):
            row = data[r - sl.first] if r - sl.first < len(data) else []
            rows.append({k: (row[i] if i < len(row) else None) for k, i in input_idx.items()})
        frame = pd.DataFrame(rows, index=range(sl.first, sl.last + 1), columns=list(input_idx), dtype=object)
        for k in absent_inputs:
            frame[k] = None
        frames[s.key] = frame
    follows = sheets["incentives"]
    team = sheets["team"]
    # Incentives row i follows Team row i; its pre-formatted rows that carry formulas stay live
    # (and get cached values) even below the last filled Team row, as on the other sheets.
    inc_formula_rows = [int(_CELL_REF.match(a).group(2)) for a in formula_cells.get("incentives", ())]
    extra = max(inc_formula_rows, default=0) - (follows.first + (team.last - team.first))
    if extra > 0:
        team.last += extra
        tf = frames["team"].reindex(range(team.first, team.last + 1))
        frames["team"] = tf.astype(object).where(tf.notna(), None)
    follows.last = follows.first + (team.last - team.first)
    inc = frames["incentives"].reindex(range(follows.first, follows.last + 1))
    frames["incentives"] = inc.astype(object).where(inc.notna(), None)

    layout = Layout(template, lang, sheets, weeks=weeks, months=quarter.months if quarter else (),
                    setting_rows=setting_rows, calendar_first=cal_first, calendar_len=CAL_ROWS)
    raw = RawBook(lang, values, {k: f"B{r}" for k, r in setting_rows.items()}, tables, table_cells, frames)
    return Loaded(path, template, lang, layout, raw, problems, loaded_parts, formula_cells, grids, missing_cols)


def _grid(book: CalamineWorkbook, path: Path, name: str, huge_numbers: bool = False) -> list[list]:
    """A sheet's values, row-major from A1.

    calamine panics (a BaseException, not an Exception, and a Rust backtrace on stderr) on a
    date-formatted cell whose number is no date (e.g. -1e308): a sheet with such numbers is read
    with openpyxl instead, which gives those cells as #VALUE! (what Excel shows as ####), so they
    become a problem of their cell.
    """
    if not huge_numbers:
        try:
            return book.get_sheet_by_name(name).to_python(skip_empty_area=False)
        except BaseException as e:  # noqa: BLE001 - pyo3_runtime.PanicException derives from BaseException
            if type(e).__name__ != "PanicException":
                raise
    import datetime
    import warnings

    import openpyxl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = openpyxl.load_workbook(path, data_only=True, read_only=True)
        try:
            ws = wb[name]
            ws.reset_dimensions()           # WPS writes a wrong <dimension>
            rows = [[v.date() if isinstance(v, datetime.datetime) and v.time() == datetime.time() else v
                     for v in row] for row in ws.iter_rows(values_only=True)]
        finally:
            wb.close()
    return rows


def _last_row(data: list[list], input_cols, first: int, formulas: set[str]) -> int:
    """Last row that holds any input value (formatted-but-empty rows do not count)."""
    input_cols = list(input_cols)
    last = first - 1
    for i in range(len(data) - 1, -1, -1):
        row = data[i]
        if any(j < len(row) and not parsing.is_blank(row[j]) for j in input_cols):
            last = first + i
            break
    # keep the pre-formatted rows that already carry formulas, so recalc keeps them live
    formula_rows = [int(_CELL_REF.match(a).group(2)) for a in formulas] if formulas else []
    if formula_rows:
        last = max(last, max(formula_rows))
    return last


def _check_fingerprint(template: Template, props: dict, problems: ProblemList) -> None:
    name, version = props.get(PROPERTY_TEMPLATE), props.get(PROPERTY_VERSION)
    if name is None:
        problems.add(NOTE, "", "", "", f"{template.name} v{template.version}",
                     ("文件没有 mktsheets 模板标记，按工作表名称读取", "No mktsheets template mark; read by sheet names"),
                     "no-fingerprint")
        return
    if name != template.name:
        raise NotAWorkbook(f"未知模板“{name}”（本工具认识 {template.name}）",
                           f"unknown template '{name}' (this tool knows {template.name})")
    try:
        v = int(version)
    except (TypeError, ValueError):
        v = 0
    if v > template.version:
        raise NotAWorkbook(f"该文件来自更新的模板 v{v}，请升级 mktsheets（当前支持 v{template.version}）",
                           f"the file comes from a newer template v{v}; upgrade mktsheets (this one knows v{template.version})")


def _read_settings(template: Template, grid: list[list], lang: str, problems: ProblemList, sheet_name: str):
    """Settings by label (value right of the label), tables by title (rows until the first blank row)."""
    labels = {}
    for s in template.settings:
        for text in s.label:
            labels[normalise_label(text)] = s.key
    titles = {}
    for t in template.tables:
        for text in t.title:
            titles[normalise_label(text)] = t.key
    cal_titles = {normalise_label("周历"), normalise_label("Calendar")}
    rows: dict[str, int] = {}
    values: dict[str, object] = {}
    tables: dict[str, list[tuple]] = {}
    table_cells: dict[str, tuple[int, list[str]]] = {}
    cal_first = 0
    for i, row in enumerate(grid):
        if not row:
            continue
        first = row[0]
        if not isinstance(first, str) or not first.strip():
            continue
        norm = normalise_label(first)
        if norm in labels and labels[norm] not in rows:
            key = labels[norm]
            rows[key] = i + 1
            values[key] = None if len(row) < 2 or parsing.is_blank(row[1]) else row[1]
        elif norm in titles and titles[norm] not in tables:
            t = template.table(titles[norm])
            data_first = i + 3            # title, header, then rows
            recs = []
            for r in grid[i + 2:]:
                cells = [r[j] if j < len(r) else None for j in range(len(t.columns))]
                if all(parsing.is_blank(c) for c in cells):
                    break
                recs.append(tuple(None if parsing.is_blank(c) else c for c in cells))
            tables[t.key] = recs
            table_cells[t.key] = (data_first, [col_letter(j) for j in range(len(t.columns))])
        elif norm in cal_titles and not cal_first:
            cal_first = i + 3
    for s in template.settings:
        if s.key not in rows:
            problems.add(ERROR if s.key == "period" else WARNING, sheet_name, "", "", s.label[0 if lang == "zh" else 1],
                         (f"“参数”表缺少“{s.label[0]}”，使用默认值", f"Setting '{s.label[1]}' not found; the default is used"),
                         "missing-setting")
    for t in template.tables:
        if t.key not in tables:
            problems.add(WARNING, sheet_name, "", "", t.title[0 if lang == "zh" else 1],
                         (f"“参数”表缺少“{t.title[0]}”，使用默认档位", f"Table '{t.title[1]}' not found; the defaults are used"),
                         "missing-table")
            tables[t.key] = [tuple(r) for r in t.rows]
            table_cells[t.key] = (0, [])
    return rows, values, tables, table_cells, cal_first
