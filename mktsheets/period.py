"""Periods: quarter codes (2024Q3), month codes (2024-07) and the week calendar."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta

_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4}
_QUARTER = re.compile(r"^(\d{4})\s*[-/年]?\s*(?:第)?\s*[qQ]?\s*([1-4一二三四])\s*(?:季度|季|[qQ])?$")
_QUARTER_Q_FIRST = re.compile(r"^[qQ]([1-4])\s*[-/ ]?\s*(\d{4})$")
_MONTH = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?$")


@dataclass(frozen=True)
class Quarter:
    year: int
    q: int

    @property
    def code(self) -> str:
        return f"{self.year}Q{self.q}"

    @property
    def start(self) -> date:
        return date(self.year, 3 * self.q - 2, 1)

    @property
    def end(self) -> date:
        month = 3 * self.q
        nxt = date(self.year + (month == 12), month % 12 + 1, 1)
        return nxt - timedelta(days=1)

    @property
    def months(self) -> tuple[str, ...]:
        return tuple(f"{self.year}-{m:02d}" for m in range(3 * self.q - 2, 3 * self.q + 1))


def parse_quarter(value) -> Quarter | None:
    """'2024Q3', '2024 Q3', '2024-Q3', 'Q3 2024', '2024年第3季度', '2024年第三季度' -> Quarter; None if not a quarter."""
    if value is None:
        return None
    text = unicodedata.normalize("NFKC", str(value)).strip()
    m = _QUARTER.match(text)
    if m and ("q" in text.lower() or "季" in text):
        q = m.group(2)
        return Quarter(int(m.group(1)), _CN_DIGITS.get(q) or int(q))
    m = _QUARTER_Q_FIRST.match(text)
    if m:
        return Quarter(int(m.group(2)), int(m.group(1)))
    return None


def parse_month(value) -> str | None:
    """'2024-07', '2024/7', '2024年7月', a date -> '2024-07'; None if not a month."""
    if isinstance(value, (date, datetime)):
        return f"{value.year}-{value.month:02d}"
    if value is None:
        return None
    text = unicodedata.normalize("NFKC", str(value)).strip()
    m = _MONTH.match(text)
    if m and 1 <= int(m.group(2)) <= 12:
        return f"{m.group(1)}-{int(m.group(2)):02d}"
    return None


def period_code(value) -> str | None:
    """Canonical code of an evaluation period: a quarter code or a month code."""
    q = parse_quarter(value)
    if q:
        return q.code
    return parse_month(value)


def calendar(start: date, end: date) -> list[tuple[int, date, date]]:
    """Weeks Monday-Sunday; week 1 starts on the period start; partial first/last weeks stay partial."""
    weeks = []
    week_start = start
    n = 1
    while week_start <= end:
        week_end = min(week_start + timedelta(days=6 - week_start.weekday()), end)
        weeks.append((n, week_start, week_end))
        week_start = week_end + timedelta(days=1)
        n += 1
    return weeks
