"""Helpers of tests/test_recalc.py: edit real workbooks the way people and other programs do.

* `edit_inputs` types new values into input cells with `xlsxpatch` (plain values, every
  other byte and every cached value kept), as Excel/WPS would leave a file whose
  formulas it has not recalculated - so recalc has something to do.
* `referee_run` (a process-pool job): random quarter -> edits -> recalc -> LibreOffice.
* `add_extras` puts what users add to their file into a workbook made by `new_workbook`:
  comments, a picture, a chart, a notes sheet, sparklines (XlsxWriter writes them in the
  same pass as the workbook), then an unknown part `xl/cellimages.xml` (as WPS writes it).
* `raw_members` reads every zip member's compressed bytes straight from the file.
* `run_cli` runs the real command line in a subprocess.
"""
from __future__ import annotations

import math
import random
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xlsxwriter

from mktsheets.api import Workbook, load
from mktsheets.layout import col_letter
from mktsheets.reader import DATA_SHEETS
from mktsheets.xlsxpatch import CellWrite, patch_workbook

#: Sheets whose worksheet part recalc rewrites (they hold computed cells).
COMPUTED_SHEETS = ("settings", "targets", "tracking", "evaluation", "incentives", "review", "dashboard", "checks")
NOTES_SHEET = "我的笔记"


# --------------------------------------------------------------------------- computed cells


def is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and not math.isnan(v)


def computed_cells(wb: Workbook):
    """(sheet key, sheet name, column key, column index, row, A1, Python's value) of every computed cell."""
    L, t = wb.loaded.layout, wb.loaded.template
    for key in DATA_SHEETS:
        out = wb.calc.out.get(key)
        if out is None:
            continue
        sl = L.sheet(key)
        for c in t.sheet(key).columns:
            if c.is_input:
                continue
            ci = sl.columns[c.key]
            for r in sl.rows:
                yield key, sl.name, c.key, ci, r, f"{col_letter(ci)}{r}", out[c.key].get(r)


def filled_rows(wb: Workbook, key: str) -> set[int]:
    """Rows of a data sheet where a person typed anything (Incentives: rows whose Team row is filled)."""
    raw = wb.loaded.raw.sheets["team" if key == "incentives" else key]
    rows = {r for r, row in raw.iterrows() if any(v not in (None, "") for v in row.tolist())}
    if key == "incentives":
        offset = wb.loaded.layout.sheet("incentives").first - wb.loaded.layout.sheet("team").first
        rows = {r + offset for r in rows}
    return rows


# --------------------------------------------------------------------------- user-like edits


class Edits:
    """Cells to type, by sheet name and A1, through a workbook's layout."""

    def __init__(self, wb: Workbook):
        self.wb, self.L = wb, wb.loaded.layout
        self.cells: dict[str, dict[str, CellWrite]] = {}

    def put(self, key: str, column: str, row: int, value) -> str:
        sl = self.L.sheet(key)
        a1 = f"{col_letter(sl.columns[column])}{row}"
        self.cells.setdefault(sl.name, {})[a1] = CellWrite(None, value)
        return a1

    def setting(self, key: str, value) -> str:
        a1 = f"B{self.L.setting_rows[key]}"
        self.cells.setdefault(self.L.sheet("settings").name, {})[a1] = CellWrite(None, value)
        return a1

    def write(self, src: Path, dst: Path) -> Path:
        patch_workbook(src, dst, self.cells)
        return dst


def edit_inputs(src: Path, dst: Path, rng: random.Random) -> Edits:
    """Type new values into a filled workbook's inputs, as a team does during a week."""
    wb = load(src)
    e = Edits(wb)
    L = e.L
    goals = [g for g in wb.frame("targets")["id"].tolist() if isinstance(g, str) and g]
    trk = wb.frame("tracking")
    filled = sorted(filled_rows(wb, "tracking"))
    for r in rng.sample(filled, min(len(filled), 12)):
        choice = rng.random()
        if choice < 0.15:
            e.put("tracking", "actual", r, None)                 # an actual deleted again
        elif choice < 0.3:
            e.put("tracking", "planned", r, rng.randint(1, 500))
        else:
            planned = trk.at[r, "planned"]
            base = planned if is_number(planned) and planned > 0 else 100
            e.put("tracking", "actual", r, round(base * rng.uniform(0.3, 1.6), rng.choice([0, 2])))
    last = L.sheet("tracking").last
    weeks = wb.calc.inputs.calendar["week"].tolist()
    owners = [n for n in wb.frame("team")["name"].tolist() if isinstance(n, str) and n]
    new_rows = [max(filled, default=1) + 1, max(filled, default=1) + 2, last + 2]   # next rows, and below the formatted range
    for r in new_rows:
        if not goals or not owners:
            break
        e.put("tracking", "week", r, int(rng.choice(weeks)))
        e.put("tracking", "goal", r, rng.choice(goals))
        e.put("tracking", "task", r, "新增" if wb.lang == "zh" else "Added")
        e.put("tracking", "owner", r, rng.choice(owners))
        e.put("tracking", "planned", r, rng.randint(10, 1000))
        e.put("tracking", "actual", r, rng.randint(5, 1200))
    tgt_rows = sorted(filled_rows(wb, "targets"))
    for r in rng.sample(tgt_rows, min(len(tgt_rows), 3)):
        target = wb.frame("targets").at[r, "target"]
        e.put("targets", "target", r, round((target if is_number(target) and target > 0 else 1000) * rng.uniform(0.7, 1.3)))
    ev_rows = sorted(filled_rows(wb, "evaluation"))
    for r in rng.sample(ev_rows, min(len(ev_rows), 4)):
        e.put("evaluation", rng.choice(["manager_score", "peer_score", "customer_score"]), r, rng.randint(40, 100))
    team_rows = sorted(filled_rows(wb, "team"))
    for r in rng.sample(team_rows, min(len(team_rows), 2)):
        e.put("team", "bonus_base", r, rng.choice([8000, 12000, 15500.5, 30000]))
    e.setting("warn", rng.choice([0.75, 0.85, 0.9]))
    e.setting("coach_line", rng.choice([55, 65, 70]))
    e.write(src, dst)
    return e


