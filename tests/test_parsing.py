"""Tests for mktsheets.parsing: what people actually type into cells (SPEC §4)."""

import datetime
import math
import pickle
import time
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mktsheets.parsing import (
    BLANK_PLACEHOLDERS,
    FORMULA_ERRORS,
    ParseError,
    clean_text,
    is_blank,
    is_formula_error,
    parse_code,
    parse_date,
    parse_number,
    parse_percent,
    parse_series,
    parse_week,
)

D = datetime.date
# str() of this int raises ValueError (Python's limit on digits); so does pytest's id for it.
HUGE_INT = pytest.param(10**5000, id="int-beyond-str-limit")


def excel_serial(d: datetime.date) -> int:
    """Excel 1900-system serial of a date, as Excel computes it (with its fake 1900-02-29)."""
    n = (d - D(1899, 12, 30)).days
    return n - 1 if d < D(1900, 3, 1) else n


def raises_parse_error(fn, *args, **kw) -> ParseError:
    with pytest.raises(ParseError) as info:
        fn(*args, **kw)
    return info.value


# ---------------------------------------------------------------------------
# ParseError
# ---------------------------------------------------------------------------


def test_parse_error_carries_found_and_both_languages():
    e = ParseError("5万x", "数字", "a number")
    assert isinstance(e, ValueError)
    assert (e.found, e.expected_zh, e.expected_en) == ("5万x", "数字", "a number")
    assert str(e) == "cannot read '5万x': expected a number"


def test_parse_error_pickles_intact():
    e = pickle.loads(pickle.dumps(ParseError(1.5, "周次", "a week")))
    assert (e.found, e.expected_zh, e.expected_en) == (1.5, "周次", "a week")


def test_parse_error_message_is_short_and_survives_a_broken_value():
    class Broken:
        def __str__(self):
            raise RuntimeError("boom")

    assert str(ParseError(Broken(), "数字", "a number")).startswith("cannot read <")
    assert len(str(ParseError("x" * 1000, "数字", "a number"))) < 120


# ---------------------------------------------------------------------------
# Blanks and formula errors
# ---------------------------------------------------------------------------


def test_placeholder_and_error_sets_hold_what_spec_names():
    assert {"-", "—", "–", "/", "无", "N/A", "NA", "n/a", "", "——"} <= BLANK_PLACEHOLDERS
    assert {"#DIV/0!", "#REF!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#VALUE!", "#SPILL!", "#CALC!",
            "#GETTING_DATA", "Err:502"} <= FORMULA_ERRORS
    assert not BLANK_PLACEHOLDERS & FORMULA_ERRORS


@pytest.mark.parametrize(
    "value",
    [None, "", "   ", "\u3000", "\xa0", "\u200b", " - ", "—", "——", "–", "/", "无", "N/A", "n/a", "na", "NA",
     "－", "Ｎ／Ａ", float("nan"), np.nan, np.float32("nan"), pd.NA, pd.NaT, Decimal("NaN"),
     np.datetime64("NaT")],
)
def test_is_blank_true(value):
    assert is_blank(value)


@pytest.mark.parametrize("value", [0, 0.0, False, "0", "nan", "None", "#N/A", "x", "-5", D(2024, 7, 1), "无效"])
def test_is_blank_false(value):
    assert not is_blank(value)


@pytest.mark.parametrize(
    "value", sorted(FORMULA_ERRORS) + [" #REF! ", "#ref!", "＃ＲＥＦ！", "Err:539", "err:502", "#ERR502!"]
)
def test_is_formula_error_true(value):
    assert is_formula_error(value)


@pytest.mark.parametrize(
    "value", [None, "", "REF", "#", "#REF", "Err:500", "Err:550", "Err:", 502, float("nan"), "#N/A x"]
)
def test_is_formula_error_false(value):
    assert not is_formula_error(value)


