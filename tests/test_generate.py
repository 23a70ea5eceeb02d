"""Structural proof of `mktsheets new` (issue 2, "Must show 1"): the workbook of SPEC §2, point by point.

Every expectation about names, headers, settings, tables and dropdown labels is written out here from
SPEC.md, not taken from workbook_templates/, so that a drift between the template and the contract fails.
Workbooks are inspected with openpyxl (formulas and cached values) and, where openpyxl hides or rewrites
things (cached values of formula cells, print attributes, drawings, charts), by reading the package XML.
"""
from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree as ET

import openpyxl
import pytest
from openpyxl.utils import get_column_letter, range_boundaries

from mktsheets.compute import helper_keys
from mktsheets.demo import localised_sample
from mktsheets.generate import new_workbook
from mktsheets.schema import load_template

# --------------------------------------------------------------------------- the contract (SPEC §2)

SPEC_SHEETS = [  # key, zh, en — in this order
    ("guide", "说明", "Guide"),
    ("settings", "参数", "Settings"),
    ("team", "团队", "Team"),
    ("targets", "目标", "Targets"),
    ("tracking", "跟踪", "Tracking"),
    ("evaluation", "评估", "Evaluation"),
    ("incentives", "激励", "Incentives"),
    ("review", "复盘", "Review"),
    ("dashboard", "看板", "Dashboard"),
    ("checks", "检查", "Checks"),
]
DATA_SHEETS = ("team", "targets", "tracking", "evaluation", "incentives", "review")

# SPEC §2.1–2.6: (zh, en) headers by role.
SPEC_HEADERS: dict[str, dict[str, list[tuple[str, str]]]] = {
    "team": {
        "input": [("工号", "ID"), ("姓名", "Name"), ("岗位", "Role"), ("小组", "Group"), ("上级", "Manager"),
                  ("邮箱", "Email"), ("奖金基数", "Bonus base")],
        "computed": [],
    },
    "targets": {
        "input": [("目标编号", "Goal ID"), ("层级", "Level"), ("上级目标", "Parent goal"), ("目标名称", "Goal"),
                  ("目标类型", "Type"), ("SMART描述", "SMART description"), ("负责人", "Owner"),
                  ("执行人", "Executor"), ("协作人", "Collaborators"), ("协作部门", "Partner departments"),
                  ("开始日期", "Start"), ("结束日期", "End"), ("单位", "Unit"), ("方向", "Direction"),
                  ("汇总方式", "Aggregation"), ("基准值", "Baseline"), ("目标值", "Target"), ("挑战值", "Stretch"),
                  ("权重", "Weight"), ("手填实际值", "Manual actual"), ("风险提示", "Risks")],
        "computed": [("实际值", "Actual"), ("完成率", "Completion"), ("较基准变化", "Change vs baseline"),
                     ("时间进度", "Time elapsed"), ("进度状态", "Status"), ("预警周数", "Warning weeks")],
    },
    "tracking": {
        "input": [("周次", "Week"), ("目标编号", "Goal ID"), ("工作内容", "Task"), ("负责人", "Owner"),
                  ("计划量", "Planned"), ("实际量", "Actual"), ("偏差原因", "Deviation reason"),
                  ("改进措施", "Corrective action"), ("资源需求", "Resources needed"), ("完成时限", "Due date")],
        "computed": [("周起止", "Week dates"), ("完成率", "Completion"), ("偏差状态", "Status"),
                     ("连续预警", "Repeated warning")],
    },
    "evaluation": {
        "input": [("考核周期", "Period"), ("姓名", "Name"), ("指标名称", "Indicator"), ("指标类型", "Kind"),
                  ("关联目标", "Goal ID"), ("方向", "Direction"), ("权重", "Weight"), ("目标值", "Target"),
                  ("实际值", "Actual"), ("上级评分", "Manager score"), ("同事评分", "Peer score"),
                  ("客户评分", "Customer score"), ("评语", "Comment")],
        "computed": [("考核目标值", "Target used"), ("考核实际值", "Actual used"), ("完成率", "Completion"),
                     ("得分", "Score"), ("加权得分", "Weighted score")],
    },
    "incentives": {
        "input": [("调整金额", "Adjustment"), ("调整原因", "Adjustment reason"), ("备注", "Notes"),
                  ("确认", "Sign-off")],
        "computed": [("姓名", "Name"), ("小组", "Group"), ("定量得分", "Quantitative score"),
                     ("定性得分", "Qualitative score"), ("总分", "Total score"), ("等级", "Grade"), ("排名", "Rank"),
                     ("综合完成率", "Overall completion"), ("奖金基数", "Bonus base"), ("奖金系数", "Payout factor"),
                     ("绩效奖金", "Performance bonus"), ("销售目标", "Sales target"), ("销售实际", "Sales actual"),
                     ("提成", "Commission"), ("应发合计", "Total payout"), ("荣誉", "Honours"),
                     ("预警事项", "Alerts")],
    },
    "review": {
        "input": [("目标编号", "Goal ID"), ("关键亮点", "Highlights"), ("主要问题", "Problems"),
                  ("根本原因", "Root cause"), ("改进计划", "Improvement plan"), ("责任人", "Owner"),
                  ("完成时限", "Due date")],
        "computed": [("目标名称", "Goal"), ("目标值", "Target"), ("实际值", "Actual"), ("达成率", "Completion")],
    },
}

# SPEC §2.2/§2.4/§2.5 coded columns and their dropdown labels (zh, en).
LEVELS = [("公司", "Company"), ("部门", "Department"), ("小组", "Group"), ("个人", "Individual")]
GOAL_TYPES = [("销售额", "Sales"), ("新客户", "New customers"), ("用户增长", "User growth"),
              ("品牌曝光", "Brand exposure"), ("转化率", "Conversion"), ("复购率", "Retention"), ("其他", "Other")]
DIRECTIONS = [("越高越好", "Higher is better"), ("越低越好", "Lower is better")]
AGGREGATIONS = [("累计", "Sum"), ("最新", "Latest"), ("平均", "Average")]
KINDS = [("定量", "Quantitative"), ("定性", "Qualitative")]
YES_NO = [("是", "Yes"), ("否", "No")]
SCORING = [("档位", "Tiers"), ("线性", "Linear")]
BASIS = [("完成率", "Completion"), ("等级", "Grade")]
CODED_COLUMNS = [  # sheet, header (zh, en), SPEC labels, template code list
    ("targets", ("层级", "Level"), LEVELS, "level"),
    ("targets", ("目标类型", "Type"), GOAL_TYPES, "goal_type"),
    ("targets", ("方向", "Direction"), DIRECTIONS, "direction"),
    ("targets", ("汇总方式", "Aggregation"), AGGREGATIONS, "aggregation"),
    ("evaluation", ("指标类型", "Kind"), KINDS, "kind"),
    ("evaluation", ("方向", "Direction"), DIRECTIONS, "direction"),
    ("incentives", ("确认", "Sign-off"), YES_NO, "yesno"),
]
NAME_COLUMNS = [("targets", ("负责人", "Owner")), ("targets", ("执行人", "Executor")),
                ("tracking", ("负责人", "Owner")), ("evaluation", ("姓名", "Name")), ("review", ("责任人", "Owner"))]
GOAL_ID_COLUMNS = [("targets", ("上级目标", "Parent goal")), ("tracking", ("目标编号", "Goal ID")),
                   ("evaluation", ("关联目标", "Goal ID")), ("review", ("目标编号", "Goal ID"))]

