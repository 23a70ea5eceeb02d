"""`mktsheets new` and `mktsheets demo` from the command line (issue 2, SPEC §5).

Exit codes follow click: 0 done, 1 an error the program reports as ONE line `Error: …` on stderr
(never a traceback), 2 usage errors.
"""
from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from mktsheets.cli import main

ZH_SHEETS = ["说明", "参数", "团队", "目标", "跟踪", "评估", "激励", "复盘", "看板", "检查"]
EN_SHEETS = ["Guide", "Settings", "Team", "Targets", "Tracking", "Evaluation", "Incentives", "Review",
             "Dashboard", "Checks"]
TEAM_HEADER = ["工号", "姓名", "岗位", "小组", "上级", "邮箱", "奖金基数"]
# 45 people: more than the blank workbook's rows, so the pre-formatted rows must grow with the roster
ROSTER = [["M001", "王磊", "市场部经理", "市场部", "", "wanglei@example.com", "30,000"],
          ["M002", "张三", "天猫运营", "电商组", "王磊", "zhangsan@example.com", "12,000"],
          ["M003", "=SUM(1)", "投放专员", "用户组", "王磊", "", "￥8,500.50"]] + \
         [[f"M{i:03d}", f"员工{i:02d}", "运营", "内容组", "王磊", f"e{i}@example.com", "10000"] for i in range(4, 46)]
BONUS = {"王磊": 30000, "张三": 12000, "=SUM(1)": 8500.5, "员工04": 10000}


def invoke(*args: str):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)
    return result


