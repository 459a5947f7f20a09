"""The volunteer service certificate (志愿服务证明), pure: its fields, its PDF in Chinese, and
the Ed25519 signature that makes one changed byte anywhere detectable offline.

The signature covers the file itself rather than a re-extraction of its text: what a school
or employer holds is a file, and checking the exact bytes needs no PDF parser, only the
public key. The PDF that reportlab writes is followed by one comment line (PDF readers skip
comments after the body) and a final ``%%EOF``::

    %fieldapp-certificate/1 <number> sha256=<fields digest> ed25519=<public key> sig=<signature>

The signature is over every byte before ``sig=``, so it binds the rendered PDF, the number,
the digest of the certificate's fields (the same digest the server's register of issued
certificates keeps) and the key. Every part is lowercase hex of a fixed length and the line
must end the file exactly, so no byte can change without the check failing.

``assess`` turns a signature check and what the register holds under the number into one
verdict, so that the CLI and the online check (POST /api/v1/certificates/verify) say the
same thing in the same words.
"""
from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass
from xml.sax.saxutils import escape

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

FORMAT = b"%fieldapp-certificate/1"
TRAILER = re.compile(
    rb"\n%fieldapp-certificate/1 (?P<number>[A-Z0-9-]{1,32}) sha256=(?P<digest>[0-9a-f]{64}) "
    rb"ed25519=(?P<key>[0-9a-f]{64}) sig=(?P<sig>[0-9a-f]{128})\n%%EOF\n\Z")
# The numbers this server gives (issue_certificate): ZYFW-<date of issue>-<32 random bits>.
NUMBER = re.compile(r"ZYFW-[0-9]{8}-[0-9A-F]{8}")
# A long history is summarised rather than run over the page.
MAX_CONTENT_LINES = 12

LABELS = (
    ("number", "证明编号 Certificate No."),
    ("volunteer_name", "志愿者姓名 Name"),
    ("volunteer_number", "志愿者编号 Volunteer No."),
    ("period", "服务时间 Service period"),
    ("total_hours", "服务时长 Total hours"),
    ("service_content", "服务内容 Service content"),
    ("organisation", "出具组织 Issuing organisation"),
    ("person_in_charge", "负责人 Person in charge"),
    ("handler", "经办人 Handler"),
    ("contact", "联系方式 Contact"),
    ("issued_on", "出具日期 Date"),
)


@dataclass(frozen=True)
class Verified:
    ok: bool
    problem: str | None = None
    number: str | None = None
    fields_sha256: str | None = None
    key_fingerprint: str | None = None


@dataclass(frozen=True)
class Registered:
    """What the register of issued certificates keeps under a number, as far as a check of
    a file needs it."""

    fields_sha256: str
    pdf_sha256: str
    issued_on: str


