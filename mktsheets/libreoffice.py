"""Run LibreOffice headless: the referee that recalculates our formulas, and the PDF/HTML converter."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["LibreOfficeError", "convert", "find_soffice", "recalculate"]

ENV_VAR = "MKTSHEETS_SOFFICE"

_XLSX_FILTER = "xlsx:Calc MS Excel 2007 XML"

# LibreOffice keeps the cached values of xlsx/ods files by default (and ignores
# XlsxWriter's fullCalcOnLoad), so a referee run without this would only echo our
# own caches back. 0 = "always recalculate" on load.
# Threaded calculation of formula groups is off: with it, LibreOffice 7.4 computed some
# cells from stale cached inputs on load (e.g. a score from a completion cached as blank
# gave 0 instead of blank), so the result depended on the caches it was meant to check.
_REGISTRY = """\
<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" \
xmlns:xs="http://www.w3.org/2001/XMLSchema" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">\
<prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">\
<prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Calculation">\
<prop oor:name="UseThreadedCalculationForFormulaGroups" oor:op="fuse"><value>false</value></prop></item>
</oor:items>
"""


class LibreOfficeError(RuntimeError):
    """LibreOffice is missing or did not produce the requested file."""


def find_soffice() -> str | None:
    """Return the soffice executable to use, or None when LibreOffice is not installed."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        # An explicit choice is never silently replaced by another installation.
        return shutil.which(configured)
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    if sys.platform == "win32":
        candidates = [
            Path(r"C:\Program Files\LibreOffice\program\soffice.exe"),
            Path(r"C:\Program Files (x86)\LibreOffice\program\soffice.exe"),
        ]
    elif sys.platform == "darwin":
        candidates = [Path("/Applications/LibreOffice.app/Contents/MacOS/soffice")]
    else:
        candidates = []
    return next((str(p) for p in candidates if p.is_file()), None)


def recalculate(src: Path, out_dir: Path, *, timeout: float = 300) -> Path:
    """Recalculate every formula of src in LibreOffice; return the saved `<stem>.recalculated.xlsx`."""
    src = Path(src)
    # The distinct name lets out_dir be src's own folder without replacing src.
    return _run(src, Path(out_dir), _XLSX_FILTER, f"{src.stem}.recalculated", timeout)


def convert(src: Path, out_dir: Path, fmt: str = "pdf", *, timeout: float = 300) -> Path:
    """Convert src (formulas recalculated) to fmt, e.g. "pdf" or "html"; return `<stem>.<fmt>`."""
    src = Path(src)
    return _run(src, Path(out_dir), fmt, src.stem, timeout)


def _run(src: Path, out_dir: Path, convert_to: str, stem: str, timeout: float) -> Path:
    """Convert a private copy of src with a throw-away profile; move the result to out_dir."""
    # convert_to may name a filter ("xlsx:Calc MS Excel 2007 XML"): the extension comes first.
    extension = convert_to.split(":", 1)[0]
    destination = out_dir / f"{stem}.{extension}"
    if destination.resolve() == src.resolve():
        raise ValueError(f"converting {src} to {extension} in {out_dir} would overwrite it: use recalculate()")
    soffice = find_soffice()
    if soffice is None:
        configured = os.environ.get(ENV_VAR)
        where = (f"{ENV_VAR}={configured} is not an executable" if configured
                 else f"install LibreOffice or set {ENV_VAR} to its soffice executable")
        raise LibreOfficeError(f"LibreOffice (soffice) not found: {where}")
    if not src.is_file():
        raise LibreOfficeError(f"cannot convert {src}: no such file")
    out_dir.mkdir(parents=True, exist_ok=True)

    # ignore_cleanup_errors: on Windows a killed soffice may hold profile files a moment longer.
    with tempfile.TemporaryDirectory(prefix="mktsheets-lo-", ignore_cleanup_errors=True) as tmp:
        work = Path(tmp).resolve()  # as_uri() needs an absolute path
        # A profile of its own per run: a second soffice on a shared profile hands its
        # job to the first instance and exits 0 having converted nothing.
        profile = work / "profile"
        (profile / "user").mkdir(parents=True)
        (profile / "user" / "registrymodifications.xcu").write_text(_REGISTRY, encoding="utf-8")
        # soffice names its output after the input, so an ASCII copy keeps the command
        # line free of non-ASCII names (Chinese paths) and of the src/output clash.
        (work / "out").mkdir()
        shutil.copyfile(src, work / f"input{src.suffix}")
        produced = work / "out" / f"input.{extension}"

        args = [
            soffice,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless", "--norestore", "--nolockcheck",
            "--convert-to", convert_to,
            "--outdir", "out",
            f"input{src.suffix}",
        ]
        # A log file rather than pipes: soffice's helper processes inherit pipes, and
        # reading them could block after a timeout until those helpers die.
        log_path = work / "soffice.log"
        with log_path.open("wb") as log:
            # A session of its own lets a timeout kill the launcher and soffice.bin
            # together on POSIX (Windows ignores the flag and uses taskkill /T).
            proc = subprocess.Popen(
                args, cwd=work, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                returncode = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_tree(proc)
                raise LibreOfficeError(
                    f"LibreOffice timed out after {timeout:g} s converting {src.name}"
                ) from None
        detail = _last_line(log_path)
        if returncode != 0:
            raise LibreOfficeError(
                f"LibreOffice exited with code {returncode} converting {src.name}: {detail}"
            )
        if not produced.is_file():
            raise LibreOfficeError(f"LibreOffice wrote no .{extension} file for {src.name}: {detail}")
        shutil.move(produced, destination)
    return destination


def _kill_tree(proc: subprocess.Popen) -> None:
    """Kill soffice with its children (the launcher script and soffice.bin), then reap it."""
    if os.name == "nt":
        subprocess.run(["taskkill", "/F", "/T", "/PID", str(proc.pid)], capture_output=True, check=False)
        proc.kill()  # the launcher at least, should taskkill fail
    else:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def _last_line(log_path: Path) -> str:
    """The last meaningful line soffice printed, for a one-line error message."""
    lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    # The javaldx warning appears on every run and never explains a failure.
    useful = [s.strip() for s in lines if s.strip() and "javaldx" not in s]
    return useful[-1] if useful else "no output"
