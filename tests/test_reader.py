"""The reader on real files (issue 3): other writers, any layout, both languages, garbage in cells.

Every workbook here is a real .xlsx: made by the generator (XlsxWriter), re-saved by LibreOffice
or openpyxl, edited in its zip like WPS leaves it, or rearranged as a user would.
"""
from __future__ import annotations

import os
import re
import tempfile
import zipfile
from datetime import date
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook
from reader_kit import (
    DATA_SHEETS,
    DateCell,
    ErrorCell,
    assert_same_frames,
    comparable,
    date_style,
    edit_part,
    finite_or_blank,
    plant,
    reshape,
)

from mktsheets import api
from mktsheets.demo import localised_sample
from mktsheets.generate import new_workbook
from mktsheets.libreoffice import recalculate
from mktsheets.schema import load_template

T = load_template()


def problem_key(p):
    return p.severity, p.code, p.sheet, p.cell, p.found


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """The sample quarter written by the generator in both languages: lang -> (path, Written, Workbook)."""
    d = tmp_path_factory.mktemp("reader")
    out = {}
    for lang in ("zh", "en"):
        path = d / f"sample-{lang}.xlsx"
        written = new_workbook(path, period="2024Q3", lang=lang, data=localised_sample(lang))
        out[lang] = (path, written, api.load(path))
    return out


@pytest.fixture(scope="module")
def zh(made):
    return made["zh"]


# --------------------------------------------------------------------------- 1. other writers


def test_the_generated_file_reads_back_as_the_generator_computed_it(zh):
    _, written, wb = zh
    assert wb.lang == "zh" and not wb.errors
    for key in ("targets", "tracking", "evaluation", "incentives", "review"):
        ours, theirs = wb.calc.out[key], written.calc.out[key]
        for c in T.sheet(key).columns:
            if not c.is_input:
                pd.testing.assert_series_equal(ours[c.key], theirs[c.key], check_dtype=False, obj=f"{key}.{c.key}")
    inc = wb.frame("incentives").set_index("name")
    # SPEC §3 worked examples as the sample quarter holds them: 张三 220万 of 200万 -> 110%, factor 120%
    assert inc.loc["张三", "sales_actual"] == 2_200_000 and inc.loc["张三", "factor"] == pytest.approx(1.2)
    assert inc.loc["张三", "payout"] == pytest.approx(14400 + 6000 + 2000)


@pytest.fixture(scope="module")
def libreoffice_copy(zh, soffice, tmp_path_factory):
    return recalculate(zh[0], tmp_path_factory.mktemp("lo"))


@pytest.fixture(scope="module")
def openpyxl_copy(zh, tmp_path_factory):
    dst = tmp_path_factory.mktemp("opx") / "openpyxl.xlsx"
    openpyxl.load_workbook(zh[0]).save(dst)
    return dst


