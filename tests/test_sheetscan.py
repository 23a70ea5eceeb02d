"""The streaming sheet reader (issue 6) against independent readers.

mktsheets.sheetscan reads each data sheet in one pass over its XML and keeps only the input
columns, the typed values in computed columns and the last formula row. Here that is compared,
on real files, with what python-calamine (values, the whole grid) and openpyxl read-only (error
texts, which cells hold formulas) make of the same files: generated quarters with planted cells,
copies re-saved by openpyxl and LibreOffice, and copies whose XML other writers would write
differently (cells and rows without r, namespace prefixes, r not the first attribute, inline
strings, rich text with phonetic runs), each also read in tiny chunks so that every row
boundary case is met.
"""
from __future__ import annotations

import datetime
import html
import math
import random
import re
import warnings
import zipfile
from pathlib import Path

import openpyxl
import pytest
from python_calamine import CalamineWorkbook
from random_quarter import random_quarter
from reader_kit import DATA_SHEETS, DateCell, ErrorCell, edit_part, plant

from mktsheets import api, parsing, reader, sheetscan
from mktsheets.compute import helper_keys
from mktsheets.generate import new_workbook
from mktsheets.libreoffice import recalculate
from mktsheets.schema import load_template
from mktsheets.xlsxpatch import CellWrite, patch_workbook

T = load_template()
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


