"""Turn what people actually type into Excel cells into clean values (SPEC §4).

Every ``parse_*`` function takes one raw cell value as a reader returns it
(None, str, int, float, bool, datetime, date, time; numpy scalars too) and
returns a clean value, None for a blank cell, or raises :class:`ParseError`.
No other exception escapes, whatever the input.
"""

from __future__ import annotations

import datetime
import math
import re
import unicodedata
from decimal import Decimal
from typing import Any, Callable

import numpy as np
import pandas as pd

__all__ = [
    "BLANK_PLACEHOLDERS",
    "FORMULA_ERRORS",
    "ParseError",
    "clean_text",
    "is_blank",
    "is_formula_error",
    "parse_code",
    "parse_date",
    "parse_number",
    "parse_percent",
    "parse_series",
    "parse_week",
]


class ParseError(ValueError):
    """A cell value that cannot be read as the kind of value its column expects."""

    def __init__(self, found: Any, expected_zh: str, expected_en: str):
        # All three go to args so that the error pickles (multiprocessing) intact.
        super().__init__(found, expected_zh, expected_en)
        self.found = found
        self.expected_zh = expected_zh
        self.expected_en = expected_en

    def __str__(self) -> str:
        return f"cannot read {_show(self.found)}: expected {self.expected_en}"


def _show(value: Any) -> str:
    """Short printable form of a cell value for messages; never raises."""
    try:
        text = repr(value) if isinstance(value, str) else str(value)
    except Exception:  # a broken __str__ must not hide the parse error itself
        text = object.__repr__(value)
    return text if len(text) <= 80 else text[:77] + "..."


# ---------------------------------------------------------------------------
# Blanks, formula errors and text normalisation
# ---------------------------------------------------------------------------

BLANK_PLACEHOLDERS = frozenset(
    {"", "-", "--", "—", "——", "–", "―", "――", "/", "\\", "无", "暂无", "空", "N/A", "NA", "n/a"}
)

FORMULA_ERRORS = frozenset(
    {
        "#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A",
        "#GETTING_DATA", "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#CONNECT!",
        "#BUSY!", "#UNKNOWN!", "#PYTHON!", "#EXTERNAL!",
    }
    # LibreOffice shows its own error codes as Err:5xx and writes some of
    # them into files as #ERR5xx!.
    | {form.format(code) for code in range(501, 550) for form in ("Err:{}", "#ERR{}!")}
)

# Every whitespace character (the last is U+3000, the full-width space), plus
# zero-width characters, which are not whitespace to str.strip() but arrive
# with text pasted from chat apps and web pages.
_EDGE_CHARS = "".join(c for c in map(chr, range(0x3001)) if c.isspace()) + "\u200b\u200c\u200d\u2060\ufeff"


def _trim(s: str) -> str:
    """Strip whitespace (incl. full-width space and NBSP) and zero-width characters."""
    return s.strip(_EDGE_CHARS)


_SPACES_RE = re.compile(r"\s+")


def _fold(s: str) -> str:
    """Text as the parsers match it: NFKC (full-width to ASCII), casefolded, trimmed.

    Inner runs of whitespace become one space, which also keeps the regexes
    below, with their several optional spaces in a row, from backtracking
    for ages on a cell full of spaces.
    """
    return _SPACES_RE.sub(" ", _trim(unicodedata.normalize("NFKC", s)).casefold())


_BLANK_KEYS = frozenset(_fold(p) for p in BLANK_PLACEHOLDERS)
_ERROR_KEYS = frozenset(_fold(e) for e in FORMULA_ERRORS)


def _as_python(v: Any) -> Any:
    """Numpy scalars as the equivalent plain Python values."""
    if isinstance(v, (np.number, np.bool_)):
        return v.item()
    if isinstance(v, np.datetime64):
        try:
            return pd.Timestamp(v)
        except (ValueError, OverflowError):  # out of pandas' range: left unreadable
            return v
    return v


