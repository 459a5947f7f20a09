"""Submitting reports end to end: real PostGIS, real files on disk."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

from fieldapp.geo.coordinates import wgs84_to_gcj02
from tests.helpers import SHARED_PHOTOS, auth, multipart, report_json
from tests.imagegen import jpeg_bytes

CST = timezone(timedelta(hours=8))
OBSERVED = datetime(2026, 5, 4, 10, 31, tzinfo=CST)


def phone_photo(seed=1, lat=23.18, lon=113.39, taken=OBSERVED, **kw) -> bytes:
    return jpeg_bytes(seed=seed, lat=lat, lon=lon, taken=taken, **kw)


def post_report(client, token, claim, photos):
    return client.post("/api/v1/reports", data=multipart(claim, photos),
                       headers=auth(token), content_type="multipart/form-data")


def test_consistent_report_is_stored_with_hash_checks_and_receipt(client, volunteer, app):
    _, _, token = volunteer
    photo = phone_photo(seed=11)
    claim = report_json()
    response = post_report(client, token, claim, [(photo, "IMG_0001.jpg")])
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["client_id"] == claim["client_id"]
    assert body["location"]["claim"] == claim["location"]
    assert body["location"]["wgs84"] == {"lon": 113.39, "lat": 23.18}
    [stored] = body["photos"]
    assert stored["sha256"] == hashlib.sha256(photo).hexdigest()
    assert stored["size"] == len(photo) and stored["media_type"] == "image/jpeg"
    assert abs(stored["exif"]["gps"]["lat"] - 23.18) < 1e-6
    assert stored["verdict"] == "consistent"
    results = {c["name"]: c["result"] for c in stored["checks"]}
    assert results["gps_matches_claim"] == "pass"
    assert results["time_matches_claim"] == "pass"
    assert len(stored["receipt"]["custody_hash"]) == 64
    blob = app.extensions["blob_store"].path_for(stored["sha256"])
    assert blob.read_bytes() == photo


def test_gcj02_claim_is_converted_before_the_gps_comparison(client, volunteer):
    _, _, token = volunteer
    gcj_lon, gcj_lat = wgs84_to_gcj02(113.39, 23.18)
    claim = report_json(location={"lon": gcj_lon, "lat": gcj_lat, "crs": "gcj02",
                                  "accuracy_m": 10})
    response = post_report(client, token, claim, [(phone_photo(seed=12), "a.jpg")])
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert abs(body["location"]["wgs84"]["lon"] - 113.39) < 1e-6
    assert body["location"]["claim"]["lon"] == gcj_lon
    checks = {c["name"]: c for c in body["photos"][0]["checks"]}
    assert checks["gps_matches_claim"]["result"] == "pass"


def test_shared_heic_is_accepted_and_read(client, volunteer):
    _, _, token = volunteer
    data = (SHARED_PHOTOS / "exifr__heic-maybebroken.HEIC").read_bytes()
    claim = report_json(observed_at="2018-02-05T15:11:44+08:00",
                        location={"lon": 113.394316666667, "lat": 23.1779166666667,
                                  "crs": "wgs84", "accuracy_m": 5})
    response = post_report(client, token, claim, [(data, "IMG.HEIC")])
    assert response.status_code == 201, response.get_json()
    photo = response.get_json()["photos"][0]
    assert photo["media_type"] == "image/heic"
    assert photo["exif"]["model"] == "iPhone 8"
    checks = {c["name"]: c["result"] for c in photo["checks"]}
    assert checks["gps_matches_claim"] == "pass"
    assert checks["time_matches_claim"] == "pass"


def test_large_photos_arrive_byte_for_byte_across_read_boundaries(app, client, volunteer):
    # Several MB each, read 1 MiB at a time: part boundaries fall anywhere in the pieces.
    from tests.imagegen import sized_jpeg

    photos = [sized_jpeg(size, seed=900 + size % 7) for size in (2_500_000, 1_048_576 * 3 + 17)]
    response = client.post(
        "/api/v1/reports", headers=auth(volunteer[2]), content_type="multipart/form-data",
        data=multipart(report_json(), [(photo, f"big{i}.jpg") for i, photo in enumerate(photos)]))
    assert response.status_code == 201, response.get_json()
    store = app.extensions["blob_store"]
    for sent, stored in zip(photos, response.get_json()["photos"], strict=True):
        assert stored["sha256"] == hashlib.sha256(sent).hexdigest()
        assert store.path_for(stored["sha256"]).read_bytes() == sent


def test_a_filename_with_nul_and_control_characters_is_stored_clean(app, client, volunteer):
    # Werkzeug hands over the filename as sent: a NUL reached PostgreSQL (a 500) and terminal
    # escapes or a right-to-left override would be shown to staff as the photo's name.
    from sqlalchemy import select

    from fieldapp.extensions import db
    from fieldapp.reports.models import Photo
    from tests.helpers import post_encoded

    names = ["IMG\x00_1.jpg", "evil\x1b[31m\u202egpj.exe", "C:\\phone\\..\\"]
    photos = [(phone_photo(seed=13 + i), name) for i, name in enumerate(names)]
    response = post_encoded(client, volunteer[2], report_json(), photos)
    assert response.status_code == 201, response.get_data(as_text=True)
    with app.app_context():
        stored = db.session.scalars(select(Photo.filename).where(
            Photo.report_id == response.get_json()["id"]).order_by(Photo.position)).all()
    assert stored == ["IMG_1.jpg", "evil[31mgpj.exe", None]


def test_a_capture_time_past_the_calendar_does_not_poison_the_report(client, volunteer):
    # DateTimeOriginal 9999-12-31 23:59:59 at -12:00 is year 10000 in UTC: stored as the
    # capture time, it made every read of the report, and of the volunteer's list, a 500.
    taken = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-12)))
    token = volunteer[2]
    response = post_report(client, token, report_json(), [(phone_photo(seed=17, taken=taken),
                                                          "a.jpg")])
    assert response.status_code == 201, response.get_data(as_text=True)
    photo = response.get_json()["photos"][0]
    assert photo["capture_time"] is None
    checks = {c["name"]: c for c in photo["checks"]}
    assert checks["time_matches_claim"]["result"] == "unknown"
    assert "9999:12:31 23:59:59" in checks["time_matches_claim"]["detail"]
    report_id = response.get_json()["id"]
    assert client.get(f"/api/v1/reports/{report_id}", headers=auth(token)).status_code == 200
    assert client.get("/api/v1/reports", headers=auth(token)).status_code == 200
