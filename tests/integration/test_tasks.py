"""The monitoring loop (点单-派单-接单-评单) through the API, on real PostGIS: every
transition of requests, tasks and claims, allowed and refused, expiry and extension, reach,
reports counted toward a task, evaluation, near-me listing, notifications and grants."""
from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest
from sqlalchemy import func, select, text, update

from fieldapp.extensions import db
from fieldapp.geo.coordinates import distance_m, wgs84_to_gcj02
from fieldapp.tasks.models import Claim, Notification, TaskEvent
from tests.helpers import auth, post_report, report_json, run_jobs, storage_snapshot
from tests.imagegen import jpeg_bytes

# A site in Guangzhou, and points around it.
SITE_LON, SITE_LAT = 113.3921, 23.1812
TABLES = ("monitoring_requests", "tasks", "claims", "claim_visits", "claim_evaluations",
          "task_reports", "task_events", "volunteer_areas", "notifications")


def counts(app) -> dict[str, int]:
    with app.app_context():
        return {table: db.session.scalar(text(f"SELECT count(*) FROM {table}"))
                for table in TABLES}


def iso(moment: datetime) -> str:
    return moment.isoformat()


def offset_point(metres_east: float) -> tuple[float, float]:
    """A WGS-84 point about this many metres east of the site."""
    return SITE_LON + metres_east / 102_400, SITE_LAT


@pytest.fixture()
def site(client, coordinator):
    response = client.post("/api/v1/sites", headers=auth(coordinator[2]), json={
        "name": f"印染厂 {uuid.uuid4().hex[:6]}",
        "geometry": {"type": "Point", "coordinates": [SITE_LON, SITE_LAT]}})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def dispatch(client, token, **fields):
    now = datetime.now(UTC)
    body = {"title": "Photograph the outfall", "instructions": "From the east bank",
            "starts_at": iso(now - timedelta(hours=1)), "ends_at": iso(now + timedelta(days=1)),
            "slots": 1, "categories": ["water"], "photos_required": 2, **fields}
    return client.post("/api/v1/tasks", headers=auth(token), json=body)


@pytest.fixture()
def task(client, coordinator, site):
    response = dispatch(client, coordinator[2], site_id=site["id"])
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def claim(client, token, task_id):
    return client.post(f"/api/v1/tasks/{task_id}/claims", headers=auth(token))


def act(client, token, claim_id, action, **body):
    return client.post(f"/api/v1/claims/{claim_id}/{action}", headers=auth(token),
                       json=body or None)


def check_in(client, token, claim_id, lon=SITE_LON, lat=SITE_LAT, crs="wgs84"):
    return act(client, token, claim_id, "check-in",
               location={"lon": lon, "lat": lat, "crs": crs})


def check_out(client, token, claim_id, lon=SITE_LON, lat=SITE_LAT):
    """Check out where the task is: the visit counts up to now."""
    return act(client, token, claim_id, "check-out", location={"lon": lon, "lat": lat})


def evaluate(client, token, claim_id, decision, reason=None, rating=4):
    return act(client, token, claim_id, "evaluation", decision=decision, reason=reason,
               rating=rating)


def refused(response, status: int, state: str):
    """The answer is `status` and its message names the state it stands in."""
    assert response.status_code == status, response.get_json()
    assert f"is {state}" in response.get_json()["message"], response.get_json()


def expire(app, claim_id, seconds_ago=1):
    """Move a claim's expiry into the past, through the app's own session and role."""
    with app.app_context():
        db.session.execute(update(Claim).where(Claim.id == claim_id).values(
            expires_at=datetime.now(UTC) - timedelta(seconds=seconds_ago)))
        db.session.commit()


def task_report(client, token, task_id, seed):
    claim_json = report_json(task_id=task_id, location={
        "lon": SITE_LON, "lat": SITE_LAT, "crs": "wgs84", "accuracy_m": 8})
    return post_report(client, token, claim_json, [(jpeg_bytes(seed=seed), "a.jpg")])


# Requests (点单)

def test_request_to_dispatch_to_done_then_rated_once(app, client, volunteer, coordinator,
                                                     make_user, site):
    asked = client.post("/api/v1/requests", headers=auth(volunteer[2]), json={
        "site_id": site["id"], "description": "黑水排放，每晚", "urgency": "high"})
    assert asked.status_code == 201, asked.get_json()
    request = asked.get_json()
    assert (request["status"], request["urgency"], request["task_id"]) == (
        "pending", "high", None)
    # Not done yet: no rating.
    early = client.post(f"/api/v1/requests/{request['id']}/rating", headers=auth(volunteer[2]),
                        json={"rating": 5})
    refused(early, 409, "pending")

    made = dispatch(client, coordinator[2], request_id=request["id"])
    assert made.status_code == 201, made.get_json()
    task = made.get_json()
    assert task["site_id"] == site["id"] and task["request_id"] == request["id"]
    followed = client.get(f"/api/v1/requests/{request['id']}", headers=auth(volunteer[2]))
    assert followed.get_json()["status"] == "dispatched"
    assert followed.get_json()["task_id"] == task["id"]
    refused(dispatch(client, coordinator[2], request_id=request["id"]), 409, "dispatched")
    refused(client.post(f"/api/v1/requests/{request['id']}/decline",
                        headers=auth(coordinator[2]), json={"reason": "late"}),
            409, "dispatched")

    walker = make_user("volunteer")
    held = claim(client, walker[2], task["id"]).get_json()
    assert check_in(client, walker[2], held["id"]).status_code == 200
    assert check_out(client, walker[2], held["id"]).status_code == 200
    assert evaluate(client, coordinator[2], held["id"], "accepted").status_code == 200
    # Its one slot's work accepted: the task is completed and the request done.
    assert client.get(f"/api/v1/tasks/{task['id']}",
                      headers=auth(coordinator[2])).get_json()["status"] == "completed"
    done = client.get(f"/api/v1/requests/{request['id']}", headers=auth(volunteer[2]))
    assert done.get_json()["status"] == "done"

    # Only the requester rates.
    assert client.post(f"/api/v1/requests/{request['id']}/rating", headers=auth(coordinator[2]),
                       json={"rating": 1}).status_code == 403
    assert client.post(f"/api/v1/requests/{request['id']}/rating", headers=auth(walker[2]),
                       json={"rating": 1}).status_code == 404
    for bad in (0, 6, "5", None):
        wrong = client.post(f"/api/v1/requests/{request['id']}/rating",
                            headers=auth(volunteer[2]), json={"rating": bad})
        assert wrong.status_code == 422 and "rating" in wrong.get_json()["errors"]
    rated = client.post(f"/api/v1/requests/{request['id']}/rating", headers=auth(volunteer[2]),
                        json={"rating": 5, "comment": "谢谢"})
    assert rated.status_code == 200, rated.get_json()
    assert (rated.get_json()["rating"], rated.get_json()["rating_comment"]) == (5, "谢谢")
    again = client.post(f"/api/v1/requests/{request['id']}/rating", headers=auth(volunteer[2]),
                        json={"rating": 1})
    assert again.status_code == 409 and again.get_json()["sub_code"] == "ALREADY_RATED"

    events = client.get(f"/api/v1/tasks/{task['id']}/events", headers=auth(coordinator[2]))
    assert [(e["subject_type"], e["action"], e["to_status"]) for e in events.get_json()] == [
        ("request", "requested", "pending"), ("task", "dispatched", "open"),
        ("request", "dispatched", "dispatched"), ("claim", "claimed", "active"),
        ("claim", "checked_in", "checked_in"), ("claim", "checked_out", "checked_out"),
        ("claim", "evaluated", "accepted"), ("task", "completed", "completed"),
        ("request", "done", "done"), ("request", "rated", "done")]
    assert all(e["actor"] and e["at"] for e in events.get_json())
    with app.app_context():
        kinds = set(db.session.scalars(select(Notification.kind).where(
            Notification.request_id == uuid.UUID(request["id"]))))
    assert kinds == {"request_dispatched", "request_done"}


