"""Email dry run: the .eml outbox, message structure and the encoding of Chinese names."""
from __future__ import annotations

import email
import email.header
import io
from email import policy
from email.parser import BytesParser

import openpyxl
import pytest
from click.testing import CliRunner

from mailkit import shared_sample
from mktsheets.cli import main
from mktsheets.mail import build_message, parse_address, parse_sender, write_outbox
from mktsheets.scorecards import collect
from mktsheets.sendlog import SendLog


@pytest.fixture(scope="module")
def workbook(tmp_path_factory):
    return shared_sample(tmp_path_factory)


@pytest.fixture(scope="module")
def outbox(workbook, tmp_path_factory):
    out = tmp_path_factory.mktemp("outbox")
    r = CliRunner().invoke(main, ["email", str(workbook), "--outbox", str(out), "--from", "市场部 <mkt@example.com>"])
    assert r.exit_code == 0, r.output
    return out, r.output


def test_dry_run_writes_one_eml_per_person_with_an_address(outbox):
    out, output = outbox
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(f"2024Q3-{n}-绩效卡.eml" for n in ("王磊", "孙浩", "张三", "李四", "赵敏", "陈晨", "刘洋"))
    assert "已写入 7 封邮件" in output and "未发送" in output
    assert "张三 <zhangsan@example.com>  2024Q3-张三-绩效卡.eml" in output
    assert "没有邮箱地址: 周婷" in output
    assert not (out / "send-log.jsonl").exists(), "a dry run sends nothing and logs nothing"


def test_subject_and_attachment_name_decode_exactly(outbox):
    out, _ = outbox
    raw = (out / "2024Q3-张三-绩效卡.eml").read_bytes()
    assert raw.isascii(), "7-bit clean: any server and client can carry it"
    # Python's modern parser
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert msg["Subject"] == "2024Q3 绩效卡 · 张三"
    assert str(msg["To"]) == "张三 <zhangsan@example.com>"
    assert str(msg["From"]) == "市场部 <mkt@example.com>"
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_filename() == "2024Q3-张三-绩效卡.xlsx"
    # how older clients decode: RFC 2047 on the raw header, RFC 2231 parameters with the compat32 API
    legacy = email.message_from_bytes(raw)
    raw_subject = legacy["Subject"]
    assert "绩效卡" not in raw_subject and "=?utf-8?" in raw_subject
    decoded = "".join(part.decode(charset or "ascii") if isinstance(part, bytes) else part
                      for part, charset in email.header.decode_header(raw_subject))
    assert decoded.replace(" ", "") == "2024Q3绩效卡·张三".replace(" ", "")
    assert str(email.header.make_header(email.header.decode_header(raw_subject))) == "2024Q3 绩效卡 · 张三"
    [legacy_att] = [p for p in legacy.walk() if p.get_filename()]
    assert legacy_att.get_filename() == "2024Q3-张三-绩效卡.xlsx"
    assert "filename*=utf-8''2024Q3-%E5%BC%A0%E4%B8%89-%E7%BB%A9%E6%95%88%E5%8D%A1.xlsx" in raw.decode()


def test_message_structure_and_bodies(outbox):
    out, _ = outbox
    msg = BytesParser(policy=policy.default).parsebytes((out / "2024Q3-张三-绩效卡.eml").read_bytes())
    assert msg.get_content_type() == "multipart/mixed"
    alternative, attachment = msg.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.get_payload()] == ["text/plain", "text/html"]
    assert msg["Message-ID"].endswith("@example.com>") and msg["Date"]
    text = msg.get_body(("plain",)).get_content()
    assert "张三，您好" in text and "总分: 94.96" in text and "等级: S" in text and "22,400.00 元" in text
    page = msg.get_body(("html",)).get_content()
    assert "<style" not in page and "<script" not in page and "<img" not in page
    assert page.count('style="') > 50, "inline CSS: mail clients drop <style> blocks"
    assert "94.96" in page and "22,400.00 元" in page
    assert attachment.get_content_type() == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    wb = openpyxl.load_workbook(io.BytesIO(attachment.get_content()))
    values = [c for row in wb.active.iter_rows(values_only=True) for c in row]
    assert "2024Q3 绩效卡 · 张三" in values and 22400 in values


def test_cc_manager_adds_the_managers_address_only(workbook, tmp_path):
    q = collect(workbook)
    result = write_outbox(q, tmp_path, sender="mkt@example.com", cc_manager=True)
    by_name = {c.name: p for c, p in result.written}
    msg = BytesParser(policy=policy.default).parsebytes(by_name["张三"].read_bytes())
    assert str(msg["Cc"]) == "sunhao@example.com"        # no display name: the message names nobody else
    top = BytesParser(policy=policy.default).parsebytes(by_name["王磊"].read_bytes())
    assert top["Cc"] is None                              # no manager


def test_already_sent_people_are_flagged_in_a_dry_run(workbook, tmp_path):
    SendLog(tmp_path).append(period="2024Q3", person="张三", address="zhangsan@example.com",
                             message_id="<x@example.com>", status="sent")
    r = CliRunner().invoke(main, ["email", str(workbook), "--outbox", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "发送记录显示已发送过（--send 时跳过）: 张三" in r.output


def test_bad_addresses_are_listed_not_used(workbook):
    q = collect(workbook)
    card = q.card("张三")
    for bad in ("zhangsan", "a@b", "x@example.com\nBcc: all@example.com", "a@b.com, c@d.com", "<a@b.com>"):
        assert parse_address(bad) is None, bad
        card.email = bad
        with pytest.raises(ValueError):
            build_message(card)
    assert parse_address("zhang.san+q3@example.com.cn").addr_spec == "zhang.san+q3@example.com.cn"
    assert parse_sender("市场部 <mkt@example.com>").addr_spec == "mkt@example.com"
    with pytest.raises(ValueError):
        parse_sender("a@example.com, b@example.com")


def test_default_outbox_is_next_to_the_workbook(workbook):
    r = CliRunner().invoke(main, ["email", str(workbook)])
    assert r.exit_code == 0, r.output
    out = workbook.with_name("2024Q3-营销团队-outbox")
    assert (out / "2024Q3-张三-绩效卡.eml").is_file()


def test_send_needs_host_and_sender(workbook, tmp_path):
    r = CliRunner().invoke(main, ["email", str(workbook), "--outbox", str(tmp_path), "--send", "--from", "a@b.cn"])
    assert r.exit_code == 2 and "--send needs --smtp-host" in r.output
    r = CliRunner().invoke(main, ["email", str(workbook), "--outbox", str(tmp_path), "--send", "--smtp-host", "h"])
    assert r.exit_code == 2 and "--send needs --from" in r.output
    r = CliRunner().invoke(main, ["email", str(workbook), "--outbox", str(tmp_path), "--send", "--smtp-host", "h",
                                  "--from", "a@b.cn", "--ssl", "--insecure-plaintext"])
    assert r.exit_code == 2 and "cannot be combined" in r.output
