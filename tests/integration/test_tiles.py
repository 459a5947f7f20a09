"""Vector tiles from PostGIS: decoded and checked feature by feature."""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import mapbox_vector_tile
import pytest

from tests.helpers import (
    analyse_waiting,
    auth,
    multipart,
    post_report,
    report_json,
    superuser_sql,
)
from tests.imagegen import jpeg_bytes

# Around Lanzhou: this module's own corner of the map.
LON, LAT = 103.80, 36.05


def tile_of(lon, lat, z):
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


def a_day_passes() -> None:
    """Every capture of the public layer is made a day older, as if a UTC day had passed."""
    superuser_sql("UPDATE public_snapshots SET taken_at = taken_at - interval '1 day'")


def published(read):
    """What read() finds in the public layer once what is stored now has been captured (by
    the first public request of a new UTC day) and shown (from the day after)."""
    a_day_passes()
    read()
    a_day_passes()
    return read()


@pytest.fixture(scope="module")
def mapped(app):
    from fieldapp.accounts import service

    client = app.test_client()
    with app.app_context():
        user = service.create_user("tiles-coordinator@example.org", service.generate_password(),
                                   "coordinator")
        token = service.issue_token(user)
    site = client.post("/api/v1/sites", headers=auth(token), json={
        "name": "兰州某化工厂", "geometry": {"type": "Point", "coordinates": [LON, LAT]}})
    assert site.status_code == 201
    reports = []
    for i in range(4):
        observed = datetime(2026, 6, i + 1, 9, 0, tzinfo=timezone(timedelta(hours=8)))
        claim = report_json(category="water" if i < 3 else "air",
                            observed_at=observed.isoformat(),
                            location={"lon": LON + i * 0.0003, "lat": LAT, "crs": "wgs84"})
        # Three photos back their claims (verified evidence); the fourth has no metadata.
        photo = (jpeg_bytes(seed=1400 + i, lat=LAT, lon=LON + i * 0.0003, taken=observed,
                            gps_time=observed) if i < 3 else jpeg_bytes(seed=1400 + i))
        response = post_report(client, token, claim, [(photo, "a.jpg")])
        assert response.status_code == 201
        reports.append(response.get_json())
    analyse_waiting(app)
    return {"client": client, "token": token, "site": site.get_json(), "reports": reports}


def get_tile(mapped, layer, z, query="", token=True):
    z, x, y = tile_of(LON, LAT, z)
    headers = auth(mapped["token"]) if token else {}
    return mapped["client"].get(f"/tiles/{layer}/{z}/{x}/{y}.mvt?{query}", headers=headers)


def decode(response, layer):
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/vnd.mapbox-vector-tile"
    return mapbox_vector_tile.decode(response.data).get(layer, {"features": []})["features"]


def test_sites_layer_carries_risk(mapped):
    features = decode(get_tile(mapped, "sites", 10), "sites")
    [site] = [f for f in features if f["properties"]["id"] == mapped["site"]["id"]]
    assert site["properties"]["name"] == "兰州某化工厂"
    assert site["properties"]["risk"] >= 0


def test_reports_are_points_at_high_zoom(mapped):
    features = decode(get_tile(mapped, "reports", 16), "reports")
    ids = {f["properties"]["id"] for f in features}
    assert {r["id"] for r in mapped["reports"]} <= ids
    assert {f["geometry"]["type"] for f in features} == {"Point"}
    water = decode(get_tile(mapped, "reports", 16, "category=water"), "reports")
    assert {f["properties"]["category"] for f in water} == {"water"}


def test_reports_within_one_pixel_are_drawn_once_with_a_count(mapped, app):
    # Two newer reports on the very same spot as the first one: the newest stands for all.
    from fieldapp.accounts import service

    with app.app_context():
        token = service.issue_token(service.find_user("tiles-coordinator@example.org"))
    for seed in (1410, 1411):
        claim = report_json(category="soil", observed_at="2026-07-01T09:00:00+08:00",
                            location={"lon": LON, "lat": LAT, "crs": "wgs84"})
        response = mapped["client"].post(
            "/api/v1/reports", headers=auth(token), content_type="multipart/form-data",
            data=multipart(claim, [(jpeg_bytes(seed=seed), "a.jpg")]))
        assert response.status_code == 201
    features = decode(get_tile(mapped, "reports", 16), "reports")
    stacked = [f for f in features if f["properties"]["count"] == 3]
    assert len(stacked) == 1 and stacked[0]["properties"]["category"] == "soil"
    assert sum(f["properties"]["count"] for f in features) == 6


def test_reports_are_aggregated_at_low_zoom(mapped):
    features = decode(get_tile(mapped, "reports", 5), "reports")
    assert features and all("count" in f["properties"] and "id" not in f["properties"]
                            for f in features)
    assert sum(f["properties"]["count"] for f in features) >= 4


def test_hexbins_with_time_window(mapped):
    window = "from=2026-06-01T00:00:00%2B08:00&to=2026-06-02T23:59:59%2B08:00"
    features = decode(get_tile(mapped, "hexbins", 8, window), "hexbins")
    assert sum(f["properties"]["count"] for f in features) == 2
    assert {f["geometry"]["type"] for f in features} <= {"Polygon", "MultiPolygon"}


def test_etag_and_cache_headers(mapped):
    first = get_tile(mapped, "hexbins", 8)
    assert first.headers["ETag"] and "private" in first.headers["Cache-Control"]
    z, x, y = tile_of(LON, LAT, 8)
    again = mapped["client"].get(f"/tiles/hexbins/{z}/{x}/{y}.mvt", headers={
        **auth(mapped["token"]), "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_public_layer_needs_no_token_and_counts_people_not_reports(mapped):
    response = published(lambda: get_tile(mapped, "public", 8, token=False))
    assert response.status_code == 200 and "public" in response.headers["Cache-Control"]
    # Three verified reports in one hexagon, all by one coordinator: not three people.
    assert decode(response, "public") == []


def test_empty_tile_is_an_empty_body(mapped):
    response = mapped["client"].get("/tiles/reports/14/0/0.mvt", headers=auth(mapped["token"]))
    assert response.status_code == 200 and response.data == b""


@pytest.mark.parametrize("path, status", [
    ("/tiles/reports/23/0/0.mvt", 422), ("/tiles/reports/3/8/0.mvt", 422),
    ("/tiles/roads/3/1/1.mvt", 404), ("/tiles/reports/3/1/1.mvt?category=smog", 422),
])
def test_bad_tile_requests(mapped, path, status):
    response = mapped["client"].get(path, headers=auth(mapped["token"]))
    assert response.status_code == status


def test_tiles_need_a_token(mapped):
    assert get_tile(mapped, "reports", 10, token=False).status_code == 401
