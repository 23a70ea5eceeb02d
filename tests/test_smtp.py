"""Sending against a real SMTP server (aiosmtpd) on 127.0.0.1: TLS, AUTH, failures, the send log."""
from __future__ import annotations

import base64
import json
from email import policy
from email.parser import BytesParser

import pytest
from click.testing import CliRunner

from mailkit import PASSWORD, USER, Handler, make_pki, shared_sample, smtp_server
from mktsheets.cli import main

EVERYONE = ["wanglei@example.com", "sunhao@example.com", "zhangsan@example.com", "lisi@example.com",
            "zhaomin@example.com", "chenchen@example.com", "liuyang@example.com"]


@pytest.fixture(scope="module")
def workbook(tmp_path_factory):
    return shared_sample(tmp_path_factory)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def send(workbook, outbox, port, *extra, env=None, input=None):
    args = ["email", str(workbook), "--outbox", str(outbox), "--send", "--smtp-host", "127.0.0.1",
            "--smtp-port", str(port), "--from", "市场部 <mkt@example.com>", *extra]
    environment = {"MKTSHEETS_SMTP_PASSWORD": PASSWORD} if env is None else env
    return CliRunner().invoke(main, args, env=environment, input=input)


def log_lines(outbox):
    return [json.loads(line) for line in (outbox / "send-log.jsonl").read_text(encoding="utf-8").splitlines()]


def assert_no_password(outbox, *outputs):
    secret = PASSWORD.encode()
    encoded = [secret, base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()), base64.b64encode(secret)]
    for path in outbox.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(e in data for e in encoded), f"password found in {path}"
    for out in outputs:
        assert PASSWORD not in out


def test_starttls_auth_one_rejected_then_rerun_sends_only_the_missing_one(workbook, pki, tmp_path):
    handler = Handler(reject={"lisi@example.com"})
    outbox = tmp_path / "outbox"
    with smtp_server(handler, starttls=pki.server_context()) as port:
        r1 = send(workbook, outbox, port, "--smtp-user", USER, "--smtp-cafile", str(pki.ca_pem))
        assert r1.exit_code == 1, r1.output
        # the others were delivered, over TLS, after a login
        delivered = handler.recipients()
        assert sorted(delivered) == sorted(a for a in EVERYONE if a != "lisi@example.com")
        assert all(d.tls and d.authenticated and d.mail_from == "mkt@example.com" for d in handler.delivered)
        # each message went to its own person only, and is that person's
        for d in handler.delivered:
            msg = BytesParser(policy=policy.default).parsebytes(d.content)
            assert msg["To"].addresses[0].addr_spec == d.rcpt_tos[0] and len(d.rcpt_tos) == 1
        # the failure is named, with the server's reply
        assert "失败:" in r1.output and "李四 <lisi@example.com>: lisi@example.com: 550 5.1.1" in r1.output
        assert "已发送 6 封，跳过 0 封（已发送过），失败 1 封" in r1.output
        assert "没有邮箱地址: 周婷" in r1.output
        log = log_lines(outbox)
        assert [(x["person"], x["status"]) for x in log].count(("李四", "failed")) == 1
        sent = [x for x in log if x["status"] == "sent"]
        assert len(sent) == 6 and {x["address"] for x in sent} == set(delivered)
        assert all(x["message_id"].startswith("<") and x["period"] == "2024Q3" and x["time"] for x in sent)

        # the address works again: a re-run sends only the missing message; password from the prompt
        handler.reject.clear()
        before = len(handler.delivered)
        r2 = send(workbook, outbox, port, "--smtp-user", USER, "--smtp-cafile", str(pki.ca_pem),
                  env={"MKTSHEETS_SMTP_PASSWORD": ""}, input=PASSWORD + "\n")
        assert r2.exit_code == 0, r2.output
        assert handler.recipients()[before:] == ["lisi@example.com"]
        assert "已发送 1 封，跳过 6 封（已发送过），失败 0 封" in r2.output
        assert "– 张三 <zhangsan@example.com>  已发送过，跳过" in r2.output
        assert [x["person"] for x in log_lines(outbox) if x["status"] == "sent"][-1] == "李四"

        # --resend sends everything again
        r3 = send(workbook, outbox, port, "--smtp-user", USER, "--smtp-cafile", str(pki.ca_pem), "--resend")
        assert r3.exit_code == 0, r3.output
        assert sorted(handler.recipients()[before + 1:]) == sorted(EVERYONE)
    assert handler.auth_attempts >= 3
    assert_no_password(outbox, r1.output, r2.output, r3.output)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_plain_text_login_refused_unless_insecure_plaintext(workbook, tmp_path):
    handler = Handler()
    outbox = tmp_path / "outbox"
    with smtp_server(handler, auth_require_tls=False) as port:      # a server without TLS
        r = send(workbook, outbox, port, "--smtp-user", USER)
        assert r.exit_code == 1
        assert "does not offer STARTTLS" in r.output and "--insecure-plaintext" in r.output
        assert handler.auth_attempts == 0 and handler.delivered == [], "the password was never sent"
        r_ok = send(workbook, outbox, port, "--smtp-user", USER, "--insecure-plaintext")
        assert r_ok.exit_code == 0, r_ok.output
        assert sorted(handler.recipients()) == sorted(EVERYONE)
        assert not any(d.tls for d in handler.delivered)
    assert_no_password(outbox, r.output, r_ok.output)


