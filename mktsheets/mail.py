"""Scorecard emails: an .eml outbox (dry run) and sending over SMTP with TLS.

Each message goes to one person and carries that person's data only: a plain-text
and an HTML body (inline CSS) built from the person's Card, and the person's own
scorecard workbook (built fresh from the Card, never cut out of the team workbook).

Sending is TLS by default (STARTTLS, or implicit TLS with --ssl) with certificate
verification; the password is only ever handed to smtplib's login and is never
written, logged or put in an exception message. One refused recipient or a dropped
connection does not stop the others; a send log in the outbox records every
delivered message so that a re-run only sends what is missing.
"""
from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Callable

from .rules.context import key_of
from .scorecards import (Card, Quarter, card_body_html, card_xlsx, collect, fmt_money, fmt_pct, fmt_score,
                         fmt_share, kind_text, rank_text, word)
from .sendlog import FAILED, SENT, SendLog

__all__ = ["MailError", "OutboxResult", "SendResult", "SmtpSettings", "build_message", "send_scorecards",
           "write_outbox"]

XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
DEFAULT_PORTS = {"ssl": 465, "starttls": 587, "plain": 25}

MAIL_WORDS = {
    "subject": ("{period} 绩效卡 · {name}", "{period} scorecard - {name}"),
    "hello": ("{name}，您好：", "Dear {name},"),
    "intro": ("这是您 {period} 的绩效卡，附件是同样内容的 Excel 文件（{file}）。",
              "Here is your scorecard for {period}; the attached workbook ({file}) holds the same figures."),
    "feedback": ("如对结果有疑问，请在一周内与上级沟通。", "If anything looks wrong, please talk to your manager within a week."),
    "signature": ("—— 由 mktsheets 生成", "-- sent with mktsheets"),
}


def mword(key: str, lang: str) -> str:
    zh, en = MAIL_WORDS[key]
    return zh if lang == "zh" else en


class MailError(RuntimeError):
    """Sending cannot start or must stop for everyone (bad TLS, refused login, no TLS offered...)."""


# ----------------------------------------------------------------- addresses

def parse_address(text: str, display_name: str = "") -> Address | None:
    """An address we can put in a header and an envelope, or None (blank, malformed, header injection)."""
    text = (text or "").strip()
    if not text or any(ch in text for ch in "\r\n\t,;<>\"") or text.count("@") != 1:
        return None
    local, _, domain = text.partition("@")
    if not local or not domain or " " in text or domain.startswith(".") or domain.endswith(".") or "." not in domain:
        return None
    try:
        return Address(display_name=display_name, addr_spec=text)
    except (ValueError, IndexError, TypeError):
        return None


def parse_sender(text: str) -> Address:
    """--from: 'mkt@example.com' or 'Marketing <mkt@example.com>'."""
    msg = EmailMessage(policy=policy.default)
    try:
        msg["From"] = text
        addresses = msg["From"].addresses
    except (ValueError, IndexError, TypeError):
        addresses = ()
    if len(addresses) != 1 or not addresses[0].addr_spec or "@" not in addresses[0].addr_spec:
        raise ValueError(f"--from: not one email address: {text!r}")
    return addresses[0]


# ----------------------------------------------------------------- the message

