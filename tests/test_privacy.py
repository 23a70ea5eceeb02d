"""Privacy by construction, checked from the outside: every part of every file a person gets
(xlsx package members, html, pdf text and metadata, every decoded part of the .eml including the
attached workbook) is scanned for every colleague's name, total and payout."""
from __future__ import annotations

import pytest

from click.testing import CliRunner

from mailkit import leaks, needles_for, shared_sample, texts_of
from mktsheets.cli import main
from mktsheets.mail import write_outbox
from mktsheets.scorecards import collect, write_scorecards

PEOPLE = ["王磊", "孙浩", "张三", "李四", "赵敏", "陈晨", "刘洋", "周婷"]


@pytest.fixture(scope="module")
def workbook(tmp_path_factory):
    return shared_sample(tmp_path_factory)


@pytest.fixture(scope="module")
def quarter(workbook):
    return collect(workbook)


@pytest.fixture(scope="module")
def cards(workbook, tmp_path_factory):
    return write_scorecards(workbook, tmp_path_factory.mktemp("cards"), "xlsx,html")


@pytest.fixture(scope="module")
def pdfs(soffice, workbook, tmp_path_factory):
    """`mktsheets scorecards` with LibreOffice present: every format, PDFs of cards and summaries."""
    out = tmp_path_factory.mktemp("pdf")
    r = CliRunner().invoke(main, ["scorecards", str(workbook), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "  2024Q3-张三-绩效卡.xlsx, .html, .pdf" in r.output
    assert "  2024Q3-王磊-团队汇总.xlsx, .html, .pdf" in r.output and "LibreOffice" not in r.output
    assert len(list(out.glob("*.pdf"))) == 11
    return out


@pytest.fixture(scope="module")
def outbox(quarter, tmp_path_factory):
    return write_outbox(quarter, tmp_path_factory.mktemp("outbox"), sender="mkt@example.com")


def _own_total(quarter, person):
    return f"{quarter.card(person).total:.2f}"


def _scan(path, quarter, person):
    texts = texts_of(path)
    joined = "\n".join(texts.values())
    # positive control: the extraction sees the person's own name and figures
    assert person in joined, f"{path.name}: own name not found - the scan would be blind"
    needles = needles_for(quarter, person)
    assert sum("name" in n.what for n in needles) == len(PEOPLE) - 1
    assert sum("name" not in n.what for n in needles) >= 8, "enough distinctive figures to look for"
    found = leaks(texts, needles)
    assert not found, "\n".join(found)
    return joined


@pytest.mark.parametrize("person", PEOPLE)
def test_xlsx_holds_nothing_of_colleagues(cards, quarter, person):
    joined = _scan(cards.files[person]["xlsx"], quarter, person)
    total = quarter.card(person).total
    assert f">{total:.16g}<" in joined                     # the number itself, as stored in the sheet XML


@pytest.mark.parametrize("person", PEOPLE)
def test_html_holds_nothing_of_colleagues(cards, quarter, person):
    joined = _scan(cards.files[person]["html"], quarter, person)
    assert _own_total(quarter, person) in joined


@pytest.mark.libreoffice
@pytest.mark.parametrize("person", PEOPLE)
def test_pdf_holds_nothing_of_colleagues(pdfs, quarter, person):
    joined = _scan(pdfs / quarter.card(person).filename("pdf"), quarter, person)
    assert _own_total(quarter, person) in joined


@pytest.mark.parametrize("person", PEOPLE)
def test_eml_holds_nothing_of_colleagues(outbox, quarter, person):
    written = {c.name: p for c, p in outbox.written}
    if person == "周婷":                                      # no address: no message at all
        assert person not in written and [c.name for c in outbox.no_address] == ["周婷"]
        return
    joined = _scan(written[person], quarter, person)
    assert _own_total(quarter, person) in joined
    # the attached workbook was opened and every member scanned too
    assert any(where.endswith("!xl/worksheets/sheet1.xml") for where in texts_of(written[person]))


@pytest.mark.parametrize("manager", ["王磊", "孙浩", "赵敏"])
def test_team_summary_holds_direct_reports_only(cards, quarter, manager):
    _summary_scan([cards.summaries[manager][fmt] for fmt in ("xlsx", "html")], quarter, manager)


@pytest.mark.libreoffice
@pytest.mark.parametrize("manager", ["王磊", "孙浩", "赵敏"])
def test_team_summary_pdf_holds_direct_reports_only(pdfs, quarter, manager):
    summary = next(s for s in quarter.summaries if s.manager == manager)
    _summary_scan([pdfs / summary.filename("pdf")], quarter, manager)


def _summary_scan(paths, quarter, manager):
    summary = next(s for s in quarter.summaries if s.manager == manager)
    allowed = [manager] + [c.name for c in summary.reports]
    for path in paths:
        texts = texts_of(path)
        assert all(name in "\n".join(texts.values()) for name in allowed)
        found = leaks(texts, needles_for(quarter, allowed))
        assert not found, "\n".join(found)


def test_the_scan_finds_colleagues_in_the_team_workbook(workbook, quarter):
    """Control: the same scan on the team workbook (which holds everyone) does find them."""
    found = leaks(texts_of(workbook), needles_for(quarter, "张三"))
    for other in PEOPLE:
        if other != "张三":
            assert any(f.startswith(f"{other}'s name") for f in found), other
    assert any("payout" in f for f in found) and any("total" in f for f in found)
