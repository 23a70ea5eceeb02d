"""The computation rules of SPEC §3 in Python: every worked example and every edge case it names.

Two ways in: the pure helpers of mktsheets.rules (completion, tiers, commission,
rounding), and the whole pipeline through `new_workbook(...)`, whose `calc.out`
holds every computed column by Excel row (data rows start at row 2, in the order
the rows are given here). The same numbers out of LibreOffice's own formulas are
in test_formulas_libreoffice.py.
"""
from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from mktsheets.generate import new_workbook
from mktsheets.rules.base import ceil_share, completion, tier_lookup, xround
from mktsheets.rules.incentives import commission
from mktsheets.rules.tracking import status_codes
from rule_scenarios import (FIRST_ROW, G, GRADED_EVAL, GRADED_TEAM, K, P, Q, WAN, erow, ev, person, qual,
                            scenario_data, tr)


# SPEC §2.7 defaults
SCORE_TIERS = ([1.0, 0.8, 0.6, 0.0], [100, 80, 60, 0])
PAYOUT_TIERS = ([1.0, 0.8, 0.6, 0.0], [1.2, 1.0, 0.8, 0.0])
GRADE_TIERS = ([90, 80, 70, 60, 0], ["S", "A", "B", "C", "D"], [1.5, 1.2, 1.0, 0.8, 0.0])
BRACKETS = pd.DataFrame({"from": [1.0, 1.2], "rate": [0.03, 0.08]})


def problems(w, code):
    return [p for p in w.calc.problems.items if p.code == code]


def cell(w, sheet, key, row):
    """(sheet name, A1) of a cell, as problems name it."""
    return w.calc.cell(sheet, key, row)


def blank(v) -> bool:
    return v is None or v == "" or (isinstance(v, float) and math.isnan(v))


@pytest.fixture(scope="module")
def wb(tmp_path_factory):
    path = tmp_path_factory.mktemp("rules") / "scenarios.xlsx"
    return new_workbook(path, Q, data=scenario_data())


@pytest.fixture(scope="module")
def out(wb):
    return wb.calc.out


def inc(out, name, key):
    return out["incentives"].at[P[name], key]


# ============================================================================= pure helpers

def test_default_tables_are_the_spec_defaults(wb):
    t = wb.calc.inputs.tables
    assert t["score_tiers"]["min"].tolist() == SCORE_TIERS[0]
    assert t["score_tiers"]["score"].tolist() == SCORE_TIERS[1]
    assert t["payout_tiers"]["factor"].tolist() == PAYOUT_TIERS[1]
    assert t["grade_tiers"]["grade"].tolist() == GRADE_TIERS[1]
    assert t["grade_tiers"]["factor"].tolist() == GRADE_TIERS[2]
    assert t["brackets"][["from", "rate"]].values.tolist() == BRACKETS.values.tolist()
    s = wb.calc.s
    assert (s["warn"], s["over"], s["repeat_weeks"]) == (0.8, 1.2, 2)
    assert (s["top_share"], s["bottom_share"], s["coach_line"], s["coach_months"]) == (0.2, 0.2, 60, 2)
    assert (s["scoring"], s["basis"], s["linear_cap"], s["completion_cap"]) == ("tiers", "completion", 120, 1.5)


@pytest.mark.parametrize("planned, actual, rate, code", [
    (7, 5, 0.7143, "warning"),
    (10, 12, 1.2, "exceeded"),
    (80 * WAN, 75 * WAN, 0.9375, "on_track"),
    (10, 10, 1.0, "met"),
    (100_000, 79_996, 0.8, "on_track"),     # 79.996% counts as 80%
    (100_000, 79_994, 0.7999, "warning"),
    (100_000, 119_996, 1.2, "exceeded"),
])
def test_tracking_examples_pure(planned, actual, rate, code):
    c = completion(pd.Series([planned]), pd.Series([actual]), pd.Series([False]))
    c4 = xround(c, 4)
    assert c4.iloc[0] == rate
    assert status_codes(c4, 0.8, 1.2).iloc[0] == code


@pytest.mark.parametrize("target, actual, expected", [
    (500 * WAN, 480 * WAN, 0.96),
    (200 * WAN, 220 * WAN, 1.10),
    (500 * WAN, 520 * WAN, 1.04),
])
def test_goal_examples_pure(target, actual, expected):
    c = completion(pd.Series([target]), pd.Series([actual]), pd.Series([False]))
    assert c.iloc[0] == pytest.approx(expected, abs=1e-12)
    assert xround(c, 4).iloc[0] == expected


