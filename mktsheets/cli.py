"""The `mktsheets` command: options -> one library call -> output or a ClickException."""
from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

import click

from . import __version__


class _Command(click.Group):
    """Turns any library failure into one clear line (a traceback only with --debug)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except Exception as e:  # noqa: BLE001 - the user gets one line, never a traceback
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            raise click.ClickException(_one_line(e)) from None


def _one_line(e: Exception) -> str:
    from .safety import FileProblem

    if isinstance(e, FileProblem):
        return str(e)
    if isinstance(e, (OSError,)) and getattr(e, "filename", None):
        return f"{e.strerror or e.__class__.__name__}: {e.filename}"
    text = str(e).strip().splitlines()[0] if str(e).strip() else e.__class__.__name__
    return text if isinstance(e, ValueError) else f"{e.__class__.__name__}: {text}"


@click.group(cls=_Command, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mktsheets")
@click.option("--debug", is_flag=True, help="Show a traceback when something fails.")
@click.pass_context
def main(ctx, debug):
    """Quarterly goals, weekly tracking, evaluation and incentives in one Excel/WPS workbook."""
    ctx.ensure_object(dict)["debug"] = debug
    for stream in (sys.stdout, sys.stderr):  # Chinese output on Windows consoles
        if hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(encoding="utf-8", errors="replace")
            except (ValueError, OSError):
                pass


@main.command()
@click.option("--period", default="2024Q3", show_default=True, help="Quarter code, e.g. 2024Q3.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="Language of sheet names, headers and dropdowns.")
@click.option("--team", "team_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Roster to fill in: CSV (UTF-8 or GBK) or xlsx with the Team headers.")
@click.option("--goals", "goals_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Goals to fill in: CSV or xlsx with the Targets headers.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Workbook to write (.xlsx).")
def new(period, lang, team_file, goals_file, output):
    """Write a blank (or pre-filled) quarterly workbook."""
    from .imports import read_rows
    from .generate import new_workbook

    data = {}
    if team_file:
        data["team"] = read_rows(team_file, "team")
    if goals_file:
        data["targets"] = read_rows(goals_file, "targets")
    written = new_workbook(output, period=period, lang=lang, data=data)
    click.echo(f"{'已生成' if lang == 'zh' else 'Wrote'} {written.path}  "
               f"({period}, {len(data.get('team', []))} {'人' if lang == 'zh' else 'people'}, "
               f"{len(data.get('targets', []))} {'个目标' if lang == 'zh' else 'goals'})")
    _print_problems(written.problems.sorted(), lang, limit=20)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
def check(file, as_json):
    """Read and validate a workbook; exit 1 if it has errors."""
    from .api import check as run_check

    wb = run_check(file)
    problems = wb.problems
    if as_json:
        click.echo(json.dumps([p.as_dict() for p in problems], ensure_ascii=False, indent=1))
    else:
        _print_problems(problems, wb.lang)
        errors = len(wb.errors)
        warnings = len(problems) - errors
        if wb.lang == "zh":
            click.echo(f"共 {len(problems)} 项：{errors} 个错误，{warnings} 个警告/提示")
        else:
            click.echo(f"{len(problems)} problems: {errors} errors, {warnings} warnings/notes")
    if wb.errors:
        sys.exit(1)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the result here instead of updating FILE in place.")
@click.option("--no-backup", is_flag=True, help="Do not keep the previous version as NAME.bak.xlsx.")
@click.option("--force", is_flag=True, help="Recalculate even if the workbook seems open in Excel/WPS.")
def recalc(file, output, no_backup, force):
    """Write completion, statuses, scores and payouts back into the workbook."""
    from .recalc import recalc as run_recalc

    with _Progress() as progress:
        result = run_recalc(file, output, backup=not no_backup, force=force, progress=progress)
    zh = result.workbook.lang == "zh"
    click.echo(("已更新 " if zh else "Updated ") + str(result.path)
               + (f"（备份: {result.backup.name}）" if zh and result.backup else "")
               + (f" (backup: {result.backup.name})" if not zh and result.backup else ""))
    for line in result.summary:
        click.echo("  " + line)
    _print_problems(result.problems, result.workbook.lang, limit=20)


class _Progress:
    """Progress on stderr for large files only (a few lines, no spinner noise on small ones)."""

    MIN_TOTAL = 50_000_000   # bytes of sheet XML before progress is worth showing

    def __enter__(self):
        self.shown = -1
        return self

    def __call__(self, done: int, total: int) -> None:
        if total < self.MIN_TOTAL or not total:
            return
        pct = min(100, int(done * 100 / total))
        if pct // 10 != self.shown:
            self.shown = pct // 10
            click.echo(f"  … {pct}%", err=True)

    def __exit__(self, *exc):
        return False


@main.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
def demo(directory, lang):
    """Run the whole cycle on the built-in sample quarter."""
    from .demo import run_demo

    run_demo(directory or Path("mktsheets-demo"), lang=lang, echo=click.echo)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the scorecards and team summaries to.")
@click.option("--format", "formats", metavar="LIST",
              help="Comma-separated formats: xlsx,html,pdf [default: all; xlsx is always written; pdf needs "
                   "LibreOffice].")
def scorecards(file, out_dir, formats):
    """One scorecard per person (that person's data only) and a team summary per manager."""
    from .scorecards import parse_formats, write_scorecards

    try:
        fmts = parse_formats(formats)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--format") from None
    result = write_scorecards(file, out_dir, fmts)
    q = result.quarter
    zh = q.lang == "zh"
    click.echo((f"已写入 {len(result.files)} 份绩效卡、{len(result.summaries)} 份团队汇总到 {result.directory}" if zh else
                f"Wrote {len(result.files)} scorecards and {len(result.summaries)} team summaries to "
                f"{result.directory}"))
    for files in [*result.files.values(), *result.summaries.values()]:
        paths = list(files.values())
        click.echo(f"  {paths[0].name}" + "".join(f", {p.suffix}" for p in paths[1:]))
    incomplete = [c.name for c in q.cards if not c.complete]
    if incomplete:
        click.echo(("总分或应发合计未算出（见 mktsheets check）: " if zh else
                    "No total or payout (see mktsheets check): ") + ", ".join(incomplete))
    if q.duplicates:
        click.echo(("团队表中重名，未生成绩效卡: " if zh else "Names on Team more than once, no scorecard: ")
                   + ", ".join(q.duplicates))
    if result.pdf_note:
        if formats is not None and "pdf" in fmts:
            raise click.ClickException(result.pdf_note)
        click.echo(("注意: " if zh else "Note: ") + result.pdf_note)


def _print_problems(problems, lang: str, limit: int | None = None) -> None:
    shown = problems if limit is None else problems[:limit]
    for p in shown:
        click.echo(p.line(lang))
    if limit is not None and len(problems) > limit:
        click.echo(f"… {len(problems) - limit} {'项未显示' if lang == 'zh' else 'more'}")


if __name__ == "__main__":  # pragma: no cover
    main()
