"""The site map page: the site's outline and each item's capture point, drawn without a base
map in a local projection, with scale bar, north arrow and legend."""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import FILL_EVEN_ODD
from reportlab.platypus import (
    Flowable,
    Spacer,
)

from fieldapp.dossiers.catalog.plan import _Anchor, _Plan
from fieldapp.dossiers.catalog.text import (
    CONTENT_W,
    GRID,
    Fonts,
    _compress_numbers,
    _dig,
    _format_point,
    _item_number,
    _items,
    _mapping,
    _Styles,
)
from fieldapp.geo.coordinates import MEAN_EARTH_RADIUS_M, to_wgs84, valid_wgs84

MAP_BOX_H = 170 * mm
MAP_LEGEND_H = 34
# A site given as one point, or all points in one place, still needs a readable extent.
MAP_MIN_EXTENT_M = 200.0
MAP_PADDING = 1.2



# --- positions and site geometry ---------------------------------------------------------


@dataclass(frozen=True)
class _MapPoint:
    number: int
    lon: float
    lat: float
    source: str  # "exif" or "claim"


def _valid_point(lon: object, lat: object) -> tuple[float, float] | None:
    return (float(lon), float(lat)) if valid_wgs84(lon, lat) else None


def _claim_wgs84(claim: Mapping) -> tuple[float, float] | None:
    """The claimed point in WGS-84: as converted by the server, else converted here."""
    converted = _mapping(claim.get("wgs84"))
    point = _valid_point(converted.get("lon"), converted.get("lat"))
    if point or not valid_wgs84(claim.get("lon"), claim.get("lat")):
        return point
    try:
        return to_wgs84(claim["lon"], claim["lat"], claim.get("crs") or "wgs84")
    except ValueError:
        return None


def _item_position(item: Mapping, number: int) -> _MapPoint | None:
    """The capture point: EXIF GPS when the file has it (always WGS-84), else the claim."""
    exif = _mapping(_dig(item, "place", "exif"))
    point = _valid_point(exif.get("lon"), exif.get("lat"))
    if point:
        return _MapPoint(number, *point, "exif")
    point = _claim_wgs84(_mapping(_dig(item, "place", "claim")))
    return _MapPoint(number, *point, "claim") if point else None


def _ring(coordinates: object) -> list[tuple[float, float]]:
    if not isinstance(coordinates, list):
        return []
    points = [_valid_point(*pair[:2]) for pair in coordinates
              if isinstance(pair, list | tuple) and len(pair) >= 2]
    return [point for point in points if point]


def _polygon(coordinates: object) -> list[list[tuple[float, float]]]:
    rings = [_ring(ring) for ring in coordinates] if isinstance(coordinates, list) else []
    return [ring for ring in rings if len(ring) >= 3]


def _site_shapes(geometry: object) -> tuple[list[list[list[tuple[float, float]]]],
                                             list[tuple[float, float]]]:
    """(polygons as lists of rings, points) of a GeoJSON Point/MultiPoint/(Multi)Polygon."""
    kind, coordinates = _dig(geometry, "type"), _dig(geometry, "coordinates")
    if kind == "Point":
        return [], _ring([coordinates])
    if kind == "MultiPoint":
        return [], _ring(coordinates)
    if kind == "Polygon":
        polygons = [_polygon(coordinates)]
    elif kind == "MultiPolygon" and isinstance(coordinates, list):
        polygons = [_polygon(polygon) for polygon in coordinates]
    else:
        polygons = []
    return [polygon for polygon in polygons if polygon], []


# --- map page ----------------------------------------------------------------------------


def _map_page(plan: _Plan) -> list[Flowable]:
    styles = plan.styles
    polygons, site_points = _site_shapes(_dig(plan.manifest, "site", "geometry"))
    positioned, unplaced = [], []
    for index, item in enumerate(_items(plan.manifest)):
        number = _item_number(item, index)
        point = _item_position(item, number)
        if point:
            positioned.append(point)
        else:
            unplaced.append(number)
    return [
        _Anchor("map", "现场位置图 / Site map"),
        styles.label("现场位置图 / Site map", styles.heading),
        _SiteMap(polygons, site_points, positioned, styles.fonts),
        Spacer(1, 6),
        *_map_notes(styles, bool(polygons or site_points), unplaced),
    ]


