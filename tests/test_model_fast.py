"""The bulk path of model.parse agrees with the per-cell path exactly (issue 6: recalc at scale).

`model.FAST = False` sends every cell through `_CellReader.cell()`, the reference. The bulk path
must give the same values (same dtype, NaN where NaN, -0.0 where -0.0) and file the same problems
in the same order, on random quarters and on Hypothesis' mixed columns of every column type.
"""
from __future__ import annotations

import datetime as dt
import math
import random
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from random_quarter import random_quarter

from mktsheets import model, parsing
from mktsheets.generate import MIN_WEEKS, build_raw, make_layout, row_counts
from mktsheets.period import calendar, parse_quarter
from mktsheets.problems import ProblemList
from mktsheets.schema import load_template

TEMPLATE = load_template()


@pytest.fixture
def per_cell(monkeypatch):
    """A function running f() with the bulk path switched off."""

    def run(f):
        monkeypatch.setattr(model, "FAST", False)
        try:
            return f()
        finally:
            monkeypatch.setattr(model, "FAST", True)

    return run


def _same_value(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b


def assert_same_series(fast: pd.Series, ref: pd.Series, what: str = "") -> None:
    assert fast.dtype == ref.dtype, what
    assert fast.index.equals(ref.index), what
    bad = [(i, a, b) for i, a, b in zip(ref.index, fast.tolist(), ref.tolist()) if not _same_value(a, b)]
    assert not bad, f"{what}: (row, fast, per-cell) {bad[:10]}"


def _outcome(f):
    """(result, None) or (None, (exception type, message)): a crash must be the same crash."""
    try:
        return f(), None
    except Exception as e:  # noqa: BLE001 - compared, not swallowed
        return None, (type(e), str(e))


# ----------------------------------------------------------------- random quarters


def _raw_quarter(seed: int):
    q = random_quarter(random.Random(seed))
    quarter = parse_quarter(q["period"])
    data = {k: list(v) for k, v in q["data"].items()}
    weeks = max(MIN_WEEKS, len(calendar(quarter.start, quarter.end)))
    layout = make_layout(TEMPLATE, q["lang"], row_counts(TEMPLATE, data), quarter.months, weeks)
    raw = build_raw(TEMPLATE, q["lang"], quarter, data, layout, q["settings"], q["tables"])
    return raw, layout


@pytest.mark.parametrize("seed", range(40))
def test_random_quarter_parses_the_same_both_ways(seed, per_cell):
    raw, layout = _raw_quarter(seed)
    fast_inputs, fast_problems = model.parse(TEMPLATE, raw, layout)
    ref_inputs, ref_problems = per_cell(lambda: model.parse(TEMPLATE, raw, layout))
    assert fast_problems.items == ref_problems.items
    assert fast_inputs.frames.keys() == ref_inputs.frames.keys()
    for key, frame in ref_inputs.frames.items():
        assert list(fast_inputs.frames[key].columns) == list(frame.columns)
        for col in frame.columns:
            assert_same_series(fast_inputs.frames[key][col], frame[col], f"{key}.{col} (seed {seed})")
    assert fast_inputs.settings == ref_inputs.settings


def test_random_quarters_have_problems_to_compare():
    """The seeds above are worth comparing: some of their cells get notes and errors (the mixed columns
    below cover the other kinds)."""
    codes = set()
    for seed in range(40):
        raw, layout = _raw_quarter(seed)
        codes |= {p.code for p in model.parse(TEMPLATE, raw, layout)[1].items}
    assert {"negative", "percent-as-whole", "score-range"} <= codes, codes


# ----------------------------------------------------------------- mixed columns

# (sheet, key, column type, code list) for every input column, and the types only Settings use
# (int, percent) on a column that is not a key and may be negative, and on one that may not.
COLUMNS = [(s.key, c.key, c.type, c.list) for s in TEMPLATE.sheets for c in s.input_columns]
COLUMNS += [("incentives", "adjustment", "int", None), ("incentives", "adjustment", "percent", None),
            ("tracking", "planned", "int", None), ("tracking", "planned", "percent", None),
            ("tracking", "goal", "period", None), ("tracking", "owner", "code", "yesno"),
            ("evaluation", "target", "score", None), ("evaluation", "target", "share", None)]


def _labels() -> list[str]:
    out = []
    for choices in TEMPLATE.codes.values():
        for code, labels in choices.items():
            for label in (code, *labels):
                out += [label, label.lower(), label.upper(), f" {label}", f"{label} ", f"{label}\u3000",
                        label.replace(" ", "_"), label.replace(" ", ""), f"\u200b{label}"]
    return out


SPECIAL_FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, 1.5, 2.0, 7.15, 7.1, 12.99, 13.5, 59.0, 60.0, 61.0, 60.5, 100.0,
                  100.5, 101.0, -5.0, 1e15, -1e15, 1e16, 1.0000000000000002e15, 1e-100, 1e-101, -1e-101, 5e-324,
                  45474.0, 45474.75, 2958465.0, 2958466.0, 20240701.0, 20241331.0, 99991231.0, 2.0**53,
                  float("nan"), float("inf"), float("-inf"), 0.1 + 0.2, 1 / 3]
SPECIAL_INTS = [0, 1, -1, 2, 3, 13, 52, 59, 60, 61, 80, 100, 101, 45474, 2958465, 20240701, 10**15, 10**15 + 1,
                2**53 - 1, 2**53, 2**53 + 1, -(2**53) - 1, 10**30, 10**400, True, False]