def is_blank(v: Any) -> bool:
    """True for None, NaN/NaT/NA, whitespace-only text and placeholders such as '-' or '无'."""
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, str):
        return _fold(v) in _BLANK_KEYS
    if isinstance(v, (float, np.floating)):
        return math.isnan(v)
    if isinstance(v, Decimal):
        return v.is_nan()
    if isinstance(v, np.datetime64):
        return bool(np.isnat(v))
    return False


def is_formula_error(v: Any) -> bool:
    """True for a formula error value such as '#DIV/0!' or LibreOffice's 'Err:502'."""
    return isinstance(v, str) and _fold(v) in _ERROR_KEYS


def clean_text(v: Any) -> str | None:
    """Cell as trimmed text, None when blank; formula errors raise ParseError."""
    v = _as_python(v)
    if is_blank(v):
        return None
    if isinstance(v, str):
        if is_formula_error(v):
            raise ParseError(v, "文本", "text")
        # Text such as '=SUM(A1)' is returned as typed: it is never evaluated.
        return _trim(v)
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"  # as Excel shows it
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, (int, Decimal)):
        try:
            return str(v)
        except ValueError:  # an int past Python's limit on digits turned into text
            raise ParseError(v, "文本", "text") from None
    if isinstance(v, datetime.datetime):
        return v.date().isoformat() if v.time() == datetime.time() else v.isoformat(sep=" ")
    if isinstance(v, (datetime.date, datetime.time)):
        return v.isoformat()
    raise ParseError(v, "文本", "text")


def clean_str(s: str) -> str | None:
    """clean_text() of a str, folding it once instead of twice: "" when blank, None for a formula error.

    For the bulk path of whole columns, which meets the same strings over and over; is_formula_error()
    comes first, as in the per-cell reading of a cell (no string is both a blank and an error).
    """
    key = _fold(s)
    if key in _ERROR_KEYS:
        return None
    if key in _BLANK_KEYS:
        return ""
    return _trim(s)


# ---------------------------------------------------------------------------
# Numbers and percentages
# ---------------------------------------------------------------------------

# Largest magnitude up to which every integer is exact as a float.
_EXACT_INT = 2**53

_NUMBER_ZH, _NUMBER_EN = "数字", "a number"
_PERCENT_ZH, _PERCENT_EN = "百分比，如 80% 或 0.8", "a percentage such as 80% or 0.8"

_MULTIPLIERS = {
    "k": 3, "千": 3, "w": 4, "万": 4, "十万": 5, "百万": 6, "千万": 7, "亿": 8, "万亿": 12,
}
_CURRENCIES = ("¥", "rmb", "cny", "人民币")
_UNITS = ("元", "块钱", "块", "人次", "人", "个", "次", "篇", "条", "单", "件", "场", "家", "位", "名", "份")


def _alternatives(words) -> str:
    """Regex alternation, longest first so that '百万' wins over '万'."""
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


# Matched against _fold(text), so full-width digits, '，', '．', '％' and '￥'
# arrive here as their ASCII forms.
_NUMBER_RE = re.compile(
    rf"""
    (?P<sign1>[+-])?\s*
    (?P<currency>{_alternatives(_CURRENCIES)})?\s*
    (?P<sign2>[+-])?\s*
    (?P<digits>(?:\d{{1,3}}(?:,\d{{3}})+|\d+)(?:\.\d*)?|\.\d+)
    (?:e(?P<exponent>[+-]?\d{{1,4}}))?\s*
    (?P<multiplier>{_alternatives(_MULTIPLIERS)})?\s*
    (?P<unit>{_alternatives(_UNITS + _CURRENCIES)})?\s*
    (?P<percent>%)?
    """,
    re.VERBOSE | re.ASCII,
)


