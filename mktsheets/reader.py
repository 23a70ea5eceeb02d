"""Read a filled workbook: find sheets by name and columns by header, in any order.

Each data sheet is read in one streaming pass over its XML (mktsheets.sheetscan): the first rows
whole, to find the header, then only the input columns' values, the cells of computed columns
that hold a typed value instead of their formula, and the last row that holds a formula. Settings
and Checks are small and read whole. Works on files saved by Excel, WPS (wrong <dimension>),
LibreOffice and openpyxl.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
from defusedxml import ElementTree as SafeET

from . import parsing, sheetscan
from .compute import helper_keys
from .generate import (CAL_ROWS, MIN_WEEKS, PROPERTY_LANG, PROPERTY_TEMPLATE, PROPERTY_VERSION)
from .layout import Layout, SheetLayout, col_letter
from .period import parse_quarter
from .problems import ERROR, NOTE, WARNING, ProblemList
from .schema import Template, load_template, normalise_label
from .safety import FileProblem, inspect_workbook_file

if TYPE_CHECKING:  # model imports the reader's neighbours; only the type is needed here
    from .model import RawBook

DATA_SHEETS = ("team", "targets", "tracking", "evaluation", "incentives", "review")
HEADER_SEARCH_ROWS = 15
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
    grids: dict[str, list[list]] = field(default_factory=dict)          # settings, checks -> values (row-major)
    missing_columns: dict[str, list[str]] = field(default_factory=dict)
    # data sheet key -> (column key, row, value) of computed/helper cells from the first data row on that
    # hold a non-blank value and no formula, in file order (api._overwritten keeps those in the data rows)
    typed_in_computed: dict[str, list[tuple[str, int, object]]] = field(default_factory=dict)


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
        info = sheetscan.load_book(zf)
        grids = {key: sheetscan.read_grid(zf, parts[found[key]], info) for key in ("settings", "checks")
                 if key in found}
        loaded_parts = {key: parts[name] for key, name in found.items()}

        setting_rows, values, tables, table_cells, cal_first = _read_settings(template, grids["settings"], lang,
                                                                              problems, found["settings"])
        quarter = parse_quarter(values.get("period"))
        weeks = MIN_WEEKS
        sheets: dict[str, SheetLayout] = {}
        frames: dict[str, pd.DataFrame] = {}
        missing_cols: dict[str, list[str]] = {}
        typed: dict[str, list[tuple[str, int, object]]] = {}
        last_formula: dict[str, int] = {}
        for s in template.sheets:
            name = found.get(s.key, s.name(lang))
            sl = SheetLayout(name=name)
            sheets[s.key] = sl
            if not s.columns or s.key == "checks":
                sl.columns = {c.key: i for i, c in enumerate(s.columns)}
                continue
            reader = sheetscan.SheetReader(zf, parts[name], info)
            head = reader.head(HEADER_SEARCH_ROWS)
            accepted = {normalise_label(h): c.key for c in s.columns for h in c.accepted_headers()}
            hr = _header_row(head, accepted)
            header = head[hr] if hr < len(head) else []
            cols, absent = _columns(template, s.key, header, weeks)
            sl.header_row = hr + 1
            sl.first = hr + 2
            absent_inputs = [k for k in absent if k in {c.key for c in s.columns} and s.column(k).is_input]
            input_idx = {c.key: cols[c.key] for c in s.input_columns if c.key not in absent_inputs}
            computed_keys = [c.key for c in s.columns if not c.is_input] + list(helper_keys(s.key, weeks))
            scan = reader.scan(sl.first, {i: k for k, i in input_idx.items()},
                               {cols[k]: k for k in computed_keys if k not in absent}, width=bool(absent))
            width = max(scan.width, max(cols.values(), default=-1) + 1)
            for k in absent:          # computed/helper columns the file lacks are added at the end
                cols[k] = width
                width += 1
            sl.columns = cols
            for k in absent_inputs:
                col = s.column(k)
                problems.add(ERROR if s.key != "incentives" else WARNING, name, f"{col_letter(cols[k])}{sl.header_row}",
                             "", col.header(lang), (f"找不到“{col.header('zh')}”列", f"Column '{col.header('en')}' not found"),
                             "missing-column")
            missing_cols[s.key] = absent
            # the last row that holds any input value (formatted-but-empty rows do not count), or
            # a formula: pre-formatted rows that already carry formulas stay live for recalc
            sl.last = max(scan.last_value_row(parsing.is_blank), scan.last_formula, sl.first)
            frame = _frame(scan.values, list(input_idx), sl.first, sl.last)
            for k in absent_inputs:
                frame[k] = None
            frames[s.key] = frame
            typed[s.key] = [(k, r, v) for k, r, v in scan.typed if not parsing.is_blank(v)]
            last_formula[s.key] = scan.last_formula
            del scan, reader
    follows = sheets["incentives"]
    team = sheets["team"]
    # Incentives row i follows Team row i; its pre-formatted rows that carry formulas stay live
    # (and get cached values) even below the last filled Team row, as on the other sheets.
    extra = last_formula["incentives"] - (follows.first + (team.last - team.first))
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
    return Loaded(path, template, lang, layout, raw, problems, loaded_parts, grids, missing_cols, typed)


def _frame(values: dict[str, list], keys: list[str], first: int, last: int) -> pd.DataFrame:
    """The input columns' values of rows first..last as an object DataFrame indexed by row.

    Filled column by column into one block, each list emptied as soon as it is copied: a column
    can be a million items, and a DataFrame built from a dict of lists holds them three times.
    """
    n = last - first + 1
    block = np.full((len(keys), n), None, dtype=object)
    for j, k in enumerate(keys):
        column = values[k]
        m = min(len(column), n)
        if m:
            block[j, :m] = column[:m] if m < len(column) else column
        column.clear()
    return pd.DataFrame(block.T, index=range(first, last + 1), columns=keys, dtype=object, copy=False)


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
