"""Random but plausible quarters for the differential test (formulas vs Python).

`random_quarter(rng)` returns the keyword arguments of `mktsheets.generate.new_workbook`
(data, settings, tables, period, lang) for one quarter a team might really have filled
in: rosters of 1-25 people, goal trees over the four levels with random parents (now
and then an unknown parent or a 2-cycle), every direction and aggregation (and blank),
edge values (target 0, blank or negative, baseline 0, planned 0, blank actuals, weeks
outside the calendar, scores outside 0..100, weights that do not sum to 100%), edited
Settings values and tier tables.

Values are typed as plain numbers: numbers stored as text are a documented limitation
of the live formulas (SPEC §4, the Checks note "number-as-text") and not part of this test.
Everything depends only on the `random.Random` passed in, so a seed reproduces a quarter.
"""
from __future__ import annotations

import random
from datetime import timedelta

from mktsheets.period import Quarter, calendar, parse_quarter

PERIODS = ("2024Q3", "2024Q3", "2025Q1", "2023Q4", "2024Q1", "2024Q2", "2024Q4", "2025Q2", "2025Q3", "2026Q4")

# code -> (zh label, en label), as the dropdowns offer them
LEVEL = {"company": ("公司", "Company"), "department": ("部门", "Department"),
         "group": ("小组", "Group"), "individual": ("个人", "Individual")}
LEVELS = tuple(LEVEL)
GOAL_TYPE = {"sales": ("销售额", "Sales"), "new_customers": ("新客户", "New customers"),
             "user_growth": ("用户增长", "User growth"), "brand_exposure": ("品牌曝光", "Brand exposure"),
             "conversion": ("转化率", "Conversion"), "retention": ("复购率", "Retention"), "other": ("其他", "Other")}
DIRECTION = {"higher": ("越高越好", "Higher is better"), "lower": ("越低越好", "Lower is better")}
AGGREGATION = {"sum": ("累计", "Sum"), "latest": ("最新", "Latest"), "average": ("平均", "Average")}
KIND = {"quantitative": ("定量", "Quantitative"), "qualitative": ("定性", "Qualitative")}
SCORING = {"tiers": ("档位", "Tiers"), "linear": ("线性", "Linear")}
BASIS = {"completion": ("完成率", "Completion"), "grade": ("等级", "Grade")}

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ("伟", "芳", "娜", "敏", "静", "磊", "洋", "婷", "强", "军", "杰", "涛", "明", "超", "霞", "晨", "浩", "宇", "欣然", "子涵")
FIRST_EN = ("Alice", "Bob", "Carol", "David", "Emma", "Frank", "Grace", "Henry", "Iris", "Jack", "Kate", "Leo",
            "Mia", "Noah", "Olivia", "Paul", "Quinn", "Rose", "Sam", "Tina")
LAST_EN = ("Wang", "Li", "Zhang", "Chen", "Liu", "Smith", "Brown", "Lee", "Green", "Hall")
GROUPS = {"zh": ("电商组", "内容组", "用户组", "品牌组", "市场部"), "en": ("E-commerce", "Content", "Users", "Brand", "Marketing")}
TASKS = {"zh": ("直播带货", "店铺运营", "笔记投放", "短视频", "社群运营", "信息流投放", "活动策划"),
         "en": ("Livestream", "Store ops", "Notes", "Short videos", "Community", "Paid ads", "Campaign")}
REASONS = {"zh": ("流量被竞品分流", "KOL 档期延误", "爆款带动", "预算追加"),
           "en": ("Traffic lost to a competitor", "KOL delayed", "A viral post", "Extra budget")}

# magnitudes by goal type: (low, high, decimals)
MAGNITUDE = {"sales": (50_000, 5_000_000, 0), "new_customers": (20, 2_000, 0), "user_growth": (100, 50_000, 0),
             "brand_exposure": (10_000, 3_000_000, 0), "conversion": (0.01, 0.3, 4), "retention": (0.05, 0.5, 4),
             "other": (1, 500, 1)}


def _label(codes: dict, code: str, lang: str, rng: random.Random) -> str:
    """The dropdown label of a code; now and then the other language's (the formulas accept both)."""
    if rng.random() < 0.05:
        lang = "en" if lang == "zh" else "zh"
    return codes[code][0 if lang == "zh" else 1]