# ---------------------------------------------------------------------------
# clean_text
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("  张三 ", "张三"),
        ("\u3000李四\xa0", "李四"),
        ("\ufeff王五\u200b", "王五"),
        ("a  b", "a  b"),
        ("=SUM(A1:A3)", "=SUM(A1:A3)"),
        ("+86 138", "+86 138"),
        (1200.0, "1200"),
        (13800138000.0, "13800138000"),
        (0.1, "0.1"),
        (-2.5, "-2.5"),
        (42, "42"),
        (np.int64(7), "7"),
        (np.float64(3.0), "3"),
        (Decimal("1.50"), "1.50"),
        (True, "TRUE"),
        (False, "FALSE"),
        (D(2024, 7, 1), "2024-07-01"),
        (datetime.datetime(2024, 7, 1), "2024-07-01"),
        (datetime.datetime(2024, 7, 1, 9, 30), "2024-07-01 09:30:00"),
        (datetime.time(9, 30), "09:30:00"),
        ("Ｗ３", "Ｗ３"),  # text is kept as typed, only trimmed
    ],
)
def test_clean_text(value, expected):
    assert clean_text(value) == expected


@pytest.mark.parametrize("value", [None, "", "  ", "-", "无", "N/A", float("nan")])
def test_clean_text_blank_is_none(value):
    assert clean_text(value) is None


@pytest.mark.parametrize("value", ["#REF!", b"bytes", [1], object(), HUGE_INT])
def test_clean_text_rejects_errors_and_non_cell_values(value):
    e = raises_parse_error(clean_text, value)
    assert (e.expected_zh, e.expected_en) == ("文本", "text")


# ---------------------------------------------------------------------------
# parse_number
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        (1200, 1200.0),
        (12.5, 12.5),
        (-5, -5.0),
        (np.int64(3), 3.0),
        (np.float32(0.5), 0.5),
        (Decimal("1.25"), 1.25),
        ("1200", 1200.0),
        ("1200.00", 1200.0),
        ("-5", -5.0),
        ("+5", 5.0),
        ("−5", -5.0),  # U+2212 minus sign
        (".5", 0.5),
        ("5.", 5.0),
        ("1,200", 1200.0),
        ("1,234,567.89", 1234567.89),
        ("5万", 50000.0),
        ("5 万", 50000.0),
        ("1.2亿", 120000000.0),
        ("500万元", 5000000.0),
        ("0.07万", 700.0),
        ("1.5k", 1500.0),
        ("1.5K", 1500.0),
        ("3千", 3000.0),
        ("2百万", 2000000.0),
        ("3千万", 30000000.0),
        ("1万亿", 1e12),
        ("5w", 50000.0),
        ("¥1,200.50", 1200.5),
        ("￥1200", 1200.0),
        ("RMB 1200", 1200.0),
        ("rmb1200", 1200.0),
        ("CNY 1,200", 1200.0),
        ("1200 RMB", 1200.0),
        ("人民币1200元", 1200.0),
        ("-¥5", -5.0),
        ("¥-5", -5.0),
        ("80%", 0.8),
        ("80 %", 0.8),
        ("150%", 1.5),
        ("-12.5%", -0.125),
        ("１２０", 120.0),
        ("１，２００．５", 1200.5),
        ("８０％", 0.8),
        ("\u3000 1200 \xa0", 1200.0),
        ("\t1200\n", 1200.0),
        ("100元", 100.0),
        ("100块", 100.0),
        ("3人", 3.0),
        ("2个", 2.0),
        ("4次", 4.0),
        ("6篇", 6.0),
        ("1.5e3", 1500.0),
        ("1E-2", 0.01),
        ("0", 0.0),
    ],
)
def test_parse_number_accepts(value, expected):
    result = parse_number(value)
    assert type(result) is float
    assert result == expected


@pytest.mark.parametrize("value", [None, "", " ", "-", "—", "/", "无", "N/A", "NA", float("nan"), pd.NA])
def test_parse_number_blank_is_none(value):
    assert parse_number(value) is None


@pytest.mark.parametrize(
    "value",
    ["abc", "nan", "NaN", "inf", "-inf", "Infinity", "(5)", "1,2", "12,00", "1,2345", "5万%", "¥80%", "80%元",
     "--5", "-¥-5", "1.2.3", "5万x", "约5万", ">100", "1 2", "$5", "e5", "1e", "1e99999", "9" * 400,
     True, False, np.bool_(True), float("inf"), float("-inf"), 10**400, D(2024, 7, 1),
     datetime.datetime(2024, 7, 1), datetime.time(9), b"5", [5], 1j],
)
def test_parse_number_rejects(value):
    e = raises_parse_error(parse_number, value)
    assert e.found is value or e.found == value or isinstance(value, np.generic)
    assert (e.expected_zh, e.expected_en) == ("数字", "a number")


