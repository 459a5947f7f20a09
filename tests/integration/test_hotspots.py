"""Hotspots on real PostGIS: hex bins from counts kept at ingest, candidates, risk, public."""
from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta, timezone

import h3
import pytest

from fieldapp.extensions import db
from fieldapp.hotspots.cells import resolution_for_zoom
from tests.helpers import auth, role_tokens, submit_at
from tests.integration.test_tiles import published

CST = timezone(timedelta(hours=8))
# Around Urumqi: no other test puts reports here.
LON, LAT = 87.60, 43.80
BOX = "87.0,43.5,88.5,44.2"


def _submit(client, token, lon, lat, seed, category="air", day=1, consistent=True):
    observed = datetime(2026, 4, day, 11, 0, tzinfo=CST)
    taken = observed if consistent else observed - timedelta(days=3)
    return submit_at(client, token, lon, lat, seed, observed, category, taken)


@pytest.fixture(scope="module")
def field(app):
    """Five consistent reports in one spot, two doubtful ones beside them, one far away."""
    client, tokens = app.test_client(), role_tokens(app, "hot")
    cluster = [_submit(client, tokens["volunteer"], LON + i * 0.0004, LAT, 1300 + i, day=1 + i)
               for i in range(5)]
    doubtful = [_submit(client, tokens["volunteer"], LON + 0.0002, LAT + 0.0003, 1310 + i,
                        category="water", day=10, consistent=False) for i in range(2)]
    lone = _submit(client, tokens["volunteer"], LON + 0.5, LAT + 0.2, 1320)
    return {"client": client, "tokens": tokens, "cluster": cluster, "doubtful": doubtful,
            "lone": lone}


def _hexbins(field, query):
    response = field["client"].get(f"/api/v1/hotspots/hexbins?{query}",
                                   headers=auth(field["tokens"]["coordinator"]))
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "application/geo+json"
    return response.get_json()


def _counts(collection) -> dict[str, int]:
    return {f["properties"]["cell"]: f["properties"]["count"] for f in collection["features"]}


def test_hexbins_count_reports_per_cell(field):
    collection = _hexbins(field, f"bbox={BOX}&zoom=6")
    res = resolution_for_zoom(6)
    expected = {}
    for report in field["cluster"] + field["doubtful"] + [field["lone"]]:
        point = report["location"]["wgs84"]
        cell = h3.latlng_to_cell(point["lat"], point["lon"], res)
        expected[cell] = expected.get(cell, 0) + 1
    assert _counts(collection) == expected
    feature = collection["features"][0]
    assert feature["geometry"]["type"] == "Polygon"
    assert len(feature["geometry"]["coordinates"][0]) == 7


def test_hexbin_filters(field):
    assert sum(_counts(_hexbins(field, f"bbox={BOX}&zoom=5&category=water")).values()) == 2
    window = "from=2026-04-01T00:00:00%2B08:00&to=2026-04-03T23:59:59%2B08:00"
    # Days 1-3 of the cluster, and the lone report (day 1).
    assert sum(_counts(_hexbins(field, f"bbox={BOX}&zoom=5&{window}")).values()) == 4
    assert sum(_counts(_hexbins(field, f"bbox={BOX}&zoom=5&verified=true")).values()) == 6


def test_hexbins_follow_reviews(field):
    doubtful = field["doubtful"][0]["photos"][0]["id"]
    client, token = field["client"], field["tokens"]["coordinator"]
    before = sum(_counts(_hexbins(field, f"bbox={BOX}&zoom=5&verified=true")).values())
    client.post(f"/api/v1/photos/{doubtful}/reviews", json={"decision": "accepted"},
                headers=auth(token))
    after = sum(_counts(_hexbins(field, f"bbox={BOX}&zoom=5&verified=true")).values())
    assert after == before + 1
    client.post(f"/api/v1/photos/{doubtful}/reviews",
                json={"decision": "rejected", "reason": "staged"}, headers=auth(token))
    assert sum(_counts(_hexbins(field, f"bbox={BOX}&zoom=5&verified=true")).values()) == before


@pytest.mark.parametrize("query, name", [
    ("zoom=99", "zoom"), ("bbox=1,2,3&zoom=5", "bbox"), ("zoom=5&category=smog", "category"),
    ("zoom=5&from=2026-05-01T00:00:00Z&to=2026-04-01T00:00:00Z", "from"), ("", "zoom"),
])
def test_bad_hexbin_arguments(field, query, name):
    response = field["client"].get(f"/api/v1/hotspots/hexbins?{query}",
                                   headers=auth(field["tokens"]["coordinator"]))
    assert response.status_code == 422 and name in response.get_json()["errors"]


def _mine(candidates):
    return [c for c in candidates
            if 87.0 < c["centroid"]["coordinates"][0] < 88.5
            and 43.5 < c["centroid"]["coordinates"][1] < 44.2]


