"""Reading photos: metadata, exact originals (a custody event), metadata-free derivatives."""
from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image
from sqlalchemy import select

from fieldapp.custody.models import CustodyEvent
from fieldapp.extensions import db
from tests.helpers import SHARED_PHOTOS, analyse_waiting, auth, post_report, report_json
from tests.imagegen import jpeg_bytes


@pytest.fixture()
def stored_photo(client, volunteer):
    photo = jpeg_bytes(seed=401, size=(2400, 1200), lat=23.18, lon=113.39)
    response = post_report(client, volunteer[2], report_json(), [(photo, "IMG_1.jpg")])
    assert response.status_code == 201
    analyse_waiting(client.application)
    return response.get_json()["photos"][0], photo, volunteer


def _custody_actions(app, photo_id):
    with app.app_context():
        return db.session.scalars(select(CustodyEvent.action).where(
            CustodyEvent.subject_id == photo_id).order_by(CustodyEvent.seq)).all()


def test_photo_metadata(client, stored_photo):
    meta, _, (_, _, token) = stored_photo
    response = client.get(f"/api/v1/photos/{meta['id']}", headers=auth(token))
    assert response.status_code == 200
    body = response.get_json()
    assert body["sha256"] == meta["sha256"] and body["analysis"] == "done"
    # Analysis settled the pending pixel checks and left every other check as received.
    pending = {c["name"] for c in meta["checks"] if c["detail"].startswith("Pending")}
    assert pending == {"near_duplicate"}  # the generated photo has no EXIF thumbnail
    assert [c for c in body["checks"] if c["name"] not in pending] == [
        c for c in meta["checks"] if c["name"] not in pending]
    assert {c["name"]: c["result"] for c in body["checks"]}["near_duplicate"] == "pass"
    assert body["exif"]["make"] == "Xiaomi"


def test_original_is_byte_identical_and_its_read_is_a_custody_event(app, client, stored_photo,
                                                                     coordinator):
    meta, photo, _ = stored_photo
    response = client.get(f"/api/v1/photos/{meta['id']}/original", headers=auth(coordinator[2]))
    assert response.status_code == 200
    assert response.data == photo
    assert response.headers["X-Content-SHA256"] == hashlib.sha256(photo).hexdigest()
    with app.app_context():
        event = db.session.scalar(select(CustodyEvent).where(
            CustodyEvent.subject_id == meta["id"], CustodyEvent.action == "original_read"))
        assert event is not None
        assert str(event.actor_id) == str(coordinator[0])
        assert event.details["sha256"] == meta["sha256"]
    assert _custody_actions(app, meta["id"]) == ["received", "verified", "original_read"]


@pytest.mark.parametrize("kind, longest", [("preview", 1600), ("thumbnail", 320)])
def test_derivatives_are_small_jpegs_without_metadata(client, stored_photo, kind, longest):
    meta, _, (_, _, token) = stored_photo
    response = client.get(f"/api/v1/photos/{meta['id']}/{kind}", headers=auth(token))
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    image = Image.open(io.BytesIO(response.data))
    assert max(image.size) == longest and image.size[0] > image.size[1]
    assert len(image.getexif()) == 0
    assert not {"exif", "xmp", "icc_profile"} & set(image.info)
    assert b"Exif" not in response.data[:4096]


def test_heic_preview(client, volunteer):
    data = (SHARED_PHOTOS / "exifr__heic-iphone7.heic").read_bytes()
    created = post_report(client, volunteer[2], report_json(), [(data, "x.heic")])
    assert created.status_code == 201
    photo_id = created.get_json()["photos"][0]["id"]
    response = client.get(f"/api/v1/photos/{photo_id}/preview", headers=auth(volunteer[2]))
    assert response.status_code == 200
    image = Image.open(io.BytesIO(response.data))
    assert image.format == "JPEG" and max(image.size) <= 1600
    assert len(image.getexif()) == 0


def test_other_volunteers_cannot_see_a_photo(client, stored_photo, make_user):
    meta = stored_photo[0]
    stranger = make_user("volunteer")[2]
    for suffix in ("", "/original", "/preview", "/thumbnail"):
        response = client.get(f"/api/v1/photos/{meta['id']}{suffix}", headers=auth(stranger))
        assert response.status_code == 404, suffix


def test_unknown_photo_is_404(client, volunteer):
    response = client.get("/api/v1/photos/00000000-0000-0000-0000-000000000001",
                          headers=auth(volunteer[2]))
    assert response.status_code == 404 and response.get_json()["code"] == 404


def test_photo_custody_is_staff_only(client, stored_photo, coordinator):
    meta, _, (_, _, volunteer_token) = stored_photo
    url = f"/api/v1/photos/{meta['id']}/custody"
    assert client.get(url, headers=auth(volunteer_token)).status_code == 403
    response = client.get(url, headers=auth(coordinator[2]))
    assert response.status_code == 200
    events = response.get_json()
    assert [e["action"] for e in events[:2]] == ["received", "verified"]
    assert events[0]["hash"] == meta["receipt"]["custody_hash"]


def test_making_a_derivative_is_a_recorded_read_of_the_original(app, client, volunteer):
    token = volunteer[2]
    photo = jpeg_bytes(seed=402, size=(900, 600), lat=23.18, lon=113.39)
    created = post_report(client, token, report_json(), [(photo, "IMG_2.jpg")])
    meta = created.get_json()["photos"][0]
    first = client.get(f"/api/v1/photos/{meta['id']}/thumbnail", headers=auth(token))
    again = client.get(f"/api/v1/photos/{meta['id']}/thumbnail", headers=auth(token))
    assert first.data == again.data
    with app.app_context():
        reads = db.session.scalars(select(CustodyEvent).where(
            CustodyEvent.subject_id == meta["id"], CustodyEvent.action == "original_read")).all()
    [read] = reads
    assert read.details["purpose"] == "thumbnail made"
    assert read.details["derivative_sha256"] == hashlib.sha256(first.data).hexdigest()
