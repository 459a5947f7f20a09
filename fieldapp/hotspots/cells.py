"""H3 cells for reports and maps, pure: which cells a point is in, their shapes, zoom → res."""
from __future__ import annotations

import h3

RESOLUTIONS = tuple(range(2, 10))
FINEST = RESOLUTIONS[-1]
# Web-map zoom → H3 resolution, so that a hexagon covers roughly 20-60 px on screen.
_ZOOM_TO_RES = {0: 2, 1: 2, 2: 2, 3: 2, 4: 3, 5: 3, 6: 4, 7: 5, 8: 5, 9: 6, 10: 7, 11: 7,
                12: 8, 13: 8}


def resolution_for_zoom(zoom: int) -> int:
    return _ZOOM_TO_RES.get(zoom, FINEST)


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