# SPEC §2.7 key/value block: (zh label, en label, default in zh, default in en); None = blank.
SETTINGS = [
    ("本期", "Period", "2024Q3", "2024Q3"),
    ("开始日期", "Period start", date(2024, 7, 1), date(2024, 7, 1)),
    ("结束日期", "Period end", date(2024, 9, 30), date(2024, 9, 30)),
    ("统计截止日", "As-of date", None, None),
    ("预警阈值", "Warning threshold", 0.8, 0.8),
    ("超额阈值", "Over-achievement threshold", 1.2, 1.2),
    ("连续预警周数", "Repeated-warning weeks", 2, 2),
    ("定量评分方式", "Quantitative scoring", "档位", "Tiers"),
    ("线性得分上限", "Linear score cap", 120, 120),
    ("单项完成率上限", "Completion cap", 1.5, 1.5),
    ("上级评分权重", "Manager score weight", 0.5, 0.5),
    ("同事评分权重", "Peer score weight", 0.3, 0.3),
    ("客户评分权重", "Customer score weight", 0.2, 0.2),
    ("奖金系数依据", "Payout basis", "完成率", "Completion"),
    ("前列比例", "Top share", 0.2, 0.2),
    ("末位比例", "Bottom share", 0.2, 0.2),
    ("辅导分数线", "Coaching line", 60, 60),
    ("辅导连续月数", "Coaching months", 2, 2),
    ("团队达成奖励", "Team award", 0, 0),
    ("提成封顶", "Commission cap", None, None),
    ("货币单位", "Currency", "元", "元"),
]
CODED_SETTINGS = [(("定量评分方式", "Quantitative scoring"), SCORING), (("奖金系数依据", "Payout basis"), BASIS)]

# SPEC §2.7 tables: title (zh, en), headers [(zh, en)], default rows.
TABLES = [
    (("评分档位", "Score tiers"), [("完成率下限", "Min completion"), ("得分", "Score")],
     [(1.0, 100), (0.8, 80), (0.6, 60), (0.0, 0)]),
    (("奖金系数档位", "Payout tiers"), [("完成率下限", "Min completion"), ("系数", "Factor")],
     [(1.0, 1.2), (0.8, 1.0), (0.6, 0.8), (0.0, 0.0)]),
    (("等级档位", "Grade tiers"), [("分数下限", "Min score"), ("等级", "Grade"), ("系数", "Factor")],
     [(90, "S", 1.5), (80, "A", 1.2), (70, "B", 1.0), (60, "C", 0.8), (0, "D", 0.0)]),
    (("提成档位", "Commission brackets"), [("完成率下限", "From completion"), ("提成比例", "Rate")],
     [(1.0, 0.03), (1.2, 0.08)]),
]
CALENDAR = (("周历", "Calendar"), [("周次", "Week"), ("开始", "Start"), ("结束", "End")])

# Functions that Excel 2010, WPS and LibreOffice all evaluate alike (classic, pre-2013, non-volatile).
ALLOWED_FUNCTIONS = {
    "IF", "IFERROR", "AND", "OR", "NOT", "SUMIFS", "COUNTIFS", "COUNTIF", "SUMIF", "AVERAGEIFS", "SUMPRODUCT",
    "INDEX", "MATCH", "LOOKUP", "VLOOKUP", "ROUND", "ROUNDUP", "ROUNDDOWN", "INT", "CEILING", "FLOOR", "MIN",
    "MAX", "RANK", "N", "ISNUMBER", "ISBLANK", "ISTEXT", "ABS", "AVERAGE", "COUNT", "COUNTA", "SUM", "TRIM",
    "LEN", "TEXT", "DATE", "YEAR", "MONTH", "DAY", "WEEKDAY", "HYPERLINK",
}
FORBIDDEN_FUNCTIONS = {  # volatile, or Excel 2013+ / dynamic arrays
    "TODAY", "NOW", "OFFSET", "INDIRECT", "RAND", "RANDBETWEEN", "CELL", "INFO", "RANK.EQ", "RANK.AVG",
    "IFS", "SWITCH", "MAXIFS", "MINIFS", "XLOOKUP", "XMATCH", "LET", "LAMBDA", "FILTER", "SORT", "UNIQUE",
    "SEQUENCE", "TEXTJOIN", "CONCAT", "IFNA", "DAYS", "ISOWEEKNUM", "STDEV.S", "CEILING.MATH", "FLOOR.MATH",
}

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
      "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
      "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
      "c": "http://schemas.openxmlformats.org/drawingml/2006/chart",
      "cp": "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties",
      "vt": "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"}
R_ID = f"{{{NS['r']}}}id"

# --------------------------------------------------------------------------- helpers


def tr(pair: tuple[str, str], lang: str) -> str:
    return pair[0] if lang == "zh" else pair[1]


def sheet_name(key: str, lang: str) -> str:
    return next(tr((zh, en), lang) for k, zh, en in SPEC_SHEETS if k == key)


def rgb(cell) -> str | None:
    fill = cell.fill
    return fill.fgColor.rgb if fill is not None and fill.fill_type == "solid" else None


def as_date(value) -> date | None:
    return value.date() if isinstance(value, datetime) else value


def strip_strings(formula: str) -> str:
    """A formula without its string literals (a label such as "Not started" is no function call)."""
    return re.sub(r'"(?:[^"]|"")*"', '""', formula)


def function_names(formula: str) -> set[str]:
    return {m[:-1] for m in re.findall(r"[A-Z][A-Z0-9.]*\(", strip_strings(formula).upper())}


def rows_of(sqref: str) -> list[tuple[int, int, int, int]]:
    """(min_col, min_row, max_col, max_row) of every range of a space-separated sqref."""
    return [range_boundaries(part) for part in str(sqref).split()]


def covers(sqref, col: int, first: int, last: int) -> bool:
    return any(c1 <= col <= c2 and r1 <= first and r2 >= last for c1, r1, c2, r2 in rows_of(sqref))


