"""Write cells into an existing xlsx without rewriting the rest of the package.

openpyxl load+save loses cached values, extensions and unknown parts (SPEC §8), so
recalc edits the package itself: every zip member it has no reason to change keeps
its original compressed bytes, and each edited worksheet is streamed through a
tokenizer that replaces only the named ``<c>`` elements and copies every other byte.
SpreadsheetML rows and cells are regular enough that compiled regular expressions
over the raw UTF-8 bytes are both fast and exact; anything they cannot vouch for
raises :class:`PatchError` rather than being guessed at.
"""

from __future__ import annotations

import bisect
import itertools
import math
import numbers
import posixpath
import queue
import re
import string
import struct
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

__all__ = ["CellWrite", "ColumnWrite", "PatchError", "SheetWrites", "patch_workbook", "sheet_parts", "shift_formula"]

MAX_ROW = 1_048_576
MAX_COL = 16_384
#: zlib level for the worksheets we rewrite; 6 matches what Excel and XlsxWriter write.
COMPRESSION_LEVEL = 6

_CHUNK = 1 << 20
_MAX_PROLOG = 16 << 20  # XML before <sheetData> (views, column widths) is small in any real sheet
_MAX_ROW_BYTES = 128 << 20  # one row: 16384 cells of long text still fits
_MAX_SMALL_PART = 64 << 20  # workbook.xml, rels, content types
_MAX_CENTRAL_DIRECTORY = 64 << 20
_PROGRESS_EVERY = 1 << 14  # rows

# Members we write get a fixed timestamp (1980-01-01 00:00, as XlsxWriter does) so that
# patching a patched file again reproduces it byte for byte.
_DOS_TIME = 0
_DOS_DATE = (1 << 5) | 1

_REL_TYPES = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
_STRICT_REL_TYPES = "http://purl.oclc.org/ooxml/officeDocument/relationships/"
_EXCEL_ERRORS = frozenset({"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA"})


class PatchError(Exception):
    """The workbook cannot be patched safely (corrupt, unsupported or unexpected XML)."""


@dataclass(frozen=True, slots=True)
class CellWrite:
    """One cell to write: a formula with its cached value, a plain value, or (both None) a deletion."""

    formula: str | None
    value: float | int | str | bool | None
    style: int | None = None


@dataclass(frozen=True)
class ColumnWrite:
    """Formulas with cached values for the rows first, first + 1, ... of one column.

    ``formula(row)`` gives a row's formula (without '='); ``values[i]`` is the cached value of
    row first + i: a number, text (an Excel error text such as '#DIV/0!' becomes an error
    value), a bool, or None/NaN for a formula whose result is empty text. ``values`` may be a
    list or a numpy array: it is read a window of rows at a time, never copied whole, so a
    column of a million rows costs no more memory than the caller's array.
    """

    column: str
    first: int
    values: Sequence
    formula: Callable[[int], str]

    @property
    def last(self) -> int:
        return self.first + len(self.values) - 1


@dataclass(frozen=True)
class SheetWrites:
    """One sheet's writes: whole columns, plus single cells elsewhere."""

    columns: Sequence[ColumnWrite] = ()
    cells: Mapping[str, CellWrite] = field(default_factory=dict)

    def __len__(self) -> int:
        return sum(len(c.values) for c in self.columns) + len(self.cells)


# --------------------------------------------------------------------------- public API


def sheet_parts(path: Path | str) -> dict[str, str]:
    """Map each worksheet name in workbook order to its zip part name, e.g. 'xl/worksheets/sheet1.xml'."""
    with open(path, "rb") as f:
        package = _Package(f)
        return package.sheet_parts()


