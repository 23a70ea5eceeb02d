"""Problems are values, not exceptions: each names a sheet, a cell, what was found and what was expected."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

ERROR, WARNING, NOTE = "error", "warning", "note"
_ORDER = {ERROR: 0, WARNING: 1, NOTE: 2}
_SEVERITY_LABEL = {"zh": {ERROR: "错误", WARNING: "警告", NOTE: "提示"},
                   "en": {ERROR: "Error", WARNING: "Warning", NOTE: "Note"}}


@dataclass(frozen=True)
class Problem:
    """One finding about the workbook, in the workbook's language."""

    severity: str
    sheet: str            # the sheet's name as it appears in the workbook ("" for the file)
    cell: str             # A1 address ("" for a whole sheet or the file)
    found: str
    expected: str
    message: str
    code: str = ""        # stable identifier for scripts and tests, e.g. "unknown-goal"

    @property
    def where(self) -> str:
        if not self.sheet:
            return ""
        return f"{self.sheet}!{self.cell}" if self.cell else self.sheet

    def line(self, lang: str = "zh") -> str:
        """One printable line: where first, then what."""
        parts = [self.where or "-", _SEVERITY_LABEL[lang][self.severity], self.message]
        if self.found != "":
            parts.append(("发现: " if lang == "zh" else "found: ") + self.found)
        if self.expected:
            parts.append(("应为: " if lang == "zh" else "expected: ") + self.expected)
        return "  ".join(parts)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class ProblemList:
    """Collects problems in the workbook's language; one entry per (code, sheet, cell)."""

    lang: str = "zh"
    items: list[Problem] = field(default_factory=list)
    _seen: set = field(default_factory=set, repr=False)

    def add(self, severity: str, sheet: str, cell: str, found, expected: tuple[str, str] | str,
            message: tuple[str, str] | str, code: str = "") -> None:
        key = (code, sheet, cell, message if isinstance(message, str) else message[0])
        if key in self._seen:
            return
        self._seen.add(key)
        self.items.append(Problem(severity, sheet, cell, _show(found), self._pick(expected),
                                  self._pick(message), code))

    def _pick(self, text: tuple[str, str] | str) -> str:
        if isinstance(text, str):
            return text
        return text[0] if self.lang == "zh" else text[1]

    def sorted(self) -> list[Problem]:
        return sorted(self.items, key=lambda p: _ORDER[p.severity])

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.items if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.items if p.severity == WARNING]


def _show(value) -> str:
    """A found value as the user would recognise it."""
    if value is None or (isinstance(value, float) and value != value):   # None, or a blank cell read as NaN
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
