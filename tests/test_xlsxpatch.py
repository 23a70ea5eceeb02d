"""The byte-preserving cell patcher, checked against real files and independent readers."""

from __future__ import annotations

import os
import random
import re
import signal
import struct
import subprocess
import sys
import textwrap
import time
import warnings
import zipfile
import zlib
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mktsheets import xlsxpatch
from mktsheets.xlsxpatch import CellWrite, PatchError, patch_workbook, sheet_parts, shift_formula

SHEET = "xl/worksheets/sheet1.xml"

X14_DATA_VALIDATION = (
    '<ext xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main" '
    'uri="{CCE6A557-97BC-4b89-ADB6-D9C93CAAB3DF}"><x14:dataValidations '
    'xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main" count="1">'
    '<x14:dataValidation type="list" allowBlank="1"><x14:formula1><xm:f>Lists!$A$1:$A$2</xm:f>'
    "</x14:formula1><xm:sqref>E2:E6</xm:sqref></x14:dataValidation></x14:dataValidations></ext>"
)
CELL_IMAGES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<etc:cellImages xmlns:etc="http://www.wps.cn/officeDocument/2017/etCustomData"/>'
)


# --------------------------------------------------------------------------- file builders


def tiny_png() -> bytes:
    """A valid 2x2 red PNG made with zlib and struct only."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def rewrite_members(src: Path, dst: Path, changes: dict[str, bytes | None], extra: dict[str, bytes] | None = None) -> Path:
    """Copy a zip, replacing (or with None dropping) members and appending extra ones."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = changes.get(info.filename, zin.read(info))
            if data is not None:
                zout.writestr(info, data)
        for name, data in (extra or {}).items():
            zout.writestr(zipfile.ZipInfo(name, (2024, 7, 1, 12, 0, 0)), data, zipfile.ZIP_DEFLATED)
    return dst


def rich_workbook(tmp_path: Path) -> Path:
    """An XlsxWriter workbook with everything openpyxl would lose, plus x14 validations and cellimages.xml."""
    raw = tmp_path / "rich-raw.xlsx"
    png = tmp_path / "red.png"
    png.write_bytes(tiny_png())
    with xlsxwriter.Workbook(str(raw)) as wb:
        ws = wb.add_worksheet("Data")
        lists = wb.add_worksheet("Lists")
        pct = wb.add_format({"num_format": "0.00%", "bg_color": "#DDEEFF"})
        money = wb.add_format({"num_format": "#,##0.00"})
        lists.write_column("A1", ["East", "West"])
        ws.write_row(0, 0, ["Region", "Amount", "Double", "Spark", "Pick", "Rate"])
        for r in range(1, 20):
            if r == 11:
                continue  # a missing row in the middle
            ws.write_row(r, 0, ["East" if r % 2 else "West", r * 10])
            ws.write_formula(r, 2, f"=B{r + 1}*2", money, r * 20)
            ws.write_formula(r, 5, f"=B{r + 1}/100", pct, r / 10)
        ws.set_column("A:A", 18)
        ws.freeze_panes(1, 0)
        ws.merge_range("H1:I1", "merged", None)
        ws.write_comment("A1", "a comment")
        ws.data_validation("A2:A20", {"validate": "list", "source": "=Lists!$A$1:$A$2"})
        ws.conditional_format("B2:B20", {"type": "data_bar", "data_bar_2010": True})
        ws.add_sparkline("D2", {"range": "Data!B2:B6"})
        chart = wb.add_chart({"type": "column"})
        chart.add_series({"values": "=Data!$B$2:$B$6"})
        ws.insert_chart("K2", chart)
        ws.insert_image("K20", str(png))
        wb.define_name("Amounts", "=Data!$B$2:$B$20")
    with zipfile.ZipFile(raw) as z:
        sheet = z.read(SHEET).decode("utf-8")
        types = z.read("[Content_Types].xml").decode("utf-8")
    sheet = sheet.replace("</extLst></worksheet>", X14_DATA_VALIDATION + "</extLst></worksheet>")
    types = types.replace(
        "</Types>", '<Override PartName="/xl/cellimages.xml" ContentType="application/vnd.wps-officedocument.cellimage+xml"/></Types>'
    )
    changes = {SHEET: sheet.encode("utf-8"), "[Content_Types].xml": types.encode("utf-8")}
    return rewrite_members(raw, tmp_path / "rich.xlsx", changes, {"xl/cellimages.xml": CELL_IMAGES})


