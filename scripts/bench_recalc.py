#!/usr/bin/env python
"""Benchmark `mktsheets recalc` (and `new`) on large filled quarters (issue 6).

    python scripts/bench_recalc.py --sizes 1000,10000 --runs 3 --out bench.md
    python scripts/bench_recalc.py --profile 10000 --out scripts/bench-profile-10k.txt
    ... --commit HEAD    measures the library as committed, not the shared working tree's files

For each size it builds a filled quarter of about N tracking rows through the library
(`mktsheets.generate.new_workbook`), then measures, each in a fresh process per run:

* `new` itself, and XlsxWriter writing the same cells in a plain loop (the baseline);
* `python -m mktsheets recalc FILE --no-backup` on a fresh copy (the whole process);
* openpyxl `load_workbook` + `save` of the same file (what a scripting user would do);
* LibreOffice's headless recalculation (`mktsheets.libreoffice.recalculate`).

Wall time is the median of --runs; peak RSS is the largest over the runs, read from the
child's own rusage (os.wait4), which also covers its waited-for children (soffice.bin).
CPU time (user + sys) is reported too: the machine is shared, and CPU time moves less
with other people's load than wall time does.

--profile N runs one recalc of an N-row quarter twice, sampling the process's RSS with
the running stack: once plain (phase times and memory as they are), once under cProfile
(the top functions and their callers).

Only the standard library is imported at the top: the children import what they measure.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SRC = REPO                   # where the children import mktsheets from (--commit: an export of that commit)
PERIOD = "2024Q3"
WEEKS = 13                   # tracking rows per goal: weeks 1..13 of 2024Q3
PEOPLE_PER_ROWS = 50         # a team of N/50 people for N tracking rows
GROUP_SIZE = 10              # people per group (3 group goals each)
DEPT_SIZE = 100              # people per department (5 department goals each)
DEFAULT_SIZES = "1000,10000,100000"
MiB = 1 << 20
TIMED_OUT = 124              # a child's exit code for "ran out of time" (as timeout(1) says it)


# ----------------------------------------------------------------- the quarter

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ("伟", "芳", "娜", "敏", "静", "磊", "洋", "婷", "强", "军", "杰", "涛", "明", "超", "霞", "晨", "浩", "宇", "欣", "涵")
# individual goal kinds: (type label, unit, direction, aggregation, target range)
KINDS = (
    ("销售额", "元", "越高越好", "累计", (200_000, 2_000_000)),
    ("新客户", "人", "越高越好", "累计", (50, 800)),
    ("品牌曝光", "次", "越高越好", "累计", (100_000, 1_500_000)),
    ("复购率", "%", "越高越好", "最新", (0.15, 0.35)),
    ("其他", "元", "越低越好", "平均", (30, 80)),          # e.g. cost per lead
)


def quarter_shape(rows: int) -> tuple[int, int]:
    """People and goals of a quarter of about `rows` tracking rows (~3.85 goals a person)."""
    people = max(GROUP_SIZE, round(rows / PEOPLE_PER_ROWS))
    return people, len(_goal_plan(people))


def _person_name(i: int) -> str:
    """Unique, plausible names: surname + given name, numbered once the 400 pairs run out."""
    base = SURNAMES[i % 20] + GIVEN[(i // 20) % 20]
    return base if i < 400 else f"{base}{i // 400}"


def _goal_plan(people: int) -> list[tuple[str, str, str | None, int]]:
    """(goal id, level, parent id, owner index) of every goal, parents first.

    3 company goals; 5 goals per department of 100 people; 3 per group of 10; and 3 or 4
    (alternately) per person: 3.5 + 0.3 + 0.05 = 3.85 goals a person.
    """
    plan = [(f"C{k}", "公司", None, 0) for k in range(1, 4)]
    for d in range(0, people, DEPT_SIZE):
        for k in range(5):
            plan.append((f"D{d // DEPT_SIZE}-{k}", "部门", f"C{k % 3 + 1}", d))
    for g in range(0, people, GROUP_SIZE):
        for k in range(3):
            plan.append((f"G{g // GROUP_SIZE}-{k}", "小组", f"D{g // DEPT_SIZE}-{k}", g))
    for p in range(people):
        group = p // GROUP_SIZE * GROUP_SIZE
        for k in range(3 + p % 2):
            plan.append((f"P{p}-{k}", "个人", f"G{group // GROUP_SIZE}-{k % 3}", p))
    return plan


def quarter_data(rows: int, seed: int = 6) -> dict[str, list[dict]]:
    """Row dicts of every input sheet, keyed by the column keys of quarterly.toml."""
    rng = random.Random(seed)
    people = max(GROUP_SIZE, round(rows / PEOPLE_PER_ROWS))
    names = [_person_name(i) for i in range(people)]
    team = [_team_row(i, names, rng) for i in range(people)]
    plan = _goal_plan(people)
    weights = _weights([parent or level for _, level, parent, _ in plan])
    goals, tracking = [], []
    for (gid, level, parent, owner), weight in zip(plan, weights):
        kind = KINDS[rng.randrange(len(KINDS))] if level == "个人" else KINDS[0]
        goal = _goal_row(gid, level, parent, names[owner], kind, weight, rng)
        goals.append(goal)
        tracking.extend(_tracking_rows(goal, kind, rng))
    evaluation = []
    own = {}
    for g in goals:
        if g["level"] == "个人":
            own.setdefault(g["owner"], []).append(g)
    for name in names:
        evaluation.extend(_evaluation_rows(name, own.get(name, []), rng))
    review = [{"goal": g["id"], "highlights": "渠道拓展顺利", "problems": "中段流量下滑",
               "root_cause": "竞品大促", "plan": "预留机动预算", "owner": g["owner"]}
              for g in goals if g["level"] in ("公司", "部门")]
    return {"team": team, "targets": goals, "tracking": tracking, "evaluation": evaluation,
            "review": review}


def _weights(groups: list[str]) -> list[float]:
    """Goal weights that sum to 100% under each parent (and over each level's roots): no warnings."""
    size: dict[str, int] = {}
    for g in groups:
        size[g] = size.get(g, 0) + 1
    seen: dict[str, int] = {}
    out = []
    for g in groups:
        seen[g] = seen.get(g, 0) + 1
        share = round(1 / size[g], 6)
        out.append(share if seen[g] < size[g] else round(1 - share * (size[g] - 1), 6))
    return out


def _team_row(i: int, names: list[str], rng: random.Random) -> dict:
    group, dept = i // GROUP_SIZE * GROUP_SIZE, i // DEPT_SIZE * DEPT_SIZE
    manager = "" if i == 0 else names[group] if i != group else names[dept] if i != dept else names[0]
    return {"id": f"E{i:06d}", "name": names[i], "role": "运营" if i != group else "组长",
            "group": f"{i // GROUP_SIZE:04d}组", "manager": manager or None,
            "email": f"e{i:06d}@example.com", "bonus_base": rng.choice((8000, 10000, 12000, 15000, 20000))}


def _goal_row(gid: str, level: str, parent: str | None, owner: str, kind: tuple, weight: float,
              rng: random.Random) -> dict:
    typ, unit, direction, aggregation, (lo, hi) = kind
    target = rng.uniform(lo, hi)
    target = round(target, 4) if hi < 1 else round(target)
    return {"id": gid, "level": level, "parent": parent, "name": f"{owner} {typ}目标 {gid}", "type": typ,
            "smart": f"本季度{typ}达到 {target}{unit}", "owner": owner, "executor": owner,
            "start": dt.date(2024, 7, 1), "end": dt.date(2024, 9, 30), "unit": unit,
            "direction": direction, "aggregation": aggregation, "baseline": round(target * 0.9, 4),
            "target": target, "stretch": round(target * 1.1, 4), "weight": weight}


def _tracking_rows(goal: dict, kind: tuple, rng: random.Random) -> list[dict]:
    """13 filled weeks; nine in ten weeks off by 20% or more have a reason and an action (as teams do)."""
    per_week = goal["target"] / WEEKS if goal["aggregation"] == "累计" else goal["target"]
    out = []
    for week in range(1, WEEKS + 1):
        planned = round(per_week, 4)
        actual = round(planned * rng.uniform(0.7, 1.3), 4)
        row = {"week": week, "goal": goal["id"], "task": f"{kind[0]}推进", "owner": goal["owner"],
               "planned": planned, "actual": actual}
        if not 0.8 * planned <= actual < 1.2 * planned and rng.random() < 0.9:
            row.update(reason="流量被竞品分流", action="追加投放预算")
        out.append(row)
    return out


def _evaluation_rows(name: str, goals: list[dict], rng: random.Random) -> list[dict]:
    """4 quantitative rows (linked to the person's goals; a typed one if only 3) + 2 qualitative."""
    rows = []
    for k in range(4):
        row = {"period": PERIOD, "name": name, "indicator": f"指标{k + 1}", "kind": "定量", "weight": 0.175}
        if k < len(goals):
            row["goal"] = goals[k]["id"]
        else:
            row.update(target=100, actual=round(rng.uniform(60, 130)))
        rows.append(row)
    for k, indicator in enumerate(("执行力", "团队协作")):
        rows.append({"period": PERIOD, "name": name, "indicator": indicator, "kind": "定性", "weight": 0.15,
                     "manager_score": rng.randint(55, 98), "peer_score": rng.randint(60, 95),
                     "customer_score": rng.randint(60, 95) if k == 0 else None})
    return rows


# ----------------------------------------------------------------- measuring a child process

@dataclass
class Run:
    """One measured child process."""

    wall: float
    cpu: float | None             # user + sys of the child and its waited-for children
    rss: int | None               # peak resident set in bytes (None where unknown)
    ok: bool
    timed_out: bool = False
    inner: float | None = None    # a wall time the child measured itself (new, XlsxWriter) ...
    inner_cpu: float | None = None  # ... and the CPU time of the same stretch


def child_env() -> dict[str, str]:
    """Children import the library from SRC, whatever is installed."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC)] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def export_commit(rev: str, work: Path) -> Path:
    """Extract the library as committed at rev into work/src-<hash>; return that folder.

    The working tree is shared: others' uncommitted edits (even half-saved files) would
    otherwise be what gets measured.
    """
    import io
    import tarfile
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", rev], capture_output=True,
                            text=True, check=True).stdout.strip()
    dest = work / f"src-{commit}"
    tar = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", commit, "mktsheets",
                          "workbook_templates"], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        tf.extractall(dest, filter="data")
    # the wheel ships the templates as mktsheets.workbook_templates: mirror that in the export
    shutil.copytree(dest / "workbook_templates", dest / "mktsheets" / "workbook_templates")
    return dest


def _maxrss_bytes(ru_maxrss: int) -> int:
    # Linux reports KiB, macOS bytes.
    return ru_maxrss if sys.platform == "darwin" else ru_maxrss * 1024


def run_child(cmd: list[str], timeout: float, log: Path, result_file: Path | None = None) -> Run:
    """Run cmd in a session of its own; wall, CPU and peak RSS; killed (whole group) after timeout."""
    if result_file is not None and result_file.exists():
        result_file.unlink()
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(cmd)}\n".encode())
        out.flush()
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=SRC, env=child_env(), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=(os.name == "posix"))
        if hasattr(os, "wait4"):
            wall, cpu, rss, code, timed_out = _wait4(proc, timeout, start)
        else:   # Windows: no rusage of a child; time only
            try:
                code, timed_out = proc.wait(timeout=timeout), False
            except subprocess.TimeoutExpired:
                proc.kill()
                code, timed_out = proc.wait(), True
            wall, cpu, rss = time.perf_counter() - start, None, None
    inner = inner_cpu = None
    if result_file is not None and result_file.exists():
        measured = json.loads(result_file.read_text())
        inner, inner_cpu = measured["seconds"], measured["cpu"]
    timed_out = timed_out or code == TIMED_OUT
    return Run(wall, cpu, rss, code == 0 and not timed_out, timed_out, inner, inner_cpu)


def _wait4(proc: subprocess.Popen, timeout: float, start: float):
    """Wait with os.wait4 so the rusage is this child's (and its descendants') alone."""
    fired = threading.Event()

    def kill() -> None:
        fired.set()
        try:
            os.killpg(proc.pid, 9)    # soffice.bin and friends die with the launcher
        except ProcessLookupError:
            pass

    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)   # tell Popen the child is reaped
    if os.name == "posix":   # anything the child left behind in its session (LibreOffice helpers)
        try:
            os.killpg(proc.pid, 9)
        except (ProcessLookupError, PermissionError):
            pass
    return wall, usage.ru_utime + usage.ru_stime, _maxrss_bytes(usage.ru_maxrss), proc.returncode, fired.is_set()


def me(*args: str) -> list[str]:
    """This script run as a child in one of its --child modes."""
    return [sys.executable, str(Path(__file__).resolve()), "--child", *args]


# ----------------------------------------------------------------- the child modes

def child_new(rows: str, path: str, result: str) -> None:
    """Build the quarter's rows (not timed), then time new_workbook."""
    from mktsheets.generate import new_workbook
    data = quarter_data(int(rows))
    start = _clocks()
    new_workbook(path, period=PERIOD, data=data)
    _report(result, start)


