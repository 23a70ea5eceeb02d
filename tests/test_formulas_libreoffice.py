"""The workbook's own formulas compute SPEC §3's worked examples (issue 2, "Must show 2").

The worked examples are filled into generated workbooks; LibreOffice recalculates
every formula from scratch (with a private profile that forces recalculation on
load, SPEC §8), and the values are read back from LibreOffice's file with
openpyxl(data_only=True), finding each column by its header text in row 1. The
values must be exactly the listed ones, and the cached values the generator wrote
(Python's results) must equal LibreOffice's in every formula cell.
"""
from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from mktsheets.generate import new_workbook
from mktsheets.libreoffice import recalculate
from mktsheets.referee import cached_values, compare, formula_cells, same
from rule_scenarios import GRADED_EVAL, GRADED_TEAM, Q, WAN, ev, person, scenario_data, tr

pytestmark = pytest.mark.libreoffice

# ----------------------------------------------------------------------------- the worked examples

TEAM = [person("甲"), person("乙"), person("丙"), person("丁")]
TARGETS = [
    dict(id="G96", name="480万 / 500万", target=500 * WAN, manual_actual=480 * WAN),
    dict(id="G110", name="220万 / 200万", target=200 * WAN, manual_actual=220 * WAN),
    dict(id="G104", name="520万 / 500万", target=500 * WAN, manual_actual=520 * WAN),
    dict(id="GS", name="甲 销售额", type="销售额", owner="甲", target=500 * WAN, manual_actual=650 * WAN),
]
TRACKING = [
    tr(1, "", 7, 5, "小红书笔记", reason="人手不足"),
    tr(1, "", 10, 12, "短视频", reason="热点"),
    tr(1, "", 80 * WAN, 75 * WAN, "直播带货"),
]
EVALUATION = [
    ev("甲", 1, goal="G104"),            # 104%, target and actual taken from the goal
    ev("乙", 1, 100, 85),                # 85%
    ev("丙", 1, 100, 65),                # 65%
    ev("丁", 1, 100, 55),                # 55%
]
ROWS = [2, 3, 4, 5]                      # data rows, in the order given


def header_columns(ws) -> dict[str, int]:
    """Header text in row 1 -> 1-based column index (first occurrence)."""
    out: dict[str, int] = {}
    for c in ws[1]:
        if isinstance(c.value, str) and c.value.strip() and c.value.strip() not in out:
            out[c.value.strip()] = c.column
    return out


class Book:
    """Values of one xlsx as openpyxl(data_only=True) sees them, addressed by sheet name, header and row."""

    def __init__(self, path: Path):
        self.wb = openpyxl.load_workbook(path, data_only=True)
        self.headers = {ws.title: header_columns(ws) for ws in self.wb.worksheets}

    def address(self, sheet: str, header: str, row: int) -> str:
        col = self.headers[sheet][header]
        return f"{openpyxl.utils.get_column_letter(col)}{row}"

    def value(self, sheet: str, header: str, row: int):
        return self.wb[sheet][self.address(sheet, header, row)].value

    def column(self, sheet: str, header: str, rows=ROWS) -> list:
        return [self.value(sheet, header, r) for r in rows]


@pytest.fixture(scope="module")
def examples(soffice, tmp_path_factory):
    """(generated workbook, LibreOffice's recalculated copy) of the worked examples, payout basis 完成率."""
    d = tmp_path_factory.mktemp("lo-examples")
    w = new_workbook(d / "examples.xlsx", Q, data=dict(team=TEAM, targets=TARGETS, tracking=TRACKING,
                                                       evaluation=EVALUATION))
    return w, recalculate(w.path, d / "libreoffice")


@pytest.fixture(scope="module")
def graded(soffice, tmp_path_factory):
    """The total-92 example (and ties) under the 等级 basis."""
    d = tmp_path_factory.mktemp("lo-graded")
    w = new_workbook(d / "graded.xlsx", Q, data=dict(team=GRADED_TEAM, evaluation=GRADED_EVAL),
                     settings={"basis": "等级"})
    return w, recalculate(w.path, d / "libreoffice")


@pytest.fixture(scope="module")
def lo(examples):
    return Book(examples[1])


@pytest.fixture(scope="module")
def ours(examples):
    return Book(examples[0].path)


def test_libreoffice_saved_its_own_copy_with_the_formulas(examples):
    """The values below come from LibreOffice's own file, which still holds the live formulas."""
    w, lo_path = examples
    assert lo_path != w.path and lo_path.exists()
    wb = openpyxl.load_workbook(lo_path)                 # formulas are kept in the saved copy
    tracking = wb["跟踪"]
    col = header_columns(tracking)["完成率"]
    assert str(tracking.cell(row=2, column=col).value).startswith("=")


def test_tracking_examples(lo):
    done = lo.column("跟踪", "完成率", [2, 3, 4])
    status = lo.column("跟踪", "偏差状态", [2, 3, 4])
    assert round(done[0], 4) == 0.7143 and status[0] == "预警"        # planned 7, actual 5
    assert round(done[1], 4) == 1.2 and status[1] == "超额"           # planned 10, actual 12
    assert round(done[2], 4) == 0.9375 and status[2] == "正常"        # 80万 vs 75万


def test_goal_examples(lo):
    done = lo.column("目标", "完成率", [2, 3, 4])
    assert [round(v, 4) for v in done] == [0.96, 1.1, 1.04]           # 480/500万, 220/200万, 520/500万
    assert lo.column("目标", "实际值", [2, 3, 4]) == [480 * WAN, 220 * WAN, 520 * WAN]