def openpyxl_workbook(tmp_path: Path) -> Path:
    """A workbook saved by openpyxl: shared strings, its own XML style."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Team"
    ws.append(["姓名", "目标", "实际", "完成率"])
    for i in range(1, 9):
        ws.append([f"员工{i}", 100 * i, 90 * i + i, f"=C{i + 1}/B{i + 1}"])
        ws.cell(i + 1, 4).number_format = "0.0%"
    wb.create_sheet("Other")["A1"] = "keep me"
    path = tmp_path / "openpyxl.xlsx"
    wb.save(path)
    return path


def sheet_xml_workbook(tmp_path: Path, sheet_data: str, *, root: str = "worksheet", prefix: str = "", dimension: str = "A1") -> Path:
    """An XlsxWriter workbook whose first sheet is replaced by the given <sheetData> markup."""
    raw = tmp_path / "base.xlsx"
    with xlsxwriter.Workbook(str(raw)) as wb:
        wb.add_worksheet("Data").write("A1", 1)
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    p = f"{prefix}:" if prefix else ""
    xmlns = f'xmlns:{prefix}="{ns}"' if prefix else f'xmlns="{ns}"'
    xml = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<{p}{root} {xmlns} xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f'<{p}dimension ref="{dimension}"/><{p}sheetViews><{p}sheetView workbookViewId="0"/></{p}sheetViews>'
        f"{sheet_data}<{p}pageMargins left=\"0.7\" right=\"0.7\" top=\"0.75\" bottom=\"0.75\" header=\"0.3\" footer=\"0.3\"/>"
        f"</{p}{root}>"
    )
    return rewrite_members(raw, tmp_path / "crafted.xlsx", {SHEET: xml.encode("utf-8")})


def shared_formula_workbook(tmp_path: Path) -> Path:
    """A sheet with shared formulas as Excel writes them when a formula is filled down or across."""
    raw = tmp_path / "shared-raw.xlsx"
    with xlsxwriter.Workbook(str(raw)) as wb:
        ws = wb.add_worksheet("Data")
        wb.add_worksheet("My Sheet").write("A1", 100)
        ws.write_row(0, 0, ["n", "calc", "text", "wide1", "wide2"])
        for r in range(2, 12):
            ws.write(f"A{r}", r - 1)
            ws.write_formula(f"B{r}", f"=A{r}*2+$A$2+'My Sheet'!$A$1", None, (r - 1) * 2 + 101)
            ws.write_formula(f"C{r}", f'=IF(A{r}>5,"A{r}:big","small")', None, "big" if r - 1 > 5 else "small")
            ws.write_formula(f"D{r}", f"=SUM($A$2:A{r})", None, sum(range(1, r)))
            ws.write_formula(f"E{r}", f"=SUM($A$2:B{r})", None, 0)
    with zipfile.ZipFile(raw) as z:
        xml = z.read(SHEET).decode("utf-8")

    def share(m: re.Match) -> str:
        col, row = m.group(1), int(m.group(2))
        si, master, ref = {"B": (0, "B2", "B2:B11"), "C": (1, "C2", "C2:C11"), "D": (2, "D2", "E11"), "E": (2, "D2", "E11")}[col]
        ref = "D2:E11" if col in "DE" else ref
        if f"{col}{row}" == master:
            return f'<c r="{col}{row}"{m.group(3)}><f t="shared" ref="{ref}" si="{si}">{m.group(4)}</f>'
        return f'<c r="{col}{row}"{m.group(3)}><f t="shared" si="{si}"/>'

    xml = re.sub(r'<c r="([B-E])(\d+)"([^>]*)><f>([^<]*)</f>', share, xml)
    return rewrite_members(raw, tmp_path / "shared.xlsx", {SHEET: xml.encode("utf-8")})


# --------------------------------------------------------------------------- readers


def load(path: Path, *, data_only: bool) -> openpyxl.Workbook:
    """openpyxl, quiet about the extensions it does not support (it warns and drops them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return openpyxl.load_workbook(path, data_only=data_only)


def values(path: Path, sheet: str, *, data_only: bool = True) -> dict[str, object]:
    """Every non-empty cell of a sheet as seen by openpyxl."""
    wb = load(path, data_only=data_only)
    try:
        return {c.coordinate: c.value for row in wb[sheet].iter_rows() for c in row if c.value is not None}
    finally:
        wb.close()


def frame(path: Path, sheet: str, engine: str) -> pd.DataFrame:
    """pd.read_excel without a header row."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pd.read_excel(path, sheet_name=sheet, engine=engine, header=None)


def members(path: Path) -> dict[str, bytes]:
    """Uncompressed bytes of every member."""
    with zipfile.ZipFile(path) as z:
        return {info.filename: z.read(info) for info in z.infolist()}


def raw_members(path: Path) -> dict[str, tuple[bytes, tuple, int]]:
    """Per member: the compressed bytes as stored, the date and the compression method."""
    found = {}
    with zipfile.ZipFile(path) as z, open(path, "rb") as f:
        for info in z.infolist():
            f.seek(info.header_offset)
            header = f.read(30)
            name_len, extra_len = struct.unpack("<HH", header[26:30])
            f.seek(info.header_offset + 30 + name_len + extra_len)
            found[info.filename] = (f.read(info.compress_size), info.date_time, info.compress_type)
    return found


def sheet_xml(path: Path, part: str = SHEET) -> str:
    """A member's text."""
    with zipfile.ZipFile(path) as z:
        return z.read(part).decode("utf-8")


def patch(tmp_path: Path, src: Path, edits: dict, name: str = "out.xlsx", **kwargs) -> Path:
    """patch_workbook into tmp_path/name."""
    dst = tmp_path / name
    patch_workbook(src, dst, edits, **kwargs)
    return dst


# --------------------------------------------------------------------------- the rich workbook


def rich_edits() -> dict[str, dict[str, CellWrite]]:
    """Formulas and values into existing cells, missing cells, a missing row and rows past the end."""
    data = {f"C{r}": CellWrite(f"B{r}*3", (r - 1) * 30) for r in range(2, 21) if r != 12}
    data.update({f"G{r}": CellWrite(f'IF(B{r}>50,"high","low")', "high" if (r - 1) * 10 > 50 else "low") for r in range(2, 21) if r != 12})
    data["C12"] = CellWrite("1/0", "#DIV/0!")
    data["G12"] = CellWrite(None, "手填 <&> \"text\" ")
    data["B25"] = CellWrite(None, 2.5)
    data["C25"] = CellWrite("B25*3", 7.5)
    data["D25"] = CellWrite("B25>1", True)
    data["E25"] = CellWrite('""', "")
    data["F25"] = CellWrite(None, 0.1 + 0.2)
    data["H30"] = CellWrite(None, 12345678901234)
    data["A3"] = CellWrite(None, None)  # delete an input cell
    return {"Data": data}


def test_sheet_parts_resolves_relationships(tmp_path):
    assert sheet_parts(rich_workbook(tmp_path)) == {"Data": "xl/worksheets/sheet1.xml", "Lists": "xl/worksheets/sheet2.xml"}


def test_sheet_parts_absolute_targets(tmp_path):
    src = openpyxl_workbook(tmp_path)
    assert 'Target="/xl/worksheets/sheet1.xml"' in members(src)["xl/_rels/workbook.xml.rels"].decode()  # openpyxl's form
    assert sheet_parts(src) == {"Team": "xl/worksheets/sheet1.xml", "Other": "xl/worksheets/sheet2.xml"}


def test_sheet_parts_renamed_parts(tmp_path):
    src = openpyxl_workbook(tmp_path)
    parts = members(src)
    rels = parts["xl/_rels/workbook.xml.rels"].decode().replace("/xl/worksheets/sheet1.xml", "sheets/../data/Team.XML")
    changes = {SHEET: None, "xl/_rels/workbook.xml.rels": rels.encode()}
    renamed = rewrite_members(src, tmp_path / "renamed.xlsx", changes, {"xl/data/Team.xml": parts[SHEET]})
    assert sheet_parts(renamed)["Team"] == "xl/data/Team.xml"
    out = patch(tmp_path, renamed, {"Team": {"B2": CellWrite(None, 1)}})
    assert b'<c r="B2"><v>1</v></c>' in members(out)["xl/data/Team.xml"]  # found case-insensitively


def test_values_and_formulas_read_back_everywhere(tmp_path):
    src = rich_workbook(tmp_path)
    out = patch(tmp_path, src, rich_edits())

    cached = values(out, "Data")
    formulas = values(out, "Data", data_only=False)
    for r in range(2, 21):
        if r == 12:
            continue
        assert formulas[f"C{r}"] == f"=B{r}*3"
        assert cached[f"C{r}"] == (r - 1) * 30
        assert formulas[f"G{r}"] == f'=IF(B{r}>50,"high","low")'
        assert cached[f"G{r}"] == ("high" if (r - 1) * 10 > 50 else "low")
        assert cached[f"F{r}"] == pytest.approx((r - 1) / 10)  # untouched formula cells keep their cache
    assert cached["C12"] == "#DIV/0!"
    assert cached["G12"] == '手填 <&> "text" '
    assert cached["B25"] == 2.5 and cached["C25"] == 7.5 and cached["D25"] is True
    assert cached["F25"] == 0.1 + 0.2
    assert cached["H30"] == 12345678901234
    assert "A3" not in cached and cached["A2"] == "East"
    assert formulas["E25"] == '=""'

    calamine = frame(out, "Data", "calamine")
    via_openpyxl = frame(out, "Data", "openpyxl")
    for df in (calamine, via_openpyxl):
        assert df.iloc[4, 2] == 120 and df.iloc[4, 6] == "low" and df.iloc[19, 6] == "high"
        assert df.iloc[24, 1] == 2.5 and df.iloc[24, 2] == 7.5 and df.iloc[29, 7] == 12345678901234
        assert df.iloc[24, 5] == 0.1 + 0.2
        assert pd.isna(df.iloc[2, 0])


def test_cell_xml_forms(tmp_path):
    out = patch(tmp_path, rich_workbook(tmp_path), rich_edits())
    xml = sheet_xml(out)
    assert '<c r="C12" s="1" t="e"><f>1/0</f><v>#DIV/0!</v></c>' in xml
    assert '<c r="G12" t="inlineStr"><is><t xml:space="preserve">手填 &lt;&amp;&gt; "text" </t></is></c>' in xml
    assert '<c r="D25" t="b"><f>B25&gt;1</f><v>1</v></c>' in xml
    assert '<c r="E25" t="str"><f>""</f><v></v></c>' in xml
    assert '<c r="F25" s="2"><v>0.30000000000000004</v></c>' in xml  # new cells: the style above
    assert '<c r="C25" s="1"><f>B25*3</f><v>7.5</v></c>' in xml
    assert '<c r="C2" s="1"><f>B2*3</f><v>30</v></c>' in xml  # existing s kept, integral float without .0
    assert re.search(r'<row r="12"[^>]*><c r="C12"', xml)  # the missing row was inserted in order
    assert xml.index('<row r="11"') < xml.index('<row r="12"') < xml.index('<row r="13"')
    assert xml.index('<row r="25"') < xml.index('<row r="30"') < xml.index("</sheetData>")


def test_untouched_members_are_identical(tmp_path):
    src = rich_workbook(tmp_path)
    out = patch(tmp_path, src, rich_edits())
    before, after = members(src), members(out)
    raw_before, raw_after = raw_members(src), raw_members(out)
    assert list(before) == list(after)  # same members, same order
    for name in before:
        if name == SHEET:
            continue
        assert after[name] == before[name], name
        assert raw_after[name] == raw_before[name], name  # same compressed bytes, date and method
    for part in ("xl/comments1.xml", "xl/media/image1.png", "xl/charts/chart1.xml", "xl/cellimages.xml", "xl/drawings/vmlDrawing1.vml"):
        assert part in after
    with zipfile.ZipFile(out) as z:
        assert z.testzip() is None
        assert z.getinfo(SHEET).date_time == (1980, 1, 1, 0, 0, 0)


def test_no_edits_reproduce_the_file(tmp_path):
    for src in (rich_workbook(tmp_path), openpyxl_workbook(tmp_path), with_calc_chain(tmp_path)):
        assert patch(tmp_path, src, {}).read_bytes() == src.read_bytes()
        assert patch(tmp_path, src, {"Data" if "rich" in src.name else "Team": {}}).read_bytes() == src.read_bytes()


def test_sheet_outside_sheetdata_is_kept_verbatim(tmp_path):
    src = rich_workbook(tmp_path)
    out = patch(tmp_path, src, rich_edits())
    old, new = sheet_xml(src), sheet_xml(out)
    assert new[new.index("</sheetData>"):] == old[old.index("</sheetData>"):]
    strip_dimension = lambda text: re.sub(r'<dimension ref="[^"]*"/>', "", text[: text.index("<sheetData>")])
    assert strip_dimension(new) == strip_dimension(old)
    assert '<dimension ref="A1:H30"/>' in new
    kept = ["x14:dataValidations", "x14:sparklineGroups", "x14:conditionalFormattings", "<mergeCells", "<drawing r:id"]
    assert all(part in new for part in kept + ["<legacyDrawing"])
    # Untouched rows keep every byte, attributes included.
    row1 = re.search(r"<row r=\"1\".*?</row>", old).group()
    assert row1 in new


def test_idempotent(tmp_path):
    src = rich_workbook(tmp_path)
    once = patch(tmp_path, src, rich_edits(), "once.xlsx")
    twice = patch(tmp_path, once, rich_edits(), "twice.xlsx")
    again = patch(tmp_path, src, rich_edits(), "again.xlsx")
    assert once.read_bytes() == twice.read_bytes() == again.read_bytes()


def test_openpyxl_file(tmp_path):
    src = openpyxl_workbook(tmp_path)
    edits = {f"D{r}": CellWrite(f"C{r}/B{r}", (90 * (r - 1) + r - 1) / (100 * (r - 1))) for r in range(2, 10)}
    edits["E2"] = CellWrite(None, "note")
    edits["D10"] = CellWrite("SUM(D2:D9)", 7.5)
    out = patch(tmp_path, src, {"Team": edits})
    cached, formulas = values(out, "Team"), values(out, "Team", data_only=False)
    assert cached["D3"] == pytest.approx(0.91) and formulas["D3"] == "=C3/B3"
    assert cached["E2"] == "note" and cached["D10"] == 7.5 and cached["A2"] == "员工1"
    wb = load(out, data_only=True)
    assert wb["Team"]["D10"].number_format == "0.0%"  # a new cell takes the style of the cell above
    assert wb["Other"]["A1"].value == "keep me"
    before, after = members(src), members(out)
    assert all(after[n] == before[n] for n in before if n != SHEET)
    assert frame(out, "Team", "calamine").iloc[9, 3] == 7.5


def test_styles(tmp_path):
    src = openpyxl_workbook(tmp_path)
    out = patch(tmp_path, src, {"Team": {"D3": CellWrite("1", 1, style=0), "D12": CellWrite(None, 5), "F2": CellWrite(None, 1)}})
    xml = sheet_xml(out)
    style_above = re.search(r'<c r="D9" s="(\d+)"', xml).group(1)
    assert '<c r="D3" s="0"><f>1</f><v>1</v></c>' in xml
    assert f'<c r="D12" s="{style_above}"><v>5</v></c>' in xml
    assert '<c r="F2"><v>1</v></c>' in xml  # nothing above: no s


# --------------------------------------------------------------------------- unusual markup


def test_rows_and_cells_without_r(tmp_path):
    data = (
        "<sheetData>"
        "<row><c t=\"inlineStr\"><is><t>a</t></is></c><c><v>1</v></c><c><v>2</v></c></row>"
        "<row><c><v>3</v></c><c><v>4</v></c><c><v>5</v></c></row>"
        "<row ht=\"20\" customHeight=\"1\"/>"
        "<row><c><v>6</v></c><c><v>7</v></c></row>"
        "</sheetData>"
    )
    src = sheet_xml_workbook(tmp_path, data)
    edits = {
        "B2": CellWrite("A2*10", 30),  # an implicit cell replaced
        "A2": CellWrite(None, None),  # deleting a cell must not shift the ones after it
        "E2": CellWrite(None, "new"),  # after the last cell
        "B3": CellWrite(None, 8),  # into the empty self-closing row
        "C4": CellWrite(None, 9),
        "A6": CellWrite(None, 10),  # a new row after the implicit ones
    }
    out = patch(tmp_path, src, {"Data": edits})
    got = values(out, "Data")
    assert got == {"A1": "a", "B1": 1, "C1": 2, "B2": 30, "C2": 5, "E2": "new", "B3": 8, "A4": 6, "B4": 7, "C4": 9, "A6": 10}
    xml = sheet_xml(out)
    assert '<row ht="20" customHeight="1"><c r="B3"><v>8</v></c></row>' in xml
    assert '<dimension ref="A1:E6"/>' in xml
    assert frame(out, "Data", "calamine").iloc[1, 2] == 5


def test_prefixed_namespace(tmp_path):
    data = (
        '<x:sheetData><x:row r="1" spans="1:2"><x:c r="A1" s="0"><x:v>1</x:v></x:c><x:c r="B1"><x:f>A1*2</x:f><x:v>2</x:v></x:c></x:row>'
        '<x:row r="3"><x:c r="A3"><x:v>3</x:v></x:c></x:row></x:sheetData>'
    )
    src = sheet_xml_workbook(tmp_path, data, prefix="x")
    edits = {"B1": CellWrite("A1*3", 3), "D1": CellWrite(None, "t"), "B2": CellWrite("A1", 1), "B3": CellWrite(None, 4)}
    out = patch(tmp_path, src, {"Data": edits})
    xml = sheet_xml(out)
    assert '<x:c r="B1"><x:f>A1*3</x:f><x:v>3</x:v></x:c><x:c r="D1" t="inlineStr"><x:is><x:t>t</x:t></x:is></x:c>' in xml
    assert '<x:row r="2"><x:c r="B2"><x:f>A1</x:f><x:v>1</x:v></x:c></x:row>' in xml
    assert 'spans="1:4"' in xml
    assert values(out, "Data") == {"A1": 1, "B1": 3, "D1": "t", "B2": 1, "A3": 3, "B3": 4}


def test_self_closing_sheetdata_and_cells(tmp_path):
    src = sheet_xml_workbook(tmp_path, "<sheetData/>")
    out = patch(tmp_path, src, {"Data": {"B2": CellWrite(None, 1), "A1": CellWrite(None, None)}})
    assert "<sheetData><row r=\"2\"><c r=\"B2\"><v>1</v></c></row></sheetData>" in sheet_xml(out)
    assert '<dimension ref="B2"/>' in sheet_xml(out)
    src2 = sheet_xml_workbook(tmp_path, '<sheetData><row r="1"><c r="A1" s="3"/><c r="B1"/></row></sheetData>')
    out2 = patch(tmp_path, src2, {"Data": {"A1": CellWrite(None, 5)}}, "out2.xlsx")
    assert '<row r="1"><c r="A1" s="3"><v>5</v></c><c r="B1"/></row>' in sheet_xml(out2)


def test_unusual_attribute_forms(tmp_path):
    data = "<sheetData><row r='1'><c s='2' r='A1'><v>1</v></c><c  r=\"C1\"\n t=\"b\"><v>0</v></c></row></sheetData>"
    src = sheet_xml_workbook(tmp_path, data)
    out = patch(tmp_path, src, {"Data": {"A1": CellWrite(None, 7), "B1": CellWrite(None, 8), "C1": CellWrite(None, True)}})
    xml = sheet_xml(out)
    assert '<c r="A1" s="2"><v>7</v></c><c r="B1" s="2"><v>8</v></c><c r="C1" t="b"><v>1</v></c>' in xml or (
        '<c r="A1" s="2"><v>7</v></c><c r="B1"><v>8</v></c><c r="C1" t="b"><v>1</v></c>' in xml
    )


def test_wrong_dimension_is_fixed(tmp_path):
    rows = "".join(f'<row r="{r}"><c r="A{r}"><v>{r}</v></c><c r="Z{r}"><v>{r}</v></c></row>' for r in range(1, 51))
    src = sheet_xml_workbook(tmp_path, f"<sheetData>{rows}</sheetData>", dimension="A1")
    out = patch(tmp_path, src, {"Data": {"B2": CellWrite(None, 1)}})
    assert '<dimension ref="A1:Z50"/>' in sheet_xml(out)
    wb = openpyxl.load_workbook(out, read_only=True)
    try:
        assert wb["Data"].max_row == 50 and wb["Data"].max_column == 26
    finally:
        wb.close()


def test_rich_text_and_shared_strings_untouched(tmp_path):
    data = (
        '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><r><rPr><b/><color rgb="FFFF0000"/></rPr><t>red</t></r>'
        '<r><t xml:space="preserve"> plain</t></r></is></c><c r="B1" t="s"><v>0</v></c><c r="C1" t="e"><v>#N/A</v></c></row></sheetData>'
    )
    src = sheet_xml_workbook(tmp_path, data)
    out = patch(tmp_path, src, {"Data": {"D1": CellWrite(None, 1), "C1": CellWrite("NA()", "#N/A")}})
    xml = sheet_xml(out)
    assert '<c r="A1" t="inlineStr"><is><r><rPr><b/><color rgb="FFFF0000"/></rPr><t>red</t></r>' in xml
    assert '<c r="B1" t="s"><v>0</v></c><c r="C1" t="e"><f>NA()</f><v>#N/A</v></c><c r="D1"><v>1</v></c>' in xml


def test_control_characters_are_escaped(tmp_path):
    src = sheet_xml_workbook(tmp_path, "<sheetData/>")
    out = patch(tmp_path, src, {"Data": {"A1": CellWrite(None, "a\x01b_x0041_c\r\n"), "A2": CellWrite('"x"&"y"', "x\ty")}})
    # The OOXML escapes, exactly as XlsxWriter writes them; openpyxl does not decode them, calamine does.
    assert "<t xml:space=\"preserve\">a_x0001_b_x005F_x0041_c_x000D_\n</t>" in sheet_xml(out)
    df = frame(out, "Data", "calamine")
    assert df.iloc[0, 0] == "a\x01b_x0041_c\r\n" and df.iloc[1, 0] == "x\ty"


# --------------------------------------------------------------------------- shared formulas and the calc chain


def test_shift_formula():
    assert shift_formula("A2*2+$A$2", 3, 0) == "A5*2+$A$2"
    assert shift_formula("SUM($A$2:A2)", 2, 1) == "SUM($A$2:B4)"
    assert shift_formula("'My Sheet'!A1+Sheet2!$B3+B$4", 1, 1) == "'My Sheet'!B2+Sheet2!$B4+C$4"
    assert shift_formula('IF(A1>5,"A1:big",A1&"x")', 1, 0) == 'IF(A2>5,"A1:big",A2&"x")'
    assert shift_formula("SUM(A:A)+SUM(1:1)+SUM($B:C)", 1, 1) == "SUM(B:B)+SUM(2:2)+SUM($B:D)"
    assert shift_formula("LOG10(A1)+ATAN2(B1,C1)+Table1[[#This Row],[A1]]", 1, 0) == "LOG10(A2)+ATAN2(B2,C2)+Table1[[#This Row],[A1]]"
    assert shift_formula("A1-1E5+1.5E3", 1, 0) == "A2-1E5+1.5E3"
    assert shift_formula("A1", -1, 0) == "#REF!" and shift_formula("XFD1+A1", 0, 1) == "#REF!+B1"
    assert shift_formula("XYZ1+Sales2024", 1, 1) == "XYZ1+Sales2024"  # names, not references


def test_shared_formula_master_edited(tmp_path):
    src = shared_formula_workbook(tmp_path)
    edits = {"B2": CellWrite("A2*3", 3), "C2": CellWrite('"new"', "new"), "D2": CellWrite("0", 0)}
    out = patch(tmp_path, src, {"Data": edits})
    formulas = values(out, "Data", data_only=False)
    assert formulas["B2"] == "=A2*3"
    assert formulas["B5"] == "=A5*2+$A$2+'My Sheet'!$A$1"
    assert formulas["C7"] == '=IF(A7>5,"A2:big","small")'  # text in quotes is never shifted
    assert formulas["D2"] == "=0" and formulas["D4"] == "=SUM($A$2:A4)" and formulas["E3"] == "=SUM($A$2:B3)"
    assert formulas["E2"] == "=SUM($A$2:B2)"  # a dependent in the master's own row
    assert "t=\"shared\"" not in sheet_xml(out)
    cached = values(out, "Data")
    assert cached["B5"] == 4 * 2 + 101  # dependents keep their cached values
    assert patch(tmp_path, out, {"Data": edits}, "twice.xlsx").read_bytes() == out.read_bytes()


def test_shared_formula_dependent_edited(tmp_path):
    src = shared_formula_workbook(tmp_path)
    out = patch(tmp_path, src, {"Data": {"B5": CellWrite("A5*10", 40)}})
    xml = sheet_xml(out)
    assert '<c r="B5"><f>A5*10</f><v>40</v></c>' in xml
    assert '<f t="shared" ref="B2:B11" si="0">' in xml and xml.count('t="shared" si="0"/>') == 8
    formulas = values(out, "Data", data_only=False)
    assert formulas["B6"] == "=A6*2+$A$2+'My Sheet'!$A$1"


@pytest.mark.libreoffice
def test_shared_formula_dependents_recalculate_in_libreoffice(lo_recalc, tmp_path):
    """LibreOffice as referee: the dependents of an overwritten master compute what they did before."""
    # LibreOffice 7.4 never writes shared formulas itself (checked: not from filled-down
    # xlsx, ods or xls input), so the file carries them the way Excel writes them.
    src = shared_formula_workbook(tmp_path)
    before = values(lo_recalc(src), "Data")
    assert before["B5"] == 4 * 2 + 1 + 100 and before["E4"] == sum(range(1, 4)) + before["B2"] + before["B3"] + before["B4"]
    out = patch(tmp_path, src, {"Data": {"B2": CellWrite("A2*3", 3), "D2": CellWrite("A2", 1)}})
    after = values(lo_recalc(out), "Data")
    assert after["B2"] == 3 and after["D2"] == 1
    for r in range(3, 12):
        assert after[f"B{r}"] == before[f"B{r}"]
        assert after[f"C{r}"] == before[f"C{r}"]
        assert after[f"D{r}"] == before[f"D{r}"]
    assert after["E5"] == sum(range(1, 5)) + 3 + sum(after[f"B{r}"] for r in range(3, 6))


CALC_CHAIN_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.calcChain+xml"
CALC_CHAIN_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/calcChain"


def with_calc_chain(tmp_path: Path) -> Path:
    """The openpyxl workbook plus a calcChain part as Excel writes it."""
    src = openpyxl_workbook(tmp_path)
    parts = members(src)
    types = parts["[Content_Types].xml"].decode().replace(
        "</Types>", f'<Override PartName="/xl/calcChain.xml" ContentType="{CALC_CHAIN_TYPE}"/></Types>'
    )
    rels = parts["xl/_rels/workbook.xml.rels"].decode().replace(
        "</Relationships>",
        f'<Relationship Id="rId99" Type="{CALC_CHAIN_REL}" Target="calcChain.xml"/></Relationships>',
    )
    chain = '<?xml version="1.0" encoding="UTF-8"?><calcChain xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    chain += "".join(f'<c r="D{r}" i="1"/>' for r in range(2, 10)) + "</calcChain>"
    return rewrite_members(
        src, tmp_path / "chain.xlsx", {"[Content_Types].xml": types.encode(), "xl/_rels/workbook.xml.rels": rels.encode()},
        {"xl/calcChain.xml": chain.encode()},
    )


def test_calc_chain_kept_when_formulas_stay(tmp_path):
    src = with_calc_chain(tmp_path)
    out = patch(tmp_path, src, {"Team": {"D2": CellWrite("C2/B2*1", 0.91), "E5": CellWrite(None, 1)}})
    before, after = members(src), members(out)
    assert all(after[n] == before[n] for n in before if n != SHEET)


def test_calc_chain_removed_when_a_formula_goes(tmp_path):
    src = with_calc_chain(tmp_path)
    out = patch(tmp_path, src, {"Team": {"D2": CellWrite(None, 0.91), "D3": CellWrite(None, None)}})
    after = members(out)
    assert "xl/calcChain.xml" not in after
    assert b"calcChain" not in after["[Content_Types].xml"] and b"calcChain" not in after["xl/_rels/workbook.xml.rels"]
    before = members(src)
    assert after["[Content_Types].xml"] == before["[Content_Types].xml"].replace(
        f'<Override PartName="/xl/calcChain.xml" ContentType="{CALC_CHAIN_TYPE}"/>'.encode(), b""
    )
    assert values(out, "Team")["D2"] == 0.91 and "D3" not in values(out, "Team")
    again = patch(tmp_path, out, {"Team": {"D2": CellWrite(None, 0.91), "D3": CellWrite(None, None)}}, "twice.xlsx")
    assert again.read_bytes() == out.read_bytes()


# --------------------------------------------------------------------------- refusals


def test_refuses_doctype_in_sheet(tmp_path):
    src = sheet_xml_workbook(tmp_path, "<sheetData/>")
    xml = members(src)[SHEET].replace(b"<worksheet", b'<!DOCTYPE worksheet [<!ENTITY a "aaaa">]><worksheet', 1)
    bad = rewrite_members(src, tmp_path / "dtd.xlsx", {SHEET: xml})
    with pytest.raises(PatchError, match="DOCTYPE"):
        patch_workbook(bad, tmp_path / "out.xlsx", {"Data": {"A1": CellWrite(None, 1)}})


@pytest.mark.parametrize(
    "sheet_data, message",
    [
        ('<sheetData><row r="1"><c r="A1"><v>1</v></c></row>', "truncated"),
        ('<sheetData><row r="2"/><row r="1"/></sheetData>', "out of order"),
        ('<sheetData><foo/></sheetData>', "unexpected"),
        ('<sheetData><row r="1"><!-- <c r="A1"/> --></row></sheetData>', "comment"),
        ('<sheetData><row r="1"><c r="A1"><v>1</v></row></sheetData>', "not closed"),
    ],
)
def test_refuses_malformed_sheets(tmp_path, sheet_data, message):
    src = sheet_xml_workbook(tmp_path, sheet_data)
    if message == "truncated":
        xml = members(src)[SHEET]
        src = rewrite_members(src, tmp_path / "cut.xlsx", {SHEET: xml[: xml.index(b"</row>") + 6]})
    with pytest.raises(PatchError, match=message):
        patch_workbook(src, tmp_path / "out.xlsx", {"Data": {"A1": CellWrite(None, 1)}})


def test_refuses_bad_requests(tmp_path):
    src = openpyxl_workbook(tmp_path)
    with pytest.raises(PatchError, match="no worksheet named 'Nope'"):
        patch_workbook(src, tmp_path / "o.xlsx", {"Nope": {"A1": CellWrite(None, 1)}})
    for ref in ("a1", "A0", "A01", "XFE1", "A1048577", "1A", "$A$1"):
        with pytest.raises(ValueError, match="not a cell reference"):
            patch_workbook(src, tmp_path / "o.xlsx", {"Team": {ref: CellWrite(None, 1)}})
    with pytest.raises(ValueError, match="leading '='"):
        patch_workbook(src, tmp_path / "o.xlsx", {"Team": {"A1": CellWrite("=A2", 1)}})
    with pytest.raises(ValueError, match="NaN"):
        patch_workbook(src, tmp_path / "o.xlsx", {"Team": {"A1": CellWrite(None, float("nan"))}})
    with pytest.raises(TypeError):
        patch_workbook(src, tmp_path / "o.xlsx", {"Team": {"A1": (None, 1)}})
    with pytest.raises(ValueError, match="separate destination"):
        patch_workbook(src, src, {"Team": {"A1": CellWrite(None, 1)}})


def test_refuses_corrupt_member(tmp_path):
    src = openpyxl_workbook(tmp_path)
    data = bytearray(src.read_bytes())
    info = zipfile.ZipFile(src).getinfo(SHEET)
    data[info.header_offset + 30 + len(SHEET) + 5] ^= 0xFF  # flip a byte of the compressed sheet
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(bytes(data))
    with pytest.raises(PatchError, match="corrupt"):
        patch_workbook(bad, tmp_path / "o.xlsx", {"Team": {"A1": CellWrite(None, 1)}})
    truncated = tmp_path / "cut.xlsx"
    truncated.write_bytes(src.read_bytes()[:-30])
    with pytest.raises(PatchError):
        patch_workbook(truncated, tmp_path / "o.xlsx", {"Team": {"A1": CellWrite(None, 1)}})


@pytest.mark.parametrize("rows", [3, 20_000])
def test_failing_temporary_storage_is_reported(tmp_path, monkeypatch, rows):
    """A full disk while compressing (mid-stream, or only at the final flush) raises, never hangs."""
    body = "".join(f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>{r * 7919 % 10007} text</t></is></c></row>' for r in range(1, rows + 1))
    src = sheet_xml_workbook(tmp_path, f"<sheetData>{body}</sheetData>")

    def disk_full(self, data):
        if data:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(xlsxpatch._DeflateSink, "_spill", disk_full)
    with pytest.raises(OSError, match="No space"):
        patch_workbook(src, tmp_path / "out.xlsx", {"Data": {"B1": CellWrite(None, 1)}})


# --------------------------------------------------------------------------- larger sheets


def big_workbook(path: Path, rows: int) -> Path:
    """A constant-memory XlsxWriter sheet: numbers, text and formula columns."""
    with xlsxwriter.Workbook(str(path), {"constant_memory": True}) as wb:
        ws = wb.add_worksheet("Data")
        pct = wb.add_format({"num_format": "0.0%"})
        ws.write_row(0, 0, ["id", "name", "plan", "actual", "rate", "flag"])
        for r in range(1, rows + 1):
            ws.write_row(r, 0, [r, f"任务{r}", 10 + r % 7, 8 + r % 5])
            ws.write_formula(r, 4, f"=D{r + 1}/C{r + 1}", pct, 0)
            ws.write_formula(r, 5, f'=IF(E{r + 1}<0.8,"预警","")', None, "")
    return path


def big_edits(rows: int, extra: int = 0) -> dict[str, CellWrite]:
    """Cached values for the formula columns of big_workbook, plus new rows past the end."""
    edits = {}
    for r in range(2, rows + 2 + extra):
        rate = (8 + (r - 1) % 5) / (10 + (r - 1) % 7)
        edits[f"E{r}"] = CellWrite(f"D{r}/C{r}", rate)
        edits[f"F{r}"] = CellWrite(f'IF(E{r}<0.8,"预警","")', "预警" if rate < 0.8 else "")
    return edits


def test_progress_and_larger_sheet(tmp_path):
    rows = 40_000
    src = big_workbook(tmp_path / "big.xlsx", rows)
    calls = []
    out = patch(tmp_path, src, {"Data": big_edits(rows, extra=5)}, progress=lambda done, total: calls.append((done, total)))
    assert len(calls) >= 2 and calls[-1][0] == calls[-1][1] == rows + 1
    assert all(done <= total for done, total in calls) and [d for d, _ in calls] == sorted(d for d, _ in calls)
    df = frame(out, "Data", "calamine")
    assert len(df) == rows + 6
    assert df.iloc[rows, 4] == pytest.approx((8 + rows % 5) / (10 + rows % 7))
    assert df.iloc[rows + 5, 4] == pytest.approx((8 + (rows + 5) % 5) / (10 + (rows + 5) % 7))
    assert pd.isna(df.iloc[rows + 5, 0])


KILL_CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from mktsheets.safety import write_atomically
    from mktsheets.xlsxpatch import CellWrite, patch_workbook

    target, rows = Path(sys.argv[1]), int(sys.argv[2])
    edits = {f"E{r}": CellWrite(f"D{r}/C{r}*7", 1.5) for r in range(2, rows + 2)}
    source = target.with_name("source.xlsx")
    progress = lambda done, total: print(done, total, flush=True)
    write_atomically(target, lambda tmp: patch_workbook(source, tmp, {"Data": edits}, progress=progress))
    print("done", flush=True)
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="SIGKILL does not exist on Windows")
def test_killed_at_any_moment_leaves_original_or_complete_file(tmp_path):
    rows = 30_000
    source = big_workbook(tmp_path / "source.xlsx", rows)
    original = source.read_bytes()
    target = tmp_path / "book.xlsx"
    script = tmp_path / "child.py"
    script.write_text(KILL_CHILD, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))  # the child imports what we import
    rng = random.Random(20240701)
    outcomes = {"original": 0, "complete": 0}
    for attempt in range(24):
        target.write_bytes(original)
        child = subprocess.Popen([sys.executable, str(script), str(target), str(rows)], stdout=subprocess.PIPE, env=env, text=True)
        try:
            if attempt % 3 == 0:
                time.sleep(rng.uniform(0, 1.5))  # anywhere, including start-up and the final replace
            else:
                for _ in range(rng.randint(1, 3)):  # in the middle of streaming, after some progress
                    if not child.stdout.readline():
                        break
            child.kill()
        finally:
            child.wait()
            child.stdout.close()
        data = target.read_bytes()
        if data == original:
            outcomes["original"] += 1
        else:
            with zipfile.ZipFile(target) as z:
                assert z.testzip() is None
                assert f"<f>D{rows + 1}/C{rows + 1}*7</f>" in z.read(SHEET).decode()
            outcomes["complete"] += 1
        leftovers = {p.name for p in tmp_path.iterdir()} - {"source.xlsx", "book.xlsx", "child.py"}
        assert all(name.startswith(".book.xlsx.") and name.endswith(".tmp") for name in leftovers), leftovers
        for name in leftovers:
            (tmp_path / name).unlink()
    assert outcomes["original"] >= 1, outcomes
    # And left alone, the same child replaces the file with the complete new workbook.
    target.write_bytes(original)
    finished = subprocess.run([sys.executable, str(script), str(target), str(rows)], capture_output=True, env=env, text=True, check=True)
    assert finished.stdout.endswith("done\n")
    assert f"<f>D{rows + 1}/C{rows + 1}*7</f>" in sheet_xml(target)


