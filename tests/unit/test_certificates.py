"""The certificate's pure core: its PDF carries every field in Chinese, and its signature
line refuses one changed byte anywhere in the file, or another key."""
from __future__ import annotations

import hashlib
import subprocess
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fieldapp.dossiers.catalog import load_fonts, resolve_font_path
from fieldapp.volunteers import certificates, records

FIELDS = {
    "number": "ZYFW-20261201-0A1B2C3D", "volunteer_name": "李小梅",
    "volunteer_number": "4f0e6c1e-0000-4000-8000-000000000001",
    "period_start": "2026-05-01", "period_end": "2026-11-30", "total_hours": 12.5,
    "total_on_site_s": 45000, "service_content": ["河涌排口夜查（印染厂，1.5 小时）"],
    "organisation": "绿水青山环保志愿者协会", "person_in_charge": "王建国", "handler": "陈静",
    "contact": "020-12345678", "issued_on": "2026-12-01",
}


def _signed(key) -> bytes:
    font = load_fonts(resolve_font_path()).text
    pdf = certificates.render(FIELDS, font, "SHA256:" + "ab" * 32)
    return certificates.sign(pdf, FIELDS["number"], certificates.fields_digest(FIELDS), key)


def test_pdf_text_has_every_field(tmp_path):
    path = tmp_path / "c.pdf"
    path.write_bytes(_signed(Ed25519PrivateKey.generate()))
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True,
                          text=True).stdout
    for value in ("志愿服务证明", "李小梅", FIELDS["volunteer_number"], "2026-05-01",
                  "2026-11-30", "12.5 小时", "河涌排口夜查", "绿水青山环保志愿者协会", "王建国",
                  "陈静", "020-12345678", FIELDS["number"], "2026-12-01"):
        assert value in text, value


def test_signature_verifies_and_any_changed_byte_is_refused():
    key = Ed25519PrivateKey.generate()
    data = _signed(key)
    good = certificates.verify(data, key.public_key())
    assert good.ok and good.number == FIELDS["number"]
    assert good.fields_sha256 == certificates.fields_digest(FIELDS)
    # Every byte of the signature line and the end, and bytes spread over the whole PDF.
    tail = data.rindex(b"\n%fieldapp-certificate/1")
    positions = set(range(tail, len(data))) | set(range(0, tail, max(1, tail // 400)))
    for position in sorted(positions):
        for flip in (0x01, 0x20):
            changed = bytearray(data)
            changed[position] ^= flip
            assert not certificates.verify(bytes(changed), key.public_key()).ok, position
    assert not certificates.verify(data + b"\n", key.public_key()).ok
    assert not certificates.verify(data[:-1], key.public_key()).ok


def test_another_key_is_refused_even_with_a_valid_signature():
    data = _signed(Ed25519PrivateKey.generate())
    result = certificates.verify(data, Ed25519PrivateKey.generate().public_key())
    assert not result.ok and "another key" in result.problem
    assert certificates.verify(data, None).ok


def test_record_counts_accepted_claims_only_and_csv_has_a_bom():
    at = datetime(2026, 5, 1, 2, tzinfo=UTC)
    visit = {"checked_in_at": at, "checked_out_at": at, "on_site_s": 5400}
    claim = {"claim_id": "c1", "task_id": "t1", "task_title": "=cmd()", "site_id": None,
             "site_name": None, "reports": 2, "visits": [visit],
             "evaluation": {"decision": "accepted", "rating": 5, "reason": None,
                            "evaluated_at": at}}
    built = records.record({"user_id": "u"}, [dict(claim, status="accepted"),
                                              dict(claim, claim_id="c2", status="needs_more")],
                           [], "org")
    assert [e["claim_id"] for e in built["entries"]] == ["c1"]
    assert (built["total_on_site_s"], built["total_hours"]) == (5400, 1.5)
    text = records.to_csv(built)
    assert text.startswith("\ufeff")
    assert "'=cmd()" in text  # never a spreadsheet formula


def test_the_verdict_consults_the_register_only_for_a_valid_signature():
    key = Ed25519PrivateKey.generate()
    data = _signed(key)
    digest = certificates.fields_digest(FIELDS)
    file_sha = hashlib.sha256(data).hexdigest()
    good = certificates.verify(data, key.public_key())
    held = certificates.Registered(digest, file_sha, FIELDS["issued_on"])

    verdict = certificates.assess(good, file_sha, held, consulted=True)
    assert verdict["valid"] and verdict["issued_on"] == "2026-12-01"
    assert certificates.lines(verdict) == [f"OK: {verdict['summary']}"]
    assert "in the register, issued on 2026-12-01" in verdict["summary"]

    # The same fields in another file (re-signed): only the file differs.
    other_file = certificates.assess(good, "0" * 64, held, consulted=True)
    assert (other_file["fields_match"], other_file["file_matches"]) == (True, False)
    assert certificates.lines(other_file) == [
        f"PROBLEM: the file is not the one issued as certificate {FIELDS['number']}"]
    assert other_file["issued_on"] is None

    offline = certificates.assess(good, file_sha, None, consulted=False)
    assert offline["valid"] and offline["registered"] is None
    assert offline["summary"].endswith("(the signature only: the register was not consulted)")

    refused = certificates.verify(data, Ed25519PrivateKey.generate().public_key())
    verdict = certificates.assess(refused, file_sha, held, consulted=True)
    assert (verdict["registered"], verdict["fields_match"], verdict["issued_on"]) == (
        None, None, None)
    assert certificates.lines(verdict) == [f"PROBLEM: {refused.problem}"]
