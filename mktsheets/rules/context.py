"""What the rules share while computing one workbook."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..layout import Layout
from ..model import Inputs
from ..problems import ProblemList


@dataclass
class Calc:
    """Inputs in, computed columns out (one frame per sheet, indexed by Excel row)."""

    inputs: Inputs
    layout: Layout
    problems: ProblemList
    out: dict[str, pd.DataFrame] = field(default_factory=dict)
    _keys: dict[tuple[str, str], pd.Series] = field(default_factory=dict, repr=False)

    @property
    def s(self) -> dict:
        return self.inputs.settings

    @property
    def lang(self) -> str:
        return self.inputs.lang

    def frame(self, sheet: str) -> pd.DataFrame:
        return self.inputs.frames[sheet]

    def keys(self, sheet: str, column: str) -> pd.Series:
        """key_of of an input column, computed once per workbook (IDs and names are looked up often)."""
        found = self._keys.get((sheet, column))
        if found is None:
            found = self._keys[sheet, column] = keys_of(self.frame(sheet)[column])
        return found

    def label(self, key: str) -> str:
        return self.inputs.label(key)

    def cell(self, sheet: str, key: str, row: int) -> tuple[str, str]:
        """(sheet name, A1 address) of a cell, for problems."""
        sl = self.layout.sheet(sheet)
        return sl.name, f"{sl.letter(key)}{row}"

    def say(self, zh: str, en: str) -> str:
        return zh if self.lang == "zh" else en


def key_of(value) -> str:
    """How formulas match IDs and names: MATCH/SUMIFS ignore case."""
    return str(value).casefold() if value not in (None, "") else ""


def keys_of(values: pd.Series) -> pd.Series:
    """key_of of a whole column: each distinct value folded once, and the results shared."""
    array = values.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(array, skipna=True) not in ("string", "empty"):
        return pd.Series([key_of(v) for v in array], index=values.index, dtype=object)
    codes, uniques = pd.factorize(array)                  # text and blanks only: blanks are code -1
    keys = np.array([key_of(u) for u in uniques] + [""], dtype=object)
    return pd.Series(keys[codes] if len(codes) else [], index=values.index, dtype=object)


def first_index(keys: pd.Series) -> dict[str, int]:
    """key -> Excel row of its first occurrence (what MATCH(...,0) finds)."""
    out: dict[str, int] = {}
    for row, k in keys.items():
        if k and k not in out:
            out[k] = row
    return out
