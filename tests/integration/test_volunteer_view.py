"""GET /api/v1/volunteers/me: a volunteer's reports with verdicts and review reasons, claims
and tasks, on-site hours and notifications, on real PostGIS; nothing of anyone else's."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tests.helpers import auth, post_report, report_json
from tests.imagegen import jpeg_bytes

SITE_LON, SITE_LAT = 113.3921, 23.1812


def _site(client, token) -> dict:
    response = client.post("/api/v1/sites", headers=auth(token), json={
        "name": f"电镀厂 {uuid.uuid4().hex[:6]}",
        "geometry": {"type": "Point", "coordinates": [SITE_LON, SITE_LAT]}})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _task(client, token, site_id) -> dict:
    now = datetime.now(UTC)
    response = client.post("/api/v1/tasks", headers=auth(token), json={
        "site_id": site_id, "title": "Outfall at dusk", "instructions": "From the bridge",
        "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(days=1)).isoformat(), "slots": 1,
        "categories": ["water"], "photos_required": 1})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _me(client, token) -> dict:
    response = client.get("/api/v1/volunteers/me", headers=auth(token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_reports_carry_verdicts_and_review_reasons_and_reviews_are_notices(
        client, make_user, coordinator):
    volunteer, other = make_user("volunteer"), make_user("volunteer")
    sent = post_report(client, volunteer[2], report_json(), [(jpeg_bytes(seed=4101), "a.jpg")])
    assert sent.status_code == 201, sent.get_json()
    photo_id = sent.get_json()["photos"][0]["id"]
    reviewed = client.post(f"/api/v1/photos/{photo_id}/reviews", headers=auth(coordinator[2]),
                           json={"decision": "needs_more", "reason": "outfall not in frame"})
    assert reviewed.status_code == 201, reviewed.get_json()
    post_report(client, other[2], report_json(), [(jpeg_bytes(seed=4102), "b.jpg")])

    me = _me(client, volunteer[2])
    assert [report["id"] for report in me["reports"]] == [sent.get_json()["id"]]
    [photo] = me["reports"][0]["photos"]
    assert photo["review"]["decision"] == "needs_more"
    assert photo["review"]["reason"] == "outfall not in frame"
    [notice] = [n for n in me["notifications"] if n["kind"].startswith("report_")]
    assert notice["kind"] == "report_needs_more" and notice["photo_id"] == photo_id
    assert "outfall not in frame" in notice["message"]
    assert not any(n["kind"].startswith("report_") for n in _me(client, other[2])
                   ["notifications"])


def test_claims_hours_and_task_notices(app, client, volunteer, coordinator, owner_connection):
    site = _site(client, coordinator[2])
    task = _task(client, coordinator[2], site["id"])
    claimed = client.post(f"/api/v1/tasks/{task['id']}/claims", headers=auth(volunteer[2]))
    assert claimed.status_code == 201, claimed.get_json()
    claim_id = claimed.get_json()["id"]
    checked_in = client.post(f"/api/v1/claims/{claim_id}/check-in", headers=auth(volunteer[2]),
                             json={"location": {"lon": SITE_LON, "lat": SITE_LAT}})
    assert checked_in.status_code == 200, checked_in.get_json()
    # Ninety minutes on site: the check-in is moved back by an insider's hand, as the app
    # itself never rewrites when a visit began.
    with owner_connection.cursor() as cur:
        cur.execute("UPDATE claim_visits SET checked_in_at = checked_in_at - interval '90 min'"
                    " WHERE claim_id = %s", (claim_id,))
    owner_connection.commit()
    assert client.post(f"/api/v1/claims/{claim_id}/check-out",
                       headers=auth(volunteer[2])).status_code == 200

    pending = _me(client, volunteer[2])
    assert [claim["id"] for claim in pending["claims"]] == [claim_id]
    assert pending["claims"][0]["task_title"] == "Outfall at dusk"
    assert pending["hours"]["accepted_on_site_s"] == 0
    assert 90 * 60 <= pending["hours"]["pending_on_site_s"] < 91 * 60

    evaluated = client.post(f"/api/v1/claims/{claim_id}/evaluation",
                            headers=auth(coordinator[2]),
                            json={"decision": "accepted", "rating": 5})
    assert evaluated.status_code == 200, evaluated.get_json()
    me = _me(client, volunteer[2])
    assert 90 * 60 <= me["hours"]["accepted_on_site_s"] < 91 * 60
    assert me["hours"]["accepted_hours"] == 1.5
    assert "claim_accepted" in [n["kind"] for n in me["notifications"]]


def test_the_view_needs_a_token(client):
    assert client.get("/api/v1/volunteers/me").status_code == 401