def _number_from_text(s: str) -> tuple[Decimal, bool, bool] | None:
    """(value, had a percent sign, had a currency/multiplier/unit) from text, or None."""
    m = _NUMBER_RE.fullmatch(_fold(s).replace("\u2212", "-"))
    if m is None or (m["sign1"] and m["sign2"]):
        return None
    decorated = bool(m["currency"] or m["multiplier"] or m["unit"])
    if m["percent"] and decorated:  # '5万%' or '¥80%' is no amount anyone means
        return None
    # Multipliers and the percent sign only shift the decimal exponent, so
    # '1.2亿' is exactly 120000000 and '0.07万' exactly 700.
    exponent = int(m["exponent"] or 0) + _MULTIPLIERS.get(m["multiplier"], 0) - (2 if m["percent"] else 0)
    sign = m["sign1"] or m["sign2"] or ""
    value = Decimal(f"{sign}{m['digits'].replace(',', '')}e{exponent}")
    return value, bool(m["percent"]), decorated


def _finite(x: float | Decimal) -> float | None:
    """x as a float, or None when it is infinite (or too large for a float)."""
    f = float(x)
    return f if math.isfinite(f) else None


def _real(v: Any) -> float | None:
    """A non-bool int/float/Decimal as a finite float; None for anything else."""
    if isinstance(v, bool) or not isinstance(v, (int, float, Decimal)):
        return None
    try:
        return _finite(v)
    except OverflowError:  # an int too large for a float
        return None


def parse_number(v: Any) -> float | None:
    """A number: 5万, 1.2亿, ¥1,200.50, RMB 1200, 80% (= 0.8), １２０, 500万元; None when blank."""
    v = _as_python(v)
    if is_blank(v):
        return None
    if isinstance(v, str):
        parsed = _number_from_text(v)
        number = _finite(parsed[0]) if parsed else None
    else:
        number = _real(v)
    if number is None:
        raise ParseError(v, _NUMBER_ZH, _NUMBER_EN)
    return number


def _is_whole_percent(x):
    """True where x (a float or an array) is a whole number above 1 and at most 100.

    A cell formatted as a percentage stores 120% as 1.2, so a fraction above 1
    is kept; a whole number such as 80 is a percentage typed without its sign.
    """
    return (x > 1) & (x <= 100) & (x == np.floor(x))


def parse_percent(v: Any) -> tuple[float | None, bool]:
    """(fraction, was_whole_number): 0.8, '80%' -> (0.8, False); 80, '80' -> (0.8, True).

    Whole numbers from 2 to 100 without a percent sign are read as percent
    and flagged so that the caller can add a Checks note. Everything else is
    kept as it is: 1 is 100%, 1.2 is 120%, 150 stays 150, '150%' is 1.5.
    """
    v = _as_python(v)
    if is_blank(v):
        return None, False
    if isinstance(v, str):
        parsed = _number_from_text(v)
        number = _finite(parsed[0]) if parsed and not parsed[2] else None
        if number is not None and parsed[1]:
            return number, False
    else:
        number = _real(v)
    if number is None:
        raise ParseError(v, _PERCENT_ZH, _PERCENT_EN)
    if _is_whole_percent(number):
        return number / 100, True  # exact: an integer over 100 rounds once
    return number, False


# ---------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------

_DATE_ZH, _DATE_EN = "日期，如 2024-07-01", "a date such as 2024-07-01"
_YEAR_ZH, _YEAR_EN = "带年份的日期，如 2024-07-01", "a date with a year, such as 2024-07-01"

# Excel's 1900 date system counts 1900-02-29, a day that never was, as serial
# 60. Serials after it count from 1899-12-30; serials before it are one day later.
_EXCEL_EPOCH = datetime.date(1899, 12, 30)
_EXCEL_FAKE_LEAP_DAY = 60
_EXCEL_MAX_SERIAL = 2958465  # 9999-12-31