def child_dump(src: str, dump: str) -> None:
    """The cells of a workbook for the XlsxWriter baseline: values by calamine, formulas by openpyxl."""
    import pickle
    import openpyxl
    from python_calamine import CalamineWorkbook

    cal = CalamineWorkbook.from_path(src)
    wb = openpyxl.load_workbook(src, read_only=True)
    sheets = []
    for name in cal.sheet_names:
        values = cal.get_sheet_by_name(name).to_python(skip_empty_area=False)
        formulas = {}
        for row in wb[name].iter_rows():
            for c in row:
                if isinstance(c.value, str) and c.value.startswith("=") and c.data_type == "f":
                    formulas[(c.row - 1, c.column - 1)] = c.value
        cells = []
        for r, row in enumerate(values):
            for c, v in enumerate(row):
                f = formulas.pop((r, c), None)
                if f is not None or v != "":
                    cells.append((r, c, _plain(v), f))
        cells.extend((r, c, "", f) for (r, c), f in formulas.items())   # formulas beyond calamine's range
        sheets.append((name, cells))
    wb.close()
    with open(dump, "wb") as fh:
        pickle.dump(sheets, fh, protocol=pickle.HIGHEST_PROTOCOL)


def _plain(v):
    """Dates and times as Excel serial numbers: the baseline writes numbers, strings and formulas."""
    if isinstance(v, dt.datetime):
        return (v - dt.datetime(1899, 12, 30)).total_seconds() / 86400
    if isinstance(v, dt.date):
        return float((v - dt.date(1899, 12, 30)).days)
    if isinstance(v, dt.time):
        return (v.hour * 3600 + v.minute * 60 + v.second) / 86400
    return v


