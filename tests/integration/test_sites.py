"""Sites: create, change, find, import; reports linked to the nearest site in reach."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from fieldapp.custody.models import CustodyEvent
from fieldapp.extensions import db
from fieldapp.geo.coordinates import distance_m, wgs84_to_bd09
from fieldapp.sites.models import Site
from tests.helpers import auth, post_report, report_json
from tests.imagegen import jpeg_bytes

USCC = "91440300708461136T"
# A corner of Hefei no other test uses, so nearest-site answers are this module's own.
BASE_LON, BASE_LAT = 117.20, 31.80


def site_body(**overrides):
    body = {"name": "某某印染厂", "name_en": "Dye Works No. 3", "operator": "某某印染有限公司",
            "uscc": USCC, "permit_number": "91440300708461136T001P", "industry": "textile dyeing",
            "address": "工业园东路 8 号", "region": "安徽省合肥市", "status": "active",
            "geometry": {"type": "Point", "coordinates": [BASE_LON, BASE_LAT]}}
    body.update(overrides)
    return body


def create(client, token, **overrides):
    response = client.post("/api/v1/sites", json=site_body(**overrides), headers=auth(token))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_create_get_patch(client, coordinator):
    site = create(client, coordinator[2])
    assert site["geometry"] == {"type": "Point", "coordinates": [BASE_LON, BASE_LAT]}
    fetched = client.get(f"/api/v1/sites/{site['id']}", headers=auth(coordinator[2]))
    assert fetched.get_json()["operator"] == "某某印染有限公司"
    patched = client.patch(f"/api/v1/sites/{site['id']}", json={"status": "under_investigation"},
                           headers=auth(coordinator[2]))
    assert patched.status_code == 200
    assert patched.get_json()["status"] == "under_investigation"
    assert patched.get_json()["name"] == "某某印染厂"


def test_polygon_in_bd09_is_converted(client, coordinator):
    ring = [(BASE_LON + dx, BASE_LAT + dy) for dx, dy in
            ((0.01, 0.01), (0.012, 0.01), (0.012, 0.012), (0.01, 0.012), (0.01, 0.01))]
    bd_ring = [list(wgs84_to_bd09(lon, lat)) for lon, lat in ring]
    site = create(client, coordinator[2], crs="bd09",
                  geometry={"type": "Polygon", "coordinates": [bd_ring]})
    stored = site["geometry"]["coordinates"][0]
    for (lon, lat), (slon, slat) in zip(ring, stored, strict=True):
        assert distance_m(lon, lat, slon, slat) < 1


@pytest.mark.parametrize("overrides, field", [
    ({"uscc": USCC[:-1] + "X"}, "uscc"),
    ({"uscc": "123"}, "uscc"),
    ({"geometry": {"type": "Point", "coordinates": [190, 20]}}, "geometry"),
    ({"geometry": {"type": "LineString", "coordinates": [[1, 1], [2, 2]]}}, "geometry"),
    ({"geometry": {"type": "Polygon",
                   "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}}, "geometry"),
    ({"geometry": "POINT(1 2)"}, "geometry"),
    ({"status": "demolished"}, "status"),
    ({"crs": "epsg:3857"}, "crs"),
    ({"name": ""}, "name"),
])
def test_bad_site_is_422_naming_the_field(app, client, coordinator, overrides, field):
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(Site))
    response = client.post("/api/v1/sites", json=site_body(**overrides),
                           headers=auth(coordinator[2]))
    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Site)) == before


def test_only_coordinators_and_admins_change_sites(client, make_user):
    for role in ("volunteer", "lawyer"):
        response = client.post("/api/v1/sites", json=site_body(), headers=auth(make_user(role)[2]))
        assert response.status_code == 403


def test_list_filters_and_geojson(client, coordinator):
    token = coordinator[2]
    marker = uuid.uuid4().hex[:8]
    create(client, token, name=f"纸厂 {marker}", operator=f"Paper {marker} Ltd", status="closed",
           geometry={"type": "Point", "coordinates": [100.01, 40.01]})
    create(client, token, name=f"电厂 {marker}", status="active",
           geometry={"type": "Point", "coordinates": [100.02, 40.02]})
    headers = auth(token)
    found = client.get(f"/api/v1/sites?q=paper%20{marker}", headers=headers).get_json()
    assert [s["name"] for s in found["items"]] == [f"纸厂 {marker}"]
    boxed = client.get("/api/v1/sites?bbox=100,40,100.1,40.1&status=active", headers=headers)
    assert [s["name"] for s in boxed.get_json()["items"]] == [f"电厂 {marker}"]
    geo = client.get("/api/v1/sites?bbox=100,40,100.1,40.1&format=geojson", headers=headers)
    assert geo.mimetype == "application/geo+json"
    assert {f["geometry"]["type"] for f in geo.get_json()["features"]} == {"Point"}
    assert client.get("/api/v1/sites?q=%25", headers=headers).status_code == 200


def _report_near(client, token, lon, lat, seed, **claim):
    body = report_json(location={"lon": lon, "lat": lat, "crs": "wgs84", "accuracy_m": 10},
                       **claim)
    response = post_report(client, token, body, [(jpeg_bytes(seed=seed, lat=lat, lon=lon),
                                                  "a.jpg")])
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_reports_link_to_the_nearest_site_within_reach(app, client, coordinator, volunteer):
    lon0, lat0 = BASE_LON + 0.3, BASE_LAT + 0.3
    near = create(client, coordinator[2], name="near",
                  geometry={"type": "Point", "coordinates": [lon0, lat0]})
    create(client, coordinator[2], name="farther",
           geometry={"type": "Point", "coordinates": [lon0 + 0.004, lat0]})
    linked = _report_near(client, volunteer[2], lon0 + 0.001, lat0, seed=901)
    assert linked["site_id"] == near["id"] and linked["site_link"] == "auto"
    assert abs(linked["site_distance_m"] - distance_m(lon0 + 0.001, lat0, lon0, lat0)) < 1
    alone = _report_near(client, volunteer[2], lon0 + 0.05, lat0, seed=902)
    assert alone["site_id"] is None and alone["site_link"] is None
    with app.app_context():
        event = db.session.scalar(select(CustodyEvent).where(
            CustodyEvent.subject_id == linked["id"], CustodyEvent.action == "site_linked"))
        assert event.details["link"] == "auto" and event.details["site_id"] == near["id"]


def test_polygon_sites_measure_to_their_edge(client, coordinator, volunteer):
    lon0, lat0 = BASE_LON - 0.3, BASE_LAT
    square = [[lon0, lat0], [lon0 + 0.01, lat0], [lon0 + 0.01, lat0 + 0.01],
              [lon0, lat0 + 0.01], [lon0, lat0]]
    site = create(client, coordinator[2], name="footprint",
                  geometry={"type": "Polygon", "coordinates": [square]})
    inside = _report_near(client, volunteer[2], lon0 + 0.005, lat0 + 0.005, seed=903)
    assert inside["site_id"] == site["id"] and inside["site_distance_m"] == 0
    # 400 m east of the east edge: within 500 m of the footprint, not of its centre.
    east = _report_near(client, volunteer[2], lon0 + 0.01 + 400 / 94_500, lat0 + 0.005,
                        seed=904)
    assert east["site_id"] == site["id"] and 350 < east["site_distance_m"] < 450


def test_claimed_site_and_unknown_site(client, coordinator, volunteer):
    site = create(client, coordinator[2], name="claimed",
                  geometry={"type": "Point", "coordinates": [BASE_LON + 1, BASE_LAT + 1]})
    claimed = _report_near(client, volunteer[2], BASE_LON, BASE_LAT - 1, seed=905,
                           site_id=site["id"])
    assert claimed["site_id"] == site["id"] and claimed["site_link"] == "claimed"
    body = report_json(site_id=str(uuid.uuid4()))
    response = post_report(client, volunteer[2], body, [(jpeg_bytes(seed=906), "a.jpg")])
    assert response.status_code == 422 and "report.site_id" in response.get_json()["errors"]


def test_coordinator_relinks_and_unlinks(app, client, coordinator, volunteer):
    site = create(client, coordinator[2], name="relink target",
                  geometry={"type": "Point", "coordinates": [BASE_LON + 2, BASE_LAT]})
    report = _report_near(client, volunteer[2], BASE_LON + 2.5, BASE_LAT, seed=907)
    url = f"/api/v1/reports/{report['id']}/site"
    assert client.put(url, json={"site_id": site["id"]},
                      headers=auth(volunteer[2])).status_code == 403
    linked = client.put(url, json={"site_id": site["id"]}, headers=auth(coordinator[2]))
    assert linked.status_code == 200 and linked.get_json()["site_link"] == "manual"
    unlinked = client.put(url, json={"site_id": None}, headers=auth(coordinator[2]))
    assert unlinked.get_json()["site_id"] is None
    bad = client.put(url, json={"site_id": str(uuid.uuid4())}, headers=auth(coordinator[2]))
    assert bad.status_code == 422 and "site_id" in bad.get_json()["errors"]
    with app.app_context():
        details = db.session.scalars(select(CustodyEvent.details).where(
            CustodyEvent.subject_id == report["id"], CustodyEvent.action == "site_linked")
            .order_by(CustodyEvent.seq)).all()
    assert [d["link"] for d in details] == ["manual", None]
    assert details[1]["previous_site_id"] == site["id"]


def test_site_reports_and_timeline(client, coordinator, volunteer):
    site = create(client, coordinator[2], name="timeline site",
                  geometry={"type": "Point", "coordinates": [BASE_LON + 3, BASE_LAT]})
    report = _report_near(client, volunteer[2], BASE_LON + 3.001, BASE_LAT, seed=908)
    listed = client.get(f"/api/v1/sites/{site['id']}/reports", headers=auth(coordinator[2]))
    assert [r["id"] for r in listed.get_json()["items"]] == [report["id"]]
    photo_id = report["photos"][0]["id"]
    client.post(f"/api/v1/photos/{photo_id}/reviews", json={"decision": "accepted"},
                headers=auth(coordinator[2]))
    client.post("/api/v1/cases", json={"site_id": site["id"], "title": "排污诉讼",
                                       "timeline": [{"date": "2026-01-02", "text": "巡查"}]},
                headers=auth(coordinator[2]))
    events = client.get(f"/api/v1/sites/{site['id']}/timeline",
                        headers=auth(coordinator[2])).get_json()
    kinds = [e["kind"] for e in events]
    assert kinds == ["case_entry", "report", "review", "case"]
    assert events == sorted(events, key=lambda e: e["at"])


def test_import_cli_all_or_nothing(app, tmp_path):
    good = f"name,uscc,lon,lat\n甲厂,{USCC},118.1,32.1\n乙厂,,118.2,32.2\n"
    bad = good + "丙厂,,999,32.3\n"
    runner = app.test_cli_runner()

    def count():
        with app.app_context():
            return db.session.scalar(select(func.count()).select_from(Site).where(
                Site.name.in_(["甲厂", "乙厂", "丙厂"])))

    (tmp_path / "bad.csv").write_text(bad, encoding="utf-8")
    refused = runner.invoke(args=["sites", "import", str(tmp_path / "bad.csv")])
    assert refused.exit_code == 1
    assert "bad.csv: line 4:" in refused.output and "nothing imported" in refused.output
    assert count() == 0
    skipped = runner.invoke(args=["sites", "import", str(tmp_path / "bad.csv"), "--skip-bad"])
    assert skipped.exit_code == 0 and "imported 2 site(s), skipped 1 bad" in skipped.output
    assert count() == 2
