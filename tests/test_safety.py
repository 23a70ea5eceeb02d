"""Refusing bad files, lock files, atomic writes and backups, each with a real file of that kind."""

from __future__ import annotations

import io
import os
import stat
import struct
import zipfile

import msoffcrypto
import openpyxl
import pytest
import xlsxwriter

from mktsheets import safety
from mktsheets.safety import FileProblem, inspect_workbook_file, lock_files, make_backup, write_atomically

FREE, END_OF_CHAIN, FAT_SECTOR, NO_STREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def compound_file(stream_name: str, payload: bytes) -> bytes:
    """A minimal OLE2 compound file (the .xls/.et container) holding one stream of >= 4096 bytes."""
    payload = payload.ljust(4096, b"\0")
    data_sectors = -(-len(payload) // 512)
    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 24, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<IIIIIIII", header, 44, 1, 1, 0, 4096, END_OF_CHAIN, 0, END_OF_CHAIN, 0)
    difat = [0] + [FREE] * 108
    struct.pack_into("<109I", header, 76, *difat)
    fat = [FAT_SECTOR, END_OF_CHAIN] + [2 + i + 1 for i in range(data_sectors - 1)] + [END_OF_CHAIN]
    fat += [FREE] * (128 - len(fat))

    def entry(name: str, kind: int, child: int, start: int, size: int) -> bytes:
        raw = name.encode("utf-16-le") + b"\0\0" if name else b""
        record = bytearray(128)
        record[: len(raw)] = raw
        struct.pack_into("<HBBIII", record, 64, len(raw), kind, 1, NO_STREAM, NO_STREAM, child)
        struct.pack_into("<IQ", record, 116, start, size)
        return bytes(record)

    directory = entry("Root Entry", 5, 1, END_OF_CHAIN, 0) + entry(stream_name, 2, NO_STREAM, 2, len(payload))
    directory += entry("", 0, NO_STREAM, 0, 0) * 2
    return bytes(header) + struct.pack("<128I", *fat) + directory + payload.ljust(data_sectors * 512, b"\0")


def xlsx(tmp_path, name: str = "book.xlsx"):
    """A small valid workbook."""
    path = tmp_path / name
    with xlsxwriter.Workbook(str(path)) as wb:
        wb.add_worksheet("Data").write_row(0, 0, ["姓名", 1, 2.5])
    return path


def rewrite(src, dst, changes: dict[str, bytes]):
    """Copy a zip with some members replaced or added."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info, changes.pop(info.filename, zin.read(info)))
        for name, data in changes.items():
            zout.writestr(name, data)
    return dst


def refused(path, *fragments: str) -> FileProblem:
    """Assert that inspect_workbook_file refuses path with a message holding every fragment."""
    with pytest.raises(FileProblem) as info:
        inspect_workbook_file(path)
    problem = info.value
    assert str(problem) == f"{problem.zh}（{problem.en}）"
    assert "\n" not in str(problem)
    for fragment in fragments:
        assert fragment in str(problem), (fragment, str(problem))
    return problem


# --------------------------------------------------------------------------- good files


def test_accepts_real_workbooks(tmp_path):
    inspect_workbook_file(xlsx(tmp_path))
    wb = openpyxl.Workbook()
    wb.active["A1"] = "x"
    wb.save(tmp_path / "o.xlsm")
    inspect_workbook_file(tmp_path / "o.xlsm")


# --------------------------------------------------------------------------- bad files


def test_missing_directory_and_empty(tmp_path):
    refused(tmp_path / "nope.xlsx", "找不到文件", "file not found")
    (tmp_path / "dir.xlsx").mkdir()
    refused(tmp_path / "dir.xlsx", "folder")
    (tmp_path / "empty.xlsx").write_bytes(b"")
    refused(tmp_path / "empty.xlsx", "空文件", "empty")


def test_legacy_xls(tmp_path):
    path = tmp_path / "old.xls"
    path.write_bytes(compound_file("Workbook", b"\x09\x08\x10\x00\x00\x06\x05\x00"))
    refused(path, ".xls", "save it as .xlsx first")
    renamed = tmp_path / "old.xlsx"
    renamed.write_bytes(path.read_bytes())
    refused(renamed, "legacy .xls")


def test_wps_et(tmp_path):
    path = tmp_path / "wps.et"
    path.write_bytes(compound_file("Workbook", b"\x09\x08"))
    refused(path, "WPS", "save it as .xlsx in WPS first")
    zipped = tmp_path / "zipped.et"
    zipped.write_bytes(xlsx(tmp_path).read_bytes())
    refused(zipped, "WPS")


def test_other_ole_file(tmp_path):
    path = tmp_path / "memo.xlsx"
    path.write_bytes(compound_file("WordDocument", b"\xec\xa5"))
    refused(path, "not an Excel workbook")


def test_password_protected(tmp_path):
    plain = xlsx(tmp_path)
    locked = tmp_path / "locked.xlsx"
    with open(plain, "rb") as f, open(locked, "wb") as out:
        msoffcrypto.OfficeFile(f).encrypt("secret", out)
    assert locked.read_bytes()[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    refused(locked, "密码", "remove the password")


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("姓名,目标,实际\n张三,100,90\n".encode("utf-8"), "CSV"),
        ("姓名,目标\n张三,100\n".encode("gb18030"), "CSV"),
        (b"<!DOCTYPE html><html><body><table><tr><td>1</td></tr></table></body></html>", "HTML"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF"),
        (b'<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"/>', "Excel 2003 XML"),
        (b"\x00\x01\x02\x03binary", "binary"),
    ],
)
def test_not_a_zip(tmp_path, content, fragment):
    path = tmp_path / "renamed.xlsx"
    path.write_bytes(content)
    refused(path, "not an .xlsx workbook", fragment)


def test_truncated_and_corrupt(tmp_path):
    data = xlsx(tmp_path).read_bytes()
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(data[: len(data) // 2])
    refused(cut, "损坏", "damaged or incomplete")
    garbage = tmp_path / "garbage.xlsx"
    garbage.write_bytes(b"PK\x03\x04" + b"\x00" * 200)
    refused(garbage, "damaged")


def test_word_document_and_plain_zip(tmp_path):
    docx = tmp_path / "report.docx"
    with zipfile.ZipFile(docx, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    refused(docx, "Word")
    xlsb = tmp_path / "binary.xlsb"
    with zipfile.ZipFile(xlsb, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.bin", b"\x83\x01\x00")
    refused(xlsb, ".xlsb", "save it as .xlsx")
    plain = tmp_path / "archive.xlsx"
    with zipfile.ZipFile(plain, "w") as z:
        z.writestr("readme.txt", "hello")
    refused(plain, "xl/workbook.xml")


def test_zip_bomb_by_ratio(tmp_path):
    bomb = rewrite(xlsx(tmp_path), tmp_path / "bomb.xlsx", {"xl/media/padding.bin": b"\0" * (safety.RATIO_MIN_SIZE + 1)})
    refused(bomb, "zip bomb", "xl/media/padding.bin")


def test_zip_bomb_by_total_size_and_members(tmp_path, monkeypatch):
    book = xlsx(tmp_path)
    monkeypatch.setattr(safety, "MAX_TOTAL_UNCOMPRESSED", 2000)
    refused(book, "zip bomb", "MiB")
    monkeypatch.undo()
    monkeypatch.setattr(safety, "MAX_MEMBERS", 5)
    refused(book, "parts", "more than 5")


BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + ']>\n<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheets/>&lol9;</workbook>'
)


def test_xml_bombs(tmp_path):
    book = xlsx(tmp_path)
    bomb = rewrite(book, tmp_path / "laughs.xlsx", {"xl/workbook.xml": BILLION_LAUGHS.encode()})
    refused(bomb, "XML", "xl/workbook.xml")
    hidden = '<?xml version="1.0"?><!-- <a> --><?pi <b>?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><worksheet>&e;</worksheet>'
    sneaky = rewrite(book, tmp_path / "sneaky.xlsx", {"xl/worksheets/sheet1.xml": hidden.encode()})
    refused(sneaky, "xl/worksheets/sheet1.xml")
    strings = rewrite(book, tmp_path / "sst.xlsx", {"xl/sharedStrings.xml": b'<!DOCTYPE sst [<!ENTITY a "b">]><sst/>'})
    refused(strings, "sharedStrings")


def test_bounded_prolog(tmp_path, monkeypatch):
    monkeypatch.setattr(safety, "_MAX_PROLOG", 1000)
    padded = rewrite(xlsx(tmp_path), tmp_path / "pad.xlsx", {"xl/workbook.xml": b"<?xml version='1.0'?>" + b" " * 20000 + b"<workbook/>"})
    refused(padded, "root element")


# --------------------------------------------------------------------------- lock files


def test_lock_files(tmp_path):
    book = xlsx(tmp_path, "2024Q3-营销团队.xlsx")
    assert lock_files(book) == []
    excel = tmp_path / "~$2024Q3-营销团队.xlsx"
    short = tmp_path / "~$24Q3-营销团队.xlsx"
    office = tmp_path / ".~lock.2024Q3-营销团队.xlsx#"
    for lock in (excel, short, office):
        lock.write_bytes(b"user")
    assert sorted(lock_files(book)) == sorted([excel, short, office])
    excel.unlink()
    short.unlink()
    assert lock_files(book) == [office]


# --------------------------------------------------------------------------- atomic writes and backups


def test_write_atomically_replaces(tmp_path):
    dst = tmp_path / "book.xlsx"
    dst.write_bytes(b"old")
    os.chmod(dst, 0o640)
    write_atomically(dst, lambda tmp: tmp.write_bytes(b"new"))
    assert dst.read_bytes() == b"new"
    if os.name == "posix":
        assert stat.S_IMODE(dst.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["book.xlsx"]
    fresh = tmp_path / "fresh.xlsx"
    write_atomically(fresh, lambda tmp: tmp.write_bytes(b"x"))
    assert fresh.read_bytes() == b"x"


def test_write_atomically_failure_leaves_dst(tmp_path):
    dst = tmp_path / "book.xlsx"
    dst.write_bytes(b"precious")

    def half_write(tmp):
        tmp.write_bytes(b"partial")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        write_atomically(dst, half_write)
    assert dst.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == ["book.xlsx"]


def test_write_atomically_retries_permission_errors(tmp_path, monkeypatch):
    dst = tmp_path / "book.xlsx"
    dst.write_bytes(b"old")
    real_replace = os.replace
    failures = iter([True, True])
    monkeypatch.setattr(safety.time, "sleep", lambda s: None)

    def flaky(src, target):
        if next(failures, False):
            raise PermissionError("in use")
        real_replace(src, target)

    monkeypatch.setattr(safety.os, "replace", flaky)
    write_atomically(dst, lambda tmp: tmp.write_bytes(b"new"))
    assert dst.read_bytes() == b"new"

    def locked(src, target):
        raise PermissionError("in use")

    monkeypatch.setattr(safety.os, "replace", locked)
    with pytest.raises(FileProblem, match="in use"):
        write_atomically(dst, lambda tmp: tmp.write_bytes(b"newer"))
    assert dst.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["book.xlsx"]


@pytest.mark.parametrize("suffix", [".xlsx", ".xlsm"])
def test_make_backup(tmp_path, suffix):
    book = xlsx(tmp_path, f"book{suffix}")
    backup = make_backup(book)
    assert backup == tmp_path / f"book.bak{suffix}"
    assert backup.read_bytes() == book.read_bytes()
    book.write_bytes(b"changed")
    assert make_backup(book).read_bytes() == b"changed"


def test_file_problem_message():
    problem = FileProblem("中文说明", "English explanation")
    assert str(problem) == "中文说明（English explanation）"
    assert (problem.zh, problem.en) == ("中文说明", "English explanation")
    assert isinstance(problem, Exception) and not isinstance(problem, io.UnsupportedOperation)