def child_xlsxwriter(dump: str, path: str, result: str, fast: str) -> None:
    """XlsxWriter writing the same cells in a plain loop (the cells are loaded before the clock starts).

    fast=1 skips XlsxWriter's ~30 regular expressions per formula, as mktsheets' own writer does.
    """
    import pickle
    import xlsxwriter
    import xlsxwriter.worksheet

    class NoRegex(xlsxwriter.worksheet.Worksheet):
        def _prepare_formula(self, formula, expand_future_functions=False):
            return formula[1:] if formula.startswith("=") else formula

    with open(dump, "rb") as fh:
        sheets = pickle.load(fh)
    start = _clocks()
    wb = xlsxwriter.Workbook(path)
    kw = {"worksheet_class": NoRegex} if fast == "1" else {}
    for name, cells in sheets:
        ws = wb.add_worksheet(name, **kw)
        for r, c, v, f in cells:
            if f is not None:
                ws.write_formula(r, c, f, None, v)
            elif isinstance(v, bool):
                ws.write_boolean(r, c, v)
            elif isinstance(v, (int, float)):
                ws.write_number(r, c, v)
            else:
                ws.write_string(r, c, str(v))
    wb.close()
    _report(result, start)


def child_openpyxl(src: str, dst: str) -> None:
    import openpyxl
    openpyxl.load_workbook(src).save(dst)