@pytest.mark.parametrize("value", ["#DIV/0!", "#REF!", "Err:502", " #N/A "])
def test_parse_number_formula_error_is_a_parse_error(value):
    e = raises_parse_error(parse_number, value)
    assert e.expected_en == "a number"
    assert is_formula_error(e.found)


def test_parse_number_multipliers_are_exact():
    # Decimal arithmetic: float 1.2 * 1e8 would be 120000000.00000001.
    assert parse_number("1.2亿") == 120_000_000.0
    assert parse_number("0.07万") == 700.0
    assert parse_number("0.1万") == 1000.0
    assert parse_number("1.1k") == 1100.0
    assert parse_number("33.3%") == 0.333


# ---------------------------------------------------------------------------
# parse_percent
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        (0.8, (0.8, False)),
        ("0.8", (0.8, False)),
        ("80%", (0.8, False)),
        ("８０％", (0.8, False)),
        (80, (0.8, True)),
        (80.0, (0.8, True)),
        ("80", (0.8, True)),
        (" 80 ", (0.8, True)),
        (2, (0.02, True)),
        (100, (1.0, True)),
        ("100", (1.0, True)),
        (1, (1.0, False)),
        (0, (0.0, False)),
        (1.2, (1.2, False)),  # a percent-formatted cell showing 120%
        ("1.2", (1.2, False)),
        (33.3, (33.3, False)),  # not a whole number: kept, the caller's range check sees it
        (101, (101.0, False)),
        (150, (150.0, False)),
        ("150%", (1.5, False)),
        ("33.3%", (0.333, False)),
        (-80, (-80.0, False)),
        ("-5%", (-0.05, False)),
        (np.int64(50), (0.5, True)),
    ],
)
def test_parse_percent(value, expected):
    assert parse_percent(value) == expected


@pytest.mark.parametrize("value", [None, "", "-", "无", float("nan")])
def test_parse_percent_blank(value):
    assert parse_percent(value) == (None, False)


@pytest.mark.parametrize("value", ["abc", "5万", "¥80", "80元", "inf", "nan", True, float("inf"), "#DIV/0!",
                                   D(2024, 1, 1), "80%%"])
def test_parse_percent_rejects(value):
    e = raises_parse_error(parse_percent, value)
    assert e.expected_en == "a percentage such as 80% or 0.8"
    assert e.expected_zh == "百分比，如 80% 或 0.8"


# ---------------------------------------------------------------------------
# parse_date
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        (D(2024, 7, 1), D(2024, 7, 1)),
        (datetime.datetime(2024, 7, 1, 23, 59), D(2024, 7, 1)),
        (pd.Timestamp("2024-07-01 08:00"), D(2024, 7, 1)),
        (np.datetime64("2024-07-01"), D(2024, 7, 1)),
        (45474, D(2024, 7, 1)),
        (45474.0, D(2024, 7, 1)),
        (45474.75, D(2024, 7, 1)),  # the time of day is ignored
        (np.int64(45474), D(2024, 7, 1)),
        (Decimal(45474), D(2024, 7, 1)),
        (1, D(1900, 1, 1)),
        (59, D(1900, 2, 28)),
        (61, D(1900, 3, 1)),
        (2958465, D(9999, 12, 31)),
        (13.5, D(1900, 1, 13)),  # not month.day (no month 13): a serial
        (20240701, D(2024, 7, 1)),
        ("2024-07-01", D(2024, 7, 1)),
        ("2024/7/1", D(2024, 7, 1)),
        ("2024.7.1", D(2024, 7, 1)),
        ("2024-7-1", D(2024, 7, 1)),
        ("2024年7月1日", D(2024, 7, 1)),
        ("2024年07月01号", D(2024, 7, 1)),
        ("2024 年 7 月 1 日", D(2024, 7, 1)),
        ("2024-07-01 00:00:00", D(2024, 7, 1)),
        ("2024/7/1 8:30", D(2024, 7, 1)),
        ("2024-07-01T08:30:00", D(2024, 7, 1)),
        ("2024-07-01T08:30:00.123+08:00", D(2024, 7, 1)),
        ("2024-07-01T00:00:00Z", D(2024, 7, 1)),
        ("２０２４－０７－０１", D(2024, 7, 1)),
        ("\u3000 2024-07-01 ", D(2024, 7, 1)),
        ("20240701", D(2024, 7, 1)),
        ("2024-02-29", D(2024, 2, 29)),
    ],
)
def test_parse_date_full_dates(value, expected):
    assert parse_date(value) == expected
    assert parse_date(value, year=1999) == expected  # a full date ignores the period year


