"""Every bad submission gets a clear 4xx naming the field, and leaves nothing behind."""
from __future__ import annotations

import json

import pytest

from tests.helpers import (
    SHARED_PHOTOS,
    auth,
    multipart,
    post_encoded,
    post_report,
    report_json,
    storage_snapshot,
)
from tests.imagegen import jpeg_bytes, sized_jpeg

GOOD_PHOTO = jpeg_bytes(seed=101, lat=23.18, lon=113.39)


@pytest.fixture()
def unchanged(app):
    """Assert the test's request wrote no row and no file."""
    before = storage_snapshot(app)
    yield
    assert storage_snapshot(app) == before


def _error(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == status and body["message"]
    return body


@pytest.mark.parametrize("claim_text, field", [
    ("{not json", "report"),
    ("[1, 2]", "report"),
])
def test_malformed_report_json(client, volunteer, unchanged, claim_text, field):
    body = _error(post_report(client, volunteer[2], claim_text, [(GOOD_PHOTO, "a.jpg")]), 422)
    assert field in body["errors"]


@pytest.mark.parametrize("overrides, path", [
    ({"category": "radiation"}, ("category",)),
    ({"client_id": "not-a-uuid"}, ("client_id",)),
    ({"observed_at": "yesterday"}, ("observed_at",)),
    ({"observed_at": "2026-05-04T10:31:00"}, ("observed_at",)),  # no offset
    ({"location": {"lon": 200, "lat": 23.1, "crs": "wgs84"}}, ("location", "lon")),
    ({"location": {"lon": 113.3, "lat": -91, "crs": "wgs84"}}, ("location", "lat")),
    ({"location": {"lon": "east", "lat": 23.1}}, ("location", "lon")),
    ({"location": {"lon": 113.3, "lat": 23.1, "crs": "utm50n"}}, ("location", "crs")),
    ({"location": {"lon": 113.3, "lat": 23.1, "accuracy_m": -5}}, ("location", "accuracy_m")),
    ({"location": None}, ("location",)),
    ({"description": 42}, ("description",)),
])
def test_invalid_claim_fields_are_named(client, volunteer, unchanged, overrides, path):
    claim = report_json(**overrides)
    body = _error(post_report(client, volunteer[2], claim, [(GOOD_PHOTO, "a.jpg")]), 422)
    assert body["errors"][".".join(("report", *path))]
    assert body["message"].startswith("report.")


def test_missing_required_claim_field(client, volunteer, unchanged):
    claim = report_json()
    del claim["observed_at"]
    body = _error(post_report(client, volunteer[2], claim, [(GOOD_PHOTO, "a.jpg")]), 422)
    assert "report.observed_at" in body["errors"]


def test_missing_report_part(client, volunteer, unchanged):
    data = {"photos": multipart(report_json(), [(GOOD_PHOTO, "a.jpg")])["photos"]}
    response = client.post("/api/v1/reports", data=data, headers=auth(volunteer[2]),
                           content_type="multipart/form-data")
    assert "report" in _error(response, 422)["errors"]


def test_missing_photos_part(client, volunteer, unchanged):
    response = client.post("/api/v1/reports", data={"report": json.dumps(report_json())},
                           headers=auth(volunteer[2]), content_type="multipart/form-data")
    assert "photos" in _error(response, 422)["errors"]


def test_json_body_instead_of_multipart(client, volunteer, unchanged):
    response = client.post("/api/v1/reports", json=report_json(), headers=auth(volunteer[2]))
    assert _error(response, 422)["errors"]


def test_too_many_photos(client, volunteer, unchanged):
    photos = [(jpeg_bytes(seed=200 + i, size=(64, 48)), f"{i}.jpg") for i in range(21)]
    body = _error(post_report(client, volunteer[2], report_json(), photos), 422)
    assert "photos" in body["errors"]


def test_non_image_is_415_even_with_a_jpeg_name(client, volunteer, unchanged):
    photos = [(GOOD_PHOTO, "ok.jpg"), (b"%PDF-1.7\n" + b"x" * 5000, "evidence.jpg")]
    body = _error(post_report(client, volunteer[2], report_json(), photos), 415)
    assert "photos[1]" in body["errors"]
    assert body["sub_code"] == "PHOTO_TYPE"


def test_empty_file(client, volunteer, unchanged):
    body = _error(post_encoded(client, volunteer[2], report_json(), [(b"", "a.jpg")]), 422)
    assert "photos[0]" in body["errors"]


def test_body_cut_short_is_400_naming_the_body(client, volunteer, unchanged):
    # The phone lost its connection part-way through the photo.
    photo = jpeg_bytes(seed=77, lat=23.18, lon=113.39)
    response = post_encoded(client, volunteer[2], report_json(), [(photo, "a.jpg")],
                            cut=len(photo) // 2)
    body = _error(response, 400)
    assert body["sub_code"] == "MALFORMED_MULTIPART" and "body" in body["errors"]


def test_garbage_instead_of_multipart_parts_is_400(client, volunteer, unchanged):
    response = client.post("/api/v1/reports", data=b"this is not multipart at all",
                           headers=auth(volunteer[2]),
                           content_type="multipart/form-data; boundary=xyz")
    assert _error(response, 400)["sub_code"] == "MALFORMED_MULTIPART"


def test_truncated_image_is_rejected(client, volunteer, unchanged):
    whole = (SHARED_PHOTOS / "exifr__IMG_20180725_163423-tiny.jpg").read_bytes()
    truncated = whole[: len(whole) // 2]
    body = _error(post_report(client, volunteer[2], report_json(),
                              [(truncated, "cut.jpg")]), 422)
    assert body["sub_code"] == "PHOTO_UNDECODABLE" and "photos[0]" in body["errors"]


def test_oversized_photo_is_413(app, client, volunteer, unchanged):
    cap = 200_000
    app.config["FIELDAPP_MAX_PHOTO_BYTES"] = cap
    try:
        big = sized_jpeg(300_000, seed=7)
        assert len(big) > cap
        photos = [(GOOD_PHOTO, "ok.jpg"), (big, "big.jpg")]
        body = _error(post_report(client, volunteer[2], report_json(), photos), 413)
        assert "photos" in body["errors"]
    finally:
        app.config["FIELDAPP_MAX_PHOTO_BYTES"] = 50 * 1024 * 1024


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-real-token"},
                                     {"Authorization": "Basic dXNlcjpwYXNz"}])
def test_bad_token(client, unchanged, headers):
    response = client.post("/api/v1/reports", headers=headers,
                           data=multipart(report_json(), [(GOOD_PHOTO, "a.jpg")]),
                           content_type="multipart/form-data")
    _error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def _raw_multipart(client, token, parts):
    """Post parts exactly as given: (name, filename or None for a text part, bytes)."""
    boundary = "fieldapp-test-boundary"
    body = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        if filename is not None:
            body += b"Content-Type: image/jpeg\r\n"
        body += b"\r\n" + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return client.post("/api/v1/reports", data=body, headers=auth(token),
                       content_type=f"multipart/form-data; boundary={boundary}")


def test_photos_sent_as_a_text_part_is_422_naming_it(client, volunteer, unchanged):
    parts = [("report", None, json.dumps(report_json()).encode()),
             ("photos", None, b"not a file at all")]
    body = _error(_raw_multipart(client, volunteer[2], parts), 422)
    assert any(key.startswith("photos") for key in body["errors"])


def test_two_report_parts_are_422_not_the_first_silently_taken(client, volunteer, unchanged):
    # A body holding two claims is ambiguous (a proxy or a later reader may take the other
    # one); the server must not pick one of them.
    parts = [("report", None, json.dumps(report_json()).encode()),
             ("report", None, json.dumps(report_json(category="air")).encode()),
             ("photos", "a.jpg", GOOD_PHOTO)]
    body = _error(_raw_multipart(client, volunteer[2], parts), 422)
    assert "report" in body["errors"]


def test_deeply_nested_report_json_is_422(client, volunteer, unchanged):
    parts = [("report", None, b"[" * 100_000 + b"]" * 100_000),
             ("photos", "a.jpg", GOOD_PHOTO)]
    assert "report" in _error(_raw_multipart(client, volunteer[2], parts), 422)["errors"]


def test_an_observation_claimed_after_receipt_is_422(client, volunteer, unchanged):
    # Nothing can be observed after it is reported; such a claim sorted first in every list
    # ("newest observation first") and counted on a day still to come.
    from datetime import UTC, datetime, timedelta

    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    body = _error(post_report(client, volunteer[2], report_json(observed_at=later),
                              [(GOOD_PHOTO, "a.jpg")]), 422)
    assert "report.observed_at" in body["errors"]


def test_the_same_file_twice_in_one_report_is_422_naming_the_repeat(client, volunteer,
                                                                     unchanged):
    # Neither `duplicate` nor `near_duplicate` looks inside the report itself, and a site's
    # risk counts every verified photo: one file sent twenty times was twenty pieces of
    # evidence.
    other = jpeg_bytes(seed=102, lat=23.18, lon=113.39)
    photos = [(GOOD_PHOTO, "a.jpg"), (other, "b.jpg"), (GOOD_PHOTO, "a-again.jpg")]
    body = _error(post_report(client, volunteer[2], report_json(), photos), 422)
    assert list(body["errors"]) == ["photos[2]"] and "photos[0]" in body["errors"]["photos[2]"][0]
    assert body["sub_code"] == "PHOTO_REPEATED"
