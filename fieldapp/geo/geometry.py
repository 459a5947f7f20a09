"""Geometry in and out, in one place: GeoJSON / lon-lat ⇄ PostGIS (SRID 4326)."""
from __future__ import annotations

import numpy as np
import shapely
from geoalchemy2.elements import WKBElement
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import Point, mapping, shape
from shapely.validation import explain_validity

from fieldapp.geo.coordinates import CRS_CHOICES, to_wgs84

SRID = 4326


def point_element(lon: float, lat: float) -> WKBElement:
    """A WGS-84 point ready to store in a geometry(Point, 4326) column."""
    return from_shape(Point(lon, lat), srid=SRID)


def to_geojson(element: WKBElement | None) -> dict | None:
    """RFC 7946 geometry dict for a stored geometry (None stays None)."""
    if element is None:
        return None
    return mapping(to_shape(element))


def lon_lat(element: WKBElement | None) -> tuple[float, float] | None:
    """(lon, lat) of a stored point."""
    if element is None:
        return None
    point = to_shape(element)
    return point.x, point.y


SITE_GEOMETRY_TYPES = ("Point", "Polygon", "MultiPolygon")


class GeometryProblem(ValueError):
    """A GeoJSON geometry that cannot be stored; the message says why."""


def site_geometry(geojson, crs: str = "wgs84"):
    """A valid WGS-84 shapely geometry from a GeoJSON Point, Polygon or MultiPolygon.

    Coordinates sent in GCJ-02 or BD-09 are converted vertex by vertex.
    """
    if not isinstance(geojson, dict) or geojson.get("type") not in SITE_GEOMETRY_TYPES:
        raise GeometryProblem(f"must be a GeoJSON {', '.join(SITE_GEOMETRY_TYPES)}")
    if crs not in CRS_CHOICES:
        raise GeometryProblem(f"unknown crs {crs!r}")
    try:
        geometry = shape(geojson)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        raise GeometryProblem(f"malformed coordinates: {exc}") from None
    if geometry.is_empty:
        raise GeometryProblem("is empty")
    _check_range(geometry)
    if crs != "wgs84":
        geometry = shapely.transform(geometry, lambda xy: _to_wgs84_array(xy, crs))
    if not geometry.is_valid:
        raise GeometryProblem(f"is not valid: {explain_validity(geometry)}")
    return geometry


def _to_wgs84_array(xy: np.ndarray, crs: str) -> np.ndarray:
    return np.array([to_wgs84(x, y, crs) for x, y in xy], dtype=float).reshape(xy.shape)


def _check_range(geometry) -> None:
    bounds = np.array(geometry.bounds)
    if not np.isfinite(bounds).all():
        raise GeometryProblem("coordinates must be finite numbers")
    minx, miny, maxx, maxy = bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise GeometryProblem("coordinates outside WGS-84 range (lon -180..180, lat -90..90)")


def shape_element(geometry) -> WKBElement:
    """A shapely geometry ready for a geometry(Geometry, 4326) column."""
    return from_shape(geometry, srid=SRID)