@pytest.mark.parametrize(
    "value, expected",
    [
        ("7月1日", D(2024, 7, 1)),
        ("7月1号", D(2024, 7, 1)),
        ("12月31日", D(2024, 12, 31)),
        ("7/1", D(2024, 7, 1)),
        ("7-1", D(2024, 7, 1)),
        ("7.1", D(2024, 7, 1)),
        ("7.10", D(2024, 7, 10)),  # text keeps the trailing zero
        ("07/01", D(2024, 7, 1)),
        ("７月１日", D(2024, 7, 1)),
        (7.1, D(2024, 7, 1)),  # the float cannot tell 7.1 from 7.10: July 1st
        (7.15, D(2024, 7, 15)),
        (12.31, D(2024, 12, 31)),
        (1.05, D(2024, 1, 5)),
        (2.29, D(2024, 2, 29)),
    ],
)
def test_parse_date_month_day_uses_year(value, expected):
    assert parse_date(value, year=2024) == expected


@pytest.mark.parametrize("value", ["7月1日", "7/1", "7-1", "7.1", 7.1, 12.31])
def test_parse_date_month_day_without_year_asks_for_one(value):
    e = raises_parse_error(parse_date, value)
    assert "year" in e.expected_en and "年份" in e.expected_zh


@pytest.mark.parametrize(
    "value",
    ["2024-02-30", "2023-02-29", "2024-13-01", "2024-00-10", "2024年2月30日", "2024-07/01", "20241301",
     "24-07-01", "01/07/2024", "2024", "July 1", "abc", "45474", "2024-07-01 星期一",
     0, -1, 60, 2958466, 0.5, 99999999, 10**30, float("inf"), True,
     datetime.time(9, 0), b"2024", "#VALUE!", "Err:502"],
)
def test_parse_date_rejects(value):
    e = raises_parse_error(parse_date, value, year=2024)
    assert (e.expected_zh, e.expected_en) == ("日期，如 2024-07-01", "a date such as 2024-07-01")


@pytest.mark.parametrize("value", ["2.30", 2.31, "13/1", "2月30日", 7.32, 4.31])
def test_parse_date_invalid_month_day(value):
    # The float 2.31 is February 31st, a month.day that does not exist: never read as serial 2.
    e = raises_parse_error(parse_date, value, year=2024)
    assert e.expected_en == "a date such as 2024-07-01"


def test_parse_date_month_day_float_leap_year():
    assert parse_date(2.29, year=2024) == D(2024, 2, 29)
    raises_parse_error(parse_date, 2.29, year=2023)


@pytest.mark.parametrize("value", [None, "", "-", "无", float("nan"), pd.NaT, np.datetime64("NaT")])
def test_parse_date_blank(value):
    assert parse_date(value, year=2024) is None


def test_parse_date_serial_60_is_excels_fake_leap_day():
    e = raises_parse_error(parse_date, 60)
    assert e.found == 60
    assert parse_date(59) + datetime.timedelta(days=1) == parse_date(61)


def test_parse_date_with_invalid_year_argument():
    raises_parse_error(parse_date, "7月1日", year=0)
    raises_parse_error(parse_date, "7月1日", year=10**6)


# ---------------------------------------------------------------------------
# parse_week
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        (3, 3),
        (3.0, 3),
        (np.int64(3), 3),
        (Decimal(3), 3),
        ("3", 3),
        ("03", 3),
        ("3.0", 3),
        ("第3周", 3),
        ("第 3 周", 3),
        ("第3週", 3),
        ("3周", 3),
        ("W3", 3),
        ("w03", 3),
        ("W 12", 12),
        ("Week 3", 3),
        ("week3", 3),
        ("WK 3", 3),
        ("第三周", 3),
        ("第十周", 10),
        ("第十三周", 13),
        ("第二十周", 20),
        ("第二十一周", 21),
        ("五十三", 53),
        ("第一周", 1),
        ("３", 3),
        ("第１２周", 12),
        ("Ｗ３", 3),
        (" 3 ", 3),
        (53, 53),
    ],
)
def test_parse_week(value, expected):
    result = parse_week(value)
    assert type(result) is int
    assert result == expected


