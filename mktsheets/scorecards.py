"""Scorecards: one file per person built only from that person's values, and team summaries.

Privacy by construction: a scorecard is a NEW workbook (or HTML page) written
from a `Card`, a small record that holds one person's own figures and nothing
else. No workbook is ever copied and trimmed, so no colleague's name, score or
pay can survive in a hidden sheet, the shared-strings table, a defined name, a
chart cache or the document properties. Free text typed by the lead (indicator
names, comments, adjustment reasons) is masked where it names a colleague.
"""
from __future__ import annotations

import html
import io
import math
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Iterable

import pandas as pd
import xlsxwriter

from .libreoffice import LibreOfficeError, convert, find_soffice
from .rules.context import Calc, key_of

__all__ = [
    "BracketLine", "Card", "IndicatorLine", "Quarter", "ScorecardResult", "Summary",
    "card_html", "card_xlsx", "collect", "safe_filename", "summary_html", "summary_xlsx",
    "write_scorecards",
]

FORMATS = ("xlsx", "html", "pdf")
MASK = "***"
FONT = "Microsoft YaHei"
FONT_CSS = ("'Microsoft YaHei','PingFang SC','Hiragino Sans GB','Noto Sans CJK SC',"
            "'Source Han Sans SC','Segoe UI',Arial,sans-serif")
ACCENT = "#1F4E79"
LIGHT = "#EEF3F8"
BORDER = "#BFBFBF"

# zh / en wording of everything a scorecard says (headers follow the workbook's own words)
WORDS = {
    "scorecard": ("绩效卡", "Scorecard"),
    "scorecard_file": ("绩效卡", "scorecard"),
    "summary": ("团队汇总", "Team summary"),
    "summary_file": ("团队汇总", "team-summary"),
    "name": ("姓名", "Name"),
    "group": ("小组", "Group"),
    "role": ("岗位", "Role"),
    "period": ("考核周期", "Period"),
    "total": ("总分", "Total score"),
    "grade": ("等级", "Grade"),
    "rank": ("排名", "Rank"),
    "rank_of": ("第 {r} 名 / 共 {n} 人", "{r} of {n}"),
    "payout": ("应发合计", "Total payout"),
    "indicators": ("考核指标", "Indicators"),
    "indicator": ("指标名称", "Indicator"),
    "kind": ("类型", "Kind"),
    "weight": ("权重", "Weight"),
    "target": ("目标值", "Target"),
    "actual": ("实际值", "Actual"),
    "unit": ("单位", "Unit"),
    "completion": ("完成率", "Completion"),
    "score": ("得分", "Score"),
    "weighted": ("加权得分", "Weighted"),
    "quant_score": ("定量得分", "Quantitative score"),
    "qual_score": ("定性得分", "Qualitative score"),
    "overall": ("综合完成率", "Overall completion"),
    "incentives": ("激励", "Incentives"),
    "bonus_base": ("奖金基数", "Bonus base"),
    "factor": ("奖金系数", "Payout factor"),
    "bonus": ("绩效奖金", "Performance bonus"),
    "sales_target": ("销售目标", "Sales target"),
    "sales_actual": ("销售实际", "Sales actual"),
    "sales_completion": ("销售完成率", "Sales completion"),
    "commission": ("提成", "Commission"),
    "brackets": ("提成档位（按档累进）", "Commission brackets (marginal)"),
    "bracket_range": ("完成率区间", "Completion band"),
    "bracket_rate": ("提成比例", "Rate"),
    "bracket_part": ("计提部分", "Part counted"),
    "bracket_amount": ("提成金额", "Amount"),
    "used": ("已计提", "used"),
    "no_sales": ("无销售目标，不计提成", "No sales target: no commission"),
    "capped": ("已按提成封顶 {cap} 计", "Capped at the commission cap of {cap}"),
    "adjustment": ("调整金额", "Adjustment"),
    "adjustment_reason": ("调整原因", "Reason"),
    "honours": ("荣誉", "Honours"),
    "alerts": ("预警事项", "Alerts"),
    "none": ("无", "None"),
    "blank": ("—", "—"),
    "comments": ("评语与 360 评分", "Comments and 360 scores"),
    "manager_score": ("上级", "Manager"),
    "peer_score": ("同事", "Peers"),
    "customer_score": ("客户", "Customers"),
    "chart": ("各指标得分", "Score by indicator"),
    "incomplete": ("总分或奖金未计算：权重合计不是 100% 或有指标未评分（见工作簿“检查”表）",
                   "Total or payout not computed: weights do not sum to 100% or a score is missing "
                   "(see the workbook's Checks sheet)"),
    "confidential": ("仅供 {name} 本人查阅", "Confidential - for {name} only"),
    "summary_of": ("直接下属 {n} 人", "{n} direct reports"),
    "manager": ("上级", "Manager"),
    "amounts_in": ("金额单位: {cur}", "Amounts in {cur}"),
    "quantitative": ("定量", "Quantitative"),
    "qualitative": ("定性", "Qualitative"),
}


def word(key: str, lang: str) -> str:
    zh, en = WORDS[key]
    return zh if lang == "zh" else en


# ----------------------------------------------------------------- the data of one person

@dataclass
class IndicatorLine:
    indicator: str
    kind: str                  # "quantitative" | "qualitative"
    weight: float | None
    target: float | None
    actual: float | None
    unit: str
    completion: float | None
    score: float | None
    weighted: float | None
    manager_score: float | None = None
    peer_score: float | None = None
    customer_score: float | None = None
    comment: str = ""


@dataclass
class BracketLine:
    start: float               # completion where the bracket starts
    end: float | None          # where the next one starts (None: no upper bound)
    rate: float
    part: float                # completion counted in this bracket
    amount: float              # rate x sales target x part