def test_completion_lower_is_better_and_blanks_pure():
    t = pd.Series([50.0, 50.0, 50.0, np.nan, 0.0, -5.0, 50.0, 50.0])
    a = pd.Series([40.0, 0.0, -1.0, 10.0, 10.0, 10.0, np.nan, 0.0])
    low = pd.Series([True, True, True, False, False, False, False, False])
    c = completion(t, a, low)
    assert c.iloc[0] == 1.25                      # target / actual
    assert c.iloc[1:7].isna().all()               # actual <= 0 (lower), target blank / 0 / < 0, actual blank
    assert c.iloc[7] == 0.0                       # higher is better: nothing done is 0%


@pytest.mark.parametrize("comp, score, factor", [
    (1.04, 100, 1.2), (0.85, 80, 1.0), (0.65, 60, 0.8), (0.55, 0, 0.0),
    (0.79996, 80, 1.0), (0.79994, 60, 0.8), (1.0, 100, 1.2), (0.0, 0, 0.0), (3.0, 100, 1.2),
])
def test_score_and_factor_tiers_pure(comp, score, factor):
    c4 = xround(pd.Series([comp]), 4)
    assert tier_lookup(c4, *SCORE_TIERS, 0.0).iloc[0] == score
    assert tier_lookup(c4, *PAYOUT_TIERS, 0.0).iloc[0] == factor


def test_tier_lookup_any_row_order_blank_and_below_every_minimum():
    mins, scores = [0.6, 1.0, 0.0, 0.8], [60, 100, 0, 80]      # a user reordered the table
    got = tier_lookup(pd.Series([0.85, 1.5, np.nan, 0.59]), mins, scores, 0.0)
    assert got.iloc[0] == 80 and got.iloc[1] == 100 and np.isnan(got.iloc[2]) and got.iloc[3] == 0
    assert tier_lookup(pd.Series([0.5]), [0.6, 0.8], [60, 80], -1).iloc[0] == -1


@pytest.mark.parametrize("total, grade, factor", [
    (92, "S", 1.5), (90, "S", 1.5), (89.9999, "A", 1.2), (80, "A", 1.2), (70, "B", 1.0), (60, "C", 0.8), (59, "D", 0.0),
])
def test_grade_tiers_pure(total, grade, factor):
    s = pd.Series([float(total)])
    assert tier_lookup(s, GRADE_TIERS[0], GRADE_TIERS[1], "").iloc[0] == grade
    assert tier_lookup(s, GRADE_TIERS[0], GRADE_TIERS[2], 0.0).iloc[0] == factor


def test_weighted_total_rounded_before_grading():
    raw = 0.7 * 80 + 0.3 * 80
    assert xround(raw, 4) == 80.0
    assert tier_lookup(pd.Series([xround(raw, 4)]), GRADE_TIERS[0], GRADE_TIERS[1], "").iloc[0] == "A"
    just_below = 79.99996            # not 80 in binary, but 80.0000 to 4 decimals
    assert tier_lookup(pd.Series([xround(just_below, 4)]), GRADE_TIERS[0], GRADE_TIERS[1], "").iloc[0] == "A"
    assert tier_lookup(pd.Series([just_below]), GRADE_TIERS[0], GRADE_TIERS[1], "").iloc[0] == "B"


def test_commission_example_pure():
    raw = commission(pd.Series([500.0 * WAN]), pd.Series([650.0 * WAN]), BRACKETS)
    assert raw.iloc[0] == pytest.approx(70_000, abs=1e-6)
    assert xround(raw, 2).iloc[0] == 70_000.0          # 3% x 20% x 500万 + 8% x 10% x 500万


@pytest.mark.parametrize("actual, expected", [
    (0, 0.0), (480 * WAN, 0.0), (500 * WAN, 0.0), (520 * WAN, 6_000.0), (600 * WAN, 30_000.0),
    (650 * WAN, 70_000.0), (700 * WAN, 110_000.0),
])
def test_commission_is_marginal_over_brackets_pure(actual, expected):
    raw = commission(pd.Series([500.0 * WAN]), pd.Series([float(actual)]), BRACKETS)
    assert xround(raw, 2).iloc[0] == expected