# --------------------------------------------------------------------------- properties

CELLS = st.tuples(st.integers(1, 9), st.integers(1, 7))
WRITES = st.one_of(
    st.builds(CellWrite, st.none(), st.integers(-10**6, 10**6)),
    st.builds(CellWrite, st.none(), st.text("ab <&>\"'中\n", max_size=5)),
    st.builds(CellWrite, st.just("1+1"), st.floats(-1e6, 1e6, allow_nan=False)),
    st.builds(CellWrite, st.just('"t"&"x"'), st.text("xyz", max_size=3)),
    st.just(CellWrite(None, None)),
)


def expected_after(existing: dict, edits: dict) -> dict[str, CellWrite]:
    """Every cell that should exist after the edits."""
    result = {ref: CellWrite(None, value) for ref, value in existing.items()}
    for ref, write in edits.items():
        if write.formula is None and write.value is None:
            result.pop(ref, None)
        else:
            result[ref] = write
    return result


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    existing=st.dictionaries(CELLS, st.integers(0, 99), max_size=25),
    edits=st.dictionaries(CELLS, WRITES, min_size=1, max_size=20),
    implicit=st.booleans(),
)
def test_any_edits_read_back(tmp_path_factory, existing, edits, implicit):
    tmp_path = tmp_path_factory.mktemp("prop")
    letters = "ABCDEFG"
    if implicit:  # every row and cell without r: a dense block from A1
        height = max((r for r, _ in existing), default=0)
        width = max((c for _, c in existing), default=0)
        existing = {(r, c): existing.get((r, c), r * 10 + c) for r in range(1, height + 1) for c in range(1, width + 1)}
        row = lambda r: "<row>" + "".join(f"<c><v>{existing[r, c]}</v></c>" for c in range(1, width + 1)) + "</row>"
        rows = "".join(row(r) for r in range(1, height + 1))
        src = sheet_xml_workbook(tmp_path, f"<sheetData>{rows}</sheetData>")
    else:
        src = tmp_path / "sparse.xlsx"
        with xlsxwriter.Workbook(str(src)) as wb:
            ws = wb.add_worksheet("Data")
            for (r, c), value in existing.items():
                ws.write_number(r - 1, c - 1, value)
    as_refs = lambda cells: {f"{letters[c - 1]}{r}": v for (r, c), v in cells.items()}
    writes = as_refs(edits)
    out = patch(tmp_path, src, {"Data": writes})
    expected = expected_after(as_refs(existing), writes)
    cached, formulas = values(out, "Data"), values(out, "Data", data_only=False)
    for ref, write in expected.items():
        if write.formula is not None:
            assert formulas[ref] == f"={write.formula}", ref
        if write.value not in (None, ""):
            assert cached[ref] == write.value, ref
    shown = {ref for ref, value in formulas.items() if value != ""}
    assert shown == {ref for ref, w in expected.items() if w.formula is not None or w.value != ""}
    assert patch(tmp_path, out, {"Data": writes}, "again.xlsx").read_bytes() == out.read_bytes()