@dataclass
class Card:
    """Everything one person's scorecard shows: that person's own values only."""

    period: str
    lang: str
    currency: str
    name: str
    group: str
    role: str
    email: str
    manager: str               # used to address a copy (--cc-manager), never printed on the card
    indicators: list[IndicatorLine]
    quant_score: float | None
    qual_score: float | None
    total: float | None
    grade: str
    rank: int | None
    ranked: int                # how many people have a total (the "n" of "rank r of n")
    overall: float | None
    bonus_base: float | None
    factor: float | None
    bonus: float | None
    sales_target: float | None
    sales_actual: float | None
    commission: float | None
    brackets: list[BracketLine]
    commission_cap: float | None
    adjustment: float | None
    adjustment_reason: str
    payout: float | None
    honours: str
    alerts: str

    @property
    def complete(self) -> bool:
        """Total and payout computed: safe to hand to the person."""
        return self.total is not None and self.payout is not None

    def filename(self, ext: str) -> str:
        return safe_filename(f"{self.period}-{self.name}-{word('scorecard_file', self.lang)}.{ext}")

    def figures(self) -> dict[str, float]:
        """The person's distinctive figures (for tests and privacy checks)."""
        out = {}
        for key in ("total", "payout", "bonus", "commission", "adjustment", "bonus_base"):
            v = getattr(self, key)
            if v is not None:
                out[key] = v
        return out


@dataclass
class Summary:
    """A manager's team summary: their direct reports' headline figures."""

    period: str
    lang: str
    currency: str
    manager: str
    reports: list[Card]

    def filename(self, ext: str) -> str:
        return safe_filename(f"{self.period}-{self.manager}-{word('summary_file', self.lang)}.{ext}")


@dataclass
class Quarter:
    """All cards of one workbook, the team summaries, and whom no card could be made for."""

    period: str
    lang: str
    cards: list[Card]
    summaries: list[Summary]
    duplicates: list[str] = field(default_factory=list)   # names on Team more than once: no card
    errors: int = 0                                         # error count of the workbook's checks

    def card(self, name: str) -> Card:
        return next(c for c in self.cards if c.name == name)


# ----------------------------------------------------------------- reading the computed workbook

def _calc(source) -> Calc:
    if isinstance(source, Calc):
        return source
    if hasattr(source, "calc"):
        return source.calc
    from .api import load

    return load(source).calc


def _merged(calc: Calc, sheet: str) -> pd.DataFrame:
    """Inputs and computed columns of one sheet side by side (computed wins), indexed by Excel row."""
    df = calc.inputs.frames[sheet].copy()
    out = calc.out.get(sheet)
    if out is not None:
        for col in out.columns:
            df[col] = out[col].reindex(df.index) if not df.index.equals(out.index) else out[col]
    return df


