"""Building blocks shared by the rules: Excel-exact rounding, tier look-up, completion.

Every helper here has a Python side (vectorised, over numpy/pandas) and an
Excel side (a formula snippet). The two are written next to each other so that
a change to one is a visible change to the other.
"""
from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Sequence

import numpy as np
import pandas as pd

EXCEL_EPOCH = date(1899, 12, 30)


# ----------------------------------------------------------------- rounding

def xround(values, digits: int):
    """ROUND as Excel does it: half away from zero on the 15-digit decimal value.

    Excel rounds what it displays (15 significant digits), so ROUND(2.675, 2) is
    2.68 although the binary double is 2.67499999... We first snap each value to
    15 significant digits, then round half away from zero.
    """
    arr = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        scaled = arr * (10.0 ** digits)
        mag = np.abs(scaled)
        exp = np.where(mag > 0, np.floor(np.log10(np.where(mag > 0, mag, 1.0))), 0.0)
        snap = 10.0 ** np.minimum(14 - exp, 300)   # below 1e-286 nothing is left to round (and 10**314 overflows)
        snapped = np.where(mag > 0, np.rint(mag * snap) / snap, 0.0)
        rounded = np.sign(scaled) * np.floor(snapped + 0.5) / (10.0 ** digits)
    # near the top of the float range scaling overflows: such a value has no decimals left to round
    rounded = np.where(np.isfinite(arr), np.where(np.isfinite(rounded), rounded, arr), np.nan)
    if np.ndim(values) == 0:
        return float(rounded)
    if isinstance(values, pd.Series):
        return pd.Series(rounded, index=values.index)
    return rounded


def xround_scalar(value: float, digits: int) -> float:
    return float(xround(np.float64(value), digits))


def ceil_share(n: int, share: float) -> int:
    """ROUNDUP(ROUND(n × share, 9), 0): how many people a top/bottom share covers."""
    return int(math.ceil(round(n * share, 9)))


# ----------------------------------------------------------------- tiers

def tier_lookup(values, mins: Sequence[float], results: Sequence, default):
    """The result of the row with the highest minimum <= value (first such row on ties).

    Blank (NaN) values give NaN/"" (callers decide); values below every minimum give `default`.
    """
    s = pd.Series(values, dtype=float)
    out = pd.Series([default] * len(s), index=s.index, dtype=object)
    best = pd.Series(-np.inf, index=s.index)
    for m, r in zip(mins, results):
        better = (s >= m) & (m > best)
        out[better] = r
        best[better] = m
    blank = s.isna()
    out[blank] = np.nan
    return out


def tier_formula(value: str, mins: str, results: str, default: str) -> str:
    """Excel twin of tier_lookup: works whatever the order of the tier rows."""
    return (
        f'IF(SUMPRODUCT(({mins}<={value})*({mins}<>""))=0,{default},'
        f'INDEX({results},MATCH(SUMPRODUCT(MAX(({mins}<={value})*({mins}<>"")*{mins})),{mins},0)))'
    )


# ----------------------------------------------------------------- completion (R1)

def completion(target, actual, lower) -> pd.Series:
    """R1: actual/target, or target/actual when lower is better; blank when undefined."""
    t = pd.Series(target, dtype=float)
    a = pd.Series(actual, dtype=float).set_axis(t.index)
    low = pd.Series(lower, dtype=bool).set_axis(t.index)
    t0 = t.fillna(0.0)
    a0 = a.fillna(0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        higher = np.where(t0 > 0, a / t0.where(t0 > 0, 1.0), np.nan)
        low_val = np.where((t0 > 0) & (a0 > 0), t0 / a0.where(a0 > 0, 1.0), np.nan)
    out = pd.Series(np.where(low, low_val, higher), index=t.index, dtype=float)
    return out.where(a.notna())


def completion_formula(target: str, actual: str, lower: str) -> str:
    """Excel twin of completion(); `lower` is a formula condition."""
    return (
        f'IF({actual}="","",IF({lower},IF(AND(N({target})>0,N({actual})>0),{target}/{actual},""),'
        f'IF(N({target})>0,{actual}/{target},"")))'
    )


def share_used(values) -> pd.Series:
    """A weight as the formulas use it: 30 (no % sign) means 30%; blank/text is 0."""
    s = pd.Series(values, dtype=float)
    return s.where(~((s > 1) & (s <= 100)), s / 100).fillna(0.0)


def share_formula(ref: str) -> str:
    return f"IF(AND(ISNUMBER({ref}),{ref}>1,{ref}<=100),{ref}/100,N({ref}))"


# ----------------------------------------------------------------- dates

def to_serial(d: date | None) -> float:
    """A date as an Excel serial number (NaN for none)."""
    if d is None or (isinstance(d, float) and math.isnan(d)):
        return float("nan")
    return float((d - EXCEL_EPOCH).days)


def from_serial(n: float) -> date:
    return EXCEL_EPOCH + timedelta(days=int(n))


def blank_text(mask, text) -> pd.Series:
    """Series of `text` where mask is true, "" elsewhere."""
    m = pd.Series(mask, dtype=bool)
    return pd.Series(np.where(m, text, ""), index=m.index, dtype=object)


def num(series) -> pd.Series:
    """Excel's N(): numbers stay, blanks become 0."""
    return pd.Series(series, dtype=float).fillna(0.0)