# --------------------------------------------------------------------------- column writes
#
# A ColumnWrite is the bulk form recalc uses: its cells must come out exactly as the same
# cells given one by one as CellWrites (which the tests above check against real readers).

import numpy as np  # noqa: E402

from mktsheets.xlsxpatch import ColumnWrite, SheetWrites  # noqa: E402


def as_cells(columns: list[ColumnWrite]) -> dict[str, CellWrite]:
    """The same writes, one CellWrite per cell (an empty result is the text "")."""
    cells = {}
    for c in columns:
        for i, v in enumerate(c.values.tolist() if hasattr(c.values, "tolist") else c.values):
            blank = v is None or (isinstance(v, float) and v != v)
            cells[f"{c.column}{c.first + i}"] = CellWrite(c.formula(c.first + i), "" if blank else v)
    return cells


def mixed_columns(first: int, rows: int) -> list[ColumnWrite]:
    """Floats with NaN, -0.0, whole and huge numbers; texts that need escaping; errors; booleans."""
    floats = np.array([[0.5, float("nan"), -0.0, 3.0, 1e16, 1 / 3, -2.5, 0.0][i % 8] for i in range(rows)])
    texts = np.array([["达标", None, "50% <&> \"q\"", "#DIV/0!", True, 7, " lead", "_x0041_"][i % 8]
                      for i in range(rows)], dtype=object)
    return [
        ColumnWrite("C", first, floats, lambda r: f"B{r}*3"),                    # a template: row in one place
        ColumnWrite("G", first, texts, lambda r: f'IF(B{r}>50,"高&低","<{r}>")'),  # row twice, escaped text
        ColumnWrite("J", first, [r * 1.5 for r in range(first, first + rows)],
                    lambda r: f"SUM($B$2:B{r})+{r % 3}"),                        # no template: per-row text
    ]


