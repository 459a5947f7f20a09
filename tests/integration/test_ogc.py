"""OGC API – Features on real PostGIS: the JSON documents, and GDAL's OAPIF driver reading
them over real HTTP exactly as QGIS would."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.serving import make_server

from tests.helpers import auth, role_tokens, submit_at

CST = timezone(timedelta(hours=8))
# Around Harbin: no other test puts sites or reports here.
SITE_LON, SITE_LAT = 126.60, 45.75
CLUSTER_LON, CLUSTER_LAT = 126.64, 45.78
LONE_LON, LONE_LAT = 126.75, 45.85
BOX = "126.5,45.6,126.8,45.9"
SPAT = ["126.5", "45.6", "126.8", "45.9"]
GEOJSON = "application/geo+json"
CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
GEOJSON_CLASS = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def _submit(client, token, lon, lat, seed, day, category="water"):
    return submit_at(client, token, lon, lat, seed, datetime(2026, 4, day, 11, 0, tzinfo=CST),
                     category)


def _site(client, token):
    ring = [[SITE_LON + dx, SITE_LAT + dy] for dx, dy in
            ((-0.002, -0.002), (0.002, -0.002), (0.002, 0.002), (-0.002, 0.002),
             (-0.002, -0.002))]
    response = client.post("/api/v1/sites", headers=auth(token), json={
        "name": "哈尔滨松北化工厂", "name_en": "Songbei Chemical Works",
        "operator": "松北化工有限公司", "uscc": "91440300708461136T", "industry": "chemicals",
        "region": "黑龙江省哈尔滨市", "geometry": {"type": "Polygon", "coordinates": [ring]}})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture(scope="module")
def harbin(app):
    """A site with two reports linked to it, a cluster of three unlinked reports (a hotspot)
    3 km away, and one lone report: six reports on April 1-6, 2026 (one a day)."""
    client = app.test_client()
    tokens = role_tokens(app, "ogc", ("volunteer", "coordinator", "lawyer"))
    volunteer = tokens["volunteer"]
    site = _site(client, tokens["coordinator"])
    near = [_submit(client, volunteer, SITE_LON + 0.001 * i, SITE_LAT, 2400 + i, day=1 + i)
            for i in range(2)]
    cluster = [_submit(client, volunteer, CLUSTER_LON + dx, CLUSTER_LAT + dy, 2410 + i,
                       day=3 + i, category="air")
               for i, (dx, dy) in enumerate(((0, 0), (0.0004, 0), (0.0002, 0.0003)))]
    lone = _submit(client, volunteer, LONE_LON, LONE_LAT, 2420, day=6)
    return {"client": client, "tokens": tokens, "site": site, "near": near,
            "cluster": cluster, "lone": lone, "reports": near + cluster + [lone]}


def _get(harbin, path, role="lawyer", **query):
    return harbin["client"].get(path, query_string=query, headers=auth(harbin["tokens"][role]))


def _ok(harbin, path, **query):
    response = _get(harbin, path, **query)
    assert response.status_code == 200, response.get_json()
    return response


def _items(harbin, collection, **query):
    response = _ok(harbin, f"/ogc/collections/{collection}/items", **query)
    assert response.mimetype == GEOJSON
    return response.get_json()


def _links(document, rel):
    return [link for link in document["links"] if link["rel"] == rel]


def _ids(collection):
    return [feature["id"] for feature in collection["features"]]


def _relative(href):
    parts = urlsplit(href)
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


# --- the documents ---------------------------------------------------------------------------


def test_landing_page_links(harbin):
    landing = _ok(harbin, "/ogc").get_json()
    rels = {link["rel"]: link for link in landing["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= set(rels)
    assert rels["service-desc"]["href"].endswith("/api/v1/openapi.json")
    assert rels["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert rels["conformance"]["href"].endswith("/ogc/conformance")
    assert rels["data"]["href"].endswith("/ogc/collections")
    assert rels["data"]["href"].startswith("http")


def test_conformance(harbin):
    response = _ok(harbin, "/ogc/conformance", f="json")
    assert response.mimetype == "application/json"
    assert {CORE, GEOJSON_CLASS} <= set(response.get_json()["conformsTo"])


def test_collections_with_extents(harbin):
    document = _ok(harbin, "/ogc/collections").get_json()
    collections = {c["id"]: c for c in document["collections"]}
    assert set(collections) == {"sites", "reports", "hotspots"}
    for collection in collections.values():
        assert collection["itemType"] == "feature"
        assert CRS84 in collection["crs"]
        items = _links(collection, "items")[0]
        assert items["type"] == GEOJSON
        assert items["href"].endswith(f"/ogc/collections/{collection['id']}/items")
        minlon, minlat, maxlon, maxlat = collection["extent"]["spatial"]["bbox"][0]
        lon, lat = (SITE_LON, SITE_LAT) if collection["id"] == "sites" else (
            CLUSTER_LON, CLUSTER_LAT)
        assert minlon <= lon <= maxlon and minlat <= lat <= maxlat
    first, last = collections["reports"]["extent"]["temporal"]["interval"][0]
    assert first <= "2026-04-01T03:00:00Z" and last >= "2026-04-06T03:00:00Z"


def test_schema_gives_each_property_a_type(harbin):
    collection = _ok(harbin, "/ogc/collections/reports").get_json()
    described_by = _links(collection, "describedBy")[0]
    assert described_by["type"] == "application/schema+json"
    response = _ok(harbin, _relative(described_by["href"])[0])
    assert response.mimetype == "application/schema+json"
    properties = response.get_json()["properties"]["properties"]["properties"]
    assert properties["site_distance_m"] == {"type": "number"}
    assert properties["observed_at"] == {"type": "string", "format": "date-time"}
    feature = _items(harbin, "reports", bbox=BOX, limit=1)["features"][0]
    assert set(properties) == set(feature["properties"])


def test_one_collection_and_unknown_collection(harbin):
    assert _ok(harbin, "/ogc/collections/reports").get_json()["id"] == "reports"
    for path in ("/ogc/collections/photos", "/ogc/collections/photos/items",
                 "/ogc/collections/photos/items/1", "/ogc/collections/photos/schema"):
        response = _get(harbin, path)
        assert response.status_code == 404
        assert response.get_json()["code"] == 404
        assert "photos" in response.get_json()["message"]


def test_openapi_describes_the_ogc_endpoints(harbin):
    document = harbin["client"].get("/api/v1/openapi.json").get_json()
    items = document["paths"]["/ogc/collections/{collection_id}/items"]["get"]
    assert {"bbox", "datetime", "limit", "offset"} <= {p["name"] for p in items["parameters"]}
    assert "400" in items["responses"]


# --- items -----------------------------------------------------------------------------------


def test_reports_in_bbox_with_properties(harbin):
    collection = _items(harbin, "reports", bbox=BOX)
    assert collection["type"] == "FeatureCollection"
    assert collection["numberMatched"] == collection["numberReturned"] == 6
    assert collection["timeStamp"].endswith("Z")
    assert set(_ids(collection)) == {r["id"] for r in harbin["reports"]}
    by_id = {f["id"]: f for f in collection["features"]}
    near = by_id[harbin["near"][0]["id"]]
    assert near["geometry"] == {"type": "Point", "coordinates": [SITE_LON, SITE_LAT]}
    properties = near["properties"]
    assert properties["site_id"] == harbin["site"]["id"]
    assert properties["site_link"] == "auto"
    assert properties["photo_count"] == 1
    assert properties["category"] == "water"
    assert properties["observed_at"] == "2026-04-01T03:00:00Z"
    assert properties["volunteer"] == harbin["near"][0]["volunteer"]
    assert "@" not in str(collection)  # no email anywhere
    assert {"verdict", "verified", "received_at"} <= set(properties)


def test_sites_and_hotspots_in_bbox(harbin):
    sites = _items(harbin, "sites", bbox=BOX)
    assert _ids(sites) == [harbin["site"]["id"]]
    properties = sites["features"][0]["properties"]
    assert properties["name_en"] == "Songbei Chemical Works"
    assert properties["uscc"] == "91440300708461136T"
    assert properties["risk_score"] > 0  # two consistent reports are linked to it
    hotspots = _items(harbin, "hotspots", bbox=BOX)
    assert hotspots["numberMatched"] == 1
    hotspot = hotspots["features"][0]
    assert hotspot["geometry"]["type"] == "Polygon"
    assert hotspot["properties"]["report_count"] == 3
    assert set(hotspot["properties"]["report_ids"]) == {r["id"] for r in harbin["cluster"]}
    candidates = _ok(harbin, "/api/v1/hotspots/candidates").get_json()
    assert hotspot["id"] in {c["id"] for c in candidates}


def test_paging_with_next_and_prev_links(harbin):
    first = _items(harbin, "reports", bbox=BOX, limit=4)
    assert first["numberReturned"] == 4 and first["numberMatched"] == 6
    assert not _links(first, "prev")
    assert _links(first, "self")[0]["type"] == GEOJSON
    path, query = _relative(_links(first, "next")[0]["href"])
    assert path == "/ogc/collections/reports/items"
    assert query == {"bbox": BOX, "limit": "4", "offset": "4"}
    second = _items(harbin, "reports", **query)
    assert second["numberReturned"] == 2
    assert not _links(second, "next")
    assert _relative(_links(second, "prev")[0]["href"])[1]["offset"] == "0"
    assert sorted(_ids(first) + _ids(second)) == sorted(r["id"] for r in harbin["reports"])
    assert _items(harbin, "reports", bbox=BOX, offset=6)["features"] == []


@pytest.mark.parametrize("window, days", [
    ("2026-04-02T00:00:00+08:00/2026-04-04T23:59:59+08:00", [2, 3, 4]),
    ("2026-04-05T00:00:00+08:00/..", [5, 6]),
    ("../2026-04-01T23:00:00+08:00", [1]),
    ("2026-04-06T11:00:00+08:00", [6]),
    ("2026-04-06", [6]),
    ("../..", [1, 2, 3, 4, 5, 6]),
])
def test_reports_datetime(harbin, window, days):
    collection = _items(harbin, "reports", bbox=BOX, datetime=window)
    expected = {r["id"] for r in harbin["reports"]
                if int(r["observed_at"][8:10]) in days}
    assert set(_ids(collection)) == expected


def test_hotspots_and_sites_datetime(harbin):
    overlapping = "2026-04-04T00:00:00+08:00/2026-04-04T12:00:00+08:00"
    assert _items(harbin, "hotspots", bbox=BOX, datetime=overlapping)["numberMatched"] == 1
    before = "../2026-04-02T00:00:00+08:00"
    assert _items(harbin, "hotspots", bbox=BOX, datetime=before)["numberMatched"] == 0
    assert _items(harbin, "sites", bbox=BOX, datetime="../2000-01-01T00:00:00Z")[
        "features"] == []
    assert _items(harbin, "sites", bbox=BOX, datetime="2020-01-01T00:00:00Z/..")[
        "numberMatched"] == 1


def test_bbox_forms(harbin):
    three_d = "126.5,45.6,-10,126.8,45.9,100"
    assert _items(harbin, "reports", bbox=three_d)["numberMatched"] == 6
    across_antimeridian = _items(harbin, "reports", bbox="170,-10,-170,10")
    for feature in across_antimeridian["features"]:
        assert abs(feature["geometry"]["coordinates"][0]) >= 170


def test_f_json_and_alternate_link(harbin):
    response = _ok(harbin, "/ogc/collections/sites/items", bbox=BOX, f="json")
    assert response.mimetype == "application/json"
    document = response.get_json()
    assert _links(document, "self")[0]["type"] == "application/json"
    alternate = _links(document, "alternate")[0]
    assert alternate["type"] == GEOJSON
    assert _relative(alternate["href"])[1]["f"] == "geojson"


def test_single_features(harbin):
    report = harbin["lone"]
    response = _ok(harbin, f"/ogc/collections/reports/items/{report['id']}")
    assert response.mimetype == GEOJSON
    feature = response.get_json()
    assert feature["type"] == "Feature" and feature["id"] == report["id"]
    assert feature["geometry"]["coordinates"] == [LONE_LON, LONE_LAT]
    assert feature["properties"]["site_id"] is None
    assert _links(feature, "collection")[0]["href"].endswith("/ogc/collections/reports")
    site = _ok(harbin, f"/ogc/collections/sites/items/{harbin['site']['id']}").get_json()
    assert site["properties"]["name"] == "哈尔滨松北化工厂"
    hotspot_id = _items(harbin, "hotspots", bbox=BOX)["features"][0]["id"]
    hotspot = _ok(harbin, f"/ogc/collections/hotspots/items/{hotspot_id}").get_json()
    assert hotspot["properties"]["report_count"] == 3


@pytest.mark.parametrize("path", [
    f"/ogc/collections/reports/items/{uuid.uuid4()}",
    "/ogc/collections/reports/items/not-a-uuid",
    f"/ogc/collections/sites/items/{uuid.uuid4()}",
    "/ogc/collections/hotspots/items/0123456789abcdef",
])
def test_unknown_feature_is_404(harbin, path):
    response = _get(harbin, path)
    assert response.status_code == 404
    assert response.get_json()["status"] == "Not Found"


@pytest.mark.parametrize("query, parameter", [
    ({"bbox": "126.5,45.6,126.8"}, "bbox"),
    ({"bbox": "a,b,c,d"}, "bbox"),
    ({"bbox": "126.5,95,126.8,96"}, "bbox"),
    ({"bbox": "126.5,45.9,126.8,45.6"}, "bbox"),
    ({"bbox": "nan,45.6,126.8,45.9"}, "bbox"),
    ({"limit": "0"}, "limit"),
    ({"limit": "1001"}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"offset": "-1"}, "offset"),
    ({"datetime": "yesterday"}, "datetime"),
    ({"datetime": "2026-04-05T00:00:00"}, "datetime"),
    ({"datetime": "2026-04-05T00:00:00Z/2026-04-01T00:00:00Z"}, "datetime"),
    ({"datetime": "2026-13-05T00:00:00Z"}, "datetime"),
    ({"datetime": ".."}, "datetime"),
    ({"datetime": "2026-04-01/2026-04-02/2026-04-03"}, "datetime"),
    ({"f": "html"}, "f"),
    ({"colour": "red"}, "colour"),
])
def test_bad_parameters_are_400(harbin, query, parameter):
    response = _get(harbin, "/ogc/collections/reports/items", **query)
    assert response.status_code == 400, response.get_json()
    body = response.get_json()
    assert body["code"] == 400 and body["status"] == "Bad Request"
    assert list(body["errors"]) == [parameter]
    assert parameter in body["message"]


def test_unknown_parameter_on_metadata_is_400(harbin):
    response = _get(harbin, "/ogc/collections", colour="red")
    assert response.status_code == 400
    assert list(response.get_json()["errors"]) == ["colour"]


OGC_PATHS = ["/ogc", "/ogc/conformance", "/ogc/collections", "/ogc/collections/sites",
             "/ogc/collections/reports/items", f"/ogc/collections/reports/items/{uuid.uuid4()}"]


@pytest.mark.parametrize("path", OGC_PATHS)
def test_token_required_and_staff_only(harbin, path):
    anonymous = harbin["client"].get(path)
    assert anonymous.status_code == 401
    assert anonymous.get_json()["code"] == 401
    assert _get(harbin, path, role="volunteer").status_code == 403
    assert _get(harbin, path, role="coordinator").status_code in (200, 404)


# --- GDAL's OAPIF driver over real HTTP --------------------------------------------------------


@pytest.fixture(scope="module")
def server(app, harbin):
    """The app on a real port; every request's path and query is recorded."""
    seen = []

    def recording(environ, start_response):
        seen.append(f"{environ['PATH_INFO']}?{environ.get('QUERY_STRING', '')}")
        return app(environ, start_response)

    httpd = make_server("127.0.0.1", 0, recording, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{httpd.server_port}/ogc", "seen": seen}
    httpd.shutdown()
    thread.join(timeout=10)


def ogrinfo(harbin, server, *args) -> str:
    executable = shutil.which("ogrinfo")
    assert executable, "ogrinfo not found: install gdal-bin (make test does)"
    token = harbin["tokens"]["lawyer"]
    env = {**os.environ, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    result = subprocess.run(
        [executable, "-ro", "--config", "GDAL_HTTP_HEADERS", f"Authorization: Bearer {token}",
         f"OAPIF:{server['url']}", *args],
        capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ERROR" not in result.stderr, result.stderr
    return result.stdout


def _field_values(output: str, name: str) -> list[str]:
    return re.findall(rf"^\s+{name} \([^)]*\) = (.*)$", output, re.MULTILINE)


def test_gdal_lists_the_three_layers(harbin, server):
    output = ogrinfo(harbin, server, "-so")
    for layer in ("sites", "reports", "hotspots"):
        assert re.search(rf"^\d+: {layer}\b", output, re.MULTILINE), output


def test_gdal_layer_summary(harbin, server):
    output = ogrinfo(harbin, server, "-so", "reports")
    total = _items(harbin, "reports", limit=1)["numberMatched"]
    assert f"Feature Count: {total}" in output, output
    assert re.search(r"^observed_at: DateTime", output, re.MULTILINE), output
    assert re.search(r"^photo_count: Integer", output, re.MULTILINE), output
    assert "Extent: (" in output


def test_gdal_reads_reports_in_bbox_following_next_links(harbin, server):
    server["seen"].clear()
    output = ogrinfo(harbin, server, "-oo", "PAGE_SIZE=2", "reports", "-spat", *SPAT)
    assert "Feature Count: 6" in output, output
    # Typed by the schema: inferred from a first page of unlinked reports, it was a string.
    assert re.search(r"^site_distance_m: Real", output, re.MULTILINE), output
    assert sorted(_field_values(output, "id")) == sorted(r["id"] for r in harbin["reports"])
    assert set(_field_values(output, "volunteer")) == {harbin["lone"]["volunteer"]}
    assert sorted(set(_field_values(output, "category"))) == ["air", "water"]
    pages = [s for s in server["seen"] if s.startswith("/ogc/collections/reports/items?")]
    offsets = {parse_qs(urlsplit(p).query).get("offset", ["0"])[0] for p in pages}
    assert {"0", "2", "4"} <= offsets, pages
    assert all("limit=2" in p for p in pages), pages


def test_gdal_reads_site_attributes_and_hotspot(harbin, server):
    sites = ogrinfo(harbin, server, "sites", "-spat", *SPAT)
    assert "Feature Count: 1" in sites, sites
    assert _field_values(sites, "name") == ["哈尔滨松北化工厂"]
    assert _field_values(sites, "operator") == ["松北化工有限公司"]
    assert "POLYGON ((126.598 45.748" in sites, sites
    hotspots = ogrinfo(harbin, server, "hotspots", "-spat", *SPAT)
    assert _field_values(hotspots, "report_count") == ["3"], hotspots