def child_libreoffice(src: str, out_dir: str, timeout: str) -> None:
    """LibreOffice's recalculation; its own timeout (it kills soffice itself) exits as a timeout."""
    from mktsheets.libreoffice import LibreOfficeError, recalculate
    start = time.perf_counter()
    try:
        recalculate(Path(src), Path(out_dir), timeout=float(timeout))
    except LibreOfficeError:
        if time.perf_counter() - start >= float(timeout):
            sys.exit(TIMED_OUT)
        raise


def _clocks() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _report(result: str, start: tuple[float, float]) -> None:
    """The child's own wall and CPU time since start, for the parent to read."""
    wall, cpu = (now - then for now, then in zip(_clocks(), start))
    Path(result).write_text(json.dumps({"seconds": wall, "cpu": cpu}))


# ----------------------------------------------------------------- one size

@dataclass
class SizeResult:
    rows: int
    people: int
    goals: int
    file_bytes: int = 0
    runs: dict[str, list[Run]] = field(default_factory=dict)
    load: tuple[float, float] = (0.0, 0.0)     # 1-min load average before and after


def measure_size(target_rows: int, args, work: Path, log: Path) -> SizeResult:
    people, goals = quarter_shape(target_rows)
    res = SizeResult(goals * WEEKS, people, goals)
    d = work / f"q{target_rows}"
    d.mkdir(parents=True, exist_ok=True)
    quarter, result = d / "quarter.xlsx", d / "result.json"
    res.load = (_load(), 0.0)
    runs = args.large_runs if args.large_runs and target_rows >= 100_000 else args.runs
    say(f"[{target_rows}] quarter of {res.rows:,} tracking rows, {people:,} people, {goals:,} goals")

    tools = args.huge_list if target_rows >= HUGE else args.tool_list

    def many(tool: str, make_cmd, before=None, result_file=None) -> None:
        """--runs runs of one tool; stop after a failure or a timeout (it would only repeat)."""
        if tool not in tools and tool != "new":     # new makes the file: always run
            return
        res.runs[tool] = []
        for i in range(runs):
            if before:
                before(i)
            limit = args.new_timeout if tool == "new" and i == 0 else args.timeout   # the first new makes the file
            run = run_child(make_cmd(i), limit, log, result_file)
            res.runs[tool].append(run)
            say(f"  {tool:<16} run {i + 1}: {_fmt_run(run)}")
            if not run.ok:
                break

    many("new", lambda i: me("new", str(target_rows), str(quarter if i == 0 else d / "new.xlsx"), str(result)),
         result_file=result)
    if not quarter.exists():
        say(f"  `new` did not write {quarter}: see {log}")
        return res
    res.file_bytes = quarter.stat().st_size
    if {"xlsxwriter", "xlsxwriter-fast"} & set(tools):
        run_child(me("dump", str(quarter), str(d / "cells.pickle")), args.timeout, log)
    for tool, fast in (("xlsxwriter", "0"), ("xlsxwriter-fast", "1")):
        many(tool, lambda i, fast=fast: me("xlsxwriter", str(d / "cells.pickle"), str(d / "xw.xlsx"),
                                           str(result), fast), result_file=result)
    copy = d / "recalc.xlsx"
    many("recalc", lambda i: [sys.executable, "-m", "mktsheets", "recalc", str(copy), "--no-backup"],
         before=lambda i: shutil.copyfile(quarter, copy))
    many("openpyxl", lambda i: me("openpyxl", str(quarter), str(d / "openpyxl.xlsx")))
    from_lo = d / "lo"
    if _soffice():
        # LibreOffice gets its own deadline just under ours, so it cleans up its profile itself.
        lo_timeout = str(args.timeout - min(5.0, args.timeout / 10))
        many("libreoffice", lambda i: me("libreoffice", str(quarter), str(from_lo), lo_timeout))
    res.load = (res.load[0], _load())
    for p in (d / "cells.pickle", d / "xw.xlsx", d / "new.xlsx", d / "openpyxl.xlsx"):
        p.unlink(missing_ok=True)
    shutil.rmtree(from_lo, ignore_errors=True)
    return res


def _fmt_run(run: Run) -> str:
    if run.timed_out:
        return "timed out"
    rss = f"{run.rss / MiB:.0f} MiB" if run.rss else "RSS n/a"
    inner = f", in-process {run.inner:.2f} s (CPU {run.inner_cpu:.2f} s)" if run.inner is not None else ""
    return f"{run.wall:.2f} s wall{inner}, {rss}" + ("" if run.ok else " FAILED")


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return float("nan")


def _soffice() -> str | None:
    if str(SRC) not in sys.path:
        sys.path.insert(0, str(SRC))
    from mktsheets.libreoffice import find_soffice   # stdlib only: safe to import here
    return find_soffice()


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# ----------------------------------------------------------------- the report

def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summary(runs: list[Run], timeout: float) -> dict:
    """Median wall/CPU/in-process time and the largest peak RSS; 'timeout'/'failed' when so."""
    if not runs:
        return {"state": "n/a"}
    if any(r.timed_out for r in runs):
        return {"state": f"> {timeout:g} s"}
    if not all(r.ok for r in runs):
        return {"state": "failed"}
    rss = [r.rss for r in runs if r.rss]
    return {"state": "ok", "wall": median(r.wall for r in runs), "cpu": median(r.cpu for r in runs),
            "inner": median(r.inner for r in runs), "inner_cpu": median(r.inner_cpu for r in runs),
            "rss": max(rss) if rss else None}


