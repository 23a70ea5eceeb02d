"""Test helpers for scorecards and email: the sample workbook, privacy scans, a test CA,
a real SMTP server (aiosmtpd) on 127.0.0.1, and a small PNG reader.
"""
from __future__ import annotations

import datetime as dt
import io
import ipaddress
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import time
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "artifacts" / "scorecards"
REQUIRE_ALL = os.environ.get("MKTSHEETS_REQUIRE_LIBREOFFICE") == "1"   # CI: every referee required


def need_tool(*names: str, package: str) -> str:
    """Path of the first tool found; skip with a visible reason (fail in CI) when none is installed."""
    for n in names:
        found = shutil.which(n)
        if found:
            return found
    reason = f"{' / '.join(names)} not found: install the Debian package {package} to run this test"
    if REQUIRE_ALL:
        pytest.fail(reason)
    pytest.skip(reason)


def sample_workbook(path: Path, lang: str = "zh", data: dict | None = None) -> Path:
    from mktsheets.demo import localised_sample
    from mktsheets.generate import new_workbook

    new_workbook(path, period="2024Q3", lang=lang, data=data if data is not None else localised_sample(lang))
    return path


_SAMPLES: dict[str, Path] = {}


def shared_sample(tmp_path_factory, lang: str = "zh") -> Path:
    """A private copy of the sample quarter's workbook (generated once per test session)."""
    name = "2024Q3-营销团队.xlsx" if lang == "zh" else "2024Q3-marketing-team.xlsx"
    if lang not in _SAMPLES:
        _SAMPLES[lang] = sample_workbook(tmp_path_factory.mktemp(f"sample-{lang}") / name, lang=lang)
    copy = tmp_path_factory.mktemp("wb") / name
    shutil.copyfile(_SAMPLES[lang], copy)
    return copy


# ----------------------------------------------------------------- privacy scan

def own_figures(card) -> set[str]:
    """Every number the person's own card may legitimately show, rounded to 2 decimals."""
    vals = [card.total, card.payout, card.bonus, card.commission, card.adjustment, card.bonus_base,
            card.sales_target, card.sales_actual, card.quant_score, card.qual_score, card.factor, card.overall]
    for ln in card.indicators:
        vals += [ln.target, ln.actual, ln.completion, ln.score, ln.weighted, ln.weight,
                 ln.manager_score, ln.peer_score, ln.customer_score]
    for b in card.brackets:
        vals += [b.amount, b.start, b.end, b.rate, b.part]
    return {f"{v:.2f}" for v in vals if v is not None}


@dataclass
class Needle:
    what: str
    pattern: re.Pattern
    xml_pattern: re.Pattern | None = None    # inside package XML parts (None: same as pattern)


def needles_for(quarter, person: str | list[str]) -> list[Needle]:
    """What must not appear in `person`'s files: every colleague's name, and their total and payout
    in every form a file may hold (2 decimals, thousands separators, the raw number) unless the
    same figure is also one of the person's own. `person` may list several people (a team summary)."""
    allowed = [person] if isinstance(person, str) else list(person)
    mine = set().union(*(own_figures(quarter.card(p)) for p in allowed))
    out = []
    for other in quarter.cards:
        if other.name in allowed:
            continue
        out.append(Needle(f"{other.name}'s name", re.compile(re.escape(other.name))))
        for key in ("total", "payout"):
            v = getattr(other, key)
            if v is None or f"{v:.2f}" in mine:
                continue
            # as shown (2 decimals, separators) and as stored (repr; XlsxWriter writes %.16g)
            forms = {f"{v:.2f}", f"{v:,.2f}", repr(float(v)), f"{v:.15g}", f"{v:.16g}", f"{v:.17g}"}
            if float(v).is_integer():
                forms.add(str(int(v)))
            alt = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
            # In package XML a round number like 30000 is also a style parameter (theme shadows,
            # chart offsets); as a cell or cache value it is element text: <v>30000</v>.
            dec = "|".join(re.escape(f) for f in sorted(forms - {str(int(v))} if float(v).is_integer() else forms,
                                                        key=len, reverse=True))
            xml = rf"(?<![\d.,])(?:{dec})(?![\d])" + (rf"|(?<=>){int(v)}(?:\.0+)?(?=<)"
                                                        if float(v).is_integer() else "")
            out.append(Needle(f"{other.name}'s {key} {v}", re.compile(rf"(?<![\d.,])(?:{alt})(?![\d])"),
                              re.compile(xml)))
    return out


def texts_of_xlsx(data: bytes, label: str) -> dict[str, str]:
    """Every member of the zip package, decoded (XML parts are UTF-8)."""
    out = {}
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for info in z.infolist():
            out[f"{label}!{info.filename}"] = z.read(info).decode("utf-8", "replace")
    return out


def texts_of_pdf(path: Path) -> dict[str, str]:
    pdftotext = need_tool("pdftotext", package="poppler-utils")
    pdfinfo = need_tool("pdfinfo", package="poppler-utils")
    text = subprocess.run([pdftotext, "-layout", "-enc", "UTF-8", str(path), "-"], capture_output=True,
                          check=True, timeout=60).stdout.decode("utf-8", "replace")
    info = subprocess.run([pdfinfo, "-enc", "UTF-8", str(path)], capture_output=True, check=True,
                          timeout=60).stdout.decode("utf-8", "replace")
    raw = path.read_bytes().decode("latin-1")
    return {f"{path.name} (text)": text, f"{path.name} (info)": info, f"{path.name} (raw)": raw}