@pytest.mark.parametrize("value", [None, "", "-", "无", float("nan")])
def test_parse_week_blank(value):
    assert parse_week(value) is None


@pytest.mark.parametrize(
    "value",
    [0, -1, 3.5, "3.5", "0", "第0周", "W0", "-3", "第负三周", "第二三周", "十十", "第百周", "abc", "W", "第周",
     "2024-W27", True, float("inf"), 2**60, HUGE_INT, "9" * 5000, D(2024, 7, 1), "#N/A",
     "星期3"],
)
def test_parse_week_rejects(value):
    e = raises_parse_error(parse_week, value)
    assert e.expected_en == "a week number such as 3, 第3周 or W3"


# ---------------------------------------------------------------------------
# parse_code
# ---------------------------------------------------------------------------

STATUS = {
    "done": ["完成", "Done", "已完成"],
    "in_progress": ["进行中", "In progress", "doing"],
    "not_started": ["未开始", "Not started"],
}


@pytest.mark.parametrize(
    "value, expected",
    [
        ("完成", "done"),
        (" 已完成 ", "done"),
        ("done", "done"),
        ("DONE", "done"),
        ("Ｄｏｎｅ", "done"),
        ("in_progress", "in_progress"),
        ("In Progress", "in_progress"),
        ("in-progress", "in_progress"),
        ("inprogress", "in_progress"),
        ("IN_PROGRESS", "in_progress"),
        ("进行中", "in_progress"),
        ("Not Started", "not_started"),
        ("not-started", "not_started"),
    ],
)
def test_parse_code(value, expected):
    assert parse_code(value, STATUS) == expected


@pytest.mark.parametrize("value", [None, "", " ", "-", "无"])
def test_parse_code_blank(value):
    assert parse_code(value, STATUS) is None


@pytest.mark.parametrize("value", ["完", "finished", "#REF!", 1, True, object(), "___", HUGE_INT])
def test_parse_code_rejects_listing_first_labels(value):
    e = raises_parse_error(parse_code, value, STATUS)
    assert e.expected_zh == "以下之一：完成、进行中、未开始"
    assert e.expected_en == "one of: 完成, 进行中, 未开始"


def test_parse_code_numbers_and_shared_labels():
    levels = {"A": ["1", "一级"], "B": ["2", "一级"], "C": []}
    assert parse_code(1, levels) == "A"
    assert parse_code(2.0, levels) == "B"
    assert parse_code("一级", levels) == "A"  # the first code wins a shared label
    assert parse_code("c", levels) == "C"
    assert raises_parse_error(parse_code, "D", levels).expected_en == "one of: 1, 2, C"


# ---------------------------------------------------------------------------
# parse_series
# ---------------------------------------------------------------------------


def test_parse_series_number_mixed_object_column():
    values = pd.Series([1200, 2.5, "5万", None, "x", float("inf"), True, "-", "#DIV/0!"],
                       index=list("abcdefghi"), name="金额")
    result, errors, notes = parse_series(values, "number")
    assert result.dtype == "float64"
    assert result.name == "金额"
    assert list(result.index) == list("abcdefghi")
    assert result[["a", "b", "c"]].tolist() == [1200.0, 2.5, 50000.0]
    assert result[["d", "e", "f", "g", "h", "i"]].isna().all()
    assert sorted(errors) == ["e", "f", "g", "i"]
    assert all(isinstance(e, ParseError) for e in errors.values())
    assert errors["e"].found == "x" and errors["g"].found is True
    assert is_formula_error(errors["i"].found)
    assert notes == set()


def test_parse_series_percent_notes_whole_numbers():
    values = pd.Series([0.8, "80%", 80, "50", 1.2, None, "abc", 33.3], index=[10, 11, 12, 13, 14, 15, 16, 17])
    result, errors, notes = parse_series(values, "percent")
    assert result.tolist()[:5] == [0.8, 0.8, 0.8, 0.5, 1.2]
    assert math.isnan(result[15]) and math.isnan(result[16])
    assert result[17] == 33.3
    assert notes == {12, 13}
    assert list(errors) == [16]
    assert errors[16].expected_en == "a percentage such as 80% or 0.8"