def test_candidates_and_promotion(app, field):
    client, token = field["client"], field["tokens"]["coordinator"]
    response = client.get("/api/v1/hotspots/candidates?distance_m=100&min_size=3",
                          headers=auth(token))
    assert response.status_code == 200
    [candidate] = _mine(response.get_json())
    members = {r["id"] for r in field["cluster"] + field["doubtful"]}
    assert set(candidate["report_ids"]) == members and candidate["report_count"] == 7
    assert candidate["hull"]["type"] == "Polygon"
    # 30 m apart in a row: neighbours within 50 m chain into one cluster, 20 m splits them.
    tight = client.get("/api/v1/hotspots/candidates?distance_m=20&min_size=3",
                       headers=auth(token)).get_json()
    assert not any(set(c["report_ids"]) == members for c in _mine(tight))
    promoted = client.post(f"/api/v1/hotspots/candidates/{candidate['id']}/promote",
                           headers=auth(token), json={"distance_m": 100, "min_size": 3,
                                                      "site": {"name": "新发现的排放点"}})
    assert promoted.status_code == 201, promoted.get_json()
    body = promoted.get_json()
    assert body["linked_reports"] == 7 and body["site"]["geometry"]["type"] == "Polygon"
    report = client.get(f"/api/v1/reports/{field['cluster'][0]['id']}", headers=auth(token))
    assert report.get_json()["site_id"] == body["site"]["id"]
    again = client.get("/api/v1/hotspots/candidates?distance_m=100&min_size=3",
                       headers=auth(token)).get_json()
    assert _mine(again) == []
    gone = client.post(f"/api/v1/hotspots/candidates/{candidate['id']}/promote",
                       headers=auth(token), json={"site": {"name": "again"}})
    assert gone.status_code == 409
    field["promoted_site"] = body["site"]["id"]


def test_sites_ranked_by_risk_explain_themselves(field):
    client, token = field["client"], field["tokens"]["coordinator"]
    quiet = client.post("/api/v1/sites", headers=auth(token), json={
        "name": "安静的工厂", "geometry": {"type": "Point", "coordinates": [88.3, 44.1]}})
    assert quiet.status_code == 201
    ranked = client.get(f"/api/v1/sites?order=risk&bbox={BOX}", headers=auth(token)).get_json()
    names = [s["name"] for s in ranked["items"]]
    assert names == ["新发现的排放点", "安静的工厂"]
    risk = ranked["items"][0]["risk"]
    assert risk["verified_photos"] == 5 and risk["distinct_volunteers"] == 1
    assert risk["score"] == pytest.approx(risk["evidence"] * risk["volunteer_factor"])
    assert set(risk["by_category"]) == {"air"}
    assert ranked["items"][1]["risk"]["score"] == 0
    # One site shows staff the same risk; a volunteer sees none of it.
    top = ranked["items"][0]
    shown = client.get(f"/api/v1/sites/{top['id']}", headers=auth(token)).get_json()
    assert shown["risk"].keys() == top["risk"].keys()
    assert shown["risk"]["score"] == pytest.approx(top["risk"]["score"])
    assert shown["risk"]["verified_photos"] == top["risk"]["verified_photos"] == 5
    volunteer = auth(field["tokens"]["volunteer"])
    assert client.get(f"/api/v1/sites/{top['id']}", headers=volunteer).get_json()["risk"] is None
    case = client.post("/api/v1/cases", headers=auth(token), json={
        "site_id": quiet.get_json()["id"], "title": "举报"})
    assert case.status_code == 201
    reranked = client.get(f"/api/v1/sites?order=risk&bbox={BOX}",
                          headers=auth(token)).get_json()["items"]
    quiet_risk = next(s["risk"] for s in reranked if s["name"] == "安静的工厂")
    assert quiet_risk["open_cases"] == 1 and quiet_risk["score"] == 2.0


def test_public_hexbins_hide_cells_of_fewer_than_k_volunteers(field):
    client = field["client"]
    response = published(lambda: client.get(f"/api/v1/public/hexbins?bbox={BOX}&zoom=6"))
    assert response.status_code == 200 and "public" in response.headers["Cache-Control"]
    # Five verified reports, but all from one volunteer: nothing is shown.
    assert response.get_json()["features"] == []
    body = response.get_data(as_text=True)
    for report in field["cluster"]:
        assert report["id"] not in body and report["volunteer"] not in body
        assert str(report["location"]["wgs84"]["lon"]) not in body
    assert client.get(f"/api/v1/public/hexbins?bbox={BOX}").status_code == 422


