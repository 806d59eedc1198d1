"""The paper copy of a signed retirement certificate (docs/verification.md, section 8): the same
facts as the JSON, a QR code of the public serial lookup, and the JWS itself, so that the paper
can be checked as well as the file.

Rendered with reportlab's canvas in invariant mode (fixed dates and document id), so the same
certificate always gives the same bytes and the same ETag. Text is set in Helvetica, and what
Helvetica cannot print (Chinese) in reportlab's built-in CID font STSong-Light, which needs no
font file: PDF readers supply the glyphs."""
from __future__ import annotations

import io
import itertools
import unicodedata

import segno
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

from carbon_credits.config import get_settings
from carbon_credits.domain import certificates as certificate_rules
from carbon_credits.domain.vocabulary import mg_to_grams

LATIN_FONT = "Helvetica"
CJK_FONT = "STSong-Light"
MONO_FONT = "Courier"  # the JWS: every character the same width
PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 50
TEXT_WIDTH = PAGE_WIDTH - 2 * MARGIN
QR_SIZE = 130  # points (about 46 mm): a phone reads it off paper easily
JWS_SIZE = 6.5

pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))


def _printable(text: str) -> str:
    """Control characters (a newline in a purpose, say) would print as boxes."""
    return "".join(" " if unicodedata.category(c).startswith("C") else c for c in text)


def _font_of(char: str) -> str:
    """Helvetica prints what its encoding (WinAnsi, i.e. cp1252) has; Chinese goes to the CID font."""
    try:
        char.encode("cp1252")
    except UnicodeEncodeError:
        return CJK_FONT
    return LATIN_FONT


def _runs(text: str, font: str | None) -> list[tuple[str, str]]:
    """(font, text) runs: `font` for all of it, or each character in the font that prints it."""
    if font is not None:
        return [(font, text)]
    return [(f, "".join(chars)) for f, chars in itertools.groupby(text, key=_font_of)]


def _width(text: str, size: float) -> float:
    return sum(pdfmetrics.stringWidth(run, f, size) for f, run in _runs(text, None))


def _wrap(text: str, size: float, width: float) -> list[str]:
    """Lines no wider than `width`, broken at a space where there is one, else anywhere
    (Chinese has no spaces)."""
    lines, line = [], ""
    for char in _printable(text):
        if _width(line + char, size) <= width:
            line += char
            continue
        cut = line.rfind(" ")
        if char != " " and cut > 0:
            lines.append(line[:cut])
            line = line[cut + 1:] + char
        else:
            lines.append(line)
            line = char.lstrip()
    return lines + [line] if line or not lines else lines


class _Writer:
    """Lines down the page, starting a new page when one is full."""

    def __init__(self, canvas: Canvas):
        self.canvas = canvas
        self.y = PAGE_HEIGHT - MARGIN

    def room(self, height: float) -> None:
        if self.y - height < MARGIN:
            self.canvas.showPage()
            self.y = PAGE_HEIGHT - MARGIN

    def line(self, text: str, *, size: float = 10, font: str | None = None, x: float = MARGIN,
             leading: float = 1.35) -> None:
        """One line of text; `font` None: Helvetica, with Chinese in the CID font."""
        self.room(size * leading)
        for run_font, run in _runs(text, font):
            self.canvas.setFont(run_font, size)
            self.canvas.drawString(x, self.y - size, run)
            x += pdfmetrics.stringWidth(run, run_font, size)
        self.y -= size * leading

    def field(self, label: str, values: list[str]) -> None:
        self.line(label, size=8)
        for value in values:
            for text in _wrap(value, 10, TEXT_WIDTH - 12):
                self.line(text, x=MARGIN + 12)
        self.y -= 4


def _fields(certificate: dict) -> list[tuple[str, list[str]]]:
    grams = certificate["retired_g"]
    tonnes = format(certificate_rules.tonnes(certificate["retired_mg"]), "f")
    unit_g = format(mg_to_grams(certificate["unit_mg"]), "f")
    methodology = certificate["methodology"]
    rows = [
        ("证书编号 / Certificate", [certificate["certificate_id"]]),
        ("受益方 / Beneficiary", [certificate["beneficiary"]]),
        ("用途 / Purpose", [certificate["purpose"]]),
        ("注销序列号 / Serials retired", certificate["serials"]),
        ("数量 / Quantity", [f"{certificate['quantity']} × {unit_g} g = {grams} g CO2e "
                            f"({tonnes} tCO2e)"]),
        ("方法学 / Methodology", [f"{methodology['code']} version {methodology['version']}"]),
        ("年份 / Vintage", [str(certificate["vintage_year"])]),
        ("减排期间 / Period", [f"{certificate['period']['from']} to {certificate['period']['to']}"]),
        ("注销时间 / Retired at (UTC)", [certificate["retired_at"]]),
        ("批次 / Lot", [certificate["lot_id"]]),
        ("批次默克尔根 / Lot Merkle root", [certificate["lot_merkle_root"]]),
    ]
    if certificate["event_id"]:
        rows.append(("碳中和活动 / Carbon-neutral event", [certificate["event_id"]]))
    return rows


def _qr_code(writer: _Writer, url: str) -> None:
    """The lookup URL as a QR code, the URL printed beside it."""
    png = io.BytesIO()
    # A regular QR code, never Micro QR: every phone camera reads it.
    segno.make_qr(url, error="m").save(png, kind="png", scale=4, border=4)
    png.seek(0)
    writer.room(QR_SIZE + 10)
    top = writer.y
    writer.canvas.drawImage(ImageReader(png), MARGIN, top - QR_SIZE, width=QR_SIZE, height=QR_SIZE)
    text_x = MARGIN + QR_SIZE + 12
    writer.line("扫码查询序列号 / Scan to look up these serials", size=9, x=text_x)
    for text in _wrap(url, 8, PAGE_WIDTH - MARGIN - text_x):
        writer.line(text, size=8, x=text_x)
    writer.y = min(writer.y, top - QR_SIZE) - 10


def _signature(writer: _Writer, jws: str) -> None:
    keys = f"{get_settings().public_base_url}/.well-known/carbon-credits-keys"
    writer.line("签名 / Signature", size=10)
    for text in _wrap("A JWS (RFC 7515) signed with Ed25519 (RFC 8037) whose payload is this "
                      f"certificate; check it against the service's public keys at {keys}.",
                      8, TEXT_WIDTH):
        writer.line(text, size=8)
    per_line = int(TEXT_WIDTH // pdfmetrics.stringWidth("M", MONO_FONT, JWS_SIZE))
    for start in range(0, len(jws), per_line):
        writer.line(jws[start:start + per_line], size=JWS_SIZE, font=MONO_FONT, leading=1.25)


def certificate_pdf(signed: dict) -> bytes:
    """`signed` as served in JSON ({"certificate_id", "document", "certificate"}) as a PDF."""
    certificate = signed["certificate"]
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1)
    canvas.setTitle(f"Retirement certificate {certificate['certificate_id']}")
    canvas.setSubject(f"碳减排量注销证明 / Retirement certificate: {certificate['retired_g']} g CO2e "
                      f"retired for {_printable(certificate['beneficiary'])}")
    canvas.setCreator("carbon-credits")
    writer = _Writer(canvas)
    writer.line("碳减排量注销证明", size=20)
    writer.line("Retirement certificate", size=14, font="Helvetica-Bold")
    writer.y -= 8
    for label, values in _fields(certificate):
        writer.field(label, values)
    if certificate["lookup_url"]:
        _qr_code(writer, certificate["lookup_url"])
    _signature(writer, signed["document"])
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
