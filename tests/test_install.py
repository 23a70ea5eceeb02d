"""The real-user install (issue 2): a plain, non-editable `pip install .` into a fresh venv, then
`mktsheets new` run from another folder. This proves that workbook_templates/ ships inside the wheel
(an editable install or the source tree on sys.path would hide a missing package-data entry).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Build from a copy so the shared working tree gets no build/ or *.egg-info from this test.
JUNK = (".git", "*.egg-info", "build", "dist", "__pycache__", ".pytest_cache", ".hypothesis", ".benchmarks",
        ".venv", "tests", "artifacts", "demo-output", "*.xlsx")
SHEETS = ["说明", "参数", "团队", "目标", "跟踪", "评估", "激励", "复盘", "看板", "检查"]


def run(args: list, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONIOENCODING"] = "utf-8"
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, encoding="utf-8",
                          errors="replace", timeout=timeout, env=env)


@pytest.mark.slow
def test_pip_install_into_a_fresh_venv_then_new_from_another_folder(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(*JUNK))
    venv = tmp_path / "venv"
    made = run([sys.executable, "-m", "venv", venv], cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    exe = ".exe" if os.name == "nt" else ""
    python = bindir / f"python{exe}"

    pip = [python, "-m", "pip", "install", "--no-input", "--disable-pip-version-check", src]
    installed = run(pip, cwd=tmp_path)
    if installed.returncode != 0:   # offline build backends: build with the venv's own setuptools
        retry = run([*pip, "--no-build-isolation"], cwd=tmp_path)
        assert retry.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:] + retry.stderr[-3000:]
    assert "Successfully installed" in installed.stdout + (retry.stdout if installed.returncode else "")

    elsewhere = tmp_path / "somewhere else"
    elsewhere.mkdir()
    # the package and its templates come from the venv, not from the source tree
    where = run([python, "-c", "import mktsheets, mktsheets.schema as s; print(mktsheets.__file__); "
                 "print(s.template_dir()); print(s.load_template().name)"], cwd=elsewhere)
    assert where.returncode == 0, where.stderr
    module, templates, name = where.stdout.split("\n")[:3]
    assert Path(module).resolve().is_relative_to(venv.resolve()), module
    assert Path(templates).resolve().is_relative_to(venv.resolve()), templates
    assert (Path(templates) / "quarterly.toml").is_file()
    assert name == "mktsheets-quarterly"

    mktsheets = bindir / f"mktsheets{exe}"
    assert mktsheets.is_file(), "no console script"
    done = run([mktsheets, "new", "--period", "2024Q4", "-o", "out.xlsx"], cwd=elsewhere)
    assert done.returncode == 0, done.stdout + done.stderr
    out = elsewhere / "out.xlsx"
    assert out.is_file()

    import openpyxl

    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == SHEETS
    assert wb["参数"]["B2"].value == "2024Q4"
    props = {p.name: p.value for p in wb.custom_doc_props.props}
    assert props["mktsheets.template"] == "mktsheets-quarterly"