# --------------------------------------------------------------------------- independent readings


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def _openpyxl_cells(path: Path, data_only: bool) -> dict[str, dict[tuple[int, int], object]]:
    """Sheet name -> (row, 0-based column) -> value, from openpyxl read-only (a formula is its text)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # "marked as a date but ... outside the limits": an error cell
        wb = openpyxl.load_workbook(path, read_only=True, data_only=data_only)
        return _cells(wb)


def _cells(wb) -> dict[str, dict[tuple[int, int], object]]:
    out = {}
    try:
        for ws in wb.worksheets:
            ws.reset_dimensions()
            cells = out[ws.title] = {}
            for row in ws.iter_rows():
                for c in row:
                    if getattr(c, "row", None) and c.value is not None:
                        cells[(c.row, c.column - 1)] = c.value
    finally:
        wb.close()
    return out


def _load(path: Path) -> openpyxl.Workbook:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # the planted date beyond 9999 is an error cell to openpyxl
        return openpyxl.load_workbook(path)


def _is_formula(v) -> bool:
    return (isinstance(v, str) and v.startswith("=")) or type(v).__name__ in ("ArrayFormula", "DataTableFormula")


def check_against_independent_readers(path: Path, loaded: reader.Loaded | None = None) -> reader.Loaded:
    """Everything the reader took from each data sheet equals what calamine and openpyxl see."""
    loaded = loaded or reader.read_workbook(path)
    weeks = loaded.layout.weeks
    book = CalamineWorkbook.from_path(str(path))
    formulas = _openpyxl_cells(path, data_only=False)
    cached = _openpyxl_cells(path, data_only=True)
    for key in DATA_SHEETS:
        sl = loaded.layout.sheet(key)
        sheet = T.sheet(key)
        grid = book.get_sheet_by_name(sl.name).to_python(skip_empty_area=False)
        errors = {rc: v for rc, v in cached[sl.name].items()
                  if isinstance(v, str) and v.startswith("#") and v in parsing.FORMULA_ERRORS}

        def value(r: int, c: int, grid=grid, errors=errors):
            v = grid[r - 1][c] if r - 1 < len(grid) and c < len(grid[r - 1]) else ""
            if (r, c) in errors and (v == "" or isinstance(v, float) and abs(v) >= 1e11):
                v = errors[(r, c)]      # calamine reads an error cell as blank, a date beyond 1e11 days as a number
            return None if v == "" else v

        with_formula = {rc for rc, v in formulas[sl.name].items() if _is_formula(v)}
        # the header and the columns, as the reader's rules find them in calamine's grid
        accepted = {reader.normalise_label(h): c.key for c in sheet.columns for h in c.accepted_headers()}
        hr = reader._header_row(grid, accepted)
        cols, absent = reader._columns(T, key, grid[hr] if grid else [], weeks)
        width = max(len(grid[hr]) if grid else 0, max(cols.values(), default=-1) + 1)
        for k in absent:
            cols[k] = width
            width += 1
        assert (sl.header_row, sl.first, sl.columns) == (hr + 1, hr + 2, cols), key
        # the input values, row by row
        frame = loaded.raw.sheets[key]
        inputs = [c.key for c in sheet.input_columns]
        assert list(frame.columns) == [k for k in inputs if k not in absent] + [k for k in inputs if k in absent]
        assert list(frame.index) == list(sl.rows), key
        for k in frame.columns:
            for r, got in zip(frame.index, frame[k].tolist()):
                want = None if k in absent else value(r, cols[k])
                assert _same(got, want), (path.name, key, k, r, got, want)
        # the last row: any input value, or any formula
        present = [cols[k] for k in inputs if k not in absent]
        last_input = max((r for r in range(sl.first, len(grid) + 1)
                          if any(not parsing.is_blank(value(r, c)) for c in present)), default=sl.first - 1)
        last = max(last_input, max((r for r, _ in with_formula), default=0), sl.first)
        if key not in ("team", "incentives"):      # those two follow each other
            assert sl.last == last, (key, sl.last, last)
        # computed and helper cells that hold a value and no formula
        computed = [c.key for c in sheet.columns if not c.is_input] + list(helper_keys(key, weeks))
        typed = sorted(((k, r, repr(value(r, cols[k]))) for k in computed if k not in absent
                        for r in range(sl.first, len(grid) + 1)
                        if (r, cols[k]) not in with_formula and not parsing.is_blank(value(r, cols[k]))))
        assert sorted((k, r, repr(v)) for k, r, v in loaded.typed_in_computed[key]) == typed, key
    assert len(loaded.grids["checks"]) == len(book.get_sheet_by_name(loaded.layout.sheet("checks").name)
                                               .to_python(skip_empty_area=False))
    settings = loaded.layout.sheet("settings").name
    want = book.get_sheet_by_name(settings).to_python(skip_empty_area=False)
    for (r, c), v in cached[settings].items():
        if isinstance(v, str) and v in parsing.FORMULA_ERRORS and want[r - 1][c] == "":
            want[r - 1][c] = v
    got = loaded.grids["settings"]
    assert len(got) == len(want) and all(len(a) == len(b) and all(map(_same, a, b)) for a, b in zip(got, want))
    return loaded


# --------------------------------------------------------------------------- files


def plant_everything(src: Path, dst: Path) -> dict[str, tuple[str, str, object]]:
    """Copy src with typed values in computed cells, formulas in input cells and odd values.

    Returns what was planted: name -> (sheet name, A1, value).
    """
    wb = reader.read_workbook(src)
    L = wb.layout
    tr, tg, ev, tm = L.sheet("tracking"), L.sheet("targets"), L.sheet("evaluation"), L.sheet("team")
    at = {
        "typed-number": (tr.name, f"{tr.letter('completion')}{tr.first + 1}", 0.5),
        "typed-text": (tg.name, f"{tg.letter('status')}{tg.first}", "手填 & <改>"),
        "typed-helper": (tg.name, f"{tg.letter('_lvl')}{tg.first + 1}", 3),
        "typed-error": (ev.name, f"{ev.letter('score')}{ev.first}", ErrorCell("#DIV/0!")),
        "typed-blank-text": (tr.name, f"{tr.letter('status')}{tr.first + 2}", " - "),
        "formula-number": (tr.name, f"{tr.letter('planned')}{tr.first}", ("1+1", 2.0)),
        "formula-text": (tm.name, f"{tm.letter('group')}{tm.first}", ('"内容"&"组"', "内容组")),
        "formula-error": (tr.name, f"{tr.letter('actual')}{tr.first + 1}", ("1/0", "#DIV/0!")),
        "bool": (tg.name, f"{tg.letter('risks')}{tg.first}", True),
        "error": (tr.name, f"{tr.letter('actual')}{tr.first + 2}", ErrorCell("#N/A")),
        "datetime": (tg.name, f"{tg.letter('start')}{tg.first + 1}", DateCell(45500.75)),
        "time": (tg.name, f"{tg.letter('end')}{tg.first + 1}", DateCell(0.25)),
        "huge-date": (tg.name, f"{tg.letter('end')}{tg.first + 2}", DateCell(1e300)),   # -1e300: calamine panics
        "text": (tm.name, f"{tm.letter('email')}{tm.first}", "王五 <w@x.cn> &amp; _x0041_\r\n第二行 "),
        "far-note": (tm.name, f"Z{tm.first + 3}", "备注"),
    }
    formulas = {s: {} for s, _, _ in at.values()}
    plain: dict[str, dict] = {}
    for sheet, a1, v in at.values():
        if isinstance(v, tuple):
            formulas[sheet][a1] = CellWrite(v[0], v[1])
        else:
            plain.setdefault(sheet, {})[a1] = v
    mid = dst.with_name(dst.stem + ".formulas.xlsx")
    patch_workbook(src, mid, {s: cells for s, cells in formulas.items() if cells})
    start = f"{tg.letter('start')}{tg.first}"
    with zipfile.ZipFile(mid) as zf:
        xml = zf.read(wb.sheet_parts["targets"])
    style = re.search(rb'<c r="' + start.encode() + rb'" s="(\d+)"', xml).group(1).decode()
    plant(mid, dst, plain, style)
    mid.unlink()
    return at


def _sheet_data_edit(edit):
    """An edit_part function applying edit(sheetData content) -> bytes to every worksheet."""
    def run(name: str, data: bytes) -> bytes:
        if not name.startswith("xl/worksheets/sheet"):
            return data
        m = re.search(rb"<sheetData>(.*)</sheetData>", data, re.DOTALL)
        if not m:
            return data
        return data[:m.start(1)] + edit(m.group(1)) + data[m.end(1):]
    return run


def _drop_refs(content: bytes) -> bytes:
    """Drop the r attribute of rows and cells wherever it is implied by the one before."""
    out, prev_row, prev_col = [], 0, -1

    def cell(m: re.Match) -> bytes:
        nonlocal prev_row, prev_col
        if m.group(1):                                  # <row r="n" ...>
            n = int(m.group(2))
            implied = n == prev_row + 1
            prev_row, prev_col = n, -1
            return b"<row" + (b"" if implied else b' r="%d"' % n) + m.group(3)
        col = sheetscan.col_index(m.group(4))
        implied = col == prev_col + 1 and int(m.group(5)) == prev_row
        prev_col = col
        return b"<c" + (b"" if implied else b' r="' + m.group(4) + m.group(5) + b'"')
    out = re.sub(rb'<(row) r="(\d+)"([^>]*>)|<c r="([A-Z]+)(\d+)"', cell, content)
    return out


def _prefix(content: bytes) -> bytes:
    return re.sub(rb"<(/?)([A-Za-z])", rb"<\1x:\2", content)


def _prefixed_sheet(name: str, data: bytes) -> bytes:
    if not name.startswith("xl/worksheets/sheet"):
        return data
    data = data.replace(b"<worksheet ", b'<worksheet xmlns:x="' + MAIN_NS.encode() + b'" ', 1)
    m = re.search(rb"<sheetData>(.*)</sheetData>", data, re.DOTALL)
    if not m:
        return data
    return data[:m.start()] + b"<x:sheetData>" + _prefix(m.group(1)) + b"</x:sheetData>" + data[m.end():]


def _style_first(content: bytes) -> bytes:
    """Every third cell with s before r (as some writers order them)."""
    count = [0]

    def swap(m: re.Match) -> bytes:
        count[0] += 1
        return m.group(0) if count[0] % 3 else b'<c s="' + m.group(2) + b'" r="' + m.group(1) + b'"'
    return re.sub(rb'<c r="([A-Z]+\d+)" s="(\d+)"', swap, content)


def _rich(text: bytes) -> bytes:
    """An <si> of shared-string text (XML-escaped) as two runs and a phonetic run, where it can be split."""
    if len(text) < 2 or b"&" in text:
        return b'<si><t xml:space="preserve">' + text + b"</t></si>"
    cut = len(text.decode()[:1].encode())
    return (b'<si><r><rPr><b/><sz val="11"/></rPr><t>' + text[:cut] + b'</t></r><r><t xml:space="preserve">'
            + text[cut:] + '</t></r><rPh sb="0" eb="1"><t>かな</t></rPh><phoneticPr fontId="1"/></si>'.encode())


def _inline_and_rich(src: Path, dst: Path) -> Path:
    """Half the text cells as shared strings (rich runs with phonetics), half as inline strings:
    whichever of the two the file has, half of its cells are turned into the other."""
    with zipfile.ZipFile(src) as zf:
        members = [(info, zf.read(info)) for info in zf.infolist()]
    names = [info.filename for info, _ in members]
    count = [0]
    if "xl/sharedStrings.xml" in names:
        sst = dict((i.filename, d) for i, d in members)["xl/sharedStrings.xml"]
        texts = [sheetscan.rich_text(b) for b in re.findall(rb"<si>(.*?)</si>", sst, re.DOTALL)]

        def cell(m: re.Match) -> bytes:
            count[0] += 1
            if count[0] % 2:
                return m.group(0)
            text = html.escape(texts[int(m.group(3))], quote=False).encode()
            return (b'<c r="' + m.group(1) + b'"' + m.group(2) + b' t="inlineStr"><is><t xml:space="preserve">' + text
                    + b"</t></is></c>")
        cells = rb'<c r="([A-Z]+\d+)"((?: s="\d+")?) t="s"><v>(\d+)</v></c>'
        strings = None
    else:
        strings: list[bytes] = []
        index: dict[bytes, int] = {}

        def cell(m: re.Match) -> bytes:
            count[0] += 1
            if count[0] % 2:
                return m.group(0)
            i = index.setdefault(m.group(3), len(index))
            if i == len(strings):
                strings.append(m.group(3))
            return b'<c r="' + m.group(1) + b'"' + m.group(2) + b' t="s"><v>' + str(i).encode() + b"</v></c>"
        cells = rb'<c r="([A-Z]+\d+)"((?: s="\d+")?) t="inlineStr"><is><t(?: xml:space="preserve")?>([^<]*)</t></is></c>'
    out = []
    for info, data in members:
        if info.filename.startswith("xl/worksheets/sheet"):
            data = re.sub(cells, cell, data)
        out.append((info, data))
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in out:
            if info.filename == "xl/sharedStrings.xml":
                data = re.sub(rb"<si><t(?: xml:space=\"preserve\")?>([^<]*)</t></si>", lambda m: _rich(m.group(1)), data)
            elif strings is not None and info.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                                    b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
            elif strings is not None and info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", b'<Relationship Id="rIdSst" Type="http://schemas.openxmlformats'
                                    b'.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
                                    b"</Relationships>")
            z.writestr(info, data)
        if strings is not None:
            z.writestr("xl/sharedStrings.xml", f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="'
                       f'{MAIN_NS}" count="{len(strings)}" uniqueCount="{len(strings)}">'.encode()
                       + b"".join(map(_rich, strings)) + b"</sst>")
    return dst


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> dict[str, Path]:
    """Random quarters (both languages) with everything planted; name -> path."""
    d = tmp_path_factory.mktemp("sheetscan")
    out = {}
    for seed in (3, 11, 26):
        src = d / f"q{seed}.xlsx"
        new_workbook(src, **random_quarter(random.Random(seed), people=12, goals=25, weeks=6))
        out[f"q{seed}"] = src
        plant_everything(src, d / f"q{seed}-planted.xlsx")
        out[f"q{seed}-planted"] = d / f"q{seed}-planted.xlsx"
    return out


@pytest.fixture(scope="module")
def variants(planted, tmp_path_factory) -> dict[str, Path]:
    """The planted quarter as other writers would leave it."""
    d = tmp_path_factory.mktemp("variants")
    src = planted["q11-planted"]
    out = {"planted": src}
    out["openpyxl"] = d / "openpyxl.xlsx"
    _load(src).save(out["openpyxl"])
    out["no-refs"] = edit_part(src, d / "no-refs.xlsx", _sheet_data_edit(_drop_refs))
    out["prefixed"] = edit_part(out["no-refs"], d / "prefixed.xlsx", _prefixed_sheet)
    out["style-first"] = edit_part(src, d / "style-first.xlsx", _sheet_data_edit(_style_first))
    out["inline-rich"] = _inline_and_rich(src, d / "inline-rich.xlsx")
    # a computed column deleted, and a note beyond the last column: where does recalc put it back?
    wb = _load(src)
    ws = wb[reader.read_workbook(src).layout.sheet("tracking").name]
    ws.delete_cols(2)                        # 日期范围 / Dates (week_dates), a computed column
    ws.cell(4, 30, "我的备注")
    out["deleted-column"] = d / "deleted-column.xlsx"
    wb.save(out["deleted-column"])
    return out


# --------------------------------------------------------------------------- the files, compared


def test_generated_and_planted_quarters_read_as_calamine_and_openpyxl_see_them(planted):
    for name, path in planted.items():
        loaded = check_against_independent_readers(path)
        if name.endswith("planted"):
            assert sum(len(v) for v in loaded.typed_in_computed.values()) == 4, loaded.typed_in_computed


@pytest.mark.parametrize("variant", ["openpyxl", "no-refs", "prefixed", "style-first", "inline-rich",
                                     "deleted-column"])
def test_other_writers_forms_read_the_same(variants, variant):
    path = variants[variant]
    with zipfile.ZipFile(path) as zf:
        xml = b"".join(zf.read(n) for n in zf.namelist() if n.startswith("xl/worksheets/sheet"))
    expect = {"no-refs": rb"<c(?! r=)[ >]", "prefixed": rb"<x:c(?! r=)[ >]", "style-first": rb'<c s="',
              "inline-rich": rb"inlineStr"}
    if variant in expect:
        assert re.search(expect[variant], xml)
    if variant == "inline-rich":
        with zipfile.ZipFile(path) as zf:
            assert b"<rPh" in zf.read("xl/sharedStrings.xml") and b' t="s"' in xml
    loaded = check_against_independent_readers(path)
    if variant == "deleted-column":
        assert "week_dates" in loaded.missing_columns["tracking"]
    if variant not in ("openpyxl", "deleted-column"):     # the same values as the file it was made from
        base = reader.read_workbook(variants["planted"])
        for key in DATA_SHEETS:
            a, b = base.raw.sheets[key], loaded.raw.sheets[key]
            assert list(a.index) == list(b.index) and all(
                _same(x, y) for k in a.columns for x, y in zip(a[k].tolist(), b[k].tolist())), (variant, key)


def test_libreoffice_copy_reads_as_calamine_and_openpyxl_see_it(planted, soffice, tmp_path):
    lo = recalculate(planted["q26-planted"], tmp_path)
    with zipfile.ZipFile(lo) as zf:
        assert b"LibreOffice" in zf.read("docProps/app.xml")
    check_against_independent_readers(lo)


def test_tiny_chunks_give_the_same_reading(variants, planted, monkeypatch):
    """Pieces of 1-2 rows: every row boundary, the header search across pieces, the handover
    between the fast patterns and the general tokenizer."""
    for path in (planted["q3-planted"], variants["no-refs"], variants["style-first"], variants["inline-rich"]):
        monkeypatch.setattr(sheetscan, "CHUNK", 1 << 20)
        whole = reader.read_workbook(path)
        monkeypatch.setattr(sheetscan, "CHUNK", 777)
        small = check_against_independent_readers(path)
        for key in DATA_SHEETS:
            assert whole.layout.sheet(key) == small.layout.sheet(key)
            assert whole.typed_in_computed[key] == small.typed_in_computed[key]


def test_mixed_sheet_switches_between_fast_and_general_reading(planted, tmp_path, monkeypatch):
    """Odd cells only in some rows: those pieces go through the general tokenizer, the rest not,
    and implicit numbering continues across the switch."""
    src = planted["q11-planted"]
    rows = iter(range(10**6))

    def some_rows(content: bytes) -> bytes:
        def row(m: re.Match) -> bytes:
            return _drop_refs(m.group(0)) if next(rows) % 7 == 3 else m.group(0)
        return re.sub(rb"<row [^>]*>.*?</row>", row, content, flags=re.DOTALL)
    path = edit_part(src, tmp_path / "mixed.xlsx", _sheet_data_edit(some_rows))
    monkeypatch.setattr(sheetscan, "CHUNK", 2000)
    loaded = check_against_independent_readers(path)
    base = reader.read_workbook(src)
    for key in DATA_SHEETS:
        assert loaded.raw.sheets[key].equals(base.raw.sheets[key]), key


# --------------------------------------------------------------------------- what the program makes of it


def test_a_computed_cell_overwritten_with_a_value_is_reported_at_its_cell(planted):
    path = planted["q3-planted"]
    wb = api.load(path)
    where = {(p.sheet, p.cell): p for p in wb.problems if p.code == "overwritten"}
    src = reader.read_workbook(planted["q3"])
    L = src.layout
    tr, tg, ev = L.sheet("tracking"), L.sheet("targets"), L.sheet("evaluation")
    expected = {(tr.name, f"{tr.letter('completion')}{tr.first + 1}"): "0.5",
                (tg.name, f"{tg.letter('status')}{tg.first}"): "手填 & <改>",
                (tg.name, f"{tg.letter('_lvl')}{tg.first + 1}"): "3",
                (ev.name, f"{ev.letter('score')}{ev.first}"): "#DIV/0!"}
    assert {k: str(p.found) for k, p in where.items()} == expected
    assert all(p.severity == "warning" for p in where.values())


def test_a_formula_typed_into_an_input_cell_gives_its_cached_value(planted):
    src = reader.read_workbook(planted["q3"])
    got = reader.read_workbook(planted["q3-planted"])
    tr, tm = src.layout.sheet("tracking"), src.layout.sheet("team")
    assert got.raw.sheets["tracking"].at[tr.first, "planned"] == 2.0
    assert got.raw.sheets["team"].at[tm.first, "group"] == "内容组"
    assert got.raw.sheets["tracking"].at[tr.first + 1, "actual"] == "#DIV/0!"
    assert got.raw.sheets["tracking"].at[tr.first + 2, "actual"] == "#N/A"
    tg = src.layout.sheet("targets")
    frame = got.raw.sheets["targets"]
    assert frame.at[tg.first + 1, "start"] == datetime.datetime(2024, 7, 27, 18, 0)
    assert frame.at[tg.first + 1, "end"] == datetime.time(6, 0)
    assert frame.at[tg.first + 2, "end"] == "#VALUE!"           # Excel shows ####: a problem of its cell
    assert frame.at[tg.first, "risks"] is True
    email = got.raw.sheets["team"].at[tm.first, "email"]
    assert email.startswith("王五 <w@x.cn> &amp; _x0041_") and email.endswith("第二行 ")


# --------------------------------------------------------------------------- single cells against calamine

CT = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.openxmlformats.org/'
      'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
      'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.'
      'xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override '
      'PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
      'worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.'
      'spreadsheetml.styles+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
      'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats.'
        'org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
WB = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="' + MAIN_NS + '" xmlns:r="http://'
      'schemas.openxmlformats.org/officeDocument/2006/relationships">{pr}<sheets><sheet name="S" sheetId="1" '
      'r:id="rId1"/></sheets></workbook>')
WB_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.'
           'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats'
           '.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" '
           'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
           '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
           'sharedStrings" Target="sharedStrings.xml"/></Relationships>')


def raw_book(path: Path, sheet_data: str, strings=(), formats=(), xfs=(0,), date1904=False, root_prefix=False) -> Path:
    """A one-sheet workbook around hand-written sheetData, shared strings (<si> contents) and styles."""
    nf = "".join(f'<numFmt numFmtId="{i}" formatCode="{html.escape(c)}"/>' for i, c in formats)
    styles = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><styleSheet xmlns="{MAIN_NS}">'
              + (f'<numFmts count="{len(formats)}">{nf}</numFmts>' if formats else "")
              + '<fonts count="1"><font/></fonts><fills count="1"><fill/></fills><borders count="1"><border/></borders>'
              + f'<cellXfs count="{len(xfs)}">' + "".join(f'<xf numFmtId="{i}" fontId="0"/>' for i in xfs)
              + "</cellXfs></styleSheet>")
    sst = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="{MAIN_NS}">'
           + "".join(f"<si>{s}</si>" for s in strings) + "</sst>")
    if root_prefix:
        sheet = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><x:worksheet xmlns:x="{MAIN_NS}">'
                 f"<x:sheetData>{sheet_data}</x:sheetData></x:worksheet>")
    else:
        sheet = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="{MAIN_NS}">'
                 f'<dimension ref="A1"/><sheetData>{sheet_data}</sheetData><mergeCells count="0"/></worksheet>')
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", CT)
        z.writestr("_rels/.rels", RELS)
        z.writestr("xl/workbook.xml", WB.format(pr='<workbookPr date1904="1"/>' if date1904 else ""))
        z.writestr("xl/_rels/workbook.xml.rels", WB_RELS)
        z.writestr("xl/styles.xml", styles)
        z.writestr("xl/sharedStrings.xml", sst)
        z.writestr("xl/worksheets/sheet1.xml", sheet)
    return path


def grids(path: Path):
    with zipfile.ZipFile(path) as zf:
        mine = sheetscan.read_grid(zf, "xl/worksheets/sheet1.xml", sheetscan.load_book(zf))
    theirs = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("S").to_python(skip_empty_area=False)
    return mine, theirs


def assert_same_grid(mine, theirs):
    assert len(mine) == len(theirs)
    for r, (a, b) in enumerate(zip(mine, theirs), start=1):
        assert len(a) == len(b), r
        for c, (x, y) in enumerate(zip(a, b)):
            assert _same(x, y), (r, sheetscan.col_letter(c), x, y)


FORMATS = ['0\\d', '0"d"', "General", "0.00", "[Red]0.00", "[h]:mm", "[mm]:ss", "[$-409]mmm", "0.00_)",
           '#,##0 "元"', 'yyyy"年"m"月"d"日"', "[DBNum1]General", "AM/PM", "a/p", "A", "@", "0;[Red]-0", "h",
           "[s]", "[>=100]0", "[ss].0", "0.0E+00", "e", "g", "\\yes", "y\\es", "_d0", "*d0", "0 d", "# ?/?", "[hh]",
           "mm-dd", "m/d", "ss", "[h", "x]h", "[$¥-804]#,##0.00", "h:mm;@", '"Y: "0.00"m"', "[>=100][Magenta][s].00",
           "yyyy/m/d h:mm", "[Blue]\\+[h]:mm;[Red]\\-[h]:mm"]
NUMBERS = ["45000", "45000.5", "0", "0.5", "-0.5", "-3", "1", "59", "60", "61", "2958465", "2958465.99",
           "2958466", "9e8", "-1e8", "-700000", "-9e8", "0.000011574", "1.5E+2", "12345.678901234"]


def test_numbers_in_every_format_as_calamine_gives_them(tmp_path):
    xfs = [0] + [164 + i for i in range(len(FORMATS))] + list(range(0, 200))
    formats = [(164 + i, f) for i, f in enumerate(FORMATS)]
    rows = "".join(f'<row r="{i + 1}">' + "".join(f'<c r="{sheetscan.col_letter(j)}{i + 1}" s="{i}"><v>{n}</v></c>'
                                                 for j, n in enumerate(NUMBERS)) + "</row>" for i in range(len(xfs)))
    rows += '<row r="300"><c r="A300"><v>45000</v></c><c r="B300" s="999"><v>45000</v></c><c r="C300" s="01"><v>1</v></c></row>'
    for date1904 in (False, True):
        path = raw_book(tmp_path / f"formats{date1904}.xlsx", rows, formats=formats, xfs=xfs, date1904=date1904)
        mine, theirs = grids(path)
        assert_same_grid(mine, theirs)
        kinds = {type(v) for row in theirs for v in row}
        assert {float, datetime.date, datetime.datetime, datetime.time, datetime.timedelta} <= kinds


def test_texts_and_cell_types_as_calamine_gives_them(tmp_path):
    strings = ["<t>plain</t>", '<t xml:space="preserve">  spaces  </t>', "<t>中文 &amp; &lt;b&gt; &#20013;&#x4E2D;</t>",
               "<t>a\r\nb&#13;c\rd</t>", "<t>_x0041_b_x000D__x005F_x0041_ _x00e9_</t>", "<t/>", "",
               "<r><t>ab</t></r><r><rPr><b/></rPr><t xml:space=\"preserve\"> cd</t></r><rPh sb=\"0\" eb=\"1\"><t>zz</t></rPh>",
               "<t>a</t><rPh><t>x</t></rPh><t>b</t>", "<t>#N/A</t>"]
    cells = "".join(f'<c r="{sheetscan.col_letter(i)}1" t="s"><v>{i}</v></c>' for i in range(len(strings)))
    rows = (f'<row r="1">{cells}</row>'
            '<row r="2"><c r="A2" t="str"><f>1</f><v>a&amp;b_x0041_&#10;</v></c><c r="B2" t="inlineStr"><is><t>内联'
            '_x0042_&amp;</t></is></c><c r="C2" t="inlineStr"><is><r><t>x</t></r><r><t>y</t></r></is></c>'
            '<c r="D2" t="b"><v>1</v></c><c r="E2" t="b"><v>0</v></c><c r="F2" t="b"><v>true</v></c>'
            '<c r="G2" t="d"><v>2024-07-01</v></c><c r="H2" t="d"><v>2024-07-01T10:30:00</v></c>'
            '<c r="I2" t="d"><v>10:30:00</v></c><c r="J2" t="d"><v>garbage</v></c><c r="K2" t="n"><v>7</v></c>'
            '<c r="L2"><v>abc</v></c><c r="M2"><v>nan</v></c><c r="N2"><v>1e400</v></c><c r="O2"><v>.5</v></c>'
            '<c r="P2"><v> 1</v></c><c r="Q2"><v>1_000</v></c><c r="R2"><v>+3</v></c><c r="S2"><f>1</f></c>'
            '<c r="T2" t="str"><v></v></c><c r="U2" t="s"><v></v></c><c r="V2" t="inlineStr"><v>x</v></c></row>'
            # no r attributes, an empty row, r not first, a row out of order
            '<row><c><v>1</v></c><c t="b"><v>1</v></c><c r="E3"><v>2</v></c><c><v>3</v></c></row><row/>'
            '<row><c s="0" r="B5"><v>5</v></c><c><v>6</v></c></row><row r="8"><c r="C8"><v>8</v></c></row>'
            '<row r="7"><c r="A7" t="s"><v>0</v></c></row>')
    mine, theirs = grids(raw_book(tmp_path / "texts.xlsx", rows, strings=strings))
    assert_same_grid(mine, theirs)
    assert theirs[0][7] == "ab cd" and theirs[1][0] == "a&bA\n"
    # the same cells, every element with a namespace prefix
    mine, theirs = grids(raw_book(tmp_path / "prefixed.xlsx", _prefix(rows.encode()).decode(), strings=strings,
                                  root_prefix=True))
    assert_same_grid(mine, theirs)


def test_where_the_reader_departs_from_calamine(tmp_path):
    """Error cells keep their text (calamine: blank), and what calamine refuses reads as well as it can."""
    rows = ('<row r="1"><c r="A1" t="e"><v>#N/A</v></c><c r="B1" t="e"><f>1/0</f><v>#DIV/0!</v></c>'
            '<c r="C1" t="e"><v></v></c><c r="D1" t="e"><v>#SPILL!</v></c><c r="E1" t="s"><v>99</v></c>'
            '<c r="F1" t="zz"><v>7</v></c><c r="G1" s="1"><v>-1e11</v></c><c r="H1" s="1"><v>1e300</v></c>'
            '<c r="I1" s="1"><v>3000000</v></c><c r="J1" s="2"><v>-1e300</v></c><c r="K1" t="n"><v>x</v></c>'
            '<c r="L1" s="2"><v>1e9</v></c></row>')
    path = raw_book(tmp_path / "odd.xlsx", rows, strings=["<t>s</t>"], xfs=(0, 14, 46))
    with zipfile.ZipFile(path) as zf:
        grid = sheetscan.read_grid(zf, "xl/worksheets/sheet1.xml", sheetscan.load_book(zf))
    assert grid == [["#N/A", "#DIV/0!", "#VALUE!", "#SPILL!", "", "7", "#VALUE!", "#VALUE!", 3000000.0, "#VALUE!", "x",
                     1e9]]      # a duration beyond Python's timedelta: calamine raises OverflowError
    with pytest.raises(Exception):         # noqa: B017 - calamine refuses the sheet (CalamineError)
        CalamineWorkbook.from_path(str(path)).get_sheet_by_name("S").to_python()


def test_scan_of_a_raw_sheet_keeps_inputs_typed_values_and_the_formula_extent(tmp_path, monkeypatch):
    """The scan on its own: inputs B and D from row 3, computed C; a header band; odd pieces."""
    rows = ['<row r="1"><c r="A1" t="s"><v>0</v></c></row>',
            '<row r="2"><c r="B2" t="s"><v>1</v></c><c r="C2" t="s"><v>2</v></c><c r="D2" t="s"><v>3</v></c></row>']
    for r in range(3, 400):
        c = f'<c r="C{r}"><f>B{r}*2</f><v>{2 * r}</v></c>' if r % 50 else f'<c r="C{r}" s="1"><v>{r}</v></c>'
        d = f'<c r="D{r}" t="s"><v>{r % 3 + 1}</v></c>' if r % 5 else f'<c r="D{r}" s="1"/>'
        rows.append(f'<row r="{r}"><c r="A{r}" s="1"/><c r="B{r}"><v>{r}.5</v></c>{c}{d}</row>')
    rows.append('<row r="450"><c r="C450"><f>1</f><v>1</v></c></row><row r="460"><c r="E460" s="1"/></row>')
    path = raw_book(tmp_path / "scan.xlsx", "".join(rows), strings=["<t>title</t>", "<t>B</t>", "<t>C</t>", "<t>D</t>"],
                    xfs=(0, 0))
    for chunk in (1 << 20, 300):
        monkeypatch.setattr(sheetscan, "CHUNK", chunk)
        with zipfile.ZipFile(path) as zf:
            rd = sheetscan.SheetReader(zf, "xl/worksheets/sheet1.xml", sheetscan.load_book(zf))
            head = rd.head(15)
            assert head[0] == ["title"] and head[1] == [None, "B", "C", "D"] and len(head) == 15
            scan = rd.scan(3, {1: "b", 3: "d"}, {2: "c"}, width=True)
        assert scan.values["b"] == [float(r) + 0.5 for r in range(3, 400)]
        assert scan.values["d"] == [("B", "C", "D")[r % 3] if r % 5 else None for r in range(3, 400)]
        assert scan.typed == [("c", r, float(r)) for r in range(50, 400, 50)]
        assert scan.last_formula == 450 and scan.width == 4
        assert scan.last_value_row(parsing.is_blank) == 399


def test_excel_date_conversion_matches_calamine_on_many_numbers(tmp_path):
    rng = random.Random(1)
    numbers = [rng.uniform(-1e6, 3e6) for _ in range(300)] + [float(rng.randint(-1000, 3_000_000)) for _ in range(300)]
    numbers += [rng.uniform(-2, 2) for _ in range(200)] + [n + 0.5 / 86_400_000 for n in range(0, 100)]
    rows = "".join(f'<row r="{i + 1}"><c r="A{i + 1}" s="1"><v>{n!r}</v></c><c r="B{i + 1}" s="2"><v>{n!r}</v></c>'
                   f'<c r="C{i + 1}" s="3"><v>{n!r}</v></c></row>' for i, n in enumerate(numbers))
    for date1904 in (False, True):
        path = raw_book(tmp_path / f"dates{date1904}.xlsx", rows, xfs=(0, 14, 46, 22), date1904=date1904)
        mine, theirs = grids(path)
        assert_same_grid(mine, theirs)


def test_letters_from_matches_exactly_the_columns_at_or_after_a_column():
    rx = {n: re.compile(sheetscan._letters_from(n)) for n in (0, 1, 3, 25, 26, 27, 51, 73, 701, 702, 703, 16383)}
    for m in list(range(0, 800)) + list(range(16300, 16384)):
        letters = sheetscan.col_letter(m).encode()
        for n, r in rx.items():
            assert bool(r.fullmatch(letters)) == (m >= n), (letters, n)
