"""The register of certificates issued, on real PostGIS: looked up by number by admins (in
the access log) and by the volunteer it was issued to; any file checked online by anyone,
with an answer that says nothing the file does not, and the same verdict in the same words
as `fieldapp certificate verify`: for a genuine certificate, one with a changed byte, one
signed by another key, one this server's key signed but never issued, and one re-signed
with other fields under a registered number."""
from __future__ import annotations

import io
import uuid

import psycopg2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fieldapp.dossiers import keys
from fieldapp.dossiers.catalog import load_fonts, resolve_font_path
from fieldapp.volunteers import certificates
from tests.helpers import TEST_OWNER_DB_URL, auth
from tests.integration.test_service_records import _count, _visit, issuer

VERIFY = "/api/v1/certificates/verify"
ANSWER_KEYS = {"valid", "problems", "summary", "number", "fields_sha256", "key_fingerprint",
               "signature_valid", "registered", "fields_match", "file_matches", "issued_on"}
REAL_NAME = "赵晓燕"


@pytest.fixture(scope="module")
def issued(app):
    """A volunteer with a real name and accepted service, one certificate issued to them,
    and an admin: (volunteer, admin, pdf bytes, the register's row as the admin reads it)."""
    from fieldapp.accounts import service

    client = app.test_client()
    with app.app_context():
        made = {}
        for role in ("volunteer", "coordinator", "admin"):
            user = service.create_user(f"{role}-{uuid.uuid4().hex[:10]}@example.org",
                                       service.generate_password(), role)
            made[role] = (user.id, user.email, service.issue_token(user))
    volunteer, admin = made["volunteer"], made["admin"]
    # The schema owner's hand that _visit uses to put the visit's start back.
    owner = psycopg2.connect(TEST_OWNER_DB_URL)
    try:
        _visit(client, owner, volunteer, made["coordinator"], "印染厂排口复查", 75, "accepted",
               5201)
    finally:
        owner.close()
    assert client.put(f"/api/v1/volunteers/{volunteer[0]}/identity", headers=auth(admin[2]),
                      json={"real_name": REAL_NAME}).status_code == 200
    with issuer(app):
        response = client.get("/api/v1/volunteers/me/certificate", headers=auth(volunteer[2]))
    assert response.status_code == 200, response.get_json()
    number = certificates.TRAILER.search(response.data)["number"].decode()
    entry = client.get(f"/api/v1/certificates/{number}", headers=auth(admin[2]))
    assert entry.status_code == 200, entry.get_json()
    return volunteer, admin, response.data, entry.get_json()


def _check_both_ways(app, client, tmp_path, data: bytes) -> dict:
    """The online answer for a file, after checking that the CLI says the same."""
    online = client.post(VERIFY, data={"file": (io.BytesIO(data), "certificate.pdf")},
                         content_type="multipart/form-data")
    assert online.status_code == 200, online.get_json()
    verdict = online.get_json()
    assert set(verdict) == ANSWER_KEYS
    path = tmp_path / f"{uuid.uuid4().hex}.pdf"
    path.write_bytes(data)
    printed = app.test_cli_runner().invoke(args=["certificate", "verify", str(path)])
    if verdict["valid"]:
        assert printed.output.splitlines() == [f"OK: {verdict['summary']}"]
        assert printed.exit_code == 0
    else:
        assert printed.output.splitlines() == [f"PROBLEM: {p}" for p in verdict["problems"]]
        assert printed.exit_code == 1
    return verdict


def _signed(fields: dict, key: Ed25519PrivateKey) -> bytes:
    font = load_fonts(resolve_font_path()).text
    pdf = certificates.render(fields, font, keys.fingerprint(key))
    return certificates.sign(pdf, fields["number"], certificates.fields_digest(fields), key)


def test_a_genuine_certificate_verifies_online_and_offline_and_says_nothing_more(
        app, client, issued, tmp_path):
    volunteer, _, pdf, entry = issued
    verdict = _check_both_ways(app, client, tmp_path, pdf)
    assert verdict["valid"] and verdict["problems"] == []
    assert (verdict["signature_valid"], verdict["registered"], verdict["fields_match"],
            verdict["file_matches"]) == (True, True, True, True)
    assert verdict["number"] == entry["number"]
    assert verdict["fields_sha256"] == entry["fields_sha256"]
    assert verdict["key_fingerprint"] == entry["key_fingerprint"]
    assert verdict["issued_on"] == entry["fields"]["issued_on"]
    # Everything in the answer is in the file; the register's other columns are not.
    said = str(verdict)
    for withheld in (REAL_NAME, str(volunteer[0]), entry["pdf_sha256"], entry["issued_at"],
                     entry["issued_by"]):
        assert withheld not in said, withheld