def test_certificate_is_verified_by_default(workbook, pki, tmp_path):
    handler = Handler()
    outbox = tmp_path / "outbox"
    with smtp_server(handler, starttls=pki.server_context()) as port:
        r = send(workbook, outbox, port, "--smtp-user", USER)      # the test CA is not trusted
        assert r.exit_code == 1
        assert "certificate cannot be verified" in r.output and "--smtp-cafile" in r.output
        assert handler.auth_attempts == 0 and handler.delivered == []
        assert not (outbox / "send-log.jsonl").exists()


# aiosmtpd only counts STARTTLS as TLS for auth_require_tls; on an implicit-TLS port the
# whole session is encrypted, which the handler checks on the transport itself.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_implicit_tls_with_ssl(workbook, pki, tmp_path):
    handler = Handler()
    outbox = tmp_path / "outbox"
    with smtp_server(handler, implicit=pki.server_context(), auth_require_tls=False) as port:
        r = send(workbook, outbox, port, "--ssl", "--smtp-user", USER, "--smtp-cafile", str(pki.ca_pem))
        assert r.exit_code == 0, r.output
        assert sorted(handler.recipients()) == sorted(EVERYONE)
        assert all(d.tls and d.authenticated for d in handler.delivered)


def test_a_dropped_connection_does_not_stop_the_others(workbook, pki, tmp_path):
    handler = Handler(drop={"zhaomin@example.com"})
    outbox = tmp_path / "outbox"
    with smtp_server(handler, starttls=pki.server_context()) as port:
        r = send(workbook, outbox, port, "--smtp-user", USER, "--smtp-cafile", str(pki.ca_pem))
        assert r.exit_code == 1, r.output
        assert sorted(handler.recipients()) == sorted(a for a in EVERYONE if a != "zhaomin@example.com")
        # the people after the drop were sent over a new connection
        assert "陈晨" in [x["person"] for x in log_lines(outbox) if x["status"] == "sent"]
        assert "赵敏 <zhaomin@example.com>: zhaomin@example.com: connection lost" in r.output
        r2 = send(workbook, outbox, port, "--smtp-user", USER, "--smtp-cafile", str(pki.ca_pem))
        assert r2.exit_code == 0, r2.output
        assert handler.recipients()[-1] == "zhaomin@example.com" and len(handler.delivered) == 7


def test_wrong_password_stops_before_sending(workbook, pki, tmp_path):
    handler = Handler()
    with smtp_server(handler, starttls=pki.server_context()) as port:
        r = send(workbook, tmp_path, port, "--smtp-user", USER, "--smtp-cafile", str(pki.ca_pem),
                 env={"MKTSHEETS_SMTP_PASSWORD": "wrong-password"})
        assert r.exit_code == 1 and "refused the login of mkt-sender" in r.output
        assert "wrong-password" not in r.output and handler.delivered == []


def test_cc_manager_copies_the_manager(workbook, pki, tmp_path):
    handler = Handler()
    with smtp_server(handler, starttls=pki.server_context()) as port:
        r = send(workbook, tmp_path, port, "--smtp-user", USER, "--smtp-cafile", str(pki.ca_pem), "--cc-manager")
        assert r.exit_code == 0, r.output
        by_to = {d.rcpt_tos[0]: d for d in handler.delivered}
        assert by_to["zhangsan@example.com"].rcpt_tos == ["zhangsan@example.com", "sunhao@example.com"]
        assert by_to["wanglei@example.com"].rcpt_tos == ["wanglei@example.com"]


def test_settings_never_show_the_password():
    from mktsheets.mail import MailError, SmtpSettings

    s = SmtpSettings(host="smtp.example.com", user=USER, password=PASSWORD)
    assert PASSWORD not in repr(s) and PASSWORD not in str(s)
    assert (s.security, s.port_used) == ("starttls", 587)
    assert SmtpSettings(host="h", security="ssl").port_used == 465
    with pytest.raises(MailError, match="--insecure-plaintext"):
        SmtpSettings(host="h", security="plain")


def test_send_log_skips_per_period_and_survives_a_torn_line(tmp_path):
    from mktsheets.sendlog import SendLog

    log = SendLog(tmp_path)
    log.append(period="2024Q3", person="张三", address="zhangsan@example.com", message_id="<a@x>", status="sent")
    log.append(period="2024Q3", person="李四", address="lisi@example.com", message_id="<b@x>", status="failed",
               error="550")
    log.append(period="2024Q2", person="赵敏", address="zhaomin@example.com", message_id="<c@x>", status="sent")
    with log.path.open("a", encoding="utf-8") as f:
        f.write('{"period": "2024Q3", "person": "陈')             # a crash mid-write
    assert set(log.sent("2024Q3")) == {"张三"}
    assert set(log.sent("2024Q2")) == {"赵敏"}
    assert len(log.records()) == 3