# A summary's (wall, CPU) keys: whole-process times, or the times the child measured itself.
WHOLE, INNER = ("wall", "cpu"), ("inner", "inner_cpu")


def _t(s: dict, keys=WHOLE) -> str:
    """'3.60 s (1.44 s)': wall time with CPU time in brackets; or why there is none."""
    if s["state"] != "ok":
        return s["state"]
    wall, cpu = [s.get(k) for k in keys]
    return f"{wall:.2f} s" + (f" ({cpu:.2f} s)" if cpu is not None else "")


def _m(s: dict) -> str:
    return f"{s['rss'] / MiB:.0f} MiB" if s["state"] == "ok" and s.get("rss") else "n/a"


def _ratio(a: dict, b: dict, keys_a=WHOLE, keys_b=WHOLE) -> str:
    """'0.95× (0.60×)': a over b by wall time and (in brackets) by CPU time."""
    if a["state"] != "ok":
        return "n/a"
    if b["state"].startswith(">"):          # b timed out: a is less than a / timeout
        return f"< {a[keys_a[0]] / float(b['state'][2:-2]):.2f}×"
    if b["state"] != "ok":
        return "n/a"
    (wa, ca), (wb, cb) = [[s.get(k) for k in keys] for s, keys in ((a, keys_a), (b, keys_b))]
    return f"{wa / wb:.2f}×" + (f" ({ca / cb:.2f}×)" if ca and cb else "")


def machine() -> list[str]:
    """Cores, memory, CPU, OS, Python, the versions of what is measured, the date."""
    from importlib import metadata
    mem = "n/a"
    cpu = platform.processor() or platform.machine()
    try:
        info = Path("/proc/meminfo").read_text()
        mem = f"{int(info.split('MemTotal:')[1].split()[0]) / (1 << 20):.1f} GiB"
        cpu = next(l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                   if l.startswith("model name"))
    except (OSError, IndexError, StopIteration):
        pass
    versions = []
    for pkg in ("openpyxl", "XlsxWriter", "pandas", "numpy", "python-calamine"):
        try:
            versions.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{pkg} (not installed)")
    lo = "not installed"
    soffice = _soffice()
    if soffice:
        try:
            lo = subprocess.run([soffice, "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            lo = "installed (version unknown)"
    if SRC != REPO:
        source = f"mktsheets as committed at {SRC.name[4:]} (--commit)"
    else:
        commit = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True,
                                text=True).stdout.strip() or "unknown"
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "mktsheets",
                                "workbook_templates"], capture_output=True, text=True).stdout.split("\n")
        dirty = [line[3:] for line in dirty if line.strip()]
        source = f"mktsheets working tree at {commit}" + (f" (uncommitted: {', '.join(dirty)})" if dirty else "")
    return [
        f"- Machine: {os.cpu_count()} cores ({cpu}), {mem} memory, {platform.platform()}",
        f"- Python {platform.python_version()}; {source}; {', '.join(versions)}; {lo}",
        f"- Date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
    ]


def report(results: list[SizeResult], args, header: list[str]) -> str:
    T = args.timeout
    lines = ["# mktsheets recalc benchmark", "", *header,
             f"- Median of {args.runs} runs" + (f" ({args.large_runs} from 100k rows on)" if args.large_runs else "")
             + ", each in a fresh process. Times read `wall (CPU)`: CPU is user + "
             "system time of the process and its children, less sensitive than wall time to other work on a "
             "shared machine (see the load average). Peak RSS is the largest of the runs (the process and its "
             "waited-for children, from rusage).",
             "- recalc, openpyxl and LibreOffice are timed as whole processes (interpreter start and imports "
             "included); `new` and the XlsxWriter baseline inside their process (building the rows and loading "
             "the cells excluded).",
             f"- Timeout per run: {T:g} s. Produced by `python scripts/bench_recalc.py "
             f"{' '.join(args.argv)}`.", "",
             "## recalc against what users would use instead", "",
             "| tracking rows | people / goals | file | recalc | recalc peak RSS | recalc ms / 1k rows "
             "| openpyxl load+save | openpyxl peak RSS | recalc ÷ openpyxl | LibreOffice recalc "
             "| LibreOffice peak RSS | recalc ÷ LibreOffice | load avg (1 min) |",
             "|" + "---:|" * 13]
    for r in results:
        rc, op, lo = (summary(r.runs.get(k, []), T) for k in ("recalc", "openpyxl", "libreoffice"))
        per_k = f"{rc['wall'] * 1e6 / r.rows:.0f}" if rc["state"] == "ok" else "n/a"
        lines.append(f"| {r.rows:,} | {r.people:,} / {r.goals:,} | {r.file_bytes / MiB:.1f} MiB | {_t(rc)} "
                     f"| {_m(rc)} | {per_k} | {_t(op)} | {_m(op)} | {_ratio(rc, op)} | {_t(lo)} | {_m(lo)} "
                     f"| {_ratio(rc, lo)} | {r.load[0]:.1f} → {r.load[1]:.1f} |")
    lines += ["", "## new against XlsxWriter writing the same cells", "",
              "| tracking rows | new | new peak RSS | XlsxWriter loop | XlsxWriter peak RSS | new ÷ XlsxWriter "
              "| XlsxWriter loop, no formula regexes | new ÷ that |",
              "|" + "---:|" * 8]
    for r in results:
        nw, xw, xf = (summary(r.runs.get(k, []), T) for k in ("new", "xlsxwriter", "xlsxwriter-fast"))
        lines.append(f"| {r.rows:,} | {_t(nw, INNER)} | {_m(nw)} | {_t(xw, INNER)} | {_m(xw)} "
                     f"| {_ratio(nw, xw, INNER, INNER)} | {_t(xf, INNER)} | {_ratio(nw, xf, INNER, INNER)} |")
    lines += ["", "The XlsxWriter loop writes the same values and formula strings (values read back with "
              "python-calamine, formulas with openpyxl read-only) with write_number/write_string/write_formula, "
              "without formats, validations or charts; its peak RSS includes the cell list it loads first. "
              "`new`'s peak RSS includes building the row dicts. `new` skips XlsxWriter's ~30 regular "
              "expressions per formula (mktsheets.generate._Sheet); the last two columns compare like with like.",
              "", "## Growth", ""]
    lines += growth(results, T) + ["", "## Issue 6 targets", ""] + targets(results, T)
    return "\n".join(lines) + "\n"


