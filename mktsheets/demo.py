"""`mktsheets demo`: the whole cycle on the built-in sample quarter."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from .generate import new_workbook
from .parsing import parse_code
from .recalc import recalc
from .sample import PERIOD, sample_data
from .schema import load_template


def localised_sample(lang: str) -> dict[str, list[dict]]:
    """The sample rows with coded values (levels, types, directions…) in the workbook's language."""
    t = load_template()
    data = sample_data()
    if lang == "zh":
        return data
    for key, rows in data.items():
        sheet = t.sheet(key)
        for row in rows:
            for col in sheet.input_columns:
                if col.type == "code" and row.get(col.key):
                    code = parse_code(row[col.key], t.codes[col.list])
                    row[col.key] = t.code_label(col.list, code, lang)
    return data


def run_demo(directory: Path, lang: str = "zh", echo: Callable[[str], None] = print) -> dict[str, Path]:
    """Write the sample workbook (and, as later steps exist, recalc, scorecards and email)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{PERIOD}-营销团队.xlsx" if lang == "zh" else f"{PERIOD}-marketing-team.xlsx"
    workbook = directory / name
    written = new_workbook(workbook, period=PERIOD, lang=lang, data=localised_sample(lang))
    inc = written.calc.out["incentives"]
    people = inc[inc["name"] != ""]
    zh = lang == "zh"
    echo(("1 生成样例季度工作簿: " if zh else "1 Sample quarter workbook: ") + str(workbook))
    echo(("  团队 {} 人，目标 {} 个，跟踪 {} 行，评估 {} 行" if zh else
          "  {} people, {} goals, {} tracking rows, {} evaluation rows").format(
        len(people), int((written.calc.frame("targets")["id"].fillna("") != "").sum()),
        int(written.calc.frame("tracking")["week"].notna().sum()),
        int((written.calc.frame("evaluation")["name"].fillna("") != "").sum())))
    result = recalc(workbook, backup=False)
    echo(("2 周例会前重算（mktsheets recalc）: " if zh else "2 Weekly recalc (mktsheets recalc): ") + str(workbook))
    for line in result.summary:
        echo("  " + line)
    return {"workbook": workbook, **_scorecards_and_email(result.workbook, directory, zh, echo)}


def _scorecards_and_email(wb, directory: Path, zh: bool, echo: Callable[[str], None]) -> dict[str, Path]:
    """Steps 3 and 4: everyone's scorecard and team summaries, then the .eml outbox (a dry run)."""
    from .mail import write_outbox
    from .scorecards import collect, write_scorecards

    quarter = collect(wb)
    cards = write_scorecards(quarter, directory / ("绩效卡" if zh else "scorecards"))
    echo(("3 期末绩效卡（mktsheets scorecards）: " if zh else "3 Scorecards (mktsheets scorecards): ")
         + str(cards.directory))
    for files in [*cards.files.values(), *cards.summaries.values()]:
        echo("  " + "  ".join(p.name for p in files.values()))
    if cards.pdf_note:
        echo("  " + cards.pdf_note)
    outbox = write_outbox(quarter, directory / ("邮件" if zh else "outbox"), sender="marketing@example.com")
    echo(("4 邮件（mktsheets email，演示不发送）: " if zh else "4 Emails (mktsheets email, a dry run): ")
         + str(outbox.outbox))
    for card, path in outbox.written:
        echo(f"  {card.name} <{card.email}>  {path.name}")
    if outbox.no_address:
        echo(("  没有邮箱地址: " if zh else "  No email address: ") + ", ".join(c.name for c in outbox.no_address))
    return {"scorecards": cards.directory, "outbox": outbox.outbox}
