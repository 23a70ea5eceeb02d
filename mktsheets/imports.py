"""Read a roster or goal list (CSV in UTF-8/GBK, or xlsx) for `mktsheets new --team/--goals`."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from . import parsing
from .schema import load_template, normalise_label

ENCODINGS = ("utf-8-sig", "gb18030")   # gb18030 is a superset of GBK, as Excel-in-China saves CSV


class ImportProblem(ValueError):
    """A roster or goal file that cannot be used (one clear line)."""


def _csv_rows(path: Path) -> list[list[str]]:
    data = path.read_bytes()
    for enc in ENCODINGS:
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ImportProblem(f"{path.name}: 无法识别编码（请另存为 UTF-8 CSV）/ cannot decode (save it as UTF-8 CSV)")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return [row for row in csv.reader(io.StringIO(text), dialect)]


def _xlsx_rows(path: Path) -> list[list]:
    from python_calamine import CalamineWorkbook

    from .safety import inspect_workbook_file

    inspect_workbook_file(path)
    book = CalamineWorkbook.from_path(str(path))
    return book.get_sheet_by_index(0).to_python(skip_empty_area=False)


def read_rows(path: str | Path, sheet_key: str) -> list[dict]:
    """Rows keyed by column key; numbers and dates typed, everything else kept as text."""
    path = Path(path)
    if not path.is_file():
        raise ImportProblem(f"找不到文件 / file not found: {path}")
    suffix = path.suffix.lower()
    if suffix in {".xlsx", ".xlsm"}:
        rows = _xlsx_rows(path)
    elif suffix in {".csv", ".txt"}:
        rows = _csv_rows(path)
    else:
        raise ImportProblem(f"{path.name}: 只支持 .csv 或 .xlsx / only .csv or .xlsx are supported")
    sheet = load_template().sheet(sheet_key)
    accepted = {normalise_label(h): c for c in sheet.input_columns for h in c.accepted_headers()}
    header_index = next((i for i, r in enumerate(rows[:10])
                         if sum(1 for v in r if isinstance(v, str) and normalise_label(v) in accepted) >= 2), None)
    if header_index is None:
        names = "、".join(c.zh for c in sheet.input_columns[:6])
        raise ImportProblem(f"{path.name}: 找不到表头（应有 {names} 等列）/ no header row found "
                            f"(expected columns such as {', '.join(c.en for c in sheet.input_columns[:6])})")
    header = rows[header_index]
    columns = {i: accepted[normalise_label(v)] for i, v in enumerate(header)
               if isinstance(v, str) and normalise_label(v) in accepted}
    out = []
    for r in rows[header_index + 1:]:
        if all(parsing.is_blank(v) for v in r):
            continue
        rec = {}
        for i, col in columns.items():
            v = r[i] if i < len(r) else None
            rec[col.key] = _typed(v, col.type)
        out.append(rec)
    return out


def _typed(value, col_type: str):
    """Numbers and dates become numbers and dates when they parse; anything else stays as typed text."""
    if parsing.is_blank(value):
        return None
    try:
        if col_type in {"number", "money", "score", "int"}:
            return parsing.parse_number(value)
        if col_type in {"percent", "share"}:
            return parsing.parse_percent(value)[0]
        if col_type == "date":
            return parsing.parse_date(value)
    except parsing.ParseError:
        pass
    return value if not isinstance(value, str) else value.strip()