def growth(results: list[SizeResult], T: float) -> list[str]:
    """How recalc's time and memory grow from one size to the next (linear = the rows' ratio)."""
    out = []
    for a, b in zip(results, results[1:]):
        sa, sb = summary(a.runs.get("recalc", []), T), summary(b.runs.get("recalc", []), T)
        if sa["state"] == sb["state"] == "ok":
            out.append(f"- recalc {a.rows:,} → {b.rows:,} rows (×{b.rows / a.rows:.1f}): wall ×{sb['wall'] / sa['wall']:.1f}, "
                       f"CPU ×{sb['cpu'] / sa['cpu']:.1f}, peak RSS ×{sb['rss'] / sa['rss']:.1f}")
    return out or ["- (needs two sizes)"]


def targets(results: list[SizeResult], T: float) -> list[str]:
    """Issue 6's figures, judged by wall time on the 100k quarter (and on 1M where it was run)."""
    big = [r for r in results if r.rows >= 100_000]
    if not big:
        return ["- Not judged: the figures are for the 100k-row quarter, which this run did not include."]

    def check(what: str, value: float, limit: float, shown: str) -> str:
        return f"  - {what}: {shown} — {'met' if value <= limit else 'NOT met'}"

    out = []
    for r in big:
        rc, op, lo, nw, xw = (summary(r.runs.get(k, []), T)
                              for k in ("recalc", "openpyxl", "libreoffice", "new", "xlsxwriter"))
        out.append(f"- {r.rows:,} rows:" + ("" if rc["state"] == "ok" else f" recalc {rc['state']}"))
        if rc["state"] != "ok":
            continue
        if op["state"] == "ok":
            out.append(check("recalc ≤ 0.2× openpyxl load+save", rc["wall"] / op["wall"], 0.2, _ratio(rc, op)))
        if lo["state"] == "ok" or lo["state"].startswith(">"):
            lo_wall = lo.get("wall") or T            # a timed-out LibreOffice took at least T
            out.append(check("recalc ≤ 0.5× LibreOffice", rc["wall"] / lo_wall, 0.5, _ratio(rc, lo)))
        limit = 256 if r.rows < 1_000_000 else 1024
        if rc.get("rss"):
            out.append(check(f"recalc peak RSS ≤ {limit} MiB", rc["rss"] / MiB, limit, _m(rc)))
        if nw["state"] == xw["state"] == "ok":
            out.append(check("new ≤ 1.5× XlsxWriter", nw["inner"] / xw["inner"], 1.5,
                             _ratio(nw, xw, INNER, INNER)))
    by_rows = {round(r.rows, -4): r for r in results}
    small, large = by_rows.get(10_000), by_rows.get(100_000)
    if small and large:
        sa, sb = (summary(x.runs.get("recalc", []), T) for x in (small, large))
        if sa["state"] == sb["state"] == "ok":
            out.append(check("linear: 10k → 100k rows within 12×", sb["wall"] / sa["wall"], 12,
                             f"×{sb['wall'] / sa['wall']:.1f}").strip())
    return out


# ----------------------------------------------------------------- profile mode

def child_profile(src: str, out: str, with_cprofile: str) -> None:
    """One `mktsheets recalc`, with the RSS sampled alongside the running stack; under cProfile if asked.

    cProfile slows Python-heavy code several times over (more where many small calls are made),
    so the phase times and RSS are also taken from a run without it.
    """
    import cProfile
    import io
    import pstats
    import runpy

    sampler = RssSampler(threading.main_thread().ident)
    sampler.start()
    prof = cProfile.Profile() if with_cprofile == "1" else None
    sys.argv = ["mktsheets", "recalc", src, "--no-backup"]
    start = time.perf_counter()
    if prof:
        prof.enable()
    try:
        runpy.run_module("mktsheets", run_name="__main__")
    except SystemExit as e:
        if e.code not in (0, None):
            raise
    finally:
        if prof:
            prof.disable()
        sampler.stop()
    wall = time.perf_counter() - start
    text = io.StringIO()
    if prof:
        text.write(f"######## Run 2: under cProfile ({wall:.1f} s wall with the profiler on; imports included)\n\n")
        for order in ("cumulative", "tottime"):
            text.write(f"==== top 30 by {order} ====\n")
            pstats.Stats(prof, stream=text).strip_dirs().sort_stats(order).print_stats(30)
        text.write(top_callers(pstats.Stats(prof).strip_dirs(), 15, 4))
    else:
        text.write(f"######## Run 1: without cProfile ({wall:.1f} s wall), RSS and phases\n")
    text.write(sampler.report() + "\n")
    Path(out).write_text(text.getvalue())