def canonical(fields: dict) -> bytes:
    """The fields as canonical JSON (keys sorted, no spaces, non-ASCII kept)."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def fields_digest(fields: dict) -> str:
    return hashlib.sha256(canonical(fields)).hexdigest()


def service_content(entries: list[dict]) -> list[str]:
    """One line per accepted task: its title, site and hours."""
    lines = [f"{e['task_title']}（{e['site_name'] or '指定区域'}，{e['on_site_hours']} 小时）"
             for e in entries[:MAX_CONTENT_LINES]]
    if len(entries) > MAX_CONTENT_LINES:
        lines.append(f"等共 {len(entries)} 项监测任务")
    return lines


def render(fields: dict, font: str, key_fingerprint: str) -> bytes:
    """The certificate as a one-page Chinese PDF (unsigned)."""
    body = ParagraphStyle("body", fontName=font, fontSize=11, leading=17, wordWrap="CJK")
    cell = ParagraphStyle("cell", parent=body, fontSize=10, leading=14)
    title = ParagraphStyle("title", parent=body, fontSize=22, leading=30,
                           alignment=TA_CENTER)
    small = ParagraphStyle("small", parent=body, fontSize=8, leading=11,
                           textColor=colors.HexColor("#57606a"))
    period = f"{fields['period_start'] or '—'} 至 {fields['period_end'] or '—'}"
    values = dict(fields, period=period, total_hours=f"{fields['total_hours']} 小时",
                  service_content="<br/>".join(escape(line)
                                               for line in fields["service_content"]) or "—")
    rows = [[Paragraph(label, cell),
             Paragraph(values[key] if key == "service_content"
                       else escape(str(values[key] or "—")), cell)]
            for key, label in LABELS]
    table = Table(rows, colWidths=[56 * mm, 110 * mm])
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#9aa4ae")),
        ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f4f6f8")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    statement = (f"兹证明 {escape(fields['volunteer_name'])}（志愿者编号："
                 f"{escape(fields['volunteer_number'])}）于 {escape(period)} 期间在"
                 f"{escape(fields['organisation'])}参加志愿服务，累计志愿服务时长 "
                 f"{fields['total_hours']} 小时（仅计到场签到至签退的时间）。特此证明。")
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=22 * mm, rightMargin=22 * mm,
                            topMargin=20 * mm, bottomMargin=20 * mm,
                            title=f"志愿服务证明 {fields['number']}",
                            author=fields["organisation"], subject=fields["number"],
                            initialFontName=font)
    doc.build([
        Paragraph("志愿服务证明", title), Spacer(1, 8 * mm), Paragraph(statement, body),
        Spacer(1, 6 * mm), table, Spacer(1, 8 * mm),
        Paragraph(f"出具组织（盖章）：{escape(fields['organisation'])}", body),
        Paragraph(f"出具日期：{escape(fields['issued_on'])}", body), Spacer(1, 10 * mm),
        Paragraph("依据《志愿服务记录与证明出具办法》（民政部令第67号）出具。本文件以服务器 "
                  "Ed25519 密钥签名，任何一个字节被改动都会被发现：fieldapp certificate "
                  f"verify 文件.pdf。公钥指纹 {escape(key_fingerprint)}", small),
    ])
    return out.getvalue()


def sign(pdf: bytes, number: str, digest: str, key: Ed25519PrivateKey) -> bytes:
    """The PDF followed by its signature line and a final %%EOF."""
    raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
    signed = (pdf.rstrip(b"\n") + b"\n" + FORMAT + b" " + number.encode("ascii")
              + b" sha256=" + digest.encode("ascii") + b" ed25519=" + raw.hex().encode()
              + b" sig=")
    return signed + key.sign(signed).hex().encode() + b"\n%%EOF\n"


def verify(data: bytes, expected_key: Ed25519PublicKey | None) -> Verified:
    """Check a certificate's signature; with expected_key, that this key made it."""
    found = TRAILER.search(data)
    if not found:
        return Verified(False, "no fieldapp certificate signature at the end of the file")
    raw = bytes.fromhex(found["key"].decode())
    key = Ed25519PublicKey.from_public_bytes(raw)
    fingerprint = "SHA256:" + hashlib.sha256(key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).hexdigest()
    base = dict(number=found["number"].decode(), fields_sha256=found["digest"].decode(),
                key_fingerprint=fingerprint)
    try:
        key.verify(bytes.fromhex(found["sig"].decode()), data[:found.start("sig")])
    except InvalidSignature:
        return Verified(False, "the signature does not match the file: it was changed", **base)
    if expected_key is not None and expected_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw) != raw:
        return Verified(False, f"signed by another key ({fingerprint})", **base)
    return Verified(True, None, **base)


def assess(verified: Verified, file_sha256: str, registered: Registered | None,
           consulted: bool) -> dict:
    """The verdict on a file: its signature (verified against this server's key, or the key
    given offline), then, if the register was consulted, whether it holds the number with
    these fields and this very file.

    The register is consulted only for a file this server's key signed: for any other, the
    number and digest are whatever its maker wrote, and the answer must not tell them
    whether such a number exists. So the answer holds nothing that the file does not carry
    itself (the date of issue is one of its fields), only yes or no.
    """
    problems = [] if verified.ok else [verified.problem]
    looked_up = consulted and verified.ok
    found = registered is not None
    fields_match = file_matches = None
    if looked_up and not found:
        problems.append(f"certificate {verified.number} is not in the register of "
                        "certificates this server issued")
    if looked_up and found:
        fields_match = registered.fields_sha256 == verified.fields_sha256
        file_matches = registered.pdf_sha256 == file_sha256
        if not fields_match:
            problems.append(f"the fields of certificate {verified.number} differ from those "
                            "registered")
        if not file_matches:
            problems.append(f"the file is not the one issued as certificate {verified.number}")
    valid = not problems
    signed = (f"certificate {verified.number}, fields sha256 {verified.fields_sha256}, "
              f"signed by {verified.key_fingerprint}")
    if not valid:
        summary = None
    elif looked_up:
        summary = (f"{signed}; in the register, issued on {registered.issued_on}, fields and "
                   "file as registered")
    else:
        summary = f"{signed} (the signature only: the register was not consulted)"
    return {
        "valid": valid, "problems": problems, "summary": summary,
        "number": verified.number, "fields_sha256": verified.fields_sha256,
        "key_fingerprint": verified.key_fingerprint, "signature_valid": verified.ok,
        "registered": found if looked_up else None, "fields_match": fields_match,
        "file_matches": file_matches,
        "issued_on": registered.issued_on if valid and looked_up else None,
    }


def lines(verdict: dict) -> list[str]:
    """The verdict as `fieldapp certificate verify` prints it."""
    if verdict["valid"]:
        return [f"OK: {verdict['summary']}"]
    return [f"PROBLEM: {problem}" for problem in verdict["problems"]]