# --------------------------------------------------------------------------- the referee job


def referee_run(seed: int, work_dir: str) -> dict:
    """Random quarter `seed` -> typed edits -> recalc -> LibreOffice recalculates it from scratch."""
    import pandas as pd

    from mktsheets.generate import new_workbook
    from mktsheets.recalc import recalc
    from mktsheets.referee import compare
    from random_quarter import random_quarter

    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    quarter = random_quarter(random.Random(seed))
    made = work / f"quarter-{seed}.xlsx"
    written = new_workbook(made, **quarter)
    edited = work / f"edited-{seed}.xlsx"
    edit_inputs(made, edited, random.Random(seed + 1000))
    result = recalc(edited, backup=False)
    n_cells, mismatches = compare(edited, work / "libreoffice")
    changed = 0          # computed values the edits changed: proof that recalc had work to do
    for key, out in result.workbook.calc.out.items():
        before = written.calc.out.get(key)
        if not isinstance(out, pd.DataFrame) or not isinstance(before, pd.DataFrame):
            continue
        common = out.index.intersection(before.index)
        for col in out.columns.intersection(before.columns):
            a, b = out.loc[common, col], before.loc[common, col]
            changed += int(sum(not _same(x, y) for x, y in zip(a.tolist(), b.tolist())))
    return {"path": str(edited), "cells": n_cells, "changed": changed,
            "mismatches": [str(m) for m in mismatches],
            "about": f"{quarter['period']} {quarter['lang']}, {len(quarter['data']['tracking'])} tracking rows"}


def _same(a, b) -> bool:
    if is_number(a) and is_number(b):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-9)
    blank = lambda v: v is None or v == "" or (isinstance(v, float) and math.isnan(v))  # noqa: E731
    return (blank(a) and blank(b)) or a == b


# --------------------------------------------------------------------------- what users add to a workbook


