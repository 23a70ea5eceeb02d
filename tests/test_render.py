"""The rendered look: the html scorecard through headless Chromium and the pdf through pdftoppm,
both to PNG in artifacts/scorecards/ (gitignored), checked for content and for not being blank."""
from __future__ import annotations

import html
import re
import shutil
import subprocess

import pytest

from mailkit import ARTIFACTS, colour_stats, need_tool, shared_sample
from mktsheets.libreoffice import convert
from mktsheets.scorecards import write_scorecards

PERSON = "张三"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    workbook = shared_sample(tmp_path_factory)
    return write_scorecards(workbook, tmp_path_factory.mktemp("cards"), "xlsx,html")


def headline(page: str) -> dict[str, str]:
    """label -> value of the four headline boxes at the top of the card."""
    pairs = re.findall(r'<div style="font-size:12px;color:#595959;">(.*?)</div>'
                       r'<div style="font-size:\d+px;font-weight:bold;[^"]*">(.*?)</div>', page)
    return {html.unescape(k): html.unescape(v) for k, v in pairs}


def test_html_rendered_by_chromium(written, tmp_path):
    chromium = need_tool("chromium", "chromium-browser", "google-chrome", package="chromium")
    card = written.quarter.card(PERSON)
    src = written.files[PERSON]["html"]
    page = src.read_text(encoding="utf-8")
    assert headline(page) == {"总分": f"{card.total:.2f}", "等级": card.grade, "排名": "第 1 名 / 共 8 人",
                              "应发合计": "22,400.00 元"}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    png = ARTIFACTS / f"{src.stem}.html.png"
    png.unlink(missing_ok=True)
    proc = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'chromium-profile'}", f"--screenshot={png}", "--window-size=900,1200",
         src.resolve().as_uri()],
        capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    assert png.is_file(), proc.stderr.decode("utf-8", "replace")[-2000:]
    colours, dark = colour_stats(png)
    assert colours > 20, "not a single colour"
    assert dark > 0.01, "text and bars are drawn"


@pytest.mark.libreoffice
def test_pdf_is_one_a4_page_holding_total_and_grade(soffice, written, tmp_path):
    pdftoppm = need_tool("pdftoppm", package="poppler-utils")
    pdftotext = need_tool("pdftotext", package="poppler-utils")
    pdfinfo = need_tool("pdfinfo", package="poppler-utils")
    pdf = convert(written.files[PERSON]["xlsx"], tmp_path, "pdf")
    info = subprocess.run([pdfinfo, str(pdf)], capture_output=True, timeout=60, check=True).stdout.decode()
    assert re.search(r"^Pages:\s+1$", info, re.M), info
    assert re.search(r"^Page size:\s+595\.\d* x 841\.\d* pts \(A4\)", info, re.M), info
    text = subprocess.run([pdftotext, "-layout", str(pdf), "-"], capture_output=True, timeout=60,
                          check=True).stdout.decode("utf-8")
    card = written.quarter.card(PERSON)
    assert PERSON in text and f"{card.total:.2f}" in text and "22,400.00" in text
    assert re.search(r"总分.*等级", text) and re.search(rf"{card.total:.2f}\s+{card.grade}\s", text), text[:800]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = ARTIFACTS / f"{pdf.stem}.pdf"
    subprocess.run([pdftoppm, "-png", "-r", "80", "-singlefile", str(pdf), str(stem)], check=True, timeout=120,
                   capture_output=True)
    png = stem.with_name(stem.name + ".png")
    assert png.is_file()
    colours, dark = colour_stats(png)
    assert colours > 20 and dark > 0.005
    shutil.copyfile(pdf, ARTIFACTS / pdf.name)
