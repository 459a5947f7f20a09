"""Dossiers: frozen, signed, streamed as a ZIP, and checkable by anyone without the server."""
from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import psycopg2
import pytest
from sqlalchemy import select

from fieldapp.custody.models import CustodyEvent
from fieldapp.extensions import db
from tests.helpers import (
    SHARED_PHOTOS,
    TEST_OWNER_DB_URL,
    auth,
    freeze,
    post_report,
    report_json,
)
from tests.imagegen import jpeg_bytes

VERIFY_SCRIPT = Path(__file__).resolve().parents[2] / "fieldapp" / "dossiers" / "verify.py"
SHARED_JPEG = "exifr__IMG_20180725_163423-tiny.jpg"
SHARED_HEIC = "exifr__heic-maybebroken.HEIC"


@pytest.fixture(scope="module")
def built(app):
    """A case with four items (one rejected on purpose, one rejected and left out), frozen."""
    from fieldapp.accounts import service as accounts

    client = app.test_client()
    with app.app_context():
        users = {}
        for role in ("volunteer", "coordinator", "lawyer"):
            user = accounts.create_user(f"dossier-{role}@example.org",
                                        accounts.generate_password(), role,
                                        display_name=f"Real Name {role}")
            users[role] = (user.email, user.pseudonym, accounts.issue_token(user))
    vol, coord, law = (users[r][2] for r in ("volunteer", "coordinator", "lawyer"))
    site = client.post("/api/v1/sites", headers=auth(coord), json={
        "name": "某某化工有限公司", "name_en": "Mou Chemical Co.", "operator": "某某化工有限公司",
        "uscc": "91440300708461136T", "geometry": {"type": "Polygon", "coordinates": [[
            [113.393, 23.177], [113.396, 23.177], [113.396, 23.180], [113.393, 23.180],
            [113.393, 23.177]]]}}).get_json()
    photos = {}
    for key, data, name in (("jpeg", (SHARED_PHOTOS / SHARED_JPEG).read_bytes(), SHARED_JPEG),
                            ("heic", (SHARED_PHOTOS / SHARED_HEIC).read_bytes(), SHARED_HEIC),
                            ("gen", jpeg_bytes(seed=1201, lat=23.178, lon=113.394), "g.jpg"),
                            ("out", jpeg_bytes(seed=1202, lat=23.178, lon=113.394), "o.jpg")):
        response = post_report(client, vol, report_json(), [(data, name)])
        assert response.status_code == 201
        photos[key] = (response.get_json()["photos"][0], data)
    case = client.post("/api/v1/cases", headers=auth(law), json={
        "site_id": site["id"], "title": "某某化工有限公司排污公益诉讼",
        "authority": "广州市中级人民法院", "case_number": "(2026)粤01民初88号"}).get_json()
    for key in ("jpeg", "heic", "gen", "out"):
        response = client.post(f"/api/v1/cases/{case['id']}/items", headers=auth(law), json={
            "photo_id": photos[key][0]["id"], "title": f"现场照片 {key}",
            "purpose": "证明该厂向河道排放污水"})
        assert response.status_code == 201
    # Rejected after it was attached: stays out of the dossier.
    client.post(f"/api/v1/photos/{photos['out'][0]['id']}/reviews", headers=auth(coord),
                json={"decision": "rejected", "reason": "duplicate angle"})
    # Rejected, then attached again on purpose by the lawyer in a second case item flag.
    client.post(f"/api/v1/photos/{photos['gen'][0]['id']}/reviews", headers=auth(coord),
                json={"decision": "rejected", "reason": "time unclear"})
    items = client.get(f"/api/v1/cases/{case['id']}/items", headers=auth(law)).get_json()
    gen_item = next(i for i in items if i["photo_id"] == photos["gen"][0]["id"])
    client.delete(f"/api/v1/cases/{case['id']}/items/{gen_item['id']}", headers=auth(law))
    readded = client.post(f"/api/v1/cases/{case['id']}/items", headers=auth(law), json={
        "photo_id": photos["gen"][0]["id"], "title": "现场照片 gen",
        "purpose": "证明排污时间", "include_rejected": True})
    assert readded.status_code == 201
    frozen = freeze(client, law, case["id"])
    assert frozen["status"] == "frozen", frozen
    download = client.get(frozen["links"]["download"], headers=auth(law))
    assert download.status_code == 200 and download.mimetype == "application/zip"
    return {"client": client, "users": users, "case": case, "photos": photos,
            "dossier": frozen, "zip": download.data, "download": download}