@pytest.mark.parametrize("source", ["rich", "openpyxl", "no-r", "prefixed", "shared", "odd-attributes"])
def test_column_writes_equal_cell_writes(tmp_path, source):
    if source == "rich":
        src, sheet, first, rows = rich_workbook(tmp_path), "Data", 2, 30    # a missing row, rows past the end
    elif source == "openpyxl":
        src, sheet, first, rows = openpyxl_workbook(tmp_path), "Team", 2, 12
    elif source == "no-r":
        data = "<sheetData>" + "".join(f"<row><c><v>{r}</v></c><c><v>{r * 2}</v></c><c><v>0</v></c></row>"
                                       for r in range(1, 9)) + "</sheetData>"
        src, sheet, first, rows = sheet_xml_workbook(tmp_path, data), "Data", 2, 10
    elif source == "prefixed":
        data = "<x:sheetData>" + "".join(f'<x:row r="{r}"><x:c r="A{r}"><x:v>{r}</x:v></x:c>'
                                         f'<x:c r="C{r}" s="0"><x:v>1</x:v></x:c></x:row>'
                                         for r in range(1, 7)) + "</x:sheetData>"
        src, sheet, first, rows = sheet_xml_workbook(tmp_path, data, prefix="x"), "Data", 2, 8
    elif source == "odd-attributes":   # a tab before s, single quotes, t before s, cells without attributes
        cells = ['<c r="C{r}"\ts="0"><v>1</v></c>', "<c r='C{r}' s='0'/>", '<c r="C{r}" t="n" s="0"><v>2</v></c>',
                 '<c r="C{r}" s="0"><v>3</v></c><c><v>4</v></c>']
        data = "<sheetData>" + "".join(f'<row r="{r}"><c r="A{r}"><v>{r}</v></c>' + cells[r % 4].format(r=r)
                                       + f'<c r="G{r}" s="0"/><c r="J{r}" s="0"/></row>'
                                       for r in range(1, 9)) + "</sheetData>"
        src, sheet, first, rows = sheet_xml_workbook(tmp_path, data), "Data", 2, 8
    else:
        src, sheet, first, rows = shared_formula_workbook(tmp_path), "Data", 2, 14
    columns = mixed_columns(first, rows)
    extra = {"A1": CellWrite(None, "header"), f"C{first + rows + 2}": CellWrite("1+1", 2)}
    by_column = patch(tmp_path, src, {sheet: SheetWrites(columns, extra)}, "columns.xlsx")
    by_cell = patch(tmp_path, src, {sheet: {**as_cells(columns), **extra}}, "cells.xlsx")
    assert members(by_column) == members(by_cell)
    again = patch(tmp_path, by_column, {sheet: SheetWrites(columns, extra)}, "again.xlsx")
    assert again.read_bytes() == by_column.read_bytes()
    got = values(by_column, sheet, data_only=False)
    assert got[f"C{first}"] == f"=B{first}*3" and got[f"J{first + 1}"] == f"=SUM($B$2:B{first + 1})+{(first + 1) % 3}"
    cached = values(by_column, sheet)
    assert cached[f"C{first}"] == 0.5 and cached[f"G{first + 2}"] == '50% <&> "q"'