def _num(v) -> float | None:
    if v is None or isinstance(v, str):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _text(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return str(v).strip()


def mask_names(text: str, own: str, others: Iterable[str]) -> str:
    """Replace colleagues' names in free text (the person's own name is kept)."""
    if not text:
        return text
    names = sorted({n for n in others if len(n) >= 2 and n != own}, key=len, reverse=True)
    if not names:
        return text
    pattern = re.compile("|".join(re.escape(n) for n in names), re.IGNORECASE)
    pieces = text.split(own) if own else [text]
    return own.join(pattern.sub(MASK, p) for p in pieces)


def bracket_lines(target: float | None, actual: float | None, brackets: pd.DataFrame) -> list[BracketLine]:
    """R11 bracket by bracket: how much of the completion each bracket counted, and its amount."""
    if not target or target <= 0:
        return []
    c = (actual or 0.0) / target
    froms = [float(f) for f in brackets["from"]]
    rates = [0.0 if pd.isna(r) else float(r) for r in brackets["rate"]]
    lines = []
    for i, (f, rate) in enumerate(zip(froms, rates)):
        end = froms[i + 1] if i + 1 < len(froms) else None
        top = c if end is None else min(c, end)
        part = max(0.0, top - f)
        lines.append(BracketLine(f, end, rate, part, rate * target * part))
    return lines


def collect(source) -> Quarter:
    """Read a workbook (path, Workbook or Calc) into one Card per person and a Summary per manager."""
    if isinstance(source, Quarter):
        return source
    calc = _calc(source)
    lang = calc.lang
    s = calc.s
    period = _text(s.get("period")) or "period"
    currency = _text(s.get("currency"))
    team, inc = _merged(calc, "team"), _merged(calc, "incentives")
    ev, tg = _merged(calc, "evaluation"), _merged(calc, "targets")
    rows_inc = list(calc.layout.sheet("incentives").rows)
    rows_team = list(calc.layout.sheet("team").rows)
    align = dict(zip(rows_inc, rows_team))

    people = []
    for r in rows_inc:
        name = _text(inc.at[r, "name"]) if r in inc.index else ""
        if name:
            people.append((r, align.get(r), name))
    counts = pd.Series([key_of(n) for _, _, n in people]).value_counts()
    duplicates = sorted({n for _, _, n in people if counts[key_of(n)] > 1})
    all_names = [n for _, _, n in people] + [_text(m) for m in team["manager"]]
    ranked = int(sum(_num(inc.at[r, "total"]) is not None for r, _, _ in people))

    units = {key_of(g): _text(u) for g, u in zip(tg["id"], tg["unit"]) if _text(g)}
    brackets = calc.inputs.tables["brackets"].dropna(subset=["from"])
    cap = _num(s.get("commission_cap"))
    ek = ev["name"].map(key_of)
    cur = ev["_cur"] == 1 if "_cur" in ev else pd.Series(True, index=ev.index)

    cards = []
    for r, tr, name in people:
        if name in duplicates:
            continue
        own = lambda text: mask_names(_text(text), name, all_names)  # noqa: E731
        lines = []
        for er in ev.index[(ek == key_of(name)) & cur]:
            kind = ev.at[er, "kind"]
            lines.append(IndicatorLine(
                indicator=own(ev.at[er, "indicator"]),
                kind="qualitative" if kind == "qualitative" else "quantitative",
                weight=_num(ev.at[er, "weight"]),
                target=_num(ev.at[er, "target_used"]) if kind != "qualitative" else None,
                actual=_num(ev.at[er, "actual_used"]) if kind != "qualitative" else None,
                unit=units.get(key_of(ev.at[er, "goal"]), "") if kind != "qualitative" else "",
                completion=_num(ev.at[er, "completion"]),
                score=_num(ev.at[er, "score"]),
                weighted=_num(ev.at[er, "weighted"]),
                manager_score=_num(ev.at[er, "manager_score"]),
                peer_score=_num(ev.at[er, "peer_score"]),
                customer_score=_num(ev.at[er, "customer_score"]),
                comment=own(ev.at[er, "comment"]),
            ))
        g = lambda key: _num(inc.at[r, key])  # noqa: E731
        rank = g("rank")
        commission = g("commission")
        cards.append(Card(
            period=period, lang=lang, currency=currency, name=name,
            group=_text(inc.at[r, "group"]),
            role=_text(team.at[tr, "role"]) if tr in team.index else "",
            email=_text(team.at[tr, "email"]) if tr in team.index else "",
            manager=_text(team.at[tr, "manager"]) if tr in team.index else "",
            indicators=lines,
            quant_score=g("quant_score"), qual_score=g("qual_score"), total=g("total"),
            grade=_text(inc.at[r, "grade"]), rank=int(rank) if rank is not None else None, ranked=ranked,
            overall=g("overall"), bonus_base=g("bonus_base"), factor=g("factor"), bonus=g("bonus"),
            sales_target=g("sales_target"), sales_actual=g("sales_actual"), commission=commission,
            brackets=bracket_lines(g("sales_target"), g("sales_actual"), brackets) if commission is not None else [],
            commission_cap=cap,
            adjustment=g("adjustment"), adjustment_reason=own(inc.at[r, "adjustment_reason"]),
            payout=g("payout"), honours=_text(inc.at[r, "honours"]), alerts=_text(inc.at[r, "alerts"]),
        ))

    by_key = {key_of(c.name): c for c in cards}
    managers: dict[str, list[Card]] = {}
    for c in cards:
        if c.manager and key_of(c.manager) != key_of(c.name):
            managers.setdefault(key_of(c.manager), []).append(c)
    summaries = []
    for mk, reports in managers.items():
        mname = by_key[mk].name if mk in by_key else reports[0].manager
        if mname in duplicates:
            continue
        summaries.append(Summary(period, lang, currency, mname, reports))
    return Quarter(period, lang, cards, summaries, duplicates, len(calc.problems.errors))


# ----------------------------------------------------------------- file names

_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def safe_filename(name: str, max_len: int = 120) -> str:
    """A file name Windows, macOS and Linux all accept; Chinese is kept."""
    name = re.sub(r'[\\/:*?"<>|\x00-\x1f\x7f]', "_", name)
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    stem = stem.strip().rstrip(". ") or "_"
    if stem.split(".")[0].upper() in _RESERVED:
        stem = "_" + stem
    limit = max_len - len(ext) - 1
    stem = stem[:limit].rstrip(". ") or "_"
    return f"{stem}.{ext}" if ext else stem


# ----------------------------------------------------------------- number text

def excel_round(v: float, places: int) -> Decimal:
    """Round as Excel displays it: to 15 significant digits, then half away from zero.

    0.15 x 84.5 is 12.674999999999999 in binary; Excel (and LibreOffice) show 12.68.
    """
    return Decimal(format(float(v), ".15g")).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def fmt_money(v: float | None, currency: str = "") -> str:
    if v is None:
        return "—"
    return f"{excel_round(v, 2):,.2f}" + (f" {currency}" if currency else "")


def fmt_pct(v: float | None) -> str:
    return "—" if v is None else f"{excel_round(v * 100, 2):,.2f}%"


def fmt_share(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v * 100:.0f}%" if abs(v * 100 - round(v * 100)) < 1e-9 else f"{v * 100:.2f}%"


def fmt_score(v: float | None) -> str:
    return "—" if v is None else f"{excel_round(v, 2):.2f}"


def fmt_num(v: float | None, unit: str = "") -> str:
    if v is None:
        return "—"
    if unit == "%":
        return fmt_pct(v)
    if float(v).is_integer():
        return f"{v:,.0f}"
    return f"{excel_round(v, 4):,.4f}".rstrip("0").rstrip(".")


def rank_text(card: Card) -> str:
    if card.rank is None:
        return "—"
    return word("rank_of", card.lang).format(r=card.rank, n=card.ranked)


def kind_text(kind: str, lang: str) -> str:
    return word("qualitative" if kind == "qualitative" else "quantitative", lang)


def band_text(b: BracketLine) -> str:
    start = fmt_share(b.start)
    return f"{start} – {fmt_share(b.end)}" if b.end is not None else f"≥ {start}"


def scores_360(line: IndicatorLine, lang: str) -> str:
    parts = [f"{word(k, lang)} {getattr(line, k):g}" for k in ("manager_score", "peer_score", "customer_score")
             if getattr(line, k) is not None]
    return " · ".join(parts)


def sales_completion(card: Card) -> float | None:
    if card.sales_target and card.sales_target > 0 and card.sales_actual is not None:
        return card.sales_actual / card.sales_target
    return None


# ----------------------------------------------------------------- xlsx

def _workbook(buffer: io.BytesIO, title: str, subject: str) -> xlsxwriter.Workbook:
    wb = xlsxwriter.Workbook(buffer, {
        "in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
        "strings_to_urls": False,
    })
    # Only what this file is about: no company, manager, keywords or comments from the team workbook.
    wb.set_properties({"title": title, "subject": subject, "author": "mktsheets", "comments": ""})
    return wb


class _Fmt:
    def __init__(self, wb):
        self.wb, self.cache = wb, {}

    def __call__(self, **props):
        key = tuple(sorted(props.items()))
        if key not in self.cache:
            base = {"font_name": FONT, "font_size": 10, "valign": "vcenter"}
            base.update(props)
            self.cache[key] = self.wb.add_format(base)
        return self.cache[key]


def _num_format(v: float | None, unit: str) -> str:
    if unit == "%":
        return "0.00%"
    if v is not None and float(v).is_integer():
        return "#,##0"
    return "#,##0.00##"


def _write(ws, row, col, value, fmt):
    """A number as a number, text always as a string (never a formula), blank as a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        ws.write_string(row, col, "—", fmt)
    elif isinstance(value, str):
        ws.write_string(row, col, value, fmt)
    else:
        ws.write_number(row, col, float(value), fmt)


def card_xlsx(card: Card) -> bytes:
    """The scorecard workbook of one person, as bytes (one sheet, A4 portrait, one page)."""
    lang = card.lang
    w = lambda key: word(key, lang)  # noqa: E731
    buffer = io.BytesIO()
    title = f"{card.period} {w('scorecard')} · {card.name}"
    wb = _workbook(buffer, title, w("confidential").format(name=card.name))
    f = _Fmt(wb)
    ws = wb.add_worksheet(w("scorecard"))
    heights: dict[int, float] = {}

    def set_height(r: int, h: float) -> None:
        heights[r] = h
        ws.set_row(r, h)
    widths = [22, 9, 8, 13, 13, 6, 10, 9, 9]     # A..I
    for i, width in enumerate(widths):
        ws.set_column(i, i, width)
    last = len(widths) - 1
    cell = dict(border=1, border_color=BORDER)
    head = f(bold=True, font_color="#FFFFFF", bg_color=ACCENT, align="center", text_wrap=True, **cell)
    label = f(bold=True, bg_color=LIGHT, **cell)
    text = f(text_wrap=True, **cell)
    money = f(num_format="#,##0.00", **cell)
    pct = f(num_format="0.00%", **cell)
    share = f(num_format="0%", align="center", **cell)
    score = f(num_format="0.00", **cell)
    section = f(bold=True, font_size=12, font_color=ACCENT, bottom=2, bottom_color=ACCENT)

    set_height(0, 30)
    ws.merge_range(0, 0, 0, last, title, f(bold=True, font_size=18, font_color=ACCENT))
    info = [(w("name"), card.name), (w("group"), card.group or "—"), (w("role"), card.role or "—"),
            (w("period"), card.period)]
    ws.write_string(1, 0, "   ".join(f"{k}: {v}" for k, v in info), f(font_color="#404040"))

    # headline: total, grade, rank, payout
    big_label = f(bold=True, font_color="#595959", bg_color=LIGHT, align="center", top=1, left=1, right=1,
                  border_color=BORDER)
    big = dict(bold=True, font_size=16, font_color=ACCENT, bg_color=LIGHT, align="center", bottom=1, left=1,
               right=1, border_color=BORDER)
    set_height(4, 28)
    spans = [(0, 0), (1, 2), (3, 4), (5, 8)]
    heads = [w("total"), w("grade"), w("rank"), f"{w('payout')} ({card.currency})" if card.currency else w("payout")]
    values = [(card.total, f(num_format="0.00", **big)), (card.grade or "—", f(**big)),
              (rank_text(card), f(**big)), (card.payout, f(num_format="#,##0.00", **big))]
    for (c0, c1), h, (v, fmt) in zip(spans, heads, values):
        if c0 == c1:
            ws.write_string(3, c0, h, big_label)
            _write(ws, 4, c0, v, fmt)
        else:
            ws.merge_range(3, c0, 3, c1, h, big_label)
            ws.merge_range(4, c0, 4, c1, "", fmt)
            _write(ws, 4, c0, v, fmt)
    row = 5
    if not card.complete:
        ws.merge_range(row, 0, row, last, w("incomplete"), f(font_color="#C00000", text_wrap=True))
        set_height(row, 30)
    row += 1

    # indicators
    ws.merge_range(row, 0, row, last, w("indicators"), section)
    row += 1
    headers = ["indicator", "kind", "weight", "target", "actual", "unit", "completion", "score", "weighted"]
    for i, h in enumerate(headers):
        ws.write_string(row, i, w(h), head)
    set_height(row, 20)
    row += 1
    first_ind = row
    for line in card.indicators:
        ws.write_string(row, 0, line.indicator or "—", text)
        ws.write_string(row, 1, kind_text(line.kind, lang), f(align="center", **cell))
        _write(ws, row, 2, line.weight, share)
        nf = lambda v: f(num_format=_num_format(v, line.unit), **cell)  # noqa: E731
        _write(ws, row, 3, line.target, nf(line.target))
        _write(ws, row, 4, line.actual, nf(line.actual))
        ws.write_string(row, 5, "%" if line.unit == "%" else line.unit, f(align="center", **cell))
        _write(ws, row, 6, line.completion, pct)
        _write(ws, row, 7, line.score, score)
        _write(ws, row, 8, line.weighted, score)
        row += 1
    last_ind = row - 1
    for key in ("quant_score", "qual_score"):
        ws.merge_range(row, 0, row, 6, w(key), f(bold=True, align="right", bg_color=LIGHT, **cell))
        _write(ws, row, 7, getattr(card, key), score)
        ws.write_blank(row, 8, None, f(bg_color=LIGHT, **cell))
        row += 1
    ws.merge_range(row, 0, row, 6, w("overall"), f(bold=True, align="right", bg_color=LIGHT, **cell))
    _write(ws, row, 7, card.overall, pct)
    ws.write_blank(row, 8, None, f(bg_color=LIGHT, **cell))
    row += 1
    ws.merge_range(row, 0, row, 6, w("total"), f(bold=True, align="right", bg_color=LIGHT, **cell))
    ws.write_blank(row, 7, None, f(bg_color=LIGHT, **cell))
    _write(ws, row, 8, card.total, f(num_format="0.00", bold=True, **cell))
    row += 2

    # incentives (label in A:B, value in C:D, explanation in E:I)
    ws.merge_range(row, 0, row, last, w("incentives"), section)
    row += 1
    cur = f" ({card.currency})" if card.currency else ""

    def pair(key, value, fmt, note=""):
        nonlocal row
        ws.merge_range(row, 0, row, 1, w(key), label)
        ws.merge_range(row, 2, row, 3, "", fmt)
        _write(ws, row, 2, value, fmt)
        ws.merge_range(row, 4, row, last, note, f(font_color="#595959", text_wrap=True, **cell))
        row += 1

    pair("bonus_base", card.bonus_base, money, cur.strip(" ()"))
    pair("factor", card.factor, pct)
    pair("bonus", card.bonus, money, f"{w('bonus_base')} × {w('factor')}")
    if card.sales_target:
        pair("sales_target", card.sales_target, money)
        pair("sales_actual", card.sales_actual, money)
        pair("sales_completion", sales_completion(card), pct)
    capped = (card.commission_cap is not None and card.brackets
              and sum(b.amount for b in card.brackets) > card.commission_cap + 0.005)
    note = (w("capped").format(cap=fmt_money(card.commission_cap)) if capped else
            ("" if card.sales_target else w("no_sales")))
    pair("commission", card.commission, money, note)
    if card.brackets:
        ws.merge_range(row, 0, row, 1, w("brackets"), f(italic=True, font_color="#595959", text_wrap=True, **cell))
        for i, h in enumerate(("bracket_range", "bracket_rate", "bracket_part", "bracket_amount")):
            c0 = 2 + 2 * i if i < 3 else 8
            if i < 3:
                ws.merge_range(row, c0, row, c0 + 1, w(h), head)
            else:
                ws.write_string(row, c0, w(h), head)
        row += 1
        for b in card.brackets:
            used = b.part > 0
            fmt_b = dict(bold=used, **cell)
            ws.merge_range(row, 0, row, 1, ("✓ " + w("used")) if used else "", f(font_color="#2E7D32", **cell))
            ws.merge_range(row, 2, row, 3, band_text(b), f(align="center", **fmt_b))
            ws.merge_range(row, 4, row, 5, "", f(num_format="0.##%", align="center", **fmt_b))
            ws.write_number(row, 4, b.rate, f(num_format="0.##%", align="center", **fmt_b))
            ws.merge_range(row, 6, row, 7, "", f(num_format="0.00%", align="center", **fmt_b))
            ws.write_number(row, 6, b.part, f(num_format="0.00%", align="center", **fmt_b))
            ws.write_number(row, 8, round(b.amount, 2), f(num_format="#,##0.00", **fmt_b))
            row += 1
    pair("adjustment", card.adjustment if card.adjustment is not None else 0.0, money,
         card.adjustment_reason)
    ws.merge_range(row, 0, row, 1, w("payout"), f(bold=True, bg_color=LIGHT, **cell))
    ws.merge_range(row, 2, row, 3, "", f(num_format="#,##0.00", bold=True, font_color=ACCENT, **cell))
    _write(ws, row, 2, card.payout, f(num_format="#,##0.00", bold=True, font_color=ACCENT, **cell))
    ws.merge_range(row, 4, row, last, f"{w('bonus')} + {w('commission')} + {w('adjustment')}",
                   f(font_color="#595959", **cell))
    row += 1
    pair("honours", card.honours or w("none"), f(bold=bool(card.honours), font_color="#B8860B", **cell))
    pair("alerts", card.alerts or w("none"), f(bold=bool(card.alerts),
                                               font_color="#C00000" if card.alerts else "#000000", **cell))

    # comments and 360 scores
    notes = [(ln.indicator, scores_360(ln, lang), ln.comment) for ln in card.indicators
             if ln.kind == "qualitative" or ln.comment]
    notes = [n for n in notes if n[1] or n[2]]
    if notes:
        row += 1
        ws.merge_range(row, 0, row, last, w("comments"), section)
        row += 1
        for ind, sc, comment in notes:
            ws.write_string(row, 0, ind or "—", label)
            ws.merge_range(row, 1, row, 3, sc, text)
            ws.merge_range(row, 4, row, last, comment, text)
            row += 1

    # chart: the person's score per indicator (categories and values from this sheet only)
    if card.indicators:
        row += 1
        chart = wb.add_chart({"type": "bar"})
        sheet = w("scorecard")
        chart.add_series({
            "name": w("score"),
            "categories": [sheet, first_ind, 0, last_ind, 0],
            "values": [sheet, first_ind, 7, last_ind, 7],
            "fill": {"color": ACCENT}, "gap": 60,
            "data_labels": {"value": True, "num_format": "0.0"},
        })
        chart.set_title({"name": w("chart"), "name_font": {"size": 11, "name": FONT}})
        chart.set_legend({"none": True})
        chart.set_x_axis({"min": 0, "max": 120, "major_unit": 20, "num_font": {"name": FONT, "size": 8},
                          "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}}})
        chart.set_y_axis({"reverse": True, "num_font": {"name": FONT, "size": 9}})
        chart.set_chartarea({"border": {"none": True}})
        height = 60 + 24 * len(card.indicators)
        chart.set_size({"width": 680, "height": height})
        ws.insert_chart(row, 0, chart, {"x_offset": 4, "y_offset": 4, "object_position": 3})
        row += math.ceil(height / 20) + 1

    ws.merge_range(row, 0, row, last, w("confidential").format(name=card.name),
                   f(italic=True, font_color="#7F7F7F", align="center", font_size=9))
    for r in range(row + 1):         # airy rows: the page prints fuller and reads easier
        if r not in heights:
            ws.set_row(r, 18)
    _print_setup(ws, row, last, portrait=True)
    ws.set_footer("&C&9" + w("confidential").format(name=card.name).replace("&", "&&"))
    wb.close()
    return buffer.getvalue()


def _print_setup(ws, last_row: int, last_col: int, portrait: bool) -> None:
    ws.set_paper(9)                      # A4
    if portrait:
        ws.set_portrait()
    else:
        ws.set_landscape()
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
    ws.center_horizontally()
    ws.fit_to_pages(1, 1)
    ws.print_area(0, 0, last_row, last_col)
    ws.hide_gridlines(2)


SUMMARY_COLUMNS = ("name", "role", "total", "grade", "rank", "overall", "bonus", "commission", "adjustment",
                   "payout", "honours", "alerts")


def summary_xlsx(summary: Summary) -> bytes:
    """A manager's team summary (direct reports only), as bytes."""
    lang = summary.lang
    w = lambda key: word(key, lang)  # noqa: E731
    buffer = io.BytesIO()
    title = f"{summary.period} {w('summary')} · {summary.manager}"
    wb = _workbook(buffer, title, w("summary_of").format(n=len(summary.reports)))
    f = _Fmt(wb)
    ws = wb.add_worksheet(w("summary"))
    widths = [10, 13, 8, 6, 11, 10, 11, 11, 10, 12, 11, 14]
    for i, width in enumerate(widths):
        ws.set_column(i, i, width)
    last = len(widths) - 1
    cell = dict(border=1, border_color=BORDER)
    ws.set_row(0, 28)
    ws.merge_range(0, 0, 0, last, title, f(bold=True, font_size=16, font_color=ACCENT))
    ws.write_string(1, 0, f"{w('manager')}: {summary.manager}   {w('summary_of').format(n=len(summary.reports))}"
                          f"   {w('period')}: {summary.period}"
                          + (f"   {w('amounts_in').format(cur=summary.currency)}" if summary.currency else ""),
                    f(font_color="#404040"))
    head = f(bold=True, font_color="#FFFFFF", bg_color=ACCENT, align="center", text_wrap=True, **cell)
    for i, key in enumerate(SUMMARY_COLUMNS):
        ws.write_string(3, i, w(key), head)
    ws.set_row(3, 30)
    formats = {"total": f(num_format="0.00", **cell), "overall": f(num_format="0.00%", **cell),
               "rank": f(align="center", **cell), "grade": f(align="center", bold=True, **cell)}
    money = f(num_format="#,##0.00", **cell)
    text = f(text_wrap=True, **cell)
    row = 4
    for c in summary.reports:
        values = {"name": c.name, "role": c.role, "total": c.total, "grade": c.grade or "—",
                  "rank": rank_text(c), "overall": c.overall, "bonus": c.bonus, "commission": c.commission,
                  "adjustment": c.adjustment if c.adjustment is not None else 0.0, "payout": c.payout,
                  "honours": c.honours, "alerts": c.alerts}
        for i, key in enumerate(SUMMARY_COLUMNS):
            _write(ws, row, i, values[key], formats.get(key, money if key in
                                                         ("bonus", "commission", "adjustment", "payout") else text))
        ws.set_row(row, 20)
        row += 1
    ws.freeze_panes(4, 1)
    ws.repeat_rows(3)
    _print_setup(ws, row, last, portrait=False)
    wb.close()
    return buffer.getvalue()


# ----------------------------------------------------------------- html (inline styles: works in mail clients)

def _e(v) -> str:
    return html.escape(str(v), quote=True)


TD = "padding:6px 8px;border:1px solid #D0D7DE;font-size:13px;"
TH = f"padding:6px 8px;border:1px solid {ACCENT};background:{ACCENT};color:#ffffff;font-size:12px;font-weight:bold;"
H2 = (f"margin:22px 0 8px 0;padding-bottom:4px;border-bottom:2px solid {ACCENT};color:{ACCENT};"
      "font-size:16px;font-weight:bold;")


def _headline(items: list[tuple[str, str]]) -> str:
    cells = "".join(
        f'<td style="padding:10px 6px;background:{LIGHT};border:1px solid #D0D7DE;text-align:center;width:25%;">'
        f'<div style="font-size:12px;color:#595959;">{_e(k)}</div>'
        f'<div style="font-size:{22 if len(v) <= 8 else 18}px;font-weight:bold;color:{ACCENT};margin-top:4px;">'
        f'{_e(v)}</div></td>'
        for k, v in items)
    return (f'<table role="presentation" cellpadding="0" cellspacing="0" width="100%" '
            f'style="border-collapse:collapse;margin-top:14px;"><tr>{cells}</tr></table>')


def card_body_html(card: Card) -> str:
    """The scorecard's content as an HTML fragment (inline styles only)."""
    lang = card.lang
    w = lambda key: word(key, lang)  # noqa: E731
    cur = card.currency
    out = []
    out.append(f'<h1 style="margin:0;font-size:24px;color:{ACCENT};">{_e(card.period)} {_e(w("scorecard"))} · '
               f'{_e(card.name)}</h1>')
    info = [(w("name"), card.name), (w("group"), card.group or "—"), (w("role"), card.role or "—"),
            (w("period"), card.period)]
    out.append('<p style="margin:6px 0 0 0;color:#404040;font-size:13px;">'
               + " &nbsp;·&nbsp; ".join(f"{_e(k)}: <b>{_e(v)}</b>" for k, v in info) + "</p>")
    out.append(_headline([(w("total"), fmt_score(card.total)), (w("grade"), card.grade or "—"),
                          (w("rank"), rank_text(card)), (w("payout"), fmt_money(card.payout, cur))]))
    if not card.complete:
        out.append(f'<p style="color:#C00000;font-size:13px;">{_e(w("incomplete"))}</p>')

    out.append(f'<h2 style="{H2}">{_e(w("indicators"))}</h2>')
    heads = ["indicator", "kind", "weight", "target", "actual", "completion", "score", "weighted"]
    rows = ["<tr>" + "".join(f'<th style="{TH}">{_e(w(h))}</th>' for h in heads) + "</tr>"]
    right = TD + "text-align:right;white-space:nowrap;"
    for ln in card.indicators:
        unit = "" if ln.unit in ("", "%") else f" {ln.unit}"
        tgt = fmt_num(ln.target, ln.unit) + (unit if ln.target is not None else "")
        act = fmt_num(ln.actual, ln.unit) + (unit if ln.actual is not None else "")
        rows.append(
            "<tr>"
            f'<td style="{TD}">{_e(ln.indicator or "—")}</td>'
            f'<td style="{TD}text-align:center;">{_e(kind_text(ln.kind, lang))}</td>'
            f'<td style="{right}">{_e(fmt_share(ln.weight))}</td>'
            f'<td style="{right}">{_e(tgt)}</td>'
            f'<td style="{right}">{_e(act)}</td>'
            f'<td style="{right}">{_e(fmt_pct(ln.completion))}</td>'
            f'<td style="{right}">{_e(fmt_score(ln.score))}</td>'
            f'<td style="{right}">{_e(fmt_score(ln.weighted))}</td>'
            "</tr>")
    foot = TD + f"background:{LIGHT};font-weight:bold;text-align:right;"
    for key, value in (("quant_score", fmt_score(card.quant_score)), ("qual_score", fmt_score(card.qual_score)),
                       ("overall", fmt_pct(card.overall)), ("total", fmt_score(card.total))):
        rows.append(f'<tr><td colspan="7" style="{foot}">{_e(w(key))}</td>'
                    f'<td style="{foot}white-space:nowrap;">{_e(value)}</td></tr>')
    out.append('<table cellpadding="0" cellspacing="0" width="100%" style="border-collapse:collapse;">'
               + "".join(rows) + "</table>")

    # the chart: one CSS bar per indicator (no images, no scripts)
    if card.indicators:
        bars = []
        for ln in card.indicators:
            pct = 0 if ln.score is None else max(0.0, min(ln.score, 120.0)) / 120 * 100
            bars.append(
                f'<tr><td style="padding:3px 8px 3px 0;font-size:12px;color:#404040;white-space:nowrap;width:30%;">'
                f'{_e(ln.indicator or "—")}</td><td style="padding:3px 0;">'
                f'<div style="background:#E7ECF2;height:16px;width:100%;">'
                f'<div style="background:{ACCENT};height:16px;width:{pct:.1f}%;"></div></div></td>'
                f'<td style="padding:3px 0 3px 8px;font-size:12px;width:48px;text-align:right;">'
                f'{_e(fmt_score(ln.score))}</td></tr>')
        out.append(f'<h2 style="{H2}">{_e(w("chart"))}</h2>'
                   '<table role="presentation" cellpadding="0" cellspacing="0" width="100%" '
                   'style="border-collapse:collapse;">' + "".join(bars) + "</table>")

    out.append(f'<h2 style="{H2}">{_e(w("incentives"))}</h2>')
    lines = [(w("bonus_base"), fmt_money(card.bonus_base, cur), ""),
             (w("factor"), fmt_pct(card.factor), ""),
             (w("bonus"), fmt_money(card.bonus, cur), f"{w('bonus_base')} × {w('factor')}")]
    if card.sales_target:
        lines += [(w("sales_target"), fmt_money(card.sales_target, cur), ""),
                  (w("sales_actual"), fmt_money(card.sales_actual, cur), ""),
                  (w("sales_completion"), fmt_pct(sales_completion(card)), "")]
    capped = (card.commission_cap is not None and card.brackets
              and sum(b.amount for b in card.brackets) > card.commission_cap + 0.005)
    lines.append((w("commission"), fmt_money(card.commission, cur),
                  w("capped").format(cap=fmt_money(card.commission_cap, cur)) if capped else
                  ("" if card.sales_target else w("no_sales"))))
    table = []
    for k, v, note in lines:
        table.append(f'<tr><td style="{TD}background:{LIGHT};font-weight:bold;width:30%;">{_e(k)}</td>'
                     f'<td style="{right}width:25%;">{_e(v)}</td>'
                     f'<td style="{TD}color:#595959;">{_e(note)}</td></tr>')
    if card.brackets:
        brows = "".join(
            f'<tr><td style="{TD}{"font-weight:bold;" if b.part > 0 else "color:#7F7F7F;"}">'
            f'{_e(band_text(b))}{" ✓" if b.part > 0 else ""}</td>'
            f'<td style="{right}">{_e(fmt_share(b.rate))}</td><td style="{right}">{_e(fmt_pct(b.part))}</td>'
            f'<td style="{right}">{_e(fmt_money(b.amount))}</td></tr>' for b in card.brackets)
        bh = "".join(f'<th style="{TH}">{_e(w(h))}</th>'
                     for h in ("bracket_range", "bracket_rate", "bracket_part", "bracket_amount"))
        table.append(f'<tr><td style="{TD}background:{LIGHT};color:#595959;">{_e(w("brackets"))}</td>'
                     f'<td colspan="2" style="padding:4px 0;border:1px solid #D0D7DE;">'
                     f'<table cellpadding="0" cellspacing="0" width="100%" style="border-collapse:collapse;">'
                     f'<tr>{bh}</tr>{brows}</table></td></tr>')
    adj = card.adjustment if card.adjustment is not None else 0.0
    table.append(f'<tr><td style="{TD}background:{LIGHT};font-weight:bold;">{_e(w("adjustment"))}</td>'
                 f'<td style="{right}">{_e(fmt_money(adj, cur))}</td>'
                 f'<td style="{TD}color:#595959;">{_e(card.adjustment_reason)}</td></tr>')
    table.append(f'<tr><td style="{TD}background:{ACCENT};color:#ffffff;font-weight:bold;">{_e(w("payout"))}</td>'
                 f'<td style="{right}font-weight:bold;color:{ACCENT};font-size:15px;">'
                 f'{_e(fmt_money(card.payout, cur))}</td>'
                 f'<td style="{TD}color:#595959;">{_e(w("bonus"))} + {_e(w("commission"))} + '
                 f'{_e(w("adjustment"))}</td></tr>')
    table.append(f'<tr><td style="{TD}background:{LIGHT};font-weight:bold;">{_e(w("honours"))}</td>'
                 f'<td colspan="2" style="{TD}{"color:#B8860B;font-weight:bold;" if card.honours else ""}">'
                 f'{_e(card.honours or w("none"))}</td></tr>')
    table.append(f'<tr><td style="{TD}background:{LIGHT};font-weight:bold;">{_e(w("alerts"))}</td>'
                 f'<td colspan="2" style="{TD}{"color:#C00000;font-weight:bold;" if card.alerts else ""}">'
                 f'{_e(card.alerts or w("none"))}</td></tr>')
    out.append('<table cellpadding="0" cellspacing="0" width="100%" style="border-collapse:collapse;">'
               + "".join(table) + "</table>")

    notes = [(ln.indicator, scores_360(ln, lang), ln.comment) for ln in card.indicators
             if ln.kind == "qualitative" or ln.comment]
    notes = [n for n in notes if n[1] or n[2]]
    if notes:
        out.append(f'<h2 style="{H2}">{_e(w("comments"))}</h2>')
        out.append('<table cellpadding="0" cellspacing="0" width="100%" style="border-collapse:collapse;">' + "".join(
            f'<tr><td style="{TD}background:{LIGHT};font-weight:bold;width:30%;">{_e(i or "—")}</td>'
            + (f'<td style="{TD}white-space:nowrap;">{_e(s)}</td><td style="{TD}">{_e(c)}</td></tr>' if c else
               f'<td colspan="2" style="{TD}">{_e(s)}</td></tr>')
            for i, s, c in notes) + "</table>")
    out.append(f'<p style="margin:18px 0 0 0;font-size:11px;color:#7F7F7F;text-align:center;">'
               f'{_e(w("confidential").format(name=card.name))}</p>')
    return "\n".join(out)


def _page(title: str, lang: str, body: str, landscape: bool = False) -> str:
    size = "A4 landscape" if landscape else "A4"
    width = 1040 if landscape else 760
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_e(title)}</title>"
        f"<style>@page {{ size: {size}; margin: 12mm; }} "
        "@media print { body { background:#ffffff !important; padding:0 !important; } "
        ".sheet { border:none !important; box-shadow:none !important; } }</style>"
        "</head>\n"
        f'<body style="margin:0;padding:24px;background:#F3F5F8;font-family:{FONT_CSS};color:#1F1F1F;">\n'
        f'<div class="sheet" style="max-width:{width}px;margin:0 auto;background:#ffffff;'
        f'border:1px solid #DDE3EA;padding:24px 28px;">\n{body}\n</div>\n</body></html>\n')