def test_commission_without_target_or_actual_is_zero_pure():
    raw = commission(pd.Series([0.0, 500.0 * WAN]), pd.Series([100.0, np.nan]), BRACKETS)
    assert raw.tolist() == [0.0, 0.0]


@pytest.mark.parametrize("value, digits, expected", [
    (2.675, 2, 2.68), (-2.675, 2, -2.68), (1.005, 2, 1.01), (0.125, 2, 0.13), (0.5, 0, 1.0), (-0.5, 0, -1.0),
    (2.5, 0, 3.0), (1234567.125, 2, 1234567.13), (0.71428571, 4, 0.7143), (0.0, 2, 0.0),
    (70_000.00000000001, 2, 70_000.0), (1e-300, 2, 0.0), (5e-324, 4, 0.0), (-1e-300, 2, 0.0),
    (1.7e308, 4, 1.7e308), (-1.7e308, 2, -1.7e308),
])
def test_xround_is_excel_round(value, digits, expected):
    assert xround(value, digits) == expected


def test_xround_keeps_blanks_and_series_index():
    s = pd.Series([2.675, np.nan], index=[7, 9])
    r = xround(s, 2)
    assert list(r.index) == [7, 9] and r[7] == 2.68 and np.isnan(r[9])


@pytest.mark.parametrize("n, share, expected", [
    (5, 0.2, 1), (4, 0.2, 1), (6, 0.2, 2), (10, 0.2, 2), (10, 0.3, 3), (3, 0.1, 1), (0, 0.2, 0), (7, 0.0, 0),
])
def test_ceil_share(n, share, expected):
    assert ceil_share(n, share) == expected


# ============================================================================= R5 tracking

def test_tracking_worked_examples(out):
    k = out["tracking"]
    for task, rate, status in [("笔记", 0.7143, "预警"), ("视频", 1.2, "超额"), ("直播", 0.9375, "正常")]:
        r = K[task]
        assert round(k.at[r, "completion"], 4) == rate
        assert k.at[r, "status"] == status
    assert k.at[K["笔记"], "completion"] == pytest.approx(5 / 7)
    assert k.at[K["笔记"], "week_dates"] == "7/1~7/7"


def test_tracking_row_follows_its_goals_direction(out):
    k = out["tracking"]
    assert k.at[K["low-w1"], "completion"] == pytest.approx(50 / 40)     # lower is better: planned / actual
    assert k.at[K["low-w2"], "completion"] == pytest.approx(50 / 60)
    assert k.at[K["sum-w1"], "completion"] == 1.0


def test_tracking_blank_without_actual(out):
    k = out["tracking"]
    r = K["latest-w3-plan-only"]
    assert np.isnan(k.at[r, "completion"]) and k.at[r, "status"] == "" and k.at[r, "repeated"] == ""


def test_warning_or_exceeded_row_without_reason_is_a_warning(wb):
    flagged = {p.cell for p in problems(wb, "missing-reason")}
    assert cell(wb, "tracking", "reason", K["直播"])[1] not in flagged                  # 正常: no reason needed
    assert cell(wb, "tracking", "reason", K["笔记"])[1] not in flagged                  # reason given
    assert cell(wb, "tracking", "reason", K["rep-w1"])[1] in flagged                    # 预警 without a reason
    assert cell(wb, "tracking", "reason", K["multi-w2a"])[1] in flagged                 # 超额 without a reason
    assert all(p.severity == "warning" for p in problems(wb, "missing-reason"))


def test_tracking_actual_without_planned_is_an_error(wb, out):
    """R1/R5: an actual with a blank target (the planned amount) is blank and a Checks error."""
    r = K["no-plan"]
    assert np.isnan(out["tracking"].at[r, "completion"])
    sheet, a1 = cell(wb, "tracking", "planned", r)
    hits = [p for p in wb.calc.problems.errors if p.sheet == sheet and p.cell == a1]
    assert hits, "an actual with no planned amount must be reported"
    assert hits[0].found == ""
    # lower is better: an actual of 0 has no completion either
    r = K["low-zero"]
    assert np.isnan(out["tracking"].at[r, "completion"])
    sheet, a1 = cell(wb, "tracking", "actual", r)
    assert [p for p in wb.calc.problems.errors if p.sheet == sheet and p.cell == a1]
    # rows with a completion are not reported
    assert not [p for p in wb.calc.problems.errors if p.sheet == sheet and p.cell.endswith(str(K["笔记"]))]


