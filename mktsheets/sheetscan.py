"""Stream a worksheet's XML once and keep only what the reader needs.

A data sheet of 100k rows is a few hundred MB of XML, mostly formulas. Reading it cell by cell in
Python (or materialising every cell as a Python object, as calamine's ``to_python`` does) costs
seconds and hundreds of MB. Here the zip member is decompressed in chunks of whole rows and each
chunk goes through one compiled regex that names
the wanted column letters, so the regex engine skips every other cell and Python code runs only
for the cells that matter:

* the cells of the input columns (their values, as python-calamine gives them: str, float, bool,
  date/datetime/time/timedelta for date-formatted numbers; error cells as their text "#DIV/0!");
* cells of the computed and helper columns that hold a value but no formula (typed over a formula);
* the last row that holds a formula anywhere on the sheet (from the last ``<f`` of each chunk).

The first rows (where the header is searched) are read whole first, so the caller can decide the
columns before the rest is streamed. A chunk that the fast patterns cannot vouch for (cells
without an ``r`` attribute or with ``r`` not first, a column reference that is not ``A1`` style)
is read by a general per-cell tokenizer with implicit numbering instead, as is every chunk of a
sheet whose elements carry a namespace prefix (``<x:c>``). The ``<dimension>`` element is never
looked at (WPS writes a wrong one).

Values follow python-calamine 0.9 (checked by tests/test_sheetscan.py against it), except where
calamine gives up: an error cell gives its text (calamine: blank), an unknown error text or cell
type gives the text, a shared-string index out of range gives a blank (calamine refuses the whole
sheet), a date-formatted number beyond ±1e11 days gives "#VALUE!" (calamine panics on some; Excel
shows ####), a duration beyond Python's timedelta gives the number (calamine raises). Rows are
taken to come in ascending order, as the format requires, for the last formula row; a sheet whose
first rows carry no namespace prefix is taken to carry none further down.
"""
from __future__ import annotations

import datetime as _dt
import operator
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import PurePosixPath

from defusedxml import ElementTree as SafeET

from .layout import col_index as _col_index, col_letter

CHUNK = 1 << 20                 # bytes of decompressed XML per read
_CACHE_MAX = 1 << 16            # distinct number texts remembered per cell style

_PFX = rb"(?:[A-Za-z_][\w.-]*:)?"          # an optional namespace prefix
DATE, DURATION = "date", "duration"

# ----------------------------------------------------------------- letters

def col_index(letters: str | bytes) -> int:
    """0-based column index of column letters, as found in the XML (bytes) or as text."""
    return _col_index(letters if isinstance(letters, str) else letters.decode("ascii"))


def _letters_from(n: int) -> bytes:
    """Regex alternation matching the column letters of index n or more (A1 style, up to 3 letters)."""
    first = col_letter(n)
    k = len(first)
    alts = [rb"[A-Z]{%d,3}" % (k + 1)] if k < 3 else []
    for i in range(k):
        nxt = chr(ord(first[i]) + 1)
        if nxt <= "Z":
            alts.append(first[:i].encode() + b"[" + nxt.encode() + b"-Z]" + (rb"[A-Z]{%d}" % (k - i - 1) if k - i - 1 else b""))
    alts.append(first.encode())
    return b"(?:" + b"|".join(alts) + b")"


# ----------------------------------------------------------------- text

_ENTITY = re.compile(r"&(?:(amp|lt|gt|quot|apos)|#([0-9]+)|#[xX]([0-9a-fA-F]+));")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_X_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_CDATA = re.compile(rb"<!\[CDATA\[(.*?)\]\]>", re.S)


def _entity(m: re.Match) -> str:
    if m.group(1):
        return _NAMED[m.group(1)]
    try:
        return chr(int(m.group(2)) if m.group(2) else int(m.group(3), 16))
    except (ValueError, OverflowError):
        return m.group(0)