def patch_workbook(
    src: Path | str,
    dst: Path | str,
    edits: Mapping[str, Mapping[str, CellWrite] | SheetWrites],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Copy src to dst with the given cells replaced.

    edits maps a sheet name to its cells (cell ref -> write) or to a SheetWrites, whose
    column writes are generated row by row as the sheet streams past.
    """
    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        raise ValueError("patch_workbook needs a separate destination: write to a temporary file and replace")
    patched: dict[str, _Patched] = {}
    with open(src, "rb") as f:
        try:
            package = _Package(f)
            parts = package.sheet_parts()
            unknown = [name for name in edits if name not in parts]
            if unknown:
                raise PatchError(f"no worksheet named {', '.join(map(repr, unknown))} (sheets: {', '.join(parts)})")
            jobs = {parts[name]: _SheetEdits(cells) for name, cells in edits.items() if len(cells)}
            meter = _Progress(progress, sum(package.entry(part).usize for part in jobs))
            for part, rows in jobs.items():
                patched[package.entry(part).name] = _patch_sheet(package, part, rows, meter)
            replaced, dropped = {}, set()
            if any(p.formula_deleted for p in patched.values()):
                replaced, dropped = package.calc_chain_removal()
            with open(dst, "wb") as out:
                package.write(out, patched, replaced, dropped)
            meter.done()
        finally:
            for p in patched.values():
                p.data.close()


def shift_formula(formula: str, rows: int, cols: int) -> str:
    """Move the relative references of an A1 formula by rows/cols, as copying the cell would."""
    return _FORMULA_TOKEN.sub(lambda m: _shift_token(m, rows, cols), formula)


# --------------------------------------------------------------------------- cell references


def _column_names() -> list[str]:
    """'' followed by the letters of columns 1..MAX_COL (A, B, ..., XFD)."""
    names = [""]
    for width in (1, 2, 3):
        names.extend("".join(p) for p in itertools.product(string.ascii_uppercase, repeat=width))
    return names[: MAX_COL + 1]


_COL_LETTERS = _column_names()
_COL_NUMBER = {name: number for number, name in enumerate(_COL_LETTERS) if number}
_COL_BYTES = [name.encode("ascii") for name in _COL_LETTERS]


def _col_index(letters: str) -> int:
    """1-based column number of column letters; beyond MAX_COL (or not letters) gives MAX_COL + 1."""
    return _COL_NUMBER.get(letters.upper(), MAX_COL + 1)


class _ByteColumns(dict):
    """Column letters as found in the XML (bytes) -> column number, memoised."""

    def __missing__(self, letters: bytes) -> int:
        number = _COL_NUMBER.get(letters.decode("ascii").upper())
        if number is None:
            raise PatchError(f"invalid column {letters.decode('ascii', 'replace')!r} in a cell reference")
        self[letters] = number
        return number


_COLUMNS = _ByteColumns()
_DIGITS = "0123456789"


class _StyleNames(dict):
    """s attribute values as found in the XML (bytes) -> str, memoised: a sheet uses few styles."""

    def __missing__(self, raw: bytes) -> str:
        if not (raw.isdigit() and raw.isascii()):
            raise PatchError(f"invalid cell style index {raw[:20]!r}")
        self[raw] = text = raw.decode("ascii")
        return text


_PIECE_REF = re.compile(rb'r="([A-Z]{1,3})[0-9]+"')
_AFTER_STYLE = frozenset(b"> /")  # what may follow s="7" in a cell's start tag
_REF_PREFIX = [b'r="' + letters for letters in _COL_BYTES]


def _find_piece(pieces: list[bytes], ref: bytes) -> int:
    """Index of the piece (a row split at "<c ") that starts with ref, or -1."""
    for k in range(1, len(pieces)):
        if pieces[k].startswith(ref):
            return k
    return -1


class _StyleBytes(dict):
    """s attribute values as found in the XML, checked to be style numbers, memoised."""

    def __missing__(self, raw: bytes) -> bytes:
        if not (raw.isdigit() and raw.isascii()):
            raise PatchError(f"invalid cell style index {raw[:20]!r}")
        self[raw] = raw
        return raw


class _SheetEdits:
    """One sheet's edits, looked up row by row, and a bitmap of the edited rows.

    Single cells come from the caller's mapping. Column writes are turned into finished cell
    tails (what follows ``<c r=".." s=".."``) a window of rows at a time, as the sheet streams
    past: a recalc writes millions of cells, and neither a CellWrite per cell nor per-row lists
    would fit in the memory of the streamed sheet, while the bitmap over all of Excel's rows is
    128 KiB.
    """

    def __init__(self, edits: Mapping[str, CellWrite] | SheetWrites):
        if isinstance(edits, SheetWrites):
            cells, plans = edits.cells, list(edits.columns)
        else:
            cells, plans = edits, []
        self.cells = cells
        self.marks = bytearray(MAX_ROW // 8 + 1)
        self.prefix = b""
        columns: set[str] = set()
        marks = self.marks
        for ref, write in cells.items():
            if type(write) is not CellWrite and not isinstance(write, CellWrite):
                raise TypeError(f"edit for {ref!r} is a {type(write).__name__}, not a CellWrite")
            letters = ref.rstrip(_DIGITS)
            digits = ref[len(letters):]
            if letters not in _COL_NUMBER or not digits or digits[0] == "0" or len(digits) > 7 or int(digits) > MAX_ROW:
                raise ValueError(f"not a cell reference: {ref!r} (expected upper-case A1 form such as 'W5')")
            row = int(digits)
            marks[row >> 3] |= 1 << (row & 7)
            columns.add(letters)
        self.cell_columns = sorted((_COL_NUMBER[letters], letters) for letters in columns)
        self.plans = [_ColumnPlan(plan) for plan in plans]
        taken: dict[int, list[_ColumnPlan]] = {}
        self.plans = [plan for plan in self.plans if plan.last >= plan.first]  # empty writes write nothing
        for plan in self.plans:
            for other in taken.get(plan.col, ()):
                if plan.first <= other.last and other.first <= plan.last:
                    raise ValueError(f"column {plan.letters} is written twice in rows {max(plan.first, other.first)}"
                                     f"..{min(plan.last, other.last)}")
            taken.setdefault(plan.col, []).append(plan)
            if plan.last >= plan.first:
                _mark_range(marks, plan.first, plan.last)
        for ref in cells if self.plans else ():
            letters = ref.rstrip(_DIGITS)
            row = int(ref[len(letters):])
            if any(p.first <= row <= p.last for p in taken.get(_COL_NUMBER[letters], ())):
                raise ValueError(f"cell {ref} is written both as a cell and by its column")
        self.plans.sort(key=lambda plan: (plan.col, plan.first))
        self.columns = sorted({(c, letters) for c, letters in self.cell_columns}
                              | {(plan.col, plan.letters) for plan in self.plans})
        self._window_first = self._window_stop = 0
        self._window_cols: tuple[int, ...] = ()
        self._window_heads: tuple[bytes | None, ...] = ()
        self.styles: dict[int, bytes] = {}  # col -> the s attribute its last rewritten cell had
        self._window: list[tuple[bytes, ...]] = []

    def edited(self, number: int) -> bool:
        """Whether row number has edits."""
        return bool(self.marks[number >> 3] >> (number & 7) & 1)

    def between(self, first: int, stop: int) -> list[int]:
        """The edited row numbers from first up to (not including) stop."""
        found: list[int] = []
        marks = self.marks
        last_byte = min((stop - 1) >> 3, len(marks) - 1)
        pos = first >> 3
        while pos <= last_byte:
            nonzero = _NONZERO.search(marks, pos, last_byte + 1)
            if nonzero is None:
                break
            at = nonzero.start()
            found.extend(n for bit in range(8) if marks[at] >> bit & 1 and first <= (n := at * 8 + bit) < stop)
            pos = at + 1
        return found

    def row(self, number: int) -> list[tuple[int, CellWrite | bytes]]:
        """The edits of row number by column: a CellWrite, or the tail of a column write's cell
        (what follows ``<c r=".." s=".."``)."""
        cols, writes, heads = self.row_split(number)
        return [(col, write if head is None else write[len(head) + len(_REF_PREFIX[col]) + len(str(number)) + 1:])
                for col, write, head in zip(cols, writes, heads)]

    def row_split(self, number: int) -> tuple[tuple[int, ...], tuple[CellWrite | bytes, ...], tuple[bytes | None, ...]]:
        """The edited columns of row number (in order), their writes, and for each the style
        attribute (' s="7"') its write already starts with after the reference, else None.

        A column write whose column showed one style on the rows before comes as the whole
        cell after "<c " (``r="H5" s="7">...``); the others as the tail after the style.
        """
        cols: tuple[int, ...] = ()
        writes: tuple[CellWrite | bytes, ...] = ()
        heads: tuple[bytes | None, ...] = ()
        if self.plans:
            if not self._window_first <= number < self._window_stop:
                self._fill_window(number)
            cols, writes, heads = self._window_cols, self._window[number - self._window_first], self._window_heads
        if self.cells:
            get, suffix = self.cells.get, str(number)
            single = [(col, write, None) for col, letters in self.cell_columns
                      if (write := get(letters + suffix)) is not None]
            if single:
                merged = sorted([*zip(cols, writes, heads), *single], key=_by_column)
                cols, writes, heads = (tuple(c for c, _, _ in merged), tuple(w for _, w, _ in merged),
                                       tuple(h for _, _, h in merged))
        return cols, writes, heads

    def _fill_window(self, number: int) -> None:
        """Make the column writes' cells of rows from number on, about _WINDOW_CELLS of them."""
        # The window ends where a column write starts or ends, so that inside it every
        # write covers every row or none: the rows are then the columns transposed, in C.
        stop = min(number + max(64, _WINDOW_CELLS // len(self.plans)), MAX_ROW + 1)
        for plan in self.plans:
            if plan.first > number:
                stop = min(stop, plan.first)
            elif plan.last >= number:
                stop = min(stop, plan.last + 1)
        active = [plan for plan in self.plans if plan.first <= number <= plan.last]  # in column order
        columns, heads = [], []
        for plan in active:
            # with the style the column had so far, the whole cell, checked against the old one
            style = self.styles.get(plan.col)
            heads.append(None if style is None else b' s="%s"' % style)
            columns.append(plan.cells(number, stop, self.prefix, style))
        self._window_cols = tuple(plan.col for plan in active)
        self._window_heads = tuple(heads)
        self._window = list(zip(*columns)) if active else [()] * (stop - number)
        self._window_first, self._window_stop = number, stop


def _by_column(item: tuple[int, object]) -> int:
    return item[0]


def _mark_range(marks: bytearray, first: int, last: int) -> None:
    """Set the bits of rows first..last."""
    while first <= last and first & 7:
        marks[first >> 3] |= 1 << (first & 7)
        first += 1
    while first <= last and (last + 1) & 7:
        marks[last >> 3] |= 1 << (last & 7)
        last -= 1
    if first <= last:
        marks[first >> 3: (last >> 3) + 1] = b"\xff" * ((last >> 3) - (first >> 3) + 1)


_WINDOW_CELLS = 16384  # column-write cells made at a time (a few MiB)
_SENTINEL_ROWS = (1_048_573, 1_048_447)  # rows no real formula names as a literal number


class _ColumnPlan:
    """A ColumnWrite checked, with its formula as a per-row template where it has one."""

    def __init__(self, write: ColumnWrite):
        if not isinstance(write, ColumnWrite):
            raise TypeError(f"a column write is a {type(write).__name__}, not a ColumnWrite")
        self.col = _COL_NUMBER.get(write.column)
        if self.col is None:
            raise ValueError(f"not a column: {write.column!r} (expected upper-case letters such as 'W')")
        self.letters = write.column
        self.first, self.last = write.first, write.last
        if not (1 <= self.first <= MAX_ROW and self.last <= MAX_ROW):
            raise ValueError(f"rows {self.first}..{self.last} of column {write.column} are outside the sheet")
        self.values = write.values
        self.formula = write.formula
        self.parts = self._template(write.formula) if self.last >= self.first else None

    def _template(self, formula: Callable[[int], str]) -> list[bytes] | None:
        """The formula's escaped text split where the row number goes, if every row's formula is that."""
        sample, other = _SENTINEL_ROWS
        text = formula(sample)
        if text.startswith("="):
            raise ValueError(f"formula for column {self.letters} must be given without the leading '=': {text!r}")
        parts = [_xml_text(piece).encode() for piece in text.split(str(sample))]
        if len(parts) < 2 or "_x" in text:  # "_x1234_" is escaped or not by the row's digits
            return None
        for row in (other, self.first, self.last):
            if str(row).encode().join(parts) != _xml_text(formula(row)).encode():
                return None
        return parts

    def cells(self, a: int, b: int, prefix: bytes, style: bytes | None) -> list[bytes]:
        """The cells of rows a..b-1 as they follow "<c ": ``r="H5" s="7">...</c>`` when the
        column's style is known, else only what follows the style (``>...</c>``)."""
        values = self.values[a - self.first: b - self.first]
        lead = b"" if style is None else b'r="' + _COL_BYTES[self.col] + b'%d" s="' + style + b'"'
        f_open, f_close = b"><%sf>" % prefix, b"</%sf><%sv>" % (prefix, prefix)
        v_close = b"</%sv></%sc>" % (prefix, prefix)
        rows = range(a, b)
        if self.parts is not None:
            # one %-format per cell: the row goes into the reference and into the formula
            formula = b"%d".join(part.replace(b"%", b"%%") for part in self.parts)
            slots = len(self.parts) - 1 + (1 if lead else 0)
            args = [(r,) * slots for r in rows]
        else:
            formula = b"%s"
            args = []
            for r in rows:
                text = self.formula(r)
                if text.startswith("="):
                    raise ValueError(f"formula for row {r} must be given without the leading '=': {text!r}")
                args.append((r, _xml_text(text).encode()) if lead else (_xml_text(text).encode(),))
        empty = lead + b' t="str"' + f_open + formula + f_close + v_close
        number = lead + f_open + formula + f_close + b"%s" + v_close
        if getattr(getattr(values, "dtype", None), "kind", "") == "f":  # floats: all texts from one repr, in C
            texts = _float_texts(values.tolist())
            return [empty % x if t == b"nan" else number % (*x, t) for x, t in zip(args, texts)]
        values = values.tolist() if hasattr(values, "tolist") else list(values)
        made: dict[tuple[type, object], tuple[bytes, tuple]] = {}  # results repeat a lot: labels, grades, 0
        out = []
        for x, v in zip(args, values):
            key = (v.__class__, v)
            found = made.get(key)
            if found is None:
                if v is None or (isinstance(v, float) and v != v):
                    found = (empty, ())
                else:
                    kind, text = _value_text(v)
                    found = (lead + kind.encode() + f_open + formula + f_close + b"%s" + v_close, (text.encode(),))
                made[key] = found
            out.append(found[0] % (*x, *found[1]))
        return out


_NEGATIVE_ZERO = re.compile(rb"(?:(?<=, )|^)-0\.0(?=,|$)")
_POINT_ZERO = re.compile(rb"\.0(?=,|$)")


_NONZERO = re.compile(rb"[^\x00]")


def _float_texts(values: list[float]) -> list[bytes]:
    """<v> texts of floats (NaN stays b'nan', for the caller): shortest repr, integral without '.0'."""
    if not values:
        return []
    text = repr(values).encode()[1:-1]
    if b"inf" in text:
        raise ValueError("cannot store an infinity in a cell: Excel has none")
    if b"-0.0" in text:
        text = _NEGATIVE_ZERO.sub(b"0", text)
    return _POINT_ZERO.sub(b"", text).split(b", ")


# --------------------------------------------------------------------------- XML text


_XML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# OOXML strings cannot hold control characters as such: they are written as _xHHHH_, and a
# literal "_xHHHH_" in the text gets its underscore escaped so that it reads back unchanged.
_XSTRING_SPECIAL = re.compile(r"[\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")
_NEEDS_ESCAPE = re.compile(r"[&<>\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]|_x[0-9A-Fa-f]{4}_").search
_ENTITY = re.compile(r"&(#x[0-9A-Fa-f]+|#[0-9]+|amp|lt|gt|quot|apos);")
_NAMED_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


def _xml_text(text: str) -> str:
    """Element text for <v>, <t> and <f>, escaped for XML and for OOXML strings."""
    if _plain(text) or _NEEDS_ESCAPE(text) is None:
        return text
    text = _XSTRING_SPECIAL.sub(lambda m: "_x%04X_" % ord(m.group()), text)
    return text.translate(_XML_ESCAPES)


def _plain(text: str) -> bool:
    """A quick, conservative 'nothing to escape' (cheaper than the regex for most text)."""
    return text.isprintable() and "&" not in text and "<" not in text and ">" not in text and "_x" not in text


def _unescape(raw: bytes) -> str:
    """Decode element text, resolving its character and predefined entity references."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PatchError(f"a formula is not valid UTF-8: {raw[:40]!r}") from None
    return _ENTITY.sub(_entity, text) if "&" in text else text


def _entity(m: re.Match) -> str:
    """The character an entity or character reference stands for."""
    name = m.group(1)
    if not name.startswith("#"):
        return _NAMED_ENTITIES[name]
    try:
        return chr(int(name[2:], 16) if name.startswith("#x") else int(name[1:]))
    except (ValueError, OverflowError):
        raise PatchError(f"invalid character reference &{name};") from None


def _float_text(number: float) -> str:
    """Shortest text that reads back as exactly this float; integral values without '.0'."""
    if not math.isfinite(number):
        raise ValueError(f"cannot store {number!r} in a cell: Excel has no NaN or infinity")
    if number == 0:
        return "0"  # also for -0.0, which Excel does not have
    text = repr(number)
    return text[:-2] if text.endswith(".0") else text


def _value_text(value: float | int | str | bool) -> tuple[str, str]:
    """The t attribute and <v> text of a cached value; strings that are Excel errors become t="e"."""
    kind = type(value)
    if kind is float:
        return "", _float_text(value)
    if kind is int:
        return "", str(value)
    if isinstance(value, str):
        return (' t="e"' if value in _EXCEL_ERRORS else ' t="str"'), _xml_text(str(value))
    if isinstance(value, bool) or kind.__name__ == "bool_":  # numpy's bool is no int subclass
        return ' t="b"', "1" if value else "0"
    if isinstance(value, numbers.Integral):
        return "", str(int(value))
    if isinstance(value, numbers.Real):
        return "", _float_text(float(value))
    raise TypeError(f"cannot write a {type(value).__name__} into a cell: {value!r}")


# --------------------------------------------------------------------------- formula shifting

_FORMULA_TOKEN = re.compile(
    r"""
      "(?:[^"]|"")*"                                   # string literal: never touched
    | '(?:[^']|'')*'                                   # quoted sheet name
    | \[(?:[^\[\]]|\[[^\[\]]*\])*\]                    # structured or external-book reference
    | (?<![\w.$])
      (?: (?P<c1>\$?[A-Za-z]{1,3}\$?[0-9]+)(?::(?P<c2>\$?[A-Za-z]{1,3}\$?[0-9]+))?
        | (?P<k1>\$?[A-Za-z]{1,3}):(?P<k2>\$?[A-Za-z]{1,3})
        | (?P<r1>\$?[0-9]+):(?P<r2>\$?[0-9]+)
      )
      (?![\w.(!])
    """,
    re.VERBOSE,
)
_PART_PATTERNS = {
    "cell": re.compile(r"(\$?)([A-Za-z]{1,3})(\$?)([0-9]+)"),
    "col": re.compile(r"(\$?)([A-Za-z]{1,3})()()"),
    "row": re.compile(r"()()(\$?)([0-9]+)"),
}

_RefPart = tuple[str, "int | None", str, "int | None"]  # ($, column, $, row)


def _shift_token(m: re.Match, rows: int, cols: int) -> str:
    """Replacement for one _FORMULA_TOKEN match: references moved, everything else as it was."""
    for kind, first, second in (("cell", "c1", "c2"), ("col", "k1", "k2"), ("row", "r1", "r2")):
        if m.group(first):
            parts = [_parse_part(kind, p) for p in (m.group(first), m.group(second)) if p]
            break
    else:
        return m.group()
    if None in parts:  # outside the sheet, so a name such as XYZ1 rather than a reference
        return m.group()
    moved = [_move_part(part, rows, cols) for part in parts]
    return "#REF!" if None in moved else ":".join(moved)


def _parse_part(kind: str, text: str) -> _RefPart | None:
    """One end of a reference, or None when it cannot be a reference on a sheet."""
    col_abs, letters, row_abs, digits = _PART_PATTERNS[kind].fullmatch(text).groups()
    col = _col_index(letters) if letters else None
    row = int(digits) if digits else None
    if (col is not None and col > MAX_COL) or (row is not None and not 1 <= row <= MAX_ROW):
        return None
    return col_abs, col, row_abs, row


def _move_part(part: _RefPart, rows: int, cols: int) -> str | None:
    """Text of a reference end moved by rows/cols ($ parts stay); None when it leaves the sheet."""
    col_abs, col, row_abs, row = part
    text = ""
    if col is not None:
        col = col if col_abs else col + cols
        if not 1 <= col <= MAX_COL:
            return None
        text = col_abs + _COL_LETTERS[col]
    if row is not None:
        row = row if row_abs else row + rows
        if not 1 <= row <= MAX_ROW:
            return None
        text += f"{row_abs}{row}"
    return text


# --------------------------------------------------------------------------- zip package

_EOCD = struct.Struct("<4s4H2LH")
_EOCD64_LOCATOR = struct.Struct("<4sLQL")
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_LOCAL = struct.Struct("<4s2B4HL2L2H")


@dataclass
class _Entry:
    """One member as described by the central directory, with its raw directory record."""

    name: str
    record: bytes  # the central directory record, copied with only the offset changed
    offset: int
    offset_at: int  # where the offset lives in record (the fixed field, or inside the zip64 extra)
    offset_width: int
    method: int
    flags: int
    crc: int
    csize: int
    usize: int
    end: int = 0  # where this member's local record (header, data, descriptor) ends in the source


@dataclass
class _Patched:
    """A worksheet rewritten into a temporary file: deflate stream, CRC and sizes."""

    front: bytes  # deflated text before the dimension value
    data: BinaryIO  # the rest of the deflate stream
    crc: int
    csize: int
    usize: int
    formula_deleted: bool


class _Package:
    """Read access to a zip by its raw records, so that members can be copied untouched."""

    def __init__(self, f: BinaryIO):
        self.f = f
        self.entries, self.comment, cd_start = self._read_directory()
        self.by_name: dict[str, _Entry] = {}
        for entry in self.entries:
            if entry.name in self.by_name:
                raise PatchError(f"the zip holds {entry.name!r} twice")
            self.by_name[entry.name] = entry
        self.by_lower = {name.lower(): entry for name, entry in self.by_name.items()}
        self.physical = sorted(self.entries, key=lambda e: e.offset)
        for this, following in zip(self.physical, self.physical[1:] + [None]):
            this.end = following.offset if following else cd_start
            if this.end <= this.offset:
                raise PatchError("corrupt zip: overlapping members")

    # ---- directory

    def _read_directory(self) -> tuple[list[_Entry], bytes, int]:
        """Parse the end record and the central directory."""
        f = self.f
        size = f.seek(0, 2)
        tail_len = min(size, _EOCD.size + 0xFFFF)
        f.seek(size - tail_len)
        tail = f.read(tail_len)
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < _EOCD.size:
            raise PatchError("not a zip file or truncated (no end-of-directory record)")
        _, _, _, _, count, cd_size, cd_offset, comment_len = _EOCD.unpack_from(tail, at)
        comment = tail[at + _EOCD.size: at + _EOCD.size + comment_len]
        if count == 0xFFFF or 0xFFFFFFFF in (cd_size, cd_offset):
            count, cd_size, cd_offset = self._zip64_end(tail, at, size - tail_len)
        if cd_size > _MAX_CENTRAL_DIRECTORY or cd_offset + cd_size > size:
            raise PatchError("corrupt zip: central directory out of bounds")
        f.seek(cd_offset)
        directory = f.read(cd_size)
        entries, pos = [], 0
        for _ in range(count):
            entry, pos = self._parse_central(directory, pos)
            entries.append(entry)
        return entries, comment, cd_offset

    def _zip64_end(self, tail: bytes, at: int, tail_start: int) -> tuple[int, int, int]:
        """Entry count, directory size and offset from the zip64 end records."""
        loc = at - _EOCD64_LOCATOR.size
        if loc < 0 or tail[loc: loc + 4] != b"PK\x06\x07":
            raise PatchError("corrupt zip: missing zip64 locator")
        _, _, end64_offset, _ = _EOCD64_LOCATOR.unpack_from(tail, loc)
        self.f.seek(end64_offset)
        record = self.f.read(_EOCD64.size)
        if len(record) < _EOCD64.size or record[:4] != b"PK\x06\x06":
            raise PatchError("corrupt zip: bad zip64 end record")
        fields = _EOCD64.unpack(record)
        return fields[7], fields[8], fields[9]

    @staticmethod
    def _parse_central(directory: bytes, pos: int) -> tuple[_Entry, int]:
        """One central directory record starting at pos."""
        if directory[pos: pos + 4] != b"PK\x01\x02" or pos + _CENTRAL.size > len(directory):
            raise PatchError("corrupt zip: bad central directory record")
        fields = _CENTRAL.unpack_from(directory, pos)
        flags, method, crc, csize, usize = fields[5], fields[6], fields[9], fields[10], fields[11]
        name_len, extra_len, comment_len, offset = fields[12], fields[13], fields[14], fields[18]
        end = pos + _CENTRAL.size + name_len + extra_len + comment_len
        if end > len(directory):
            raise PatchError("corrupt zip: truncated central directory")
        record = directory[pos:end]
        raw_name = record[_CENTRAL.size: _CENTRAL.size + name_len]
        name = raw_name.decode("utf-8" if flags & 0x800 else "cp437")
        offset_at, offset_width = 42, 4
        if 0xFFFFFFFF in (csize, usize, offset):
            extra = record[_CENTRAL.size + name_len: _CENTRAL.size + name_len + extra_len]
            usize, csize, offset, offset_at = _zip64_fields(extra, usize, csize, offset)
            if offset_at >= 0:
                offset_at += _CENTRAL.size + name_len
                offset_width = 8
            else:
                offset_at = 42
        return _Entry(name, record, offset, offset_at, offset_width, method, flags, crc, csize, usize), end

    # ---- reading

    def entry(self, name: str) -> _Entry:
        """The member called name (zip names are case-insensitive in OOXML packages)."""
        entry = self.by_name.get(name) or self.by_lower.get(name.lower())
        if entry is None:
            raise PatchError(f"the workbook has no part {name!r}")
        return entry

    def has(self, name: str) -> bool:
        """Whether the package has a member called name."""
        return name in self.by_name or name.lower() in self.by_lower

    def _data_start(self, entry: _Entry) -> int:
        """Offset of the member's compressed data, after checking its local header."""
        self.f.seek(entry.offset)
        header = self.f.read(_LOCAL.size)
        if len(header) < _LOCAL.size or header[:4] != b"PK\x03\x04":
            raise PatchError(f"corrupt zip: bad local header for {entry.name!r}")
        name_len, extra_len = _LOCAL.unpack(header)[10:12]
        return entry.offset + _LOCAL.size + name_len + extra_len

    def chunks(self, entry: _Entry) -> Iterator[bytes]:
        """The member's uncompressed bytes in bounded chunks, CRC and size checked at the end."""
        if entry.flags & 0x1:
            raise PatchError(f"{entry.name!r} is encrypted")
        if entry.method not in (0, 8):
            raise PatchError(f"{entry.name!r} uses unsupported zip compression method {entry.method}")
        start = self._data_start(entry)
        inflate = zlib.decompressobj(-15) if entry.method == 8 else None
        crc = size = 0
        left = entry.csize
        pos = start
        while left or (inflate and inflate.unconsumed_tail):
            if inflate and inflate.unconsumed_tail:
                raw = inflate.unconsumed_tail
            else:
                self.f.seek(pos)
                raw = self.f.read(min(left, _CHUNK))
                if not raw:
                    raise PatchError(f"corrupt zip: {entry.name!r} is truncated")
                pos += len(raw)
                left -= len(raw)
            try:
                data = inflate.decompress(raw, _CHUNK) if inflate else raw
            except zlib.error as exc:
                raise PatchError(f"corrupt zip: cannot inflate {entry.name!r} ({exc})") from None
            if data:
                crc = zlib.crc32(data, crc)
                size += len(data)
                if size > entry.usize:
                    raise PatchError(f"corrupt zip: {entry.name!r} is larger than its directory says")
                yield data
        if crc != entry.crc or size != entry.usize:
            raise PatchError(f"corrupt zip: {entry.name!r} fails its CRC check")

    def read(self, name: str) -> bytes:
        """A small member's whole uncompressed bytes."""
        entry = self.entry(name)
        if entry.usize > _MAX_SMALL_PART:
            raise PatchError(f"{name!r} is implausibly large ({entry.usize} bytes)")
        return b"".join(self.chunks(entry))

    def xml(self, name: str):
        """A small XML member parsed with entity expansion refused."""
        try:
            return SafeET.fromstring(self.read(name))
        except (SafeET.ParseError, DefusedXmlException) as exc:
            raise PatchError(f"{name!r} is not valid or safe XML: {exc}") from None

    # ---- OPC relationships

    def _relationships(self, part: str) -> list[tuple[str, str, str]]:
        """(id, type, target part name) of the relationships of part."""
        rels_name = posixpath.join(posixpath.dirname(part), "_rels", posixpath.basename(part) + ".rels")
        if not self.has(rels_name):
            return []
        found = []
        for rel in self.xml(rels_name):
            if _local(rel.tag) != "Relationship" or rel.get("TargetMode") == "External":
                continue
            target = rel.get("Target", "")
            resolved = target.lstrip("/") if target.startswith("/") else posixpath.join(posixpath.dirname(part), target)
            found.append((rel.get("Id", ""), rel.get("Type", ""), posixpath.normpath(resolved)))
        return found

    def workbook_part(self) -> str:
        """Part name of the workbook, from the package relationships."""
        for _, rel_type, target in self._relationships(""):
            if _rel_kind(rel_type) == "officeDocument" and self.has(target):
                return self.entry(target).name
        if self.has("xl/workbook.xml"):
            return self.entry("xl/workbook.xml").name
        raise PatchError("not an Excel workbook: no xl/workbook.xml")

    def sheet_parts(self) -> dict[str, str]:
        """Worksheet name -> part name."""
        workbook = self.workbook_part()
        targets = {
            rel_id: target
            for rel_id, rel_type, target in self._relationships(workbook)
            if _rel_kind(rel_type) == "worksheet"
        }
        parts = {}
        for element in self.xml(workbook).iter():
            if _local(element.tag) != "sheet":
                continue
            rel_id = next((v for k, v in element.attrib.items() if _local(k) == "id"), None)
            if rel_id in targets and self.has(targets[rel_id]):
                parts[element.get("name", "")] = self.entry(targets[rel_id]).name
        return parts

    def calc_chain_removal(self) -> tuple[dict[str, bytes], set[str]]:
        """New bytes for content types and workbook rels without the calc chain, and the parts to drop."""
        workbook = self.workbook_part()
        chains = [(rid, target) for rid, t, target in self._relationships(workbook) if _rel_kind(t) == "calcChain"]
        if not chains:
            return {}, set()
        replaced, dropped = {}, set()
        rels_name = self.entry(posixpath.join(posixpath.dirname(workbook), "_rels", posixpath.basename(workbook) + ".rels")).name
        rels = self.read(rels_name)
        types = self.read("[Content_Types].xml")
        for rel_id, target in chains:
            rels = _drop_element(rels, b"Relationship", b"Id", rel_id.encode())
            types = _drop_element(types, b"Override", b"PartName", ("/" + target).encode())
            if self.has(target):
                dropped.add(self.entry(target).name)
        replaced[rels_name] = rels
        replaced[self.entry("[Content_Types].xml").name] = types
        return replaced, dropped

    # ---- writing

    def write(self, out: BinaryIO, patched: Mapping[str, _Patched], replaced: Mapping[str, bytes], dropped: set[str]) -> None:
        """Write the package to out: members in their original order, untouched ones as raw bytes."""
        writer = _ZipWriter(out)
        records: dict[str, bytes] = {}
        for entry in self.physical:
            if entry.name in dropped:
                continue
            if entry.name in patched:
                p = patched[entry.name]
                p.data.seek(0)
                deflated = itertools.chain([p.front], _file_chunks(p.data))
                records[entry.name] = writer.add(entry, p.crc, p.csize, p.usize, deflated)
            elif entry.name in replaced:
                data = replaced[entry.name]
                deflated = zlib.compress(data, COMPRESSION_LEVEL)[2:-4]
                records[entry.name] = writer.add(entry, zlib.crc32(data), len(deflated), len(data), [deflated])
            else:
                records[entry.name] = writer.copy(entry, self._raw(entry))
        writer.finish([records[e.name] for e in self.entries if e.name in records], self.comment)

    def _raw(self, entry: _Entry) -> Iterator[bytes]:
        """The member's local record (header, compressed data, descriptor) exactly as stored."""
        pos, left = entry.offset, entry.end - entry.offset
        while left:
            self.f.seek(pos)
            data = self.f.read(min(left, _CHUNK))
            if not data:
                raise PatchError(f"corrupt zip: {entry.name!r} is truncated")
            pos += len(data)
            left -= len(data)
            yield data


def _zip64_fields(extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int, int]:
    """Sizes and offset from a zip64 extra field, and where the offset is in extra (-1: not there)."""
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack_from("<2H", extra, pos)
        if tag == 1:
            at = pos + 4
            values = []
            for current in (usize, csize, offset):
                if current == 0xFFFFFFFF:
                    values.append((struct.unpack_from("<Q", extra, at)[0], at))
                    at += 8
                else:
                    values.append((current, -1))
            return values[0][0], values[1][0], values[2][0], values[2][1]
        pos += 4 + size
    raise PatchError("corrupt zip: zip64 sizes without a zip64 extra field")


def _file_chunks(f: BinaryIO) -> Iterator[bytes]:
    """A file's bytes in chunks."""
    while data := f.read(_CHUNK):
        yield data


class _ZipWriter:
    """Appends local records to out and finally writes the central directory."""

    def __init__(self, out: BinaryIO):
        self.out = out
        self.pos = 0

    def _put(self, data: bytes) -> None:
        self.out.write(data)
        self.pos += len(data)

    def copy(self, entry: _Entry, raw: Iterable[bytes]) -> bytes:
        """Copy a local record verbatim; return its directory record with the new offset."""
        offset = self.pos
        for data in raw:
            self._put(data)
        fmt = "<L" if entry.offset_width == 4 else "<Q"
        record = bytearray(entry.record)
        if entry.offset_width == 4 and offset > 0xFFFFFFFF:
            raise PatchError("the patched workbook would exceed 4 GiB")
        struct.pack_into(fmt, record, entry.offset_at, offset)
        return bytes(record)

    def add(self, entry: _Entry, crc: int, csize: int, usize: int, deflated: Iterable[bytes]) -> bytes:
        """Write a member we produced (deflated, fixed date); return its directory record."""
        if max(csize, usize, self.pos) > 0xFFFFFFFF:
            raise PatchError("the patched workbook would exceed 4 GiB")
        name = entry.record[_CENTRAL.size: _CENTRAL.size + struct.unpack_from("<H", entry.record, 28)[0]]
        flags = entry.flags & 0x800  # keep only "name is UTF-8"
        offset = self.pos
        self._put(_LOCAL.pack(b"PK\x03\x04", 20, 0, flags, 8, _DOS_TIME, _DOS_DATE, crc, csize, usize, len(name), 0) + name)
        for data in deflated:
            self._put(data)
        fields = list(_CENTRAL.unpack_from(entry.record))
        comment_len = fields[14]
        comment = entry.record[len(entry.record) - comment_len:] if comment_len else b""
        fields[3:13] = [20, 0, flags, 8, _DOS_TIME, _DOS_DATE, crc, csize, usize, len(name)]
        fields[13], fields[15], fields[18] = 0, 0, offset
        return _CENTRAL.pack(*fields) + name + comment

    def finish(self, records: list[bytes], comment: bytes) -> None:
        """Write the central directory and the end record."""
        start = self.pos
        for record in records:
            self._put(record)
        if len(records) > 0xFFFF or self.pos > 0xFFFFFFFF:
            raise PatchError("the patched workbook would need zip64")
        self._put(_EOCD.pack(b"PK\x05\x06", 0, 0, len(records), len(records), self.pos - start, start, len(comment)) + comment)


def _local(tag: str) -> str:
    """Local part of an ElementTree tag or attribute name."""
    return tag.rsplit("}", 1)[-1]


def _rel_kind(rel_type: str) -> str:
    """'worksheet', 'calcChain', ... from a relationship type URI (transitional or strict)."""
    for base in (_REL_TYPES, _STRICT_REL_TYPES):
        if rel_type.startswith(base):
            return rel_type[len(base):]
    return ""


def _drop_element(xml: bytes, tag: bytes, attr: bytes, value: bytes) -> bytes:
    """xml without the empty element <tag ... attr="value" .../>, every other byte kept."""
    prefix = rb"(?:[\w.-]+:)?"
    pattern = re.compile(
        rb"<" + prefix + tag + rb"\b[^>]*?\b" + attr + rb"\s*=\s*([\"'])" + re.escape(value)
        + rb"\1[^>]*?(?:/>|>\s*</" + prefix + tag + rb">)",
        re.IGNORECASE,
    )
    return pattern.sub(b"", xml)


# --------------------------------------------------------------------------- progress


class _Progress:
    """Reports rows done and an estimate of all rows, extrapolated from bytes read."""

    def __init__(self, callback: Callable[[int, int], None] | None, total_bytes: int):
        self.callback = callback
        self.total_bytes = max(total_bytes, 1)
        self.rows = 0
        self.bytes = 0
        self.reported = 0

    def advance(self, rows: int, nbytes: int) -> None:
        """Count rows and bytes; call back every _PROGRESS_EVERY rows."""
        self.rows += rows
        self.bytes += nbytes
        if self.callback and self.rows - self.reported >= _PROGRESS_EVERY:
            self.reported = self.rows
            estimate = self.rows * self.total_bytes // max(self.bytes, 1)
            self.callback(self.rows, max(estimate, self.rows))

    def done(self) -> None:
        """Final report: everything done."""
        if self.callback:
            self.callback(self.rows, self.rows)


# --------------------------------------------------------------------------- worksheet streaming


class _DeflateSink:
    """Deflates the worksheet text after the dimension value into a temporary file, in a thread."""

    # The <dimension> value near the top is only known after the last row, so the text
    # before it is compressed at the end as a separate, sync-flushed deflate stream that
    # goes in front: raw deflate streams concatenate that way. zlib releases the GIL, so
    # compressing in a worker overlaps it with the tokenizing; the bounded queue keeps
    # memory bounded when the compressor falls behind.

    def __init__(self):
        self.file = tempfile.TemporaryFile(prefix="mktsheets-")
        self.crc = 0
        self.size = 0
        self.csize = 0
        self.error: BaseException | None = None
        self.queue: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
        self.worker = threading.Thread(target=self._compress, name="mktsheets-deflate", daemon=True)
        self.worker.start()

    def write(self, data: bytes) -> None:
        """Queue data (text that follows the dimension value) for compression."""
        if self.error is not None:
            raise self.error
        if data:
            self.queue.put(data)

    def _compress(self) -> None:
        """Worker: compress queued data until the end marker; on failure keep draining."""
        deflate = zlib.compressobj(COMPRESSION_LEVEL, zlib.DEFLATED, -15)
        ended = False
        try:
            while (data := self.queue.get()) is not None:
                self.crc = zlib.crc32(data, self.crc)
                self.size += len(data)
                self._spill(deflate.compress(data))
            ended = True
            self._spill(deflate.flush())
        except BaseException as exc:  # handed to the writer thread, which raises it
            self.error = exc
            while not ended and self.queue.get() is not None:
                pass

    def _spill(self, data: bytes) -> None:
        if data:
            self.file.write(data)
            self.csize += len(data)

    def _finish(self) -> None:
        """Let the worker end and wait for it."""
        self.queue.put(None)
        self.worker.join()

    def abort(self) -> None:
        """Stop after a failure elsewhere and drop the temporary file."""
        self._finish()
        self.file.close()

    def close(self, head: bytes, formula_deleted: bool) -> _Patched:
        """Finish the member with head (the text up to the dimension value) in front."""
        self._finish()
        if self.error is not None:
            raise self.error
        front = b""
        crc = self.crc
        if head:
            front_deflate = zlib.compressobj(COMPRESSION_LEVEL, zlib.DEFLATED, -15)
            front = front_deflate.compress(head) + front_deflate.flush(zlib.Z_SYNC_FLUSH)
            crc = _crc32_concat(zlib.crc32(head), self.crc, self.size)
        return _Patched(front, self.file, crc, len(front) + self.csize, len(head) + self.size, formula_deleted)


def _crc32_concat(crc_a: int, crc_b: int, len_b: int) -> int:
    """CRC-32 of a+b from the CRCs of a and b."""
    # CRC-32 is affine in its register and input: continuing crc_a over len_b zero bytes
    # and cancelling the zeros' own contribution leaves exactly b's part to add.
    zeros = memoryview(bytes(min(len_b, _CHUNK)))
    shifted, plain = crc_a, 0
    left = len_b
    while left:
        n = min(left, len(zeros))
        shifted = zlib.crc32(zeros[:n], shifted)
        plain = zlib.crc32(zeros[:n], plain)
        left -= n
    return shifted ^ plain ^ crc_b


def _patch_sheet(package: _Package, part: str, rows: _SheetEdits, meter: _Progress) -> _Patched:
    """Stream one worksheet through the patcher into a deflated temporary file."""
    sink = _DeflateSink()
    try:
        patcher = _SheetPatcher(part, rows, sink, meter)
        head = patcher.run(package.chunks(package.entry(part)))
    except BaseException:
        sink.abort()
        raise
    try:
        return sink.close(head, patcher.formula_deleted)
    except BaseException:
        sink.file.close()
        raise


_SHEET_DATA = re.compile(rb"<(?:([A-Za-z_][\w.-]*):)?sheetData\b[^>]*?(/?)>")
_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?\bencoding\s*=\s*["']([^"']*)["']""")
_ATTR_R_ROW = re.compile(rb"""(?:^|\s)r\s*=\s*["']([0-9]+)["']""")
_ATTR_R_CELL = re.compile(rb"""(?:^|\s)r\s*=\s*["']([A-Za-z]{1,3})([0-9]+)["']""")
_ATTR_S = re.compile(rb"""(?:^|\s)s\s*=\s*["']([0-9]+)["']""")
_ATTR_SPANS = re.compile(rb"""(\sspans\s*=\s*["'])([0-9: ]*)(["'])""")
_ATTR_SHARED = re.compile(rb"""\bt\s*=\s*["']shared["']""")
_ATTR_SI = re.compile(rb"""\bsi\s*=\s*["']([0-9]+)["']""")
_ATTR_REF = re.compile(rb"""\bref\s*=\s*["']([^"']*)["']""")


class _Tokens:
    """Compiled patterns and literal tags for one namespace prefix ('' or 'x:')."""

    def __init__(self, prefix: bytes):
        p = re.escape(prefix)
        self.prefix = prefix
        self.text_prefix = prefix.decode("ascii")
        self.row_open = re.compile(rb"\s*<" + p + rb"row\b([^>]*?)(/?)>")
        self.row_close = b"</" + prefix + b"row>"
        self.data_close = re.compile(rb"\s*</" + p + rb"sheetData\s*>")
        # One entry per cell: its column letters in the common form <c r="A1" ...>, else b''.
        self.cell_refs = re.compile(rb"<" + p + rb"c(?: r=\"([A-Z]{1,3})[0-9]+\"|[\s/>])")
        self.cell_open = re.compile(rb"<" + p + rb"c(?=[\s/>])")
        self.cell_sep = b"<" + prefix + b"c "
        self.cell_lt = b"<" + prefix + b"c"  # also starts <color> in rich text: then the general path
        self.cell_ref_start = b"<" + prefix + b'c r="'
        self.cell_close = b"</" + prefix + b"c>"
        self.formula_open = b"<" + prefix + b"f"
        self.formula = re.compile(rb"<" + p + rb"f\b([^>]*?)(?:/>|>(.*?)</" + p + rb"f>)", re.DOTALL)
        self.dimension = re.compile(rb"<" + p + rb"dimension\b[^>]*?\bref\s*=\s*([\"'])(.*?)\1")


class _SheetPatcher:
    """Rewrites the named cells of one worksheet while copying every other byte."""

    def __init__(self, part: str, edits: _SheetEdits, sink: _DeflateSink, meter: _Progress):
        self.part = part
        self.edits = edits
        self.sink = sink
        self.meter = meter
        self.tracked = {col for col, _ in edits.columns}
        self.ref_starts: dict[int, bytes] = {}  # col -> b'<c r="W', set once the prefix is known
        # col -> the last cell seen in it (its text, or a row body and where it starts there),
        # for the style of new cells below
        self.above: dict[int, bytes | tuple[bytes, int]] = {}
        self.styles = _StyleNames()
        self.style_bytes = _StyleBytes()
        self.slots: dict[int, int] = {}  # col -> where its cell was in the last row split at "<c "
        self.shared: dict[bytes, tuple[str, int, int]] = {}  # si -> (formula, row, col) of edited masters
        self.formula_deleted = False
        self.row = 0
        self.extent = [MAX_ROW + 1, 0, MAX_COL + 1, 0]  # min row, max row, min col, max col
        self.t: _Tokens

    # ---- driver

    def run(self, chunks: Iterable[bytes]) -> bytes:
        """Stream the sheet into the sink; return the head (text up to the dimension value)."""
        chunks = iter(chunks)
        buf, data_tag = self._prolog(chunks)
        self.t = _Tokens(data_tag.group(1) + b":" if data_tag.group(1) else b"")
        self.ref_starts = {col: self.t.cell_ref_start + _COL_BYTES[col] for col in self.tracked}
        self.edits.prefix = self.t.prefix
        prolog = buf[: data_tag.start()]
        dimension = self.t.dimension.search(prolog)
        head = prolog[: dimension.start(2)] if dimension else b""
        self.sink.write(prolog[dimension.end(2):] if dimension else prolog)
        rest = buf[data_tag.end():]
        if data_tag.group(2):  # <sheetData/>: no rows at all
            tag = data_tag.group()
            rows = self._new_rows(1, MAX_ROW + 1)
            if rows:
                self.sink.write(tag[:-2] + b">" + rows + b"</" + self.t.prefix + b"sheetData>")
            else:
                self.sink.write(tag)
        else:
            self.sink.write(data_tag.group())
            rest = self._rows(rest, chunks)
        self.sink.write(rest)
        for chunk in chunks:
            self.sink.write(chunk)
        return head + self._dimension_ref() if dimension else b""

    def _prolog(self, chunks: Iterator[bytes]) -> tuple[bytes, re.Match]:
        """Read up to the <sheetData> tag, refusing DTDs and non-UTF-8 encodings."""
        buf = b""
        for chunk in chunks:
            buf += chunk
            found = _SHEET_DATA.search(buf)
            if found:
                self._check_prolog(buf[: found.start()])
                return buf, found
            if len(buf) > _MAX_PROLOG:
                break
        raise PatchError(f"{self.part}: no <sheetData> element: not a worksheet")

    def _check_prolog(self, prolog: bytes) -> None:
        """Refuse what a byte-level patcher cannot handle safely."""
        if b"<!DOCTYPE" in prolog or b"<!ENTITY" in prolog:
            raise PatchError(f"{self.part}: refusing a worksheet with a DOCTYPE or entity declarations")
        if prolog.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise PatchError(f"{self.part}: UTF-16 worksheets are not supported")
        declared = _ENCODING.match(prolog.removeprefix(b"\xef\xbb\xbf"))
        if declared and declared.group(1).lower() not in (b"utf-8", b"utf8"):
            raise PatchError(f"{self.part}: worksheet encoding {declared.group(1).decode(errors='replace')} is not supported")

    def _rows(self, buf: bytes, chunks: Iterator[bytes]) -> bytes:
        """Process rows until </sheetData>; return the unprocessed text after it."""
        while True:
            out: list[bytes] = []
            pos, finished, rows = self._complete_rows(buf, out)
            self.sink.write(b"".join(out))
            self.meter.advance(rows, pos)
            if finished:
                return buf[pos:]
            chunk = next(chunks, None)
            if chunk is None:
                raise PatchError(f"{self.part}: truncated worksheet (no </sheetData>)")
            if len(buf) - pos > _MAX_ROW_BYTES:
                raise PatchError(f"{self.part}: row {self.row + 1} is larger than {_MAX_ROW_BYTES >> 20} MiB")
            buf = buf[pos:] + chunk

    def _complete_rows(self, buf: bytes, out: list[bytes]) -> tuple[int, bool, int]:
        """Handle every complete row in buf; (position reached, whether </sheetData> was reached, rows)."""
        t = self.t
        pos = 0
        rows = 0
        markup = buf.find(b"<!")  # comments and CDATA would fool the tokenizer
        while True:
            m = t.row_open.match(buf, pos)
            if m is None:
                end = t.data_close.match(buf, pos)
                if end is not None:
                    out.append(self._new_rows(self.row + 1, MAX_ROW + 1))
                    out.append(buf[pos: end.end()])
                    return end.end(), True, rows
                if buf.find(b">", pos) >= 0:  # a complete tag that is neither <row> nor </sheetData>
                    snippet = buf[pos: pos + 60].decode("utf-8", "replace")
                    raise PatchError(f"{self.part}: unexpected XML after row {self.row}: {snippet!r}")
                return pos, False, rows
            if m.group(2):
                body, close, end = b"", b"", m.end()
            else:
                close_at = buf.find(t.row_close, m.end())
                if close_at < 0:
                    return pos, False, rows
                body, close, end = buf[m.end(): close_at], t.row_close, close_at + len(t.row_close)
            previous = self.row
            number = self._row_number(m.group(1))
            out.append(self._new_rows(previous + 1, number))
            if 0 <= markup < end:
                raise PatchError(f"{self.part}: row {number} holds an XML comment or CDATA, which is not supported")
            out.append(self._row(number, buf[pos: m.end()], body, close))
            rows += 1
            pos = end

    def _row_number(self, attrs: bytes) -> int:
        """This row's number: its r attribute, else the one after the previous row."""
        found = _ATTR_R_ROW.search(attrs)
        number = int(found.group(1)) if found else self.row + 1
        if not self.row < number <= MAX_ROW:
            raise PatchError(f"{self.part}: row {number} is out of order (after row {self.row})")
        self.row = number
        return number

    # ---- rows

    def _new_rows(self, first: int, stop: int) -> bytes:
        """New rows for the edited row numbers first..stop-1, which the sheet does not have."""
        if first >= stop:
            return b""
        made = []
        for number in self.edits.between(first, stop):
            written = {
                col: self._cell(number, col, self._style_for(col, write), write)
                for col, write in self.edits.row(number)
                if not _is_deletion(write)
            }
            if written:
                p = self.t.prefix
                made.append(b'<%srow r="%d">%s</%srow>' % (p, number, b"".join(written.values()), p))
                self._extend(number, min(written), max(written))
                self.above.update(written)
        return b"".join(made)

    def _row(self, number: int, open_tag: bytes, body: bytes, close: bytes) -> bytes:
        """One existing row, rewritten if it has edits or dependents of a dissolved shared formula."""
        if self.edits.edited(number):
            edit_cols, writes, heads = self.edits.row_split(number)
            fast = self._replace_in_place(number, body, edit_cols, writes, heads) if edit_cols else None
            if fast is not None:
                return open_tag + fast + close
            edits = self.edits.row(number)
        else:
            if not (self.shared and _ATTR_SHARED.search(body)):
                self._pass_through(number, body)
                return open_tag + body + close
            edits = None
        lead, cells, cols = self._cells(body, number)
        lead, first, last, inserted = self._apply(number, lead, cells, cols, edits or [])
        if first:
            self._extend(number, first, last)
            if inserted:
                open_tag = _widen_spans(open_tag, first, last)
        if not close:  # <row .../> that gained cells
            if not (lead or cells):
                return open_tag
            open_tag = open_tag[: open_tag.rfind(b"/")] + b">"
            close = self.t.row_close
        return open_tag + lead + b"".join(cells) + close

    def _pass_through(self, number: int, body: bytes) -> None:
        """Note an untouched row's extent and the cells that new cells below may take a style from."""
        t = self.t
        first = t.cell_refs.search(body)
        if first is None:
            return
        last = t.cell_refs.match(body, body.rfind(t.cell_lt))
        if first.group(1) and last and last.group(1):
            # Cells are in column order (Excel requires it), so the ends give the extent.
            self._extend(number, _COLUMNS[first.group(1)], _COLUMNS[last.group(1)])
            suffix = b'%d"' % number
            for col, start in self.ref_starts.items():
                at = body.find(start + suffix)
                if at >= 0:
                    self.above[col] = (body, at)
            return
        _, cells, cols = self._cells(body, number)
        self._extend(number, min(cols), max(cols))
        for col, text in zip(cols, cells):
            if col in self.tracked:
                self.above[col] = text

    def _replace_in_place(self, number: int, body: bytes, cols: tuple[int, ...],
                          writes: tuple[CellWrite | bytes, ...], heads: tuple[bytes | None, ...]) -> bytes | None:
        """The new row body when every edited cell exists as <c r="..." ...>, else None."""
        # The common case of a recalc, done without tokenizing the other cells: the row is
        # split at each "<c " and the edited cells are found at the piece they were in the
        # row before (rows of a sheet mostly share one layout), else by a search. A missing
        # cell, a deletion, unusual markup or a shared formula leave the row to the general
        # path, which redoes it whole (what was noted so far, the styles above and the
        # calc-chain flag, it notes again the same way).
        if self.shared or len(cols) != len(self.tracked) or b"shared" in body:
            return None  # shared formulas: the general path rewrites their dependents
        t = self.t
        pieces = body.split(t.cell_sep)
        count = len(pieces)
        if count < 2 or t.cell_lt in pieces[0] or t.cell_lt in pieces[-1]:
            return None  # the row's ends are odd: <c> without attributes, a tab after "<c", <color>
        first = _PIECE_REF.match(pieces[1])
        last = _PIECE_REF.match(pieces[-1])
        if not (first and last):
            return None
        close, above, styles, slots, seen = t.cell_close, self.above, self.style_bytes, self.slots, self.edits.styles
        numq = b'%d"' % number
        for col, write, head in zip(cols, writes, heads):
            ref = _REF_PREFIX[col] + numq
            k = slots.get(col, 0)
            if k >= count or not pieces[k].startswith(ref):
                k = _find_piece(pieces, ref)
                if k < 0:
                    return None
                slots[col] = k
            piece = pieces[k]
            # A piece is the cell and what follows it up to the next "<c ": usually nothing,
            # but an odd cell (<c> without attributes) stays behind the end found here.
            gt = piece.find(b">")
            if gt < 0:
                return None
            if piece[gt - 1] == 0x2F:  # <c .../>
                end = gt + 1
            else:
                end = piece.find(close, gt)
                if end < 0:
                    raise PatchError(f"{self.part}: a cell in row {number} is not closed")
                end += len(close)
            if type(write) is bytes:
                at = len(ref)
                if head is not None:
                    if piece.startswith(head, at) and piece[at + len(head)] in _AFTER_STYLE:
                        above[col] = write  # the cell as made, with the style it had
                        pieces[k] = write if end == len(piece) else write + piece[end:]
                        continue
                    write = write[at + len(head):]
                if piece.startswith(b' s="', at) and piece.find(b'"', at + 4) == gt - 1:
                    style = seen[col] = styles[piece[at + 4: gt - 1]]
                    new = ref + b' s="' + style + b'"' + write
                else:
                    s_at = piece.find(b' s="', 0, gt)
                    if s_at >= 0:
                        style = seen[col] = styles[piece[s_at + 4: piece.find(b'"', s_at + 4)]]
                        new = ref + b' s="' + style + b'"' + write
                    else:  # s='4', a tab before s, or no style at all
                        odd = self._style_of(piece)
                        new = ref + (b' s="%s"' % odd.encode() if odd is not None else b"") + write
            else:
                if write.formula is None:
                    if write.value is None:
                        return None
                    if t.formula.search(piece, gt, end):
                        self.formula_deleted = True
                style = write.style
                if style is None:
                    style = self._style_of(piece)
                new = self._cell(number, col, style, write)[len(t.cell_sep):]
            above[col] = new
            pieces[k] = new if end == len(piece) else new + piece[end:]
        self._extend(number, _COLUMNS[first.group(1)], _COLUMNS[last.group(1)])
        return t.cell_sep.join(pieces)

    def _cells(self, body: bytes, number: int) -> tuple[bytes, list[bytes], list[int]]:
        """Split a row body into the text before the first cell and the cells, each with the text after it."""
        refs = self.t.cell_refs.findall(body)
        if not refs:
            return body, [], []
        if b"" not in refs:  # every cell is <c r="A1" ...>: split without a regex per cell
            sep = self.t.cell_sep
            pieces = body.split(sep)
            return pieces[0], [sep + p for p in pieces[1:]], [_COLUMNS[x] for x in refs]
        # Unusual forms (<c> without attributes, r not first, single quotes): one cell at a time;
        # a cell without r is the one after the previous cell.
        starts = [m.start() for m in self.t.cell_open.finditer(body)]
        cells = [body[a:b] for a, b in zip(starts, starts[1:] + [len(body)])]
        cols, col = [], 0
        for text in cells:
            ref = _ATTR_R_CELL.search(text, 0, max(text.find(b">"), 0))
            col = _COLUMNS[ref.group(1)] if ref else col + 1
            cols.append(col)
        return body[: starts[0]], cells, cols

    def _apply(self, number: int, lead: bytes, cells: list[bytes], cols: list[int], edits: list[tuple[int, CellWrite]]):
        """Apply a row's edits to its cells in place; return (lead, first col, last col, inserted?)."""
        index = dict(zip(cols, range(len(cols))))
        ends: dict[int, int] = {}  # cell index -> end of its new element (the text after it follows)
        added: dict[int, bytes] = {}  # col -> new cell for a column the row did not have
        deleted: set[int] = set()
        for col, write in edits:
            i = index.get(col)
            if i is None:
                if not _is_deletion(write):
                    added[col] = self._cell(number, col, self._style_for(col, write), write)
                continue
            cells[i], ends[i] = self._rewrite(number, col, cells[i], write)
            if not ends[i]:
                deleted.add(i)
        if self.shared:
            self._rewrite_dependents(number, cells, cols, ends)
        if deleted:
            self._pin_followers(number, cells, cols, deleted)
        if added:
            lead = self._insert(number, lead, cells, cols, ends, added)
        self._remember(cells, index, deleted, added)
        present = [col for i, col in enumerate(cols) if i not in deleted] if deleted else cols
        if added:
            present = present + list(added)
        if not present:
            return lead, 0, 0, False
        return lead, min(present), max(present), bool(added)

    def _rewrite(self, number: int, col: int, text: bytes, write: CellWrite) -> tuple[bytes, int]:
        """An existing cell (text, with what follows it) rewritten, and where its new element ends (0: deleted)."""
        end = self._cell_end(text, number)
        removed = type(write) is not bytes and write.formula is None
        if text.find(b"shared", 0, end) >= 0 or (removed and text.find(self.t.formula_open, 0, end) >= 0):
            self._replacing_formula(text, end, number, col, removed)
        style = self._style_of(text) if type(write) is bytes or write.style is None else write.style
        new = b"" if _is_deletion(write) else self._cell(number, col, style, write)
        return new + text[end:], len(new)

    def _insert(
        self, number: int, lead: bytes, cells: list[bytes], cols: list[int], ends: dict[int, int], added: dict[int, bytes]
    ) -> bytes:
        """Put new cells between the existing ones by column; return the new lead."""
        if any(a >= b for a, b in zip(cols, cols[1:])):
            raise PatchError(f"{self.part}: the cells of row {number} are not in column order")
        slots: dict[int, list[bytes]] = {}
        for col in sorted(added):
            slots.setdefault(bisect.bisect_left(cols, col), []).append(added[col])
        for slot, new in slots.items():
            if slot == 0:
                lead = b"".join(new) + lead
                continue
            text = cells[slot - 1]
            end = ends[slot - 1] if slot - 1 in ends else self._cell_end(text, number)
            cells[slot - 1] = text[:end] + b"".join(new) + text[end:]
        return lead

    def _pin_followers(self, number: int, cells: list[bytes], cols: list[int], deleted: set[int]) -> None:
        """Give a cell without r after a deleted cell its reference, or it would move left."""
        for i in deleted:
            following = i + 1
            if following < len(cells) and following not in deleted:
                text = cells[following]
                if not _ATTR_R_CELL.search(text, 0, max(text.find(b">"), 0)):
                    at = len(self.t.cell_sep) - 1
                    ref = b' r="%s%d"' % (_COL_LETTERS[cols[following]].encode(), number)
                    cells[following] = text[:at] + ref + text[at:]

    def _rewrite_dependents(self, number: int, cells: list[bytes], cols: list[int], edited: Mapping[int, int]) -> None:
        """Give cells that shared an edited master's formula a formula of their own."""
        for i, text in enumerate(cells):
            if i in edited or b"shared" not in text:
                continue
            end = self._cell_end(text, number)
            f = self.t.formula.search(text, 0, end)
            if f is None or not _ATTR_SHARED.search(f.group(1)) or _ATTR_REF.search(f.group(1)):
                continue
            si = _ATTR_SI.search(f.group(1))
            if si is None or si.group(1) not in self.shared:
                continue
            formula, row, col = self.shared[si.group(1)]
            moved = _xml_text(shift_formula(formula, number - row, cols[i] - col)).encode()
            p = self.t.prefix
            cells[i] = text[: f.start()] + b"<%sf>%s</%sf>" % (p, moved, p) + text[f.end():]

    def _replacing_formula(self, text: bytes, end: int, number: int, col: int, removed: bool) -> None:
        """Note that the cell's formula goes away (calc chain) or was a shared master (dependents)."""
        old = self.t.formula.search(text, 0, end)
        if old is not None:
            self._dissolve(old, number, col)
            self.formula_deleted |= removed

    def _dissolve(self, formula: re.Match, number: int, col: int) -> None:
        """Remember the formula of a shared-formula master that is being overwritten."""
        attrs = formula.group(1)
        si = _ATTR_SI.search(attrs)
        if _ATTR_SHARED.search(attrs) and _ATTR_REF.search(attrs) and si and formula.group(2) is not None:
            self.shared[si.group(1)] = (_unescape(formula.group(2)), number, col)

    def _cell_end(self, text: bytes, number: int) -> int:
        """Where the <c> element at the start of text ends."""
        gt = text.find(b">")
        if gt > 0 and text[gt - 1] == 0x2F:  # "/>": an empty cell
            return gt + 1
        close = text.find(self.t.cell_close, gt) if gt > 0 else -1
        if close < 0:
            raise PatchError(f"{self.part}: a cell in row {number} is not closed")
        return close + len(self.t.cell_close)

    def _style_of(self, text: bytes) -> str | None:
        """The s attribute of the cell at the start of text."""
        gt = max(text.find(b">"), 0)
        at = text.find(b' s="', 0, gt)
        if at >= 0:  # the usual form, found without a regex
            return self.styles[text[at + 4: text.find(b'"', at + 4)]]
        found = _ATTR_S.search(text, 0, gt)
        return found.group(1).decode("ascii") if found else None

    def _style_for(self, col: int, write: CellWrite) -> int | str | None:
        """Style of a new cell: the requested one, else that of the nearest cell above."""
        if type(write) is not bytes and write.style is not None:
            return write.style
        seen = self.above.get(col)
        if isinstance(seen, tuple):
            body, at = seen
            seen = body[at:]
        return None if seen is None else self._style_of(seen)

    def _remember(self, cells: list[bytes], index: dict[int, int], deleted: set[int], added: dict[int, bytes]) -> None:
        """Note this row's cells in the tracked columns for the style of new cells below."""
        for col in self.tracked.intersection(index):
            if index[col] not in deleted:
                self.above[col] = cells[index[col]]
        self.above.update(added)

    def _extend(self, number: int, first: int, last: int) -> None:
        """Grow the used range to row number, columns first..last."""
        extent = self.extent
        extent[0] = min(extent[0], number)
        extent[1] = max(extent[1], number)
        extent[2] = min(extent[2], first)
        extent[3] = max(extent[3], last)

    def _dimension_ref(self) -> bytes:
        """The used range for <dimension ref>: 'A1' for an empty sheet."""
        top, bottom, left, right = self.extent
        if not bottom:
            return b"A1"
        start, end = f"{_COL_LETTERS[left]}{top}", f"{_COL_LETTERS[right]}{bottom}"
        return (start if start == end else f"{start}:{end}").encode()

    def _cell(self, number: int, col: int, style: int | str | None, write: CellWrite) -> bytes:
        """The <c> element for a write."""
        p = self.t.text_prefix
        if style is None:
            head = f'<{p}c r="{_COL_LETTERS[col]}{number}"'
        else:
            head = f'<{p}c r="{_COL_LETTERS[col]}{number}" s="{style}"'
        if type(write) is bytes:  # the finished tail of a column write's cell
            return head.encode() + write
        formula, value = write.formula, write.value
        if formula is not None:
            if formula.startswith("="):
                raise ValueError(f"formula for row {number} must be given without the leading '=': {formula!r}")
            if not _plain(formula):
                formula = _xml_text(formula)
            if value is None:
                return f"{head}><{p}f>{formula}</{p}f></{p}c>".encode()
            if type(value) is float and value and math.isfinite(value):  # the common case, inline
                text = repr(value)
                if text.endswith(".0"):
                    text = text[:-2]
                return f"{head}><{p}f>{formula}</{p}f><{p}v>{text}</{p}v></{p}c>".encode()
            kind, text = _value_text(value)
            return f"{head}{kind}><{p}f>{formula}</{p}f><{p}v>{text}</{p}v></{p}c>".encode()
        if isinstance(value, str):
            space = ' xml:space="preserve"' if value != value.strip() else ""
            return f'{head} t="inlineStr"><{p}is><{p}t{space}>{_xml_text(value)}</{p}t></{p}is></{p}c>'.encode()
        kind, text = _value_text(value)
        return f"{head}{kind}><{p}v>{text}</{p}v></{p}c>".encode()


def _is_deletion(write: CellWrite | bytes) -> bool:
    """Whether a write removes its cell."""
    return type(write) is not bytes and write.formula is None and write.value is None


def _widen_spans(open_tag: bytes, first: int, last: int) -> bytes:
    """A row tag whose spans hint (if any) covers columns first..last."""
    found = _ATTR_SPANS.search(open_tag)
    if not found:
        return open_tag
    bounds = [int(x) for x in re.split(rb"[: ]+", found.group(2).strip()) if x]
    low, high = min(bounds + [first]), max(bounds + [last])
    if bounds and (low, high) == (min(bounds), max(bounds)):
        return open_tag
    return open_tag[: found.start(2)] + b"%d:%d" % (low, high) + open_tag[found.end(2):]
