"""Scorecards: content, file names, print setup, team summaries, the CLI."""
from __future__ import annotations

import copy
import io
import re
import zipfile

import openpyxl
import pytest
from click.testing import CliRunner

from mailkit import sample_workbook, shared_sample
from mktsheets.cli import main
from mktsheets.sample import sample_data
from mktsheets.scorecards import (card_html, card_xlsx, collect, mask_names, safe_filename, summary_html,
                                  summary_xlsx, write_scorecards)


@pytest.fixture(scope="module")
def workbook(tmp_path_factory):
    return shared_sample(tmp_path_factory)


@pytest.fixture(scope="module")
def quarter(workbook):
    return collect(workbook)


def test_one_card_per_person_with_the_computed_values(quarter):
    assert [c.name for c in quarter.cards] == ["王磊", "孙浩", "张三", "李四", "赵敏", "陈晨", "刘洋", "周婷"]
    zs = quarter.card("张三")
    # R7-R12 as computed for the sample quarter
    assert zs.total == pytest.approx(94.9563)
    assert (zs.grade, zs.rank, zs.ranked) == ("S", 1, 8)
    assert zs.bonus == 14400 and zs.commission == 6000 and zs.adjustment == 2000 and zs.payout == 22400
    assert zs.honours == "季度之星" and zs.alerts == ""
    assert [ln.indicator for ln in zs.indicators] == ["天猫销售额达成", "新客户数", "执行力", "团队协作"]
    assert sum(ln.weight for ln in zs.indicators) == pytest.approx(1.0)
    # the brackets the commission used: 100%-120% at 3% on the 10% above target of 200万
    used = [b for b in zs.brackets if b.part > 0]
    assert len(used) == 1 and used[0].rate == 0.03 and used[0].amount == pytest.approx(6000)
    assert sum(b.amount for b in zs.brackets) == pytest.approx(zs.commission)
    assert quarter.card("刘洋").alerts == "末位、绩效辅导"
    # the monthly check-ins are not indicators of the quarter
    assert all(ln.indicator != "月度综合评价" for c in quarter.cards for ln in c.indicators)


def test_scorecard_xlsx_holds_everything_on_one_printed_a4_page(quarter):
    data = card_xlsx(quarter.card("张三"))
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["绩效卡"]
    ws = wb["绩效卡"]
    values = [c for row in ws.iter_rows(values_only=True) for c in row if c is not None]
    for expected in ("2024Q3 绩效卡 · 张三", "第 1 名 / 共 8 人", "S", 22400, 14400, 6000, 2000, 12000,
                     "天猫销售额达成", "新客户数", "执行力", "团队协作", "季度之星", "会员日额外值班补贴",
                     "100% – 120%", 0.03):
        assert expected in values, expected
    assert any(isinstance(v, float) and abs(v - 94.9563) < 1e-9 for v in values)
    assert ws.page_setup.paperSize == 9 and ws.page_setup.orientation == "portrait"
    # fit to one page wide and tall (1 is the default XlsxWriter leaves out)
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.page_setup.fitToHeight in (None, 1) and ws.page_setup.fitToWidth in (None, 1)
    assert ws.print_area.startswith("'绩效卡'!$A$1:$I$")
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        workbook_xml = z.read("xl/workbook.xml").decode()
        assert re.findall(r'<definedName name="([^"]+)"', workbook_xml) == ["_xlnm.Print_Area"]
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
        assert charts, "a native chart"
        chart = z.read(charts[0]).decode()
        assert "<c:barChart>" in chart and "天猫销售额达成" in chart   # categories cached from this sheet
    assert not [c.coordinate for row in ws.iter_rows() for c in row if c.data_type == "f"], "values, no formulas"


def test_text_that_looks_like_a_formula_stays_text(quarter):
    card = copy.deepcopy(quarter.card("张三"))
    card.adjustment_reason = "=HYPERLINK(\"http://x\")"
    card.indicators[0].indicator = "+1 新客"
    ws = openpyxl.load_workbook(io.BytesIO(card_xlsx(card))).active
    cells = {c.value: c.data_type for row in ws.iter_rows() for c in row if c.value is not None}
    assert cells["=HYPERLINK(\"http://x\")"] == "s" and cells["+1 新客"] == "s"


def test_html_scorecard_is_self_contained(quarter):
    page = card_html(quarter.card("张三"))
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    for forbidden in ("<script", "<link", "src=", "url(", "http://", "https://"):
        assert forbidden not in page, forbidden
    for expected in ("张三", "94.96", ">S<", "第 1 名 / 共 8 人", "22,400.00 元", "14,400.00 元", "6,000.00 元",
                     "100% – 120%", "季度之星", "会员日额外值班补贴", "12.68"):
        assert expected in page, expected


def test_weighted_scores_round_as_excel_shows_them(quarter):
    # 15% x 84.5 = 12.675: Excel shows 12.68 (Python's format() would say 12.67)
    line = quarter.card("张三").indicators[2]
    assert line.weighted == pytest.approx(12.675)
    assert "12.68" in card_html(quarter.card("张三"))


