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


@main.command("email")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--outbox", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the .eml files and the send log [default: FILE's name + '-outbox', next to FILE].")
@click.option("--send", is_flag=True, help="Send the messages (without it: dry run, only .eml files are written).")
@click.option("--smtp-host", help="SMTP server to send through.")
@click.option("--smtp-port", type=click.IntRange(1, 65535), help="SMTP port [default: 587, or 465 with --ssl].")
@click.option("--smtp-user", help="Login name; the password comes from MKTSHEETS_SMTP_PASSWORD or a prompt.")
@click.option("--ssl", "security", flag_value="ssl", help="TLS from the start (usually port 465).")
@click.option("--starttls", "security", flag_value="starttls", help="Upgrade to TLS with STARTTLS (the default).")
@click.option("--smtp-cafile", type=click.Path(exists=True, dir_okay=False),
              help="PEM file of the CA(s) to trust for the server's certificate (e.g. a company CA).")
@click.option("--from", "sender", help="Sender address, e.g. 'Marketing <mkt@example.com>'.")
@click.option("--resend", is_flag=True, help="Send again to people the send log says already got theirs.")
@click.option("--cc-manager", is_flag=True, help="Send a copy of each person's message to their manager.")
@click.option("--insecure-plaintext", is_flag=True,
              help="Allow an unencrypted connection (password and scorecards readable on the network).")
def email_cmd(file, outbox, send, smtp_host, smtp_port, smtp_user, security, smtp_cafile, sender, resend,
              cc_manager, insecure_plaintext):
    """Email each person their own scorecard (dry run: write .eml files)."""
    import os

    from .mail import MailError, SmtpSettings, send_scorecards, write_outbox
    from .scorecards import collect

    outbox = outbox or file.with_name(f"{file.stem}-outbox")
    if send:
        if not smtp_host:
            raise click.UsageError("--send needs --smtp-host")
        if not sender:
            raise click.UsageError("--send needs --from")
        if insecure_plaintext and security:
            raise click.UsageError(f"--insecure-plaintext cannot be combined with --{security}")
    quarter = collect(file)
    zh = quarter.lang == "zh"

    def people(cards):
        return ", ".join(c.name for c in cards)

    def tail(result):
        if result.no_address:
            click.echo(("没有邮箱地址: " if zh else "No email address: ") + people(result.no_address))
        if result.bad_address:
            click.echo(("邮箱地址无法使用: " if zh else "Unusable email address: ")
                       + ", ".join(f"{c.name} ({c.email!r})" for c in result.bad_address))
        if result.incomplete:
            click.echo(("总分或应发合计未算出，未发邮件: " if zh else "No total or payout, no email: ")
                       + people(result.incomplete))

    if not send:
        result = write_outbox(quarter, outbox, sender=sender, cc_manager=cc_manager)
        click.echo((f"已写入 {len(result.written)} 封邮件到 {outbox}（未发送；加 --send 发送）" if zh else
                    f"Wrote {len(result.written)} messages to {outbox} (not sent; add --send to send)"))
        for card, path in result.written:
            click.echo(f"  {card.name} <{card.email}>  {path.name}")
        if result.already_sent:
            click.echo(("发送记录显示已发送过（--send 时跳过）: " if zh else
                        "Already sent per the send log (--send skips them): ") + people(result.already_sent))
        tail(result)
        return

    password = None
    if smtp_user:
        password = os.environ.get("MKTSHEETS_SMTP_PASSWORD") or click.prompt(
            f"SMTP password for {smtp_user}", hide_input=True, err=True)
    marks = {"sent": "✓", "failed": "✗", "skipped": "–", "cc_refused": "!"}
    words = {"skipped": ("已发送过，跳过", "already sent, skipped"),
             "cc_refused": ("抄送被拒", "copy refused")}

    def on_event(kind, card, detail):
        extra = f"{words[kind][0 if zh else 1]} {detail}".strip() if kind in words else detail
        click.echo(f"  {marks[kind]} {card.name} <{card.email}>" + (f"  {extra}" if extra and kind != "sent" else ""))

    try:
        settings = SmtpSettings(host=smtp_host, port=smtp_port, user=smtp_user, password=password,
                                security="plain" if insecure_plaintext else (security or "starttls"),
                                cafile=smtp_cafile, insecure_plaintext=insecure_plaintext)
        result = send_scorecards(quarter, outbox, settings, sender, resend=resend, cc_manager=cc_manager,
                                 on_event=on_event)
    except (MailError, ConnectionError) as e:
        raise click.ClickException(str(e)) from None
    click.echo((f"已发送 {len(result.sent)} 封，跳过 {len(result.skipped)} 封（已发送过），失败 {len(result.failed)} 封；"
                f"发送记录: {outbox}" if zh else
                f"Sent {len(result.sent)}, skipped {len(result.skipped)} (already sent), failed "
                f"{len(result.failed)}; send log in {outbox}"))
    tail(result)
    if result.failed:
        click.echo("失败:" if zh else "Failed:", err=True)
        for card, reason in result.failed:
            click.echo(f"  {card.name} <{card.email}>: {reason}", err=True)
        sys.exit(1)


def _print_problems(problems, lang: str, limit: int | None = None) -> None:
    shown = problems if limit is None else problems[:limit]
    for p in shown:
        click.echo(p.line(lang))
    if limit is not None and len(problems) > limit:
        click.echo(f"… {len(problems) - limit} {'项未显示' if lang == 'zh' else 'more'}")


if __name__ == "__main__":  # pragma: no cover
    main()