def test_a_pending_request_is_declined_with_a_reason(client, volunteer, coordinator, site):
    request = client.post("/api/v1/requests", headers=auth(volunteer[2]), json={
        "site_id": site["id"], "description": "smoke"}).get_json()
    path = f"/api/v1/requests/{request['id']}/decline"
    assert client.post(path, headers=auth(volunteer[2]),
                       json={"reason": "x"}).status_code == 403
    blank = client.post(path, headers=auth(coordinator[2]), json={"reason": "  "})
    assert blank.status_code == 422 and "reason" in blank.get_json()["errors"]
    declined = client.post(path, headers=auth(coordinator[2]),
                           json={"reason": "already under investigation"})
    assert declined.status_code == 200
    assert (declined.get_json()["status"], declined.get_json()["decline_reason"]) == (
        "declined", "already under investigation")
    refused(client.post(path, headers=auth(coordinator[2]), json={"reason": "again"}),
            409, "declined")
    refused(dispatch(client, coordinator[2], request_id=request["id"]), 409, "declined")
    refused(client.post(f"/api/v1/requests/{request['id']}/rating", headers=auth(volunteer[2]),
                        json={"rating": 2}), 409, "declined")


def test_requests_are_the_requesters_own_and_staff_see_all(client, volunteer, coordinator,
                                                           make_user, site):
    other = make_user("volunteer")
    mine = client.post("/api/v1/requests", headers=auth(volunteer[2]), json={
        "location": {"lon": 113.4, "lat": 23.2, "crs": "gcj02"}, "description": "odour"})
    assert mine.status_code == 201
    place = mine.get_json()["location"]
    assert place["claim"] == {"lon": 113.4, "lat": 23.2, "crs": "gcj02"}
    # Stored as WGS-84, a few hundred metres from the GCJ-02 numbers.
    assert 100 < distance_m(113.4, 23.2, place["wgs84"]["lon"], place["wgs84"]["lat"]) < 1000
    request_id = mine.get_json()["id"]
    assert client.get(f"/api/v1/requests/{request_id}", headers=auth(other[2])).status_code \
        == 404
    listed = client.get("/api/v1/requests", headers=auth(other[2])).get_json()
    assert request_id not in {r["id"] for r in listed["items"]}
    staff = client.get("/api/v1/requests?page_size=500", headers=auth(coordinator[2]))
    assert request_id in {r["id"] for r in staff.get_json()["items"]}


@pytest.mark.parametrize(("body", "field"), [
    ({"description": "no place"}, "site_id"),
    ({"site_id": str(uuid.uuid4()), "description": "unknown site"}, "site_id"),
    ({"location": {"lon": 113.4, "lat": 23.2, "crs": "utm"}, "description": "x"},
     "location.crs"),
    ({"location": {"lon": 200, "lat": 23.2}, "description": "x"}, "location.lon"),
    ({"location": {"lon": 113.4, "lat": 23.2}, "description": "   "}, "description"),
    ({"location": {"lon": 113.4, "lat": 23.2}, "description": "x", "urgency": "now"},
     "urgency"),
])
def test_bad_requests_are_422_naming_the_field_and_write_nothing(app, client, volunteer,
                                                                 body, field):
    before = counts(app)
    response = client.post("/api/v1/requests", headers=auth(volunteer[2]), json=body)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]
    assert counts(app) == before


# Tasks (派单)

@pytest.mark.parametrize(("fields", "field"), [
    ({}, "site_id"),
    ({"site_id": "SITE", "ends_at": "2020-01-01T00:00:00+08:00"}, "ends_at"),
    # A window already over: nobody could claim it, yet volunteers near it would be told.
    ({"site_id": "SITE", "starts_at": "2021-03-01T08:00:00+08:00",
      "ends_at": "2021-03-01T18:00:00+08:00"}, "ends_at"),
    ({"area": {"type": "Point", "coordinates": [113.4, 23.2]}}, "area"),
    ({"area": {"type": "Polygon", "coordinates": [[[113.4, 23.2], [113.5, 23.3],
                                                   [113.5, 23.2], [113.4, 23.3],
                                                   [113.4, 23.2]]]}}, "area"),
    ({"site_id": "SITE", "area": {"type": "Polygon", "coordinates": [
        [[113.4, 23.2], [113.5, 23.2], [113.5, 23.3], [113.4, 23.2]]]}}, "area"),
    ({"site_id": "SITE", "slots": 0}, "slots"),
    ({"site_id": "SITE", "reach_m": -5}, "reach_m"),
    ({"site_id": "SITE", "categories": ["smell"]}, "categories[0]"),
    ({"site_id": str(uuid.uuid4())}, "site_id"),
    ({"request_id": str(uuid.uuid4())}, "request_id"),
])
def test_bad_tasks_are_422_naming_the_field_and_write_nothing(app, client, coordinator, site,
                                                              fields, field):
    fields = {k: site["id"] if v == "SITE" else v for k, v in fields.items()}
    before = counts(app)
    response = dispatch(client, coordinator[2], **fields)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"], response.get_json()
    assert counts(app) == before