def _unpack(data: bytes, target: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(target)
        [top] = {name.split("/")[0] for name in archive.namelist()}
    return target / top


def _manifest(data: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        [name] = [n for n in archive.namelist() if n.endswith("/manifest.json")]
        return json.loads(archive.read(name))


def test_zip_holds_the_originals_byte_for_byte(built):
    manifest = _manifest(built["zip"])
    assert [item["number"] for item in manifest["items"]] == [1, 2, 3]
    with zipfile.ZipFile(io.BytesIO(built["zip"])) as archive:
        top = manifest["dossier"]["label"]
        for item, key in zip(manifest["items"], ("jpeg", "heic", "gen"), strict=True):
            assert archive.read(f"{top}/{item['original']}") == built["photos"][key][1]
            assert archive.getinfo(f"{top}/{item['original']}").compress_type == zipfile.ZIP_STORED


def test_manifest_content(built):
    manifest = _manifest(built["zip"])
    assert manifest["format"] == "fieldapp-dossier/1"
    assert manifest["site"]["uscc"] == "91440300708461136T"
    first = manifest["items"][0]
    assert first["source"]["volunteer"] == built["users"]["volunteer"][1]
    assert first["source"]["model"] == "Pixel"
    assert {c["name"] for c in first["checks"]} >= {"gps_matches_claim", "duplicate"}
    gen = manifest["items"][2]
    assert gen["included_despite_rejection"] is True
    assert gen["reviews"][-1]["decision"] == "rejected"
    assert [e["title"] for e in manifest["excluded_items"]] == ["现场照片 out"]
    assert manifest["custody"]["events"] > 0 and len(manifest["custody"]["head_hash"]) == 64


def test_freezing_settles_photos_still_awaiting_analysis(app, built):
    # The fixture froze the case straight after the photos arrived, before any analyser ran.
    assert all(photo["analysis"] == "pending" for photo, _ in built["photos"].values())
    manifest = _manifest(built["zip"])
    for item in manifest["items"]:
        assert not any(c["detail"].startswith("Pending") for c in item["checks"])
    law = built["users"]["lawyer"][2]
    for photo, _ in built["photos"].values():
        stored = built["client"].get(f"/api/v1/photos/{photo['id']}", headers=auth(law))
        assert stored.get_json()["analysis"] == "done"
    with app.app_context():
        for item in manifest["items"]:
            actions = db.session.scalars(select(CustodyEvent.action).where(
                CustodyEvent.subject_id == item["photo_id"]).order_by(CustodyEvent.seq)).all()
            assert actions[0] == "received" and actions.count("verified") == 1


def test_no_real_identity_in_the_dossier(built):
    blob = built["zip"]
    for email, _, _ in built["users"].values():
        assert email.encode() not in blob
    assert b"Real Name" not in blob


def test_dossier_verifies_with_the_cli_and_the_single_file(app, built, tmp_path):
    path = tmp_path / "dossier.zip"
    path.write_bytes(built["zip"])
    result = app.test_cli_runner().invoke(args=["dossier", "verify", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK:")
    alone = subprocess.run([sys.executable, str(VERIFY_SCRIPT), str(path)],
                           capture_output=True, text=True)
    assert alone.returncode == 0, alone.stdout + alone.stderr


def test_sha256sum_and_openssl_accept_it(built, tmp_path):
    folder = _unpack(built["zip"], tmp_path)
    sums = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True,
                          text=True)
    assert sums.returncode == 0, sums.stdout + sums.stderr
    verified = subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "public_key.pem", "-rawin",
         "-in", "manifest.json", "-sigfile", "manifest.sig"],
        cwd=folder, capture_output=True, text=True)
    assert verified.returncode == 0 and "Signature Verified Successfully" in verified.stdout


def test_catalog_pdf_renders_with_chinese(built, tmp_path):
    folder = _unpack(built["zip"], tmp_path)
    text = subprocess.run(["pdftotext", "catalog.pdf", "-"], cwd=folder, capture_output=True,
                          text=True, check=True).stdout
    for words in ("证据目录", "某某化工有限公司", "证明该厂向河道排放污水"):
        assert words in text
    subprocess.run(["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", "catalog.pdf",
                    str(tmp_path / "page")], cwd=folder, check=True)
    assert list(tmp_path.glob("page*.png"))


def _rewrite(data: bytes, suffix: str, change) -> bytes:
    """The same ZIP with the entry ending in suffix passed through change()."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename.endswith(suffix):
                content = change(content)
            target.writestr(info, content)
    return out.getvalue()


def _flip_last_byte(content: bytes) -> bytes:
    return content[:-1] + bytes([content[-1] ^ 1])


@pytest.mark.parametrize("suffix, change, named", [
    ("-" , None, "originals/001-"),
    ("/manifest.json", lambda c: c.replace(b'"number": 1', b'"number": 7', 1), "signature"),
    ("/custody.jsonl", lambda c: c.replace(b'"action":"received"', b'"action":"recieved"', 1)
     if b'"action":"received"' in c else c.replace(b'"received"', b'"recieved"', 1),
     "custody.jsonl"),
])
def test_tampering_is_caught(app, built, tmp_path, suffix, change, named):
    manifest = _manifest(built["zip"])
    if change is None:  # one byte of the first original
        suffix, change = manifest["items"][0]["original"], _flip_last_byte
    tampered = _rewrite(built["zip"], suffix, change)
    assert tampered != built["zip"]
    path = tmp_path / "tampered.zip"
    path.write_bytes(tampered)
    result = app.test_cli_runner().invoke(args=["dossier", "verify", str(path)])
    assert result.exit_code == 1
    assert "PROBLEM" in result.output and named in result.output


def test_export_and_download_are_custody_events(app, built):
    dossier = built["dossier"]
    with app.app_context():
        actions = db.session.scalars(select(CustodyEvent).where(
            CustodyEvent.subject_id == dossier["id"]).order_by(CustodyEvent.seq)).all()
    assert [e.action for e in actions][:2] == ["exported", "dossier_downloaded"]
    assert actions[0].details["manifest_sha256"] == dossier["manifest_sha256"]
    assert len(actions[0].details["photos"]) == 3
    assert built["download"].headers["X-Manifest-SHA256"] == dossier["manifest_sha256"]


def test_numbering_immutability_and_roles(app, built):
    client, case = built["client"], built["case"]
    law = built["users"]["lawyer"][2]
    second = freeze(client, law, case["id"])
    assert second["status"] == "frozen" and second["number"] == 2
    listed = client.get(f"/api/v1/cases/{case['id']}/dossiers", headers=auth(law)).get_json()
    assert [d["number"] for d in listed] == [1, 2]
    coord = built["users"]["coordinator"][2]
    assert client.post(f"/api/v1/cases/{case['id']}/dossiers",
                       headers=auth(coord)).status_code == 403
    conn = psycopg2.connect(TEST_OWNER_DB_URL)  # even the owner
    try:
        with pytest.raises(psycopg2.Error, match="append-only"), conn, conn.cursor() as cur:
            cur.execute("UPDATE dossiers SET label = 'forged'")
    finally:
        conn.close()


def test_empty_case_cannot_be_exported(built):
    client = built["client"]
    law = built["users"]["lawyer"][2]
    site_id = built["case"]["site_id"]
    empty = client.post("/api/v1/cases", headers=auth(law),
                        json={"site_id": site_id, "title": "empty"}).get_json()
    response = client.post(f"/api/v1/cases/{empty['id']}/dossiers", headers=auth(law))
    assert response.status_code == 422 and "items" in response.get_json()["errors"]


def test_public_key_is_published(built, tmp_path):
    client = built["client"]
    response = client.get("/api/v1/keys")
    assert response.status_code == 200
    body = response.get_json()
    folder = _unpack(built["zip"], tmp_path)
    assert (folder / "public_key.pem").read_text() == body["public_key_pem"]
    assert body["fingerprint"].startswith("SHA256:")
