"""LibreOffice as the referee: it must really recalculate, whatever our cached values say."""

from __future__ import annotations

import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter

from mktsheets.libreoffice import LibreOfficeError, convert, find_soffice, recalculate

STALE = 999  # the wrong cached value every formula is written with

AMOUNTS = {"张三": 100, "李四": 250, "王五": 175, "赵六": 50}
REGIONS = {"张三": "East", "李四": "West", "王五": "East", "赵六": "West"}


def build_workbook(path: Path, scale: int = 1) -> Path:
    """Write a workbook whose formulas all carry the wrong cached value STALE."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with xlsxwriter.Workbook(str(path)) as wb:
        data = wb.add_worksheet("Data")
        params = wb.add_worksheet("参数")
        params.write("A1", "奖金比例")
        params.write("B1", 0.1)
        wb.define_name("Bonus_Rate", "='参数'!$B$1")

        data.write_row("A1", ["Region", "Person", "Amount"])
        for row, person in enumerate(AMOUNTS, start=1):
            data.write_row(row, 0, [REGIONS[person], person, AMOUNTS[person] * scale])

        formulas = {
            "E1": '=SUMIFS(C2:C5,A2:A5,"East")',
            "E2": '=SUMPRODUCT((A2:A5="West")*C2:C5)',
            "E3": "=INDEX(B2:B5,MATCH(MAX(C2:C5),C2:C5,0))",
            "E4": "=RANK(C4,C2:C5)",
            "E5": "=ROUND(2.675,2)",
            "E6": "='参数'!B1*2",
            "E7": "=SUM(C2:C5)*Bonus_Rate",
        }
        for cell, formula in formulas.items():
            data.write_formula(cell, formula, None, STALE)
    return path


def expected_values(scale: int = 1) -> dict:
    """What a real spreadsheet engine computes for build_workbook's formulas."""
    return {
        "E1": 275 * scale,
        "E2": 300 * scale,
        "E3": "李四",
        "E4": 2,
        "E5": 2.68,  # Excel/LibreOffice round half away from zero; Python's round gives 2.67
        "E6": pytest.approx(0.2),
        "E7": pytest.approx(57.5 * scale),
    }


def cached_values(path: Path) -> dict:
    """The cached values of the formula cells E1:E7 on the Data sheet."""
    wb = openpyxl.load_workbook(path, data_only=True)
    try:
        return {f"E{r}": wb["Data"][f"E{r}"].value for r in range(1, 8)}
    finally:
        wb.close()


def test_source_carries_stale_values(tmp_path):
    """Guard the premise: without a real recalculation every formula reads STALE."""
    src = build_workbook(tmp_path / "book.xlsx")
    assert set(cached_values(src).values()) == {STALE}


@pytest.mark.libreoffice
def test_recalculate_replaces_stale_cached_values(soffice, tmp_path):
    src = build_workbook(tmp_path / "book.xlsx")

    out = recalculate(src, tmp_path / "out")

    assert out == tmp_path / "out" / "book.recalculated.xlsx"
    assert cached_values(out) == expected_values()


@pytest.mark.libreoffice
def test_lo_recalc_fixture(lo_recalc, tmp_path):
    out = lo_recalc(build_workbook(tmp_path / "book.xlsx"))
    assert cached_values(out) == expected_values()


@pytest.mark.libreoffice
def test_chinese_file_name_and_folder(soffice, tmp_path):
    src = build_workbook(tmp_path / "输入 目录" / "2024Q3-张三-绩效卡.xlsx")

    out = recalculate(src, tmp_path / "输出")

    assert out == tmp_path / "输出" / "2024Q3-张三-绩效卡.recalculated.xlsx"
    assert cached_values(out) == expected_values()


@pytest.mark.libreoffice
def test_output_next_to_source_leaves_source_alone(soffice, tmp_path):
    src = build_workbook(tmp_path / "book.xlsx")
    before = src.read_bytes()

    out = recalculate(src, src.parent)

    assert out != src
    assert src.read_bytes() == before
    assert cached_values(out) == expected_values()


@pytest.mark.libreoffice
def test_concurrent_recalculations(soffice, tmp_path):
    # Different inputs, so that one run returning the other's file would be caught.
    sources = [build_workbook(tmp_path / f"in{scale}" / "book.xlsx", scale) for scale in (1, 3)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(recalculate, src, src.parent.parent / f"out{i}") for i, src in enumerate(sources)]
        outputs = [f.result() for f in futures]

    assert cached_values(outputs[0]) == expected_values(1)
    assert cached_values(outputs[1]) == expected_values(3)


@pytest.mark.libreoffice
def test_profile_and_copies_are_cleaned_up(soffice, tmp_path, monkeypatch):
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))

    recalculate(build_workbook(tmp_path / "book.xlsx"), tmp_path / "out")

    assert list(private.iterdir()) == []


@pytest.mark.libreoffice
def test_timeout_kills_every_soffice_process(soffice, tmp_path, monkeypatch):
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))

    with pytest.raises(LibreOfficeError, match="timed out"):
        recalculate(build_workbook(tmp_path / "book.xlsx"), tmp_path / "out", timeout=0.3)

    assert list(private.iterdir()) == []
    proc = Path("/proc")
    if not proc.is_dir():
        return  # the process-table check below needs Linux's /proc
    # Every soffice of this run had its profile, inside `private`, on its command line.
    # soffice.bin starts within 0.2 s, so the timeout above hit it too.
    marker = private.as_uri().encode()
    leftovers = []
    for cmdline in proc.glob("[0-9]*/cmdline"):
        try:
            if marker in cmdline.read_bytes():
                leftovers.append(cmdline.parent.name)
        except OSError:
            continue  # the process ended while we looked
    assert leftovers == []


@pytest.mark.libreoffice
def test_convert_to_pdf(soffice, tmp_path):
    out = convert(build_workbook(tmp_path / "张三.xlsx"), tmp_path / "pdf")

    assert out == tmp_path / "pdf" / "张三.pdf"
    assert out.read_bytes().startswith(b"%PDF")


def test_convert_refuses_to_overwrite_source(tmp_path):
    src = build_workbook(tmp_path / "book.xlsx")
    with pytest.raises(ValueError, match="overwrite"):
        convert(src, tmp_path, "xlsx")


@pytest.mark.libreoffice
def test_unreadable_file_is_an_error(soffice, tmp_path):
    src = tmp_path / "broken.xlsx"
    src.write_bytes(b"not a zip file")
    with pytest.raises(LibreOfficeError, match="broken.xlsx"):
        recalculate(src, tmp_path / "out")


def test_missing_soffice(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere" / "soffice"
    monkeypatch.setenv("MKTSHEETS_SOFFICE", str(missing))
    monkeypatch.setenv("PATH", "")

    assert find_soffice() is None
    with pytest.raises(LibreOfficeError, match="not found") as excinfo:
        recalculate(build_workbook(tmp_path / "book.xlsx"), tmp_path / "out")
    assert str(missing) in str(excinfo.value)