def site_map_story(manifest: Mapping, fonts: Fonts) -> list[Flowable]:
    """The map page's flowables for any mapping shaped like a manifest (a site geometry and
    numbered items with places): complaint packets draw the same map as the catalog."""
    return _map_page(_Plan(manifest=manifest, styles=_Styles.make(fonts), previews={}))


def _map_notes(styles: _Styles, has_site: bool, unplaced: list[int]) -> list[Flowable]:
    notes = [
        "坐标系 WGS-84，局部等距圆柱投影（经度按纬度余弦缩放），无底图；图中编号为证据序号。"
        "拍摄点取照片 EXIF GPS 位置，无则取志愿者声称位置（已换算为 WGS-84）。"
        " / WGS-84 in a local equirectangular projection (longitude scaled by cos latitude),"
        " no base map; numbers are item numbers. Each capture point is the photo's EXIF GPS"
        " position, else the volunteer's claimed position converted to WGS-84."
    ]
    if not has_site:
        notes.append("未提供场所范围 / No site geometry was given.")
    if unplaced:
        notes.append(f"无位置信息的证据 / Items without a position: "
                     f"{', '.join(str(number) for number in sorted(unplaced))}")
    else:
        notes.append("全部证据均有位置 / Every item has a position.")
    return [styles.para(note, styles.body) for note in notes]


class _Projection:
    """Local equirectangular projection in metres: east scaled by cos(latitude of origin)."""

    def __init__(self, lon0: float, lat0: float):
        self.lon0, self.lat0 = lon0, lat0
        self.k_north = MEAN_EARTH_RADIUS_M * math.pi / 180
        self.k_east = self.k_north * math.cos(math.radians(lat0))

    def __call__(self, lon: float, lat: float) -> tuple[float, float]:
        return (lon - self.lon0) * self.k_east, (lat - self.lat0) * self.k_north


class _Viewport:
    """Projected metres → page points in a box, one scale for both axes, centred."""

    def __init__(self, xs: list[float], ys: list[float], box: tuple[float, float, float, float]):
        left, bottom, width, height = box
        span_x = max(max(xs) - min(xs), MAP_MIN_EXTENT_M) * MAP_PADDING
        span_y = max(max(ys) - min(ys), MAP_MIN_EXTENT_M) * MAP_PADDING
        self.scale = min(width / span_x, height / span_y)  # points per metre
        self.mid_x, self.mid_y = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
        self.centre = (left + width / 2, bottom + height / 2)

    def __call__(self, x: float, y: float) -> tuple[float, float]:
        return (self.centre[0] + (x - self.mid_x) * self.scale,
                self.centre[1] + (y - self.mid_y) * self.scale)


SITE_STROKE = colors.HexColor("#b42318")
SITE_FILL = colors.HexColor("#fbd5d2")
EXIF_COLOUR = colors.HexColor("#1f5fbf")
CLAIM_COLOUR = colors.HexColor("#d35400")