def test_repeated_warning_over_consecutive_weeks(out):
    k = out["tracking"]
    assert k.at[K["rep-w1"], "repeated"] == ""          # first week in warning: not yet repeated
    assert k.at[K["rep-w2"], "repeated"] == "是"        # 50% then 60%
    assert k.at[K["rep-w3"], "repeated"] == ""          # 90% ends the run
    assert k.at[K["rep-w4"], "repeated"] == ""          # 70% after 90%: a new run of one week


def test_week_without_actuals_breaks_the_run(out):
    k = out["tracking"]
    assert k.at[K["broken-w1"], "status"] == "预警" and k.at[K["broken-w3"], "status"] == "预警"
    assert k.at[K["broken-w3"], "repeated"] == ""


def test_repeated_warning_uses_the_goals_week_total(out):
    k = out["tracking"]
    # week 1: 2/10 and 10/10 -> 12/20 = 60%; week 2: 12/10 and 3/10 -> 15/20 = 75%: both weeks in warning
    assert k.at[K["multi-w1b"], "status"] == "达标"
    assert k.at[K["multi-w2a"], "status"] == "超额"
    assert k.at[K["multi-w2a"], "repeated"] == "是" and k.at[K["multi-w2b"], "repeated"] == "是"
    assert k.at[K["multi-w1a"], "repeated"] == ""


def test_repeated_weeks_setting_is_honoured(tmp_path):
    rows = [tr(w, "G", 10, 5, f"w{w}") for w in (1, 2, 3)]
    w = new_workbook(tmp_path / "rw.xlsx", Q, data=dict(targets=[dict(id="G", name="g", target=100)], tracking=rows),
                     settings={"repeat_weeks": 3})
    assert w.calc.out["tracking"]["repeated"].iloc[:3].tolist() == ["", "", "是"]


# ============================================================================= R2-R4 goals

def test_goal_worked_examples(out):
    t = out["targets"]
    assert t.at[G["G96"], "completion"] == pytest.approx(0.96, abs=1e-12)
    assert t.at[G["G110"], "completion"] == pytest.approx(1.10, abs=1e-12)
    assert t.at[G["G104"], "completion"] == pytest.approx(1.04, abs=1e-12)
    assert t.at[G["G96"], "actual"] == 480 * WAN


def test_goal_lower_is_better(wb, out):
    t = out["targets"]
    assert t.at[G["GL"], "completion"] == 1.25
    assert t.at[G["GL"], "status"] == "超额"
    # actual 0 on a lower-is-better goal: no completion, an error on the actual
    assert t.at[G["GL0"], "actual"] == 0 and np.isnan(t.at[G["GL0"], "completion"])
    assert cell(wb, "targets", "actual", G["GL0"])[1] in {p.cell for p in problems(wb, "actual-not-positive")}


def test_goal_without_target_is_an_error(wb, out):
    assert out["targets"].at[G["GT0"], "actual"] == 10
    assert np.isnan(out["targets"].at[G["GT0"], "completion"])
    hits = [p for p in problems(wb, "target-missing") if p.cell == cell(wb, "targets", "target", G["GT0"])[1]]
    assert len(hits) == 1 and hits[0].severity == "error"
    assert hits[0].found == ""                        # a blank cell, not "nan"


def test_aggregation_sum_latest_average(out):
    t = out["targets"]
    assert t.at[G["GSUM"], "actual"] == 30            # 10 + 20
    assert t.at[G["GLT"], "actual"] == 50             # latest week with actuals (week 2), mean of its rows 40, 60
    assert t.at[G["GAV"], "actual"] == 75             # mean of the weekly totals 100 and 50; week 3 has none
    assert t.at[G["GLOW"], "actual"] == 50            # lower is better, average of 40 and 60
    assert t.at[G["GLOW"], "completion"] == 1.0
    assert t.at[G["GLT"], "completion"] == 0.5


def test_latest_and_average_status_ignore_time_elapsed(out):
    t = out["targets"]
    # 75% is under the warning threshold: behind for an average goal although little time has passed ...
    assert t.at[G["GAV"], "status"] == "落后"
    # ... while a 累计 goal at 30% is on track 28 days into the quarter (line = 28/92 x 80% = 24.3%);
    # the as-of date is the end of week 4, the latest week with an actual
    assert t.at[G["GSUM"], "elapsed"] == pytest.approx(28 / 92)
    assert t.at[G["GSUM"], "status"] == "正常"