def test_volunteers_cannot_dispatch(client, volunteer, site):
    assert dispatch(client, volunteer[2], site_id=site["id"]).status_code == 403


def test_a_task_over_an_area_in_bd09(client, coordinator, volunteer):
    ring = [[116.40, 39.90], [116.41, 39.90], [116.41, 39.91], [116.40, 39.91], [116.40, 39.90]]
    made = dispatch(client, coordinator[2], area={"type": "Polygon", "coordinates": [ring]},
                    crs="bd09", slots=3)
    assert made.status_code == 201, made.get_json()
    area = made.get_json()["area"]
    assert area["type"] == "Polygon"
    lon, lat = area["coordinates"][0][0]
    # BD-09 is about a kilometre from WGS-84 in Beijing.
    assert 500 < distance_m(116.40, 39.90, lon, lat) < 1500
    assert (made.get_json()["slots_taken"], made.get_json()["slots_left"]) == (0, 3)


def test_cancelling_a_task_cancels_its_claims_and_declines_its_request(
        app, client, coordinator, volunteer, make_user, site):
    requester = make_user("volunteer")
    request = client.post("/api/v1/requests", headers=auth(requester[2]), json={
        "site_id": site["id"], "description": "foam on the river"}).get_json()
    task = dispatch(client, coordinator[2], request_id=request["id"], slots=2).get_json()
    held = claim(client, volunteer[2], task["id"]).get_json()
    cancelled = client.post(f"/api/v1/tasks/{task['id']}/cancel", headers=auth(coordinator[2]),
                            json={"reason": "the plant closed"})
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert client.get(f"/api/v1/claims/{held['id']}",
                      headers=auth(volunteer[2])).get_json()["status"] == "cancelled"
    followed = client.get(f"/api/v1/requests/{request['id']}", headers=auth(requester[2]))
    assert followed.get_json()["status"] == "declined"
    assert "the plant closed" in followed.get_json()["decline_reason"]
    for action in ("complete", "cancel"):
        refused(client.post(f"/api/v1/tasks/{task['id']}/{action}",
                            headers=auth(coordinator[2]), json={}), 409, "cancelled")
    refused(claim(client, volunteer[2], task["id"]), 409, "cancelled")
    # A cancelled task is no longer shown to volunteers.
    assert client.get(f"/api/v1/tasks/{task['id']}", headers=auth(requester[2])).status_code \
        == 404
    with app.app_context():
        kinds = set(db.session.scalars(select(Notification.kind).where(
            Notification.user_id == volunteer[0])))
    assert "claim_cancelled" in kinds


def test_a_task_is_not_ended_under_a_volunteer_on_site(client, coordinator, volunteer, task):
    held = claim(client, volunteer[2], task["id"]).get_json()
    assert check_in(client, volunteer[2], held["id"]).status_code == 200
    for action in ("complete", "cancel"):
        busy = client.post(f"/api/v1/tasks/{task['id']}/{action}", headers=auth(coordinator[2]),
                           json={})
        assert busy.status_code == 409 and busy.get_json()["sub_code"] == "CLAIMS_UNDER_WAY"
        assert busy.get_json()["errors"]["claims"] == [held["id"]]
    assert check_out(client, volunteer[2], held["id"]).status_code == 200
    assert evaluate(client, coordinator[2], held["id"], "needs_more", "wider view").status_code \
        == 200
    completed = client.post(f"/api/v1/tasks/{task['id']}/complete",
                            headers=auth(coordinator[2]), json={"reason": "enough"})
    assert completed.status_code == 200 and completed.get_json()["status"] == "completed"
    # The claim sent back for more was cancelled with the task.
    assert client.get(f"/api/v1/claims/{held['id']}",
                      headers=auth(volunteer[2])).get_json()["status"] == "cancelled"


# Claims (接单)

def test_a_full_task_and_a_second_claim_are_409(client, coordinator, volunteer, make_user,
                                                site, task):
    held = claim(client, volunteer[2], task["id"])
    assert held.status_code == 201, held.get_json()
    body = held.get_json()
    assert body["status"] == "active"
    assert 7190 <= body["seconds_left"] <= 7200
    again = claim(client, volunteer[2], task["id"])
    assert again.status_code == 409 and again.get_json()["sub_code"] == "CLAIMED"
    other_task = dispatch(client, coordinator[2], site_id=site["id"]).get_json()
    second = claim(client, volunteer[2], other_task["id"])
    assert second.status_code == 409 and second.get_json()["sub_code"] == "CLAIM_LIMIT"
    assert body["id"] in second.get_json()["message"]
    full = claim(client, make_user("volunteer")[2], task["id"])
    assert full.status_code == 409 and full.get_json()["sub_code"] == "TASK_FULL"
    assert "full" in full.get_json()["message"]
    shown = client.get(f"/api/v1/tasks/{task['id']}", headers=auth(volunteer[2])).get_json()
    assert (shown["slots_taken"], shown["slots_left"]) == (1, 0)


def test_the_last_slot_goes_to_one_of_two_volunteers_claiming_at_once(app, coordinator,
                                                                      make_user, site):
    client = app.test_client()
    task = dispatch(client, coordinator[2], site_id=site["id"]).get_json()
    tokens = [make_user("volunteer")[2] for _ in range(4)]
    barrier, statuses = threading.Barrier(len(tokens)), []

    def take(token):
        barrier.wait()
        statuses.append(claim(app.test_client(), token, task["id"]).status_code)

    threads = [threading.Thread(target=take, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201, 409, 409, 409]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Claim).where(
            Claim.task_id == uuid.UUID(task["id"]))) == 1


