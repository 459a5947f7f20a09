"""H3 cells for reports and maps, pure: which cells a point is in, their shapes, zoom → res,
and the public layer's rules (coarsest cells, counts in bands, how much a request may ask)."""
from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import h3

RESOLUTIONS = tuple(range(2, 10))
FINEST = RESOLUTIONS[-1]
# Web-map zoom → H3 resolution, so that a hexagon covers roughly 20-60 px on screen.
_ZOOM_TO_RES = {0: 2, 1: 2, 2: 2, 3: 2, 4: 3, 5: 3, 6: 4, 7: 5, 8: 5, 9: 6, 10: 7, 11: 7,
                12: 8, 13: 8}


def resolution_for_zoom(zoom: int) -> int:
    return _ZOOM_TO_RES.get(zoom, FINEST)


# The public layer stops at resolution 7 (5.2 km² on average, never under about 2.5 km²):
# resolution 8 (0.74 km²) is a few streets, small enough to point at a volunteer's home.
PUBLIC_FINEST = 7
PUBLIC_RESOLUTIONS = tuple(r for r in RESOLUTIONS if r <= PUBLIC_FINEST)
# Past street level a public map gains nothing (the cells stop shrinking at zoom 10) and
# a client asking for more is either broken or scraping.
PUBLIC_MAX_ZOOM = 18


def public_resolution_for_zoom(zoom: int) -> int:
    """The zoom's resolution, but never finer than the public layer's coarsest allowed."""
    return min(resolution_for_zoom(zoom), PUBLIC_FINEST)


def public_family(cell: int) -> dict[int, int]:
    """A finest public cell and its H3 ancestors, by resolution: the public layer's coarser
    cells are made only of the finest cells it shows, so that comparing zooms tells nothing
    the finest cells do not (H3's hexagons do not nest exactly: counted where each report
    lies, a parent could hide what its overhanging child shows)."""
    name = h3.int_to_str(cell)
    return {res: h3.str_to_int(h3.cell_to_parent(name, res)) for res in PUBLIC_RESOLUTIONS}


# Lower edges of the bands in which the public layer states a cell's verified reports.
# Roughly logarithmic, so one volunteer's next report rarely moves a cell into another
# band, and an exact small number (which a neighbour could match to a person) never shows.
_BAND_EDGES = (10, 30, 100, 300, 1000)


def count_bands(min_count: int) -> list[int]:
    """Ascending lower edges of the public bands; the first is the threshold itself."""
    return [min_count] + [edge for edge in _BAND_EDGES if edge > min_count]


def band_labels(edges: list[int]) -> list[str]:
    """"3-9", "10-29", ..., "1000+" for the edges of count_bands."""
    labels = []
    for low, high in zip(edges, [edge - 1 for edge in edges[1:]] + [None], strict=True):
        labels.append(f"{low}+" if high is None else str(low) if high == low
                      else f"{low}-{high}")
    return labels


# The public layer is published once a UTC day, from a capture of public_cells taken by the
# day's first public request; a capture is shown only from delay_days days after its day.
# A cell that appeared minutes after a volunteer's visit would tell anyone polling the map
# that someone had just been there; a day's capture shown the next day says only "some day
# before yesterday" (with the default delay of 1).


def day_start(now: datetime) -> datetime:
    """Midnight UTC of now's UTC day."""
    return datetime.combine(now.astimezone(UTC).date(), datetime.min.time(), tzinfo=UTC)


def capture_due(now: datetime, newest: datetime | None) -> bool:
    """Is a new capture of the public layer due (none yet taken this UTC day)?"""
    return newest is None or newest < day_start(now)


def shown_before(now: datetime, delay_days: int) -> datetime:
    """The public layer shows the newest capture taken before this moment: the end of the
    UTC day delay_days days before today (0: today's own capture)."""
    if delay_days < 0:
        raise ValueError("the public layer's delay is a number of days, not negative")
    return day_start(now) + timedelta(days=1 - delay_days)


EARTH_RADIUS_KM = 6371.0088


def bbox_area_km2(bbox: tuple[float, float, float, float]) -> float:
    """Area of a lon/lat box on the sphere (exact for the authalic sphere's box)."""
    minlon, minlat, maxlon, maxlat = bbox
    band = math.sin(math.radians(maxlat)) - math.sin(math.radians(minlat))
    return EARTH_RADIUS_KM ** 2 * math.radians(maxlon - minlon) * abs(band)


def cells_in_bbox(bbox: tuple[float, float, float, float], res: int) -> int:
    """About how many cells of a resolution cover a box: the bound on a hex-bin answer."""
    return math.ceil(bbox_area_km2(bbox) / h3.average_hexagon_area(res, "km^2"))


def cells_for(lon: float, lat: float) -> dict[int, int]:
    """The cell containing the point at every kept resolution, as 64-bit integers.

    Each is looked up directly rather than as the parent of the finest: H3's hexagons do
    not nest exactly, and a point must be counted in the hexagon it is drawn inside.
    """
    return {res: h3.str_to_int(h3.latlng_to_cell(lat, lon, res)) for res in RESOLUTIONS}


def cell_shape(cell: int) -> tuple[tuple[float, float], list[tuple[float, float]]]:
    """(centre (lon, lat), closed boundary ring [(lon, lat), ...]) of a cell."""
    name = h3.int_to_str(cell)
    lat, lon = h3.cell_to_latlng(name)
    ring = [(x, y) for y, x in h3.cell_to_boundary(name)]
    return (lon, lat), ring + ring[:1]


def resolution_of(cell: int) -> int:
    return h3.get_resolution(h3.int_to_str(cell))
