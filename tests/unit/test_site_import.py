"""Reading site lists: CSV (lon/lat or WKT) and GeoJSON, every bad row named."""
import json

from fieldapp.geo.coordinates import wgs84_to_gcj02
from fieldapp.sites.importer import read_rows

GOOD_USCC = "914403001922038216"


def _csv(tmp_path, text):
    path = tmp_path / "sites.csv"
    path.write_text(text, encoding="utf-8")
    return list(read_rows(path))


def test_csv_with_lon_lat_and_wkt(tmp_path):
    rows = _csv(tmp_path, (
        "name,operator,uscc,lon,lat,wkt,status\n"
        f"某某印染厂,某某印染有限公司,{GOOD_USCC},113.39,23.18,,active\n"
        '东区化工厂,,,,,"POLYGON((113.5 23.0,113.51 23.0,113.51 23.01,113.5 23.0))",closed\n'
    ))
    assert [r.problem for r in rows] == [None, None]
    assert rows[0].site["name"] == "某某印染厂" and rows[0].site["uscc"] == GOOD_USCC
    assert rows[0].site["geometry"].geom_type == "Point"
    assert rows[1].site["geometry"].geom_type == "Polygon"
    assert rows[1].site["status"] == "closed"


def test_csv_bad_rows_are_named_by_line(tmp_path):
    rows = _csv(tmp_path, (
        "name,uscc,lon,lat,wkt\n"
        "ok,,113.39,23.18,\n"
        f"bad code,{GOOD_USCC[:-1]}X,113.39,23.18,\n"
        "no place,,,,\n"
        "far,,200,23.18,\n"
        ',,113.39,23.18,\n'
        'bad wkt,,,,"POLYGON((1 1, 2 2"\n'
    ))
    problems = {r.where: r.problem for r in rows if r.problem}
    assert set(problems) == {"line 3", "line 4", "line 5", "line 6", "line 7"}
    assert "uscc" in problems["line 3"] and "check character" in problems["line 3"]
    assert "lon and lat must be numbers" in problems["line 4"]
    assert "WGS-84 range" in problems["line 5"]
    assert "name" in problems["line 6"]
    assert "WKT" in problems["line 7"]


def test_csv_line_numbers_count_quoted_newlines(tmp_path):
    rows = _csv(tmp_path, 'name,address,lon,lat\n"a","two\nlines",113.3,23.1\nb,,x,23.1\n')
    assert rows[1].where == "line 4" and rows[1].problem


def test_csv_header_must_name_a_place(tmp_path):
    rows = _csv(tmp_path, "name,city\nx,y\n")
    assert rows == [rows[0]] and "header" in rows[0].problem


def test_csv_gcj02_rows_are_converted(tmp_path):
    lon, lat = wgs84_to_gcj02(113.39, 23.18)
    rows = _csv(tmp_path, f"name,lon,lat,crs\nx,{lon},{lat},gcj02\n")
    point = rows[0].site["geometry"]
    assert abs(point.x - 113.39) < 1e-6 and abs(point.y - 23.18) < 1e-6


def test_geojson_features(tmp_path):
    path = tmp_path / "sites.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "A", "status": "active"},
         "geometry": {"type": "Point", "coordinates": [113.3, 23.1]}},
        {"type": "Feature", "properties": {"name": "B"},
         "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}},
        {"type": "Feature", "properties": {"name": "C", "status": "open"},
         "geometry": {"type": "Point", "coordinates": [113.3, 23.1]}},
    ]}), encoding="utf-8")
    rows = list(read_rows(path))
    assert rows[0].problem is None
    assert rows[1].where == "feature 2" and "geometry" in rows[1].problem
    assert rows[2].where == "feature 3" and "status" in rows[2].problem


def test_geojson_that_is_not_a_collection(tmp_path):
    path = tmp_path / "x.geojson"
    path.write_text('{"type": "Feature"}')
    [row] = list(read_rows(path))
    assert row.where == "file" and "FeatureCollection" in row.problem