def test_child_goals_roll_up_through_four_levels(out):
    t = out["targets"]
    assert t.at[G["P1"], "actual"] == 100             # from Tracking
    assert t.at[G["P2"], "actual"] == 50              # manual
    assert t.at[G["T1"], "actual"] == 150             # P1 + P2
    assert t.at[G["T2"], "actual"] == 30              # its own manual actual wins over its child (999)
    assert t.at[G["D1"], "actual"] == 180             # T1 + T2, P3 not counted twice
    assert t.at[G["C1"], "actual"] == 180
    assert t.at[G["C1"], "completion"] == 0.9
    assert t.at[G["T1"], "completion"] == 1.5


def test_parent_cycle_blank_actual_and_error(wb, out):
    t = out["targets"]
    cyc = {p.cell for p in problems(wb, "cycle")}
    for gid in ("X1", "X2", "Y1", "Y2", "Y3"):
        assert np.isnan(t.at[G[gid], "actual"]), gid
        assert cell(wb, "targets", "parent", G[gid])[1] in cyc, gid
    assert all(p.severity == "error" for p in problems(wb, "cycle"))
    assert t.at[G["YC"], "actual"] == 5               # the child itself keeps its own actual


def test_cycle_longer_than_the_four_levels_is_an_error(tmp_path):
    goals = [dict(id=f"Z{i}", parent=f"Z{i % 5 + 1}", name=f"z{i}", target=10) for i in range(1, 6)]
    goals.append(dict(id="ZC", parent="Z1", name="child", target=10, manual_actual=5))
    w = new_workbook(tmp_path / "cyc5.xlsx", Q, data=dict(targets=goals))
    flagged = {p.cell for p in problems(w, "cycle")}
    for i in range(1, 6):
        assert cell(w, "targets", "parent", FIRST_ROW + i - 1)[1] in flagged
    assert cell(w, "targets", "parent", FIRST_ROW + 5)[1] not in flagged


def test_change_vs_baseline(tmp_path):
    goals = [dict(id="B1", name="b", baseline=400 * WAN, target=500 * WAN, manual_actual=480 * WAN),
             dict(id="B2", name="b2", target=500 * WAN, manual_actual=480 * WAN)]
    t = new_workbook(tmp_path / "b.xlsx", Q, data=dict(targets=goals)).calc.out["targets"]
    assert t.at[2, "change"] == pytest.approx(0.2)
    assert np.isnan(t.at[3, "change"])


def test_time_elapsed_and_not_started(tmp_path):
    goals = [dict(id="S1", name="s", target=100, manual_actual=50, start=date(2024, 8, 1), end=date(2024, 8, 31)),
             dict(id="S2", name="s2", target=100, manual_actual=50, start=date(2024, 7, 1), end=date(2024, 7, 10)),
             dict(id="S3", name="s3", target=100, manual_actual=50)]
    w = new_workbook(tmp_path / "t.xlsx", Q, data=dict(targets=goals), settings={"as_of": date(2024, 7, 31)})
    t = w.calc.out["targets"]
    assert t.at[2, "status"] == "未开始" and t.at[2, "elapsed"] == 0
    assert t.at[3, "elapsed"] == 1 and t.at[3, "status"] == "落后"           # 50% < 100% x 80%
    assert t.at[4, "elapsed"] == pytest.approx(31 / 92) and t.at[4, "status"] == "正常"


def test_warning_weeks_count(out):
    t = out["targets"]
    assert t.at[G["GR"], "warning_weeks"] == 3        # weeks 1, 2 and 4
    assert t.at[G["GB"], "warning_weeks"] == 2
    assert t.at[G["GM"], "warning_weeks"] == 2
    assert t.at[G["GSUM"], "warning_weeks"] == 0


# ============================================================================= R6 evaluation

@pytest.mark.parametrize("name, comp, score", [
    ("张三", 1.04, 100), ("李四", 0.85, 80), ("王五", 0.65, 60), ("赵六", 0.55, 0), ("钱七", 0.79996, 80),
])
def test_evaluation_worked_examples(out, name, comp, score):
    e = out["evaluation"]
    r = erow(name)
    assert e.at[r, "completion"] == pytest.approx(comp, abs=1e-12)
    assert e.at[r, "score"] == score
    assert e.at[r, "weighted"] == score