# Dates are matched against _fold(text): 'T' and 'Z' arrive lower case.
_TIME = r"(?:[t\s]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:z|[+-]\d{2}:?\d{2})?)?"
_FULL_DATE_RES = (
    re.compile(rf"(?P<y>\d{{4}})\s*(?P<sep>[-/.])\s*(?P<m>\d{{1,2}})\s*(?P=sep)\s*(?P<d>\d{{1,2}}){_TIME}", re.ASCII),
    re.compile(rf"(?P<y>\d{{4}})\s*年\s*(?P<m>\d{{1,2}})\s*月\s*(?P<d>\d{{1,2}})\s*[日号]?{_TIME}", re.ASCII),
    re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})", re.ASCII),
)
_MONTH_DAY_RES = (
    re.compile(r"(?P<m>\d{1,2})\s*[-/.]\s*(?P<d>\d{1,2})", re.ASCII),
    re.compile(r"(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号]?", re.ASCII),
)


def _make_date(found: Any, y: int | None, m: int, d: int) -> datetime.date:
    """date(y, m, d), or ParseError when it does not exist or the year is unknown."""
    if y is None:
        raise ParseError(found, _YEAR_ZH, _YEAR_EN)
    try:
        return datetime.date(y, m, d)
    except (ValueError, TypeError, OverflowError):
        raise ParseError(found, _DATE_ZH, _DATE_EN) from None


def _date_from_text(s: str, year: int | None) -> datetime.date:
    """Date from '2024-07-01', '2024年7月1日', '20240701', or '7月1日'/'7.1' with year."""
    text = _fold(s)
    for pattern in _FULL_DATE_RES:
        if m := pattern.fullmatch(text):
            return _make_date(s, int(m["y"]), int(m["m"]), int(m["d"]))
    for pattern in _MONTH_DAY_RES:
        if m := pattern.fullmatch(text):
            return _make_date(s, year, int(m["m"]), int(m["d"]))
    raise ParseError(s, _DATE_ZH, _DATE_EN)


def _month_day(x: float) -> tuple[int, int] | None:
    """(7, 15) for 7.15: a number with a month before the point and 1-2 digits after."""
    whole, _, fraction = repr(x).partition(".")
    if x.is_integer() or not 1 <= x < 13 or not 1 <= len(fraction) <= 2 or not fraction.isdigit():
        return None
    return int(whole), int(fraction)


