"""The built-in sample quarter: a marketing team launching product A in 2024Q3.

Goals follow the method's own examples: product A's Q3 sales of 500万 broken down
company → e-commerce department → Douyin and Tmall groups → people; Xiaohongshu
exposure of 200万; repurchase rate from 15% to 20%; cost per lead at most 50元;
150 pieces of content. Weekly tracking holds the method's worked examples (7
notes planned, 5 done; 10 videos planned, 12 done; livestream 80万 planned, 75万 done).
"""
from __future__ import annotations

from datetime import date

PERIOD = "2024Q3"

TEAM_ZH = [
    ("M001", "王磊", "市场部经理", "市场部", "", "wanglei@example.com", 30000),
    ("M002", "孙浩", "电商组长", "电商组", "王磊", "sunhao@example.com", 20000),
    ("M003", "张三", "天猫运营", "电商组", "孙浩", "zhangsan@example.com", 12000),
    ("M004", "李四", "抖音直播运营", "电商组", "孙浩", "lisi@example.com", 12000),
    ("M005", "赵敏", "内容组长", "内容组", "王磊", "zhaomin@example.com", 15000),
    ("M006", "陈晨", "新媒体运营", "内容组", "赵敏", "chenchen@example.com", 10000),
    ("M007", "刘洋", "用户运营", "用户组", "王磊", "liuyang@example.com", 10000),
    ("M008", "周婷", "投放专员", "用户组", "王磊", "", 10000),
]

# id, level, parent, name, type, owner, executor, unit, direction, aggregation, baseline, target, stretch, weight, smart
GOALS_ZH = [
    ("G1", "公司", "", "新品A Q3销售额", "销售额", "王磊", "", "元", "越高越好", "累计", 4500000, 5000000, 5500000, 0.6,
     "7/1-9/30 通过抖音+天猫实现新品A销售额 500万，其中新客户占比 ≥ 40%"),
    ("G2", "公司", "", "小红书品牌曝光", "品牌曝光", "王磊", "", "次", "越高越好", "累计", 1500000, 2000000, 2300000, 0.3,
     "Q3 小红书曝光 ≥ 200万，互动率 ≥ 3%"),
    ("G3", "公司", "", "老客复购率", "复购率", "王磊", "刘洋", "%", "越高越好", "最新", 0.15, 0.20, 0.22, 0.1,
     "9/30 前复购率从 15% 提升到 20%"),
    ("G11", "部门", "G1", "电商部销售额", "销售额", "孙浩", "", "元", "越高越好", "累计", 4500000, 5000000, 5500000, 1.0,
     "抖音 300万 + 天猫 200万"),
    ("G111", "小组", "G11", "抖音渠道销售额", "销售额", "孙浩", "李四", "元", "越高越好", "累计", 2700000, 3000000, 3300000, 0.6,
     "抖音直播与短视频带货 300万"),
    ("G112", "小组", "G11", "天猫渠道销售额", "销售额", "孙浩", "张三", "元", "越高越好", "累计", 1800000, 2000000, 2200000, 0.4,
     "天猫旗舰店 200万"),
    ("G1111", "个人", "G111", "李四 抖音直播销售额", "销售额", "李四", "李四", "元", "越高越好", "累计", 2700000, 3000000, 3300000, 1.0,
     "每周 2 场直播，单场 ≥ 10万"),
    ("G1121", "个人", "G112", "张三 天猫店铺销售额", "销售额", "张三", "张三", "元", "越高越好", "累计", 1800000, 2000000, 2200000, 1.0,
     "店铺活动 + 会员日，月均 67万"),
    ("G21", "部门", "G2", "内容部曝光", "品牌曝光", "赵敏", "", "次", "越高越好", "累计", 1500000, 2000000, 2300000, 1.0,
     "小红书笔记 + 抖音短视频"),
    ("G211", "个人", "G21", "赵敏 小红书笔记曝光", "品牌曝光", "赵敏", "赵敏", "次", "越高越好", "累计", 900000, 1200000, 1400000, 0.6,
     "KOL 合作 + 自有笔记"),
    ("G212", "个人", "G21", "陈晨 短视频曝光", "品牌曝光", "陈晨", "陈晨", "次", "越高越好", "累计", 600000, 800000, 900000, 0.4,
     "每周 10 条短视频"),
    ("G4", "部门", "", "单个线索获客成本", "其他", "周婷", "周婷", "元", "越低越好", "平均", 60, 50, 45, 1.0,
     "信息流投放线索成本 ≤ 50 元"),
    ("G5", "小组", "", "内容产出（笔记+视频）", "其他", "赵敏", "陈晨", "条", "越高越好", "累计", 120, 150, 170, 1.0,
     "每周约 12 条：笔记 7 + 视频 5"),
]