def card_html(card: Card) -> str:
    """The scorecard as a self-contained HTML page (inline CSS, no scripts, no external files)."""
    return _page(f"{card.period} {word('scorecard', card.lang)} · {card.name}", card.lang, card_body_html(card))


def summary_html(summary: Summary) -> str:
    lang = summary.lang
    w = lambda key: word(key, lang)  # noqa: E731
    title = f"{summary.period} {w('summary')} · {summary.manager}"
    rows = ["<tr>" + "".join(f'<th style="{TH}">{_e(w(k))}</th>' for k in SUMMARY_COLUMNS) + "</tr>"]
    right = TD + "text-align:right;white-space:nowrap;"
    for c in summary.reports:
        vals = [(c.name, TD), (c.role, TD), (fmt_score(c.total), right), (c.grade or "—", TD + "text-align:center;"),
                (rank_text(c), TD), (fmt_pct(c.overall), right), (fmt_money(c.bonus), right),
                (fmt_money(c.commission), right), (fmt_money(c.adjustment or 0.0), right),
                (fmt_money(c.payout), right + "font-weight:bold;"), (c.honours, TD), (c.alerts, TD)]
        rows.append("<tr>" + "".join(f'<td style="{st}">{_e(v)}</td>' for v, st in vals) + "</tr>")
    body = (f'<h1 style="margin:0;font-size:22px;color:{ACCENT};">{_e(title)}</h1>'
            f'<p style="color:#404040;font-size:13px;">{_e(w("manager"))}: <b>{_e(summary.manager)}</b> · '
            f'{_e(w("summary_of").format(n=len(summary.reports)))} · {_e(w("period"))}: {_e(summary.period)}'
            + (f" · {_e(w('amounts_in').format(cur=summary.currency))}" if summary.currency else "") + "</p>"
            '<table cellpadding="0" cellspacing="0" width="100%" style="border-collapse:collapse;">'
            + "".join(rows) + "</table>")
    return _page(title, lang, body, landscape=True)