def test_expired_claims_free_their_slot_and_the_sweep_marks_them(app, client, volunteer,
                                                                 make_user, task):
    from fieldapp.jobs import queue
    from fieldapp.jobs import tasks as jobs

    held = claim(client, volunteer[2], task["id"]).get_json()
    expire(app, held["id"])
    shown = client.get(f"/api/v1/claims/{held['id']}", headers=auth(volunteer[2])).get_json()
    assert (shown["status"], shown["seconds_left"]) == ("expired", None)
    refused(check_in(client, volunteer[2], held["id"]), 409, "expired")
    refused(act(client, volunteer[2], held["id"], "extend"), 409, "expired")
    # The slot is free before any sweep: slots count only unexpired claims.
    taker = make_user("volunteer")
    assert claim(client, taker[2], task["id"]).status_code == 201
    refused(claim(client, volunteer[2], task["id"]), 409, "full")

    with app.app_context():
        # Under a lock of its own: a run a worker scheduled for later may be waiting.
        assert queue.defer(jobs.CLAIMS, queueing_lock=f"test-{uuid.uuid4()}") is not None
        db.session.commit()
    run_jobs(app)
    with app.app_context():
        stored = db.session.get(Claim, uuid.UUID(held["id"]))
        assert stored.status == "expired"
        event = db.session.scalar(select(TaskEvent).where(
            TaskEvent.subject_id == stored.id, TaskEvent.action == "expired"))
        assert (event.from_status, event.to_status, event.actor_id) == (
            "active", "expired", None)
        assert db.session.scalar(select(func.count()).select_from(Notification).where(
            Notification.claim_id == stored.id, Notification.kind == "claim_expired")) == 1
        # The sweep queued its own next run.
        assert db.session.scalar(text(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = :t AND status = 'todo'"),
            {"t": jobs.CLAIMS}) == 1


def test_a_claim_is_extended_and_warned_once_before_it_expires(app, client, volunteer, task):
    from fieldapp.tasks import service

    held = claim(client, volunteer[2], task["id"]).get_json()
    with app.app_context():
        db.session.execute(update(Claim).where(Claim.id == uuid.UUID(held["id"])).values(
            expires_at=datetime.now(UTC) + timedelta(minutes=5)))
        db.session.commit()
        service.sweep_claims()
        service.sweep_claims()
        warnings = db.session.scalar(select(func.count()).select_from(Notification).where(
            Notification.claim_id == uuid.UUID(held["id"]),
            Notification.kind == "claim_expiring"))
    assert warnings == 1
    listed = client.get("/api/v1/volunteers/me/notifications", headers=auth(volunteer[2]))
    assert listed.get_json()["items"][0]["kind"] == "claim_expiring"
    extended = act(client, volunteer[2], held["id"], "extend")
    assert extended.status_code == 200, extended.get_json()
    assert 7190 <= extended.get_json()["seconds_left"] <= 7200
    assert extended.get_json()["status"] == "active"
    with app.app_context():
        event = db.session.scalar(select(TaskEvent).where(
            TaskEvent.subject_id == uuid.UUID(held["id"]), TaskEvent.action == "extended"))
        assert event.actor_id == volunteer[0]
        assert service.sweep_claims() == (0, 0)


def test_a_claim_is_given_up_and_then_cannot_move(client, volunteer, coordinator, task):
    held = claim(client, volunteer[2], task["id"]).get_json()
    cancelled = act(client, volunteer[2], held["id"], "cancel", reason="rain")
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    for action in ("cancel", "check-out", "extend"):
        refused(act(client, volunteer[2], held["id"], action), 409, "cancelled")
    refused(check_in(client, volunteer[2], held["id"]), 409, "cancelled")
    refused(evaluate(client, coordinator[2], held["id"], "accepted"), 409, "cancelled")
    # Its slot is free: the volunteer may claim the task again.
    assert claim(client, volunteer[2], task["id"]).status_code == 201


def test_claims_are_their_volunteers_own(client, volunteer, make_user, coordinator, task):
    held = claim(client, volunteer[2], task["id"]).get_json()
    other = make_user("volunteer")
    assert client.get(f"/api/v1/claims/{held['id']}", headers=auth(other[2])).status_code \
        == 404
    assert check_in(client, other[2], held["id"]).status_code == 404
    assert check_in(client, coordinator[2], held["id"]).status_code == 403
    assert client.get(f"/api/v1/tasks/{task['id']}/claims",
                      headers=auth(volunteer[2])).status_code == 403
    staff = client.get(f"/api/v1/tasks/{task['id']}/claims", headers=auth(coordinator[2]))
    assert [c["id"] for c in staff.get_json()] == [held["id"]]
    mine = client.get("/api/v1/volunteers/me/claims", headers=auth(volunteer[2])).get_json()
    assert [c["id"] for c in mine["items"]] == [held["id"]]
    assert mine["items"][0]["task_title"] == task["title"]


# On site

def test_check_in_out_of_reach_is_422_with_the_distance(app, client, volunteer, task):
    held = claim(client, volunteer[2], task["id"]).get_json()
    before = counts(app)
    lon, lat = offset_point(2000)
    far = check_in(client, volunteer[2], held["id"], lon, lat)
    assert far.status_code == 422, far.get_json()
    [message] = far.get_json()["errors"]["location"]
    metres = int(message.split(" m from")[0])
    assert abs(metres - distance_m(SITE_LON, SITE_LAT, lon, lat)) < 10
    assert "within 500 m" in message and far.get_json()["sub_code"] == "OUT_OF_REACH"
    assert counts(app) == before
    assert client.get(f"/api/v1/claims/{held['id']}",
                      headers=auth(volunteer[2])).get_json()["status"] == "active"
    bad = act(client, volunteer[2], held["id"], "check-in", location={"lon": "x", "lat": 1})
    assert bad.status_code == 422 and "location.lon" in bad.get_json()["errors"]
    assert counts(app) == before


def test_check_in_with_a_gcj02_point_on_site_then_out(app, client, volunteer, task):
    held = claim(client, volunteer[2], task["id"]).get_json()
    refused(act(client, volunteer[2], held["id"], "check-out"), 409, "active")
    gcj_lon, gcj_lat = wgs84_to_gcj02(*offset_point(300))
    # Read as WGS-84, the GCJ-02 numbers would be more than 500 m away.
    assert distance_m(SITE_LON, SITE_LAT, gcj_lon, gcj_lat) > 500
    arrived = check_in(client, volunteer[2], held["id"], gcj_lon, gcj_lat, "gcj02")
    assert arrived.status_code == 200, arrived.get_json()
    body = arrived.get_json()
    assert body["status"] == "checked_in" and body["seconds_left"] is None
    assert abs(body["visits"][0]["distance_m"] - 300) < 10
    refused(check_in(client, volunteer[2], held["id"]), 409, "checked_in")
    refused(act(client, volunteer[2], held["id"], "cancel"), 409, "checked_in")
    left = check_out(client, volunteer[2], held["id"])
    assert left.status_code == 200
    visit = left.get_json()["visits"][0]
    stayed = (datetime.fromisoformat(visit["checked_out_at"])
              - datetime.fromisoformat(visit["checked_in_at"]))
    assert visit["on_site_s"] == int(stayed.total_seconds())
    assert left.get_json()["on_site_s"] == visit["on_site_s"]
    with app.app_context():
        stored = db.session.scalar(text(
            "SELECT on_site_s FROM claim_visits WHERE claim_id = :c"), {"c": held["id"]})
    assert stored == visit["on_site_s"]


def test_a_check_out_away_from_the_site_counts_up_to_the_last_sign_of_presence(
        client, coordinator, volunteer, site, owner_connection):
    # Three hours ago on site, the task's window still open. Checked out on site, the three
    # hours count; from 5 km away, or with no place at all, the way home does not: the
    # visit counts up to the last report sent during it (here, one sent just now), else the
    # check-in.
    on_site, far = {"lon": SITE_LON, "lat": SITE_LAT}, {"lon": SITE_LON + 0.05, "lat": SITE_LAT}
    for place, seed, counted_s in ((on_site, None, 3 * 3600), (far, None, 0),
                                   (far, 7301, 3 * 3600), (None, None, 0)):
        made, held, _ = checked_in_three_hours_ago(client, coordinator, volunteer[2], site,
                                                   owner_connection, task_ends_in_hours=2,
                                                   report_seed=seed)
        left = act(client, volunteer[2], held["id"], "check-out",
                   **({"location": place} if place else {}))
        assert left.status_code == 200, left.get_json()
        [visit] = left.get_json()["visits"]
        assert abs(visit["on_site_s"] - counted_s) <= 5, (place, seed, visit)
        events = client.get(f"/api/v1/tasks/{made['id']}/events",
                            headers=auth(coordinator[2])).get_json()
        [out] = [e for e in (events["items"] if isinstance(events, dict) else events)
                 if e["action"] == "checked_out"]
        assert out["details"]["on_site"] is (place is on_site), out
        assert evaluate(client, coordinator[2], held["id"], "accepted").status_code == 200


def sent_back_beside_another(client, coordinator, token, site) -> tuple[dict, dict]:
    """Claim A checked out and sent back for more, and claim B taken meanwhile (A waiting
    on the coordinator is no longer in hand): two claims the volunteer may check in on."""
    first = dispatch(client, coordinator[2], site_id=site["id"], title="A").get_json()
    second = dispatch(client, coordinator[2], site_id=site["id"], title="B").get_json()
    held_a = claim(client, token, first["id"]).get_json()
    assert check_in(client, token, held_a["id"]).status_code == 200
    assert check_out(client, token, held_a["id"]).status_code == 200
    held_b = claim(client, token, second["id"]).get_json()
    assert evaluate(client, coordinator[2], held_a["id"], "needs_more",
                    "the outfall is not in frame").status_code == 200
    return held_a, held_b


def test_one_visit_at_a_time_so_no_hour_is_counted_twice(app, client, coordinator,
                                                        volunteer, site):
    # Checked in on B, a check-in on A would open a second visit beside B's, and every
    # minute would count twice toward the volunteer's hours.
    held_a, held_b = sent_back_beside_another(client, coordinator, volunteer[2], site)
    assert check_in(client, volunteer[2], held_b["id"]).status_code == 200
    before = counts(app)
    again = check_in(client, volunteer[2], held_a["id"])
    assert again.status_code == 409, again.get_json()
    assert again.get_json()["sub_code"] == "ON_SITE_ELSEWHERE"
    assert again.get_json()["errors"]["claims"] == [held_b["id"]]
    assert counts(app) == before
    assert client.get(f"/api/v1/claims/{held_a['id']}",
                      headers=auth(volunteer[2])).get_json()["status"] == "needs_more"
    # Once back from B, the volunteer goes on to A.
    assert check_out(client, volunteer[2], held_b["id"]).status_code == 200
    assert check_in(client, volunteer[2], held_a["id"]).status_code == 200


def test_one_volunteers_two_check_ins_at_once_leave_one_visit_open(app, coordinator,
                                                                    make_user, site):
    client = app.test_client()
    walker = make_user("volunteer")
    held_a, held_b = sent_back_beside_another(client, coordinator, walker[2], site)
    barrier, statuses = threading.Barrier(2), []

    def arrive(claim_id):
        barrier.wait()
        statuses.append(check_in(app.test_client(), walker[2], claim_id).status_code)

    threads = [threading.Thread(target=arrive, args=(held["id"],)) for held in (held_a, held_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409]
    with app.app_context():
        assert db.session.scalar(text(
            "SELECT count(*) FROM claim_visits v JOIN claims c ON c.id = v.claim_id "
            "WHERE c.volunteer_id = :v AND v.checked_out_at IS NULL"),
            {"v": walker[0]}) == 1


def checked_in_three_hours_ago(client, coordinator, token, site, owner_connection,
                               task_ends_in_hours=-1, report_seed=None):
    """A claim checked in three hours ago (with a report sent since, given a seed) on a
    task that ends this many hours from now (the insider's hand puts both back: the app
    never rewrites them): (task, claim, the task's end)."""
    now = datetime.now(UTC)
    made = dispatch(client, coordinator[2], site_id=site["id"],
                    starts_at=iso(now - timedelta(hours=4))).get_json()
    held = claim(client, token, made["id"]).get_json()
    assert check_in(client, token, held["id"]).status_code == 200
    if report_seed is not None:
        assert task_report(client, token, made["id"], seed=report_seed).status_code == 201
    with owner_connection.cursor() as cur:
        cur.execute("UPDATE claim_visits SET checked_in_at = now() - interval '3 hours' "
                    "WHERE claim_id = %s", (held["id"],))
        cur.execute("UPDATE tasks SET ends_at = now() + %s * interval '1 hour' WHERE id = %s "
                    "RETURNING ends_at", (task_ends_in_hours, made["id"]))
        ends_at = cur.fetchone()[0]
    owner_connection.commit()
    return made, held, ends_at


def test_on_site_time_stops_at_the_end_of_the_tasks_window(app, client, coordinator,
                                                          volunteer, site, owner_connection):
    # Whoever checks out only now (or a week later) was on duty two hours.
    _, held, ends_at = checked_in_three_hours_ago(client, coordinator, volunteer[2], site,
                                                  owner_connection)
    left = check_out(client, volunteer[2], held["id"])
    assert left.status_code == 200, left.get_json()
    [visit] = left.get_json()["visits"]
    assert abs(visit["on_site_s"] - 7200) <= 2, visit
    assert left.get_json()["on_site_s"] == visit["on_site_s"]
    # The visit, as the record and the certificate's period state it, ends with the task
    # (the check-out's own time is in the claim's events).
    assert datetime.fromisoformat(visit["checked_out_at"]) == ends_at
    assert evaluate(client, coordinator[2], held["id"], "accepted").status_code == 200
    record = client.get("/api/v1/volunteers/me/service-record",
                        headers=auth(volunteer[2])).get_json()
    assert record["total_on_site_s"] == visit["on_site_s"] and record["total_hours"] == 2.0
    assert datetime.fromisoformat(record["period"]["end"]) == ends_at


def test_a_visit_never_checked_out_is_closed_once_the_task_ends_at_its_last_report(
        app, client, coordinator, volunteer, make_user, site, owner_connection):
    from fieldapp.tasks import service

    # Another volunteer on site at a task still under way is left alone.
    other_task = dispatch(client, coordinator[2], site_id=site["id"]).get_json()
    stayer = make_user("volunteer")
    staying = claim(client, stayer[2], other_task["id"]).get_json()
    assert check_in(client, stayer[2], staying["id"]).status_code == 200
    # The volunteer checked in three hours ago, sent a report, and walked away; the task
    # ends two hours later.
    made, held, ends_at = checked_in_three_hours_ago(
        client, coordinator, volunteer[2], site, owner_connection, task_ends_in_hours=2,
        report_seed=9301)
    with app.app_context():
        reported_at = db.session.scalar(text(
            "SELECT created_at FROM task_reports WHERE claim_id = :c"), {"c": held["id"]})
    # Until the sweep, nothing ends the task under the volunteer said to be on site.
    for action in ("complete", "cancel"):
        stuck = client.post(f"/api/v1/tasks/{made['id']}/{action}",
                            headers=auth(coordinator[2]), json={})
        assert stuck.get_json()["sub_code"] == "CLAIMS_UNDER_WAY"
    with app.app_context():
        service.sweep_claims()
        assert db.session.get(Claim, uuid.UUID(held["id"])).status == "checked_in"
        # The sweep after the task's end.
        service.sweep_claims(ends_at + timedelta(minutes=1))
        service.sweep_claims(ends_at + timedelta(minutes=2))
        events = db.session.execute(select(TaskEvent.action, TaskEvent.actor_id).where(
            TaskEvent.subject_id == uuid.UUID(held["id"]),
            TaskEvent.action == "checked_out")).all()
        told = db.session.scalars(select(Notification.kind).where(
            Notification.claim_id == uuid.UUID(held["id"]))).all()
    assert events == [("checked_out", None)]
    assert told == ["visit_closed"]
    shown = client.get(f"/api/v1/claims/{held['id']}", headers=auth(volunteer[2])).get_json()
    [visit] = shown["visits"]
    assert shown["status"] == "checked_out"
    # Not credited to the task's end: only up to the last sign of presence, the report.
    assert datetime.fromisoformat(visit["checked_out_at"]) == reported_at
    assert abs(visit["on_site_s"] - 3 * 3600) <= 2
    assert client.get(f"/api/v1/claims/{staying['id']}",
                      headers=auth(stayer[2])).get_json()["status"] == "checked_in"
    # The coordinator evaluates, and the task (its one slot done) is completed.
    assert evaluate(client, coordinator[2], held["id"], "accepted").status_code == 200
    assert client.get(f"/api/v1/tasks/{made['id']}",
                      headers=auth(coordinator[2])).get_json()["status"] == "completed"


def test_a_coordinator_closes_the_visit_of_a_volunteer_who_left_without_checking_out(
        app, client, coordinator, volunteer, make_user, site, owner_connection):
    # A task a month long: waiting for its end would leave it open, under a volunteer long
    # gone, for a month.
    now = datetime.now(UTC)
    made = dispatch(client, coordinator[2], site_id=site["id"],
                    ends_at=iso(now + timedelta(days=30))).get_json()
    held = claim(client, volunteer[2], made["id"]).get_json()
    assert check_in(client, volunteer[2], held["id"]).status_code == 200
    assert act(client, make_user("lawyer")[2], held["id"], "check-out").status_code == 403
    assert act(client, make_user("volunteer")[2], held["id"], "check-out").status_code == 404
    # Gone for an hour by the time the coordinator closes the visit, without a report.
    with owner_connection.cursor() as cur:
        cur.execute("UPDATE claim_visits SET checked_in_at = now() - interval '1 hour' "
                    "WHERE claim_id = %s", (held["id"],))
    owner_connection.commit()
    closed = act(client, coordinator[2], held["id"], "check-out")
    assert closed.status_code == 200, closed.get_json()
    assert closed.get_json()["status"] == "checked_out"
    [visit] = closed.get_json()["visits"]
    assert visit["on_site_s"] == 0 and visit["checked_out_at"] == visit["checked_in_at"]
    with app.app_context():
        event = db.session.scalar(select(TaskEvent).where(
            TaskEvent.subject_id == uuid.UUID(held["id"]), TaskEvent.action == "checked_out"))
        told = db.session.scalars(select(Notification.kind).where(
            Notification.claim_id == uuid.UUID(held["id"]))).all()
    assert event.actor_id == coordinator[0]
    assert told == ["visit_closed"]
    assert evaluate(client, coordinator[2], held["id"], "needs_more", "gone").status_code == 200
    assert client.post(f"/api/v1/tasks/{made['id']}/cancel", headers=auth(coordinator[2]),
                       json={"reason": "nobody went"}).status_code == 200


def test_check_in_before_the_task_starts_is_refused(client, coordinator, volunteer, site):
    start = datetime.now(UTC) + timedelta(hours=3)
    later = dispatch(client, coordinator[2], site_id=site["id"], starts_at=iso(start),
                     ends_at=iso(start + timedelta(hours=2))).get_json()
    held = claim(client, volunteer[2], later["id"]).get_json()
    early = check_in(client, volunteer[2], held["id"])
    assert early.status_code == 409 and early.get_json()["sub_code"] == "OUTSIDE_WINDOW"
    assert "starts_at" in early.get_json()["errors"]


def test_check_in_after_the_task_ended_is_refused_naming_its_end(app, client, coordinator,
                                                                 volunteer, site,
                                                                 owner_connection):
    made = dispatch(client, coordinator[2], site_id=site["id"]).get_json()
    held = claim(client, volunteer[2], made["id"]).get_json()
    with owner_connection.cursor() as cur:
        cur.execute("UPDATE tasks SET ends_at = now() - interval '1 minute' WHERE id = %s",
                    (made["id"],))
    owner_connection.commit()
    before = counts(app)
    late = check_in(client, volunteer[2], held["id"])
    assert late.status_code == 409 and late.get_json()["sub_code"] == "OUTSIDE_WINDOW"
    assert list(late.get_json()["errors"]) == ["ends_at"], late.get_json()
    assert counts(app) == before


def test_reports_count_toward_a_task_only_from_the_claimant_on_site(app, client, volunteer,
                                                                    make_user, task):
    held = claim(client, volunteer[2], task["id"]).get_json()
    before = storage_snapshot(app)
    early = task_report(client, volunteer[2], task["id"], seed=9101)
    assert early.status_code == 422, early.get_json()
    assert "your claim is active" in early.get_json()["errors"]["report.task_id"][0]
    stranger = make_user("volunteer")
    assert "no claim" in task_report(client, stranger[2], task["id"], seed=9102) \
        .get_json()["errors"]["report.task_id"][0]
    unknown = task_report(client, volunteer[2], str(uuid.uuid4()), seed=9103)
    assert unknown.get_json()["errors"]["report.task_id"] == ["no such task"]
    assert storage_snapshot(app)["counts"] == before["counts"]

    assert check_in(client, volunteer[2], held["id"]).status_code == 200
    sent = task_report(client, volunteer[2], task["id"], seed=9104)
    assert sent.status_code == 201, sent.get_json()
    assert check_out(client, volunteer[2], held["id"]).status_code == 200
    after = task_report(client, volunteer[2], task["id"], seed=9105)
    assert after.status_code == 201
    shown = client.get(f"/api/v1/claims/{held['id']}", headers=auth(volunteer[2])).get_json()
    assert shown["report_ids"] == [sent.get_json()["id"], after.get_json()["id"]]
    with app.app_context():
        assert db.session.scalar(text("SELECT count(*) FROM task_reports WHERE task_id = :t"),
                                 {"t": task["id"]}) == 2


# Evaluation (评单)

def test_needs_more_reopens_the_claim_and_its_reason_is_read_first(app, client, volunteer,
                                                                   coordinator, make_user,
                                                                   site):
    task = dispatch(client, coordinator[2], site_id=site["id"], slots=2).get_json()
    held = claim(client, volunteer[2], task["id"]).get_json()
    refused(evaluate(client, coordinator[2], held["id"], "accepted"), 409, "active")
    assert check_in(client, volunteer[2], held["id"]).status_code == 200
    assert check_out(client, volunteer[2], held["id"]).status_code == 200
    assert evaluate(client, volunteer[2], held["id"], "accepted").status_code == 403

    before = counts(app)
    for body, field in (({"decision": "needs_more", "rating": 3}, "reason"),
                        ({"decision": "needs_more", "reason": "  ", "rating": 3}, "reason"),
                        ({"decision": "accepted", "rating": 6}, "rating"),
                        ({"decision": "accepted"}, "rating"),
                        ({"decision": "fine", "rating": 3}, "decision")):
        bad = act(client, coordinator[2], held["id"], "evaluation", **body)
        assert bad.status_code == 422 and field in bad.get_json()["errors"], bad.get_json()
    assert counts(app) == before

    more = evaluate(client, coordinator[2], held["id"], "needs_more",
                    "the outfall is not in frame; shoot from the bridge", rating=2)
    assert more.status_code == 200, more.get_json()
    body = more.get_json()
    assert body["status"] == "needs_more"
    assert body["feedback"]["reason"] == "the outfall is not in frame; shoot from the bridge"
    # Whoever looks at the task next reads it too.
    newcomer = make_user("volunteer")
    shown = client.get(f"/api/v1/tasks/{task['id']}", headers=auth(newcomer[2])).get_json()
    assert shown["last_feedback"]["reason"] == body["feedback"]["reason"]
    assert shown["last_feedback"]["decision"] == "needs_more"
    assert "evaluator" not in shown["last_feedback"]
    # More reports wait for a new check-in.
    assert "needs_more" in task_report(client, volunteer[2], task["id"], seed=9201) \
        .get_json()["errors"]["report.task_id"][0]
    refused(act(client, volunteer[2], held["id"], "check-out"), 409, "needs_more")
    assert check_in(client, volunteer[2], held["id"]).status_code == 200
    assert task_report(client, volunteer[2], task["id"], seed=9202).status_code == 201
    assert check_out(client, volunteer[2], held["id"]).status_code == 200
    accepted = evaluate(client, coordinator[2], held["id"], "accepted", rating=5)
    assert accepted.status_code == 200
    body = accepted.get_json()
    assert body["status"] == "accepted" and body["feedback"]["decision"] == "accepted"
    assert [e["decision"] for e in body["evaluations"]] == ["needs_more", "accepted"]
    assert len(body["visits"]) == 2
    refused(evaluate(client, coordinator[2], held["id"], "needs_more", "again"), 409,
            "accepted")
    # One of two slots accepted: the task stays open.
    assert client.get(f"/api/v1/tasks/{task['id']}",
                      headers=auth(coordinator[2])).get_json()["status"] == "open"
    with app.app_context():
        told = db.session.execute(select(Notification.kind, Notification.message).where(
            Notification.user_id == volunteer[0], Notification.claim_id == uuid.UUID(held["id"]))
            .order_by(Notification.created_at)).all()
    assert [kind for kind, _ in told] == ["claim_needs_more", "claim_accepted"]
    assert "shoot from the bridge" in told[0].message


# Near me, and notifications

def test_open_tasks_near_a_gcj02_point(client, coordinator, volunteer, site):
    here = dispatch(client, coordinator[2], site_id=site["id"], title="here").get_json()
    far_ring = [[116.30, 39.90], [116.31, 39.90], [116.31, 39.91], [116.30, 39.90]]
    far = dispatch(client, coordinator[2], title="Beijing",
                   area={"type": "Polygon", "coordinates": [far_ring]}).get_json()
    gcj_lon, gcj_lat = wgs84_to_gcj02(SITE_LON, SITE_LAT)
    near = client.get(f"/api/v1/tasks?near={gcj_lon},{gcj_lat}&crs=gcj02&radius_m=50&"
                      "page_size=500", headers=auth(volunteer[2]))
    assert near.status_code == 200, near.get_json()
    found = {t["id"]: t for t in near.get_json()["items"]}
    assert here["id"] in found and far["id"] not in found
    assert found[here["id"]]["distance_m"] < 5
    # The same numbers read as WGS-84 are hundreds of metres off: nothing within 50 m.
    wrong = client.get(f"/api/v1/tasks?near={gcj_lon},{gcj_lat}&radius_m=50",
                       headers=auth(volunteer[2]))
    assert here["id"] not in {t["id"] for t in wrong.get_json()["items"]}
    everywhere = client.get("/api/v1/tasks?page_size=500", headers=auth(volunteer[2]))
    assert {here["id"], far["id"]} <= {t["id"] for t in everywhere.get_json()["items"]}
    for query, field in (("near=113.4", "near"), ("near=a,b", "near"),
                         ("near=113.4,23.2&radius_m=0", "radius_m"),
                         ("near=113.4,23.2&crs=x", "crs")):
        bad = client.get(f"/api/v1/tasks?{query}", headers=auth(volunteer[2]))
        assert bad.status_code == 422 and field in bad.get_json()["errors"], query


def test_volunteers_see_only_open_tasks_and_staff_see_all(client, coordinator, volunteer,
                                                          site):
    ended = dispatch(client, coordinator[2], site_id=site["id"]).get_json()
    assert client.post(f"/api/v1/tasks/{ended['id']}/complete", headers=auth(coordinator[2]),
                       json={}).status_code == 200
    mine = client.get("/api/v1/tasks?page_size=500", headers=auth(volunteer[2])).get_json()
    assert ended["id"] not in {t["id"] for t in mine["items"]}
    staff = client.get("/api/v1/tasks?status=completed&page_size=500",
                       headers=auth(coordinator[2])).get_json()
    assert ended["id"] in {t["id"] for t in staff["items"]}
    # Asked for completed tasks, a volunteer is told they see open ones only, rather than
    # handed open tasks as if they were the answer.
    asked = client.get("/api/v1/tasks?status=completed", headers=auth(volunteer[2]))
    assert asked.status_code == 403 and "status" in asked.get_json()["errors"], asked.get_json()
    assert client.get("/api/v1/tasks?status=open",
                      headers=auth(volunteer[2])).status_code == 200


def test_dispatch_notifies_volunteers_whose_area_reaches_the_task(app, client, coordinator,
                                                                  make_user, site):
    near, far = make_user("volunteer"), make_user("volunteer")
    gcj = wgs84_to_gcj02(*offset_point(3000))
    chosen = client.put("/api/v1/volunteers/me/area", headers=auth(near[2]), json={
        "location": {"lon": gcj[0], "lat": gcj[1], "crs": "gcj02"}, "radius_m": 5000})
    assert chosen.status_code == 200, chosen.get_json()
    assert chosen.get_json()["location"]["claim"]["crs"] == "gcj02"
    assert client.put("/api/v1/volunteers/me/area", headers=auth(far[2]), json={
        "location": {"lon": 121.47, "lat": 31.23}, "radius_m": 20000}).status_code == 200
    # Replaced, not added: the area is one per volunteer.
    assert client.put("/api/v1/volunteers/me/area", headers=auth(far[2]), json={
        "location": {"lon": 121.47, "lat": 31.23}, "radius_m": 30000}).status_code == 200
    assert client.get("/api/v1/volunteers/me/area",
                      headers=auth(far[2])).get_json()["radius_m"] == 30000
    bad = client.put("/api/v1/volunteers/me/area", headers=auth(far[2]), json={
        "location": {"lon": 121.47, "lat": 31.23}, "radius_m": 0})
    assert bad.status_code == 422 and "radius_m" in bad.get_json()["errors"]

    task = dispatch(client, coordinator[2], site_id=site["id"], title="近处任务").get_json()
    near_list = client.get("/api/v1/volunteers/me/notifications", headers=auth(near[2]))
    [note] = [n for n in near_list.get_json()["items"] if n["task_id"] == task["id"]]
    assert note["kind"] == "task_nearby" and "近处任务" in note["message"]
    far_list = client.get("/api/v1/volunteers/me/notifications", headers=auth(far[2]))
    assert task["id"] not in {n["task_id"] for n in far_list.get_json()["items"]}


# What the app's role may do to these tables

@pytest.mark.parametrize("statement", [
    "UPDATE task_events SET action = 'x'",
    "DELETE FROM task_events",
    "UPDATE claim_evaluations SET decision = 'accepted'",
    "DELETE FROM task_reports",
    "UPDATE claims SET volunteer_id = task_id",
    "DELETE FROM claims",
    "UPDATE tasks SET slots = 100",
    "UPDATE monitoring_requests SET requester_id = requester_id",
    "UPDATE claim_visits SET checked_in_at = now()",
])
def test_the_app_role_cannot_rewrite_what_happened(client, volunteer, coordinator, task,
                                                   app_connection, statement):
    held = claim(client, volunteer[2], task["id"]).get_json()
    assert check_in(client, volunteer[2], held["id"]).status_code == 200
    assert check_out(client, volunteer[2], held["id"]).status_code == 200
    assert evaluate(client, coordinator[2], held["id"], "needs_more", "more").status_code == 200
    with app_connection.cursor() as cur, pytest.raises(psycopg2.Error) as failed:
        cur.execute(statement)
    app_connection.rollback()
    assert failed.value.pgcode == "42501"  # insufficient_privilege