# weekly actuals, weeks 1..13 (week 14 is Monday 9/30 alone and has no rows yet)
LIVE = [160000, 170000, 150000, 750000, 165000, 150000, 160000, 155000, 145000, 150000, 160000, 145000, 140000]
TMALL = [150000, 160000, 170000, 155000, 180000, 175000, 168000, 172000, 180000, 165000, 185000, 160000, 180000]
NOTES_EXPOSURE = [80000, 90000, 95000, 92000, 100000, 98000, 105000, 99000, 101000, 110000, 115000, 105000, 110000]
VIDEO_EXPOSURE = [50000, 55000, 60000, 58000, 75000, 62000, 60000, 59000, 61000, 58000, 65000, 60000, 57000]
RETENTION = [0.15, 0.155, 0.16, 0.16, 0.165, 0.17, 0.172, 0.175, 0.178, 0.18, 0.183, 0.186, 0.19]
CPL = [58, 56, 55, 54, 52, 51, 50, 49, 50, 48, 47, 48, 46]
CONTENT = [11, 12, 5, 12, 12, 12, 11, 12, 12, 13, 12, 11, 10]
CONTENT_PLAN = [12, 12, 7, 12, 10, 12, 12, 12, 12, 12, 12, 12, 12]

# week 4 is the big livestream (80万 planned, 75万 done); week 3 had 7 notes planned and 5 done;
# week 5 had 10 videos planned and 12 done
REASONS = {
    ("G1111", 4): ("直播间流量被竞品大促分流，单场 75万 低于计划 80万", "下周加投千川，增加一场夜间直播", "千川预算 2万"),
    ("G5", 3): ("KOL 档期延误，7 篇笔记只完成 5 篇", "提前两周锁定 KOL 档期，备选 2 位", ""),
    ("G5", 5): ("3 条视频成为爆款，10 条计划完成 12 条", "复用爆款脚本结构", ""),
}


def _tracking_rows() -> list[dict]:
    rows = []
    for i in range(13):
        w = i + 1
        week_rows = [
            ("G1111", "抖音直播带货", "李四", 800000 if w == 4 else 183000, LIVE[i]),
            ("G1121", "天猫店铺运营", "张三", 154000, TMALL[i]),
            ("G211", "小红书笔记投放", "赵敏", 92000, NOTES_EXPOSURE[i]),
            ("G212", "抖音短视频", "陈晨", 61000, VIDEO_EXPOSURE[i]),
            ("G3", "老客复购召回", "刘洋", round(0.15 + 0.05 * w / 13, 4), RETENTION[i]),
            ("G4", "信息流投放", "周婷", 50, CPL[i]),
            ("G5", {3: "小红书笔记", 5: "短视频条数"}.get(w, "笔记与视频产出"), "陈晨", CONTENT_PLAN[i], CONTENT[i]),
        ]
        for goal, task, owner, planned, actual in week_rows:
            row = {"week": w, "goal": goal, "task": task, "owner": owner, "planned": planned, "actual": actual}
            if (goal, w) in REASONS:
                reason, action, resources = REASONS[(goal, w)]
                row.update(reason=reason, action=action, resources=resources or None)
            rows.append(row)
    return rows