# ----------------------------------------------------------------- writing files

@dataclass
class ScorecardResult:
    directory: Path
    files: dict[str, dict[str, Path]]            # person -> format -> file
    summaries: dict[str, dict[str, Path]]        # manager -> format -> file
    quarter: Quarter
    pdf_note: str = ""                           # why PDFs are missing, if they are

    @property
    def all_files(self) -> list[Path]:
        return [p for d in (*self.files.values(), *self.summaries.values()) for p in d.values()]


def parse_formats(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """'xlsx,html' -> ('xlsx', 'html'); xlsx is always included (the PDF is made from it)."""
    if text is None:
        return FORMATS
    items = [t.strip().lower() for t in (text.split(",") if isinstance(text, str) else text) if t.strip()]
    unknown = [t for t in items if t not in FORMATS]
    if unknown:
        raise ValueError(f"unknown format {', '.join(unknown)}: choose from {', '.join(FORMATS)}")
    return tuple(f for f in FORMATS if f == "xlsx" or f in items)


def _write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def write_scorecards(source, out_dir: str | Path, formats: str | Iterable[str] | None = None, *,
                     summaries: bool = True, workers: int = 4) -> ScorecardResult:
    """One scorecard per person (xlsx always; html; pdf when LibreOffice is present) and team summaries.

    `source` is a workbook path, a loaded Workbook, a Calc or a collected Quarter. Returns what was written and,
    in `pdf_note`, why PDFs were not written when LibreOffice is missing.
    """
    fmts = parse_formats(formats)
    quarter = collect(source)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, dict[str, Path]] = {}
    summary_files: dict[str, dict[str, Path]] = {}
    xlsx_for_pdf: list[tuple[dict, str, Path]] = []
    for card in quarter.cards:
        mine = files.setdefault(card.name, {})
        path = out / card.filename("xlsx")
        _write_bytes(path, card_xlsx(card))
        mine["xlsx"] = path
        if "html" in fmts:
            mine["html"] = out / card.filename("html")
            _write_bytes(mine["html"], card_html(card).encode("utf-8"))
        xlsx_for_pdf.append((mine, "pdf", path))
    if summaries:
        for s in quarter.summaries:
            mine = summary_files.setdefault(s.manager, {})
            path = out / s.filename("xlsx")
            _write_bytes(path, summary_xlsx(s))
            mine["xlsx"] = path
            if "html" in fmts:
                mine["html"] = out / s.filename("html")
                _write_bytes(mine["html"], summary_html(s).encode("utf-8"))
            xlsx_for_pdf.append((mine, "pdf", path))

    note = ""
    if "pdf" in fmts:
        if find_soffice() is None:
            note = ("未找到 LibreOffice，未生成 PDF（安装 LibreOffice 后重试，或设置 MKTSHEETS_SOFFICE）"
                    if quarter.lang == "zh" else
                    "LibreOffice not found: PDFs not written (install LibreOffice, or set MKTSHEETS_SOFFICE)")
        else:
            def one(item):
                target, key, src = item
                pdf = convert(src, out, "pdf")
                return target, key, pdf
            failures = []
            with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
                futures = [pool.submit(one, item) for item in xlsx_for_pdf]
                for fut in futures:
                    try:
                        target, key, pdf = fut.result()
                        target[key] = pdf
                    except LibreOfficeError as e:
                        failures.append(str(e))
            if failures:
                note = (f"{len(failures)} 个 PDF 未生成: " if quarter.lang == "zh" else
                        f"{len(failures)} PDFs not written: ") + failures[0]
    return ScorecardResult(out, files, summary_files, quarter, note)
