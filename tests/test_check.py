"""Every check of SPEC §4 on a real file, and `mktsheets check` (issue 3, Must show 4).

One workbook per language gets one planted cell per check (tests/reader_kit.bad_plan); each must
come back as a problem naming that sheet and cell, the value found and what was expected, in the
workbook's language - from the library, from `check` (text and --json) and from a real process.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from reader_kit import (
    CJK,
    DateCell,
    ErrorCell,
    a1_of,
    bad_workbook,
    date_style,
    edit_part,
    plant,
)

import mktsheets.api
from mktsheets import api
from mktsheets.cli import main
from mktsheets.demo import localised_sample
from mktsheets.generate import new_workbook
from mktsheets.safety import FileProblem

CELL_LINE = re.compile(r"^(?P<sheet>[^!\s]+)!(?P<cell>[A-Z]{1,3}\d+)\s")


@pytest.fixture(scope="module")
def books(tmp_path_factory):
    """lang -> (clean path, clean Workbook, bad path, plan, bad Workbook)."""
    d = tmp_path_factory.mktemp("check")
    out = {}
    for lang in ("zh", "en"):
        clean = d / f"clean-{lang}.xlsx"
        new_workbook(clean, period="2024Q3", lang=lang, data=localised_sample(lang))
        wb = api.load(clean)
        bad = d / f"bad-{lang}.xlsx"
        plan = bad_workbook(clean, bad, wb)
        out[lang] = (clean, wb, bad, plan, api.load(bad))
    return out


@pytest.fixture(scope="module", params=["zh", "en"])
def book(request, books):
    return books[request.param]


# --------------------------------------------------------------------------- 3. every check of SPEC §4


def test_clean_sample_has_no_errors(book):
    _, wb, *_ = book
    assert wb.problems and not wb.errors
    assert {p.code for p in wb.problems} == {"missing-reason"}      # the sample's own 6 reasonless rows


def test_every_planted_cell_is_a_problem_with_sheet_cell_found_and_expected(book):
    _, clean, _, plan, wb = book
    L = wb.loaded.layout
    zh = wb.lang == "zh"
    problems = wb.problems
    checked = set()
    for p in plan:
        if not p.code:
            continue
        sheet, cell = L.sheet(p.sheet).name, a1_of(wb, p)
        hits = [q for q in problems if q.code == p.code and q.sheet == sheet and q.cell == cell]
        assert len(hits) == 1, (p, [q.line() for q in problems if q.cell == cell])
        q = hits[0]
        assert q.severity == p.severity and q.found == p.found, (p, q)
        assert q.expected and q.message
        if zh:
            assert CJK.search(q.message), q
        else:
            assert not CJK.search(q.message + q.expected), q
        checked.add(p.code)
    assert checked == {"unreadable", "formula-error", "unknown-name", "unknown-goal", "duplicate-goal",
                       "duplicate-name", "end-before-start", "date-outside", "week-outside", "weights-goals",
                       "negative", "overwritten", "percent-as-whole", "number-as-text", "period-variant"}
    # the clean file's cells hold none of these
    assert not {(q.sheet, q.cell) for q in clean.problems} & {(L.sheet(p.sheet).name, a1_of(wb, p)) for p in plan}


def test_expected_texts_say_what_would_be_right(book):
    *_, wb = book
    zh = wb.lang == "zh"
    by_code = {}
    for q in wb.problems:
        by_code.setdefault(q.code, []).append(q)
    date_problem = next(q for q in by_code["unreadable"] if q.found == "2024-02-30")
    assert "2024-07-01" in date_problem.expected
    number_problem = next(q for q in by_code["unreadable"] if q.found == "abc")
    assert number_problem.expected == ("数字" if zh else "a number")
    assert by_code["week-outside"][0].expected == "1-14"
    assert by_code["weights-goals"][0].expected == "100%"
    assert by_code["period-variant"][0].expected == "2024-07"
    assert by_code["date-outside"][0].expected == "2024-07-01 ~ 2024-09-30"
    assert by_code["formula-error"][0].expected == ("一个值" if zh else "a value")


def test_planted_problems_do_not_give_wrong_numbers(book):
    """Unreadable cells are blank for the rules: the goal of `abc` has no completion, no guessed one."""
    _, clean, _, _, wb = book
    g = wb.frame("targets").set_index("id")
    assert pd.isna(g.loc["G4", "target"]) and pd.isna(g.loc["G4", "completion"])
    t = wb.frame("tracking")
    assert pd.isna(t.loc[10, "actual"]) and pd.isna(t.loc[10, "completion"])        # the #DIV/0! cell
    assert t.loc[9, "actual"] == 150000                                              # number stored as text
    e = wb.frame("evaluation")
    assert e.loc[2, "weight"] == pytest.approx(0.5)                                  # 50 read as 50%
    assert e.loc[max(e.index[e["name"] == "刘洋"]), "period"] == "2024-07"          # the date read as its month
    # the sample's payouts of people the plants do not touch stay as they were
    before, after = clean.frame("incentives").set_index("name"), wb.frame("incentives").set_index("name")
    for name in ("王磊", "赵敏"):
        assert after.loc[name, "payout"] == pytest.approx(before.loc[name, "payout"])


def test_period_typed_as_a_date_on_settings_is_an_error_at_its_cell(books, tmp_path):
    clean, wb, *_ = books["zh"]
    L = wb.loaded.layout
    s = L.sheet("settings").name
    style = date_style(clean, L.sheet("targets").name, f"{L.sheet('targets').letter('start')}2")
    dst = plant(clean, tmp_path / "period-date.xlsx", {s: {f"B{L.setting_rows['period']}": DateCell(45474.0)}}, style)
    got = api.load(dst)
    p = next(q for q in got.errors if q.code == "period")
    assert (p.sheet, p.cell, p.found) == (s, f"B{L.setting_rows['period']}", "2024-07-01")
    assert "2024Q3" in p.expected


def test_a_missing_input_column_is_named(books, tmp_path):
    clean, wb, *_ = books["en"]
    book = openpyxl.load_workbook(clean)
    ws = book["Targets"]
    col = wb.loaded.layout.sheet("targets").columns["target"] + 1
    assert ws.cell(1, col).value == "Target"
    ws.cell(1, col).value = "Goal value (renamed)"
    book.save(tmp_path / "renamed.xlsx")
    got = api.load(tmp_path / "renamed.xlsx")
    p = next(q for q in got.errors if q.code == "missing-column")
    assert p.sheet == "Targets" and p.expected == "Target" and "Target" in p.message


def test_values_typed_as_text_are_read_with_a_note_naming_the_value(books, tmp_path):
    clean, wb, *_ = books["en"]
    L = wb.loaded.layout
    t, k = L.sheet("targets"), L.sheet("tracking")
    cells = {t.name: {f"{t.letter('start')}3": "2024-07-15", f"{t.letter('end')}3": "9月30日",
                      f"{t.letter('weight')}3": "30%"},
             k.name: {f"{k.letter('week')}3": "第1周", f"{k.letter('planned')}3": "15.4万"}}
    got = api.load(plant(clean, tmp_path / "text.xlsx", cells))
    notes = {(q.sheet, q.cell): q for q in got.problems if q.code == "number-as-text"}
    expected = {f"{t.letter('start')}3": "the date 2024-07-15", f"{t.letter('end')}3": "the date 2024-09-30",
                f"{t.letter('weight')}3": "the number 0.3 = 30%", f"{k.letter('week')}3": "the number 1",
                f"{k.letter('planned')}3": "the number 154000"}
    for sheet, typed in cells.items():
        for a1, raw in typed.items():
            q = notes[(sheet, a1)]
            assert (q.severity, q.found, q.expected) == ("note", raw, expected[a1])
    g = got.frame("targets")
    assert g.loc[3, "weight"] == pytest.approx(0.3) and g.loc[3, "end"] == 45565
    assert got.frame("tracking").loc[3, "planned"] == 154000 and not got.errors


# --------------------------------------------------------------------------- whole-file problems


def _custom(name: str, version: str):
    def edit(member, data):
        if member == "docProps/custom.xml":
            data = data.replace(b"mktsheets-quarterly", name.encode())
            data = data.replace(b"<vt:lpwstr>1</vt:lpwstr>", f"<vt:lpwstr>{version}</vt:lpwstr>".encode())
        return data
    return edit


@pytest.fixture(scope="module")
def bad_files(books, tmp_path_factory):
    """name -> (path, words the one-line error must contain)."""
    d = tmp_path_factory.mktemp("files")
    clean = books["zh"][0]
    out = {}
    out["unknown template"] = (edit_part(clean, d / "other.xlsx", _custom("acme-okr", "1")),
                               ["acme-okr", "unknown template"])
    out["newer template"] = (edit_part(clean, d / "newer.xlsx", _custom("mktsheets-quarterly", "7")),
                             ["v7", "upgrade"])
    book = openpyxl.load_workbook(clean)
    del book["评估"], book["复盘"]
    book.save(d / "missing.xlsx")
    out["missing sheets"] = (d / "missing.xlsx", ["评估", "复盘", "Evaluation", "Review", "missing sheets"])
    pd.DataFrame({"a": [1, 2]}).to_excel(d / "plain.xlsx")
    out["plain xlsx"] = (d / "plain.xlsx", ["not a mktsheets workbook", "Settings", "Team"])
    (d / "notes.xlsx").write_text("this is not a workbook")
    out["text file"] = (d / "notes.xlsx", [])
    (d / "empty.xlsx").write_bytes(b"")
    out["empty file"] = (d / "empty.xlsx", [])
    (d / "legacy.xls").write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 504)
    out["legacy xls"] = (d / "legacy.xls", [])
    out["no such file"] = (d / "nowhere.xlsx", ["nowhere.xlsx"])
    return out


FILE_CASES = ["unknown template", "newer template", "missing sheets", "plain xlsx", "text file", "empty file",
              "legacy xls", "no such file"]


@pytest.mark.parametrize("case", FILE_CASES[:-1])
def test_whole_file_problems_raise_only_fileproblem_with_one_clear_line(bad_files, case):
    path, words = bad_files[case]
    with pytest.raises(FileProblem) as info:
        api.load(path)
    text = str(info.value)
    assert "\n" not in text and text.strip()
    for w in words:
        assert w in text, (w, text)


@pytest.mark.parametrize("case", FILE_CASES)
def test_check_prints_one_line_and_no_traceback_for_bad_files(bad_files, case):
    path, words = bad_files[case]
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "Traceback" not in result.output
    for w in words:
        assert w in lines[0]


# --------------------------------------------------------------------------- 4. mktsheets check


def _count_line(lang: str, problems) -> str:
    errors = sum(p.severity == "error" for p in problems)
    if lang == "zh":
        return f"共 {len(problems)} 项：{errors} 个错误，{len(problems) - errors} 个警告/提示"
    return f"{len(problems)} problems: {errors} errors, {len(problems) - errors} warnings/notes"


def test_check_on_the_clean_sample_quarter_exits_0_with_the_count(book):
    clean, wb, *_ = book
    result = CliRunner().invoke(main, ["check", str(clean)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[-1] == _count_line(wb.lang, wb.problems)
    assert len(lines) == len(wb.problems) + 1
    for line, p in zip(lines, wb.problems):
        assert line.startswith(f"{p.where}  ")


def test_check_on_a_file_with_errors_exits_1_naming_each_planted_cell(book):
    *_, bad, plan, wb = book
    result = CliRunner().invoke(main, ["check", str(bad)])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[-1] == _count_line(wb.lang, wb.problems) and wb.errors
    body = lines[:-1]
    assert len(body) == len(wb.problems)
    names = {sl.name for sl in wb.loaded.layout.sheets.values()}
    for line in body:
        m = CELL_LINE.match(line)
        assert m and m.group("sheet") in names, line
    named = {(m.group("sheet"), m.group("cell")) for m in map(CELL_LINE.match, body)}
    L = wb.loaded.layout
    for p in plan:
        if p.code:
            assert (L.sheet(p.sheet).name, a1_of(wb, p)) in named, p
    # errors first, and each line says what was found
    severities = [next(q.severity for q in wb.problems if line.startswith(q.where + "  ")) for line in body]
    assert severities == sorted(severities, key=["error", "warning", "note"].index)
    assert any("abc" in line for line in body) and any("#DIV/0!" in line for line in body)


def test_check_json_holds_the_same_problems(book):
    *_, bad, _, wb = book
    result = CliRunner().invoke(main, ["check", "--json", str(bad)])
    assert result.exit_code == 1
    data = json.loads(result.output)
    fields = ("severity", "sheet", "cell", "found", "expected", "message", "code")
    assert [tuple(d[f] for f in fields) for d in data] == [tuple(getattr(p, f) for f in fields)
                                                           for p in wb.problems]
    clean = CliRunner().invoke(main, ["check", "--json", str(book[0])])
    assert clean.exit_code == 0 and all(d["severity"] != "error" for d in json.loads(clean.output))


def test_check_in_a_real_process(books):
    *_, bad, plan, wb = books["zh"]
    proc = subprocess.run([sys.executable, "-m", "mktsheets", "check", str(bad)], capture_output=True,
                          timeout=120, check=False)
    out, err = proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")
    assert proc.returncode == 1, err
    assert "Traceback" not in out + err
    L = wb.loaded.layout
    for p in plan:
        if p.code:
            assert re.search(rf"^{re.escape(L.sheet(p.sheet).name)}!{a1_of(wb, p)}  ", out, re.MULTILINE), p
    assert out.splitlines()[-1] == _count_line("zh", wb.problems)


def test_check_hides_an_unexpected_exception_unless_debug(books, monkeypatch):
    clean = books["en"][0]

    def boom(calc):
        raise RuntimeError("boom in validate")

    monkeypatch.setattr(mktsheets.api, "validate", boom)
    quiet = CliRunner().invoke(main, ["check", str(clean)])
    assert quiet.exit_code == 1
    assert quiet.output.strip() == "Error: RuntimeError: boom in validate"
    assert "Traceback" not in quiet.output
    loud = CliRunner().invoke(main, ["--debug", "check", str(clean)])
    assert loud.exit_code == 1
    assert "Traceback (most recent call last)" in loud.stderr and "boom in validate" in loud.stderr
    assert "validate" in loud.stderr and "api.py" in loud.stderr


def test_check_never_shows_a_traceback_for_odd_cells(books, tmp_path):
    """Cells that once crashed the reader: an impossible date, absurd numbers, errors in Settings."""
    clean, wb, *_ = books["zh"]
    L = wb.loaded.layout
    t, s = L.sheet("targets"), L.sheet("settings")
    style = date_style(clean, t.name, f"{t.letter('start')}2")
    dst = plant(clean, tmp_path / "odd.xlsx", {
        t.name: {f"{t.letter('end')}4": DateCell(-1e308), f"{t.letter('target')}5": 1e308},
        s.name: {f"B{L.setting_rows['currency']}": ErrorCell("#REF!"), f"B{L.setting_rows['top_share']}": -1e300},
    }, style)
    result = CliRunner().invoke(main, ["check", str(dst)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and "panicked" not in result.output
    for cell in (f"{t.name}!{t.letter('end')}4", f"{t.name}!{t.letter('target')}5",
                 f"{s.name}!B{L.setting_rows['currency']}", f"{s.name}!B{L.setting_rows['top_share']}"):
        assert re.search(rf"^{re.escape(cell)}  ", result.output, re.MULTILINE), cell