@dataclass
class Book:
    """One generated workbook, opened every way the tests need."""

    path: Path
    lang: str
    filled: bool
    period: str = "2024Q3"
    written: object = None
    data: dict = field(default_factory=dict)
    _xml: dict = field(default_factory=dict, repr=False)
    _headers: dict = field(default_factory=dict, repr=False)
    _last: dict = field(default_factory=dict, repr=False)

    @cached_property
    def wb(self) -> openpyxl.Workbook:
        return openpyxl.load_workbook(self.path)

    @cached_property
    def values(self) -> openpyxl.Workbook:
        return openpyxl.load_workbook(self.path, data_only=True)

    @cached_property
    def zip(self) -> dict[str, bytes]:
        with zipfile.ZipFile(self.path) as z:
            return {n: z.read(n) for n in z.namelist()}

    def xml(self, part: str) -> ET.Element:
        return ET.fromstring(self.zip[part])

    @cached_property
    def sheet_parts(self) -> dict[str, str]:
        """Sheet name -> its part path, as workbook.xml and its rels say."""
        rels = {r.get("Id"): r.get("Target") for r in self.xml("xl/_rels/workbook.xml.rels")}
        out = {}
        for s in self.xml("xl/workbook.xml").find("m:sheets", NS):
            target = rels[s.get(R_ID)]
            out[s.get("name")] = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
        return out

    def sheet_xml(self, key: str) -> ET.Element:
        if key not in self._xml:
            self._xml[key] = self.xml(self.sheet_parts[sheet_name(key, self.lang)])
        return self._xml[key]

    def ws(self, key: str, values: bool = False):
        return (self.values if values else self.wb)[sheet_name(key, self.lang)]

    def headers(self, key: str) -> dict[str, int]:
        """Header text -> 1-based column of row 1 (the generator's header row)."""
        if key in self._headers:
            return self._headers[key]
        ws = self.ws(key)
        out = self._headers[key] = {}
        for cell in ws[1]:
            if isinstance(cell.value, str) and cell.value.strip():
                assert cell.value not in out, f"{key}: header {cell.value!r} appears twice"
                out[cell.value] = cell.column
        return out

    def col(self, key: str, pair: tuple[str, str]) -> int:
        h = self.headers(key)
        name = tr(pair, self.lang)
        assert name in h, f"{sheet_name(key, self.lang)}: no header {name!r} (have {sorted(h)})"
        return h[name]

    def last_row(self, key: str) -> int:
        """Last pre-formatted data row: the last row of the sheet XML that holds a cell."""
        if key not in self._last:
            rows = self.sheet_xml(key).find("m:sheetData", NS)
            self._last[key] = max(int(r.get("r")) for r in rows if len(r))
        return self._last[key]

    def defined_range(self, name: str) -> tuple[str, str]:
        """A workbook-level defined name -> (sheet name, A1 range)."""
        dn = self.wb.defined_names.get(name)
        assert dn is not None, f"defined name {name} is missing"
        dests = list(dn.destinations)
        assert len(dests) == 1, f"{name} = {dn.attr_text!r} is not one plain range"
        return dests[0]

    def range_values(self, name: str) -> list:
        sheet, a1 = self.defined_range(name)
        cells = self.wb[sheet][a1.replace("$", "")]
        return [c.value for row in cells for c in row]


TEMPLATE = load_template()
VARIANTS = [("zh", False), ("zh", True), ("en", False), ("en", True)]
_BOOKS: dict[tuple[str, bool], Book] = {}


def _book(lang: str, filled: bool, tmp_path_factory) -> Book:
    """Each variant is generated once per test session (generation takes about two seconds)."""
    if (lang, filled) not in _BOOKS:
        path = tmp_path_factory.mktemp("generate") / f"{lang}-{'filled' if filled else 'blank'}.xlsx"
        data = localised_sample(lang) if filled else {}
        written = new_workbook(path, period="2024Q3", lang=lang, data=data)
        assert written.path == path and path.is_file()
        _BOOKS[lang, filled] = Book(path, lang, filled, written=written, data=data)
    return _BOOKS[lang, filled]


@pytest.fixture(scope="module", params=VARIANTS, ids=[f"{lang}-{'filled' if f else 'blank'}" for lang, f in VARIANTS])
def book(request, tmp_path_factory) -> Book:
    return _book(*request.param, tmp_path_factory)


@pytest.fixture(scope="module", params=["zh", "en"])
def filled_book(request, tmp_path_factory) -> Book:
    return _book(request.param, True, tmp_path_factory)


@pytest.fixture(scope="module", params=["zh", "en"])
def blank_book(request, tmp_path_factory) -> Book:
    return _book(request.param, False, tmp_path_factory)


# --------------------------------------------------------------------------- sheets and headers


def test_ten_sheets_in_spec_order(book):
    assert book.wb.sheetnames == [tr((zh, en), book.lang) for _, zh, en in SPEC_SHEETS]
    assert list(book.sheet_parts) == book.wb.sheetnames


@pytest.mark.parametrize("key", DATA_SHEETS)
def test_every_spec_header_is_on_its_sheet(book, key):
    headers = book.headers(key)
    for role in ("input", "computed"):
        for pair in SPEC_HEADERS[key][role]:
            assert tr(pair, book.lang) in headers, f"{key}: missing SPEC header {pair}"


@pytest.mark.parametrize("key", DATA_SHEETS)
def test_helper_columns_follow_the_spec_columns_and_are_hidden(book, key):
    headers = book.headers(key)
    spec = [tr(p, book.lang) for role in ("input", "computed") for p in SPEC_HEADERS[key][role]]
    last_spec = max(headers[h] for h in spec)
    helpers = [h for h, c in headers.items() if c > last_spec]
    assert helpers == list(helper_keys(key, 14))
    widths = column_widths(book, key)
    for h in helpers:
        assert widths[headers[h]][1], f"{key}: helper column {h} is not hidden"
    for h in spec:
        assert not widths.get(headers[h], (0, False))[1], f"{key}: SPEC column {h} is hidden"


# --------------------------------------------------------------------------- styles