def test_a_changed_byte_is_refused_online_and_offline_and_the_register_is_not_consulted(
        app, client, issued, tmp_path):
    pdf = bytearray(issued[2])
    pdf[len(pdf) // 3] ^= 0x01
    verdict = _check_both_ways(app, client, tmp_path, bytes(pdf))
    assert not verdict["valid"] and not verdict["signature_valid"]
    assert verdict["problems"] == ["the signature does not match the file: it was changed"]
    assert (verdict["registered"], verdict["fields_match"], verdict["issued_on"]) == (
        None, None, None)


def test_another_keys_certificate_is_refused_without_telling_whether_its_number_exists(
        app, client, issued, tmp_path):
    entry = issued[3]
    # Another key, even with a number that is in the register and its very fields.
    other = Ed25519PrivateKey.generate()
    forged = _signed(entry["fields"], other)
    verdict = _check_both_ways(app, client, tmp_path, forged)
    assert not verdict["valid"] and not verdict["signature_valid"]
    [problem] = verdict["problems"]
    assert problem.startswith("signed by another key")
    assert verdict["registered"] is None
    unknown = _check_both_ways(app, client, tmp_path, _signed(
        dict(entry["fields"], number="ZYFW-20260101-0BADF00D"), other))
    assert {k: v for k, v in unknown.items() if k not in ("number", "fields_sha256",
                                                          "problems")} == {
        k: v for k, v in verdict.items() if k not in ("number", "fields_sha256", "problems")}
    # Offline, with that key given, its signature alone holds, and the CLI says so.
    pem = tmp_path / "other.pem"
    pem.write_bytes(keys.public_key_pem(other))
    path = tmp_path / "other.pdf"
    path.write_bytes(forged)
    printed = app.test_cli_runner().invoke(args=["certificate", "verify", str(path),
                                                 "--key", str(pem)])
    assert printed.exit_code == 0, printed.output
    assert "the signature only: the register was not consulted" in printed.output


def test_a_key_that_is_not_an_ed25519_public_key_is_named_not_a_traceback(app, issued,
                                                                          tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = tmp_path / "c.pdf"
    path.write_bytes(b"%PDF-1.7 not even a certificate")
    elliptic = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    for name, pem, said in (("garbage.pem", b"not a key", "--key: not a PEM public key"),
                            ("p256.pem", elliptic, "--key: not an Ed25519 public key")):
        (tmp_path / name).write_bytes(pem)
        printed = app.test_cli_runner().invoke(
            args=["certificate", "verify", str(path), "--key", str(tmp_path / name)])
        # A clear refusal (click's exit 1), not an exception escaping the command.
        assert isinstance(printed.exception, SystemExit), printed.exception
        assert printed.exit_code == 1 and said in printed.output


def test_this_servers_key_on_a_number_never_issued_or_on_other_fields_is_refused(
        app, client, issued, tmp_path):
    entry = issued[3]
    own = keys.signing_key(app.config["FIELDAPP_DATA_DIR"])
    never = dict(entry["fields"], number="ZYFW-20260101-0BADF00D", total_hours=300.0)
    verdict = _check_both_ways(app, client, tmp_path, _signed(never, own))
    assert verdict["signature_valid"] and not verdict["valid"]
    assert verdict["registered"] is False and verdict["issued_on"] is None
    assert verdict["problems"] == ["certificate ZYFW-20260101-0BADF00D is not in the register "
                                   "of certificates this server issued"]

    # The key alone (stolen, say) cannot make other fields pass under a registered number.
    other_fields = dict(entry["fields"], total_hours=300.0)
    verdict = _check_both_ways(app, client, tmp_path, _signed(other_fields, own))
    assert verdict["signature_valid"] and verdict["registered"] and not verdict["valid"]
    assert (verdict["fields_match"], verdict["file_matches"]) == (False, False)
    assert len(verdict["problems"]) == 2 and verdict["issued_on"] is None


def test_bad_uploads_are_4xx_naming_the_file_and_write_nothing(client, issued,
                                                               owner_connection):
    before = (_count(owner_connection, "certificates"), _count(owner_connection, "access_log"))
    pdf = issued[2]
    for kwargs, status in (
            ({"data": {"other": (io.BytesIO(pdf), "c.pdf")},
              "content_type": "multipart/form-data"}, 422),
            ({"data": {"file": "not a file"}, "content_type": "multipart/form-data"}, 422),
            ({"json": {"file": pdf.hex()}}, 422),
            # As curl sends an empty file (werkzeug's test client leaves out the CRLF
            # before the closing boundary of an empty part).
            ({"data": b"--b\r\nContent-Disposition: form-data; name=\"file\"; "
                      b"filename=\"c.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
                      b"\r\n--b--\r\n",
              "content_type": "multipart/form-data; boundary=b"}, 422),
            ({"data": {"file": (io.BytesIO(pdf + b"\0" * (1024 * 1024)), "c.pdf")},
              "content_type": "multipart/form-data"}, 413)):
        bad = client.post(VERIFY, **kwargs)
        assert bad.status_code == status, (kwargs.get("json"), bad.get_json())
        assert "file" in bad.get_json()["errors"], bad.get_json()
    # Not a certificate at all: a verdict, not an error.
    junk = client.post(VERIFY, data={"file": (io.BytesIO(b"%PDF-1.4 hello"), "c.pdf")},
                       content_type="multipart/form-data")
    assert junk.status_code == 200 and not junk.get_json()["valid"]
    assert junk.get_json()["problems"] == [
        "no fieldapp certificate signature at the end of the file"]
    assert (_count(owner_connection, "certificates"),
            _count(owner_connection, "access_log")) == before


def test_the_register_is_read_by_admins_in_the_access_log_and_by_its_volunteer(
        app, client, issued, make_user):
    volunteer, admin, _, entry = issued
    number = entry["number"]
    assert entry["fields"]["volunteer_name"] == REAL_NAME
    assert entry["user_id"] == str(volunteer[0]) and entry["issued_by"] == str(volunteer[0])
    assert set(entry) == {"number", "user_id", "fields", "fields_sha256", "pdf_sha256",
                          "key_fingerprint", "issued_at", "issued_by"}
    url = f"/api/v1/certificates/{number}"
    # A school reads the number over the phone, in lower case.
    assert client.get(url.replace(number, number.lower()),
                      headers=auth(admin[2])).get_json() == entry
    own = client.get(url, headers=auth(volunteer[2]))
    assert own.status_code == 200 and own.get_json() == entry

    unknown = client.get("/api/v1/certificates/ZYFW-20260101-0BADF00D", headers=auth(admin[2]))
    assert unknown.status_code == 404
    others = client.get(url, headers=auth(make_user("volunteer")[2]))
    assert (others.status_code, others.get_json()["message"]) == (
        404, unknown.get_json()["message"])
    for role in ("coordinator", "lawyer"):
        refused = client.get(url, headers=auth(make_user(role)[2]))
        assert refused.status_code == 403 and REAL_NAME not in refused.get_data(as_text=True)
    assert client.get(url).status_code == 401
    for bad in ("abc", "ZYFW-2026-1", "ZYFW-20260101-0BADF00G", "x" * 300):
        response = client.get(f"/api/v1/certificates/{bad}", headers=auth(admin[2]))
        assert response.status_code == 422 and "number" in response.get_json()["errors"]

    log = client.get("/api/v1/access-log", headers=auth(admin[2]),
                     query_string={"user_id": str(admin[0])}).get_json()
    read = [row for row in log["items"]
            if row["endpoint"] == "GET /api/v1/certificates/<number>"]
    assert {row["filters"]["number"] for row in read} >= {number, number.lower()}
    assert all(row["rows"] == 1 for row in read)
    # The volunteer's own read and the refusals are not staff reads of anyone's record.
    assert client.get("/api/v1/access-log", headers=auth(admin[2]), query_string={
        "user_id": str(volunteer[0])}).get_json()["total"] == 0