def test_column_writes_across_windows(tmp_path):
    """Columns that start and end inside the windows the patcher makes them in, next to single cells."""
    rows = 5000
    src = tmp_path / "long.xlsx"
    with xlsxwriter.Workbook(str(src)) as wb:
        ws = wb.add_worksheet("Data")
        for r in range(rows):
            ws.write_row(r, 0, [r, r % 7])
    columns = [ColumnWrite("C", 2, np.arange(2, rows + 1, dtype=float) / 4, lambda r: f"A{r}/4"),
               ColumnWrite("D", 1500, np.full(2100, float("nan")), lambda r: f'IF(A{r}>0,"","x")'),
               ColumnWrite("D", 3700, ["x"] * 50, lambda r: f'"x"&"{r}"'),
               ColumnWrite("F", 4090, np.arange(100.0), lambda r: f"B{r}+{r}")]
    extra = {"E3000": CellWrite(None, "note"), "D10": CellWrite(None, 1)}
    by_column = patch(tmp_path, src, {"Data": SheetWrites(columns, extra)}, "columns.xlsx")
    by_cell = patch(tmp_path, src, {"Data": {**as_cells(columns), **extra}}, "cells.xlsx")
    assert members(by_column) == members(by_cell)
    frame_ = pd.read_excel(by_column, header=None, engine="calamine")
    assert frame_.iloc[4099, 2] == 4100 / 4 and frame_.iloc[4188, 5] == 99.0 and frame_.iloc[2999, 4] == "note"


