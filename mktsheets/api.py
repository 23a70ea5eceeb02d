"""The library entry points: load a workbook, compute it, check it."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .compute import compute, helper_keys
from .layout import col_letter
from .model import Inputs, parse
from .problems import WARNING, Problem, ProblemList
from .reader import DATA_SHEETS, Loaded, read_workbook
from .rules.context import Calc
from .validate import validate


@dataclass
class Workbook:
    """A read and computed workbook: inputs, results and problems."""

    loaded: Loaded
    inputs: Inputs
    calc: Calc

    @property
    def path(self) -> Path:
        return self.loaded.path

    @property
    def lang(self) -> str:
        return self.loaded.lang

    @property
    def problems(self) -> list[Problem]:
        return self.calc.problems.sorted()

    @property
    def errors(self) -> list[Problem]:
        return self.calc.problems.errors

    def frame(self, sheet: str) -> pd.DataFrame:
        """One sheet as a DataFrame: typed inputs and computed columns (no helpers), by column key."""
        t = self.loaded.template.sheet(sheet)
        out = self.calc.out.get(sheet)
        inp = self.inputs.frames.get(sheet)
        cols = {}
        for c in t.columns:
            if c.is_input and inp is not None and c.key in inp:
                cols[c.key] = inp[c.key]
            elif out is not None and c.key in out:
                cols[c.key] = out[c.key]
        index = out.index if out is not None else inp.index
        return pd.DataFrame(cols, index=index).rename_axis("row")

    @property
    def frames(self) -> dict[str, pd.DataFrame]:
        return {k: self.frame(k) for k in DATA_SHEETS}


def load(path: str | Path, *, keep_raw: bool = True) -> Workbook:
    """Read a workbook, compute every rule, and collect every problem (never raises for bad cells).

    keep_raw=False lets the cells as read (``wb.loaded.raw.sheets``) go once they are parsed:
    recalc has no use for them, and on a large workbook they are a good part of the memory.
    """
    loaded = read_workbook(path)
    problems = loaded.problems
    inputs, parse_problems = parse(loaded.template, loaded.raw, loaded.layout)
    if not keep_raw:
        loaded.raw.sheets = {key: frame.iloc[:0] for key, frame in loaded.raw.sheets.items()}
    merged = ProblemList(lang=loaded.lang)
    for p in problems.items + parse_problems.items:
        merged.add(p.severity, p.sheet, p.cell, p.found, p.expected, p.message, p.code)
    calc = compute(inputs, loaded.layout, merged)
    validate(calc)
    _overwritten(loaded, calc)
    return Workbook(loaded, inputs, calc)


def check(path: str | Path) -> Workbook:
    """Same as load(): the problems are in .problems; .errors decides the exit code of `check`."""
    return load(path)


def _overwritten(loaded: Loaded, calc: Calc) -> None:
    """A computed cell that holds a typed value instead of its formula."""
    t = loaded.template
    for key in DATA_SHEETS:
        sl = loaded.layout.sheet(key)
        found: dict[str, list[tuple[int, object]]] = {}
        for ckey, r, v in loaded.typed_in_computed.get(key, ()):
            if sl.first <= r <= sl.last:
                found.setdefault(ckey, []).append((r, v))
        computed = [c for c in t.sheet(key).columns if not c.is_input]
        computed_keys = [c.key for c in computed] + list(helper_keys(key, loaded.layout.weeks))
        missing = set(loaded.missing_columns.get(key, ()))
        for ckey in computed_keys:
            if ckey in missing or ckey not in found:
                continue
            letter = col_letter(sl.columns[ckey])
            for r, v in sorted(found[ckey], key=lambda rv: rv[0]):
                a1 = f"{letter}{r}"
                header = t.sheet(key).column(ckey).header(loaded.lang) if not ckey.startswith("_") else ckey
                calc.problems.add(WARNING, sl.name, a1, v, calc.say("公式", "a formula"),
                                  (f"“{header}”是公式列，手填的值会在重算时被公式替换",
                                   f"'{header}' is a formula column; recalc puts the formula back"),
                                  "overwritten")
