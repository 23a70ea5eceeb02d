"""Worked examples and edge cases of SPEC §3 as workbook rows, shared by the rule tests.

Rows are dicts keyed by the template's column keys, values as a person would type
them; they land on the sheets in this order from row 2 (FIRST_ROW) on.
"""
from __future__ import annotations

Q = "2024Q3"
FIRST_ROW = 2
WAN = 10_000


def rows_of(items, key):
    """{item[key]: Excel row} for rows written in this order."""
    return {item[key]: FIRST_ROW + i for i, item in enumerate(items) if item.get(key)}


def ev(name, weight, target=None, actual=None, kind="定量", period=Q, **kw):
    """One Evaluation row as a person would type it."""
    return dict(period=period, name=name, indicator=f"{name}-{period}-{weight}-{kind}", kind=kind,
                weight=weight, target=target, actual=actual, **kw)


def qual(name, score, weight=1, period=Q):
    """A qualitative row scored by the manager only (so its score is exactly `score`)."""
    return ev(name, weight, kind="定性", period=period, manager_score=score)


def person(name, base=10_000, group=""):
    return dict(id=f"E-{name}", name=name, group=group, bonus_base=base)


def tr(week, goal, planned, actual, label, **kw):
    return dict(week=week, goal=goal, task=label, planned=planned, actual=actual, **kw)


# ----------------------------------------------------------------------------- the scenario workbook

TEAM = [person(n, b) for n, b in [
    ("张三", 10_000),   # 104% via a linked goal -> 100 points, factor 120%; owns 500万/650万 sales -> 7万
    ("李四", 10_000),   # 85% -> 80, 100%
    ("王五", 10_000),   # 65% -> 60, 80%
    ("赵六", 10_000),   # 55% -> 0, 0%
    ("钱七", 2.675),    # 79.996% -> counts as 80%; bonus 2.675 x 100% -> 2.68
    ("孙八", 10_000),   # weights 60% + 30%: no total, grade, bonus, commission
    ("周九", 10_000),   # adjustment without a reason
    ("吴十", 10_000),   # adjustment with a reason
    ("郑一", 10_000),   # qualitative: manager 80 + customer 90, peer missing
    ("冯二", 10_000),   # a score of 120
    ("陈三", 10_000),   # July 50, August 55: coaching
    ("褚四", 10_000),   # July 50, August 70, September 50: no coaching
    ("卫五", 10_000),   # July 50 only: no coaching
    ("蒋六", 10_000),   # lower is better, typed on the Evaluation row
    ("沈七", 10_000),   # lower is better, taken from the linked goal
]]
INCENTIVES = [{}] * 6 + [dict(adjustment=500), dict(adjustment=500, adjustment_reason="补发上季度差额")]

