"""Coordinators review photos; lawyers build cases of numbered evidence items."""
from __future__ import annotations

import uuid

import psycopg2
import pytest
from sqlalchemy import select

from fieldapp.custody.models import CustodyEvent
from fieldapp.extensions import db
from tests.helpers import TEST_OWNER_DB_URL, auth, post_report, report_json
from tests.imagegen import jpeg_bytes


@pytest.fixture()
def photo(client, volunteer):
    response = post_report(client, volunteer[2], report_json(),
                           [(jpeg_bytes(seed=int(uuid.uuid4().int % 10**6)), "a.jpg")])
    assert response.status_code == 201
    return response.get_json()["photos"][0]


@pytest.fixture()
def site(client, coordinator):
    response = client.post("/api/v1/sites", headers=auth(coordinator[2]), json={
        "name": "案件工厂", "geometry": {"type": "Point", "coordinates": [121.4, 31.2]}})
    assert response.status_code == 201
    return response.get_json()


@pytest.fixture()
def lawyer(make_user):
    return make_user("lawyer")


def review(client, token, photo_id, decision, reason=""):
    return client.post(f"/api/v1/photos/{photo_id}/reviews", headers=auth(token),
                       json={"decision": decision, "reason": reason})


def test_review_history_and_current_decision(app, client, coordinator, photo):
    token = coordinator[2]
    assert review(client, token, photo["id"], "needs_more", "closer shot?").status_code == 201
    accepted = review(client, token, photo["id"], "accepted")
    assert accepted.status_code == 201
    current = client.get(f"/api/v1/photos/{photo['id']}", headers=auth(token)).get_json()
    assert current["review"]["decision"] == "accepted"
    history = client.get(f"/api/v1/photos/{photo['id']}/reviews", headers=auth(token))
    assert [r["decision"] for r in history.get_json()] == ["needs_more", "accepted"]
    with app.app_context():
        events = db.session.scalars(select(CustodyEvent).where(
            CustodyEvent.subject_id == photo["id"], CustodyEvent.action == "reviewed")
            .order_by(CustodyEvent.seq)).all()
    assert [e.details["decision"] for e in events] == ["needs_more", "accepted"]
    assert events[-1].hash == accepted.get_json()["custody_hash"]


def test_rejection_needs_a_reason(client, coordinator, photo):
    response = review(client, coordinator[2], photo["id"], "rejected", "   ")
    assert response.status_code == 422 and "reason" in response.get_json()["errors"]
    assert review(client, coordinator[2], photo["id"], "maybe").status_code == 422


def test_only_coordinators_review(client, lawyer, volunteer, photo):
    assert review(client, lawyer[2], photo["id"], "accepted").status_code == 403
    assert review(client, volunteer[2], photo["id"], "accepted").status_code == 403


def test_reviews_cannot_be_rewritten(photo, client, coordinator):
    review(client, coordinator[2], photo["id"], "accepted")
    conn = psycopg2.connect(TEST_OWNER_DB_URL)  # even the owner
    try:
        with pytest.raises(psycopg2.Error, match="append-only"), conn, conn.cursor() as cur:
            cur.execute("UPDATE reviews SET decision = 'rejected'")
    finally:
        conn.close()


def test_case_lifecycle(client, lawyer, site):
    token = lawyer[2]
    created = client.post("/api/v1/cases", headers=auth(token), json={
        "site_id": site["id"], "title": "某某印染厂水污染公益诉讼",
        "authority": "广州市中级人民法院",
        "case_number": "(2026)粤01民初123号",
        "timeline": [{"date": "2026-03-01", "text": "首次巡查发现排污"}]})
    assert created.status_code == 201, created.get_json()
    case = created.get_json()
    assert case["legal_status"] == "monitoring" and len(case["timeline"]) == 1
    patched = client.patch(f"/api/v1/cases/{case['id']}", headers=auth(token),
                           json={"legal_status": "litigation_filed"})
    assert patched.get_json()["legal_status"] == "litigation_filed"
    assert "monitoring → litigation_filed" in patched.get_json()["timeline"][-1]["text"]
    added = client.post(f"/api/v1/cases/{case['id']}/timeline", headers=auth(token),
                        json={"date": "2026-02-01", "text": "申请信息公开"})
    assert [e["date"] for e in added.get_json()["timeline"]][:2] == ["2026-02-01", "2026-03-01"]
    listed = client.get(f"/api/v1/cases?site_id={site['id']}", headers=auth(token))
    assert [c["id"] for c in listed.get_json()] == [case["id"]]