def top_callers(stats, functions: int, callers: int) -> str:
    """The main callers of the functions with the most own time.

    Builtins such as str.translate or a pandas accessor say little without who calls them;
    pstats' print_callers lists every caller, hundreds for isinstance.
    """
    name = lambda f: f"{f[0]}:{f[1]}({f[2]})" if f[0] != "~" else f[2]
    lines = [f"==== the {callers} biggest callers of the top {functions} by tottime "
             "(own time spent for that caller, calls) ===="]
    top = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:functions]
    for func, (_, calls, tottime, _, by) in top:
        lines.append(f"{tottime:8.3f} s {calls:>9} calls  {name(func)}")
        for caller, (_, n, tt, _) in sorted(by.items(), key=lambda kv: kv[1][2], reverse=True)[:callers]:
            lines.append(f"    {tt:8.3f} s {n:>9}  <- {name(caller)}")
    return "\n".join(lines) + "\n"


class RssSampler(threading.Thread):
    """Samples the process's RSS every 20 ms with the main thread's stack (Linux /proc; else nothing).

    cProfile tells where the time goes but not the memory; the RSS next to the running
    mktsheets functions shows which phase makes the process grow.
    """

    EVERY = 0.02
    PHASE_DEPTH = 3          # mktsheets frames below cli.recalc that name a phase

    def __init__(self, main_ident: int):
        super().__init__(daemon=True)
        self.main, self.samples, self.done = main_ident, [], threading.Event()
        self.t0 = time.perf_counter()

    def run(self) -> None:
        while not self.done.wait(self.EVERY):
            rss = _rss_now()
            frame = sys._current_frames().get(self.main)
            if rss is None or frame is None:
                continue
            stack = []
            while frame is not None:
                code = frame.f_code
                ours = Path(code.co_filename).parent.name == "mktsheets"
                stack.append((f"{Path(code.co_filename).name}:{code.co_name}", ours))
                frame = frame.f_back
            self.samples.append((time.perf_counter() - self.t0, rss, stack[::-1]))

    def stop(self) -> None:
        self.done.set()
        self.join()

    def phase(self, stack) -> tuple[str, ...]:
        """The mktsheets frames below the CLI command: ('recalc.py:recalc', 'api.py:load', ...)."""
        names = [name for name, _ in stack]
        if "__main__.py:<module>" in names:      # python -m mktsheets: what runs below it
            stack = stack[names.index("__main__.py:<module>") + 1:]
        ours = tuple(n for n, mine in stack
                     if mine and not n.endswith((":<module>", ":<lambda>"))
                     and n not in ("cli.py:invoke", "cli.py:recalc"))
        if not ours and any(name.endswith(":<module>") for name, _ in stack):
            return ("(imports)",)            # before the command runs; later lazy imports count to their phase
        return ours or ("(cli)",)

    def report(self) -> str:
        if not self.samples:
            return "\n==== memory ====\nRSS sampling needs Linux's /proc.\n"
        t_peak, rss_peak, stack_peak = max(self.samples, key=lambda s: s[1])
        lines = ["", "==== memory: RSS sampled every 20 ms with the running stack ====",
                 f"peak RSS {rss_peak / MiB:.0f} MiB at {t_peak:.2f} s, innermost frames:"]
        lines += [f"    {name}" for name, _ in stack_peak[-12:]]
        # phase (its first 2, and 3, mktsheets frames) -> [first t, last t, RSS first seen, max, last, blocks]
        phases: dict[tuple, list] = {}
        previous: tuple = ()
        for t, rss, stack in self.samples:
            full = self.phase(stack)
            if full == ("(imports)",) and previous not in ((), ("(imports)",)):
                full = ("(cli)",)            # a lazy import after the command started: not the start-up
            for key in dict.fromkeys((full[:2], full[:self.PHASE_DEPTH])):   # a phase, then within it
                p = phases.setdefault(key, [t, t, rss, rss, rss, 0])
                p[1], p[3], p[4] = t, max(p[3], rss), rss
                p[5] += previous[:len(key)] != key          # a new contiguous stretch of this phase
            previous = full[:self.PHASE_DEPTH]
        # Spans, not sample counts: the sampler waits for the GIL, so counts undercount busy phases.
        lines += ["", "phases in order, nested one level (time = first to last sample; RSS in MiB when the phase "
                      "was first seen, its largest, when last seen):",
                  f"  {'start s':>8} {'time s':>7} {'RSS first':>9} {'max':>6} {'last':>6}  phase"]
        for key, (t, t_last, first, most, last, blocks) in sorted(phases.items(), key=lambda kv: kv[1][0]):
            # a nested entry that keeps alternating with its siblings (small helpers called per cell)
            # has no span of its own: only phases that run in one or two stretches are listed
            if len(key) > 2 and blocks > 2:
                continue
            if key != ("(cli)",) and (t_last - t >= 0.2 or most - first >= 4 * MiB):
                indent = "    " * (len(key) - 2) if len(key) > 2 else ""
                label = " > ".join(key) if len(key) <= 2 else key[-1]
                lines.append(f"  {t:8.2f} {t_last - t:7.2f} {first / MiB:9.0f} {most / MiB:6.0f} "
                             f"{last / MiB:6.0f}  {indent}{label}")
        return "\n".join(lines) + "\n"