def _chance(rng: random.Random, p: float) -> bool:
    return rng.random() < p


def _value(rng: random.Random, low: float, high: float, decimals: int) -> float:
    v = round(rng.uniform(low, high), decimals)
    return int(v) if decimals == 0 else v


def _share(rng: random.Random, fraction: float, as_whole: bool):
    """A weight or share as people type it: 0.3, or 30 (read as 30%)."""
    if as_whole:
        whole = round(fraction * 100, 2)
        return int(whole) if float(whole).is_integer() else whole
    return round(fraction, 4)


def _split(rng: random.Random, n: int, step: int = 5) -> list[float]:
    """n weights in multiples of `step`% that sum to exactly 100%."""
    if n == 1:
        return [1.0]
    cuts = sorted(rng.sample(range(1, 100 // step), n - 1))
    parts = [b - a for a, b in zip([0] + cuts, cuts + [100 // step])]
    return [p * step / 100 for p in parts]


# ----------------------------------------------------------------- team

def _people(rng: random.Random, lang: str, n: int) -> list[str]:
    names: list[str] = []
    while len(names) < n:
        if lang == "zh":
            name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        else:
            name = f"{rng.choice(FIRST_EN)} {rng.choice(LAST_EN)}"
        if name not in names:
            names.append(name)
    return names


def _team(rng: random.Random, lang: str, names: list[str]) -> list[dict]:
    rows = []
    for i, name in enumerate(names):
        base = rng.choice([8000, 10000, 12000, 15000, 20000, 30000, _value(rng, 5000, 40000, 2), 12345.675, 0, None])
        rows.append({
            "id": f"M{i + 1:03d}", "name": name, "role": rng.choice(["运营", "专员", "组长", "Manager", ""]) or None,
            "group": rng.choice(GROUPS[lang] + (None,)), "manager": rng.choice(names[:3]) if i else None,
            "email": f"p{i + 1}@example.com" if _chance(rng, 0.8) else None, "bonus_base": base,
        })
    if len(rows) > 3 and _chance(rng, 0.15):            # a duplicate name on Team
        dup = dict(rows[rng.randrange(len(rows))])
        dup["id"] = f"M{len(rows) + 1:03d}"
        rows.insert(rng.randrange(len(rows) + 1), dup)
    if len(rows) > 2 and _chance(rng, 0.1):             # a row without a name
        rows.insert(rng.randrange(len(rows)), {"id": "M999", "role": "实习", "bonus_base": 5000})
    return rows


# ----------------------------------------------------------------- goals

def _goals(rng: random.Random, lang: str, q: Quarter, n: int, owners: list[str]) -> list[dict]:
    goals: list[dict] = []
    by_level: dict[str, list[str]] = {lv: [] for lv in LEVELS}
    top = rng.randrange(4) if _chance(rng, 0.3) else 0   # sometimes there is no company level at all
    for i in range(n):
        level = LEVELS[min(3, top + min(3, int(rng.random() * 4)))] if i else LEVELS[top]
        gid = f"G{i + 1}"
        parent = None
        idx = LEVELS.index(level)
        higher = [g for lv in LEVELS[:idx] for g in by_level[lv]]
        if higher and _chance(rng, 0.85):
            parent = rng.choice(by_level[LEVELS[idx - 1]] or higher)
        elif goals and _chance(rng, 0.1):
            parent = rng.choice(goals)["id"]                 # any goal, even one level down
        if _chance(rng, 0.04):
            parent = "GX" + str(rng.randrange(90, 99))       # an unknown parent
        elif parent and _chance(rng, 0.05):
            parent = parent.lower()                          # matching ignores case
        by_level[level].append(gid)
        gtype = rng.choice(list(GOAL_TYPE) + ["sales", "sales"])
        low, high, dec = MAGNITUDE[gtype]
        direction = rng.choice(["higher", "lower", None, None, "higher"])
        agg = rng.choice(["sum", "latest", "average", None, "sum"])
        target = _value(rng, low, high, dec)
        r = rng.random()
        if r < 0.05:
            target = 0
        elif r < 0.1:
            target = None
        elif r < 0.13:
            target = -abs(target)
        baseline = rng.choice([None, 0, _value(rng, low, high, dec), round(target * 0.9, 2) if target else None])
        g = {
            "id": gid, "level": _label(LEVEL, level, lang, rng) if _chance(rng, 0.96) else None, "parent": parent,
            "name": f"{'目标' if lang == 'zh' else 'Goal'} {i + 1}",
            "type": _label(GOAL_TYPE, gtype, lang, rng),
            "owner": rng.choice(owners + [None] + (["无名氏" if lang == "zh" else "Nobody"] if _chance(rng, 0.3) else [])),
            "direction": _label(DIRECTION, direction, lang, rng) if direction else None,
            "aggregation": _label(AGGREGATION, agg, lang, rng) if agg else None,
            "baseline": baseline, "target": target,
            "stretch": round(target * 1.1, 2) if target and _chance(rng, 0.5) else None,
            "weight": _share(rng, rng.choice([0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 1.0]), _chance(rng, 0.3))
            if _chance(rng, 0.9) else None,
            "unit": rng.choice(["元", "次", "人", "%", None]),
        }
        if g["owner"] and lang == "en" and _chance(rng, 0.1):
            g["owner"] = g["owner"].lower()                  # SUMIFS ignores case
        if _chance(rng, 0.15):
            scale = abs(target) if target else high
            g["manual_actual"] = _value(rng, scale * 0.5, scale * 1.4, dec) if _chance(rng, 0.9) else 0
        if _chance(rng, 0.2):                                # the goal's own dates
            span = (q.end - q.start).days
            a = q.start + timedelta(days=rng.randrange(0, span // 2))
            b = q.start + timedelta(days=rng.randrange(span // 2, span + 1))
            if _chance(rng, 0.1):
                a, b = b, a                                  # end before start
            elif _chance(rng, 0.1):
                a, b = a - timedelta(days=20), b + timedelta(days=rng.choice([0, 10]))   # outside the period
            g["start"], g["end"] = (a, b) if _chance(rng, 0.7) else (rng.choice([a, None]), rng.choice([b, None]))
        goals.append(g)
    if len(goals) >= 3 and _chance(rng, 0.2):               # a 2-cycle of parent links
        a, b = rng.sample(range(len(goals)), 2)
        goals[a]["parent"], goals[b]["parent"] = goals[b]["id"], goals[a]["id"]
    if len(goals) >= 4 and _chance(rng, 0.1):               # a duplicate goal ID (the first one counts)
        goals[rng.randrange(1, len(goals))]["id"] = rng.choice([goals[0]["id"], goals[0]["id"].lower()])
    if len(goals) >= 2 and _chance(rng, 0.05):              # a goal without an ID
        goals[rng.randrange(len(goals))]["id"] = None
    return goals


def _tracking(rng: random.Random, lang: str, goals: list[dict], weeks: int, owners: list[str], n_rows: int):
    rows = []
    # people track the goals at the bottom of the tree; higher goals mostly roll up from them
    chance = {"公司": 0.15, "Company": 0.15, "部门": 0.3, "Department": 0.3, "小组": 0.5, "Group": 0.5}
    tracked = [g for g in goals if g["id"] and _chance(rng, chance.get(g["level"], 0.85))]
    if not tracked:
        tracked = [g for g in goals if g["id"]][:1]
    per_goal = max(1.0, n_rows / max(1, len(tracked)))
    for _ in range(n_rows):
        neg = _chance(rng, 0.02)                             # a negative amount (a Checks error, still computed)
        g = rng.choice(tracked) if tracked and _chance(rng, 0.93) else None
        goal = g["id"] if g else rng.choice([None, "GX77"])
        if goal and _chance(rng, 0.1):
            goal = goal.lower()                              # MATCH and SUMIFS ignore case
        r = rng.random()
        week = rng.randint(1, weeks) if r < 0.94 else (rng.choice([weeks + 1, 14, 15]) if r < 0.97 else None)
        gtype = next((k for k, v in GOAL_TYPE.items() if g and g["type"] in v), "other")
        low, high, dec = MAGNITUDE[gtype]
        # a week's share of the goal's target, so that goals end up near their targets
        unit = abs(g["target"]) / per_goal if g and g["target"] else (low + high) / 26
        if g and _agg_code(g) in ("latest", "average") and g["target"]:
            unit = abs(g["target"])                          # a level (rate, cost), not an amount
        unit = max(unit, 10.0 ** -dec if dec else 1)
        planned = _value(rng, unit * 0.7, unit * 1.3, dec)
        if _chance(rng, 0.07):
            planned = 0
        elif _chance(rng, 0.04):
            planned = None
        actual = None if _chance(rng, 0.2) else _value(rng, unit * 0.5, unit * 1.5, dec)
        if actual is not None and _chance(rng, 0.05):
            actual = 0
        if actual is not None and planned and _chance(rng, 0.1):
            actual = planned * rng.choice([0.8, 1.2, 0.79996, 1.0])   # exactly on a threshold (or 79.996%)
            actual = round(actual, 6)
        if neg:
            planned, actual = (-abs(planned or 1), actual) if _chance(rng, 0.5) else (planned, -abs(actual or 1))
        row = {"week": week, "goal": goal, "task": rng.choice(TASKS[lang]),
               "owner": rng.choice(owners + [None]), "planned": planned, "actual": actual}
        if _chance(rng, 0.3):
            row["reason"] = rng.choice(REASONS[lang])
        rows.append(row)
    if rows and _chance(rng, 0.15):                          # a blank row left between filled ones
        rows.insert(rng.randrange(len(rows)), {})
    return rows


def _agg_code(goal: dict) -> str:
    return next((k for k, v in AGGREGATION.items() if goal.get("aggregation") in v), "sum")


# ----------------------------------------------------------------- evaluation

def _evaluation(rng: random.Random, lang: str, q: Quarter, names: list[str], goals: list[dict]) -> list[dict]:
    rows = []
    goal_ids = [g["id"] for g in goals if g["id"]]
    good_ids = [g["id"] for g in goals if g["id"] and (g["target"] or 0) > 0]
    people = list(names)
    if _chance(rng, 0.3):
        people.append("外来人" if lang == "zh" else "Stranger")     # a name not on Team
    for name in people:
        if _chance(rng, 0.1):
            continue                                         # not evaluated yet
        clean = _chance(rng, 0.7)                            # everything filled in as it should be
        ids = good_ids if clean else goal_ids
        n = rng.randint(1, 5)
        weights = _split(rng, n) if n != 3 or _chance(rng, 0.7) else [0.3333, 0.3333, 0.3334]
        if not clean and _chance(rng, 0.3):                  # weights that do not sum to 100%
            weights[rng.randrange(n)] += rng.choice([-0.05, 0.1, 0.2])
        as_whole = _chance(rng, 0.3)
        typed = name.upper() if lang == "en" and _chance(rng, 0.1) else name   # SUMIFS ignores case
        for w in weights:
            rows.append(_indicator(rng, lang, q.code, typed, _share(rng, w, as_whole), ids, clean=clean))
        for m in q.months:                                   # monthly check-ins (coaching)
            if _chance(rng, 0.35):
                rows.append(_indicator(rng, lang, m, name, _share(rng, 1.0, _chance(rng, 0.2)), ids,
                                       kind="qualitative", clean=clean or _chance(rng, 0.5)))
        if _chance(rng, 0.05):                               # a row of another period
            rows.append(_indicator(rng, lang, f"{q.year - 1}Q{q.q}", name, 1.0, goal_ids))
        if _chance(rng, 0.03):                               # a row without a period
            rows.append(_indicator(rng, lang, None, name, 0.5, goal_ids))
    if _chance(rng, 0.1):                                    # a row without a name
        rows.append(_indicator(rng, lang, q.code, None, 0.2, goal_ids))
    rng.shuffle(rows)
    if rows and _chance(rng, 0.15):
        rows.insert(rng.randrange(len(rows)), {})
    return rows


def _indicator(rng, lang, period, name, weight, goal_ids, kind=None, clean=False) -> dict:
    """One Evaluation row; a clean one has everything its score needs."""
    kind = kind or rng.choice(["quantitative", "quantitative", "qualitative"])
    row = {"period": period, "name": name, "indicator": rng.choice(["销售额", "执行力", "团队协作", "KPI"]),
           "kind": _label(KIND, kind, lang, rng) if clean or _chance(rng, 0.9) else None, "weight": weight}
    if _chance(rng, 0.1):
        row["direction"] = _label(DIRECTION, rng.choice(["higher", "lower"]), lang, rng)
    if kind == "quantitative":
        if goal_ids and _chance(rng, 0.3 if clean else 0.55):
            row["goal"] = rng.choice(goal_ids + ["GX55"] * (not clean and _chance(rng, 0.1)))
            if _chance(rng, 0.05):
                row["goal"] = row["goal"].lower()
            if _chance(rng, 0.15):
                row["target"] = _value(rng, 10, 1000, 0)
        else:
            target = _value(rng, 10, 1000, rng.choice([0, 2]))
            row["target"] = target if clean else rng.choice([target] * 6 + [0, None])
            row["actual"] = None if not clean and _chance(rng, 0.2) else round(
                target * rng.choice([rng.uniform(0.3, 1.8), 1.0, 0.8, 0.6, 0.79996, 1.2]), 4)
    else:
        for key in rng.sample(["manager_score", "peer_score", "customer_score"], rng.randint(1 if clean else 0, 3)):
            row[key] = rng.choice([rng.randint(40, 100), round(rng.uniform(40, 100), 1), 60, 80, 100, 0])
        if not clean and _chance(rng, 0.1):
            row[rng.choice(["manager_score", "peer_score", "customer_score"])] = rng.choice([105, -5])
    return row


# ----------------------------------------------------------------- settings

def _settings(rng: random.Random, lang: str, q: Quarter) -> dict:
    s: dict = {}

    def maybe(key, value, p=0.5):
        if _chance(rng, p):
            s[key] = value

    maybe("warn", rng.choice([0.7, 0.75, 0.8, 0.85, 0.9, 70, 85]))
    maybe("over", rng.choice([1.1, 1.15, 1.2, 1.3, 1.5, 120, 150]))
    maybe("repeat_weeks", rng.choice([1, 2, 3] * 5 + [0]))       # 0: no repeated warnings at all
    maybe("scoring", _label(SCORING, rng.choice(["tiers", "linear"]), lang, rng), 0.6)
    maybe("linear_cap", rng.choice([100, 110, 120, 150, 130.5]))
    maybe("completion_cap", rng.choice([1.2, 1.5, 2, 1.0, 1.25, 150, 200]))
    if _chance(rng, 0.4):
        weights = [rng.choice([0.2, 0.3, 0.4, 0.5, 0.6, 0]) for _ in range(3)]
        for key, w in zip(("w_manager", "w_peer", "w_customer"), weights):
            s[key] = _share(rng, w, _chance(rng, 0.3))
    maybe("basis", _label(BASIS, rng.choice(["completion", "grade"]), lang, rng), 0.6)
    maybe("top_share", rng.choice([0.1, 0.2, 0.25, 0.3, 15, 0.34]))
    maybe("bottom_share", rng.choice([0.1, 0.2, 0.25, 0.3, 10, 0.15]))
    maybe("coach_line", rng.choice([50, 60, 65, 70, 72.5]))
    maybe("coach_months", rng.randint(1, 3))
    maybe("team_award", rng.choice([0, 5000, 20000, 12345.67]))
    maybe("commission_cap", rng.choice([1000, 5000, 20000, 50000, 3333.335]), 0.4)
    if _chance(rng, 0.2):
        cal = calendar(q.start, q.end)
        s["as_of"] = rng.choice([cal[rng.randrange(len(cal))][2], q.start + timedelta(days=rng.randrange(92)),
                                 q.start - timedelta(days=3), q.end])
    return s


def _tables(rng: random.Random) -> dict:
    t: dict = {}
    if _chance(rng, 0.5):
        rows = [(1.0, 100), (0.8, 80), (0.6, 60), (0.0, 0)]
        if _chance(rng, 0.5):
            rows.append((1.2, 120))
        if _chance(rng, 0.3):
            rows.append((0.9, 90))
        if _chance(rng, 0.2):
            rows = [r for r in rows if r[0] != 0.0]          # nothing below 60%: score 0
        if _chance(rng, 0.1):
            rows.append((0.8, 85))                           # a duplicate minimum: the first row counts
        rng.shuffle(rows)
        t["score_tiers"] = rows
    if _chance(rng, 0.5):
        rows = [(1.0, 1.2), (0.8, 1.0), (0.6, 0.8), (0.0, 0.0)]
        if _chance(rng, 0.5):
            rows.append((1.3, 1.5))
        if _chance(rng, 0.3):
            rows = [(m, round(f * rng.choice([0.9, 1.1]), 4)) for m, f in rows]
        rng.shuffle(rows)
        t["payout_tiers"] = rows
    if _chance(rng, 0.5):
        rows = [(90, "S", 1.5), (80, "A", 1.2), (70, "B", 1.0), (60, "C", 0.8), (0, "D", 0.0)]
        if _chance(rng, 0.4):
            rows.insert(0, (95, "S+", 1.8))
        if _chance(rng, 0.3):
            rows = [r for r in rows if r[0] != 0]            # no bottom tier: a low total gets no grade
        if _chance(rng, 0.5):
            rng.shuffle(rows)
        t["grade_tiers"] = rows
    if _chance(rng, 0.6):
        froms = sorted(rng.sample([0.5, 0.8, 0.9, 1.0, 1.1, 1.2, 1.5], rng.randint(1, 4)))
        rows = [(f, rng.choice([0.01, 0.02, 0.03, 0.05, 0.08, 0.1])) for f in froms]
        if len(rows) > 1 and _chance(rng, 0.2):
            rng.shuffle(rows)                                # possibly unsorted: commission blank
        t["brackets"] = rows
    return t


# ----------------------------------------------------------------- public

def random_quarter(rng: random.Random, *, people: int | None = None, goals: int | None = None,
                   weeks: int | None = None) -> dict:
    """Keyword arguments of new_workbook for one random quarter.

    people: roster size (default 1-25), goals: number of goals (default 1-30),
    weeks: weeks each tracked goal has tracking rows for, on average (default 2-8).
    """
    period = rng.choice(PERIODS)
    q = parse_quarter(period)
    lang = "en" if _chance(rng, 0.25) else "zh"
    n_people = people if people is not None else rng.choice([1, 2, 3, rng.randint(4, 12), rng.randint(5, 25)])
    n_goals = goals if goals is not None else rng.randint(1, 30)
    per_goal = weeks if weeks is not None else rng.randint(2, 8)
    names = _people(rng, lang, n_people)
    on_team = list(names)
    if len(names) > 1 and _chance(rng, 0.2):
        on_team.remove(rng.choice(names))                    # owns goals, is evaluated, but is missing from Team
    team = _team(rng, lang, on_team)
    goal_rows = _goals(rng, lang, q, n_goals, names)
    n_weeks = len(calendar(q.start, q.end))
    tracking = _tracking(rng, lang, goal_rows, n_weeks, names, min(600, n_goals * per_goal))
    evaluation = _evaluation(rng, lang, q, names, goal_rows)
    incentives = []
    for _ in team:
        row = {}
        if _chance(rng, 0.15):
            row["adjustment"] = rng.choice([500, -300, 1000.5, 2000, 0.005])
            if _chance(rng, 0.7):
                row["adjustment_reason"] = "补贴" if lang == "zh" else "Allowance"
        incentives.append(row)
    review = [{"goal": rng.choice([g["id"] for g in goal_rows] + [None, "GX66"]),
               "highlights": "亮点" if lang == "zh" else "Highlight"} for _ in range(rng.randint(0, 6))]
    data = {"team": team, "targets": goal_rows, "tracking": tracking, "evaluation": evaluation,
            "incentives": incentives, "review": review}
    return {"period": period, "lang": lang, "data": data, "settings": _settings(rng, lang, q),
            "tables": _tables(rng)}


def _smoke() -> None:  # pragma: no cover - handy when editing: python tests/random_quarter.py
    import pprint
    pprint.pprint(random_quarter(random.Random(1)), width=140)


if __name__ == "__main__":  # pragma: no cover
    _smoke()
