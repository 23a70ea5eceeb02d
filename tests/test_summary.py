"""The weekly-review summary recalc prints, on the sample quarter (zh and en)."""
from __future__ import annotations

from click.testing import CliRunner

from mktsheets.cli import main
from mktsheets.demo import localised_sample
from mktsheets.generate import new_workbook
from mktsheets.recalc import recalc


def _sample(tmp_path, lang):
    path = tmp_path / f"q-{lang}.xlsx"
    new_workbook(path, "2024Q3", lang=lang, data=localised_sample(lang))
    return path


def test_summary_names_week_warnings_and_top_people(tmp_path):
    lines = recalc(_sample(tmp_path, "zh"), backup=False).summary
    assert lines[0] == "统计截止 2024-09-29（第 13 周）"
    # week 13: 李四's livestream (140,000 of 183,000 = 76.5%) is the only warning row, and it follows week 12's
    assert lines[1] == "本周预警 1 行；连续预警目标：G1111"
    assert lines[2] == "落后目标：无"
    assert lines[3].startswith("总分前列：张三 95.0（S）、赵敏 93.2（S）")
    assert lines[-1] == "问题：0 个错误，6 个警告/提示（见“检查”表）"


def test_summary_in_english_and_on_the_command_line(tmp_path):
    path = _sample(tmp_path, "en")
    result = CliRunner().invoke(main, ["recalc", str(path), "--no-backup"])
    assert result.exit_code == 0, result.output
    out = result.output.splitlines()
    assert out[0] == f"Updated {path}"
    assert out[1:4] == ["  As of 2024-09-29 (week 13)",
                        "  Warnings this week: 1 rows; repeated warnings: G1111",
                        "  Goals behind: none"]
    assert out[4].startswith("  Top people: 张三 95.0 (S), 赵敏 93.2 (S)")