def _rss_now() -> int | None:
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def profile(rows: int, args, work: Path, log: Path) -> None:
    d = work / f"profile{rows}"
    d.mkdir(parents=True, exist_ok=True)
    quarter, copy = d / "quarter.xlsx", d / "recalc.xlsx"
    say(f"[profile] building a quarter of about {rows:,} tracking rows")
    run = run_child(me("new", str(rows), str(quarter), str(d / "result.json")), args.timeout, log)
    if not run.ok:
        sys.exit(f"new failed: see {log}")
    people, goals = quarter_shape(rows)
    parts = []
    for with_cprofile in ("0", "1"):
        say(f"[profile] recalc {'under cProfile' if with_cprofile == '1' else 'with the RSS sampler only'}")
        shutil.copyfile(quarter, copy)
        tmp = d / f"profile{with_cprofile}.txt"
        run = run_child(me("profile", str(copy), str(tmp), with_cprofile), args.timeout, log)
        if not run.ok:
            sys.exit(f"profiled recalc failed: see {log}")
        parts.append(tmp.read_text())
    head = (f"Profile of recalc on a quarter of {goals * WEEKS:,} tracking rows ({people:,} people, {goals:,} goals), "
            f"{quarter.stat().st_size / MiB:.1f} MiB; made by `python scripts/bench_recalc.py {' '.join(args.argv)}`.\n"
            + "\n".join(machine()) + f"\n- Load average (1 min) at the end: {_load():.1f}\n\n")
    Path(args.out).write_text(head + "\n".join(parts))
    say(f"[profile] written to {args.out}")


# ----------------------------------------------------------------- main

TOOLS = ("new", "xlsxwriter", "xlsxwriter-fast", "recalc", "openpyxl", "libreoffice")
HUGE = 500_000               # from this size on only --huge-tools run (the others need tens of GiB or hours)
HUGE_TOOLS = "recalc"
CHILDREN = {"new": child_new, "dump": child_dump, "xlsxwriter": child_xlsxwriter, "openpyxl": child_openpyxl,
            "libreoffice": child_libreoffice, "profile": child_profile}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default=DEFAULT_SIZES,
                   help=f"approximate tracking rows per quarter, comma-separated (default {DEFAULT_SIZES}; "
                        "1000000 only when asked)")
    p.add_argument("--runs", type=int, default=3, help="runs per tool and size; the median is reported (default 3)")
    p.add_argument("--large-runs", type=int, metavar="N",
                   help="runs for sizes of 100000 and more (default: --runs); they take minutes each")
    p.add_argument("--out", default="bench.md", help="Markdown file to write (default bench.md)")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per run before it is killed (default 1800)")
    p.add_argument("--tools", default=",".join(TOOLS),
                   help=f"what to measure, comma-separated (default all: {','.join(TOOLS)}); new always runs")
    p.add_argument("--new-timeout", type=float, default=3600,
                   help="seconds for the first `new` of each size, which makes the file (default 3600)")
    p.add_argument("--huge-tools", default=HUGE_TOOLS,
                   help=f"what to measure from {HUGE:,} rows on (default {HUGE_TOOLS}): openpyxl needs ~20 GiB "
                        "and LibreOffice hours there; new always runs")
    p.add_argument("--workdir", help="where to keep the generated files (default: a temporary folder, removed)")
    p.add_argument("--commit", metavar="REV",
                   help="measure mktsheets as committed at REV (e.g. HEAD), not the working tree's files")
    p.add_argument("--profile", type=int, metavar="ROWS",
                   help="instead of the benchmark: profile one recalc of a quarter of ROWS rows into --out")
    args = p.parse_args(argv)
    args.argv = argv
    try:
        args.size_list = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        p.error("--sizes takes whole numbers separated by commas, e.g. 1000,10000")
    args.tool_list = [t.strip() for t in args.tools.split(",") if t.strip()]
    args.huge_list = [t.strip() for t in args.huge_tools.split(",") if t.strip()]
    for option, chosen in (("--tools", args.tool_list), ("--huge-tools", args.huge_list)):
        if set(chosen) - set(TOOLS):
            p.error(f"{option}: unknown {', '.join(sorted(set(chosen) - set(TOOLS)))}; known: {', '.join(TOOLS)}")
    if args.runs < 1 or (args.large_runs or 1) < 1 or not args.size_list or min(args.size_list) < 1:
        p.error("--runs and every size must be at least 1")
    return args


def main(argv: list[str]) -> None:
    global SRC
    if argv[:1] == ["--child"]:
        CHILDREN[argv[1]](*argv[2:])
        return
    args = parse_args(argv)
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="mktsheets-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    log = work / "children.log"
    try:
        if args.commit:
            SRC = export_commit(args.commit, work)
        if args.profile:
            profile(args.profile, args, work, log)
            return
        header = machine()
        results = [measure_size(n, args, work, log) for n in args.size_list]
        text = report(results, args, header)
        Path(args.out).write_text(text, encoding="utf-8")
        print(text)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