def assert_one_line_error(result, *words: str) -> str:
    """Exit 1, exactly one line on stderr starting with 'Error:', no traceback anywhere."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 1, (result.exit_code, result.output)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error:"), lines[0]
    assert "Traceback" not in result.output
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def write_csv(path: Path, rows: list[list[str]], encoding: str) -> Path:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)   # as Excel saves CSV
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def column(ws, header: str) -> int:
    for cell in ws[1]:
        if cell.value == header:
            return cell.column
    raise AssertionError(f"{ws.title}: no header {header!r}")


def last_row(ws, col: int) -> int:
    """The last row that is pre-formatted (has a style) in one column."""
    return max(c.row for c in next(ws.iter_cols(min_col=col, max_col=col)) if c.has_style)


def assert_roster_in_workbook(path: Path, lang: str = "zh") -> None:
    wb = openpyxl.load_workbook(path)
    values = openpyxl.load_workbook(path, data_only=True)
    team = wb["团队" if lang == "zh" else "Team"]
    name_col = column(team, "姓名" if lang == "zh" else "Name")
    bonus_col = column(team, "奖金基数" if lang == "zh" else "Bonus base")
    names = [team.cell(r, name_col).value for r in range(2, 2 + len(ROSTER))]
    assert names == [r[1] for r in ROSTER]
    assert team.cell(2 + len(ROSTER), name_col).value is None
    for r in range(2, 2 + len(ROSTER)):
        name = team.cell(r, name_col).value
        bonus = team.cell(r, bonus_col).value
        assert isinstance(bonus, (int, float)), f"bonus base of {name} is {bonus!r}, not a number"
        if name in BONUS:
            assert bonus == pytest.approx(BONUS[name])
    # "=SUM(1)" is a name, not a formula
    assert team.cell(4, name_col).data_type == "s"
    # rows sized for the team, and Incentives follows the roster
    assert last_row(team, name_col) >= 1 + len(ROSTER) + 5
    inc = values["激励" if lang == "zh" else "Incentives"]
    inc_col = column(inc, "姓名" if lang == "zh" else "Name")
    assert [inc.cell(r, inc_col).value for r in range(2, 2 + len(ROSTER))] == names
    assert last_row(inc, inc_col) == last_row(team, name_col)


# --------------------------------------------------------------------------- new


def test_new_writes_a_blank_chinese_workbook(tmp_path):
    out = tmp_path / "2024Q3.xlsx"
    result = invoke("new", "--period", "2024Q3", "-o", out)
    assert result.exit_code == 0, result.output
    assert out.is_file()
    assert str(out) in result.stdout and result.stderr == ""
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ZH_SHEETS
    settings = wb["参数"]
    assert settings["A2"].value == "本期" and settings["B2"].value == "2024Q3"


def test_new_lang_en_gives_english_names_and_fills_goals(tmp_path):
    goals = write_csv(tmp_path / "goals.csv", [
        ["目标编号", "层级", "上级目标", "目标名称", "目标类型", "负责人", "目标值", "权重", "开始日期", "结束日期"],
        ["G1", "公司", "", "新品A Q3销售额", "销售额", "王磊", "500万", "60%", "2024-10-01", "2024/12/31"],
        ["G2", "Company", "", "Brand exposure", "Brand exposure", "王磊", "2,000,000", "40", "", ""],
        ["G11", "部门", "G1", "电商部销售额", "销售额", "孙浩", "5000000", "100%", "", ""],
    ], "utf-8")
    out = tmp_path / "q4.xlsx"
    result = invoke("new", "--period", "2024Q4", "--lang", "en", "--goals", goals, "-o", out)
    assert result.exit_code == 0, result.output
    assert "Wrote" in result.stdout and "3 goals" in result.stdout
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == EN_SHEETS
    ws = wb["Targets"]
    ids = [ws.cell(r, column(ws, "Goal ID")).value for r in range(2, 5)]
    assert ids == ["G1", "G2", "G11"]
    target = column(ws, "Target")
    assert [ws.cell(r, target).value for r in range(2, 5)] == [5_000_000, 2_000_000, 5_000_000]
    weight = column(ws, "Weight")
    assert [ws.cell(r, weight).value for r in range(2, 5)] == [pytest.approx(0.6), pytest.approx(0.4), 1]
    start = ws.cell(2, column(ws, "Start")).value
    assert start.date().isoformat() == "2024-10-01"
    assert ws.cell(4, column(ws, "Parent goal")).value == "G1"
    assert wb["Settings"]["B2"].value == "2024Q4"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_team_csv_in_every_encoding_excel_writes(tmp_path, encoding):
    team = write_csv(tmp_path / "team.csv", [TEAM_HEADER, *ROSTER], encoding)
    if encoding == "utf-8-sig":
        assert team.read_bytes().startswith(b"\xef\xbb\xbf")
    if encoding == "gbk":
        with pytest.raises(UnicodeDecodeError):
            team.read_bytes().decode("utf-8")
    out = tmp_path / "out.xlsx"
    result = invoke("new", "--team", team, "-o", out)
    assert result.exit_code == 0, result.output
    assert f"{len(ROSTER)} 人" in result.stdout
    assert_roster_in_workbook(out)


def test_team_from_xlsx_with_a_title_row_and_english_headers(tmp_path):
    src = tmp_path / "roster.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Marketing team roster 2024"])           # a title band above the header
    ws.append(["ID", "Name", "Role", "Group", "Manager", "Email", "Bonus base"])
    for r in ROSTER:
        ws.append([*r[:6], r[6]])                         # "30,000" stored as text, as people paste it
    ws.cell(3, 7).value = 30000                           # and one real number
    ws.cell(5, 2).data_type = "s"                         # '=SUM(1) typed as text (Excel's leading apostrophe)
    wb.save(src)
    out = tmp_path / "out.xlsx"
    result = invoke("new", "--team", src, "-o", out)
    assert result.exit_code == 0, result.output
    assert_roster_in_workbook(out)


def bad_files(tmp_path: Path) -> dict[str, Path]:
    garbage = tmp_path / "garbage.txt"
    garbage.write_bytes(bytes(range(256)) * 8)
    no_header = write_csv(tmp_path / "no_header.csv", [["foo", "bar", "baz"], ["1", "2", "3"]], "utf-8")
    pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\nxref\n0 1\ntrailer\n%%EOF\n"
    pdf_xlsx = tmp_path / "roster.xlsx"
    pdf_xlsx.write_bytes(pdf)
    pdf_csv = tmp_path / "roster.csv"
    pdf_csv.write_bytes(pdf)
    return {"missing": tmp_path / "missing.csv", "garbage": garbage, "no_header": no_header,
            "pdf_as_xlsx": pdf_xlsx, "pdf_as_csv": pdf_csv}


@pytest.mark.parametrize("case", ["missing", "garbage", "no_header", "pdf_as_xlsx", "pdf_as_csv"])
@pytest.mark.parametrize("option", ["--team", "--goals"])
def test_bad_input_file_is_one_line_and_exit_1(tmp_path, case, option):
    path = bad_files(tmp_path)[case]
    out = tmp_path / "out.xlsx"
    result = invoke("new", option, path, "-o", out)
    line = assert_one_line_error(result)
    assert path.name in line
    assert not out.exists()


def test_bad_period_is_one_line(tmp_path):
    out = tmp_path / "out.xlsx"
    result = invoke("new", "--period", "2024Q9", "-o", out)
    assert_one_line_error(result, "2024Q9")
    assert not out.exists()


@pytest.mark.parametrize("args", [["new", "--colour", "red", "-o", "x.xlsx"], ["new"], ["new", "--lang", "fr", "-o", "x.xlsx"],
                                  ["newx"]])
def test_usage_errors_exit_2(tmp_path, args):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "Error" in result.stderr


def test_output_into_a_missing_folder_is_one_line(tmp_path):
    result = invoke("new", "-o", tmp_path / "no" / "such" / "dir" / "out.xlsx")
    assert_one_line_error(result)


def test_real_process_new_and_error(tmp_path):
    """As a user runs it: `python -m mktsheets new`, then a bad roster (a real process, real stderr)."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    out = tmp_path / "real.xlsx"
    done = subprocess.run([sys.executable, "-m", "mktsheets", "new", "--period", "2024Q3", "-o", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, encoding="utf-8", timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert openpyxl.load_workbook(out).sheetnames == ZH_SHEETS
    bad = subprocess.run([sys.executable, "-m", "mktsheets", "new", "--team", "missing.csv", "-o", "x.xlsx"],
                         cwd=tmp_path, capture_output=True, text=True, encoding="utf-8", timeout=120, env=env)
    assert bad.returncode == 1
    assert len(bad.stderr.strip().splitlines()) == 1 and bad.stderr.startswith("Error:"), bad.stderr
    assert "Traceback" not in bad.stderr + bad.stdout
    assert not (tmp_path / "x.xlsx").exists()


# --------------------------------------------------------------------------- demo


def test_demo_writes_into_the_directory_and_says_what(tmp_path):
    target = tmp_path / "demo out"
    result = invoke("demo", target)
    assert result.exit_code == 0, result.output
    files = sorted(p for p in target.rglob("*") if p.is_file())
    assert files, "demo wrote nothing"
    for f in files:
        assert f.name in result.stdout, f"demo did not mention {f.name}"
    books = [f for f in files if f.suffix == ".xlsx" and not f.name.endswith(".bak.xlsx")]
    assert books
    wb = openpyxl.load_workbook(books[0], data_only=True)
    assert wb.sheetnames == ZH_SHEETS
    team = wb["团队"]
    assert sum(1 for r in range(2, team.max_row + 1) if team.cell(r, 2).value) >= 5
    assert not list(tmp_path.glob("*.xlsx")), "demo wrote outside its directory"