def _evaluation_rows() -> list[dict]:
    q = PERIOD
    rows = []

    def quant(name, indicator, weight, goal="", target=None, actual=None, direction=""):
        rows.append({"period": q, "name": name, "indicator": indicator, "kind": "定量", "goal": goal,
                     "direction": direction, "weight": weight, "target": target, "actual": actual})

    def qual(name, indicator, weight, m, p=None, c=None, comment=""):
        rows.append({"period": q, "name": name, "indicator": indicator, "kind": "定性", "weight": weight,
                     "manager_score": m, "peer_score": p, "customer_score": c, "comment": comment})

    quant("王磊", "新品A销售额达成", 0.5, "G1")
    quant("王磊", "小红书曝光", 0.2, "G2")
    quant("王磊", "复购率", 0.1, "G3")
    qual("王磊", "团队管理", 0.2, 88, 85, None, "目标拆解清晰，周会推进有力")
    quant("孙浩", "电商部销售额", 0.7, "G11")
    qual("孙浩", "执行力", 0.3, 82, 80, 85)
    quant("张三", "天猫销售额达成", 0.5, "G1121")
    quant("张三", "新客户数", 0.2, "", 400, 430)
    qual("张三", "执行力", 0.15, 85, 80, 90, "会员日活动执行到位")
    qual("张三", "团队协作", 0.15, 80, 85)
    quant("李四", "抖音直播销售额", 0.6, "G1111")
    quant("李四", "直播场次", 0.1, "", 26, 24)
    qual("李四", "执行力", 0.15, 78, 75, 80)
    qual("李四", "团队协作", 0.15, 80, 82)
    quant("赵敏", "小红书曝光", 0.5, "G211")
    quant("赵敏", "内容产出", 0.2, "G5")
    qual("赵敏", "策略创新", 0.15, 92, 88, 90, "KOL 组合策略带来爆款")
    qual("赵敏", "团队协作", 0.15, 90, 92)
    quant("陈晨", "短视频曝光", 0.5, "G212")
    quant("陈晨", "互动率", 0.2, "", 0.03, 0.034)
    qual("陈晨", "执行力", 0.15, 80, 85)
    qual("陈晨", "团队协作", 0.15, 85, 88)
    quant("刘洋", "复购率", 0.6, "G3")
    quant("刘洋", "私域用户增长", 0.1, "", 20000, 15000)
    qual("刘洋", "执行力", 0.15, 60, 65)
    qual("刘洋", "团队协作", 0.15, 70, 72)
    quant("周婷", "单个线索获客成本", 0.6, "G4")
    quant("周婷", "投放 ROI", 0.1, "", 3, 2.7)
    qual("周婷", "执行力", 0.15, 75, 78)
    qual("周婷", "团队协作", 0.15, 80, 80)
    # monthly check-ins: two months below 60 in a row start a coaching plan
    for name, scores in (("刘洋", (55, 58, 66)), ("周婷", (62, 70, 78)), ("李四", (72, 65, 80))):
        for month, score in zip(("2024-07", "2024-08", "2024-09"), scores):
            rows.append({"period": month, "name": name, "indicator": "月度综合评价", "kind": "定性",
                         "weight": 1.0, "manager_score": score})
    return rows


def sample_data() -> dict[str, list[dict]]:
    """Rows of every input sheet of the sample quarter (Chinese)."""
    team = [dict(zip(("id", "name", "role", "group", "manager", "email", "bonus_base"), r)) for r in TEAM_ZH]
    goals = []
    for g in GOALS_ZH:
        (gid, level, parent, name, typ, owner, executor, unit, direction, agg,
         baseline, target, stretch, weight, smart) = g
        goals.append({"id": gid, "level": level, "parent": parent or None, "name": name, "type": typ,
                      "smart": smart, "owner": owner, "executor": executor or None, "unit": unit,
                      "direction": direction, "aggregation": agg, "baseline": baseline, "target": target,
                      "stretch": stretch, "weight": weight, "start": date(2024, 7, 1), "end": date(2024, 9, 30)})
    goals[0]["risks"] = "竞品降价超过 15% 时重新评估目标"
    goals[0]["partners"] = "品牌部、客服部"
    incentives = [{}] * len(team)
    incentives = [dict(r) for r in incentives]
    incentives[2] = {"adjustment": 2000, "adjustment_reason": "会员日额外值班补贴"}
    review = [
        {"goal": "G1", "highlights": "天猫会员日带动新客占比 45%", "problems": "抖音直播中段流量下滑",
         "root_cause": "竞品大促分流，投放预算未及时追加", "plan": "Q4 预留 10% 机动投放预算，周会按流量预警追加",
         "owner": "孙浩", "due": date(2024, 10, 15)},
        {"goal": "G1121", "highlights": "220万 超额完成 110%", "problems": "客服响应偶有超时",
         "root_cause": "大促期间人手不足", "plan": "大促前一周增加临时客服", "owner": "张三",
         "due": date(2024, 10, 31)},
        {"goal": "G4", "highlights": "获客成本从 58 元降到 46 元", "problems": "前四周成本偏高",
         "root_cause": "人群包未及时优化", "plan": "每周复盘人群包，淘汰 CPL > 60 的计划", "owner": "周婷",
         "due": date(2024, 10, 20)},
    ]
    return {"team": team, "targets": goals, "tracking": _tracking_rows(), "evaluation": _evaluation_rows(),
            "incentives": incentives, "review": review}