class _SiteMap(Flowable):
    """The site outline and numbered capture points, with scale bar, north arrow and legend."""

    def __init__(self, polygons, site_points, points: list[_MapPoint], fonts: Fonts):
        super().__init__()
        self.polygons, self.site_points, self.points = polygons, site_points, points
        self.fonts = fonts
        self.width, self.height = CONTENT_W, MAP_BOX_H + MAP_LEGEND_H
        self.box = (0.0, float(MAP_LEGEND_H), CONTENT_W, MAP_BOX_H)

    def wrap(self, available_width, available_height):
        return self.width, self.height

    def draw(self):
        canvas = self.canv
        canvas.saveState()
        canvas.setStrokeColor(GRID)
        canvas.setLineWidth(0.6)
        canvas.rect(*self.box)
        lonlats = [pt for polygon in self.polygons for ring in polygon for pt in ring]
        lonlats += self.site_points + [(point.lon, point.lat) for point in self.points]
        if lonlats:
            self._draw_map(lonlats)
        else:
            self._centred_note("无可绘制的位置 / Nothing to plot")
        self._draw_legend()
        canvas.restoreState()

    def _draw_map(self, lonlats: list[tuple[float, float]]) -> None:
        lons, lats = [lon for lon, _ in lonlats], [lat for _, lat in lonlats]
        project = _Projection((min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2)
        metres = [project(lon, lat) for lon, lat in lonlats]
        view = _Viewport([x for x, _ in metres], [y for _, y in metres], self.box)

        def to_page(lon: float, lat: float) -> tuple[float, float]:
            return view(*project(lon, lat))

        for polygon in self.polygons:
            self._draw_polygon([[to_page(*pt) for pt in ring] for ring in polygon])
        for lon, lat in self.site_points:
            self._site_marker(*to_page(lon, lat))
        self._draw_points(to_page)
        self._draw_scale_bar(view.scale)
        self._draw_north_arrow()
        self._draw_centre(project.lat0, project.lon0)

    def _draw_polygon(self, rings: list[list[tuple[float, float]]]) -> None:
        canvas = self.canv
        path = canvas.beginPath()
        for ring in rings:
            path.moveTo(*ring[0])
            for x, y in ring[1:]:
                path.lineTo(x, y)
            path.close()
        canvas.setStrokeColor(SITE_STROKE)
        canvas.setFillColor(SITE_FILL)
        canvas.setLineWidth(1.2)
        # Even-odd filling leaves the holes of a polygon (its inner rings) unfilled.
        canvas.drawPath(path, stroke=1, fill=1, fillMode=FILL_EVEN_ODD)

    def _site_marker(self, x: float, y: float, size: float = 11) -> None:
        # Large and light, under the capture points, so points at the site stay visible.
        canvas = self.canv
        path = canvas.beginPath()
        path.moveTo(x, y + size)
        path.lineTo(x - size * 0.87, y - size / 2)
        path.lineTo(x + size * 0.87, y - size / 2)
        path.close()
        canvas.setStrokeColor(SITE_STROKE)
        canvas.setFillColor(SITE_FILL)
        canvas.setLineWidth(1.2)
        canvas.drawPath(path, stroke=1, fill=1)

    def _point_marker(self, x: float, y: float, source: str) -> None:
        canvas = self.canv
        if source == "exif":
            canvas.setStrokeColor(colors.white)
            canvas.setFillColor(EXIF_COLOUR)
            canvas.setLineWidth(0.8)
            canvas.circle(x, y, 3.4, stroke=1, fill=1)
        else:
            canvas.setStrokeColor(CLAIM_COLOUR)
            canvas.setLineWidth(1.4)
            canvas.rect(x - 3, y - 3, 6, 6, stroke=1, fill=0)

    def _draw_points(self, to_page: Callable[[float, float], tuple[float, float]]) -> None:
        # Points closer than a few points on paper share one label instead of overprinting.
        clusters: dict[tuple[int, int], list[tuple[float, float, int]]] = {}
        for point in self.points:
            x, y = to_page(point.lon, point.lat)
            self._point_marker(x, y, point.source)
            clusters.setdefault((round(x / 5), round(y / 5)), []).append((x, y, point.number))
        for members in clusters.values():
            x, y, _ = members[0]
            self._label(x + 5, y + 3, _compress_numbers(number for *_, number in members))

    def _label(self, x: float, y: float, text: str, size: float = 7.5) -> None:
        canvas = self.canv
        width = pdfmetrics.stringWidth(text, self.fonts.text, size)
        canvas.setFillColor(colors.white)
        canvas.rect(x - 1, y - 2, width + 2, size + 2, stroke=0, fill=1)
        canvas.setFillColor(colors.black)
        canvas.setFont(self.fonts.text, size)
        canvas.drawString(x, y, text)

    def _draw_scale_bar(self, points_per_metre: float) -> None:
        length_m = _nice_length(self.box[2] / points_per_metre / 4)
        length = length_m * points_per_metre
        x, y = self.box[0] + 12, self.box[1] + 14
        canvas = self.canv
        canvas.setStrokeColor(colors.black)
        canvas.setLineWidth(0.6)
        for part in range(2):
            canvas.setFillColor(colors.black if part == 0 else colors.white)
            canvas.rect(x + part * length / 2, y, length / 2, 4, stroke=1, fill=1)
        canvas.setFillColor(colors.black)
        canvas.setFont(self.fonts.text, 7.5)
        canvas.drawString(x, y + 7, "0")
        canvas.drawCentredString(x + length, y + 7, _format_metres(length_m))
        canvas.drawString(x, y - 9, "比例尺 / Scale")

    def _draw_north_arrow(self) -> None:
        canvas = self.canv
        x, y = self.box[0] + self.box[2] - 24, self.box[1] + self.box[3] - 44
        for side, fill in ((-1, colors.black), (1, colors.white)):
            path = canvas.beginPath()
            path.moveTo(x, y + 24)
            path.lineTo(x + side * 7, y)
            path.lineTo(x, y + 6)
            path.close()
            canvas.setFillColor(fill)
            canvas.setStrokeColor(colors.black)
            canvas.setLineWidth(0.6)
            canvas.drawPath(path, stroke=1, fill=1)
        canvas.setFillColor(colors.black)
        canvas.setFont(self.fonts.text, 9)
        canvas.drawCentredString(x, y + 28, "N 北")

    def _draw_centre(self, lat: float, lon: float) -> None:
        """The map centre in numbers, so a reader can place the drawing on any other map."""
        left, bottom, width, _ = self.box
        self.canv.setFillColor(colors.HexColor("#57606a"))
        self.canv.setFont(self.fonts.text, 7)
        self.canv.drawRightString(left + width - 8, bottom + 8,
                                  f"图中心 Centre (WGS-84): {_format_point(lat, lon)}")

    def _centred_note(self, text: str) -> None:
        left, bottom, width, height = self.box
        self.canv.setFillColor(colors.HexColor("#57606a"))
        self.canv.setFont(self.fonts.text, 11)
        self.canv.drawCentredString(left + width / 2, bottom + height / 2, text)

    def _draw_legend(self) -> None:
        entries = []
        if self.polygons:
            entries.append((self._legend_polygon, "场所范围 / Site boundary"))
        if self.site_points:
            entries.append((self._legend_site_point, "场所位置 / Site location"))
        entries += [
            (lambda x, y: self._point_marker(x, y, "exif"), "EXIF GPS 拍摄点 / EXIF GPS position"),
            (lambda x, y: self._point_marker(x, y, "claim"),
             "声称拍摄点（WGS-84）/ Claimed position (as WGS-84)"),
        ]
        canvas = self.canv
        column_w = self.width / 2
        for position, (swatch, text) in enumerate(entries):
            x = (position % 2) * column_w + 8
            y = MAP_LEGEND_H - 12 - (position // 2) * 14
            swatch(x, y + 2.5)
            canvas.setFillColor(colors.black)
            canvas.setFont(self.fonts.text, 8)
            canvas.drawString(x + 12, y, text)

    def _legend_polygon(self, x: float, y: float) -> None:
        self.canv.setStrokeColor(SITE_STROKE)
        self.canv.setFillColor(SITE_FILL)
        self.canv.setLineWidth(1.2)
        self.canv.rect(x - 4, y - 3.5, 9, 7, stroke=1, fill=1)

    def _legend_site_point(self, x: float, y: float) -> None:
        self._site_marker(x, y - 1, size=5)


def _nice_length(max_metres: float) -> float:
    """The longest 1, 2 or 5 × 10^k metres not above max_metres."""
    magnitude = 10 ** math.floor(math.log10(max_metres))
    return next(step * magnitude for step in (5, 2, 1) if step * magnitude <= max_metres)


def _format_metres(metres: float) -> str:
    return f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"


