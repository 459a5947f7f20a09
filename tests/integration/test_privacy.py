"""Volunteers stay unexposed and work stays bounded: the public layer counts people in cells
of at least ~1 km², volunteers read nothing that points at another volunteer, staff bulk
reads are logged, and no request runs or aggregates without bound."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import h3
import mapbox_vector_tile
import psycopg2
import pytest

from fieldapp.hotspots.cells import PUBLIC_FINEST
from tests.helpers import (
    TEST_DB_URL,
    analyse_waiting,
    auth,
    post_report,
    report_json,
    submit_at,
    superuser_sql,
)
from tests.imagegen import jpeg_bytes
from tests.integration.test_tiles import a_day_passes, published, tile_of

CST = timezone(timedelta(hours=8))
# Around Hohhot: no other test puts reports here.
LON, LAT = 111.75, 40.84
BOX = "111.5,40.6,112.0,41.0"


def _submit(client, token, i, lon=LON, lat=LAT):
    observed = datetime(2026, 8, 1 + i % 28, 10, 0, tzinfo=CST)
    return submit_at(client, token, lon + i * 0.0003, lat, 2900 + i, observed)


def _public(client, zoom, bbox=BOX):
    response = client.get(f"/api/v1/public/hexbins?bbox={bbox}&zoom={zoom}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["features"]


def _published(client, zoom, bbox=BOX):
    return published(lambda: _public(client, zoom, bbox))


@pytest.fixture(scope="module")
def crowd(app):
    """One volunteer with five verified reports in one spot."""
    from tests.helpers import role_tokens

    client = app.test_client()
    tokens = role_tokens(app, "privacy", ("volunteer", "coordinator", "admin"))
    first = [_submit(client, tokens["volunteer"], i) for i in range(5)]
    assert all(r["photos"][0]["verdict"] == "consistent" for r in first)
    return {"client": client, "tokens": tokens, "first": first}


def test_one_volunteer_never_shows_publicly_three_do(app, crowd, make_user):
    client = crowd["client"]
    assert _published(client, 10) == []
    others = [make_user("volunteer")[2] for _ in range(2)]
    second = _submit(client, others[0], 5)
    assert _published(client, 10) == []  # two people are still not enough
    third = _submit(client, others[1], 6)
    [cell] = _published(client, 10)
    spot = third["location"]["wgs84"]
    assert cell["id"] == h3.latlng_to_cell(spot["lat"], spot["lon"], PUBLIC_FINEST)
    # Seven reports are shown as their band, never as an exact number.
    assert cell["properties"]["reports"] == "3-9" and cell["properties"]["band"] == 1
    assert "count" not in cell["properties"]
    # A review that takes the third volunteer's only evidence away hides the cell again.
    photo = third["photos"][0]["id"]
    coordinator = crowd["tokens"]["coordinator"]
    rejected = client.post(f"/api/v1/photos/{photo}/reviews", headers=auth(coordinator),
                           json={"decision": "rejected", "reason": "staged"})
    assert rejected.status_code == 201
    assert _published(client, 10) == []
    accepted = client.post(f"/api/v1/photos/{photo}/reviews", headers=auth(coordinator),
                           json={"decision": "accepted"})
    assert accepted.status_code == 201
    assert [c["id"] for c in _published(client, 10)] == [cell["id"]]
    crowd["shown"] = cell["id"]
    crowd["second"] = second


def test_public_cells_are_never_smaller_than_a_square_kilometre(crowd):
    client = crowd["client"]
    box = f"{LON - 0.01},{LAT - 0.01},{LON + 0.01},{LAT + 0.01}"
    features = _public(client, 18, box)
    assert features and all(f["properties"]["resolution"] == PUBLIC_FINEST for f in features)
    assert all(h3.cell_area(f["id"], "km^2") > 1 for f in features)
    z, x, y = tile_of(LON + 0.0005, LAT, 18)
    response = client.get(f"/tiles/public/{z}/{x}/{y}.mvt")
    assert response.status_code == 200 and "public" in response.headers["Cache-Control"]
    tiled = mapbox_vector_tile.decode(response.data)["public"]["features"]
    assert [f["properties"]["cell"] for f in tiled] == [crowd["shown"]]
    assert all(h3.cell_area(f["properties"]["cell"], "km^2") > 1 for f in tiled)
    assert {f["properties"]["reports"] for f in tiled} == {"3-9"}


@pytest.mark.parametrize("url, field", [
    ("/api/v1/public/hexbins?zoom=19&bbox=111.7,40.8,111.8,40.9", "zoom"),
    ("/api/v1/public/hexbins?zoom=12", "bbox"),  # all of China in 5 km² cells
    ("/tiles/public/19/0/0.mvt", "z"),
    ("/api/v1/public/hexbins?zoom=8&bbox=111.7,40.8,111.8,40.9&from=2026-01-01T00:00:00Z",
     "from"),  # no time window: comparing two would show what one volunteer added
    ("/tiles/public/8/200/95.mvt?from=2026-01-01T00:00:00Z", "from"),  # nor on tiles
    ("/tiles/public/8/200/95.mvt?category=air", "category"),
])
def test_public_requests_are_capped(crowd, url, field):
    response = crowd["client"].get(url)
    assert response.status_code == 422 and field in response.get_json()["errors"]


def test_volunteers_are_not_told_whose_photo_they_copied(app, crowd, make_user):
    client, coordinator = crowd["client"], crowd["tokens"]["coordinator"]
    original = crowd["first"][0]
    copier = make_user("volunteer")[2]
    taken = datetime(2026, 8, 1, 10, 0, tzinfo=CST)
    exact = jpeg_bytes(seed=2900, lat=LAT, lon=LON, taken=taken, gps_time=taken)
    # Same pixels, other metadata: another file whose perceptual hash is the same.
    similar = jpeg_bytes(seed=2900, lat=LAT, lon=LON, taken=taken + timedelta(minutes=1),
                         gps_time=taken + timedelta(minutes=1))
    claim = report_json(observed_at=taken.isoformat(),
                        location={"lon": LON, "lat": LAT, "crs": "wgs84"})
    answer = post_report(client, copier, claim, [(exact, "a.jpg"), (similar, "b.jpg")])
    assert answer.status_code == 201
    analyse_waiting(app)
    url = f"/api/v1/reports/{answer.get_json()['id']}"
    theirs = original["id"], original["photos"][0]["id"]
    as_volunteer = client.get(url, headers=auth(copier))
    as_staff = client.get(url, headers=auth(coordinator))
    for body in (answer.get_data(as_text=True), as_volunteer.get_data(as_text=True)):
        assert not any(other in body for other in theirs)
    results = {(p["id"], c["name"]): c for p in as_volunteer.get_json()["photos"]
               for c in p["checks"]}
    exact_id, similar_id = (p["id"] for p in as_volunteer.get_json()["photos"])
    assert results[(exact_id, "duplicate")]["result"] == "fail"
    assert "another report" in results[(exact_id, "duplicate")]["detail"]
    assert results[(similar_id, "near_duplicate")]["result"] == "warn"
    staff_body = as_staff.get_data(as_text=True)
    assert all(other in staff_body for other in theirs)
    photo = client.get(f"/api/v1/photos/{similar_id}", headers=auth(copier)).get_data(
        as_text=True)
    assert theirs[1] not in photo


def test_volunteers_get_no_staff_figures_on_sites(crowd):
    client, tokens = crowd["client"], crowd["tokens"]
    site = client.post("/api/v1/sites", headers=auth(tokens["coordinator"]), json={
        "name": "呼和浩特某厂", "geometry": {"type": "Point", "coordinates": [LON, LAT]}})
    assert site.status_code == 201
    case = client.post("/api/v1/cases", headers=auth(tokens["coordinator"]), json={
        "site_id": site.get_json()["id"], "title": "投诉"})
    assert case.status_code == 201
    volunteer = auth(tokens["volunteer"])
    ranked = client.get(f"/api/v1/sites?order=risk&bbox={BOX}", headers=volunteer)
    assert ranked.status_code == 403 and "order" in ranked.get_json()["errors"]
    for url in (f"/api/v1/sites?bbox={BOX}", f"/api/v1/sites?bbox={BOX}&format=geojson",
                f"/api/v1/sites/{site.get_json()['id']}"):
        response = client.get(url, headers=volunteer)
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        assert site.get_json()["id"] in body
        for figure in ("open_cases", "distinct_volunteers", "verified_photos", "score"):
            assert figure not in body
    staff = client.get(f"/api/v1/sites?order=risk&bbox={BOX}",
                       headers=auth(tokens["coordinator"])).get_json()["items"]
    assert staff[0]["risk"]["open_cases"] == 1


def test_photos_are_never_kept_by_shared_caches(crowd):
    client, token = crowd["client"], crowd["tokens"]["volunteer"]
    photo = crowd["first"][1]["photos"][0]["id"]
    for kind in ("preview", "thumbnail", "original"):
        response = client.get(f"/api/v1/photos/{photo}/{kind}", headers=auth(token))
        assert response.status_code == 200
        cache = response.cache_control
        assert cache.no_store and cache.private and not cache.public and cache.max_age is None
        assert "Authorization" in response.vary


def _log(client, admin, user_id):
    response = client.get(f"/api/v1/access-log?user_id={user_id}", headers=auth(admin))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def test_staff_bulk_reads_are_logged_a_row_a_minute(app, crowd, make_user):
    client, admin = crowd["client"], crowd["tokens"]["admin"]
    staff_id, _, staff = make_user("lawyer")
    answered = 0
    for page in (1, 2):
        response = client.get(f"/api/v1/reports?bbox={BOX}&category=air&page_size=3"
                              f"&page={page}", headers=auth(staff))
        assert response.status_code == 200
        answered += len(response.get_json()["items"])
    assert answered >= 5
    for dx in range(3):
        z, x, y = tile_of(LON, LAT, 12)
        assert client.get(f"/tiles/hexbins/{z}/{x + dx}/{y}.mvt",
                          headers=auth(staff)).status_code == 200
    assert client.get(f"/api/v1/reports/{crowd['first'][0]['id']}",
                      headers=auth(staff)).status_code == 200  # one record: not bulk
    rows = {row["endpoint"]: row for row in _log(client, admin, staff_id)}
    assert set(rows) == {"GET /api/v1/reports", "GET /tiles/<string:layer>/<int:z>/<int:x>/"
                                                 "<int:y>.mvt"}
    listing = rows["GET /api/v1/reports"]
    assert listing["requests"] == 2 and listing["rows"] == answered
    assert listing["filters"] == {"category": "air", "page_size": "3"}
    assert listing["bbox"] == [111.5, 40.6, 112.0, 41.0]
    assert listing["user"] == {"id": str(staff_id), "email": listing["user"]["email"],
                               "role": "lawyer"}
    tiles = rows["GET /tiles/<string:layer>/<int:z>/<int:x>/<int:y>.mvt"]
    assert tiles["requests"] == 3 and tiles["rows"] is None
    assert tiles["filters"] == {"layer": "hexbins", "z": "12"}
    west, _, east, _ = tiles["bbox"]
    assert east - west == pytest.approx(3 * 360 / 2 ** 12)


def test_volunteers_own_listing_is_not_logged_and_only_admins_read_the_log(app, crowd,
                                                                         make_user):
    client, admin = crowd["client"], crowd["tokens"]["admin"]
    volunteer_id, _, volunteer = make_user("volunteer")
    assert client.get("/api/v1/reports", headers=auth(volunteer)).status_code == 200
    assert _log(client, admin, volunteer_id) == []
    for role in ("volunteer", "coordinator", "lawyer"):
        token = make_user(role)[2]
        assert client.get("/api/v1/access-log", headers=auth(token)).status_code == 403
    granted = superuser_sql("SELECT string_agg(p, ',' ORDER BY p) FROM unnest("
                            "ARRAY['SELECT','INSERT','UPDATE','DELETE','TRUNCATE']) p "
                            "WHERE has_table_privilege('fieldapp_app', 'access_log', p)")
    # UPDATE only of the counters (column privileges); never DELETE or TRUNCATE.
    assert granted == "INSERT,SELECT"
    assert superuser_sql("SELECT has_column_privilege('fieldapp_app', 'access_log', "
                         "'requests', 'UPDATE'), has_column_privilege('fieldapp_app', "
                         "'access_log', 'endpoint', 'UPDATE')") == "t|f"


def test_a_query_past_the_statement_timeout_answers_503(app, crowd, monkeypatch):
    client, token = crowd["client"], crowd["tokens"]["coordinator"]
    site = client.post("/api/v1/sites", headers=auth(token), json={
        "name": "锁住的工厂", "geometry": {"type": "Point", "coordinates": [LON, LAT + 0.1]}})
    site_id = site.get_json()["id"]
    monkeypatch.setitem(app.config, "FIELDAPP_STATEMENT_TIMEOUT_MS", 300)
    holder = psycopg2.connect(TEST_DB_URL)
    try:
        with holder.cursor() as cur:  # another session holds the row: the update must wait
            cur.execute("SELECT 1 FROM sites WHERE id = %s FOR UPDATE", (site_id,))
        response = client.patch(f"/api/v1/sites/{site_id}", headers=auth(token),
                                 json={"name": "改名"})
    finally:
        holder.rollback()
        holder.close()
    assert response.status_code == 503
    body = response.get_json()
    assert body["code"] == 503 and body["sub_code"] == "STATEMENT_TIMEOUT" and body["message"]
    assert client.get(f"/api/v1/sites/{site_id}", headers=auth(token)).get_json()["name"] \
        == "锁住的工厂"
    assert client.patch(f"/api/v1/sites/{site_id}", headers=auth(token),
                        json={"name": "改名"}).status_code == 200


@pytest.mark.parametrize("query, field", [
    ("zoom=12", "bbox"),  # all of China in 5 km² cells
    (f"zoom=8&bbox={BOX}&from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from"),
    (f"zoom=8&bbox={BOX}&to=2026-01-01T00:00:00Z", "from"),
])
def test_staff_hexbins_are_capped(crowd, query, field):
    response = crowd["client"].get(f"/api/v1/hotspots/hexbins?{query}",
                                   headers=auth(crowd["tokens"]["coordinator"]))
    assert response.status_code == 422 and field in response.get_json()["errors"]


def test_staff_tiles_windows_are_capped(crowd):
    z, x, y = tile_of(LON, LAT, 8)
    response = crowd["client"].get(
        f"/tiles/hexbins/{z}/{x}/{y}.mvt?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
        headers=auth(crowd["tokens"]["coordinator"]))
    assert response.status_code == 422 and "from" in response.get_json()["errors"]


def test_clustering_is_refused_past_its_input_cap(app, crowd, monkeypatch):
    client, token = crowd["client"], crowd["tokens"]["coordinator"]
    assert client.get("/api/v1/hotspots/candidates", headers=auth(token)).status_code == 200
    monkeypatch.setitem(app.config, "FIELDAPP_CLUSTER_MAX_REPORTS", 3)
    response = client.get("/api/v1/hotspots/candidates", headers=auth(token))
    assert response.status_code == 422 and "from" in response.get_json()["errors"]
    narrow = client.get("/api/v1/hotspots/candidates?from=2031-01-01T00:00:00Z",
                        headers=auth(token))
    assert narrow.status_code == 200 and narrow.get_json() == []


# Far enough from the crowd (about 17 km) to be in other cells up to resolution 5.
FRESH_LON, FRESH_LAT = 111.95, 40.66
FRESH_BOX = "111.9,40.6,112.0,40.7"


def _fresh_cells(client):
    z, x, y = tile_of(FRESH_LON, FRESH_LAT, 10)
    tile = client.get(f"/tiles/public/{z}/{x}/{y}.mvt")
    assert tile.status_code == 200
    tiled = mapbox_vector_tile.decode(tile.data).get("public", {"features": []})["features"]
    listed = [f["id"] for f in _public(client, 10, FRESH_BOX)]
    assert sorted(f["properties"]["cell"] for f in tiled) == sorted(listed)
    return listed


def test_a_visit_shows_publicly_a_day_later_not_minutes_later(app, crowd, make_user):
    """A cell that appears minutes after a volunteer's visit tells anyone polling the map
    that someone was there just now: the layer is captured once a UTC day and shown only
    the day after its capture."""
    client = crowd["client"]
    assert _fresh_cells(client) == []  # today's capture is taken before anyone goes there
    for i in range(3):
        volunteer = make_user("volunteer")[2]
        observed = datetime(2026, 9, 1, 10, 0, tzinfo=CST)
        submit_at(client, volunteer, FRESH_LON + i * 0.0003, FRESH_LAT, 8100 + i, observed)
    assert _fresh_cells(client) == []  # three people, verified: but not minutes later
    a_day_passes()
    assert _fresh_cells(client) == []  # captured now, with the cell, shown tomorrow
    a_day_passes()
    expected = h3.latlng_to_cell(FRESH_LAT, FRESH_LON + 0.0003, PUBLIC_FINEST)
    assert _fresh_cells(client) == [expected]


# Around Jiayuguan: no other test puts reports here.
NEST_LON, NEST_LAT = 98.29, 39.77


def _straddling_child(parent):
    """A finest public cell whose H3 parent is `parent`, and a point inside it that lies
    outside `parent` (H3's hexagons do not nest exactly: children overhang their parent)."""
    for child in sorted(h3.cell_to_children(parent, PUBLIC_FINEST)):
        lat, lon = h3.cell_to_latlng(child)
        if h3.latlng_to_cell(lat, lon, PUBLIC_FINEST - 1) != parent:
            continue
        for vertex_lat, vertex_lon in h3.cell_to_boundary(child):
            out = lat + 0.8 * (vertex_lat - lat), lon + 0.8 * (vertex_lon - lon)
            if (h3.latlng_to_cell(*out, PUBLIC_FINEST) == child
                    and h3.latlng_to_cell(*out, PUBLIC_FINEST - 1) != parent):
                return child, (lat, lon), out
    raise AssertionError(f"no child of {parent} overhangs it")


def test_coarser_zooms_say_nothing_the_finest_cells_do_not(app, crowd, make_user):
    """Zooms are not compared to single anyone out. Counted where each report lies, a cell
    shown at zoom 10 whose parent is hidden at zoom 9 says one of its volunteers is in the
    sliver overhanging the parent; a parent whose band outgrows its shown children's says
    someone, perhaps one person, has evidence in hidden cells. So every coarser cell is made
    of the finest cells shown, and of nothing else."""
    client = crowd["client"]
    parent = h3.latlng_to_cell(NEST_LAT, NEST_LON, PUBLIC_FINEST - 1)
    child, centre, overhang = _straddling_child(parent)
    # Two volunteers in the child where it lies inside its parent, one in its overhang.
    for i, (lat, lon) in enumerate([centre, (centre[0] + 0.001, centre[1]), overhang]):
        submit_at(client, make_user("volunteer")[2], lon, lat, 8200 + i,
                  datetime(2026, 9, 2, 10, 0, tzinfo=CST))
    box = f"{NEST_LON - 0.3},{NEST_LAT - 0.3},{NEST_LON + 0.3},{NEST_LAT + 0.3}"
    assert [f["id"] for f in _published(client, 10, box)] == [child]
    [coarse] = _public(client, 9, box)
    assert coarse["id"] == parent and coarse["properties"]["reports"] == "3-9"
    # Eight reports by one more volunteer in a hidden cell of the same parent change nothing.
    other = next(c for c in sorted(h3.cell_to_children(parent, PUBLIC_FINEST))
                 if c != child and h3.latlng_to_cell(*h3.cell_to_latlng(c),
                                                     PUBLIC_FINEST - 1) == parent)
    lat, lon = h3.cell_to_latlng(other)
    prolific = make_user("volunteer")[2]
    for i in range(8):
        submit_at(client, prolific, lon + i * 0.0002, lat, 8210 + i,
                  datetime(2026, 9, 3 + i, 10, 0, tzinfo=CST))
    assert [f["id"] for f in _published(client, 10, box)] == [child]
    [coarse] = _public(client, 9, box)
    assert coarse["id"] == parent and coarse["properties"]["reports"] == "3-9"
    assert {f["id"] for f in _public(client, 6, box)} == {h3.cell_to_parent(child, 4)}