def xml_text(raw: bytes) -> str:
    """Character data as an XML parser gives it (line ends normalised, references resolved),
    then Excel's ``_xHHHH_`` escapes undone."""
    if b"<![CDATA[" in raw:
        raw = _CDATA.sub(lambda m: m.group(1).replace(b"&", b"&amp;").replace(b"<", b"&lt;"), raw)
    s = raw.decode("utf-8", "replace")
    if "\r" in s:
        s = s.replace("\r\n", "\n").replace("\r", "\n")
    if "&" in s:
        s = _ENTITY.sub(_entity, s)
    if "_x" in s:
        s = _X_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), s)
    return s


_RPH = re.compile(rb"<" + _PFX + rb"rPh\b[^>]*?(?:/>|>.*?</" + _PFX + rb"rPh>)", re.S)
_T = re.compile(rb"<" + _PFX + rb"t\b[^>]*?(?:/>|>(.*?)</" + _PFX + rb"t>)", re.S)
_T_PLAIN = re.compile(rb'<t(?: xml:space="preserve")?>([^<]*)</t>')


def rich_text(body: bytes) -> str:
    """The text of an ``<si>`` or ``<is>`` element: every ``<t>`` outside phonetic runs, joined."""
    m = _T_PLAIN.fullmatch(body)
    if m:
        return xml_text(m.group(1))
    if b"rPh" in body:
        body = _RPH.sub(b"", body)
    return "".join(xml_text(t) for t in _T.findall(body))


# ----------------------------------------------------------------- package

@dataclass
class BookInfo:
    """What every sheet's cells refer to: shared strings, number formats, the date system."""

    strings: list[str] = field(default_factory=list)
    date_styles: dict[int, str] = field(default_factory=dict)     # cellXfs index -> DATE | DURATION
    date1904: bool = False

    def __post_init__(self):
        self._style_bytes = {str(i).encode(): k for i, k in self.date_styles.items()}


_BUILTIN_DATES = set(range(14, 23)) | set(range(27, 37)) | {45, 47} | set(range(50, 59))


def format_kind(code: str) -> str | None:
    """DATE, DURATION or None for a number format code (calamine's detect_custom_number_format)."""
    escaped = quoted = ap = hms = False
    brackets = 0
    prev = " "
    for ch in code:
        if escaped:
            escaped = False
        elif ch in "_\\*":
            escaped = True
        elif quoted:
            if ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == ";":
            return None                      # the first section decides
        elif ch == "[":
            brackets += 1
        elif ch == "]" and brackets == 1 and hms:
            return DURATION
        elif ch == "]":
            brackets = max(0, brackets - 1)
        elif ch in "aA" and not ap and brackets == 0:
            ap = True
        elif ap and brackets == 0 and ch in "pm/PM":
            return DATE
        elif not ap and brackets == 0 and ch in "dmhysDMHYS":
            return DATE
        elif not (hms and ch.lower() == prev.lower()):
            hms = prev == "[" and ch in "mhsMHS"
        prev = ch
    return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _date_styles(zf: zipfile.ZipFile, styles_part: str) -> dict[int, str]:
    try:
        root = SafeET.fromstring(zf.read(styles_part))
    except KeyError:
        return {}
    custom: dict[str, str] = {}
    out: dict[int, str] = {}
    for el in root:
        name = _local(el.tag)
        if name == "numFmts":
            for nf in el:
                if _local(nf.tag) == "numFmt" and nf.get("formatCode"):
                    custom[nf.get("numFmtId", "")] = nf.get("formatCode")
        elif name == "cellXfs":
            for i, xf in enumerate(x for x in el if _local(x.tag) == "xf"):
                fid = xf.get("numFmtId")
                if fid is None:
                    continue
                if fid in custom:
                    kind = format_kind(custom[fid])
                else:
                    try:
                        n = int(fid)
                    except ValueError:
                        continue
                    kind = DURATION if n == 46 else DATE if n in _BUILTIN_DATES else None
                if kind:
                    out[i] = kind
    return out