def test_column_writes_refuse_what_they_cannot_write(tmp_path):
    src = openpyxl_workbook(tmp_path)
    f = lambda r: f"B{r}"  # noqa: E731
    bad = [
        (SheetWrites([ColumnWrite("D", 2, [1.0, 2.0], f), ColumnWrite("D", 3, [1.0], f)]), "written twice"),
        (SheetWrites([ColumnWrite("D", 2, [1.0, 2.0], f)], {"D3": CellWrite(None, 1)}), "both as a cell and by its column"),
        (SheetWrites([ColumnWrite("d", 2, [1.0], f)]), "not a column"),
        (SheetWrites([ColumnWrite("D", 0, [1.0], f)]), "outside the sheet"),
        (SheetWrites([ColumnWrite("D", 2, [1.0], lambda r: f"=B{r}")]), "without the leading"),
    ]
    for edits, message in bad:
        with pytest.raises(ValueError, match=message):
            patch(tmp_path, src, {"Team": edits})
    with pytest.raises(ValueError, match="infinity"):
        patch(tmp_path, src, {"Team": SheetWrites([ColumnWrite("D", 2, np.array([1.0, np.inf]), f)])})
    assert not (tmp_path / "out.xlsx").exists() or zipfile.is_zipfile(tmp_path / "out.xlsx")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.one_of(st.none(), st.floats(allow_infinity=False), st.integers(-10**12, 10**12),
                                 st.booleans(), st.text(max_size=8)), min_size=1, max_size=40),
       first=st.integers(1, 30))