def _date_from_number(found: Any, x: float, year: int | None) -> datetime.date:
    """Date from an Excel serial, a yyyymmdd number, or a month.day number such as 7.15."""
    if (month_day := _month_day(x)) is not None:
        return _make_date(found, year, *month_day)
    if x.is_integer() and 10_000_000 <= x <= 99_991_231:  # 20240701: beyond any serial
        n = int(x)
        return _make_date(found, n // 10_000, n // 100 % 100, n % 100)
    serial = math.floor(x)
    if not 1 <= serial <= _EXCEL_MAX_SERIAL or serial == _EXCEL_FAKE_LEAP_DAY:
        raise ParseError(found, _DATE_ZH, _DATE_EN)
    if serial < _EXCEL_FAKE_LEAP_DAY:
        serial += 1
    return _EXCEL_EPOCH + datetime.timedelta(days=serial)


def parse_date(v: Any, *, year: int | None = None) -> datetime.date | None:
    """A date from a date/datetime, an Excel serial or text; None when blank.

    ``year`` (the period's year) completes month-day values: '7月1日', '7/1',
    '7-1', '7.1' and numbers such as 7.15 that Excel stored from a typed
    "7.15". The float 7.1 cannot tell a typed "7.1" from "7.10", so it is
    July 1st; the text '7.10' is July 10th. Serial 60 is Excel's nonexistent
    1900-02-29 and is an error.
    """
    v = _as_python(v)
    if is_blank(v):
        return None
    if isinstance(v, datetime.datetime):
        return v.date()
    if isinstance(v, datetime.date):
        return v
    if isinstance(v, str):
        return _date_from_text(v, year)
    x = _real(v)
    if x is None:
        raise ParseError(v, _DATE_ZH, _DATE_EN)
    return _date_from_number(v, x, year)


# ---------------------------------------------------------------------------
# Weeks and codes
# ---------------------------------------------------------------------------

_WEEK_ZH, _WEEK_EN = "周次，如 3、第3周 或 W3", "a week number such as 3, 第3周 or W3"
_MAX_WEEK = _EXACT_INT  # keeps every week exact as a float and inside Int64

_WEEK_RE = re.compile(
    r"(?:第|week|wk|w)?\s*(?:(?P<digits>\d{1,16})(?:\.0+)?|(?P<chinese>[一二三四五六七八九十]+))\s*[周週]?",
    re.ASCII,
)
_CHINESE_DIGITS = {c: i for i, c in enumerate("一二三四五六七八九", start=1)}
# '三', '十', '十三', '二十', '二十三': 1 to 99.
_CHINESE_NUMBER_RE = re.compile(r"(?:(?P<tens>[一二三四五六七八九])?(?P<ten>十))?(?P<ones>[一二三四五六七八九])?")


def _chinese_number(s: str) -> int | None:
    """1-99 written in Chinese numerals, or None."""
    m = _CHINESE_NUMBER_RE.fullmatch(s)
    if m is None:
        return None
    tens = _CHINESE_DIGITS.get(m["tens"], 1) if m["ten"] else 0
    return tens * 10 + _CHINESE_DIGITS.get(m["ones"], 0)


def _week_from_text(s: str) -> int | None:
    """Week from '3', '第3周', 'W03', 'Week 3', '第三周'; None when unreadable."""
    m = _WEEK_RE.fullmatch(_fold(s))
    if m is None:
        return None
    return int(m["digits"]) if m["digits"] else _chinese_number(m["chinese"])


def parse_week(v: Any) -> int | None:
    """A positive week number from 3, 3.0, '3', '第3周', 'W3', 'Week 3', '第三周'; None when blank."""
    v = _as_python(v)
    if is_blank(v):
        return None
    if isinstance(v, str):
        week = _week_from_text(v)
    elif isinstance(v, int) and not isinstance(v, bool):
        week = v
    else:
        x = _real(v)
        week = int(x) if x is not None and x.is_integer() else None
    if week is None or not 1 <= week <= _MAX_WEEK:
        raise ParseError(v, _WEEK_ZH, _WEEK_EN)
    return week


_CODE_NOISE_RE = re.compile(r"[\s_\-]+")


def _code_key(s: str) -> str:
    """Form under which codes and labels are matched: 'In Progress' ~ 'in_progress'."""
    return _CODE_NOISE_RE.sub("", unicodedata.normalize("NFKC", s).casefold())


def parse_code(v: Any, choices: dict[str, list[str]]) -> str | None:
    """Canonical code for a code or any of its labels; None when blank.

    A code matches itself too. When two codes share a label, the code that
    comes first in ``choices`` wins.
    """
    v = _as_python(v)
    if is_blank(v):
        return None
    try:
        text = clean_text(v)
    except ParseError:  # a formula error or a value no text stands for
        text = None
    table: dict[str, str] = {}
    for code, labels in choices.items():
        for label in (code, *labels):
            table.setdefault(_code_key(label), code)
    table.pop("", None)
    if text is not None and (code := table.get(_code_key(text))):
        return code
    shown = [labels[0] if labels else code for code, labels in choices.items()]
    raise ParseError(v, "以下之一：" + "、".join(shown), "one of: " + ", ".join(shown))


# ---------------------------------------------------------------------------
# Whole columns
# ---------------------------------------------------------------------------


def _number_vector(x, **_):
    """Plain floats are numbers as they are; infinities go to the per-cell parser."""
    return x, ~np.isinf(x), None


def _percent_vector(x, **_):
    """Whole numbers from 2 to 100 become fractions and are noted."""
    whole = _is_whole_percent(x)
    return np.where(whole, x / 100, x), ~np.isinf(x), whole


def _week_vector(x, **_):
    """Positive whole numbers are weeks; anything else goes to the per-cell parser."""
    ok = np.isnan(x) | ((x >= 1) & (x <= _MAX_WEEK) & (x == np.floor(x)))
    return x, ok, None


def _date_vector(x, **_):
    """Excel serials; non-integral values below 13 (maybe month.day) go to the per-cell parser."""
    serial = np.floor(x)
    ok = (serial >= 1) & (serial <= _EXCEL_MAX_SERIAL) & (serial != _EXCEL_FAKE_LEAP_DAY) & ((x == serial) | (x >= 13))
    days = serial[ok].astype(np.int64) + (serial[ok] < _EXCEL_FAKE_LEAP_DAY)
    dates = np.full(len(x), None, dtype=object)
    dates[ok] = (np.datetime64(_EXCEL_EPOCH, "D") + days.astype("timedelta64[D]")).astype(object)
    return dates, ok | np.isnan(x), None


# kind -> (per-cell parser returning (value, note), vectorised parser for
# plain floats or None, output dtype). A vectorised parser returns
# (values, ok, notes or None); cells that are not ok go to the per-cell
# parser, which gives them their exact value or ParseError.
_KINDS: dict[str, tuple[Callable[..., tuple[Any, bool]], Callable | None, str]] = {
    "number": (lambda v: (parse_number(v), False), _number_vector, "float64"),
    "percent": (parse_percent, _percent_vector, "float64"),
    "date": (lambda v, year=None: (parse_date(v, year=year), False), _date_vector, "object"),
    "week": (lambda v: (parse_week(v), False), _week_vector, "Int64"),
    "text": (lambda v: (clean_text(v), False), None, "object"),
    "code": (lambda v, choices: (parse_code(v, choices), False), None, "object"),
}


def _plain_numbers(raw: np.ndarray) -> np.ndarray:
    """Mask of cells that are exactly int or float and convert to float exactly."""
    return np.fromiter(
        ((type(v) is float) or (type(v) is int and -_EXACT_INT <= v <= _EXACT_INT) for v in raw),
        dtype=bool,
        count=len(raw),
    )


def parse_series(values: pd.Series, kind: str, **kw) -> tuple[pd.Series, dict, set]:
    """Parse a column: (parsed series on the same index, {index: ParseError}, notes).

    kind is 'number', 'percent', 'date' (kw: year), 'week', 'text' or 'code'
    (kw: choices). Blanks and errors are NaN (number, percent), <NA> (week,
    Int64) or None (date, text, code). notes holds the index labels of
    percents read as whole numbers (80 -> 0.8); it is empty for other kinds.
    Plain int/float cells take a vectorised path. Errors are keyed by index
    label, so the index should be unique.
    """
    if kind not in _KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(_KINDS)}")
    parse_cell, parse_vector, dtype = _KINDS[kind]
    n = len(values)
    raw = values.to_numpy(dtype=object)
    numeric_dtype = values.dtype.kind in "iuf"
    fast = np.ones(n, dtype=bool) if numeric_dtype else _plain_numbers(raw)
    is_float_out = dtype != "object"
    out = np.full(n, np.nan) if is_float_out else np.full(n, None, dtype=object)
    notes = np.zeros(n, dtype=bool)
    slow = ~fast
    if parse_vector is None:
        slow[:] = True
    elif fast.any():
        where = np.flatnonzero(fast)
        if numeric_dtype:
            x = values.to_numpy(dtype="float64", na_value=np.nan)
        else:
            x = raw[where].astype("float64")
        parsed, ok, flagged = parse_vector(x, **kw)
        out[where[ok]] = parsed[ok]
        if flagged is not None:
            notes[where[ok]] = flagged[ok]
        slow[where[~ok]] = True

    errors: dict[Any, ParseError] = {}
    positions = np.flatnonzero(slow)
    for i, label in zip(positions, values.index[positions].tolist()):
        try:
            value, note = parse_cell(raw[i], **kw)
        except ParseError as e:
            # Without its traceback the error does not keep the frames alive.
            errors[label] = e.with_traceback(None)
            continue
        if value is not None or not is_float_out:
            out[i] = value
        notes[i] = note
    result = pd.Series(out, index=values.index, name=values.name, dtype="float64" if is_float_out else "object")
    if dtype == "Int64":
        result = result.astype("Int64")
    return result, errors, set(values.index[notes])