@pytest.mark.parametrize("key", DATA_SHEETS)
def test_input_and_computed_cells_have_different_fills(book, key):
    ws = book.ws(key)
    last = book.last_row(key)
    headers = book.headers(key)
    fills: dict[str, set] = {"input": set(), "computed": set()}
    for role in ("input", "computed"):
        for pair in SPEC_HEADERS[key][role]:
            c = headers[tr(pair, book.lang)]
            for r in (2, (2 + last) // 2, last):
                fills[role].add(rgb(ws.cell(r, c)))
    spec_last = max(headers[tr(p, book.lang)] for role in fills for p in SPEC_HEADERS[key][role])
    for c in range(spec_last + 1, ws.max_column + 1):  # helper columns look computed too
        fills["computed"].add(rgb(ws.cell(2, c)))
    assert len(fills["input"]) == 1 and None not in fills["input"], fills
    if SPEC_HEADERS[key]["computed"]:
        assert len(fills["computed"]) == 1 and None not in fills["computed"], fills
        assert fills["input"] != fills["computed"]


def data_fills(book) -> tuple[str, str]:
    ws = book.ws("targets")
    h = book.headers("targets")
    return rgb(ws.cell(2, h[tr(("目标编号", "Goal ID"), book.lang)])), rgb(ws.cell(2, h[tr(("完成率", "Completion"), book.lang)]))


def test_guide_has_a_legend_with_both_fills(book):
    input_fill, computed_fill = data_fills(book)
    assert input_fill != computed_fill
    ws = book.ws("guide")
    legend = {}
    for row in ws.iter_rows():
        for cell in row:
            if rgb(cell) in (input_fill, computed_fill) and str(cell.value or "").strip():
                explanation = ws.cell(cell.row, cell.column + 1).value
                assert explanation and str(explanation).strip(), f"legend cell {cell.coordinate} has no explanation"
                legend[rgb(cell)] = str(cell.value) + " " + str(explanation)
    assert set(legend) == {input_fill, computed_fill}, legend
    words = ("输入", "填写") if book.lang == "zh" else ("input", "type")
    assert any(w in legend[input_fill] for w in words), legend[input_fill]
    words = ("公式", "计算") if book.lang == "zh" else ("formula", "Formula")
    assert any(w in legend[computed_fill] for w in words), legend[computed_fill]


PERCENT_COLUMNS = {
    "targets": [("完成率", "Completion"), ("较基准变化", "Change vs baseline"), ("时间进度", "Time elapsed"),
                ("权重", "Weight")],
    "tracking": [("完成率", "Completion")],
    "evaluation": [("完成率", "Completion"), ("权重", "Weight")],
    "incentives": [("综合完成率", "Overall completion"), ("奖金系数", "Payout factor")],
    "review": [("达成率", "Completion")],
}
THOUSANDS_COLUMNS = {
    "team": [("奖金基数", "Bonus base")],
    "targets": [("基准值", "Baseline"), ("目标值", "Target"), ("挑战值", "Stretch"), ("实际值", "Actual"),
                ("手填实际值", "Manual actual")],
    "tracking": [("计划量", "Planned"), ("实际量", "Actual")],
    "incentives": [("奖金基数", "Bonus base"), ("绩效奖金", "Performance bonus"), ("销售目标", "Sales target"),
                   ("销售实际", "Sales actual"), ("提成", "Commission"), ("调整金额", "Adjustment"),
                   ("应发合计", "Total payout")],
    "review": [("目标值", "Target"), ("实际值", "Actual")],
}
MONEY_COLUMNS = {"team": [("奖金基数", "Bonus base")],
                 "incentives": [("绩效奖金", "Performance bonus"), ("提成", "Commission"), ("应发合计", "Total payout")]}
DATE_COLUMNS = {"targets": [("开始日期", "Start"), ("结束日期", "End")], "tracking": [("完成时限", "Due date")],
                "review": [("完成时限", "Due date")]}


@pytest.mark.parametrize("key", DATA_SHEETS)
def test_number_formats(book, key):
    ws = book.ws(key)
    last = book.last_row(key)

    def formats(pair):
        c = book.col(key, pair)
        return {ws.cell(r, c).number_format for r in (2, last)}

    for pair in PERCENT_COLUMNS.get(key, ()):
        for fmt in formats(pair):
            assert "%" in fmt, f"{key} {pair}: {fmt!r} is not a percent format"
    for pair in THOUSANDS_COLUMNS.get(key, ()):
        for fmt in formats(pair):
            assert "#,##0" in fmt, f"{key} {pair}: {fmt!r} has no thousands separator"
    for pair in MONEY_COLUMNS.get(key, ()):
        for fmt in formats(pair):
            assert "#,##0.00" in fmt, f"{key} {pair}: {fmt!r} is no money format"
    for pair in DATE_COLUMNS.get(key, ()):
        for fmt in formats(pair):
            assert fmt.lower() == "yyyy-mm-dd", f"{key} {pair}: {fmt!r}"


def test_settings_dates_and_shares_are_formatted(book):
    ws = book.ws("settings")
    cells = settings_cells(book)
    for label in ((SETTINGS[1][0], SETTINGS[1][1]), (SETTINGS[2][0], SETTINGS[2][1])):
        assert cells[tr(label, book.lang)].number_format.lower() == "yyyy-mm-dd"
    assert "%" in cells[tr(("预警阈值", "Warning threshold"), book.lang)].number_format
    assert "%" in cells[tr(("超额阈值", "Over-achievement threshold"), book.lang)].number_format
    first, rows = calendar_rows(book, values=False)
    for i in range(len(rows)):
        for c in (2, 3):
            assert ws.cell(first + i, c).number_format.lower() == "yyyy-mm-dd"


def test_filled_values_are_typed(filled_book):
    """Dates are dates and amounts numbers (not text) in the cells people will edit."""
    book = filled_book
    ws = book.ws("targets")
    assert isinstance(ws.cell(2, book.col("targets", ("开始日期", "Start"))).value, datetime)
    assert ws.cell(2, book.col("targets", ("目标值", "Target"))).value == 5_000_000
    team = book.ws("team")
    assert team.cell(2, book.col("team", ("奖金基数", "Bonus base"))).value == 30000


def column_widths(book, key: str) -> dict[int, tuple[float, bool]]:
    """1-based column -> (width, hidden) from the sheet's <cols>."""
    out = {}
    cols = book.sheet_xml(key).find("m:cols", NS)
    for c in cols if cols is not None else ():
        for i in range(int(c.get("min")), int(c.get("max")) + 1):
            out[i] = (float(c.get("width", 0)), c.get("hidden") == "1")
    return out


@pytest.mark.parametrize("key", [k for k, *_ in SPEC_SHEETS])
def test_column_widths_are_set(book, key):
    widths = column_widths(book, key)
    assert widths, f"{key}: no column widths at all"
    if key in DATA_SHEETS:
        headers = book.headers(key)
        for role in ("input", "computed"):
            for pair in SPEC_HEADERS[key][role]:
                w, hidden = widths.get(headers[tr(pair, book.lang)], (0, False))
                assert 5 <= w <= 60, f"{key} {pair}: width {w}"
        # long texts get room
        wide = {"targets": [("目标名称", "Goal"), ("SMART描述", "SMART description")],
                "tracking": [("工作内容", "Task"), ("偏差原因", "Deviation reason")],
                "review": [("改进计划", "Improvement plan")], "team": [("邮箱", "Email")]}
        for pair in wide.get(key, ()):
            assert widths[headers[tr(pair, book.lang)]][0] >= 18, (key, pair)
    else:  # Guide, Settings, Dashboard, Checks: explicit widths, the widest for long texts
        assert all(w >= 5 for w, _ in widths.values()) and max(w for w, _ in widths.values()) >= 16


# --------------------------------------------------------------------------- freeze and print


@pytest.mark.parametrize("key", list(DATA_SHEETS) + ["settings", "checks"])
def test_header_row_is_frozen(book, key):
    pane = book.sheet_xml(key).find("m:sheetViews/m:sheetView/m:pane", NS)
    assert pane is not None, f"{key}: no frozen pane"
    assert pane.get("state") == "frozen" and pane.get("ySplit") == "1"
    assert openpyxl.utils.cell.coordinate_from_string(book.ws(key).freeze_panes)[1] == 2


@pytest.mark.parametrize("key", [k for k, *_ in SPEC_SHEETS])
def test_print_setup_a4_landscape_one_page_wide(book, key):
    root = book.sheet_xml(key)
    setup = root.find("m:pageSetup", NS)
    assert setup is not None, f"{key}: no page setup"
    assert setup.get("paperSize") == "9"
    assert setup.get("orientation") == "landscape"
    assert setup.get("fitToWidth", "1") == "1"       # absent = 1 in OOXML
    assert setup.get("fitToHeight") == "0"
    fit = root.find("m:sheetPr/m:pageSetUpPr", NS)
    assert fit is not None and fit.get("fitToPage") in ("1", "true")


@pytest.mark.parametrize("key", list(DATA_SHEETS) + ["settings", "checks"])
def test_header_row_repeats_when_printing(book, key):
    assert (book.ws(key).print_title_rows or "").replace("$", "") == "1:1"


# --------------------------------------------------------------------------- data validation


def validations(book, key: str) -> list:
    return list(book.ws(key).data_validations.dataValidation)


def validation_for(book, key: str, pair) -> list:
    col = book.col(key, pair)
    last = book.last_row(key)
    return [dv for dv in validations(book, key) if covers(dv.sqref, col, 2, last)]


def settings_list_cells(book, name: str) -> list[str]:
    sheet, _ = book.defined_range(name)
    assert sheet == sheet_name("settings", book.lang), f"{name} points to {sheet}, not to Settings"
    return [v for v in book.range_values(name) if v not in (None, "")]


@pytest.mark.parametrize("key,pair,labels,code_list", CODED_COLUMNS,
                         ids=[f"{k}-{p[1]}" for k, p, *_ in CODED_COLUMNS])
def test_coded_column_has_a_dropdown_from_settings(book, key, pair, labels, code_list):
    dvs = [dv for dv in validation_for(book, key, pair) if dv.type == "list"]
    assert len(dvs) == 1, f"{key} {pair}: {len(dvs)} list validations"
    source = dvs[0].formula1
    assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", source), f"source {source!r} is not a defined name"
    values = settings_list_cells(book, source)
    assert values == [tr(p, book.lang) for p in labels]                 # SPEC's labels
    assert values == TEMPLATE.code_labels(code_list, book.lang)          # and the template's


def test_period_column_has_a_dropdown_of_the_periods(book):
    dvs = [dv for dv in validation_for(book, "evaluation", ("考核周期", "Period")) if dv.type == "list"]
    assert len(dvs) == 1
    assert settings_list_cells(book, dvs[0].formula1) == ["2024Q3", "2024-07", "2024-08", "2024-09"]


@pytest.mark.parametrize("label,labels", CODED_SETTINGS, ids=["scoring", "basis"])
def test_coded_settings_have_a_dropdown(book, label, labels):
    cell = settings_cells(book)[tr(label, book.lang)]
    dvs = [dv for dv in validations(book, "settings")
           if dv.type == "list" and covers(dv.sqref, cell.column, cell.row, cell.row)]
    assert len(dvs) == 1, f"Settings {label}: no dropdown"
    assert settings_list_cells(book, dvs[0].formula1) == [tr(p, book.lang) for p in labels]


@pytest.mark.parametrize("key,pair", NAME_COLUMNS, ids=[f"{k}-{p[1]}" for k, p in NAME_COLUMNS])
def test_people_columns_pick_from_the_roster(book, key, pair):
    dvs = [dv for dv in validation_for(book, key, pair) if dv.type == "list"]
    assert len(dvs) == 1
    sheet, a1 = book.defined_range(dvs[0].formula1)
    assert sheet == sheet_name("team", book.lang)
    c1, r1, c2, r2 = range_boundaries(a1.replace("$", ""))
    assert c1 == c2 == book.col("team", ("姓名", "Name")) and r1 == 2 and r2 >= book.last_row("team")


@pytest.mark.parametrize("key,pair", GOAL_ID_COLUMNS, ids=[f"{k}-{p[1]}" for k, p in GOAL_ID_COLUMNS])
def test_goal_columns_pick_from_the_goal_ids(book, key, pair):
    dvs = [dv for dv in validation_for(book, key, pair) if dv.type == "list"]
    assert len(dvs) == 1
    sheet, a1 = book.defined_range(dvs[0].formula1)
    assert sheet == sheet_name("targets", book.lang)
    c1, r1, c2, r2 = range_boundaries(a1.replace("$", ""))
    assert c1 == c2 == book.col("targets", ("目标编号", "Goal ID")) and r1 == 2 and r2 >= book.last_row("targets")


NUMERIC_VALIDATIONS = [  # sheet, header, validation type, (minimum, maximum) where the SPEC implies one
    ("team", ("奖金基数", "Bonus base"), "decimal", (0, None)),
    ("targets", ("基准值", "Baseline"), "decimal", (0, None)),
    ("targets", ("目标值", "Target"), "decimal", (0, None)),
    ("targets", ("挑战值", "Stretch"), "decimal", (0, None)),
    ("targets", ("手填实际值", "Manual actual"), "decimal", (0, None)),
    ("targets", ("权重", "Weight"), "decimal", (0, 100)),
    ("tracking", ("周次", "Week"), "whole", (1, 14)),
    ("tracking", ("计划量", "Planned"), "decimal", (0, None)),
    ("tracking", ("实际量", "Actual"), "decimal", (0, None)),
    ("evaluation", ("权重", "Weight"), "decimal", (0, 100)),
    ("evaluation", ("目标值", "Target"), "decimal", (0, None)),
    ("evaluation", ("实际值", "Actual"), "decimal", (0, None)),
    ("evaluation", ("上级评分", "Manager score"), "decimal", (0, 100)),
    ("evaluation", ("同事评分", "Peer score"), "decimal", (0, 100)),
    ("evaluation", ("客户评分", "Customer score"), "decimal", (0, 100)),
    ("targets", ("开始日期", "Start"), "date", (None, None)),
    ("targets", ("结束日期", "End"), "date", (None, None)),
    ("tracking", ("完成时限", "Due date"), "date", (None, None)),
    ("review", ("完成时限", "Due date"), "date", (None, None)),
]


@pytest.mark.parametrize("key,pair,kind,bounds", NUMERIC_VALIDATIONS,
                         ids=[f"{k}-{p[1]}" for k, p, *_ in NUMERIC_VALIDATIONS])
def test_numeric_and_date_validations(book, key, pair, kind, bounds):
    dvs = [dv for dv in validation_for(book, key, pair) if dv.type == kind]
    assert len(dvs) == 1, f"{key} {pair}: expected one {kind} validation"
    dv = dvs[0]
    lo, hi = bounds
    if lo is not None:
        assert float(dv.formula1) == lo
    if hi is not None:
        assert dv.operator in (None, "between") and float(dv.formula2) == hi
    elif lo is not None:
        assert dv.operator == "greaterThanOrEqual"


def test_no_validation_on_computed_columns(book):
    for key in DATA_SHEETS:
        last = book.last_row(key)
        for pair in SPEC_HEADERS[key]["computed"]:
            col = book.col(key, pair)
            assert not [dv for dv in validations(book, key) if covers(dv.sqref, col, 2, last)], (key, pair)


# --------------------------------------------------------------------------- conditional formatting

STATUS_LABELS = {  # the texts the status formulas write, as SPEC §3 R4/R5 names them
    "targets": [("落后", "Behind"), ("超额", "Exceeded"), ("达标", "Met")],
    "tracking": [("预警", "Warning"), ("超额", "Exceeded"), ("达标", "Met")],
}
CF_COLUMNS = [
    ("targets", ("进度状态", "Status")), ("targets", ("完成率", "Completion")),
    ("tracking", ("偏差状态", "Status")), ("tracking", ("完成率", "Completion")),
    ("tracking", ("连续预警", "Repeated warning")),
    ("evaluation", ("完成率", "Completion")),
    ("incentives", ("等级", "Grade")), ("incentives", ("预警事项", "Alerts")),
    ("review", ("达成率", "Completion")),
]


def cf_rules(book, key, pair) -> list:
    col = book.col(key, pair)
    last = book.last_row(key)
    return [rule for cf in book.ws(key).conditional_formatting if covers(cf.sqref, col, 2, last)
            for rule in cf.rules]


@pytest.mark.parametrize("key,pair", CF_COLUMNS, ids=[f"{k}-{p[1]}" for k, p in CF_COLUMNS])
def test_conditional_formatting_colours_the_column(book, key, pair):
    rules = cf_rules(book, key, pair)
    assert rules, f"{key} {pair}: no conditional format"
    for rule in rules:
        assert rule.dxf is not None and (rule.dxf.fill is not None or rule.dxf.font is not None)


@pytest.mark.parametrize("key", list(STATUS_LABELS))
def test_status_colours_match_the_labels_in_the_workbook_language(book, key):
    pair = ("进度状态", "Status") if key == "targets" else ("偏差状态", "Status")
    compared = {f.strip('"') for rule in cf_rules(book, key, pair) for f in rule.formula}
    for label in STATUS_LABELS[key]:
        assert tr(label, book.lang) in compared, (key, label, compared)


def test_grade_colours_use_the_grade_tiers(book):
    compared = {f.strip('"') for rule in cf_rules(book, "incentives", ("等级", "Grade")) for f in rule.formula}
    assert {"S", "D"} <= compared


def test_completion_colours_follow_the_thresholds(book):
    formulas = " ".join(f for rule in cf_rules(book, "targets", ("完成率", "Completion")) for f in rule.formula)
    warn_name = settings_defined_name(book, ("预警阈值", "Warning threshold"))
    over_name = settings_defined_name(book, ("超额阈值", "Over-achievement threshold"))
    assert warn_name in formulas and over_name in formulas


def settings_defined_name(book, label) -> str:
    """The defined name that points at a setting's value (B) or value-in-use (C) cell."""
    cell = settings_cells(book)[tr(label, book.lang)]
    settings = sheet_name("settings", book.lang)
    for name, dn in book.wb.defined_names.items():
        for sheet, a1 in dn.destinations:
            if sheet == settings and a1.replace("$", "") in (
                    f"{get_column_letter(cell.column)}{cell.row}", f"{get_column_letter(cell.column + 1)}{cell.row}"):
                return name
    raise AssertionError(f"no defined name for the setting {label}")


# --------------------------------------------------------------------------- Settings


def settings_cells(book, values: bool = False) -> dict:
    """Setting label -> the cell right of it (its value)."""
    ws = book.ws("settings", values)
    out = {}
    labels = {tr((zh, en), book.lang) for zh, en, *_ in SETTINGS}
    for row in ws.iter_rows(min_col=1, max_col=1):
        v = row[0].value
        if v in labels and v not in out:
            out[v] = ws.cell(row[0].row, 2)
    return out


def test_settings_block_has_every_label_and_default(book):
    cells = settings_cells(book)
    ws = book.ws("settings")
    for zh, en, d_zh, d_en in SETTINGS:
        label = tr((zh, en), book.lang)
        assert label in cells, f"Settings: no label {label!r}"
        cell = cells[label]
        expected = d_zh if book.lang == "zh" else d_en
        got = as_date(cell.value) if isinstance(expected, date) else cell.value
        if isinstance(expected, float):
            assert got == pytest.approx(expected), label
        elif expected is None:
            assert got in (None, ""), label
        else:
            assert got == expected, label
        note = [ws.cell(cell.row, c).value for c in range(3, 8)]
        assert any(isinstance(n, str) and len(n) > 3 for n in note), f"Settings {label}: no note"


def test_settings_values_in_force_are_cached(book):
    """The value each formula uses carries its cached value (defaults for blanks)."""
    ws = book.ws("settings", values=True)
    cells = settings_cells(book)
    formulas = book.ws("settings")
    for zh, en, d_zh, d_en in SETTINGS:
        cell = cells[tr((zh, en), book.lang)]
        used = formulas.cell(cell.row, cell.column + 1)
        assert isinstance(used.value, str) and used.value.startswith("="), f"{zh}: no value-in-use formula"
        expected = d_zh if book.lang == "zh" else d_en
        cached = ws.cell(cell.row, cell.column + 1).value
        if isinstance(expected, (int, float)):
            assert cached == pytest.approx(expected), zh
        elif isinstance(expected, date):
            assert as_date(cached) == expected, zh
        elif isinstance(expected, str):
            assert cached == expected, zh


def find_title(ws, title: str) -> int:
    rows = [c.row for (c,) in ws.iter_rows(min_col=1, max_col=1) if c.value == title]
    assert len(rows) == 1, f"Settings: title {title!r} found {len(rows)} times"
    return rows[0]


@pytest.mark.parametrize("title,headers,rows", TABLES, ids=[t[1] for t, *_ in TABLES])
def test_settings_tables_have_their_default_rows(book, title, headers, rows):
    ws = book.ws("settings")
    top = find_title(ws, tr(title, book.lang))
    assert [ws.cell(top + 1, c + 1).value for c in range(len(headers))] == [tr(h, book.lang) for h in headers]
    got = []
    r = top + 2
    while ws.cell(r, 1).value not in (None, ""):   # rows are read until the first blank row
        got.append(tuple(ws.cell(r, c + 1).value for c in range(len(headers))))
        r += 1
    assert len(got) == len(rows)
    for g, e in zip(got, rows):
        for gv, ev in zip(g, e):
            assert gv == (pytest.approx(ev) if isinstance(ev, float) else ev)


def calendar_rows(book, values: bool = True) -> tuple[int, list[tuple]]:
    ws = book.ws("settings", values)
    top = find_title(book.ws("settings"), tr(CALENDAR[0], book.lang))
    assert [ws.cell(top + 1, c).value for c in (1, 2, 3)] == [tr(h, book.lang) for h in CALENDAR[1]]
    first = top + 2
    out = []
    r = first
    while ws.cell(r, 2).value not in (None, ""):
        out.append(tuple(ws.cell(r, c).value for c in (1, 2, 3)))
        r += 1
    return first, out


def expected_calendar(start: date, end: date) -> list[tuple[int, date, date]]:
    """Monday–Sunday weeks, week 1 from the period start, partial weeks kept (an independent twin)."""
    weeks, day, n = [], start, 0
    while day <= end:
        if day == start or day.weekday() == 0:
            n += 1
            weeks.append([n, day, day])
        weeks[-1][2] = day
        day += timedelta(days=1)
    return [tuple(w) for w in weeks]


def test_calendar_2024q3(book):
    first, rows = calendar_rows(book)
    weeks = [(int(w), as_date(a), as_date(b)) for w, a, b in rows]
    assert len(weeks) == 14
    assert weeks[0] == (1, date(2024, 7, 1), date(2024, 7, 7))
    assert weeks[-1] == (14, date(2024, 9, 30), date(2024, 9, 30))
    assert weeks == expected_calendar(date(2024, 7, 1), date(2024, 9, 30))
    formulas = book.ws("settings")
    for i in range(len(rows) + 1):   # live formulas, also in the spare rows after the last week
        for c in (1, 2, 3):
            v = formulas.cell(first + i, c).value
            assert isinstance(v, str) and v.startswith("="), f"calendar {get_column_letter(c)}{first + i}"


@pytest.mark.parametrize("period,start,end,n,first_week", [
    ("2025Q1", date(2025, 1, 1), date(2025, 3, 31), 14, (1, date(2025, 1, 1), date(2025, 1, 5))),
    ("2024Q4", date(2024, 10, 1), date(2024, 12, 31), 14, (1, date(2024, 10, 1), date(2024, 10, 6))),
])
def test_calendar_of_other_periods(tmp_path, period, start, end, n, first_week):
    path = tmp_path / f"{period}.xlsx"
    new_workbook(path, period=period, lang="zh")
    b = Book(path, "zh", False, period=period)
    _, rows = calendar_rows(b)
    weeks = [(int(w), as_date(a), as_date(b_)) for w, a, b_ in rows]
    assert weeks[0] == first_week
    assert weeks == expected_calendar(start, end)
    assert len(weeks) == n
    for _, a, b_ in weeks[1:]:
        assert a.weekday() == 0
    for _, a, b_ in weeks[:-1]:
        assert b_.weekday() == 6
    cells = settings_cells(b)
    assert cells["本期"].value == period
    assert as_date(cells["开始日期"].value) == start and as_date(cells["结束日期"].value) == end
    dvs = [dv for dv in validations(b, "evaluation") if dv.type == "list"
           and covers(dv.sqref, b.col("evaluation", ("考核周期", "Period")), 2, b.last_row("evaluation"))]
    months = [f"{start.year}-{m:02d}" for m in range(start.month, start.month + 3)]
    assert settings_list_cells(b, dvs[0].formula1) == [period, *months]


# --------------------------------------------------------------------------- Dashboard and charts


def rels(book, part: str) -> dict[str, str]:
    """Relationship targets of a part, resolved to package paths."""
    p = PurePosixPath(part)
    rel_part = str(p.parent / "_rels" / (p.name + ".rels"))
    if rel_part not in book.zip:
        return {}
    out = {}
    for r in book.xml(rel_part):
        target = r.get("Target")
        resolved = PurePosixPath(target.lstrip("/")) if target.startswith("/") else p.parent / target
        parts = []
        for piece in resolved.parts:
            if piece == "..":
                parts.pop()
            else:
                parts.append(piece)
        out[r.get("Id")] = "/".join(parts)
    return out


def dashboard_charts(book) -> list[str]:
    part = book.sheet_parts[sheet_name("dashboard", book.lang)]
    drawings = [t for t in rels(book, part).values() if "/drawings/" in t]
    assert len(drawings) == 1, "Dashboard has no drawing"
    return sorted(t for t in rels(book, drawings[0]).values() if re.fullmatch(r"xl/charts/chart\d+\.xml", t))


def test_dashboard_has_native_charts(book):
    charts = dashboard_charts(book)
    assert len(charts) >= 2
    sheets = set(book.wb.sheetnames)
    refs_per_chart = []
    for chart in charts:
        root = book.xml(chart)
        series = root.findall(".//c:ser", NS)
        assert series, f"{chart} has no series"
        refs = [f.text for f in root.findall(".//c:ser//c:f", NS)]
        assert refs
        for ref in refs:
            sheet = ref.rsplit("!", 1)[0].strip("'").replace("''", "'")
            assert sheet in sheets, f"{chart}: reference {ref} to an unknown sheet"
        refs_per_chart.append((len(series), refs))
    # completion per goal: a series over the Targets completion column
    targets = sheet_name("targets", book.lang)
    completion = get_column_letter(book.col("targets", ("完成率", "Completion")))
    assert any(re.fullmatch(rf"'?{re.escape(targets)}'?!\${completion}\$2:\${completion}\$\d+", r)
               for _, refs in refs_per_chart for r in refs), refs_per_chart
    # weekly plan vs actual: a chart with at least two series over 14 weeks
    assert any(n >= 2 for n, _ in refs_per_chart)


def test_dashboard_has_headline_figures(book):
    ws = book.ws("dashboard")
    pairs = [(ws.cell(r, 1).value, ws.cell(r, 2).value) for r in range(1, ws.max_row + 1)]
    figures = [(a, b) for a, b in pairs if isinstance(a, str) and isinstance(b, str) and b.startswith("=")]
    assert len(figures) >= 3, pairs


# --------------------------------------------------------------------------- fingerprint


def test_template_fingerprint_in_properties_and_on_the_guide(book):
    root = book.xml("docProps/custom.xml")
    props = {p.get("name"): p[0].text for p in root.findall("cp:property", NS)}
    assert props["mktsheets.template"] == TEMPLATE.name == "mktsheets-quarterly"
    assert props["mktsheets.template_version"] == str(TEMPLATE.version)
    texts = " ".join(str(c.value) for row in book.ws("guide").iter_rows() for c in row if c.value is not None)
    assert TEMPLATE.name in texts
    assert "2024Q3" in texts                       # and the period
    assert re.search(rf"{re.escape(TEMPLATE.name)}\s*v?{TEMPLATE.version}\b", texts), texts[:200]


# --------------------------------------------------------------------------- formulas


def formula_cells(book, key: str) -> dict[str, ET.Element]:
    """A1 -> <c> of every cell of a sheet."""
    return {c.get("r"): c for c in book.sheet_xml(key).iterfind("m:sheetData/m:row/m:c", NS)}


@pytest.mark.parametrize("key", DATA_SHEETS)
def test_every_computed_and_helper_cell_has_a_formula_and_a_cached_value(book, key):
    cells = formula_cells(book, key)
    headers = book.headers(key)
    last = book.last_row(key)
    template_rows = {s.key: s.rows for s in TEMPLATE.sheets}
    # pre-formatted rows: generous defaults, room to grow after the data, Incentives follows Team
    if key == "incentives":
        assert last == book.last_row("team")
    else:
        assert last - 1 >= max(template_rows[key], 20)
        assert last - 1 > len(book.data.get(key, ()))
    spec_cols = {headers[tr(p, book.lang)] for role in ("input", "computed") for p in SPEC_HEADERS[key][role]}
    computed = {headers[tr(p, book.lang)] for p in SPEC_HEADERS[key]["computed"]}
    helpers = {c for c in headers.values() if c not in spec_cols}
    assert key == "team" or computed
    for col in sorted(computed | helpers):
        letter = get_column_letter(col)
        for r in range(2, last + 1):
            c = cells.get(f"{letter}{r}")
            assert c is not None, f"{key}!{letter}{r}: no cell"
            f = c.find("m:f", NS)
            assert f is not None and f.text, f"{key}!{letter}{r}: no formula"
            assert c.find("m:v", NS) is not None, f"{key}!{letter}{r}: formula without a cached value"
    for col in spec_cols - computed:            # input cells never hold formulas
        letter = get_column_letter(col)
        for r in range(2, last + 1):
            c = cells.get(f"{letter}{r}")
            assert c is None or c.find("m:f", NS) is None, f"{key}!{letter}{r}: formula in an input cell"


def all_formulas(book) -> list[tuple[str, str]]:
    """(where, formula) of every formula in the package: cells, defined names, validations, CF, charts."""
    out = []
    for part, data in book.zip.items():
        if not part.endswith(".xml"):
            continue
        root = ET.fromstring(data)
        if part.startswith("xl/worksheets/"):
            for c in root.iterfind("m:sheetData/m:row/m:c", NS):
                f = c.find("m:f", NS)
                if f is not None:
                    out.append((f"{part}!{c.get('r')}", f.text or ""))
                    assert c.get("cm") is None, f"{part}!{c.get('r')}: dynamic array formula"
                    # every formula on every sheet carries a cached value (an empty <v/> only for "")
                    v = c.find("m:v", NS)
                    assert v is not None, f"{part}!{c.get('r')}: formula without a cached value"
                    assert v.text or c.get("t") is None, f"{part}!{c.get('r')}: empty cached {c.get('t')}"
            for tag in ("m:conditionalFormatting/m:cfRule/m:formula", "m:dataValidations/m:dataValidation/m:formula1",
                        "m:dataValidations/m:dataValidation/m:formula2"):
                out += [(f"{part} {tag}", e.text or "") for e in root.iterfind(tag, NS)]
        elif part == "xl/workbook.xml":
            out += [(f"name {d.get('name')}", d.text or "") for d in root.iterfind("m:definedNames/m:definedName", NS)]
        elif part.startswith("xl/charts/"):
            out += [(part, e.text or "") for e in root.iter(f"{{{NS['c']}}}f")]
    return out


def test_formulas_use_only_classic_functions(book):
    formulas = all_formulas(book)
    assert len(formulas) > 1000
    used: set[str] = set()
    for where, formula in formulas:
        names = function_names(formula)
        used |= names
        bad = names - ALLOWED_FUNCTIONS
        assert not bad, f"{where}: {sorted(bad)} not in the Excel-2010 whitelist: {formula[:200]}"
        assert not names & FORBIDDEN_FUNCTIONS
        assert "_xlfn." not in formula and "_xludf." not in formula and "_xlpm." not in formula, where
        code = strip_strings(formula)
        assert "[" not in code, f"{where}: structured or external reference: {formula[:200]}"
        assert not re.search(r"\bTable\d*\b", code), where
    assert {"IF", "SUMIFS", "INDEX", "MATCH", "ROUND"} <= used
    assert not any(p.startswith("xl/tables/") for p in book.zip), "Excel tables invite structured references"
    assert all(b"_xlfn." not in data for data in book.zip.values())


def test_allowed_functions_are_pre_2013():
    for name in ALLOWED_FUNCTIONS:
        assert "." not in name and name not in FORBIDDEN_FUNCTIONS


def test_function_name_parser():
    assert function_names('=IF(A1="NOW()",SUMIFS(B:B,C:C,"x"),RANK(A1,A:A))') == {"IF", "SUMIFS", "RANK"}
    assert not function_names("=_xlfn.RANK.EQ(A1,A:A)") <= ALLOWED_FUNCTIONS
    assert function_names("=MAX(A1:A3)+N(B1)") == {"MAX", "N"}


def test_filled_workbook_caches_the_worked_examples(filled_book):
    """Cached values are the computed ones (SPEC §3 worked examples that the sample quarter holds)."""
    book = filled_book
    lang = book.lang
    vals = book.ws("targets", values=True)
    h = book.headers("targets")
    by_id = {vals.cell(r, h[tr(("目标编号", "Goal ID"), lang)]).value: r for r in range(2, book.last_row("targets") + 1)}
    comp = h[tr(("完成率", "Completion"), lang)]
    assert vals.cell(by_id["G1"], comp).value == pytest.approx(0.96)          # 500万 vs 480万
    assert vals.cell(by_id["G1121"], comp).value == pytest.approx(1.10)       # 200万 vs 220万
    assert vals.cell(by_id["G1"], h[tr(("实际值", "Actual"), lang)]).value == pytest.approx(4_800_000)

    trk = book.ws("tracking", values=True)
    th = book.headers("tracking")

    def row(goal, week):
        for r in range(2, book.last_row("tracking") + 1):
            if trk.cell(r, th[tr(("目标编号", "Goal ID"), lang)]).value == goal and \
                    trk.cell(r, th[tr(("周次", "Week"), lang)]).value == week:
                return r
        raise AssertionError((goal, week))

    status, completion = th[tr(("偏差状态", "Status"), lang)], th[tr(("完成率", "Completion"), lang)]
    for goal, week, rate, label in (("G5", 3, 5 / 7, ("预警", "Warning")), ("G5", 5, 1.2, ("超额", "Exceeded")),
                                    ("G1111", 4, 0.9375, ("正常", "On track"))):
        r = row(goal, week)
        assert trk.cell(r, completion).value == pytest.approx(rate)
        assert trk.cell(r, status).value == tr(label, lang)
    weeks_col = th[tr(("周起止", "Week dates"), lang)]
    assert trk.cell(row("G5", 3), weeks_col).value  # a text such as 7/15-7/21

    inc = book.ws("incentives", values=True)
    ih = book.headers("incentives")
    names = [inc.cell(r, ih[tr(("姓名", "Name"), lang)]).value for r in range(2, 2 + len(book.data["team"]))]
    assert names == [p["name"] for p in book.data["team"]]
    grades = {inc.cell(r, ih[tr(("等级", "Grade"), lang)]).value for r in range(2, 2 + len(book.data["team"]))}
    assert grades <= {"S", "A", "B", "C", "D"} and grades


def test_blank_workbook_caches_blanks(blank_book):
    book = blank_book
    vals = book.ws("incentives", values=True)
    assert all(vals.cell(r, 1).value in (None, "") for r in range(2, book.last_row("incentives") + 1))


# --------------------------------------------------------------------------- text is text

FORMULA_LIKE = ["=SUM(1)", "+86 138 0000 0000", "-负责人", "@home", '=HYPERLINK("http://evil")']


def test_text_that_looks_like_a_formula_stays_text(tmp_path):
    team = [{"id": f"E{i}", "name": name, "role": name, "bonus_base": 10000} for i, name in enumerate(FORMULA_LIKE)]
    goals = [{"id": "G1", "level": "公司", "name": "=1+1", "type": "销售额", "owner": FORMULA_LIKE[0],
              "target": 100, "weight": 1}]
    tracking = [{"week": 1, "goal": "G1", "task": "=cmd|' /C calc'!A0", "owner": FORMULA_LIKE[0],
                 "planned": 10, "actual": 5, "reason": "@SUM(A1)"}]
    path = tmp_path / "escape.xlsx"
    new_workbook(path, data={"team": team, "targets": goals, "tracking": tracking})
    b = Book(path, "zh", True, data={"team": team})
    # text is stored inline when `new` streams (the default), as shared strings otherwise
    strings = ([si.findtext(".//m:t", default="", namespaces=NS) for si in b.xml("xl/sharedStrings.xml")]
               if "xl/sharedStrings.xml" in b.zip else [])

    def assert_text(key, pair, row, expected):
        col = get_column_letter(b.col(key, pair))
        c = formula_cells(b, key)[f"{col}{row}"]
        assert c.find("m:f", NS) is None, f"{key}!{col}{row} was written as a formula"
        assert c.get("t") in ("s", "inlineStr")
        text = strings[int(c.findtext("m:v", namespaces=NS))] if c.get("t") == "s" else c.findtext(".//m:t", namespaces=NS)
        assert text == expected

    for i, name in enumerate(FORMULA_LIKE):
        assert_text("team", ("姓名", "Name"), 2 + i, name)
    assert_text("targets", ("目标名称", "Goal"), 2, "=1+1")
    assert_text("tracking", ("工作内容", "Task"), 2, "=cmd|' /C calc'!A0")
    assert_text("tracking", ("偏差原因", "Deviation reason"), 2, "@SUM(A1)")
    # the roster still flows to Incentives as a value (a formula copies it, the cache holds the text)
    inc = b.ws("incentives", values=True)
    col = b.col("incentives", ("姓名", "Name"))
    assert [inc.cell(2 + i, col).value for i in range(len(FORMULA_LIKE))] == FORMULA_LIKE


def test_control_characters_in_typed_text_make_a_valid_file(tmp_path):
    """A name pasted with a control character is copied by formulas into their cached values: still valid XML."""
    import openpyxl
    from python_calamine import CalamineWorkbook

    from mktsheets.api import load
    data = {"team": [{"name": "张\x01三", "email": "a@example.com"}],
            "targets": [{"id": "G\x02", "level": "公司", "name": "目标 _x0041_", "owner": "张\x01三", "target": 100}]}
    path = tmp_path / "control.xlsx"
    new_workbook(path, data=data)
    names = [ws.title for ws in openpyxl.load_workbook(path)]          # parses every sheet's XML
    assert len(names) == 10
    incentives = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(names[6]).to_python()
    assert any("张" in str(v) for row in incentives for v in row)
    assert load(path).frame("team")["name"].tolist()[0] == "张\x01三"
