"""Phones retry on flaky networks: one client_id is one report, whatever arrives twice."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from fieldapp.extensions import db
from fieldapp.reports.models import Report
from tests.helpers import post_report, report_json, storage_snapshot
from tests.imagegen import jpeg_bytes


def _reports_with_client_id(app, client_id) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count()).select_from(Report).where(Report.client_id == client_id))


def test_retry_with_same_content_returns_the_stored_report(app, client, volunteer):
    token = volunteer[2]
    claim, photo = report_json(), jpeg_bytes(seed=301, lat=23.18, lon=113.39)
    first = post_report(client, token, claim, [(photo, "a.jpg")])
    assert first.status_code == 201
    before = storage_snapshot(app)
    again = post_report(client, token, claim, [(photo, "renamed-by-retry.jpg")])
    assert again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.get_json()["photos"][0]["receipt"] == first.get_json()["photos"][0]["receipt"]
    after = storage_snapshot(app)
    assert after["counts"] == before["counts"]
    assert after["files"] == before["files"]


def test_same_client_id_with_other_photos_is_409(app, client, volunteer):
    token = volunteer[2]
    claim = report_json()
    assert post_report(client, token, claim, [(jpeg_bytes(seed=302), "a.jpg")]).status_code == 201
    before = storage_snapshot(app)["counts"]
    response = post_report(client, token, claim, [(jpeg_bytes(seed=303), "a.jpg")])
    assert response.status_code == 409
    body = response.get_json()
    assert "client_id" in body["errors"] and body["sub_code"] == "CLIENT_ID_REUSED"
    assert storage_snapshot(app)["counts"] == before


def test_same_client_id_with_other_claim_is_409(client, volunteer):
    token, photo = volunteer[2], jpeg_bytes(seed=304)
    claim = report_json()
    assert post_report(client, token, claim, [(photo, "a.jpg")]).status_code == 201
    changed = dict(claim, description="something else")
    assert post_report(client, token, changed, [(photo, "a.jpg")]).status_code == 409


def test_another_volunteer_cannot_claim_a_used_client_id(client, make_user):
    claim, photo = report_json(), jpeg_bytes(seed=305)
    assert post_report(client, make_user()[2], claim, [(photo, "a.jpg")]).status_code == 201
    assert post_report(client, make_user()[2], claim, [(photo, "a.jpg")]).status_code == 409


def test_concurrent_retries_store_one_report(app, volunteer):
    token = volunteer[2]
    claim, photo = report_json(), jpeg_bytes(seed=306, lat=23.18, lon=113.39)

    def send(_):
        with app.test_client() as c:
            response = post_report(c, token, claim, [(photo, "a.jpg")])
            return response.status_code, response.get_json()["id"]

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(send, range(6)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * 5 + [201]
    assert len({report_id for _, report_id in results}) == 1
    assert _reports_with_client_id(app, claim["client_id"]) == 1


def test_a_retry_restores_a_missing_original(app, client, volunteer):
    token = volunteer[2]
    claim, photo = report_json(), jpeg_bytes(seed=307, lat=23.18, lon=113.39)
    first = post_report(client, token, claim, [(photo, "a.jpg")]).get_json()
    path = app.extensions["blob_store"].path_for(first["photos"][0]["sha256"])
    path.unlink()
    again = post_report(client, token, claim, [(photo, "a.jpg")])
    assert again.status_code == 200 and again.get_json()["id"] == first["id"]
    assert path.read_bytes() == photo
