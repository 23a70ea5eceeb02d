"""Where things are in one workbook: sheet names, column letters, data rows, defined names.

The generator builds a Layout from the template's column order; the recalculator
builds one from the headers it found in the user's file. Formulas are always
written through a Layout, so they follow the columns wherever the user put them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from .schema import Template


@lru_cache(maxsize=None)
def col_letter(index: int) -> str:
    """0-based column index -> Excel letters (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def col_index(letters: str) -> int:
    """Excel letters -> 0-based column index."""
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n - 1


def quote_sheet(name: str) -> str:
    """Sheet name as used in a formula reference (always quoted: safe for any name)."""
    return "'" + name.replace("'", "''") + "'"


def setting_name(key: str) -> str:
    """Defined name of a setting's value as the formulas use it."""
    return "MK_" + key.upper()


def table_name(table: str, column: str) -> str:
    """Defined name of one column of a Settings table."""
    return f"MK_{table.upper()}_{column.upper()}"


@dataclass
class SheetLayout:
    name: str                       # the sheet's name in this workbook
    header_row: int = 1             # 1-based
    first: int = 2                  # first data row (1-based)
    last: int = 1                   # last data row that holds (or may hold) data
    columns: dict[str, int] = field(default_factory=dict)   # key -> 0-based column index

    def letter(self, key: str) -> str:
        return col_letter(self.columns[key])

    @property
    def rows(self) -> range:
        return range(self.first, self.last + 1)


@dataclass
class Layout:
    """Addresses of one workbook, shared by formula builders and writers."""

    template: Template
    lang: str
    sheets: dict[str, SheetLayout]
    weeks: int = 14                     # week columns of the goal x week helper matrix
    months: tuple[str, ...] = ()        # month codes of the period, e.g. 2024-07
    setting_rows: dict[str, int] = field(default_factory=dict)   # setting key -> row on Settings
    calendar_first: int = 0             # first data row of the calendar table on Settings
    calendar_len: int = 16              # reserved calendar rows

    # -- references used by formula builders
    def sheet(self, key: str) -> SheetLayout:
        return self.sheets[key]

    def col(self, sheet: str, key: str) -> str:
        return self.sheets[sheet].letter(key)

    def ref(self, sheet: str, key: str, row: int, *, here: str | None = None) -> str:
        """A relative cell reference; sheet-qualified unless it is on sheet `here`."""
        a1 = f"{self.col(sheet, key)}{row}"
        return a1 if here == sheet else f"{quote_sheet(self.sheets[sheet].name)}!{a1}"

    def rng(self, sheet: str, key: str, *, here: str | None = None, last_key: str | None = None) -> str:
        """Absolute range over the data rows of one column (or of columns key..last_key)."""
        s = self.sheets[sheet]
        last_col = s.letter(last_key) if last_key else s.letter(key)
        a1 = f"${s.letter(key)}${s.first}:${last_col}${max(s.last, s.first)}"
        return a1 if here == sheet else f"{quote_sheet(s.name)}!{a1}"

    def label(self, key: str) -> str:
        """A text the formulas write (status, honour), in the workbook's language."""
        return self.template.label(key, self.lang)

    def is_code(self, ref: str, list_key: str, code: str) -> str:
        """Formula condition: the cell holds the zh or en dropdown label of a code."""
        zh, en = self.template.codes[list_key][code][:2]
        return f'OR({ref}="{zh}",{ref}="{en}")'