def plain_text(card: Card, attachment_name: str) -> str:
    lang = card.lang
    w = lambda key: word(key, lang)  # noqa: E731
    cur = card.currency
    lines = [mword("hello", lang).format(name=card.name), "",
             mword("intro", lang).format(period=card.period, file=attachment_name), ""]
    if not card.complete:
        lines += [w("incomplete"), ""]
    lines.append(f"{w('total')}: {fmt_score(card.total)}    {w('grade')}: {card.grade or '—'}    "
                 f"{w('rank')}: {rank_text(card)}")
    lines.append(f"{w('payout')}: {fmt_money(card.payout, cur)}")
    adj = card.adjustment if card.adjustment is not None else 0.0
    lines.append(f"  = {w('bonus')} {fmt_money(card.bonus)} ({w('bonus_base')} {fmt_money(card.bonus_base)} × "
                 f"{w('factor')} {fmt_pct(card.factor)})")
    lines.append(f"  + {w('commission')} {fmt_money(card.commission)}")
    for b in card.brackets:
        if b.part > 0:
            band = f"{fmt_share(b.start)}–{fmt_share(b.end)}" if b.end is not None else f"≥ {fmt_share(b.start)}"
            lines.append(f"      {band}: {fmt_share(b.rate)} × {fmt_pct(b.part)} → {fmt_money(b.amount)}")
    lines.append(f"  + {w('adjustment')} {fmt_money(adj)}" + (f" ({card.adjustment_reason})"
                                                              if card.adjustment_reason else ""))
    lines.append(f"{w('honours')}: {card.honours or w('none')}    {w('alerts')}: {card.alerts or w('none')}")
    lines += ["", f"{w('indicators')}:"]
    for ln in card.indicators:
        done = f"{w('completion')} {fmt_pct(ln.completion)}, " if ln.kind != "qualitative" else ""
        lines.append(f"  - {ln.indicator or '—'} ({kind_text(ln.kind, lang)}, {w('weight')} {fmt_share(ln.weight)}): "
                     f"{done}{w('score')} {fmt_score(ln.score)}")
    lines += [f"  {w('quant_score')} {fmt_score(card.quant_score)} · {w('qual_score')} {fmt_score(card.qual_score)}"
              f" · {w('overall')} {fmt_pct(card.overall)}", "",
              mword("feedback", lang), "", mword("signature", lang), ""]
    return "\n".join(lines)


def html_body(card: Card, attachment_name: str) -> str:
    """Mail-client friendly HTML: tables and inline styles only, no <style>, no scripts, no images."""
    lang = card.lang
    from html import escape as e

    font = ("font-family:'Microsoft YaHei','PingFang SC','Hiragino Sans GB','Noto Sans CJK SC',"
            "'Segoe UI',Arial,sans-serif;")
    intro = mword("intro", lang).format(period=card.period, file=attachment_name)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{e(mword('subject', lang).format(period=card.period, name=card.name))}</title></head>\n"
        f'<body style="margin:0;padding:0;background:#F3F5F8;{font}color:#1F1F1F;">\n'
        '<table role="presentation" cellpadding="0" cellspacing="0" width="100%" '
        'style="border-collapse:collapse;background:#F3F5F8;"><tr><td style="padding:16px 8px;">\n'
        '<table role="presentation" cellpadding="0" cellspacing="0" width="100%" align="center" '
        'style="border-collapse:collapse;max-width:760px;margin:0 auto;background:#ffffff;'
        'border:1px solid #DDE3EA;"><tr><td style="padding:20px 24px;' + font + '">\n'
        f'<p style="margin:0 0 8px 0;font-size:14px;">{e(mword("hello", lang).format(name=card.name))}</p>'
        f'<p style="margin:0 0 16px 0;font-size:14px;">{e(intro)}</p>\n'
        f"{card_body_html(card)}\n"
        f'<p style="margin:16px 0 0 0;font-size:13px;color:#404040;">{e(mword("feedback", lang))}</p>'
        f'<p style="margin:8px 0 0 0;font-size:12px;color:#7F7F7F;">{e(mword("signature", lang))}</p>\n'
        "</td></tr></table>\n</td></tr></table>\n</body></html>\n")


def build_message(card: Card, *, sender: Address | None = None, cc: list[Address] | None = None,
                  attachment: bytes | None = None) -> EmailMessage:
    """One person's message: multipart/mixed [multipart/alternative [plain, html], scorecard.xlsx]."""
    to = parse_address(card.email, card.name)
    if to is None:
        raise ValueError(f"{card.name}: no usable email address ({card.email!r})")
    msg = EmailMessage(policy=policy.default)
    if sender is not None:
        msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = mword("subject", card.lang).format(period=card.period, name=card.name)
    msg["Date"] = formatdate(localtime=True)
    domain = sender.domain if sender is not None and sender.domain else "mktsheets.invalid"
    msg["Message-ID"] = make_msgid(domain=domain.encode("idna").decode("ascii") if not domain.isascii() else domain)
    msg["X-Mailer"] = "mktsheets"
    name = card.filename("xlsx")
    text = plain_text(card, name)
    msg.set_content(text, subtype="plain", charset="utf-8", cte="7bit" if text.isascii() else "base64")
    msg.add_alternative(html_body(card, name), subtype="html", charset="utf-8", cte="base64")
    data = attachment if attachment is not None else card_xlsx(card)
    # default policy: a non-ASCII filename is written as RFC 2231 filename*=utf-8''...
    msg.add_attachment(data, maintype=XLSX_TYPE[0], subtype=XLSX_TYPE[1], filename=name)
    for part in msg.walk():
        if part is not msg:
            del part["MIME-Version"]     # only the top level carries it
    return msg