def test_any_column_values_equal_cell_writes(tmp_path_factory, values, first):
    tmp_path = tmp_path_factory.mktemp("colprop")
    src = tmp_path / "src.xlsx"
    with xlsxwriter.Workbook(str(src)) as wb:
        ws = wb.add_worksheet("Data")
        for r in range(0, 50, 3):
            ws.write_row(r, 0, [r, "x", r * 2])
    floats = [v for v in values if type(v) is float]
    for column in ([ColumnWrite("B", first, values, lambda r: f"A{r}&\"%s\"")],
                   [ColumnWrite("C", first, np.array(floats or [0.0]), lambda r: f"A{r}*2")]):
        by_column = patch(tmp_path, src, {"Data": SheetWrites(column)}, "columns.xlsx")
        by_cell = patch(tmp_path, src, {"Data": as_cells(column)}, "cells.xlsx")
        assert members(by_column) == members(by_cell)


def test_empty_column_writes_and_row_dependent_escapes(tmp_path):
    src = openpyxl_workbook(tmp_path)
    columns = [ColumnWrite("E", 2, np.arange(1.0, 9.0), lambda r: f"B{r}"),
               ColumnWrite("E", 5, [], lambda r: f"C{r}"),                           # writes nothing
               ColumnWrite("F", 2, np.zeros(8), lambda r: f'"_x{r + 1230}_"&B{r}')]  # escaped by the row's digits
    by_column = patch(tmp_path, src, {"Team": SheetWrites(columns)}, "columns.xlsx")
    by_cell = patch(tmp_path, src, {"Team": as_cells(columns)}, "cells.xlsx")
    assert members(by_column) == members(by_cell)
    assert '"_x005F_x1234_"&amp;B4' in sheet_xml(by_column)
