"""The Checks sheet: one row per problem, each with a link to its cell."""
from __future__ import annotations

from .layout import quote_sheet
from .problems import Problem, ProblemList

COLUMNS = ("severity", "sheet", "cell", "found", "expected", "message")
SEVERITY = {"zh": {"error": "错误", "warning": "警告", "note": "提示"},
            "en": {"error": "Error", "warning": "Warning", "note": "Note"}}


def link_formula(p: Problem) -> tuple[str, str] | None:
    """(formula, shown text) of a link to the problem's cell; None when it has no cell."""
    if not p.sheet:
        return None
    target = f"{quote_sheet(p.sheet)}!{p.cell or 'A1'}"
    shown = p.where
    return f'HYPERLINK("#{_esc(target)}","{_esc(shown)}")', shown


def _esc(text: str) -> str:
    return text.replace('"', '""')


def rows(problems: ProblemList, lang: str) -> list[dict]:
    """The Checks rows: values per column, and the link formula of the cell column."""
    out = []
    for p in problems.sorted():
        link = link_formula(p)
        out.append({
            "severity": SEVERITY[lang][p.severity], "sheet": p.sheet,
            "cell": link, "found": p.found, "expected": p.expected, "message": p.message,
        })
    return out


def write_checks_xlsxwriter(writer, ws) -> None:
    """Write the Checks sheet with XlsxWriter (used by `new`)."""
    t, lang, f = writer.t, writer.lang, writer.fmt
    sheet = t.sheet("checks")
    for j, col in enumerate(sheet.columns):
        ws.write_string(0, j, col.header(lang), f.get("header_computed"))
        ws.set_column(j, j, col.width)
    red = writer.wb.add_format({"font_color": "#9C0006", "bold": True})
    for i, row in enumerate(rows(writer.calc.problems, lang), start=1):
        for j, key in enumerate(COLUMNS):
            v = row[key]
            if key == "cell" and v:
                ws.write_formula(i, j, "=" + v[0], writer.fmt.get("text", font_color="blue", underline=1), v[1])
            else:
                ws.write_string(i, j, v or "", red if key == "severity" and v == SEVERITY[lang]["error"] else None)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(1, len(writer.calc.problems.items)), len(COLUMNS) - 1)
    writer._print_setup(ws)
