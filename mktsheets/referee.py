"""Compare the cached values of every formula cell with LibreOffice's own recalculation.

This is how we prove the formulas and the Python rules agree (SPEC §6): the file
holds Python's results as cached values; LibreOffice recalculates every formula
from scratch; every computed cell must match (numbers within 1e-9, text identical).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import openpyxl

from .libreoffice import recalculate
from .rules.base import EXCEL_EPOCH

TOLERANCE = 1e-9


@dataclass(frozen=True)
class Mismatch:
    sheet: str
    cell: str
    formula: str
    ours: object
    libreoffice: object

    def __str__(self) -> str:
        return f"{self.sheet}!{self.cell}: ours={self.ours!r} libreoffice={self.libreoffice!r}  ={self.formula[:160]}"


def _norm(v):
    if v is None or v == "":
        return None
    if isinstance(v, datetime):
        return float((v.date() - EXCEL_EPOCH).days)
    if isinstance(v, bool):
        return float(v)
    return v


def same(a, b) -> bool:
    a, b = _norm(a), _norm(b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=TOLERANCE)
    return a == b


def formula_cells(path: Path) -> dict[tuple[str, str], str]:
    wb = openpyxl.load_workbook(path, data_only=False)
    out = {}
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.data_type == "f" or (isinstance(c.value, str) and c.value.startswith("=")):
                    out[(ws.title, c.coordinate)] = str(c.value)
    return out


def cached_values(path: Path) -> dict[tuple[str, str], object]:
    wb = openpyxl.load_workbook(path, data_only=True)
    return {(ws.title, c.coordinate): c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row}


def compare(path: Path, work_dir: Path) -> tuple[int, list[Mismatch]]:
    """(number of formula cells compared, mismatches) of a workbook against LibreOffice."""
    lo = recalculate(path, work_dir)
    formulas = formula_cells(path)
    ours = cached_values(path)
    theirs = cached_values(lo)
    bad = [Mismatch(s, a, f, ours.get((s, a)), theirs.get((s, a)))
           for (s, a), f in formulas.items() if not same(ours.get((s, a)), theirs.get((s, a)))]
    return len(formulas), bad