def test_team_summary_lists_direct_reports_only(quarter):
    summaries = {s.manager: [c.name for c in s.reports] for s in quarter.summaries}
    assert summaries == {"王磊": ["孙浩", "赵敏", "刘洋", "周婷"], "孙浩": ["张三", "李四"], "赵敏": ["陈晨"]}
    s = next(s for s in quarter.summaries if s.manager == "孙浩")
    page = summary_html(s)
    ws = openpyxl.load_workbook(io.BytesIO(summary_xlsx(s))).active
    values = [c for row in ws.iter_rows(values_only=True) for c in row if c is not None]
    for name in ("张三", "李四"):
        assert name in page and name in values
    for outsider in ("王磊", "赵敏", "陈晨", "刘洋", "周婷"):
        assert outsider not in page.replace("孙浩", "")
        assert not any(isinstance(v, str) and outsider in v for v in values)
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9


@pytest.mark.parametrize("raw, expected", [
    ("2024Q3-张三-绩效卡.xlsx", "2024Q3-张三-绩效卡.xlsx"),
    ('2024Q3-a/b\\c:d*e?f"g<h>i|j-绩效卡.xlsx', "2024Q3-a_b_c_d_e_f_g_h_i_j-绩效卡.xlsx"),
    ("CON.xlsx", "_CON.xlsx"),
    ("name. .xlsx", "name.xlsx"),
    ("tab\there\n.html", "tab_here_.html"),
])
def test_safe_filename(raw, expected):
    assert safe_filename(raw) == expected


def test_colleagues_named_in_free_text_are_masked(tmp_path):
    data = sample_data()
    for row in data["evaluation"]:
        if row["name"] == "张三" and row["indicator"] == "执行力":
            row["comment"] = "与李四配合默契，张三本人表现突出"
    data["incentives"][2]["adjustment_reason"] = "替孙浩值班"
    q = collect(sample_workbook(tmp_path / "wb.xlsx", data=data))
    zs = q.card("张三")
    assert zs.indicators[2].comment == "与***配合默契，张三本人表现突出"
    assert zs.adjustment_reason == "替***值班"
    assert mask_names("王磊磊 和 王磊", "王磊磊", ["王磊", "王磊磊"]) == "王磊磊 和 ***"


def test_person_without_valid_weights_gets_a_card_marked_incomplete(tmp_path):
    data = sample_data()
    for row in data["evaluation"]:
        if row["name"] == "李四" and row["indicator"] == "直播场次":
            row["weight"] = 0.05           # weights now sum to 95%
    q = collect(sample_workbook(tmp_path / "wb.xlsx", data=data))
    ls = q.card("李四")
    assert ls.total is None and ls.payout is None and not ls.complete
    assert "权重合计不是 100%" in card_html(ls)
    assert q.card("张三").complete


def test_english_workbook_gets_english_scorecards(tmp_path, tmp_path_factory):
    wb = shared_sample(tmp_path_factory, lang="en")
    result = write_scorecards(wb, tmp_path / "out", "xlsx,html")
    assert result.files["张三"]["xlsx"].name == "2024Q3-张三-scorecard.xlsx"
    assert result.summaries["孙浩"]["html"].name == "2024Q3-孙浩-team-summary.html"
    page = result.files["张三"]["html"].read_text(encoding="utf-8")
    assert "Total score" in page and "1 of 8" in page and "Star of the quarter" in page
    assert openpyxl.load_workbook(result.files["张三"]["xlsx"]).sheetnames == ["Scorecard"]


def test_cli_scorecards_without_libreoffice_says_so(workbook, tmp_path, monkeypatch):
    monkeypatch.setenv("MKTSHEETS_SOFFICE", str(tmp_path / "no-such-soffice"))
    out = tmp_path / "cards"
    r = CliRunner().invoke(main, ["scorecards", str(workbook), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "未找到 LibreOffice，未生成 PDF" in r.output
    assert "已写入 8 份绩效卡、3 份团队汇总" in r.output
    assert sorted(p.suffix for p in out.iterdir()) == [".html"] * 11 + [".xlsx"] * 11
    # asking for pdf explicitly and not getting it is an error (the other formats are still written)
    r = CliRunner().invoke(main, ["scorecards", str(workbook), "-o", str(tmp_path / "c2"), "--format", "pdf"])
    assert r.exit_code == 1 and "Error: 未找到 LibreOffice" in r.output
    assert (tmp_path / "c2" / "2024Q3-张三-绩效卡.xlsx").is_file()


def test_cli_scorecards_rejects_unknown_format(workbook, tmp_path):
    r = CliRunner().invoke(main, ["scorecards", str(workbook), "-o", str(tmp_path), "--format", "docx"])
    assert r.exit_code == 2 and "unknown format docx" in r.output