def message_bytes(msg: EmailMessage) -> bytes:
    """The message as written to an .eml file and sent: CRLF line ends, 7-bit clean headers.

    Only a non-ASCII address (which no encoding can express) makes the headers UTF-8 (RFC 6532).
    """
    addresses = [a.addr_spec for h in ("From", "To", "Cc") if msg[h] is not None for a in msg[h].addresses]
    international = not all(a.isascii() for a in addresses)
    return msg.as_bytes(policy=policy.SMTP.clone(utf8=international))


# ----------------------------------------------------------------- dry run

@dataclass
class OutboxResult:
    outbox: Path
    written: list[tuple[Card, Path]] = field(default_factory=list)
    no_address: list[Card] = field(default_factory=list)
    bad_address: list[Card] = field(default_factory=list)
    incomplete: list[Card] = field(default_factory=list)     # no total or payout: not mailed
    already_sent: list[Card] = field(default_factory=list)   # per the send log (a --send would skip them)
    quarter: Quarter | None = None


def _recipients(quarter: Quarter, result) -> list[Card]:
    out = []
    for card in quarter.cards:
        if not card.email:
            result.no_address.append(card)
        elif parse_address(card.email) is None:
            result.bad_address.append(card)
        elif not card.complete:
            result.incomplete.append(card)
        else:
            out.append(card)
    return out


def _cc_for(card: Card, quarter: Quarter, cc_manager: bool) -> list[Address]:
    if not cc_manager or not card.manager:
        return []
    manager = next((c for c in quarter.cards if key_of(c.name) == key_of(card.manager)), None)
    addr = parse_address(manager.email) if manager is not None else None
    # address only, no display name: the person's message names nobody else
    return [addr] if addr is not None and addr.addr_spec != parse_address(card.email).addr_spec else []


def _write_eml(outbox: Path, card: Card, msg: EmailMessage) -> Path:
    path = outbox / card.filename("eml")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(message_bytes(msg))
    tmp.replace(path)
    return path


def write_outbox(source, outbox: str | Path, *, sender: str | None = None, cc_manager: bool = False) -> OutboxResult:
    """Dry run: one .eml per person with an address; nothing is sent."""
    quarter = source if isinstance(source, Quarter) else collect(source)
    outbox = Path(outbox)
    outbox.mkdir(parents=True, exist_ok=True)
    result = OutboxResult(outbox, quarter=quarter)
    from_addr = parse_sender(sender) if sender else None
    sent = SendLog(outbox).sent(quarter.period)
    for card in _recipients(quarter, result):
        msg = build_message(card, sender=from_addr, cc=_cc_for(card, quarter, cc_manager))
        result.written.append((card, _write_eml(outbox, card, msg)))
        if key_of(card.name) in sent:
            result.already_sent.append(card)
    return result


# ----------------------------------------------------------------- sending

@dataclass
class SmtpSettings:
    host: str
    port: int | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    security: str = "starttls"          # starttls | ssl | plain (plain only with insecure_plaintext)
    cafile: str | None = None
    insecure_plaintext: bool = False
    timeout: float = 30.0

    def __post_init__(self):
        if self.security not in DEFAULT_PORTS:
            raise ValueError(f"unknown security {self.security!r}")
        if self.security == "plain" and not self.insecure_plaintext:
            raise MailError("plain-text SMTP refused: pass --insecure-plaintext to allow it")

    @property
    def port_used(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]


@dataclass
class SendResult:
    outbox: Path
    sent: list[tuple[Card, str]] = field(default_factory=list)        # card, message-id
    skipped: list[Card] = field(default_factory=list)                 # already sent (send log)
    failed: list[tuple[Card, str]] = field(default_factory=list)      # card, reason
    cc_refused: list[tuple[Card, str]] = field(default_factory=list)  # the person got it, the copy did not
    no_address: list[Card] = field(default_factory=list)
    bad_address: list[Card] = field(default_factory=list)
    incomplete: list[Card] = field(default_factory=list)
    quarter: Quarter | None = None

    @property
    def ok(self) -> bool:
        return not self.failed


def _reply(code, resp) -> str:
    text = resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)
    return f"{code} {' '.join(text.split())}".strip()


