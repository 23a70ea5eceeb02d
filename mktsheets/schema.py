"""The declarative workbook definition (sheets, columns, codes, settings), loaded from workbook_templates/."""
from __future__ import annotations

import sys
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

LANGS = ("zh", "en")
DEFAULT_TEMPLATE = "quarterly"


@dataclass(frozen=True)
class Column:
    """One column of a data sheet."""

    key: str
    zh: str
    en: str
    type: str = "text"
    role: str = "input"          # input | computed | helper
    width: float = 10
    list: str | None = None
    aliases: tuple[str, ...] = ()

    def header(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en

    @property
    def is_input(self) -> bool:
        return self.role == "input"

    def accepted_headers(self) -> tuple[str, ...]:
        return (self.zh, self.en, *self.aliases)


@dataclass(frozen=True)
class Sheet:
    """One sheet: its names and (for data sheets) its columns."""

    key: str
    zh: str
    en: str
    columns: tuple[Column, ...] = ()
    rows: int = 0                 # pre-formatted data rows in a blank workbook
    follows: str | None = None    # one row per row of that sheet (Incentives follows Team)

    def name(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en

    def column(self, key: str) -> Column:
        for c in self.columns:
            if c.key == key:
                return c
        raise KeyError(f"sheet {self.key!r} has no column {key!r}")

    @property
    def input_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.is_input)


@dataclass(frozen=True)
class Setting:
    key: str
    label: tuple[str, str]
    type: str
    default: Any = None
    note: tuple[str, str] = ("", "")
    list: str | None = None


@dataclass(frozen=True)
class Table:
    """A table on the Settings sheet (tiers, brackets)."""

    key: str
    title: tuple[str, str]
    columns: tuple[tuple[str, str, str, str], ...]   # (key, zh, en, type)
    rows: tuple[tuple[Any, ...], ...]


@dataclass(frozen=True)
class Template:
    name: str
    version: int
    sheets: tuple[Sheet, ...]
    codes: dict[str, dict[str, tuple[str, ...]]]
    labels: dict[str, tuple[str, str]]
    settings: tuple[Setting, ...]
    tables: tuple[Table, ...]
    source: Path = field(compare=False, default=Path())

    def sheet(self, key: str) -> Sheet:
        for s in self.sheets:
            if s.key == key:
                return s
        raise KeyError(key)

    def label(self, key: str, lang: str) -> str:
        return self.labels[key][0 if lang == "zh" else 1]

    def code_label(self, list_key: str, code: str, lang: str) -> str:
        return self.codes[list_key][code][0 if lang == "zh" else 1]

    def code_labels(self, list_key: str, lang: str) -> list[str]:
        """The dropdown values of a code list in one language."""
        return [v[0 if lang == "zh" else 1] for v in self.codes[list_key].values()]

    def table(self, key: str) -> Table:
        return next(t for t in self.tables if t.key == key)


def normalise_label(text: str) -> str:
    """Fold a header or code for matching: NFKC, case, spaces, separators."""
    t = unicodedata.normalize("NFKC", str(text)).casefold()
    return "".join(ch for ch in t if not ch.isspace() and ch not in "_-·.:：*")


def template_dir() -> Path:
    """Where the shipped templates live (inside the wheel, or beside the source tree)."""
    try:
        from importlib.resources import files

        path = Path(str(files("mktsheets.workbook_templates")))
        if (path / f"{DEFAULT_TEMPLATE}.toml").is_file():
            return path
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parent.parent / "workbook_templates"


@lru_cache(maxsize=None)
def load_template(name: str = DEFAULT_TEMPLATE) -> Template:
    path = template_dir() / f"{name}.toml"
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    sheets = []
    for s in raw["sheets"]:
        cols = tuple(
            Column(
                key=c["key"], zh=c["zh"], en=c["en"], type=c.get("type", "text"),
                role=c.get("role", "input"), width=c.get("width", 10), list=c.get("list"),
                aliases=tuple(c.get("aliases", ())),
            )
            for c in s.get("columns", ())
        )
        sheets.append(Sheet(s["key"], s["zh"], s["en"], cols, s.get("rows", 0), s.get("follows")))
    codes = {k: {code: tuple(v) for code, v in d.items()} for k, d in raw["codes"].items()}
    settings = tuple(
        Setting(
            key=s["key"], label=tuple(s["label"]), type=s["type"], default=s.get("default"),
            note=tuple(s.get("note", ("", ""))), list=s.get("list"),
        )
        for s in raw["settings"]
    )
    tables = tuple(
        Table(t["key"], tuple(t["title"]), tuple(tuple(c) for c in t["columns"]),
              tuple(tuple(r) for r in t["rows"]))
        for t in raw["tables"]
    )
    return Template(
        name=raw["template"]["name"], version=int(raw["template"]["version"]),
        sheets=tuple(sheets), codes=codes,
        labels={k: tuple(v) for k, v in raw["labels"].items()},
        settings=settings, tables=tables, source=path,
    )