def test_evaluation_takes_target_actual_and_direction_from_the_goal(out):
    e = out["evaluation"]
    r = erow("张三")
    assert (e.at[r, "target_used"], e.at[r, "actual_used"]) == (500 * WAN, 520 * WAN)
    r = erow("沈七")                                    # linked to the lower-is-better goal GL: 50 / 40
    assert e.at[r, "completion"] == 1.25 and e.at[r, "score"] == 100
    r = erow("蒋六")                                    # typed direction
    assert e.at[r, "completion"] == 1.25


def test_qualitative_score_renormalised_over_scores_present(out):
    e = out["evaluation"]
    assert e.at[erow("郑一"), "score"] == pytest.approx((0.5 * 80 + 0.2 * 90) / 0.7)
    assert e.at[erow("郑一", "2024-07"), "score"] == 70                         # peer only
    assert e.at[erow("郑一", "2024-08"), "score"] == pytest.approx(0.5 * 80 + 0.3 * 90 + 0.2 * 100)


def test_score_outside_0_100_is_an_error(wb, out):
    e = out["evaluation"]
    r1, r2 = erow("冯二"), erow("冯二", "2024-07")
    assert np.isnan(e.at[r1, "score"]) and np.isnan(e.at[r2, "score"])
    bad = {p.cell for p in problems(wb, "score-range") if p.severity == "error"}
    assert cell(wb, "evaluation", "manager_score", r1)[1] in bad
    assert cell(wb, "evaluation", "customer_score", r2)[1] in bad
    assert np.isnan(inc(out, "冯二", "total"))


# ============================================================================= R7-R12 incentives

@pytest.mark.parametrize("name, score, factor, bonus", [
    ("张三", 100, 1.2, 12_000), ("李四", 80, 1.0, 10_000), ("王五", 60, 0.8, 8_000), ("赵六", 0, 0.0, 0),
])
def test_payout_factor_worked_examples(out, name, score, factor, bonus):
    assert inc(out, name, "total") == score
    assert inc(out, name, "factor") == factor
    assert inc(out, name, "bonus") == bonus


def test_commission_worked_example(out):
    assert inc(out, "张三", "sales_target") == 500 * WAN
    assert inc(out, "张三", "sales_actual") == 650 * WAN
    assert inc(out, "张三", "commission") == 70_000.0
    assert inc(out, "张三", "payout") == 12_000 + 70_000
    assert inc(out, "李四", "commission") == 0.0            # no sales goal


def test_tier_lookups_use_completion_rounded_to_4_decimals(out):
    assert inc(out, "钱七", "overall") == pytest.approx(0.79996)
    assert inc(out, "钱七", "total") == 80
    assert inc(out, "钱七", "factor") == 1.0                # 79.996% counts as 80%


def test_money_rounded_half_away_from_zero(out):
    assert inc(out, "钱七", "bonus") == 2.68                # 2.675 x 100%
    assert inc(out, "钱七", "payout") == 2.68


def test_weights_not_100_percent_leave_payout_blank(wb, out):
    for key in ("total", "factor", "bonus", "commission", "payout", "rank"):
        assert blank(inc(out, "孙八", key)), key
    assert inc(out, "孙八", "grade") == "" and inc(out, "孙八", "honours") == ""
    assert inc(out, "孙八", "sales_target") == 100 * WAN  # the inputs still show
    errs = [p for p in problems(wb, "weights-person") if p.severity == "error"]
    assert len(errs) == 1
    assert "孙八" in errs[0].message
    assert errs[0].cell == cell(wb, "incentives", "total", P["孙八"])[1]
    assert errs[0].found == "90.00%"


def test_adjustment_without_reason(wb, out):
    assert blank(inc(out, "周九", "payout"))
    assert inc(out, "周九", "bonus") == 12_000
    assert cell(wb, "incentives", "adjustment_reason", P["周九"])[1] in {
        p.cell for p in problems(wb, "adjustment-reason") if p.severity == "error"}
    assert inc(out, "吴十", "payout") == 12_000 + 500
    assert len(problems(wb, "adjustment-reason")) == 1


