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


def wall_token(client, token) -> str:
    """A read-only token of this staff member's, as the map's "wall display link" makes."""
    made = client.post("/api/v1/auth/read-token", json={"ttl_s": 600}, headers=auth(token))
    assert made.status_code == 201, made.get_json()
    return made.get_json()["token"]


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
    assert client.post(f"/api/v1/claims/{claim_id}/check-out", headers=auth(volunteer[2]),
                       json={"location": {"lon": SITE_LON, "lat": SITE_LAT}}).status_code == 200

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


def test_a_wall_displays_token_reads_nothing_of_its_holders_own(client, make_user):
    # The link (/map#token=…) sits on a screen anyone passing may read: it is for the map,
    # not for where its holder says they will go, their claims or what they were told.
    walker = make_user("coordinator")
    assert client.put("/api/v1/volunteers/me/area", headers=auth(walker[2]), json={
        "location": {"lon": SITE_LON, "lat": SITE_LAT}, "radius_m": 800}).status_code == 200
    wall = wall_token(client, walker[2])
    for path in ("/api/v1/volunteers/me", "/api/v1/volunteers/me/area",
                 "/api/v1/volunteers/me/claims", "/api/v1/volunteers/me/notifications"):
        refused = client.get(path, headers=auth(wall))
        assert refused.status_code == 403, (path, refused.get_json())
        assert refused.get_json()["sub_code"] == "READ_ONLY_TOKEN", path
        assert client.get(path, headers=auth(walker[2])).status_code == 200, path
    # What the wall is for still answers it.
    assert client.get("/api/v1/sites", headers=auth(wall)).status_code == 200


def test_the_view_needs_a_token(client):
    assert client.get("/api/v1/volunteers/me").status_code == 401


# Notifications marked read

NOTIFICATIONS = "/api/v1/volunteers/me/notifications"


def _reviewed_photo(client, volunteer, coordinator, seed) -> str:
    """A photo of the volunteer's, reviewed once: one notification to them."""
    sent = post_report(client, volunteer[2], report_json(), [(jpeg_bytes(seed=seed), "a.jpg")])
    assert sent.status_code == 201, sent.get_json()
    photo_id = sent.get_json()["photos"][0]["id"]
    _review(client, coordinator, photo_id, "needs_more")
    return photo_id


def _review(client, coordinator, photo_id, decision) -> None:
    reviewed = client.post(f"/api/v1/photos/{photo_id}/reviews", headers=auth(coordinator[2]),
                           json={"decision": decision, "reason": "closer, please"})
    assert reviewed.status_code == 201, reviewed.get_json()


def _notifications(client, token, **query) -> dict:
    response = client.get(NOTIFICATIONS, headers=auth(token), query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _read(client, token, body) -> dict:
    response = client.post(f"{NOTIFICATIONS}/read", headers=auth(token), json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_notifications_are_marked_read_by_id_up_to_a_time_or_all(client, make_user,
                                                                 coordinator):
    volunteer, other = make_user("volunteer"), make_user("volunteer")
    photo_id = _reviewed_photo(client, volunteer, coordinator, 4103)
    _review(client, coordinator, photo_id, "accepted")
    others_photo = _reviewed_photo(client, other, coordinator, 4104)

    listed = _notifications(client, volunteer[2])
    assert listed["unread"] == listed["total"] == 2
    assert [n["kind"] for n in listed["items"]] == ["report_accepted", "report_needs_more"]
    assert all(n["read_at"] is None and n["photo_id"] == photo_id for n in listed["items"])
    assert _me(client, volunteer[2])["unread"] == 2
    newest, oldest = listed["items"]
    [others] = _notifications(client, other[2])["items"]
    assert others["photo_id"] == others_photo

    # By id: another's id and an unknown one are passed over alike, and say nothing.
    marked = _read(client, volunteer[2], {"ids": [oldest["id"], others["id"],
                                                  str(uuid.uuid4())]})
    assert (marked["marked"], marked["unread"]) == (1, 1)
    assert _notifications(client, other[2])["unread"] == 1
    unread = _notifications(client, volunteer[2], unread="true")
    assert [n["id"] for n in unread["items"]] == [newest["id"]]
    assert (unread["total"], unread["unread"]) == (1, 1)
    first_read = [n for n in _notifications(client, volunteer[2])["items"]
                  if n["id"] == oldest["id"]][0]["read_at"]
    assert first_read is not None
    # Read again: nothing moves, and the first reading's time stays.
    assert _read(client, volunteer[2], {"ids": [oldest["id"]]})["marked"] == 0
    assert [n for n in _notifications(client, volunteer[2])["items"]
            if n["id"] == oldest["id"]][0]["read_at"] == first_read

    # Up to the newest shown: one arriving after the list was read stays unread.
    shown = _notifications(client, volunteer[2])["items"][0]
    _review(client, coordinator, photo_id, "rejected")
    marked = _read(client, volunteer[2], {"up_to": shown["created_at"]})
    assert (marked["marked"], marked["unread"]) == (1, 1)
    [late] = _notifications(client, volunteer[2], unread="true")["items"]
    assert late["kind"] == "report_rejected" and "closer, please" in late["message"]
    me = _me(client, volunteer[2])
    assert me["unread"] == 1
    assert [n["read_at"] is None for n in me["notifications"]] == [True, False, False]

    assert _read(client, volunteer[2], {"all": True}) | {"read_at": None} == {
        "marked": 1, "unread": 0, "read_at": None}
    assert _notifications(client, volunteer[2], unread="true")["items"] == []
    assert _notifications(client, other[2])["unread"] == 1


def test_bad_reads_are_422_naming_the_field_and_mark_nothing(client, make_user, coordinator,
                                                             owner_connection):
    volunteer = make_user("volunteer")
    _reviewed_photo(client, volunteer, coordinator, 4105)
    [notice] = _notifications(client, volunteer[2])["items"]
    for body, named in (({}, "ids"), ({}, "up_to"), ({}, "all"), ({"ids": []}, "ids"),
                        ({"ids": ["not-a-uuid"]}, "ids"), ({"ids": notice["id"]}, "ids"),
                        ({"ids": [str(uuid.uuid4())] * 501}, "ids"),
                        ({"up_to": "yesterday"}, "up_to"),
                        ({"up_to": "2026-05-01T10:00:00"}, "up_to"),
                        ({"all": False}, "all"), ({"all": "yes"}, "all"),
                        ({"ids": [notice["id"]], "all": True}, "all"),
                        ({"up_to": notice["created_at"], "ids": [notice["id"]]}, "up_to"),
                        ({"all": True, "then": 1}, "then")):
        bad = client.post(f"{NOTIFICATIONS}/read", headers=auth(volunteer[2]), json=body)
        assert bad.status_code == 422, (body, bad.get_json())
        # A list's item is named with its index: ids[0].
        assert named in {key.split("[")[0] for key in bad.get_json()["errors"]}, (
            body, bad.get_json())
    bad = client.get(NOTIFICATIONS, headers=auth(volunteer[2]), query_string={"unread": "maybe"})
    assert bad.status_code == 422 and "unread" in bad.get_json()["errors"]
    assert client.post(f"{NOTIFICATIONS}/read", json={"all": True}).status_code == 401
    with owner_connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM notifications WHERE user_id = %s AND read_at IS NOT "
                    "NULL", (volunteer[0],))
        assert cur.fetchone()[0] == 0