@pytest.fixture(scope="module")
def wps_copy(zh, tmp_path_factory):
    """Every sheet claims <dimension ref="A1"/>, as WPS writes it (SPEC §8)."""
    dst = tmp_path_factory.mktemp("wps") / "wps.xlsx"
    count = []

    def edit(name, data):
        if name.startswith("xl/worksheets/sheet"):
            data, n = re.subn(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1"/>', data)
            count.append(n)
        return data

    edit_part(zh[0], dst, edit)
    assert count and all(n == 1 for n in count)
    return dst


def _same_as_original(original: api.Workbook, path: Path) -> api.Workbook:
    wb = api.load(path)
    assert_same_frames(original, wb)
    assert sorted(map(problem_key, wb.problems)) == sorted(map(problem_key, original.problems))
    return wb


def test_libreoffice_resaved_copy_gives_the_same_numbers(zh, libreoffice_copy):
    with zipfile.ZipFile(libreoffice_copy) as zf:
        assert b"LibreOffice" in zf.read("docProps/app.xml")
    wb = _same_as_original(zh[2], libreoffice_copy)
    assert wb.frame("incentives")["payout"].notna().sum() == 8


def test_openpyxl_saved_copy_without_cached_values_is_computed_in_python(zh, openpyxl_copy):
    wb = _same_as_original(zh[2], openpyxl_copy)
    # the file itself holds no cached values: every payout cell reads blank
    inc = wb.loaded.layout.sheet("incentives")
    grid = CalamineWorkbook.from_path(str(openpyxl_copy)).get_sheet_by_name(inc.name).to_python(
        skip_empty_area=False)
    col = inc.columns["payout"]
    cells = [grid[r - 1][col] if r - 1 < len(grid) and col < len(grid[r - 1]) else None
             for r in range(inc.first, inc.first + 8)]
    assert all(v in ("", None) for v in cells), cells
    payouts = wb.frame("incentives")["payout"].iloc[:8]
    assert payouts.notna().all() and (payouts > 0).all()
    targets = wb.frame("targets")
    assert targets.loc[targets["id"] == "G1121", "completion"].item() == pytest.approx(1.1)


def test_wps_wrong_dimension_gives_the_same_numbers(zh, wps_copy):
    ro = openpyxl.load_workbook(wps_copy, read_only=True)
    assert ro["激励"].max_row == 1        # the trap is real: read-only openpyxl sees only A1
    ro.close()
    _same_as_original(zh[2], wps_copy)


# --------------------------------------------------------------------------- 2. layouts people make


TARGETS_ORDER = ["目标值", "负责人", "目标编号", "权重", "完成率", "上级目标", "方向"]
TRACKING_ORDER = ["实际量", "偏差原因", "周次", "目标编号", "计划量"]


@pytest.fixture(scope="module")
def rearranged(zh, tmp_path_factory):
    """Columns shuffled, aliases, a user column in between, a title band, and two extra sheets."""
    path = tmp_path_factory.mktemp("layout") / "rearranged.xlsx"
    reshape(zh[0], path, {
        "目标": {"order": TARGETS_ORDER, "rename": {"负责人": "责任人", "完成率": "达成率"},
                 "insert": {"负责人": ("我的核对", [f"x{i}" for i in range(80)])}, "title_rows": 2},
        "跟踪": {"order": TRACKING_ORDER, "rename": {"实际量": "完成量", "工作内容": "任务"},
                 "insert": {"偏差原因": ("自己的列", ["备注"] * 50)}, "title_rows": 2},
        "团队": {"order": ["邮箱", "姓名"], "rename": {"姓名": "员工姓名", "工号": "员工编号"}},
        "评估": {"order": ["权重", "姓名", "实际值", "目标值"], "rename": {"指标名称": "考核指标"}},
        "复盘": {"order": ["达成率", "责任人", "目标编号"], "rename": {"责任人": "负责人"}},
    }, extra_sheets=("我的笔记", "目标 (2)"))
    return path


def test_any_column_order_aliases_title_band_and_extra_sheets(zh, rearranged):
    original = zh[2]
    book = openpyxl.load_workbook(rearranged, read_only=True)
    assert book.sheetnames[0] == "我的笔记" and "目标 (2)" in book.sheetnames
    header = [c.value for c in next(book["目标"].iter_rows(min_row=3, max_row=3))]
    assert header[:4] == ["目标值", "责任人", "我的核对", "目标编号"]
    book.close()

    wb = api.load(rearranged)
    L = wb.loaded.layout
    assert L.sheet("targets").header_row == 3 and L.sheet("tracking").header_row == 3
    assert L.sheet("team").header_row == 1
    assert (L.sheet("targets").letter("target"), L.sheet("targets").letter("owner"),
            L.sheet("targets").letter("id")) == ("A", "B", "D")
    assert L.sheet("tracking").letter("actual") == "A" and L.sheet("tracking").letter("week") == "D"
    assert L.sheet("targets").columns["completion"] == 5   # 达成率 (alias) after the user's column
    assert_same_frames(original, wb)

    # problems point at the moved cells: each missing deviation reason of the sample is still found,
    # two rows lower (title band) and in the moved reason column (B, the user's column at C)
    def moved(p):
        row = re.fullmatch(r"[A-Z]+(\d+)", p.cell).group(1)
        return p.code, p.sheet, f"B{int(row) + 2}"
    before = sorted(moved(p) for p in original.problems if p.code == "missing-reason")
    after = sorted((p.code, p.sheet, p.cell) for p in wb.problems if p.code == "missing-reason")
    assert before and after == before
    assert not wb.errors, [p.line() for p in wb.errors]


def test_english_workbook_with_english_codes_gives_the_same_numbers(made):
    (_, _, zh_wb), (en_path, _, en_wb) = made["zh"], made["en"]
    assert en_wb.lang == "en" and zh_wb.lang == "zh"
    # the English file really holds English codes and headers
    book = openpyxl.load_workbook(en_path, read_only=True)
    targets = [[c.value for c in row] for row in book["Targets"].iter_rows(max_row=3)]
    book.close()
    assert "Goal ID" in targets[0] and "Company" in targets[1] and "Higher is better" in targets[1]
    for key in DATA_SHEETS:                                     # every column, computed ones included
        a, b = comparable(zh_wb, key), comparable(en_wb, key)
        computed = [c.key for c in T.sheet(key).columns if not c.is_input]
        assert (bool(computed) == (key != "team")) and all(c in a.columns for c in computed)
        pd.testing.assert_frame_equal(a, b, check_dtype=False, obj=key)
    assert zh_wb.frame("incentives")["honours"].str.contains("季度之星").sum() == 2
    assert en_wb.frame("incentives")["honours"].str.contains("Star of the quarter").sum() == 2
    dz, de = zh_wb.calc.out["dashboard"], en_wb.calc.out["dashboard"]
    assert dz.keys() == de.keys()
    for cell in dz:
        x, y = dz[cell], de[cell]
        if isinstance(x, str):
            assert x == y, cell
        else:
            assert (pd.isna(x) and pd.isna(y)) or x == pytest.approx(y, rel=1e-12), cell
    sz, se = zh_wb.calc.out["settings"], en_wb.calc.out["settings"]
    assert {k: v for k, v in sz.items() if not isinstance(v, str)} == {k: v for k, v in se.items()
                                                                       if not isinstance(v, str)}


def test_problems_come_in_the_workbook_language(made):
    zh_p, en_p = made["zh"][2].problems, made["en"][2].problems
    assert zh_p and len(zh_p) == len(en_p)
    assert all(re.search(r"[\u4e00-\u9fff]", p.message) and p.sheet == "跟踪" for p in zh_p)
    assert all(not re.search(r"[\u4e00-\u9fff]", p.message + p.expected) and p.sheet == "Tracking" for p in en_p)
    assert [p.cell for p in zh_p] == [p.cell for p in en_p]


# --------------------------------------------------------------------------- 5. garbage never breaks load


def _input_cells(wb: api.Workbook) -> list[tuple[str, str]]:
    """(sheet name, A1) of every input cell the sample uses, the Settings values and tier tables."""
    L, out = wb.loaded.layout, []
    for key in DATA_SHEETS:
        sl = L.sheet(key)
        for c in T.sheet(key).input_columns:
            out += [(sl.name, f"{sl.letter(c.key)}{r}") for r in range(sl.first, sl.first + 6)]
    settings = L.sheet("settings").name
    out += [(settings, f"B{r}") for r in L.setting_rows.values()]
    for key, (first, letters) in wb.loaded.raw.table_cells.items():
        out += [(settings, f"{letter}{first + i}") for letter in letters for i in range(3)]
    return out


ERRORS = ("#DIV/0!", "#N/A", "#REF!", "#VALUE!", "#NAME?", "#NUM!", "#NULL!")
garbage = st.one_of(
    st.none(),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12),
    st.sampled_from(["abc", "5万", "-", "N/A", "第99周", "W0", "80%", "2024-02-30", "７月１日", "1e999", "¥-3",
                     "=SUM(A1)", "#DIV/0!", "  ", "120%%", "1.2.3"]),
    st.integers(min_value=-10**12, max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.sampled_from([ErrorCell(e) for e in ERRORS]),
    st.dates(min_value=date(1900, 3, 1), max_value=date(9999, 12, 31)).map(lambda d: DateCell(float(
        (d - date(1899, 12, 30)).days))),
    st.floats(min_value=-1e308, max_value=1e308).map(DateCell),
)


@pytest.fixture(scope="module")
def garbage_base(zh):
    path, _, wb = zh
    cells = _input_cells(wb)
    L = wb.loaded.layout
    style = date_style(path, L.sheet("targets").name, f"{L.sheet('targets').letter('start')}2")
    return path, cells, style


MONEY = ("bonus", "commission", "payout", "bonus_base", "sales_target", "sales_actual")


# MKTSHEETS_GARBAGE_EXAMPLES=500 for a longer hunt
@settings(max_examples=int(os.environ.get("MKTSHEETS_GARBAGE_EXAMPLES", "20")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_garbage_in_input_cells_never_raises_nor_gives_inf_or_nan_payouts(garbage_base, data):
    path, cells, style = garbage_base
    picks = data.draw(st.lists(st.sampled_from(cells), min_size=1, max_size=8, unique=True))
    edits: dict = {}
    for sheet, a1 in picks:
        edits.setdefault(sheet, {})[a1] = data.draw(garbage)
    with tempfile.TemporaryDirectory() as d:
        dst = plant(path, Path(d) / "garbage.xlsx", edits, style)
        wb = api.load(dst)                                  # never raises
    inc = wb.frame("incentives")
    for col in MONEY + ("total", "quant_score", "qual_score", "overall", "factor", "rank"):
        values = inc[col].astype(float)
        assert not np.isinf(values).any(), col
    payout = inc["payout"].astype(float)
    assert ((payout.notna() & np.isfinite(payout)) | payout.isna()).all()   # a number or blank
    # a person left without a payout is explained by an error or warning (the sample pays everyone)
    named = inc["name"].fillna("") != ""
    if payout[named].isna().any():
        assert any(p.severity in ("error", "warning") and p.code != "missing-reason" for p in wb.problems)
    for key in DATA_SHEETS:
        out = wb.calc.out.get(key)
        for c in T.sheet(key).columns if out is not None else ():
            if not c.is_input and c.key in out and out[c.key].dtype.kind == "f":
                assert not np.isinf(out[c.key].to_numpy()).any(), (key, c.key)
    names = {sl.name for sl in wb.loaded.layout.sheets.values()}
    for p in wb.problems:
        assert p.sheet in names or p.sheet == ""
        assert p.cell == "" or re.fullmatch(r"[A-Z]{1,3}[1-9]\d*", p.cell), p
    # every planted formula error on a data sheet is reported at its own cell
    for sheet, cells_ in edits.items():
        for a1, v in cells_.items():
            if isinstance(v, ErrorCell) and sheet not in ("参数",):
                col = re.match(r"[A-Z]+", a1).group(0)
                key = next(k for k in DATA_SHEETS if wb.loaded.layout.sheet(k).name == sheet)
                ckey = next(c for c, i in wb.loaded.layout.sheet(key).columns.items()
                            if wb.loaded.layout.sheet(key).letter(c) == col)
                if T.sheet(key).column(ckey).is_input:
                    assert any(p.sheet == sheet and p.cell == a1 and p.found == v.text for p in wb.errors), (sheet, a1)


def test_date_cell_with_an_impossible_number_is_a_problem_not_a_crash(zh, tmp_path, capfd):
    """calamine panics on a date-formatted -1e308; the reader reads that sheet another way."""
    path, _, wb = zh
    L = wb.loaded.layout
    sheet, col = L.sheet("targets").name, L.sheet("targets").letter("start")
    style = date_style(path, sheet, f"{col}2")
    dst = plant(path, tmp_path / "huge-date.xlsx", {sheet: {f"{col}3": DateCell(-1e308)}}, style)
    bad = api.load(dst)
    assert [(p.sheet, p.cell, p.severity) for p in bad.problems if p.cell == f"{col}3"] == [(sheet, f"{col}3", "error")]
    assert_same_frames(wb, bad, keys=("incentives",))
    assert "panicked" not in capfd.readouterr().err


def test_absurd_magnitudes_are_problems_not_infinite_numbers(zh, tmp_path):
    path, _, wb = zh
    L = wb.loaded.layout
    tr, ev, st_ = L.sheet("tracking"), L.sheet("evaluation"), L.sheet("settings")
    dst = plant(path, tmp_path / "huge.xlsx", {
        tr.name: {f"{tr.letter('actual')}2": 1e308},             # G1111 week 1: rolls up into 孙浩's sales twice
        ev.name: {f"{ev.letter('weight')}2": -1e308},
        st_.name: {f"B{L.setting_rows['top_share']}": 1e308, f"B{L.setting_rows['currency']}": ErrorCell("#N/A")},
    })
    got = api.load(dst)
    where = {(p.sheet, p.cell): p for p in got.errors}
    assert (tr.name, f"{tr.letter('actual')}2") in where and (ev.name, f"{ev.letter('weight')}2") in where
    assert (st_.name, f"B{L.setting_rows['top_share']}") in where
    assert where[(st_.name, f"B{L.setting_rows['currency']}")].found == "#N/A"
    inc = got.frame("incentives")
    assert finite_or_blank(inc["sales_actual"].tolist()) and finite_or_blank(inc["quant_score"].tolist())
    assert got.calc.s["top_share"] == 0.2 and got.calc.s["currency"] == "元"


def test_unreadable_period_and_end_date_do_not_crash(zh, tmp_path):
    path, _, wb = zh
    L = wb.loaded.layout
    s = L.sheet("settings").name
    dst = plant(path, tmp_path / "no-period.xlsx",
                {s: {f"B{L.setting_rows['period']}": "下季度", f"B{L.setting_rows['end']}": "月底"}})
    got = api.load(dst)
    cells = {p.cell for p in got.errors if p.sheet == s}
    assert {f"B{L.setting_rows['period']}", f"B{L.setting_rows['end']}"} <= cells
    # no calendar without a period: the tracking weeks are not all reported as outside it
    assert not [p for p in got.problems if p.code == "week-outside"]
    assert got.frame("targets")["elapsed"].isna().all()