def test_hotspots_need_staff(field, make_user):
    volunteer = make_user("volunteer")[2]
    for url in ("/api/v1/hotspots/hexbins?zoom=5", "/api/v1/hotspots/candidates"):
        assert field["client"].get(url, headers=auth(volunteer)).status_code == 403
        assert field["client"].get(url).status_code == 401


def test_cluster_distance_is_in_metres_north_south_too(field):
    """Three reports 100 m apart due north: one cluster at 120 m, none at 80 m."""
    client, token = field["client"], field["tokens"]["coordinator"]
    lon, lat = LON + 0.3, LAT - 0.2
    step = 100 / 111_132  # degrees of latitude per 100 m here
    ids = {_submit(client, field["tokens"]["volunteer"], lon, lat + i * step, 1330 + i)["id"]
           for i in range(3)}

    def clusters(distance):
        found = client.get(f"/api/v1/hotspots/candidates?distance_m={distance}&min_size=3",
                           headers=auth(token)).get_json()
        return [set(c["report_ids"]) for c in found if set(c["report_ids"]) & ids]

    assert clusters(120) == [ids]
    assert clusters(80) == []


def test_risk_kept_at_ingest_equals_a_full_rescore(app, field, make_user):
    client, token = field["client"], field["tokens"]["coordinator"]
    lon, lat = LON - 0.4, LAT + 0.1
    site = client.post("/api/v1/sites", headers=auth(token), json={
        "name": "增量风险工厂", "geometry": {"type": "Point", "coordinates": [lon, lat]}})
    volunteers = [field["tokens"]["volunteer"], make_user("volunteer")[2]]
    for i in range(4):
        submit_at(client, volunteers[i % 2], lon + 0.0005, lat, 1340 + i,
                  datetime(2026, 3, 1 + i, 10, tzinfo=CST), category=("water", "air")[i % 2])
    box = f"bbox={lon - 0.01},{lat - 0.01},{lon + 0.01},{lat + 0.01}"

    def risk():
        [item] = client.get(f"/api/v1/sites?order=risk&{box}", headers=auth(token)
                            ).get_json()["items"]
        assert item["id"] == site.get_json()["id"]
        return item["risk"]

    kept = risk()
    assert kept["verified_photos"] == 4 and kept["distinct_volunteers"] == 2
    result = app.test_cli_runner().invoke(args=["sites", "rescore"])
    assert result.exit_code == 0 and "rescored" in result.output
    full = risk()
    assert kept["score"] == pytest.approx(full["score"], rel=1e-4)
    assert kept["by_category"] == pytest.approx(full["by_category"], rel=1e-4)


def test_risk_order_is_computed_by_the_database_as_the_scoring_rule_ranks(app, field):
    """Many sites with stored risk of every shape, paged through order=risk: the pages
    together are exactly the sites sorted by scoring.site_score, ties by name."""
    from fieldapp.hotspots.models import SiteRisk
    from fieldapp.hotspots.risk import risk_of

    client, token = field["client"], field["tokens"]["coordinator"]
    box, rng = "99.0,27.0,99.5,27.5", random.Random(11)  # near Lijiang: no other test's
    ids = []
    for index in range(23):
        made = client.post("/api/v1/sites", headers=auth(token), json={
            "name": f"site-{index % 20:02d}",  # three names taken twice: ties by name, then id
            "geometry": {"type": "Point", "coordinates": [99.01 + index / 100, 27.2]}})
        assert made.status_code == 201
        ids.append(uuid.UUID(made.get_json()["id"]))
    now = datetime.now(UTC)
    with app.app_context():
        for site_id in ids[:20]:  # the last three have no stored risk: they score 0
            evidence = rng.choice([0.0, 1.5, 3.0, rng.uniform(0, 9)])
            db.session.add(SiteRisk(
                site_id=site_id, open_cases=rng.choice([0, 0, 1, 3]),
                computed_at=now - timedelta(days=rng.choice([0, 0, 30, 400, -2])),
                components={"evidence": evidence, "by_category": {"water": evidence},
                            "verified_photos": 3,
                            "distinct_volunteers": rng.choice([0, 1, 2, 7])}))
        db.session.commit()
        risks = risk_of(ids)
        names = {site_id: f"site-{i % 20:02d}" for i, site_id in enumerate(ids)}
    expected = sorted(ids, key=lambda i: (-risks[i]["score"], names[i], str(i)))
    assert len({risks[i]["score"] for i in ids}) > 5  # the ranking is not a trivial one
    paged = []
    for page in (1, 2, 3):
        answer = client.get(f"/api/v1/sites?order=risk&bbox={box}&page={page}&page_size=10",
                            headers=auth(token)).get_json()
        assert answer["total"] == 23
        paged += answer["items"]
    assert [uuid.UUID(s["id"]) for s in paged] == expected
    for shown in paged:
        assert shown["risk"]["score"] == pytest.approx(risks[uuid.UUID(shown["id"])]["score"])
