"""Listing reports: filters, pagination, GeoJSON, and who sees what."""
from __future__ import annotations

import pytest

from tests.helpers import auth, post_report, report_json
from tests.imagegen import jpeg_bytes

# Far from the other tests' points (Guangzhou), so bbox filters see only these.
PLACES = {
    "kunming-water": (102.71, 25.04, "water", "2026-03-01T09:00:00+08:00"),
    "kunming-air": (102.72, 25.05, "air", "2026-03-05T09:00:00+08:00"),
    "lhasa-soil": (91.11, 29.65, "soil", "2026-03-09T09:00:00+08:00"),
}


@pytest.fixture(scope="module")
def listed(app):
    from fieldapp.accounts import service

    with app.app_context():
        owner = service.create_user("lister@example.org", service.generate_password(),
                                     "volunteer")
        token, owner_id = service.issue_token(owner), owner.id
    client = app.test_client()
    ids = {}
    for seed, (key, (lon, lat, category, observed)) in enumerate(PLACES.items()):
        claim = report_json(category=category, observed_at=observed,
                            location={"lon": lon, "lat": lat, "crs": "wgs84"})
        photo = jpeg_bytes(seed=600 + seed, lat=lat, lon=lon)
        response = post_report(client, token, claim, [(photo, f"{key}.jpg")])
        assert response.status_code == 201
        ids[key] = response.get_json()["id"]
    return ids, token, owner_id


def _ids(response) -> set[str]:
    assert response.status_code == 200, response.get_json()
    return {item["id"] for item in response.get_json()["items"]}


def test_bbox_filter(client, listed, coordinator):
    ids, _, _ = listed
    response = client.get("/api/v1/reports?bbox=102.5,24.9,102.9,25.2",
                          headers=auth(coordinator[2]))
    assert _ids(response) == {ids["kunming-water"], ids["kunming-air"]}


def test_category_and_time_filters(client, listed, coordinator):
    ids, _, _ = listed
    headers = auth(coordinator[2])
    box = "bbox=90,20,110,30"
    assert _ids(client.get(f"/api/v1/reports?{box}&category=air", headers=headers)) == {
        ids["kunming-air"]}
    window = "observed_from=2026-03-04T00:00:00%2B08:00&observed_to=2026-03-10T00:00:00Z"
    assert _ids(client.get(f"/api/v1/reports?{box}&{window}", headers=headers)) == {
        ids["kunming-air"], ids["lhasa-soil"]}


def test_verdict_filter(client, listed, coordinator):
    headers = auth(coordinator[2])
    all_ids = _ids(client.get("/api/v1/reports?bbox=90,20,110,30", headers=headers))
    consistent = _ids(client.get("/api/v1/reports?bbox=90,20,110,30&verdict=consistent",
                                 headers=headers))
    needs = _ids(client.get("/api/v1/reports?bbox=90,20,110,30&verdict=needs_review",
                            headers=headers))
    assert consistent | needs <= all_ids and not consistent & needs


def test_pagination(client, listed, coordinator):
    headers = auth(coordinator[2])
    first = client.get("/api/v1/reports?bbox=90,20,110,30&page_size=2", headers=headers)
    second = client.get("/api/v1/reports?bbox=90,20,110,30&page_size=2&page=2",
                        headers=headers)
    assert first.get_json()["total"] == 3
    assert len(first.get_json()["items"]) == 2 and len(second.get_json()["items"]) == 1
    assert not _ids(first) & _ids(second)


def test_geojson_feature_collection(client, listed, coordinator):
    ids, _, _ = listed
    for query, headers in (("format=geojson&", {}), ("", {"Accept": "application/geo+json"})):
        response = client.get(f"/api/v1/reports?{query}bbox=91,29.6,91.2,29.7",
                              headers={**auth(coordinator[2]), **headers})
        assert response.status_code == 200
        assert response.mimetype == "application/geo+json"
        collection = response.get_json()
        assert collection["type"] == "FeatureCollection"
        [feature] = collection["features"]
        assert feature["id"] == ids["lhasa-soil"]
        assert feature["geometry"] == {"type": "Point", "coordinates": [91.11, 29.65]}


def test_volunteers_see_only_their_own(client, listed, volunteer):
    ids, owner_token, _ = listed
    mine = _ids(client.get("/api/v1/reports?page_size=500", headers=auth(owner_token)))
    assert mine == set(ids.values())
    assert not _ids(client.get("/api/v1/reports?bbox=90,20,110,30",
                               headers=auth(volunteer[2])))
    stranger = client.get(f"/api/v1/reports/{ids['lhasa-soil']}", headers=auth(volunteer[2]))
    assert stranger.status_code == 404


@pytest.mark.parametrize("query, field", [
    ("bbox=1,2,3", "bbox"), ("bbox=a,b,c,d", "bbox"), ("bbox=10,50,20,40", "bbox"),
    ("category=radiation", "category"), ("verdict=maybe", "verdict"),
    ("observed_from=2026-03-10T00:00:00Z&observed_to=2026-03-01T00:00:00Z", "observed_from"),
    ("observed_from=yesterday", "observed_from"), ("page=0", "page"),
    ("page_size=100000", "page_size"), ("format=kml", "format"),
])
def test_bad_filters_are_422_naming_the_field(client, coordinator, query, field):
    response = client.get(f"/api/v1/reports?{query}", headers=auth(coordinator[2]))
    assert response.status_code == 422
    assert field in response.get_json()["errors"]