def texts_of_eml(raw: bytes, label: str) -> dict[str, str]:
    """Raw bytes, every header decoded, every text part decoded, every attachment (zip members)."""
    out = {f"{label} (raw)": raw.decode("utf-8", "replace")}
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    for i, part in enumerate(msg.walk()):
        out[f"{label} part {i} headers"] = "\n".join(f"{k}: {v}" for k, v in part.items())
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True) or b""
        if part.get_content_maintype() == "text":
            out[f"{label} part {i} text"] = part.get_content()
        elif payload[:2] == b"PK":
            out.update(texts_of_xlsx(payload, f"{label} part {i} {part.get_filename()}"))
        else:
            out[f"{label} part {i} bytes"] = payload.decode("latin-1")
    return out


def texts_of(path: Path) -> dict[str, str]:
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return texts_of_xlsx(path.read_bytes(), path.name)
    if suffix == ".pdf":
        return texts_of_pdf(path)
    if suffix == ".eml":
        return texts_of_eml(path.read_bytes(), path.name)
    if suffix == ".html":
        import html

        text = path.read_text(encoding="utf-8")
        return {path.name: text, f"{path.name} (unescaped)": html.unescape(text)}
    raise AssertionError(f"no scanner for {path}")


def leaks(texts: dict[str, str], needles: list[Needle]) -> list[str]:
    found = []
    for where, text in texts.items():
        is_xml = "!" in where            # a member of a zip package (xlsx, or the attachment of an .eml)
        for n in needles:
            m = (n.xml_pattern if is_xml and n.xml_pattern is not None else n.pattern).search(text)
            if m:
                found.append(f"{n.what} in {where}: …{text[max(0, m.start() - 40):m.end() + 40]!r}…")
    return found


# ----------------------------------------------------------------- a test CA and TLS contexts

@dataclass
class TestPKI:
    ca_pem: Path
    cert_pem: Path
    key_pem: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_pem, self.key_pem)
        return ctx


def make_pki(directory: Path) -> TestPKI:
    """A CA and a server certificate for localhost / 127.0.0.1 signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mktsheets test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(ca_ski, critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
            .sign(ca_key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    pki = TestPKI(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    pki.ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pki.cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
    return pki


# ----------------------------------------------------------------- a real SMTP server

USER = "mkt-sender"
PASSWORD = "Pw-7f3kQ9-zx81-unique"


@dataclass
class Delivered:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool
    authenticated: bool


@dataclass
class Handler:
    """Accepts mail, except: addresses in `reject` get 550, messages to `drop` lose the connection."""

    reject: set[str] = field(default_factory=set)
    drop: set[str] = field(default_factory=set)
    delivered: list[Delivered] = field(default_factory=list)
    auth_attempts: int = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.drop & set(envelope.rcpt_tos):
            self.drop -= set(envelope.rcpt_tos)      # drop once
            server.transport.close()
            return "421 4.4.2 connection dropped by test"
        tls = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        self.delivered.append(Delivered(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content
                                        or envelope.content, tls, bool(session.authenticated)))
        return "250 2.0.0 accepted"

    def authenticator(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult, LoginPassword

        self.auth_attempts += 1
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode()
              and auth_data.password == PASSWORD.encode())
        return AuthResult(success=ok, handled=False)

    def recipients(self) -> list[str]:
        return [r for d in self.delivered for r in d.rcpt_tos]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    """Poll until something accepts connections on 127.0.0.1:port (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no SMTP server on 127.0.0.1:{port} after {timeout} s") from None
            time.sleep(0.05)


@contextmanager
def smtp_server(handler: Handler, *, starttls: ssl.SSLContext | None = None, implicit: ssl.SSLContext | None = None,
                auth: bool = True, auth_require_tls: bool = True):
    from aiosmtpd.controller import Controller

    port = free_port()
    kwargs = dict(hostname="127.0.0.1", port=port, ready_timeout=10, server_hostname="localhost")
    if implicit is not None:
        kwargs["ssl_context"] = implicit
    if starttls is not None:
        kwargs.update(tls_context=starttls, require_starttls=True)
    if auth:
        kwargs.update(authenticator=handler.authenticator, auth_required=True, auth_require_tls=auth_require_tls)
    controller = Controller(handler, **kwargs)
    controller.start()
    try:
        wait_for_port(port)
        yield port
    finally:
        controller.stop()


# ----------------------------------------------------------------- PNG pixels

def png_pixels(path: Path) -> tuple[int, int, int, bytes]:
    """(width, height, bytes per pixel, raw pixel rows) of an 8-bit non-interlaced PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0, f"unsupported PNG {depth=} {interlace=}"
            bpp = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    out = bytearray(height * stride)
    prev = bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif f == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out[y * stride:(y + 1) * stride] = line
        prev = line
    return width, height, bpp, bytes(out)


def colour_stats(path: Path) -> tuple[int, float]:
    """(number of distinct colours, share of dark pixels) of a PNG."""
    width, height, bpp, pixels = png_pixels(path)
    colours, dark = set(), 0
    for i in range(0, len(pixels), bpp):
        px = pixels[i:i + min(bpp, 3)]
        colours.add(px)
        if sum(px) < 3 * 110:
            dark += 1
    return len(colours), dark / (width * height)