class _Connection:
    """One SMTP session; opened lazily, checked before each message, reopened after a drop."""

    def __init__(self, settings: SmtpSettings):
        self.s = settings
        self.smtp: smtplib.SMTP | None = None

    def _context(self) -> ssl.SSLContext:
        try:
            return ssl.create_default_context(cafile=self.s.cafile)
        except (OSError, ssl.SSLError) as e:
            raise MailError(f"--smtp-cafile {self.s.cafile}: cannot load the CA certificate(s): {e}") from None

    def open(self) -> None:
        s = self.s
        where = f"{s.host}:{s.port_used}"
        smtp = None
        try:
            if s.security == "ssl":
                smtp = smtplib.SMTP_SSL(s.host, s.port_used, timeout=s.timeout, context=self._context())
                smtp.ehlo()
            else:
                smtp = smtplib.SMTP(s.host, s.port_used, timeout=s.timeout)
                smtp.ehlo()
                if s.security == "starttls":
                    if not smtp.has_extn("starttls"):
                        raise MailError(
                            f"{where} does not offer STARTTLS: refusing to send the password and the scorecards "
                            "in plain text (use --ssl if the server speaks TLS on connect, or "
                            "--insecure-plaintext to allow an unencrypted connection)")
                    smtp.starttls(context=self._context())
                    smtp.ehlo()
            if s.user:
                if not smtp.has_extn("auth"):
                    raise MailError(f"{where} does not offer AUTH (login) on this connection")
                try:
                    smtp.login(s.user, s.password or "")
                except smtplib.SMTPAuthenticationError as e:
                    raise MailError(f"{where} refused the login of {s.user}: {_reply(e.smtp_code, e.smtp_error)}"
                                    ) from None
        except ssl.SSLCertVerificationError as e:
            _quietly_close(smtp)
            raise MailError(f"{where}: the server's TLS certificate cannot be verified ({e.verify_message}); "
                            "use --smtp-cafile to trust your company's CA") from None
        except ssl.SSLError as e:
            _quietly_close(smtp)
            raise MailError(f"{where}: TLS failed: {e.reason or e}") from None
        except MailError:
            _quietly_close(smtp)
            raise
        except smtplib.SMTPNotSupportedError as e:
            _quietly_close(smtp)
            raise MailError(f"{where}: {e}") from None
        except (OSError, smtplib.SMTPException) as e:
            _quietly_close(smtp)
            raise ConnectionError(f"cannot connect to {where}: {_describe(e)}") from None
        self.smtp = smtp

    def alive(self) -> bool:
        if self.smtp is None:
            return False
        try:
            return self.smtp.noop()[0] == 250
        except (OSError, smtplib.SMTPException):
            return False

    def ensure(self) -> None:
        if not self.alive():
            self.close()
            self.open()

    def close(self) -> None:
        _quietly_close(self.smtp, quit=True)
        self.smtp = None

    def transact(self, sender: str, to: str, cc: list[str], data: bytes, international: bool) -> dict[str, str]:
        """MAIL, RCPT (the person first: refused -> nothing is sent to anyone), RCPT cc, DATA.

        Returns the refused copies {address: reply}; raises SMTPRecipientsRefused when the
        person's own address is refused.
        """
        smtp = self.smtp
        options = []
        if international:
            if not smtp.has_extn("smtputf8"):
                raise smtplib.SMTPNotSupportedError("the server does not support SMTPUTF8 (non-ASCII address)")
            options = ["SMTPUTF8", "BODY=8BITMIME"]
        code, resp = smtp.mail(sender, options)
        if code != 250:
            self._rset(code)
            raise smtplib.SMTPSenderRefused(code, resp, sender)
        code, resp = smtp.rcpt(to)
        if code not in (250, 251):
            self._rset(code)
            raise smtplib.SMTPRecipientsRefused({to: (code, resp)})
        refused = {}
        for addr in cc:
            code, resp = smtp.rcpt(addr)
            if code not in (250, 251):
                refused[addr] = _reply(code, resp)
        code, resp = smtp.data(data)
        if code != 250:
            self._rset(code)
            raise smtplib.SMTPDataError(code, resp)
        return refused

    def _rset(self, code: int) -> None:
        if code == 421:
            self.close()
            return
        try:
            self.smtp.rset()
        except (OSError, smtplib.SMTPException):
            self.close()


def _quietly_close(smtp, quit: bool = False) -> None:
    if smtp is None:
        return
    try:
        if quit:
            smtp.quit()
    except (OSError, smtplib.SMTPException):
        pass
    try:
        smtp.close()
    except OSError:
        pass