def test_quantitative_and_qualitative_scores(out):
    assert inc(out, "郑一", "qual_score") == pytest.approx(82.857142857, abs=1e-8)
    assert np.isnan(inc(out, "郑一", "quant_score"))
    assert inc(out, "郑一", "total") == 82.8571             # rounded to 4 decimals
    assert inc(out, "郑一", "grade") == "A"


def test_ranks_in_the_scenario_with_a_three_way_tie(out):
    ranks = {n: inc(out, n, "rank") for n in ("张三", "周九", "吴十", "郑一", "李四", "钱七", "蒋六", "沈七", "王五", "赵六")}
    assert ranks == {"张三": 1, "周九": 1, "吴十": 1, "蒋六": 1, "沈七": 1,
                     "郑一": 6, "李四": 7, "钱七": 7, "王五": 9, "赵六": 10}


def test_coaching_after_two_months_below_the_line(out):
    assert inc(out, "陈三", "alerts") == "绩效辅导"          # July 50, August 55
    assert inc(out, "褚四", "alerts") == ""                  # July and September, August 70 in between
    assert inc(out, "卫五", "alerts") == ""                  # one month only
    assert inc(out, "郑一", "alerts") == ""                  # months with weights of 0%: no monthly total


def test_overall_completion_capped(tmp_path):
    team = [person("甲")]
    evaluation = [ev("甲", 0.5, 100, 300), ev("甲", 0.5, 100, 50)]
    out = new_workbook(tmp_path / "cap.xlsx", Q, data=dict(team=team, evaluation=evaluation)).calc.out
    assert out["incentives"].at[2, "overall"] == pytest.approx(0.5 * 1.5 + 0.5 * 0.5)   # 300% capped at 150%
    assert out["incentives"].at[2, "factor"] == 1.2
    assert out["incentives"].at[2, "total"] == 50                                        # 100 x 50% + 0 x 50%


# ----------------------------------------------------------------------------- grade basis, ties, n < 5

@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    path = tmp_path_factory.mktemp("graded") / "graded.xlsx"
    return new_workbook(path, Q, data=dict(team=GRADED_TEAM, evaluation=GRADED_EVAL), settings={"basis": "等级"})


def test_total_92_is_grade_s_with_150_percent(graded):
    i = graded.calc.out["incentives"]
    assert graded.calc.s["basis"] == "grade"
    assert i.at[2, "total"] == 92 and i.at[2, "grade"] == "S"
    assert i.at[2, "factor"] == 1.5 and i.at[2, "bonus"] == 15_000


def test_point_seven_times_80_plus_point_three_times_80_is_a(graded):
    i = graded.calc.out["incentives"]
    assert i.at[3, "total"] == 80.0
    assert i.at[3, "grade"] == "A" and i.at[3, "factor"] == 1.2


def test_ranks_share_ties_1_2_2_4(graded):
    i = graded.calc.out["incentives"]
    assert i.loc[2:5, "rank"].tolist() == [1, 2, 2, 4]
    assert i.loc[2:5, "grade"].tolist() == ["S", "A", "A", "B"]


def test_fewer_than_five_people_no_bottom(graded):
    i = graded.calc.out["incentives"]
    assert i.loc[2:5, "honours"].tolist() == ["季度之星", "", "", ""]      # ceil(4 x 20%) = 1
    assert i.loc[2:5, "alerts"].tolist() == ["", "", "", ""]


@pytest.mark.parametrize("totals, stars, bottoms", [
    ([90, 80, 70, 60, 50], [True, False, False, False, False], [False, False, False, False, True]),
    ([95, 90, 80, 70, 60, 50], [True, True, False, False, False, False], [False, False, False, False, True, True]),
], ids=["n=5", "n=6"])
def test_top_and_bottom_shares_round_up(tmp_path, totals, stars, bottoms):
    names = [f"人{i}" for i in range(len(totals))]
    w = new_workbook(tmp_path / "share.xlsx", Q,
                     data=dict(team=[person(n) for n in names], evaluation=[qual(n, s) for n, s in zip(names, totals)]))
    i = w.calc.out["incentives"].loc[2:len(totals) + 1]
    assert i["rank"].tolist() == list(range(1, len(totals) + 1))
    assert (i["honours"] == "季度之星").tolist() == stars
    assert (i["alerts"] == "末位").tolist() == bottoms