def _shared_strings(zf: zipfile.ZipFile, part: str) -> list[str]:
    try:
        data = zf.read(part)
    except KeyError:
        return []
    si = re.compile(rb"<" + _PFX + rb"si\b[^>]*?(?:/>|>(.*?)</" + _PFX + rb"si>)", re.S)
    return [rich_text(body) if body else "" for body in si.findall(data)]


def _workbook_targets(zf: zipfile.ZipFile) -> dict[str, str]:
    """Relationship type (last path segment) -> part, of xl/workbook.xml."""
    try:
        rels = SafeET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    except KeyError:
        return {}
    out = {}
    for r in rels:
        target, kind = r.get("Target", ""), r.get("Type", "").rsplit("/", 1)[-1]
        part = target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
        out.setdefault(kind, _normalise(part))
    return out


def _normalise(part: str) -> str:
    parts: list[str] = []
    for p in part.split("/"):
        if p == "..":
            if parts:
                parts.pop()
        elif p not in ("", "."):
            parts.append(p)
    return "/".join(parts)


def load_book(zf: zipfile.ZipFile) -> BookInfo:
    targets = _workbook_targets(zf)
    date1904 = False
    try:
        wb = SafeET.fromstring(zf.read("xl/workbook.xml"))
        for el in wb:
            if _local(el.tag) == "workbookPr":
                date1904 = el.get("date1904", "").lower() in ("1", "true")
    except KeyError:
        pass
    return BookInfo(_shared_strings(zf, targets.get("sharedStrings", "xl/sharedStrings.xml")),
                    _date_styles(zf, targets.get("styles", "xl/styles.xml")), date1904)


# ----------------------------------------------------------------- numbers and dates

_EPOCH = _dt.datetime(1899, 12, 30)
_MS_DAY = 86_400_000
_I64 = 2 ** 63
# chrono's NaiveDate range (years -262144..262143) as days from 1899-12-30: calamine's limits for times
_CHRONO_MIN = (_dt.date(256, 1, 1).toordinal() - 656 * 146097) - _EPOCH.toordinal()
_CHRONO_MAX = (_dt.date(143, 12, 31).toordinal() + 655 * 146097) - _EPOCH.toordinal()
_NUMBER = re.compile(rb"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?:inf|infinity|nan)", re.I)


def _round(x: float) -> int:
    """Rust's f64::round (half away from zero), as an int."""
    n = int(x)
    d = x - n
    if d >= 0.5:
        n += 1
    elif d <= -0.5:
        n -= 1
    return n


