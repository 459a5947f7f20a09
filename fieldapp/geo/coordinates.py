"""Conversions between WGS-84, GCJ-02 and BD-09 longitude/latitude, and distances.

Phones in China often report GCJ-02 (the state-mandated offset used by AMap and Tencent)
or BD-09 (Baidu's further offset of GCJ-02); EXIF GPS and our stored geometry are WGS-84.
GCJ-02 and BD-09 are defined only by their forward formulas (WGS-84 -> GCJ-02 -> BD-09),
so the reverse directions are solved numerically here rather than with the usual one-step
approximation, which can be several metres out.

Everything takes and returns (lon, lat) in decimal degrees. Outside the rough bounding box
of China no offset exists, and every conversion is the identity.
"""

import math
from collections.abc import Callable

_Point = tuple[float, float]

CRS_CHOICES = ("wgs84", "gcj02", "bd09")

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 formula.
_GCJ_SEMI_MAJOR_AXIS = 6378245.0
_GCJ_ECCENTRICITY_SQUARED = 0.00669342162296594323
_BD_X_PI = math.pi * 3000.0 / 180.0

# IUGG mean Earth radius; haversine on a sphere is within about 0.5 % of the ellipsoid.
MEAN_EARTH_RADIUS_M = 6371008.8

# 1e-10 degrees is about 0.01 mm, far below the 1e-7 degree target; the fixed-point
# iterations contract by a factor of about 1e-3 per step, so a handful of steps suffice.
_INVERSE_TOLERANCE_DEG = 1e-10
_INVERSE_MAX_ITERATIONS = 30


def out_of_china(lon: float, lat: float) -> bool:
    """True outside the rough box in which GCJ-02 and BD-09 apply an offset."""
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def valid_wgs84(lon: float, lat: float) -> bool:
    """True when lon and lat are finite real numbers within [-180, 180] and [-90, 90]."""
    if not (_is_real(lon) and _is_real(lat)):
        return False
    return math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90


def _is_real(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _gcj_raw_lat(x: float, y: float) -> float:
    result = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    result += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2 / 3
    result += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2 / 3
    result += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2 / 3
    return result


def _gcj_raw_lon(x: float, y: float) -> float:
    result = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    result += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2 / 3
    result += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2 / 3
    result += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2 / 3
    return result


def _gcj_offset(lon: float, lat: float) -> tuple[float, float]:
    """The (dlon, dlat) in degrees that GCJ-02 adds to a WGS-84 point."""
    dlat = _gcj_raw_lat(lon - 105.0, lat - 35.0)
    dlon = _gcj_raw_lon(lon - 105.0, lat - 35.0)
    rad_lat = math.radians(lat)
    magic = 1 - _GCJ_ECCENTRICITY_SQUARED * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    a = _GCJ_SEMI_MAJOR_AXIS
    dlat = (dlat * 180.0) / ((a * (1 - _GCJ_ECCENTRICITY_SQUARED)) / (magic * sqrt_magic) * math.pi)
    dlon = (dlon * 180.0) / (a / sqrt_magic * math.cos(rad_lat) * math.pi)
    return dlon, dlat


def _gcj_forward(lon: float, lat: float) -> tuple[float, float]:
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def _bd_forward(lon: float, lat: float) -> tuple[float, float]:
    z = math.hypot(lon, lat) + 0.00002 * math.sin(lat * _BD_X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _BD_X_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def _bd_reverse_estimate(lon: float, lat: float) -> tuple[float, float]:
    """The published one-step inverse of the BD-09 formula (error up to about 0.3 m)."""
    x, y = lon - 0.0065, lat - 0.006
    z = math.hypot(x, y) - 0.00002 * math.sin(y * _BD_X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _BD_X_PI)
    return z * math.cos(theta), z * math.sin(theta)


def _invert(
    forward: Callable[[float, float], _Point], target_lon: float, target_lat: float, start: _Point
) -> _Point:
    """Solve forward(lon, lat) == target by fixed-point iteration from start."""
    lon, lat = start
    for _ in range(_INVERSE_MAX_ITERATIONS):
        got_lon, got_lat = forward(lon, lat)
        err_lon, err_lat = got_lon - target_lon, got_lat - target_lat
        lon, lat = lon - err_lon, lat - err_lat
        if abs(err_lon) < _INVERSE_TOLERANCE_DEG and abs(err_lat) < _INVERSE_TOLERANCE_DEG:
            break
    return lon, lat


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """WGS-84 to GCJ-02."""
    if out_of_china(lon, lat):
        return lon, lat
    return _gcj_forward(lon, lat)


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 to WGS-84, solved iteratively to well under 1e-7 degrees."""
    if out_of_china(lon, lat):
        return lon, lat
    return _invert(_gcj_forward, lon, lat, start=(lon, lat))


def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 to BD-09."""
    if out_of_china(lon, lat):
        return lon, lat
    return _bd_forward(lon, lat)


def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """BD-09 to GCJ-02, refining the published one-step inverse until it round-trips."""
    if out_of_china(lon, lat):
        return lon, lat
    return _invert(_bd_forward, lon, lat, start=_bd_reverse_estimate(lon, lat))


def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    """WGS-84 to BD-09 (through GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """BD-09 to WGS-84 (through GCJ-02)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


_TO_WGS84 = {
    "wgs84": lambda lon, lat: (lon, lat),
    "gcj02": gcj02_to_wgs84,
    "bd09": bd09_to_wgs84,
}


def to_wgs84(lon: float, lat: float, crs: str) -> tuple[float, float]:
    """Convert a point given in crs (one of CRS_CHOICES) to WGS-84."""
    try:
        convert = _TO_WGS84[crs]
    except (KeyError, TypeError):
        raise ValueError(f"unknown crs {crs!r}; expected one of {', '.join(CRS_CHOICES)}") from None
    return convert(float(lon), float(lat))


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres: haversine on the IUGG mean radius 6371008.8 m."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * MEAN_EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))