@pytest.mark.parametrize("body, field", [
    ({"title": "x"}, "site_id"),
    ({"site_id": "not-a-uuid", "title": "x"}, "site_id"),
    ({"title": "x", "legal_status": "won"}, "legal_status"),
    ({"title": "", }, "title"),
    ({"title": "x", "timeline": [{"date": "yesterday", "text": "x"}]}, "timeline"),
])
def test_bad_case_is_422(client, lawyer, site, body, field):
    body = {"site_id": site["id"], **body} if "site_id" not in body and field != "site_id" \
        else body
    response = client.post("/api/v1/cases", headers=auth(lawyer[2]), json=body)
    assert response.status_code == 422
    assert any(name.split("[")[0] == field for name in response.get_json()["errors"])


def test_case_for_unknown_site(client, lawyer):
    response = client.post("/api/v1/cases", headers=auth(lawyer[2]),
                           json={"site_id": str(uuid.uuid4()), "title": "x"})
    assert response.status_code == 422 and "site_id" in response.get_json()["errors"]


def test_items_numbered_reordered_removed(client, lawyer, site, make_user, coordinator):
    volunteer_token = make_user("volunteer")[2]
    photos = []
    for seed in range(3):
        response = post_report(client, volunteer_token, report_json(),
                               [(jpeg_bytes(seed=950 + seed), "a.jpg")])
        photos.append(response.get_json()["photos"][0]["id"])
    token = lawyer[2]
    case = client.post("/api/v1/cases", headers=auth(token),
                       json={"site_id": site["id"], "title": "items"}).get_json()
    url = f"/api/v1/cases/{case['id']}/items"
    items = []
    for n, photo_id in enumerate(photos):
        response = client.post(url, headers=auth(token), json={
            "photo_id": photo_id, "title": f"照片 {n}", "purpose": "证明该厂向河道排放污水"})
        assert response.status_code == 201
        items.append(response.get_json())
    assert [i["number"] for i in items] == [1, 2, 3]
    duplicate = client.post(url, headers=auth(token), json={
        "photo_id": photos[0], "title": "again", "purpose": "x"})
    assert duplicate.status_code == 409
    order = [items[2]["id"], items[0]["id"], items[1]["id"]]
    reordered = client.put(f"{url}/order", headers=auth(token), json={"item_ids": order})
    assert [i["id"] for i in reordered.get_json()] == order
    assert [i["number"] for i in reordered.get_json()] == [1, 2, 3]
    partial = client.put(f"{url}/order", headers=auth(token), json={"item_ids": order[:2]})
    assert partial.status_code == 422 and "item_ids" in partial.get_json()["errors"]
    assert client.delete(f"{url}/{items[2]['id']}", headers=auth(token)).status_code == 204
    left = client.get(url, headers=auth(token)).get_json()
    assert [(i["id"], i["number"]) for i in left] == [(items[0]["id"], 1), (items[1]["id"], 2)]
    assert client.post(url, headers=auth(coordinator[2]), json={
        "photo_id": photos[2], "title": "x", "purpose": "x"}).status_code == 403


def test_rejected_photo_enters_only_on_purpose(client, lawyer, site, coordinator, photo):
    review(client, coordinator[2], photo["id"], "rejected", "blurred, cannot see outfall")
    case = client.post("/api/v1/cases", headers=auth(lawyer[2]),
                       json={"site_id": site["id"], "title": "rejected"}).get_json()
    url = f"/api/v1/cases/{case['id']}/items"
    body = {"photo_id": photo["id"], "title": "t", "purpose": "p"}
    refused = client.post(url, headers=auth(lawyer[2]), json=body)
    assert refused.status_code == 422 and refused.get_json()["sub_code"] == "PHOTO_REJECTED"
    accepted = client.post(url, headers=auth(lawyer[2]), json={**body, "include_rejected": True})
    assert accepted.status_code == 201 and accepted.get_json()["review"] == "rejected"