SPECIAL_STRINGS = ["", " ", "  ", "\u3000", "\u200b", "\t", "-", "—", "无", "N/A", "n/a", " - ", "#DIV/0!",
                   "#N/A", "Err:502", " #REF! ", "＃ＤＩＶ／０！", "5万", "1.2亿", "¥1,200.50", "80%", "80％",
                   "120%", "0.8", "80", "1e16", "-5", "第3周", "W3", "Week 3", "第三周", "3", "3.0", "0",
                   "2024-07-01", "2024/7/1", "2024年7月1日", "20240701", "7月1日", "7/1", "7.15", "2024-02-30",
                   "2024Q3", "2024q3", " 2024Q3", "2024-07", "2024年7月", "Q3", "abc", "张三", " 张三",
                   "张三 ", "G001", " G001", "a\nb", "=SUM(A1)", "TRUE", "1,2", "١٢٣", "ｎａ", "⽆"]
DATES = [dt.date(2024, 7, 1), dt.date(1900, 1, 1), dt.date(1900, 2, 28), dt.date(1, 1, 1), dt.date(9999, 12, 31),
         dt.datetime(2024, 7, 1), dt.datetime(2024, 7, 1, 13, 30), dt.datetime(1899, 12, 30),
         dt.datetime(2024, 7, 1, 23, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))), dt.time(12, 0),
         pd.Timestamp("2024-07-01"), np.datetime64("2024-07-01"), pd.NaT]
OTHERS = [None, pd.NA, Decimal("1.5"), Decimal("NaN"), np.float64(2.5), np.float64("nan"), np.float32(0.1),
          np.int64(7), np.int64(-3), np.bool_(True), np.str_("张三"), b"bytes", [1], object()]

cell_values = st.one_of(
    st.sampled_from(SPECIAL_FLOATS + SPECIAL_INTS + SPECIAL_STRINGS + DATES + OTHERS),
    st.sampled_from(_labels()),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-200, max_value=200),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.integers(min_value=-5, max_value=120),
    st.dates(),
    st.datetimes(),
    st.text(max_size=8),
    st.text(alphabet=" \u3000\u200b-—%万周第年月日0123456789.,/#!Ww", max_size=8),
)


def _parse_column(sheet, key, col_type, list_key, values, lang, year, fast):
    layout = make_layout(TEMPLATE, lang, {}, (), MIN_WEEKS)
    problems = ProblemList(lang=lang)
    reader = model._CellReader(TEMPLATE, layout, problems, year)
    series = pd.Series(values, index=range(5, 5 + len(values)), dtype=object)
    old = model.FAST
    model.FAST = fast
    try:
        return _outcome(lambda: (reader.column(sheet, key, col_type, series, list_key), problems.items))
    finally:
        model.FAST = old


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(column=st.sampled_from(COLUMNS), values=st.lists(cell_values, max_size=30),
       lang=st.sampled_from(["zh", "en"]), year=st.sampled_from([None, 2024]), data=st.data())
def test_mixed_column_parses_the_same_both_ways(column, values, lang, year, data):
    if values:   # repeats: the bulk path parses each distinct string once
        values += data.draw(st.lists(st.sampled_from(values), max_size=10))
    sheet, key, col_type, _ = column
    assert_parsed_alike(column, values, lang, year, f"{sheet}.{key} as {col_type}")


def assert_parsed_alike(column, values, lang, year, label) -> None:
    """The bulk path and the per-cell path give the same values and problems (or the same crash)."""
    fast, fast_error = _parse_column(*column, values, lang, year, True)
    ref, ref_error = _parse_column(*column, values, lang, year, False)
    assert fast_error == ref_error
    if ref_error is None:
        assert_same_series(fast[0], ref[0], label)
        assert fast[1] == ref[1]


@pytest.mark.parametrize("column", COLUMNS, ids=lambda c: f"{c[0]}.{c[1]}:{c[2]}")
def test_every_sample_value_in_every_column(column):
    """Each listed value, alone and repeated, in every column type: the cases Hypothesis may miss."""
    values = [v for v in SPECIAL_FLOATS + SPECIAL_INTS + SPECIAL_STRINGS + DATES + OTHERS + _labels()
              if not (isinstance(v, int) and abs(v) > 10**300)]     # str() of those fails both ways
    values = values + values[::-1]
    for lang in ("zh", "en"):
        for year in (None, 2024):
            assert_parsed_alike(column, values, lang, year, f"{column} {lang} {year}")


def test_bulk_path_is_taken():
    """Ordinary cells skip cell(): a tracking column of plain numbers calls it for the odd ones only."""
    layout = make_layout(TEMPLATE, "zh", {}, (), MIN_WEEKS)
    reader = model._CellReader(TEMPLATE, layout, ProblemList(lang="zh"), 2024)
    calls = []
    real = reader.cell

    def counting(*args):
        calls.append(args[4])
        return real(*args)

    reader.cell = counting
    values = pd.Series([1.0, 2, None, "", 3.5, "5万", -1.0, float("inf")] * 1000, dtype=object)
    out = reader.column("tracking", "planned", "number", values)
    assert out.notna().sum() == 5000
    # every distinct string once off the record, then the cells that get a problem, one by one
    assert sorted(set(map(str, calls))) == ["", "-1.0", "5万", "inf"]
    assert len(calls) == 2 + 3000


def test_clean_str_is_clean_text_of_a_string():
    assert not parsing._BLANK_KEYS & parsing._ERROR_KEYS     # so the order of its two checks does not matter
    for s in SPECIAL_STRINGS + _labels() + [np.str_(" x ")]:
        try:
            expected = parsing.clean_text(s)
        except parsing.ParseError:
            assert parsing.clean_str(s) is None
        else:
            assert parsing.clean_str(s) == ("" if expected is None else expected)