def _describe(e: BaseException) -> str:
    if isinstance(e, smtplib.SMTPResponseException):
        return _reply(e.smtp_code, e.smtp_error)
    if isinstance(e, socket.timeout):
        return "timed out"
    return str(e) or e.__class__.__name__


def send_scorecards(source, outbox: str | Path, settings: SmtpSettings, sender: str, *, resend: bool = False,
                    cc_manager: bool = False, on_event: Callable[[str, Card, str], None] | None = None
                    ) -> SendResult:
    """Send every person their scorecard; skip people the send log says got it (unless resend).

    Failures of one recipient (refused address, dropped connection) are collected and the
    others still go out. A MailError (no TLS, certificate not trusted, login refused) stops
    everything before anything is sent.
    """
    quarter = source if isinstance(source, Quarter) else collect(source)
    outbox = Path(outbox)
    outbox.mkdir(parents=True, exist_ok=True)
    from_addr = parse_sender(sender)
    log = SendLog(outbox)
    already = log.sent(quarter.period)
    result = SendResult(outbox, quarter=quarter)
    result_no = OutboxResult(outbox)
    todo = _recipients(quarter, result_no)
    result.no_address, result.bad_address, result.incomplete = (result_no.no_address, result_no.bad_address,
                                                                result_no.incomplete)
    event = on_event or (lambda kind, card, detail: None)
    pending = []
    for card in todo:
        if not resend and key_of(card.name) in already:
            result.skipped.append(card)
            event("skipped", card, already[key_of(card.name)].get("time", ""))
        else:
            pending.append(card)
    if not pending:
        return result

    conn = _Connection(settings)
    conn.open()                     # a MailError here stops everything: nothing was sent
    connect_failures = 0
    try:
        for i, card in enumerate(pending):
            cc = _cc_for(card, quarter, cc_manager)
            msg = build_message(card, sender=from_addr, cc=cc)
            msg_id = msg["Message-ID"]
            to = parse_address(card.email).addr_spec
            cc_specs = [a.addr_spec for a in cc]
            try:
                conn.ensure()
                connect_failures = 0
            except ConnectionError as e:
                connect_failures += 1
                reason = str(e)
                result.failed.append((card, reason))
                log.append(period=quarter.period, person=card.name, address=to, message_id=msg_id,
                           status=FAILED, error=reason)
                event("failed", card, reason)
                if connect_failures >= 2:     # the server is gone: do not wait on it once per person
                    for rest in pending[i + 1:]:
                        result.failed.append((rest, reason))
                        event("failed", rest, reason)
                    break
                continue
            international = not all(a.isascii() for a in (from_addr.addr_spec, to, *cc_specs))
            data = message_bytes(msg)
            try:
                refused_cc = conn.transact(from_addr.addr_spec, to, cc_specs, data, international)
            except smtplib.SMTPRecipientsRefused as e:
                code, resp = e.recipients.get(to, (0, b""))
                reason = f"{to}: {_reply(code, resp)}"
            except smtplib.SMTPSenderRefused as e:
                conn.close()
                raise MailError(f"the server refused the sender {from_addr.addr_spec}: "
                                f"{_reply(e.smtp_code, e.smtp_error)}") from None
            except smtplib.SMTPNotSupportedError as e:
                reason = f"{to}: {e}"
            except smtplib.SMTPResponseException as e:
                reason = f"{to}: {_reply(e.smtp_code, e.smtp_error)}"
            except (OSError, smtplib.SMTPException) as e:
                conn.close()          # reconnect for the next person
                reason = f"{to}: connection lost ({_describe(e)})"
            else:
                _write_eml(outbox, card, msg)
                log.append(period=quarter.period, person=card.name, address=to, message_id=msg_id, status=SENT,
                           cc=[a for a in cc_specs if a not in refused_cc])
                result.sent.append((card, msg_id))
                event("sent", card, to)
                for addr, why in refused_cc.items():
                    result.cc_refused.append((card, f"{addr}: {why}"))
                    event("cc_refused", card, f"{addr}: {why}")
                continue
            result.failed.append((card, reason))
            log.append(period=quarter.period, person=card.name, address=to, message_id=msg_id, status=FAILED,
                       error=reason)
            event("failed", card, reason)
    finally:
        conn.close()
    return result
