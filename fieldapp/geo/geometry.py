"""Geometry in and out, in one place: GeoJSON / lon-lat ⇄ PostGIS (SRID 4326)."""
from __future__ import annotations

from geoalchemy2.elements import WKBElement
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import Point, mapping

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
