"""Refuse bad files before any parser sees them, and write results without risking the original.

Every check here reads a bounded amount of the file: the zip directory, and the first
bytes (the XML prolog) of the parts that readers parse. The messages are one line in
Chinese and English, because they end up in front of the user as they are (SPEC §6).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import msoffcrypto
from msoffcrypto.format.ooxml import OOXMLFile
from msoffcrypto.format.xls97 import Xls97File

__all__ = [
    "FileProblem",
    "MAX_MEMBERS",
    "MAX_RATIO",
    "MAX_TOTAL_UNCOMPRESSED",
    "RATIO_MIN_SIZE",
    "inspect_workbook_file",
    "lock_files",
    "make_backup",
    "write_atomically",
]

#: Refuse packages that would inflate to more than this (a zip bomb, or far beyond Excel's limits).
#: Every part is streamed, never held whole, so this bounds time and temporary disk, not memory:
#: a quarterly workbook at Excel's 1,048,576 tracking rows inflates to about 4-5 GiB of XML.
MAX_TOTAL_UNCOMPRESSED = 16 << 30
#: A member compressing better than this ...
MAX_RATIO = 200
#: ... and inflating to more than this is a bomb (small, very regular parts are fine).
RATIO_MIN_SIZE = 10 << 20
#: Refuse packages with more members than this.
MAX_MEMBERS = 10_000

# What zipfile raises for damaged packages (RuntimeError: "password required" for an
# encrypted member).
_BROKEN_ZIP = (
    zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, NotImplementedError, ValueError, RuntimeError
)
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MAX_PROLOG = 1 << 20  # bytes of XML allowed before the root element
_REPLACE_ATTEMPTS = 6  # os.replace retries: Windows antivirus and indexers hold new files briefly
_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_ROOT_START = re.compile(rb"<[A-Za-z_]")
_COMMENT_OR_PI = re.compile(rb"<!--.*?-->|<\?.*?\?>", re.DOTALL)


class FileProblem(Exception):
    """A file that mktsheets cannot or must not process, explained in one line (zh and en)."""

    def __init__(self, zh: str, en: str):
        super().__init__(f"{zh}（{en}）")
        self.zh = zh
        self.en = en


def inspect_workbook_file(path: Path | str) -> None:
    """Raise FileProblem unless path looks like a safe, unencrypted xlsx/xlsm workbook."""
    path = Path(path)
    name = path.name
    if not path.exists():
        raise FileProblem(f"找不到文件：{path}", f"file not found: {path}")
    if path.is_dir():
        raise FileProblem(f"{name} 是文件夹，不是工作簿", f"{name} is a folder, not a workbook")
    if path.stat().st_size == 0:
        raise FileProblem(f"{name} 是空文件", f"{name} is empty")
    with open(path, "rb") as f:
        head = f.read(4096)
    if head.startswith(_OLE_MAGIC):
        _refuse_ole(path)
    if path.suffix.lower() == ".et":
        raise _wps_et(name)
    if not head.startswith(b"PK"):
        zh, en = _looks_like(head)
        raise FileProblem(f"{name} 不是 Excel 工作簿（.xlsx），看起来是{zh}", f"{name} is not an .xlsx workbook; it looks like {en}")
    _check_zip(path)


def _wps_et(name: str) -> FileProblem:
    """The problem of a WPS .et spreadsheet."""
    return FileProblem(
        f"{name} 是 WPS 表格格式（.et），请先在 WPS 中另存为 .xlsx",
        f"{name} is a WPS .et spreadsheet: save it as .xlsx in WPS first",
    )


def _refuse_ole(path: Path) -> None:
    """Explain an OLE2 compound file: encrypted workbook, legacy .xls/.et, or another Office file."""
    name = path.name
    try:
        with open(path, "rb") as f:
            office = msoffcrypto.OfficeFile(f)
            encrypted = isinstance(office, OOXMLFile) and office.is_encrypted()
    except Exception:  # any parse failure: an OLE file we cannot classify
        office, encrypted = None, False
    if encrypted:
        raise FileProblem(
            f"{name} 设置了打开密码，请在 Excel/WPS 中取消密码后再试",
            f"{name} is password-protected: remove the password in Excel/WPS and try again",
        )
    if path.suffix.lower() == ".et":
        raise _wps_et(name)
    if isinstance(office, Xls97File):
        raise FileProblem(
            f"{name} 是旧版 Excel 格式（.xls），请先另存为 .xlsx",
            f"{name} is a legacy .xls workbook: save it as .xlsx first",
        )
    raise FileProblem(
        f"{name} 是旧版 Office 文件，但不是 Excel 工作簿",
        f"{name} is a legacy Office file but not an Excel workbook",
    )


def _looks_like(head: bytes) -> tuple[str, str]:
    """A short guess at what a non-zip file is, for the message."""
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith(b"%pdf"):
        return "PDF 文件", "a PDF file"
    if start.startswith((b"<!doctype html", b"<html")) or b"<html" in start[:1024]:
        return "网页（HTML）", "a web page (HTML)"
    if start.startswith(b"<?xml") and b"urn:schemas-microsoft-com:office:spreadsheet" in head:
        return "Excel 2003 XML 表格，请另存为 .xlsx", "an Excel 2003 XML spreadsheet; save it as .xlsx"
    if start.startswith(b"<"):
        return "XML 或网页文件", "an XML or web file"
    if start.startswith(b"{\\rtf"):
        return "RTF 文档", "an RTF document"
    text = _as_text(head)
    if text is None:
        return "未知的二进制文件", "an unknown binary file"
    if "," in text or "\t" in text or ";" in text:
        return "CSV 或文本表格，请在 Excel/WPS 中打开后另存为 .xlsx", "a CSV or text table; open it in Excel/WPS and save it as .xlsx"
    return "文本文件", "a text file"


def _as_text(head: bytes) -> str | None:
    """head decoded as UTF-8 or GB18030 text, None when it is binary."""
    for encoding in ("utf-8", "gb18030"):
        try:
            text = head.decode(encoding)
        except UnicodeDecodeError:
            continue
        controls = sum(1 for ch in text if ch < " " and ch not in "\t\r\n")
        return None if controls > len(text) // 100 else text
    return None


def _check_zip(path: Path) -> None:
    """Zip-level checks: readable directory, sizes (bombs), workbook parts, XML prologs."""
    name = path.name
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            _check_sizes(name, infos)
            names = {info.filename for info in infos}
            _check_parts(name, names)
            for info in infos:
                if info.filename.lower().endswith((".xml", ".rels", ".vml")):
                    _check_prolog(name, zf, info)
    except _BROKEN_ZIP as exc:
        raise FileProblem(
            f"{name} 已损坏或不完整，无法作为 Excel 工作簿打开",
            f"{name} is damaged or incomplete and cannot be opened as a workbook ({exc})",
        ) from None


def _check_sizes(name: str, infos: list[zipfile.ZipInfo]) -> None:
    """Refuse zip bombs: too many members, too much data, or absurd compression ratios."""
    if len(infos) > MAX_MEMBERS:
        raise FileProblem(
            f"{name} 包含 {len(infos)} 个部件，超过上限 {MAX_MEMBERS}，疑似恶意文件",
            f"{name} has {len(infos)} parts, more than {MAX_MEMBERS}: refusing a possible zip bomb",
        )
    total = sum(info.file_size for info in infos)
    if total > MAX_TOTAL_UNCOMPRESSED:
        raise FileProblem(
            f"{name} 解压后超过 {MAX_TOTAL_UNCOMPRESSED >> 20} MB，疑似压缩炸弹",
            f"{name} would inflate to {total >> 20} MiB, more than {MAX_TOTAL_UNCOMPRESSED >> 20} MiB: "
            "refusing a possible zip bomb",
        )
    for info in infos:
        if info.file_size > RATIO_MIN_SIZE and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise FileProblem(
                f"{name} 中的 {info.filename} 压缩比异常（>{MAX_RATIO}:1），疑似压缩炸弹",
                f"{info.filename} in {name} compresses more than {MAX_RATIO}:1: refusing a possible zip bomb",
            )


def _check_parts(name: str, names: set[str]) -> None:
    """Refuse packages that are not Excel workbooks (a .docx, a plain zip)."""
    if "word/document.xml" in names:
        raise FileProblem(f"{name} 是 Word 文档，不是 Excel 工作簿", f"{name} is a Word document, not an Excel workbook")
    if "ppt/presentation.xml" in names:
        raise FileProblem(f"{name} 是 PowerPoint 演示文稿，不是 Excel 工作簿", f"{name} is a PowerPoint presentation, not an Excel workbook")
    if "xl/workbook.bin" in names:
        raise FileProblem(
            f"{name} 是 Excel 二进制工作簿（.xlsb），请先另存为 .xlsx",
            f"{name} is an Excel binary workbook (.xlsb): save it as .xlsx first",
        )
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise FileProblem(
            f"{name} 是压缩包，但不是 Excel 工作簿（缺少 xl/workbook.xml）",
            f"{name} is a zip file but not an Excel workbook (no xl/workbook.xml)",
        )


def _check_prolog(name: str, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """Refuse DTDs and entity declarations (billion laughs, external entities) in an XML part."""
    seen = b""
    with zf.open(info) as member:
        while len(seen) <= _MAX_PROLOG:
            chunk = member.read(16384)
            if not chunk:
                break
            seen += chunk
            # A DOCTYPE can only come before the root element; comments and processing
            # instructions there could hide one behind a fake "<root".
            prolog = _COMMENT_OR_PI.sub(b"", seen)
            root = _ROOT_START.search(prolog)
            if _DTD.search(prolog, 0, root.start() if root else len(prolog)):
                raise FileProblem(
                    f"{name} 的 {info.filename} 含有 DTD/实体声明，疑似 XML 炸弹，已拒绝",
                    f"{info.filename} in {name} declares a DTD or entities: refusing a possible XML bomb",
                )
            if root and b"<!--" not in prolog[: root.start()] and b"<?" not in prolog[: root.start()]:
                return
    if len(seen) > _MAX_PROLOG:
        raise FileProblem(
            f"{name} 的 {info.filename} 开头异常，已拒绝",
            f"{info.filename} in {name} has no root element in its first {_MAX_PROLOG >> 10} KiB: refusing it",
        )


def lock_files(path: Path | str) -> list[Path]:
    """Lock files beside path that say the workbook is open in Excel, WPS or LibreOffice."""
    path = Path(path)
    name = path.name
    candidates = [f"~${name}", f".~lock.{name}#"]
    if len(name) > 2:
        candidates.append(f"~${name[2:]}")  # Excel shortens long names by their first two characters
    found = []
    for candidate in dict.fromkeys(candidates):
        lock = path.with_name(candidate)
        if lock.is_file():
            found.append(lock)
    return found


def write_atomically(dst: Path | str, write: Callable[[Path], None]) -> None:
    """Have write() fill a temporary file beside dst, then move it over dst in one step."""
    # On any failure the temporary file goes and dst is untouched; a killed process leaves
    # at most a stray ".NAME.*.tmp" beside it, never a broken dst.
    dst = Path(dst)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        _copy_mode(dst, tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        _replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _sync_directory(dst.parent)


def _copy_mode(dst: Path, tmp: Path) -> None:
    """Give the new file dst's permissions (mkstemp makes it private to the user)."""
    if dst.exists():
        shutil.copymode(dst, tmp)
    else:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)


def _replace(tmp: Path, dst: Path) -> None:
    """os.replace, retried while Windows reports the target as in use."""
    for attempt in range(_REPLACE_ATTEMPTS):
        try:
            os.replace(tmp, dst)
            return
        except PermissionError:
            if attempt == _REPLACE_ATTEMPTS - 1:
                raise FileProblem(
                    f"无法写入 {dst.name}：文件被占用（是否在 Excel/WPS 中打开？）",
                    f"cannot write {dst.name}: the file is in use (is it open in Excel/WPS?)",
                ) from None
            time.sleep(0.1 * 2**attempt)


def _sync_directory(folder: Path) -> None:
    """Make the rename durable where the platform allows syncing a directory."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def make_backup(path: Path | str) -> Path:
    """Copy path to NAME.bak.xlsx (same suffix) beside it, atomically and byte for byte."""
    path = Path(path)
    backup = path.with_name(f"{path.stem}.bak{path.suffix}")

    def copy(tmp: Path) -> None:
        shutil.copyfile(path, tmp)
        shutil.copystat(path, tmp)

    write_atomically(backup, copy)
    return backup