def test_parse_series_percent_numeric_dtype():
    result, errors, notes = parse_series(pd.Series([0.5, 80.0, np.nan, 150.0, np.inf]), "percent")
    assert result.iloc[:2].tolist() == [0.5, 0.8]
    assert math.isnan(result.iloc[2])
    assert result.iloc[3] == 150.0
    assert notes == {1}
    assert list(errors) == [4]


def test_parse_series_date():
    values = pd.Series([45474, 7.1, "7月1日", None, 60, datetime.datetime(2024, 7, 2, 9), "bad", 7.15, 20240703])
    result, errors, notes = parse_series(values, "date", year=2024)
    assert result.dtype == object
    assert result.tolist() == [D(2024, 7, 1), D(2024, 7, 1), D(2024, 7, 1), None, None, D(2024, 7, 2), None,
                               D(2024, 7, 15), D(2024, 7, 3)]
    assert sorted(errors) == [4, 6]
    assert notes == set()


def test_parse_series_date_without_year():
    result, errors, _ = parse_series(pd.Series([45474.0, 7.1, np.nan]), "date")
    assert result.tolist() == [D(2024, 7, 1), None, None]
    assert "year" in errors[1].expected_en


def test_parse_series_week_is_nullable_int():
    values = pd.Series([3, 3.0, "第3周", None, 0, 2.5, "W12"])
    result, errors, notes = parse_series(values, "week")
    assert result.dtype == "Int64"
    assert result.tolist() == [3, 3, 3, pd.NA, pd.NA, pd.NA, 12]
    assert sorted(errors) == [4, 5]


def test_parse_series_text_and_code():
    text, errors, _ = parse_series(pd.Series([" 张三 ", 1200.0, None, "-", "#REF!"]), "text")
    assert text.tolist() == ["张三", "1200", None, None, None]
    assert list(errors) == [4]
    codes, errors, _ = parse_series(pd.Series(["完成", "Doing", None, "x"]), "code", choices=STATUS)
    assert codes.tolist() == ["done", "in_progress", None, None]
    assert list(errors) == [3]


@pytest.mark.parametrize(
    "values",
    [
        pd.Series([1, 2, 3], dtype="int64"),
        pd.Series([1, 2, None], dtype="Int64"),
        pd.Series([1.0, None, 3.0], dtype="Float64"),
        pd.Series([1, 2, 3], dtype="uint8"),
        pd.Series(["1", "2万", None], dtype="str"),
    ],
)
def test_parse_series_accepts_pandas_dtypes(values):
    result, errors, _ = parse_series(values, "number")
    assert errors == {}
    expected = [parse_number(v) for v in values.astype(object)]
    assert [None if math.isnan(x) else x for x in result] == expected


def test_parse_series_bool_dtype_is_not_numbers():
    result, errors, _ = parse_series(pd.Series([True, False]), "number")
    assert result.isna().all()
    assert sorted(errors) == [0, 1]


def test_parse_series_empty():
    result, errors, notes = parse_series(pd.Series([], dtype=object), "week")
    assert len(result) == 0 and result.dtype == "Int64"
    assert errors == {} and notes == set()


def test_parse_series_unknown_kind():
    with pytest.raises(ValueError, match="unknown kind"):
        parse_series(pd.Series([1]), "money")


def test_parse_series_million_numeric_rows_is_fast():
    x = np.arange(1_000_000, dtype="float64") % 97
    x[::5] = np.nan
    for values in (pd.Series(x), pd.Series(x.astype(object))):
        start = time.perf_counter()
        result, errors, notes = parse_series(values, "percent")
        elapsed = time.perf_counter() - start
        assert elapsed < 1.0, elapsed
        assert errors == {}
        assert result.iloc[2] == 0.02 and result.iloc[1] == 1.0
        assert len(notes) == int(((x > 1) & (x <= 100)).sum())


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------

finite_floats = st.floats(allow_nan=False, allow_infinity=False)