def excel_date(x: float, kind: str, date1904: bool = False):
    """A date-formatted number as python-calamine gives it: timedelta for durations, time below 1,
    date for whole numbers, datetime otherwise; the number itself when it is no date Python has.

    Beyond ±1e11 days (where calamine panics on some) it is "#VALUE!", as the reader always gave
    it: Excel shows such a cell as ####, so it becomes a problem of its cell, not a number.
    """
    if x != x or x in (float("inf"), float("-inf")) or abs(x) >= 1e11:
        return "#VALUE!" if x == x else x
    if kind == DURATION:
        y = x * _MS_DAY
        if not -_I64 < y < _I64:
            return x
        try:
            return _dt.timedelta(milliseconds=_round(y))
        except OverflowError:
            return x
    f = x + 1462 if date1904 else x
    if f < 60:
        f += 1.0
    y = f * _MS_DAY
    if not -_I64 < y < _I64:
        return x
    ms = _round(y)
    days, rest = divmod(ms, _MS_DAY)
    if x < 1.0:
        if not _CHRONO_MIN <= days <= _CHRONO_MAX:
            return x
        s, milli = divmod(rest, 1000)
        return _dt.time(s // 3600, s // 60 % 60, s % 60, milli * 1000)
    try:
        moment = _EPOCH + _dt.timedelta(days=days, milliseconds=rest)
    except OverflowError:
        return x
    if x == int(x) and x < 2.0 ** 64:
        return moment.date()
    return moment


def number_value(v: bytes, kind: str | None, date1904: bool = False):
    """The value of a numeric cell's ``<v>`` text (a date for a date format)."""
    if not _NUMBER.fullmatch(v):
        return xml_text(v)        # calamine: text when the cell has no type
    x = float(v)
    return excel_date(x, kind, date1904) if kind else x


# ----------------------------------------------------------------- one cell, in general

_ATTR = re.compile(rb'([\w:.-]+)\s*=\s*(?:"([^"]*)"|\'([^\']*)\')')
_IS = re.compile(rb"<" + _PFX + rb"is\b[^>]*?(?:/>|>(.*?)</" + _PFX + rb"is>)", re.S)
_V = re.compile(rb"<" + _PFX + rb"v\b[^>]*?(?:/>|>(.*?)</" + _PFX + rb"v>)", re.S)
HAS_FORMULA = re.compile(rb"<" + _PFX + rb"f[\s>/]")


def _type_style(attrs: bytes) -> tuple[bytes, bytes | None, bytes | None]:
    """(r, t, s) attribute values of a ``<c>`` start tag."""
    r = t = s = None
    for name, v1, v2 in _ATTR.findall(attrs):
        name = name.rsplit(b":", 1)[-1] if b":" in name else name
        value = v1 if v1 or not v2 else v2
        if name == b"r":
            r = value
        elif name == b"t":
            t = value
        elif name == b"s":
            s = value
    return r, t, s


def cell_value(info: BookInfo, t: bytes | None, s: bytes | None, body: bytes | None):
    """The value of one cell from its t and s attributes and its content; None when empty."""
    if not body:
        return None
    m = _IS.search(body)
    if m:
        return rich_text(m.group(1) or b"")
    m = _V.search(body)
    if not m:
        return None
    v = m.group(1) or b""
    if t is None or t == b"n":
        if not v:
            return None
        kind = None
        if s is not None:
            try:
                kind = info.date_styles.get(int(s or b"0"))
            except ValueError:
                kind = info.date_styles.get(0)
        return number_value(v, kind, info.date1904)
    if t == b"s":
        try:
            return info.strings[int(v)] if v else None
        except (ValueError, IndexError):
            return None
    if t == b"str":
        return xml_text(v)
    if t == b"b":
        return (v != b"0") if v else None
    if t == b"e":
        return xml_text(v) if v else "#VALUE!"
    if t == b"inlineStr":
        return None
    if t == b"d":
        return _iso(xml_text(v)) if v else None
    return xml_text(v)


def _iso(text: str):
    try:
        if "T" in text:
            return _dt.datetime.fromisoformat(text.rstrip("Z"))
        if ":" in text:
            return _dt.time.fromisoformat(text)
        return _dt.date.fromisoformat(text)
    except ValueError:
        return text


# ----------------------------------------------------------------- streaming the XML

_SHEETDATA = re.compile(rb"<(" + _PFX + rb")sheetData\b[^>]*?(/?)>")
_SHEETDATA_END = re.compile(rb"</" + _PFX + rb"sheetData\s*>")
_ROW_END = re.compile(rb"</" + _PFX + rb"row\s*>|<" + _PFX + rb"row\b[^>]*/>")


class _Chunks:
    """The content of a sheet's <sheetData> in pieces that end at a row end."""

    def __init__(self, zf: zipfile.ZipFile, part: str):
        self.zf, self.part = zf, part
        self.prefixed = False

    def _raw(self) -> Iterator[bytes]:
        with self.zf.open(self.part) as fh:
            while True:
                chunk = fh.read(CHUNK)
                if not chunk:
                    return
                yield chunk

    @staticmethod
    def _end(buf: bytes, start: int) -> int:
        """Where </sheetData> starts in buf (looking from start on), or -1."""
        at = buf.find(b"sheetData", start)
        while at >= 0:
            lt = buf.rfind(b"<", 0, at)
            m = _SHEETDATA_END.match(buf, lt) if lt >= 0 else None
            if m:
                return m.start()
            at = buf.find(b"sheetData", at + 9)
        return -1

    def __iter__(self) -> Iterator[tuple[bytes, int]]:
        """(data, end): data[:end] is the next piece of whole rows (no copy of data is made)."""
        raw = self._raw()
        try:
            buf = b""
            for chunk in raw:                       # up to <sheetData>
                buf += chunk
                m = _SHEETDATA.search(buf)
                if m:
                    self.prefixed = bool(m.group(1))
                    if m.group(2):                  # <sheetData/>
                        return
                    buf = buf[m.end():]
                    break
                buf = buf[-4096:] if len(buf) > 1 << 22 else buf
            else:
                return
            while True:
                cut = buf.rfind(b"</row>")
                if cut >= 0:
                    cut += 6
                else:
                    ends = list(_ROW_END.finditer(buf))
                    cut = ends[-1].end() if ends else -1
                end = self._end(buf, max(cut, 0))       # </sheetData> comes after the last row
                if end >= 0:
                    yield buf, end
                    return
                if cut > 0:
                    yield buf, cut
                    buf = buf[cut:]
                chunk = next(raw, None)
                if chunk is None:
                    if buf:
                        yield buf, len(buf)
                    return
                buf += chunk
        finally:
            raw.close()


# one cell or row start tag, anywhere (general tokenizer, implicit numbering as Excel does)
_TOKEN = re.compile(rb"<(" + _PFX + rb")(?:(row)\b([^>]*?)/?>|c\b([^>]*?)(?:/>|>(.*?)</" + _PFX + rb"c>))", re.S)
_ROW_R = re.compile(rb'\br\s*=\s*["\']\s*(\d+)')


def _tokens(data: bytes, end: int, row: int, start: int = 0):
    """(kind, row, col, (t, s), body, match) for each row (kind 0) or cell (kind 1) of data[start:end];
    rows and cells without an r attribute are numbered on from the previous ones, as calamine does."""
    col = -1
    for m in _TOKEN.finditer(data, start, end):
        if m.group(2):
            r = _ROW_R.search(m.group(3))
            row = int(r.group(1)) if r else row + 1
            col = -1
            yield 0, row, -1, None, None, m
            continue
        ref, t, s = _type_style(m.group(4))
        cell_row = row
        letters = ref.rstrip(b"0123456789") if ref else b""
        if letters:
            col = col_index(letters)
            if len(letters) < len(ref):
                cell_row = int(ref[len(letters):])
        else:
            col += 1
        yield 1, cell_row, col, (t, s), m.group(5), m


def _alternation(indexes) -> bytes:
    """Regex alternation of the column letters of these indexes, one character class per prefix."""
    by_prefix: dict[str, list[str]] = {}
    for i in set(indexes):
        letters = col_letter(i)
        by_prefix.setdefault(letters[:-1], []).append(letters[-1])
    parts = []
    for prefix in sorted(by_prefix, key=lambda p: (len(p), p)):
        last = sorted(by_prefix[prefix])
        parts.append(prefix.encode() + (b"[" + "".join(last).encode() + b"]" if len(last) > 1 else last[0].encode()))
    return b"|".join(parts) or b"(?!)"


# the content of a non-empty input cell in its usual forms (an optional formula, then the value; an
# inline string of one run), else all of it
_BODY = (rb'(?:(?:<f\b[^>]*(?:/>|>[^<]*</f>))?<v>([^<]*)</v></c>'
         rb'|<is>(<t(?: xml:space="preserve")?>)([^<]*)</t></is></c>|(.*?)</c>)')
# a cell the fast patterns cannot vouch for: r not its first attribute, or not an A1 reference
_ODD = rb'|(?! r="[A-Z]{1,3}[0-9])(?=([\s/>])))'


def _fast_pattern(wanted: bytes, computed: bytes) -> re.Pattern:
    # possessive quantifiers and an atomic group: a cell that does not match is given up at once
    return re.compile(
        rb'<c(?: r="(?>'
        # 1-9: a non-empty cell of a wanted column: letters, row, s, t, other attributes, <v> text,
        # inline string (its <t> tag, its text), or its content
        rb'(' + wanted + rb')([0-9]++)"(?: s="([0-9]++)")?(?: t="(\w++)")?([^>/]*+)>' + _BODY +
        # 10-13: a non-empty cell of a computed column whose content does not start with a formula
        rb'|(' + computed + rb')([0-9]++)"([^>/]*+)>(?!<f[\s>/])(.*?)</c>)'
        # 14: an odd cell: the general tokenizer reads the chunk
        + _ODD, re.DOTALL)


_GRID_PATTERN = _fast_pattern(rb"[A-Z]{1,3}", rb"(?!)")
_ODD_GROUP = operator.itemgetter(13)


@dataclass
class SheetScan:
    """What one pass over a data sheet found."""

    first: int                                          # first data row (1-based)
    values: dict[str, list] = field(default_factory=dict)   # input column key -> values from `first` on
    #                                                           (None where empty or empty text)
    last_formula: int = 0                               # last row with a formula in any cell (0: none)
    typed: list[tuple[str, int, object]] = field(default_factory=list)  # (column key, row, value) typed
    width: int = 0                                      # columns up to the last non-empty cell (if asked)

    def last_value_row(self, blank) -> int:
        """Last row where an input column holds a value that is not blank(value); first - 1 if none."""
        last = self.first - 1
        for lst in self.values.values():
            for i in range(len(lst) - 1, last - self.first, -1):
                if lst[i] is not None and not blank(lst[i]):
                    last = self.first + i
                    break
        return last


class _Values:
    """Cell values of the fast path, with the number texts met before remembered per style, and
    the inline strings met before."""

    def __init__(self, info: BookInfo):
        self.info = info
        self.by_style: dict[bytes, dict] = {}
        self.texts: dict[bytes, str] = {}

    def text(self, raw: bytes) -> str:
        value = self.texts.get(raw)
        if value is None:
            value = xml_text(raw)
            if len(self.texts) < _CACHE_MAX:
                self.texts[raw] = value
        return value

    def numbers(self, s: bytes) -> dict:
        cache = self.by_style[s] = {}
        cache[None] = self.info._style_bytes.get(s) if s else None      # the kind, under a key no text has
        return cache

    def odd(self, s: bytes, t: bytes, rest: bytes, v: bytes, itag: bytes, itext: bytes, body: bytes):
        """A cell in another form than the usual ones (the groups of _fast_pattern)."""
        if rest:
            _, t2, s2 = _type_style(rest)
            t = t2 if t2 is not None else t
            s = s2 if s2 is not None else s
        if not body:
            body = b"<is>" + itag + itext + b"</t></is>" if itag else b"<v>" + v + b"</v>"
        return cell_value(self.info, t or None, s or None, body)


class SheetReader:
    """Reads one sheet in one pass: ``head()`` for the first rows, then ``scan()`` for the rest."""

    def __init__(self, zf: zipfile.ZipFile, part: str, info: BookInfo):
        self.info = info
        self._source = _Chunks(zf, part)
        self._pieces = iter(self._source)
        self._row = 0
        self._head_cells: list[tuple[int, int, tuple, bytes | None]] = []
        self._pending: tuple[bytes, int, int] | None = None
        self._prefixed = False

    # -- the first rows, whole
    def head(self, rows: int) -> list[list]:
        """Values of rows 1..rows (index 0 = row 1), each a list from column A with None where empty."""
        cells = self._head_cells
        for data, end in self._pieces:
            self._prefixed = self._prefixed or self._source.prefixed
            stop = None
            for kind, row, col, attrs, body, m in _tokens(data, end, self._row):
                if m.group(1):
                    self._prefixed = True
                if kind == 0:
                    if row > rows:
                        stop = m.start()
                        break
                    self._row = row
                    continue
                cells.append((row, col, attrs, body))
            if stop is not None:
                self._pending = (data, stop, end)
                break
        grid: list[list] = []
        for row, col, (t, s), body in cells:
            if row > rows:
                continue
            v = cell_value(self.info, t, s, body)
            if v is None or v == "":
                continue
            while len(grid) < row:
                grid.append([])
            line = grid[row - 1]
            if len(line) <= col:
                line.extend(repeat(None, col + 1 - len(line)))
            line[col] = v
        return grid

    # -- the rest, streamed
    def scan(self, first: int, inputs: dict[int, str], computed: dict[int, str], width: bool = False) -> SheetScan:
        """Stream the sheet (after head()): input column values from row `first` on, typed values in
        computed columns (from `first` on), the last formula row; `width` also finds the last column
        with a value (slower: only when the caller needs it)."""
        self.out = out = SheetScan(first, {k: [] for k in inputs.values()})
        self._first, self._inputs, self._computed, self._want_width = first, inputs, computed, width
        self._lists = {col_letter(i).encode(): out.values[k] for i, k in inputs.items()}
        self._ckeys = {col_letter(i).encode(): k for i, k in computed.items()}
        self._values = _Values(self.info)
        for row, col, attrs, body in self._head_cells:
            self._cell(row, col, attrs, body)
        self._head_cells = []
        fast = None if self._prefixed else _fast_pattern(_alternation(inputs), _alternation(computed))
        if self._pending:
            data, start, end = self._pending
            self._pending = None
            self._piece(data, start, end, fast)
        for data, end in self._pieces:
            if self._source.prefixed:
                fast = None
            self._piece(data, 0, end, fast)
        return out

    def _piece(self, data: bytes, start: int, end: int, fast: re.Pattern | None) -> None:
        if fast is not None:
            found = fast.findall(data, start, end)
            if not any(map(_ODD_GROUP, found)):
                self._fast(data, start, end, found)
                return
        for kind, row, col, attrs, body, _ in _tokens(data, end, self._row, start):
            if kind == 0:
                self._row = row
            else:
                self._cell(row, col, attrs, body)

    def _fast(self, data: bytes, start: int, end: int, found: list) -> None:
        out, vals = self.out, self._values
        first = self._first
        strings = self.info.strings
        date1904 = self.info.date1904
        by_style = vals.by_style
        lists, ckeys = self._lists, self._ckeys
        text = vals.text
        for col, row, s, t, rest, v, itag, itext, body, ccol, crow, cattrs, cbody, _ in found:
            if col:
                if rest or body:
                    value = vals.odd(s, t, rest, v, itag, itext, body)
                    if value is None or value == "":
                        continue
                elif itag:
                    value = text(itext)
                    if not value:
                        continue
                elif not t:
                    if not v:
                        continue
                    cache = by_style.get(s)
                    if cache is None:
                        cache = vals.numbers(s)
                    value = cache.get(v)
                    if value is None:
                        value = number_value(v, cache[None], date1904)
                        if len(cache) < _CACHE_MAX:
                            cache[v] = value
                elif t == b"s":
                    try:
                        value = strings[int(v)]
                    except (ValueError, IndexError):
                        continue
                    if not value:
                        continue
                else:
                    value = vals.odd(s, t, rest, v, itag, itext, body)
                    if value is None or value == "":
                        continue
                r = int(row) - first
                lst = lists[col]
                n = len(lst)
                if r == n:
                    lst.append(value)
                elif r > n:
                    lst.extend(repeat(None, r - n))
                    lst.append(value)
                elif r >= 0:
                    lst[r] = value
            else:
                r = int(crow)
                if r < first or HAS_FORMULA.search(cbody):
                    continue
                _, t, s = _type_style(cattrs)
                value = cell_value(self.info, t, s, cbody)
                if value is not None:
                    out.typed.append((ckeys[ccol], r, value))
        # the last formula of the piece: its row (rows come in ascending order, as the format requires)
        pos = end
        while True:
            pos = data.rfind(b"<f", start, pos)
            if pos < 0 or data[pos + 2:pos + 3] in (b">", b" ", b"/", b"\t", b"\n", b"\r"):
                break
        if pos >= 0:
            at = data.rfind(b'<c r="', start, pos)
            m = _REF.match(data, at + 6) if at >= 0 else None
            if m and int(m.group(2)) > out.last_formula:
                out.last_formula = int(m.group(2))
        at = data.rfind(b"<row", start, end)
        m = _ROW_R.search(data, at, data.find(b">", at, end)) if at >= 0 else None
        if m:
            self._row = int(m.group(1))
        if self._want_width:
            self._fast_width(data, start, end)

    def _fast_width(self, data: bytes, start: int, end: int) -> None:
        out = self.out
        pos = start
        while True:
            rx = re.compile(rb'<c r="(' + _letters_from(out.width) + rb')(\d+)"([^>]*?)(?:/>|>(.*?)</c>)', re.DOTALL)
            m = rx.search(data, pos, end)
            if m is None:
                return
            _, t, s = _type_style(m.group(3))
            if cell_value(self.info, t, s, m.group(4)) is not None:
                out.width = col_index(m.group(1)) + 1
            pos = m.end()

    def _cell(self, row: int, col: int, attrs: tuple, body: bytes | None) -> None:
        out = self.out
        t, s = attrs
        has_formula = bool(body) and HAS_FORMULA.search(body) is not None
        if has_formula and row > out.last_formula:
            out.last_formula = row
        if self._want_width and col >= out.width and cell_value(self.info, t, s, body) is not None:
            out.width = col + 1
        if row < self._first:
            return
        key = self._inputs.get(col)
        if key is not None:
            value = cell_value(self.info, t, s, body)
            if value is not None and value != "":
                lst = out.values[key]
                r = row - self._first
                if r >= len(lst):
                    lst.extend(repeat(None, r + 1 - len(lst)))
                lst[r] = value
            return
        key = self._computed.get(col)
        if key is not None and not has_formula:
            value = cell_value(self.info, t, s, body)
            if value is not None:
                out.typed.append((key, row, value))


_REF = re.compile(rb"([A-Z]{1,3})([0-9]+)")


def read_grid(zf: zipfile.ZipFile, part: str, info: BookInfo) -> list[list]:
    """A small sheet's values, row-major from A1, "" where empty, up to the last non-empty row and
    column (python-calamine's ``to_python(skip_empty_area=False)``; error cells give their text)."""
    cells = []
    row = 0
    source = _Chunks(zf, part)
    vals = _Values(info)
    for data, end in source:
        found = None if source.prefixed else _GRID_PATTERN.findall(data, 0, end)
        if found is not None and not any(map(_ODD_GROUP, found)):
            for col, r, s, t, rest, v, itag, itext, body, *_ in found:
                if rest or body or t or itag:
                    value = vals.odd(s, t, rest, v, itag, itext, body)
                elif not v:
                    continue
                else:
                    value = number_value(v, info._style_bytes.get(s) if s else None, info.date1904)
                if value is not None:
                    cells.append((int(r), col_index(col), value))
            at = data.rfind(b"<row", 0, end)
            m = _ROW_R.search(data, at, data.find(b">", at, end)) if at >= 0 else None
            row = int(m.group(1)) if m else row
            continue
        for kind, r, col, attrs, body, _ in _tokens(data, end, row):
            if kind == 0:
                row = r
                continue
            v = cell_value(info, attrs[0], attrs[1], body)
            if v is not None:
                cells.append((r, col, v))
    if not cells:
        return []
    height = max(r for r, _, _ in cells)
    width = max(c for _, c, _ in cells) + 1
    grid = [[""] * width for _ in range(height)]
    for r, c, v in cells:
        grid[r - 1][c] = v
    return grid