TARGETS = [
    dict(id="G104", name="104%", target=500 * WAN, manual_actual=520 * WAN),
    dict(id="G96", name="96%", target=500 * WAN, manual_actual=480 * WAN),
    dict(id="G110", name="110%", target=200 * WAN, manual_actual=220 * WAN),
    dict(id="GS", name="张三 销售额", type="销售额", owner="张三", target=500 * WAN, manual_actual=650 * WAN),
    dict(id="GS8", name="孙八 销售额", type="销售额", owner="孙八", target=100 * WAN, manual_actual=120 * WAN),
    dict(id="GL", name="获客成本", direction="越低越好", target=50, manual_actual=40),
    dict(id="GL0", name="获客成本 0", direction="越低越好", target=50, manual_actual=0),
    dict(id="GLT", name="复购率 最新", aggregation="最新", target=100),
    dict(id="GAV", name="线索成本 平均", aggregation="平均", target=100),
    dict(id="GSUM", name="内容 累计", aggregation="累计", target=100),
    dict(id="GLOW", name="成本 跟踪", direction="越低越好", aggregation="平均", target=50),
    # company -> department -> group -> person
    dict(id="C1", level="公司", name="公司", target=200, weight=1),
    dict(id="D1", level="部门", parent="C1", name="部门", target=200, weight=1),
    dict(id="T1", level="小组", parent="D1", name="小组1", target=100, weight=0.5),
    dict(id="T2", level="小组", parent="D1", name="小组2", target=100, weight=0.5, manual_actual=30),
    dict(id="P1", level="个人", parent="T1", name="个人1", target=50, weight=0.5),
    dict(id="P2", level="个人", parent="T1", name="个人2", target=50, weight=0.5, manual_actual=50),
    dict(id="P3", level="个人", parent="T2", name="个人3", target=50, weight=1, manual_actual=999),
    # parent cycles: two goals, three goals
    dict(id="X1", parent="X2", name="循环1", target=10),
    dict(id="X2", parent="X1", name="循环2", target=10),
    dict(id="Y1", parent="Y2", name="循环3", target=10),
    dict(id="Y2", parent="Y3", name="循环4", target=10),
    dict(id="Y3", parent="Y1", name="循环5", target=10),
    dict(id="YC", parent="Y1", name="循环的下级", target=10, manual_actual=5),
    dict(id="GT0", name="无目标值", manual_actual=10),
    # repeated warnings
    dict(id="GR", name="连续预警", target=1000),
    dict(id="GB", name="中断", target=1000),
    dict(id="GM", name="周合计", target=1000),
]
TRACKING = [
    tr(1, None, 7, 5, "笔记", reason="人手不足"),
    tr(1, None, 10, 12, "视频", reason="爆款"),
    tr(1, None, 80 * WAN, 75 * WAN, "直播"),
    tr(1, "GLT", 10, 30, "latest-w1"), tr(2, "GLT", 10, 40, "latest-w2a"), tr(2, "GLT", 10, 60, "latest-w2b"),
    tr(3, "GLT", 10, None, "latest-w3-plan-only"),
    tr(1, "GAV", 10, 80, "avg-w1a"), tr(1, "GAV", 10, 20, "avg-w1b"), tr(2, "GAV", 10, 50, "avg-w2"),
    tr(3, "GAV", 10, None, "avg-w3-plan-only"),
    tr(1, "GSUM", 10, 10, "sum-w1"), tr(2, "GSUM", 10, 20, "sum-w2"),
    tr(1, "GLOW", 50, 40, "low-w1"), tr(2, "GLOW", 50, 60, "low-w2"),
    tr(1, "P1", 10, 100, "person1"),
    tr(1, "GR", 10, 5, "rep-w1"), tr(2, "GR", 10, 6, "rep-w2"), tr(3, "GR", 10, 9, "rep-w3"), tr(4, "GR", 10, 7, "rep-w4"),
    tr(1, "GB", 10, 5, "broken-w1"), tr(2, "GB", 10, None, "broken-w2"), tr(3, "GB", 10, 5, "broken-w3"),
    tr(1, "GM", 10, 2, "multi-w1a"), tr(1, "GM", 10, 10, "multi-w1b"),
    tr(2, "GM", 10, 12, "multi-w2a"), tr(2, "GM", 10, 3, "multi-w2b"),
    tr(1, None, None, 5, "no-plan"),
    tr(1, "GL", 50, 0, "low-zero"),
]
EVALUATION = [
    ev("张三", 1, goal="G104"),
    ev("李四", 1, 100, 85), ev("王五", 1, 100, 65), ev("赵六", 1, 100, 55),
    ev("钱七", 1, 100_000, 79_996),
    ev("孙八", 0.6, 100, 100), ev("孙八", 0.3, 100, 100),
    ev("周九", 1, 100, 100), ev("吴十", 1, 100, 100),
    ev("郑一", 1, kind="定性", manager_score=80, customer_score=90),
    ev("冯二", 1, kind="定性", manager_score=120),
    qual("陈三", 50, period="2024-07"), qual("陈三", 55, period="2024-08"),
    qual("褚四", 50, period="2024-07"), qual("褚四", 70, period="2024-08"), qual("褚四", 50, period="2024-09"),
    qual("卫五", 50, period="2024-07"),
    ev("蒋六", 1, 50, 40, direction="越低越好"),
    ev("沈七", 1, goal="GL"),
    ev("郑一", 0, kind="定性", peer_score=70, period="2024-07"),
    ev("郑一", 0, kind="定性", manager_score=80, peer_score=90, customer_score=100, period="2024-08"),
    ev("冯二", 0, kind="定性", customer_score=-5, period="2024-07"),
]
P = rows_of(TEAM, "name")
G = rows_of(TARGETS, "id")
K = {t["task"]: FIRST_ROW + i for i, t in enumerate(TRACKING)}


def erow(name, period=Q, nth=0):
    """Excel row of the nth Evaluation row of a person in a period."""
    found = [FIRST_ROW + i for i, e in enumerate(EVALUATION) if e["name"] == name and e["period"] == period]
    return found[nth]


def scenario_data() -> dict:
    return dict(team=TEAM, targets=TARGETS, tracking=TRACKING, evaluation=EVALUATION, incentives=INCENTIVES)


# ----------------------------------------------------------------------------- grade basis, ties, n < 5

GRADED_TEAM = [person(n) for n in ("甲", "乙", "丙", "丁")]
GRADED_EVAL = [
    ev("甲", 0.6, 500 * WAN, 520 * WAN), qual("甲", 80, 0.4),             # 0.6 x 100 + 0.4 x 80 = 92
    ev("乙", 0.7, 100, 85), ev("乙", 0.3, 100, 85),                      # 0.7 x 80 + 0.3 x 80 = 80
    qual("丙", 80),
    qual("丁", 70),
]
