"""GET /api/v1/photos: the staff's list of photos, and the review queue it serves."""
from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from tests.helpers import auth, post_report, report_json, submit_at
from tests.imagegen import jpeg_bytes

CST = timezone(timedelta(hours=8))
# Around Harbin: no other test puts sites or reports here; each use of the fixture 2 km
# east of the last, beyond the reach of the sites before it.
HARBIN = (126.63, 45.75)
PLACES = itertools.count()


@pytest.fixture()
def listed(client, make_user):
    """A site with three photos of one volunteer: two consistent, one 300 m from its claim."""
    lon, lat = HARBIN[0] + 0.03 * next(PLACES), HARBIN[1]
    volunteer, coordinator = make_user("volunteer"), make_user("coordinator")[2]
    site = client.post("/api/v1/sites", headers=auth(coordinator), json={
        "name": "哈尔滨测试造纸厂", "geometry": {"type": "Point", "coordinates": [lon, lat]}})
    assert site.status_code == 201
    now = datetime.now(CST).replace(microsecond=0)
    # New pictures each time: a picture seen before would fail the duplicate checks.
    seed = 5000 + uuid.uuid4().int % 100000
    good = [submit_at(client, volunteer[2], lon + 0.0004 * i, lat, seed + i,
                      now - timedelta(days=i + 1))["photos"][0]["id"] for i in range(2)]
    taken = now - timedelta(hours=3)
    claim = report_json(category="soil", observed_at=taken.isoformat(),
                        location={"lon": lon, "lat": lat, "crs": "wgs84", "accuracy_m": 10})
    off = post_report(client, volunteer[2], claim, [(jpeg_bytes(
        seed=seed + 10, lat=lat, lon=lon + 0.004, taken=taken, gps_time=taken), "off.jpg")])
    assert off.status_code == 201
    pseudonym = client.get("/api/v1/auth/me", headers=auth(volunteer[2])).get_json()["pseudonym"]
    return {"lon": lon, "site": site.get_json()["id"], "good": good,
            "off": off.get_json()["photos"][0]["id"], "coordinator": coordinator,
            "volunteer": volunteer[2], "pseudonym": pseudonym}


def _list(client, token, **args):
    response = client.get("/api/v1/photos", headers=auth(token), query_string=args)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_the_queue_is_what_waits_for_a_decision(client, listed):
    token, site = listed["coordinator"], listed["site"]
    newest = _list(client, token, review="pending", site_id=site)
    assert newest["total"] == 3
    # Newest received first: the photo sent last leads.
    assert [p["id"] for p in newest["items"]] == [listed["off"], *reversed(listed["good"])]
    # Each photo carries its report's claim, so the queue shows both sides in one answer.
    first = newest["items"][0]
    assert first["report"]["location"]["claim"]["lon"] == listed["lon"]
    assert "photos" not in first["report"]
    assert first["exif"]["gps"]["lon"] == pytest.approx(listed["lon"] + 0.004)
    assert first["verdict"] != "consistent" and first["review"] is None

    worst = _list(client, token, review="pending", site_id=site, order="worst")
    assert worst["items"][0]["id"] == listed["off"]
    assert {p["verdict"] for p in worst["items"][1:]} == {"consistent"}

    decided = client.post(f"/api/v1/photos/{listed['good'][0]}/reviews", headers=auth(token),
                          json={"decision": "needs_more", "reason": "a wider shot"})
    assert decided.status_code == 201
    pending = _list(client, token, review="pending", site_id=site)
    assert [p["id"] for p in pending["items"]] == [listed["off"], listed["good"][1]]
    asked = _list(client, token, review="needs_more", site_id=site)
    assert [p["id"] for p in asked["items"]] == [listed["good"][0]]
    assert asked["items"][0]["review"]["reason"] == "a wider shot"


def test_filters(client, listed):
    token, site = listed["coordinator"], listed["site"]
    assert _list(client, token, site_id=site, category="soil")["total"] == 1
    assert _list(client, token, site_id=site, verdict=["needs_review", "inconsistent"])[
        "items"][0]["id"] == listed["off"]
    assert _list(client, token, volunteer=listed["pseudonym"])["total"] == 3
    assert _list(client, token, volunteer="nobody-at-all")["total"] == 0
    since = (datetime.now(CST) - timedelta(hours=12)).isoformat()
    assert [p["id"] for p in _list(client, token, site_id=site, observed_from=since)[
        "items"]] == [listed["off"]]
    verified = _list(client, token, site_id=site, verified="true")
    assert {p["id"] for p in verified["items"]} == set(listed["good"])
    assert all(p["verified"] for p in verified["items"])
    paged = _list(client, token, site_id=site, page_size=2, page=2)
    assert paged["total"] == 3 and len(paged["items"]) == 1


@pytest.mark.parametrize("query, field", [
    ({"review": "maybe"}, "review"), ({"verdict": "fine"}, "verdict"),
    ({"order": "oldest"}, "order"), ({"page_size": "201"}, "page_size"),
    ({"observed_from": "2026-05-02T00:00:00+08:00", "observed_to": "2026-05-01T00:00:00+08:00"},
     "observed_from"), ({"observed_from": "2026-05-02"}, "observed_from"),
])
def test_bad_filters_are_422_naming_the_field(client, coordinator, query, field):
    response = client.get("/api/v1/photos", headers=auth(coordinator[2]), query_string=query)
    assert response.status_code == 422
    # A list's element is named with its index: verdict[0].
    assert {name.split("[")[0] for name in response.get_json()["errors"]} == {field}


def test_volunteers_may_not_list_photos(client, listed):
    response = client.get("/api/v1/photos", headers=auth(listed["volunteer"]))
    assert response.status_code == 403