def tiny_png() -> bytes:
    """A valid 2x2 RGB PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\0" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def vba_project() -> bytes:
    """Bytes standing in for xl/vbaProject.bin: an OLE2 compound file (recalc must copy it untouched)."""
    from test_safety import compound_file

    return compound_file("VBA", b"Attribute VB_Name = \"Module1\"\r\nSub Hello()\r\nEnd Sub\r\n")


CELLIMAGES = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
              b'<etc:cellImages xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing" '
              b'xmlns:etc="http://www.wps.cn/officeDocument/2017/etCustomData">'
              b'<etc:cellImage><xdr:pic><xdr:nvPicPr><xdr:cNvPr id="2" name="ID_WPS1" descr="wps"/>'
              b'<xdr:cNvPicPr/></xdr:nvPicPr></xdr:pic></etc:cellImage></etc:cellImages>')
CELLIMAGES_TYPE = "application/vnd.wps-officedocument.cellimage+xml"
CELLIMAGES_REL = "http://www.wps.cn/officeDocument/2020/cellImage"


@dataclass
class Extras:
    """Where add_extras put things (sheet names, cells)."""

    tracking: str
    targets: str
    comment_input: str
    comment_computed: str
    sparkline_cell: str


@contextmanager
def extras_on_close(monkeypatch, lang: str = "zh"):
    """While active, every XlsxWriter workbook gets the user's extras just before it is saved."""
    from mktsheets.schema import load_template

    t = load_template()
    names = {s.key: s.name(lang) for s in t.sheets}
    info = Extras(names["tracking"], names["targets"], "C3", "", "")
    real_close = xlsxwriter.Workbook.close
    real_init = xlsxwriter.Workbook.__init__
    files: list[Path] = []

    def init(self, filename=None, options=None):
        # the extras go in at close(), onto rows written long before: `new` must not stream them out
        real_init(self, filename, {**(options or {}), "constant_memory": False})

    def close(self):
        if getattr(self, "_test_extras", False):
            return real_close(self)
        self._test_extras = True
        trk = self.get_worksheet_by_name(names["tracking"])
        tgt = self.get_worksheet_by_name(names["targets"])
        tcols = [c.key for c in t.sheet("tracking").columns]
        completion = col_letter(tcols.index("completion"))
        info.comment_input = f"{col_letter(tcols.index('task'))}3"
        info.comment_computed = f"{completion}4"
        trk.write_comment(info.comment_input, "这一行的任务是临时加的（张三）", {"author": "张三"})
        trk.write_comment(info.comment_computed, "Why so low?", {"author": "Lead", "visible": True})
        png = Path(self.filename).with_suffix(".png")
        png.write_bytes(tiny_png())
        files.append(png)
        far = col_letter(80)
        trk.insert_image(f"{far}2", str(png), {"x_scale": 10, "y_scale": 10})
        planned, actual = col_letter(tcols.index("planned")), col_letter(tcols.index("actual"))
        info.sparkline_cell = f"{col_letter(79)}2"
        for r in range(2, 6):
            trk.add_sparkline(f"{col_letter(79)}{r}", {"range": f"'{names['tracking']}'!{planned}{r}:{actual}{r}"})
        gcols = [c.key for c in t.sheet("targets").columns]
        chart = self.add_chart({"type": "column"})
        chart.add_series({"name": "target", "values": f"='{names['targets']}'!${col_letter(gcols.index('target'))}$2:"
                                                      f"${col_letter(gcols.index('target'))}$8"})
        chart.add_series({"name": "actual", "values": f"='{names['targets']}'!${col_letter(gcols.index('actual'))}$2:"
                                                      f"${col_letter(gcols.index('actual'))}$8"})
        tgt.insert_chart(f"{col_letter(70)}2", chart)
        notes = self.add_worksheet(NOTES_SHEET)
        notes.write_row(0, 0, ["日期", "事项", "金额", "备注"])
        notes.write_row(1, 0, ["2024-07-05", "和财务对了奖金口径", 12000.5, "=不是公式"])
        notes.write_row(2, 0, ["2024-07-12", "周会", -3, "+也不是"])
        notes.write_formula(3, 2, "=SUM(C2:C3)", None, 11997.5)
        notes.write_comment("B2", "笔记里的批注")
        notes.set_column(0, 1, 24)
        if str(self.filename).endswith(".xlsm"):
            vba = Path(self.filename).with_suffix(".bin")
            vba.write_bytes(vba_project())
            self.add_vba_project(str(vba))
            files.append(vba)
        return real_close(self)

    monkeypatch.setattr(xlsxwriter.Workbook, "close", close)
    monkeypatch.setattr(xlsxwriter.Workbook, "__init__", init)
    try:
        yield info
    finally:
        monkeypatch.setattr(xlsxwriter.Workbook, "close", real_close)
        monkeypatch.setattr(xlsxwriter.Workbook, "__init__", real_init)
        for f in files:
            f.unlink(missing_ok=True)


def add_unknown_part(src: Path, dst: Path) -> Path:
    """Copy src with WPS's in-cell image part added (content type and workbook relationship too)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", f'<Override PartName="/xl/cellimages.xml" '
                                                 f'ContentType="{CELLIMAGES_TYPE}"/></Types>'.encode())
            elif info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", f'<Relationship Id="rIdWps1" Type="{CELLIMAGES_REL}" '
                                                         f'Target="cellimages.xml"/></Relationships>'.encode())
            zout.writestr(info, data)
        zout.writestr("xl/cellimages.xml", CELLIMAGES)
    return dst


# --------------------------------------------------------------------------- zip members


def raw_members(path: Path) -> dict[str, tuple[int, int, bytes]]:
    """name -> (crc, compress type, the compressed bytes exactly as stored in the file)."""
    out = {}
    with open(path, "rb") as f, zipfile.ZipFile(path) as z:
        for info in z.infolist():
            f.seek(info.header_offset)
            header = f.read(30)
            assert header[:4] == b"PK\x03\x04", info.filename
            name_len, extra_len = struct.unpack("<HH", header[26:30])
            f.seek(info.header_offset + 30 + name_len + extra_len)
            out[info.filename] = (info.CRC, info.compress_type, f.read(info.compress_size))
    return out


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


# --------------------------------------------------------------------------- the command line


@dataclass
class Run:
    code: int
    out: str
    err: str
    seconds: float


def run_cli(*args: str, timeout: float = 120, cwd: Path | None = None) -> Run:
    """`python -m mktsheets ARGS` in a subprocess."""
    start = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "mktsheets", *map(str, args)], capture_output=True, text=True,
                       encoding="utf-8", errors="replace", timeout=timeout, cwd=cwd)
    return Run(p.returncode, p.stdout, p.stderr, time.monotonic() - start)