def test_score_examples(lo):
    assert [round(v, 4) for v in lo.column("评估", "完成率")] == [1.04, 0.85, 0.65, 0.55]
    assert lo.column("评估", "考核目标值")[0] == 500 * WAN             # taken from the linked goal
    assert lo.column("评估", "得分") == [100, 80, 60, 0]


def test_payout_factor_examples(lo):
    assert lo.column("激励", "姓名") == ["甲", "乙", "丙", "丁"]
    assert lo.column("激励", "奖金系数") == [1.2, 1.0, 0.8, 0.0]
    assert lo.column("激励", "绩效奖金") == [12_000, 10_000, 8_000, 0]


def test_commission_example(lo):
    assert lo.value("激励", "销售目标", 2) == 500 * WAN
    assert lo.value("激励", "销售实际", 2) == 650 * WAN
    assert lo.value("激励", "提成", 2) == 70_000                      # 3% x 20% x 500万 + 8% x 10% x 500万
    assert lo.value("激励", "应发合计", 2) == 12_000 + 70_000
    assert lo.column("激励", "提成", [3, 4, 5]) == [0, 0, 0]


@pytest.mark.parametrize("sheet, header, rows", [
    ("跟踪", "完成率", [2, 3, 4]), ("跟踪", "偏差状态", [2, 3, 4]),
    ("目标", "完成率", [2, 3, 4, 5]), ("目标", "实际值", [2, 3, 4, 5]),
    ("评估", "完成率", ROWS), ("评估", "得分", ROWS),
    ("激励", "奖金系数", ROWS), ("激励", "绩效奖金", ROWS), ("激励", "提成", ROWS), ("激励", "应发合计", ROWS),
])
def test_cached_values_equal_libreoffice(lo, ours, sheet, header, rows):
    for r in rows:
        mine, theirs = ours.value(sheet, header, r), lo.value(sheet, header, r)
        assert mine is not None, f"{sheet}!{ours.address(sheet, header, r)} has no cached value"
        assert same(mine, theirs), f"{sheet}!{ours.address(sheet, header, r)}: ours {mine!r}, LibreOffice {theirs!r}"


def test_grade_s_with_150_percent_under_grade_basis(graded):
    lo = Book(graded[1])
    rows = [2, 3, 4, 5]
    assert lo.column("激励", "总分", rows) == [92, 80, 80, 70]
    assert lo.column("激励", "等级", rows) == ["S", "A", "A", "B"]
    assert lo.column("激励", "奖金系数", rows) == [1.5, 1.2, 1.2, 1.0]
    assert lo.column("激励", "绩效奖金", rows) == [15_000, 12_000, 12_000, 10_000]
    assert lo.column("激励", "排名", rows) == [1, 2, 2, 4]
    ours = Book(graded[0].path)
    for header in ("总分", "等级", "奖金系数", "绩效奖金", "排名"):
        assert ours.column("激励", header, rows) == lo.column("激励", header, rows), header


# ----------------------------------------------------------------------------- every formula cell

def mismatches(path: Path, lo_path: Path) -> tuple[int, list[str]]:
    """What referee.compare reports, for a file LibreOffice has already recalculated."""
    formulas, mine, theirs = formula_cells(path), cached_values(path), cached_values(lo_path)
    bad = [f"{s}!{a}: ours={mine.get((s, a))!r} libreoffice={theirs.get((s, a))!r} ={f[:120]}"
           for (s, a), f in formulas.items() if not same(mine.get((s, a)), theirs.get((s, a)))]
    return len(formulas), bad


def test_every_formula_cell_of_the_examples_agrees(examples, tmp_path):
    n, bad = compare(examples[0].path, tmp_path)
    assert n > 1000
    assert not bad, "\n".join(map(str, bad[:20]))


def test_every_formula_cell_of_the_grade_basis_agrees(graded):
    n, bad = mismatches(graded[0].path, graded[1])
    assert n > 1000
    assert not bad, "\n".join(map(str, bad[:20]))


def test_every_formula_cell_of_the_rule_scenarios_agrees(soffice, tmp_path):
    """The edge cases of test_rules.py (cycles, weights off 100%, blanks, 最新/平均, roll-ups, ...) agree too."""
    w = new_workbook(tmp_path / "scenarios.xlsx", Q, data=scenario_data())
    n, bad = compare(w.path, tmp_path / "lo")
    assert n > 1000
    assert not bad, "\n".join(map(str, bad[:20]))


def test_linear_scoring_and_commission_cap_agree(soffice, tmp_path):
    team = [person("L1"), person("L2")]
    evaluation = [ev("L1", 1, 100, 85), ev("L2", 1, 100, 130)]
    goals = [dict(id="S", name="sales", type="销售额", owner="L1", target=500 * WAN, manual_actual=650 * WAN)]
    w = new_workbook(tmp_path / "variant.xlsx", Q, data=dict(team=team, evaluation=evaluation, targets=goals),
                     settings={"scoring": "线性", "commission_cap": 50_000})
    lo_path = recalculate(w.path, tmp_path / "lo")
    lo = Book(lo_path)
    assert lo.column("评估", "得分", [2, 3]) == pytest.approx([85, 120], abs=1e-9)   # 130% capped at 120
    assert lo.column("激励", "提成", [2, 3]) == [50_000, 0]                          # 7万 capped at 5万
    n, bad = mismatches(w.path, lo_path)
    assert n > 1000
    assert not bad, "\n".join(bad[:20])
