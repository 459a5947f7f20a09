"""WGS-84 / GCJ-02 / BD-09 conversions against values published by open-source converters."""

import math

import pytest

from fieldapp.geo.coordinates import (
    CRS_CHOICES,
    bd09_to_gcj02,
    bd09_to_wgs84,
    distance_m,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    out_of_china,
    to_wgs84,
    valid_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

# The forward directions are closed formulas, so a published value computed with the same
# formula in double precision must agree to floating-point noise.
EXACT = 1e-9
# Published reverse values come from one-step approximations; ours are solved iteratively,
# so they differ by up to about 2e-6 degrees (0.2 m) from those approximations.
APPROX_INVERSE = 2e-6
# City fixtures are real map-service readings rounded to 7 decimals (gcoord checks them to 4).
CITY_FIXTURE = 1e-5


def assert_point(actual, expected, tolerance):
    assert actual[0] == pytest.approx(expected[0], abs=tolerance)
    assert actual[1] == pytest.approx(expected[1], abs=tolerance)


# Tiananmen, Beijing, input (116.404, 39.915) in every direction. Source: wandergis/coordtransform
# test/app.js "//result" block; the same numbers are asserted in coordtransform-rs tests and in
# hutool CoordinateUtilTest (which cites wandergis/coordtransform as its reference).
TIANANMEN = (116.404, 39.915)


def test_tiananmen_wgs84_to_gcj02():
    assert_point(wgs84_to_gcj02(*TIANANMEN), (116.41024449916938, 39.91640428150164), EXACT)


def test_tiananmen_gcj02_to_bd09():
    assert_point(gcj02_to_bd09(*TIANANMEN), (116.41036949371029, 39.92133699351021), EXACT)


def test_tiananmen_wgs84_to_bd09():
    # Source: coordtransform-rs test_wgs84_to_bd09 (wandergis formulas).
    assert_point(wgs84_to_bd09(*TIANANMEN), (116.41662724378733, 39.922699552216216), EXACT)


def test_tiananmen_gcj02_to_wgs84():
    expected = (116.39775550083061, 39.91359571849836)
    assert_point(gcj02_to_wgs84(*TIANANMEN), expected, APPROX_INVERSE)


def test_tiananmen_bd09_to_gcj02():
    expected = (116.39762729119315, 39.90865673957631)
    assert_point(bd09_to_gcj02(*TIANANMEN), expected, APPROX_INVERSE)


def test_tiananmen_bd09_to_wgs84():
    # Source: coordtransform-rs test_bd09_to_wgs84.
    assert_point(bd09_to_wgs84(*TIANANMEN), (116.3913836995125, 39.907253214522164), 3e-6)


# (wgs_lat, wgs_lng, gcj_lat, gcj_lng). Source: googollee/eviltransform python/test.py and
# go/transform_test.go, list TESTS, comments "shanghai", "shenzhen", "beijing".
EVILTRANSFORM_PAIRS = [
    pytest.param(31.1774276, 121.5272106, 31.17530398364597, 121.531541859215, id="shanghai"),
    pytest.param(22.543847, 113.912316, 22.540796131694766, 113.9171764808363, id="shenzhen"),
    pytest.param(39.911954, 116.377817, 39.91334545536069, 116.38404722455657, id="beijing"),
]


@pytest.mark.parametrize(("wgs_lat", "wgs_lon", "gcj_lat", "gcj_lon"), EVILTRANSFORM_PAIRS)
def test_eviltransform_wgs84_to_gcj02(wgs_lat, wgs_lon, gcj_lat, gcj_lon):
    assert_point(wgs84_to_gcj02(wgs_lon, wgs_lat), (gcj_lon, gcj_lat), EXACT)


@pytest.mark.parametrize(("wgs_lat", "wgs_lon", "gcj_lat", "gcj_lon"), EVILTRANSFORM_PAIRS)
def test_eviltransform_gcj02_to_wgs84_exact(wgs_lat, wgs_lon, gcj_lat, gcj_lon):
    # eviltransform's own bound for its exact inverse is 0.5 m; we hold 1e-7 degrees.
    lon, lat = gcj02_to_wgs84(gcj_lon, gcj_lat)
    assert distance_m(lon, lat, wgs_lon, wgs_lat) < 0.5
    assert_point((lon, lat), (wgs_lon, wgs_lat), 1e-7)


# Source: hujiulong/gcoord test/unit/crs/{WGS84,GCJ02,BD09}.spec.ts, input [123, 45]
# (gcoord asserts these with toBeCloseTo(..., 5)).
GCOORD_POINT = (123.0, 45.0)


@pytest.mark.parametrize(
    ("convert", "expected", "tolerance"),
    [
        pytest.param(wgs84_to_gcj02, (123.00607541, 45.00197815), 1e-8, id="wgs84_to_gcj02"),
        pytest.param(wgs84_to_bd09, (123.0124491, 45.0083293), 1e-7, id="wgs84_to_bd09"),
        pytest.param(gcj02_to_bd09, (123.00636499, 45.00636899), 1e-8, id="gcj02_to_bd09"),
        pytest.param(gcj02_to_wgs84, (122.99395597, 44.99804071), APPROX_INVERSE, id="gcj02_wgs"),
        pytest.param(bd09_to_gcj02, (122.99363304, 44.99365430), APPROX_INVERSE, id="bd09_gcj02"),
        pytest.param(bd09_to_wgs84, (122.98762210, 44.99171540), APPROX_INVERSE, id="bd09_wgs84"),
    ],
)
def test_gcoord_reference_point(convert, expected, tolerance):
    assert_point(convert(*GCOORD_POINT), expected, tolerance)


# Source: hujiulong/gcoord test/fixtures/china-cities.json, entries 广州市 (越秀区) and
# 北京城区 (东城区): the same place read in WGS84, GCJ02 and BD09.
CITIES = [
    pytest.param(
        (113.2590543, 23.131788),
        (113.2643859, 23.1291146),
        (113.2708188, 23.135343),
        id="guangzhou",
    ),
    pytest.param(
        (116.4011517, 39.9028057),
        (116.4074002, 39.9042136),
        (116.4137852, 39.9105355),
        id="beijing",
    ),
]


@pytest.mark.parametrize(("wgs", "gcj", "bd"), CITIES)
def test_city_fixture_forward(wgs, gcj, bd):
    assert_point(wgs84_to_gcj02(*wgs), gcj, CITY_FIXTURE)
    assert_point(wgs84_to_bd09(*wgs), bd, CITY_FIXTURE)
    assert_point(gcj02_to_bd09(*gcj), bd, CITY_FIXTURE)


@pytest.mark.parametrize(("wgs", "gcj", "bd"), CITIES)
def test_city_fixture_reverse(wgs, gcj, bd):
    assert_point(gcj02_to_wgs84(*gcj), wgs, CITY_FIXTURE)
    assert_point(bd09_to_wgs84(*bd), wgs, CITY_FIXTURE)
    assert_point(bd09_to_gcj02(*bd), gcj, CITY_FIXTURE)


def china_grid():
    """Points every ~2.5 degrees over the part of the box that holds China."""
    return [(73.5 + 2.5 * i, 18.0 + 2.5 * j) for i in range(25) for j in range(15)]


def test_round_trip_wgs84_gcj02_over_china():
    for lon, lat in china_grid():
        back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
        assert distance_m(*back, lon, lat) < 0.5, (lon, lat)
        assert_point(back, (lon, lat), 1e-7)


def test_round_trip_wgs84_bd09_over_china():
    for lon, lat in china_grid():
        back = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
        assert distance_m(*back, lon, lat) < 0.5, (lon, lat)
        assert_point(back, (lon, lat), 1e-7)


def test_round_trip_gcj02_bd09_over_china():
    for lon, lat in china_grid():
        assert_point(bd09_to_gcj02(*gcj02_to_bd09(lon, lat)), (lon, lat), 1e-7)


def test_inverse_beats_one_step_approximation_where_it_is_worst():
    # Near Mohe in the far north the one-step inverse is about 4 m out.
    lon, lat = 115.0, 53.0
    gcj = wgs84_to_gcj02(lon, lat)
    assert distance_m(*gcj02_to_wgs84(*gcj), lon, lat) < 0.01


def test_offsets_are_hundreds_of_metres_inside_china():
    lon, lat = 113.2590543, 23.131788
    assert 300 < distance_m(*wgs84_to_gcj02(lon, lat), lon, lat) < 700
    assert 900 < distance_m(*wgs84_to_bd09(lon, lat), lon, lat) < 1500


OUTSIDE_CHINA = [
    pytest.param(139.6917, 35.6895, id="tokyo"),
    pytest.param(-0.1276, 51.5072, id="london"),
    pytest.param(151.2093, -33.8688, id="sydney"),
    pytest.param(183.0, 45.0, id="gcoord-out-of-range"),
]


@pytest.mark.parametrize(("lon", "lat"), OUTSIDE_CHINA)
def test_identity_outside_china(lon, lat):
    assert out_of_china(lon, lat)
    for convert in (
        wgs84_to_gcj02,
        gcj02_to_wgs84,
        gcj02_to_bd09,
        bd09_to_gcj02,
        wgs84_to_bd09,
        bd09_to_wgs84,
    ):
        assert convert(lon, lat) == (lon, lat)
    for crs in CRS_CHOICES:
        assert to_wgs84(lon, lat, crs) == (lon, lat)


def test_out_of_china_box_edges():
    assert not out_of_china(72.004, 0.8293)
    assert not out_of_china(137.8347, 55.8271)
    assert out_of_china(72.003, 30.0)
    assert out_of_china(100.0, 55.9)


def test_to_wgs84_dispatches_on_crs():
    gz_wgs = (113.2590543, 23.131788)  # gcoord china-cities.json, 广州市
    gz_gcj = (113.2643859, 23.1291146)
    gz_bd = (113.2708188, 23.135343)
    assert to_wgs84(*gz_wgs, "wgs84") == gz_wgs
    assert_point(to_wgs84(*gz_gcj, "gcj02"), gz_wgs, CITY_FIXTURE)
    assert_point(to_wgs84(*gz_bd, "bd09"), gz_wgs, CITY_FIXTURE)


@pytest.mark.parametrize("crs", ["WGS84", "epsg:4326", "", "bd09mc", None])
def test_to_wgs84_rejects_unknown_crs_by_name(crs):
    with pytest.raises(ValueError, match=repr(crs).replace("(", r"\(")):
        to_wgs84(116.4, 39.9, crs)


def test_distance_known_values():
    assert distance_m(116.4, 39.9, 116.4, 39.9) == 0
    # One degree of latitude on the 6371008.8 m sphere.
    assert distance_m(0, 0, 0, 1) == pytest.approx(6371008.8 * math.pi / 180, rel=1e-12)
    # A quarter of the equator.
    assert distance_m(0, 0, 90, 0) == pytest.approx(math.pi / 2 * 6371008.8, rel=1e-12)
    # Antipodes: half the circumference, without a domain error.
    assert distance_m(0, 0, 180, 0) == pytest.approx(math.pi * 6371008.8)


def test_distance_agrees_with_spherical_law_of_cosines():
    # Beijing and Shanghai, the eviltransform WGS-84 points; an independent formula.
    lon1, lat1, lon2, lat2 = map(math.radians, (116.377817, 39.911954, 121.5272106, 31.1774276))
    central_angle = math.acos(
        math.sin(lat1) * math.sin(lat2) + math.cos(lat1) * math.cos(lat2) * math.cos(lon2 - lon1)
    )
    expected = 6371008.8 * central_angle
    assert distance_m(116.377817, 39.911954, 121.5272106, 31.1774276) == pytest.approx(
        expected, rel=1e-9
    )


def test_distance_is_symmetric():
    assert distance_m(113.26, 23.13, 116.4, 39.9) == distance_m(116.4, 39.9, 113.26, 23.13)


@pytest.mark.parametrize(
    ("lon", "lat", "valid"),
    [
        (116.4, 39.9, True),
        (-180, -90, True),
        (180, 90, True),
        (180.0001, 0, False),
        (0, -90.0001, False),
        (math.nan, 0, False),
        (0, math.inf, False),
        ("116.4", 39.9, False),
        (None, 39.9, False),
        (True, 39.9, False),
    ],
)
def test_valid_wgs84(lon, lat, valid):
    assert valid_wgs84(lon, lat) is valid