any_cell = st.one_of(
    st.none(),
    st.text(),
    st.text(alphabet="0123456789.,-+/ 年月日号周第万亿千百十一二三四五六七八九%¥￥:TZWwkK元人\u3000１２３，．"),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.decimals(),
    st.dates(),
    st.datetimes(),
    st.times(),
    st.binary(),
    st.fractions(),
    st.complex_numbers(),
    st.lists(st.integers(), max_size=2),
    st.floats().map(np.float64),
    st.integers(-(2**63), 2**63 - 1).map(np.int64),
    st.datetimes().map(np.datetime64),
    st.sampled_from(sorted(FORMULA_ERRORS | BLANK_PLACEHOLDERS)),
)


@given(finite_floats)
def test_property_number_round_trips(x):
    assert parse_number(x) == x
    assert parse_number(f"{x:,}") == x
    assert parse_number(f"¥{x:,}") == x


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_property_wan_is_ten_thousand(n):
    assert parse_number(f"{n}万") == n * 10_000
    assert parse_number(f"{n}亿") == float(n * 100_000_000)  # beyond 2**53 both round the same way


@given(any_cell, st.one_of(st.none(), st.integers(min_value=-5, max_value=20000)))
@settings(max_examples=300)
def test_property_only_parse_errors_escape(value, year):
    checks = [
        (clean_text, (value,), {}, lambda r: r is None or (isinstance(r, str) and r == r.strip() and r != "")),
        (parse_number, (value,), {}, lambda r: r is None or (type(r) is float and math.isfinite(r))),
        (parse_percent, (value,), {}, lambda r: r[0] is None or (type(r[0]) is float and math.isfinite(r[0]))),
        (parse_date, (value,), {"year": year}, lambda r: r is None or type(r) is datetime.date),
        (parse_week, (value,), {}, lambda r: r is None or (type(r) is int and r >= 1)),
        (parse_code, (value, STATUS), {}, lambda r: r is None or r in STATUS),
    ]
    for fn, args, kw, valid in checks:
        try:
            result = fn(*args, **kw)
        except ParseError as e:
            assert e.found is value or isinstance(value, str) or e.found == value
            assert str(e)
        else:
            assert valid(result), (fn.__name__, value, result)
    assert isinstance(is_blank(value), bool)
    assert isinstance(is_formula_error(value), bool)


@given(st.dates(min_value=D(1000, 1, 1)))  # years are four digits
def test_property_date_round_trips(d):
    assert parse_date(d.isoformat()) == d
    assert parse_date(f"{d.year}年{d.month}月{d.day}日") == d
    assert parse_date(f"{d.year}/{d.month}/{d.day}") == d
    assert parse_date(f"{d.month}月{d.day}日", year=d.year) == d
    if d.year >= 1900:
        serial = excel_serial(d)
        assert parse_date(serial) == d
        assert parse_date(float(serial) + 0.5) == d


@given(st.integers(min_value=1, max_value=10**6))
def test_property_week_round_trips(n):
    assert parse_week(f"第{n}周") == n
    assert parse_week(f"W{n}") == n
    assert parse_week(float(n)) == n


@given(st.lists(st.one_of(finite_floats, st.integers(-(10**6), 10**6), st.none(), st.just(float("nan")),
                          st.just(float("inf")), st.sampled_from(["5万", "80%", "x", "-", "7.1", "第3周"])),
                max_size=20))
@settings(max_examples=200)
def test_property_series_matches_the_scalar_parsers(cells):
    values = pd.Series(cells, dtype=object)
    scalar = {
        "number": lambda v: (parse_number(v), False),
        "percent": parse_percent,
        "week": lambda v: (parse_week(v), False),
        "date": lambda v: (parse_date(v, year=2024), False),
    }
    for kind, parse in scalar.items():
        kw = {"year": 2024} if kind == "date" else {}
        result, errors, notes = parse_series(values, kind, **kw)
        for i, v in enumerate(cells):
            try:
                expected, note = parse(v)
            except ParseError:
                assert i in errors, (kind, v)
                continue
            assert i not in errors, (kind, v)
            got = result.iloc[i]
            if expected is None:
                assert got is None or pd.isna(got), (kind, v, got)
            else:
                assert got == expected, (kind, v, got, expected)
            assert (i in notes) == note