# ----------------------------------------------------------------------------- linear scoring, commission cap

@pytest.fixture(scope="module")
def variant(tmp_path_factory):
    path = tmp_path_factory.mktemp("variant") / "variant.xlsx"
    team = [person(n) for n in ("L1", "L2", "L3", "L4")]
    evaluation = [ev("L1", 1, 100, 85), ev("L2", 1, 100, 110), ev("L3", 1, 100, 130), ev("L4", 1, 100, 79.996)]
    goals = [dict(id="S", name="sales", type="销售额", owner="L1", target=500 * WAN, manual_actual=650 * WAN),
             dict(id="S2", name="sales2", type="销售额", owner="L2", target=500 * WAN, manual_actual=520 * WAN)]
    return new_workbook(path, Q, data=dict(team=team, evaluation=evaluation, targets=goals),
                        settings={"scoring": "线性", "commission_cap": 50_000})


def test_linear_scoring_with_cap(variant):
    e = variant.calc.out["evaluation"]
    assert e.loc[2:5, "score"].tolist() == pytest.approx([85, 110, 120, 79.996])   # 130% capped at 120


def test_commission_cap(variant):
    i = variant.calc.out["incentives"]
    assert i.at[2, "commission"] == 50_000                  # 7万 capped at 5万
    assert i.at[3, "commission"] == 6_000                   # 3% x 4% x 500万, under the cap
    assert i.at[2, "payout"] == 10_000 * 1.0 + 50_000       # 85% -> factor 100%


# ----------------------------------------------------------------------------- R13 and reading back

def test_team_completion_uses_the_highest_level(wb, out):
    from mktsheets.rules.dashboard import headline_cell
    d = out["dashboard"]
    assert d[headline_cell("team_completion")] == pytest.approx(0.9)      # only 公司 goal C1: 180 / 200
    assert d[headline_cell("team_award")] == 0


def test_team_award_due_at_100_percent(tmp_path):
    from mktsheets.rules.dashboard import headline_cell
    goals = [dict(id="A", level="部门", name="a", target=100, manual_actual=120, weight=0.5),
             dict(id="B", level="部门", name="b", target=100, manual_actual=80, weight=0.5),
             dict(id="C", level="小组", parent="A", name="c", target=100, manual_actual=10, weight=1)]
    d = new_workbook(tmp_path / "award.xlsx", Q, data=dict(targets=goals), settings={"team_award": 5000}).calc.out[
        "dashboard"]
    assert d[headline_cell("team_completion")] == pytest.approx(1.0)
    assert d[headline_cell("team_award")] == 5000


def test_reading_the_file_back_gives_the_same_numbers(wb):
    from mktsheets.api import load

    back = load(wb.path)
    frame = back.frame("incentives")
    assert frame.at[P["张三"], "commission"] == 70_000
    assert frame.at[P["钱七"], "bonus"] == 2.68
    assert blank(frame.at[P["孙八"], "total"])
    data = scenario_data()
    for sheet, source in (("targets", "targets"), ("tracking", "tracking"), ("evaluation", "evaluation"),
                          ("incentives", "team")):
        rows = list(range(FIRST_ROW, FIRST_ROW + len(data[source])))
        mine, theirs = wb.calc.out[sheet], back.calc.out[sheet]
        cols = [c for c in mine.columns if not c.startswith("_") or c in ("_own", "_cyc")]
        pd.testing.assert_frame_equal(mine.loc[rows, cols], theirs.loc[rows, cols], check_dtype=False)


def test_keys_of_folds_a_column_like_key_of():
    """The bulk look-up key of IDs and names: MATCH ignores case; blanks never match anything."""
    import numpy as np

    from mktsheets.rules.context import key_of, keys_of
    texts = pd.Series(["G1", "g1", None, "", "Ｇ1", "İstanbul", "G1"], dtype=object, index=range(5, 12))
    got = keys_of(texts)
    assert got.tolist() == [key_of(v) for v in texts] and got.index.equals(texts.index)
    assert got.iloc[0] is got.iloc[6]                 # each distinct value folded once, its key shared
    mixed = pd.Series(["1", 1, 1.0, True, np.nan], dtype=object)
    assert keys_of(mixed).tolist() == [key_of(v) for v in mixed] == ["1", "1", "1.0", "true", "nan"]
    assert keys_of(pd.Series([], dtype=object)).tolist() == []
