"""The evidence catalog (证据目录): a bilingual, court-ready A4 PDF of a dossier's items.

Pure: it reads the manifest dict (the same dict that becomes manifest.json) and the preview
files, and writes one PDF. No Flask, no database.

A CJK TrueType font is embedded (as subsets) so Chinese renders in any PDF viewer; reportlab's
built-in CID fonts (STSong-Light, ...) are never used, because they rely on fonts the reader's
viewer may not have.

Layout: cover block and catalog table, a site map, then one page per item (the preview
shrinks, down to a floor, to keep each item on its page). The table's page column and the
"Page X of Y" footer need the finished layout: the pages are predicted from the front matter's
page count and each item's measured height, and the document is rebuilt only if the pages it
produced differ from the prediction. The output is deterministic: the same manifest and
previews give the same bytes.
"""
from __future__ import annotations

import hashlib
import io
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import escape

from PIL import Image as PILImage
from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm, mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen.canvas import FILL_EVEN_ODD
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    Image,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from fieldapp.geo.coordinates import MEAN_EARTH_RADIUS_M, to_wgs84, valid_wgs84

DEFAULT_FONT_PATH = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
FONT_PACKAGE = "fonts-wqy-zenhei"
FONT_ENV = "FIELDAPP_CJK_FONT"

PAGE_W, PAGE_H = A4
MARGIN_X = 18 * mm
MARGIN_TOP = 16 * mm
MARGIN_BOTTOM = 18 * mm
CONTENT_W = PAGE_W - 2 * MARGIN_X
FRAME_H = PAGE_H - MARGIN_TOP - MARGIN_BOTTOM

PREVIEW_MAX_W = 16 * cm
PREVIEW_MAX_H = 11 * cm
# Below this the preview stops shrinking to keep an item on one page and the item flows on.
PREVIEW_MIN_H = 6 * cm
NO_PREVIEW_H = 2.5 * cm
CAPTION_H = 12  # the gap under a preview and its one-line caption (leading 9)

MAP_BOX_H = 170 * mm
MAP_LEGEND_H = 34
# A site given as one point, or all points in one place, still needs a readable extent.
MAP_MIN_EXTENT_M = 200.0
MAP_PADDING = 1.2

# The prediction is normally exact; the bound only guards against a pathological flip.
MAX_PASSES = 4

DASH = "—"
# A run of CJK characters (punctuation, kana, ideographs, full-width forms) long enough that
# a line may have to break inside it; shorter runs can move to the next line like a word.
CJK_RUN = re.compile("[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]{8,}")
# An explicit break: the column is sized for the English half on one line.
ORIGINAL_COPY = "原件（电子数据）/<br/>Original (electronic data)"

GRID = colors.HexColor("#9aa4ae")
HEAD_BG = colors.HexColor("#e8ecf0")
LABEL_BG = colors.HexColor("#f4f6f8")
LINK = colors.HexColor("#1f4e9a")
RED = colors.HexColor("#b42318")
RED_BG = colors.HexColor("#fde2e1")

# (text colour, background) per check result; anything else is shown as unknown.
RESULT_COLOURS = {
    "pass": (colors.HexColor("#1a7f37"), colors.HexColor("#dcf5e3")),
    "warn": (colors.HexColor("#8a5a00"), colors.HexColor("#fff1c2")),
    "fail": (RED, RED_BG),
    "unknown": (colors.HexColor("#57606a"), colors.HexColor("#eceff1")),
}
RESULT_LABELS = {"pass": "通过", "warn": "注意", "fail": "不符", "unknown": "未知"}
VERDICT_RESULTS = {"consistent": "pass", "needs_review": "warn", "inconsistent": "fail"}
VERDICT_LABELS = {"consistent": "一致", "needs_review": "需人工审查", "inconsistent": "不一致"}
DECISION_LABELS = {"accepted": "采纳", "rejected": "驳回", "needs_more": "需补充"}
ROLE_LABELS = {"lawyer": "律师", "coordinator": "协调员", "admin": "管理员"}
CRS_LABELS = {"wgs84": "WGS-84", "gcj02": "GCJ-02", "bd09": "BD-09"}
CHECK_LABELS = {
    "metadata_present": "元数据存在",
    "gps_present": "含 GPS 位置",
    "gps_matches_claim": "GPS 与声称地点一致",
    "time_matches_claim": "拍摄时间与声称一致",
    "not_in_future": "拍摄时间不晚于接收",
    "gps_time_consistent": "GPS 时间与拍摄时间一致",
    "editing_software": "未经编辑软件处理",
    "modified_after_capture": "拍摄后未修改",
    "duplicate": "非重复文件",
    "near_duplicate": "非近似重复",
    "thumbnail_matches": "缩略图与图像一致",
}


class FontMissing(RuntimeError):
    """The CJK TrueType font the catalog embeds is missing or unusable."""

    def __init__(self, path: str | Path, reason: str = "not found"):
        self.path = str(path)
        super().__init__(
            f"CJK font {reason}: {path}. Install the Debian package {FONT_PACKAGE} "
            f"(make packages) or set {FONT_ENV} to a TrueType font (.ttf/.ttc) "
            "with Chinese glyphs."
        )


# --- public entry point ------------------------------------------------------------------


def render_catalog(
    manifest: dict,
    preview_paths: Mapping[int, str | Path | None],
    out_path: str | Path,
    font_path: str | None = None,
) -> int:
    """Write the catalog PDF to out_path and return its page count."""
    fonts = load_fonts(resolve_font_path(font_path))
    plan = _Plan(manifest=manifest if isinstance(manifest, Mapping) else {},
                 styles=_Styles.make(fonts), previews=_read_previews(manifest, preview_paths))
    layout = _predicted_layout(plan)
    for _ in range(MAX_PASSES):
        pdf, produced = _build_pdf(plan, layout)
        if produced == layout:
            break
        layout = produced
    _write_atomically(Path(out_path), pdf)
    return produced.total_pages or 0


def resolve_font_path(font_path: str | Path | None = None) -> Path:
    """The font to embed: the argument, else $FIELDAPP_CJK_FONT, else WenQuanYi Zen Hei."""
    return Path(font_path or os.environ.get(FONT_ENV) or DEFAULT_FONT_PATH)


# --- fonts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fonts:
    text: str
    mono: str


def load_fonts(path: Path) -> Fonts:
    """Register the CJK font (and its monospaced sibling in a .ttc, if any) with reportlab."""
    if not path.is_file():
        raise FontMissing(path)
    # reportlab's font registry is process-wide: name fonts by path so overrides never clash.
    tag = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]
    text = _register_font(f"FieldappCJK-{tag}", path, 0)
    if not _has_chinese(text):
        raise FontMissing(path, "has no Chinese glyphs")
    mono = _mono_sibling(f"FieldappCJKMono-{tag}", path) or text
    return Fonts(text=text, mono=mono)


def _register_font(name: str, path: Path, subfont: int) -> str:
    if name in pdfmetrics.getRegisteredFontNames():
        return name
    try:
        font = TTFont(name, str(path), subfontIndex=subfont)
    except (TTFError, OSError, ValueError) as error:
        raise FontMissing(path, f"unreadable ({error})") from error
    pdfmetrics.registerFont(font)
    return name


def _has_chinese(font_name: str) -> bool:
    glyphs = pdfmetrics.getFont(font_name).face.charToGlyph
    return all(ord(char) in glyphs for char in "证据目录")


def _mono_sibling(name: str, path: Path) -> str | None:
    """WenQuanYi's .ttc carries a Mono face at index 1; hashes read best in it."""
    if path.suffix.lower() != ".ttc":
        return None
    try:
        font_name = _register_font(name, path, 1)
    except FontMissing:
        return None
    face_name = pdfmetrics.getFont(font_name).face.name
    return font_name if b"Mono" in bytes(face_name) else None


# --- styles ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Styles:
    fonts: Fonts
    body: ParagraphStyle
    small: ParagraphStyle
    cell: ParagraphStyle
    cell_head: ParagraphStyle
    title: ParagraphStyle
    subtitle: ParagraphStyle
    heading: ParagraphStyle
    section: ParagraphStyle
    note: ParagraphStyle
    caption: ParagraphStyle
    dense: ParagraphStyle
    warning: ParagraphStyle
    latin: dict[str, ParagraphStyle] = field(default_factory=dict)

    def para(self, markup: str, style: ParagraphStyle) -> Paragraph:
        """A paragraph of content: CJK line breaking when it holds a long run of Chinese."""
        if CJK_RUN.search(markup):
            return Paragraph(markup, style)
        return self.label(markup, style)

    def label(self, markup: str, style: ParagraphStyle) -> Paragraph:
        """A paragraph broken at spaces only: for our own short labels and Latin text.

        CJK breaking measures every character and is several times slower; labels fit their
        cells by design, so the cheaper word breaking loses nothing there.
        """
        if style.name not in self.latin:
            self.latin[style.name] = ParagraphStyle(f"{style.name}-latin", parent=style,
                                                    wordWrap=None)
        return Paragraph(markup, self.latin[style.name])

    @classmethod
    def make(cls, fonts: Fonts) -> _Styles:
        # CJK wrapping breaks between any two Chinese characters; plain wrapping only at spaces.
        body = ParagraphStyle("body", fontName=fonts.text, fontSize=8.5, leading=11.5,
                              wordWrap="CJK")
        cell = ParagraphStyle("cell", parent=body, fontSize=7.5, leading=9.8)
        return cls(
            fonts=fonts,
            body=body,
            small=ParagraphStyle("small", parent=body, fontSize=7, leading=9,
                                 textColor=colors.HexColor("#444c56")),
            cell=cell,
            cell_head=ParagraphStyle("cell_head", parent=cell,
                                     textColor=colors.HexColor("#24292f")),
            title=ParagraphStyle("title", parent=body, fontSize=22, leading=28,
                                 alignment=TA_CENTER),
            subtitle=ParagraphStyle("subtitle", parent=body, fontSize=12, leading=16,
                                    alignment=TA_CENTER, spaceAfter=10),
            heading=ParagraphStyle("heading", parent=body, fontSize=13, leading=17,
                                   spaceAfter=5),
            section=ParagraphStyle("section", parent=body, fontSize=9, leading=12,
                                   spaceBefore=5, spaceAfter=2),
            note=ParagraphStyle("note", parent=body, fontSize=9, leading=12,
                                alignment=TA_CENTER, textColor=colors.HexColor("#57606a")),
            caption=ParagraphStyle("caption", parent=body, fontSize=7, leading=9,
                                   alignment=TA_CENTER, textColor=colors.HexColor("#57606a")),
            # Item pages hold a preview and three tables on one A4 page: they use small type.
            dense=ParagraphStyle("dense", parent=body, fontSize=7, leading=8.8),
            warning=ParagraphStyle("warning", parent=body, fontSize=10, leading=13,
                                   textColor=RED),
        )


# --- plain-value helpers -----------------------------------------------------------------


def _dig(data: object, *keys: str) -> object:
    """data[k1][k2]...; None as soon as a level is missing or not a mapping."""
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _mapping(value: object) -> Mapping:
    return value if isinstance(value, Mapping) else {}


def _items(manifest: Mapping) -> list[Mapping]:
    items = manifest.get("items")
    return [_mapping(item) for item in items] if isinstance(items, list) else []


def _text(value: object, missing: str = DASH) -> str:
    """Paragraph markup for an untrusted value: escaped, newlines kept."""
    if value is None or value == "":
        return missing
    return escape(str(value)).replace("\n", "<br/>")


def _joined(*values: object, sep: str = " ") -> str:
    return sep.join(str(value) for value in values if value not in (None, ""))


def _bilingual(chinese: str, english: str) -> str:
    return f"{chinese}<br/>{english}"


def _item_number(item: Mapping, index: int) -> int:
    number = item.get("number")
    return number if isinstance(number, int) and not isinstance(number, bool) else index + 1


def _format_time(value: object) -> str:
    if not value:
        return DASH
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return _text(value)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    offset = moment.strftime("%z")
    return f"{text} {offset[:3]}:{offset[3:]}" if offset else text


def _pdf_date(value: object) -> str | None:
    """The dossier's creation time as a PDF date, so the file does not carry the render time."""
    try:
        moment = datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None
    offset = moment.strftime("%z")
    zone = f"{offset[:3]}'{offset[3:]}'" if offset else ""
    return f"D:{moment.strftime('%Y%m%d%H%M%S')}{zone}"


def _format_size(size: object) -> str:
    if not isinstance(size, int) or isinstance(size, bool):
        return DASH
    scaled = f"{size / 1024 ** 2:.1f} MiB" if size >= 1024 ** 2 else f"{size / 1024:.1f} KiB"
    return f"{size:,} 字节 bytes ({scaled})"


def _format_point(lat: float, lon: float) -> str:
    return f"纬度 lat {lat:.6f}，经度 lon {lon:.6f}"


def _compress_numbers(numbers: Iterable[int], limit: int = 28) -> str:
    """1, 2, 3, 5 → "1–3, 5"; a long list is cut with a count of what was left out."""
    runs: list[list[int]] = []
    for number in sorted(set(numbers)):
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    parts = [str(run[0]) if len(run) == 1 else f"{run[0]}–{run[-1]}" for run in runs]
    text = ", ".join(parts)
    if len(text) <= limit:
        return text
    shown = []
    for part in parts:
        if len(", ".join([*shown, part])) > limit - 8:
            break
        shown.append(part)
    return f"{', '.join(shown)} … (+{len(parts) - len(shown)})"


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


# --- layout bookkeeping ------------------------------------------------------------------


@dataclass
class _Layout:
    """What a pass produced (or the next pass is given): item start pages, total pages."""

    item_pages: dict[int, int] = field(default_factory=dict)
    total_pages: int | None = None


@dataclass(frozen=True)
class _Preview:
    path: str
    width: int
    height: int


@dataclass
class _Plan:
    manifest: Mapping
    styles: _Styles
    previews: dict[int, _Preview | str]  # item index → preview, or why there is none
    # An item page's height without its preview depends only on the item: measured once.
    spare_heights: dict[int, float] = field(default_factory=dict)
    # Item flowables made (and measured) for the prediction, handed to the first build.
    item_stories: dict[int, list[Flowable]] = field(default_factory=dict)
    # What the build in progress records: the page each item starts on, the page count.
    produced: _Layout = field(default_factory=_Layout)


def _read_previews(manifest: Mapping, paths: Mapping) -> dict[int, _Preview | str]:
    previews: dict[int, _Preview | str] = {}
    for index, item in enumerate(_items(_mapping(manifest))):
        previews[index] = _read_preview(paths.get(_item_number(item, index)) if paths else None)
    return previews


def _read_preview(path: str | Path | None) -> _Preview | str:
    if not path or not Path(path).is_file():
        return "无预览 / No preview"
    try:
        with PILImage.open(path) as image:
            width, height = image.size
    except (OSError, ValueError):
        return "预览无法读取 / Preview cannot be read"
    if width <= 0 or height <= 0:
        return "预览无法读取 / Preview cannot be read"
    return _Preview(str(path), width, height)


class _Anchor(Flowable):
    """Zero-size marker: a PDF destination and outline entry, and the page it landed on."""

    def __init__(self, key: str, title: str, on_page: Callable[[int], None] | None = None):
        super().__init__()
        self.key, self.title, self.on_page = key, title, on_page

    def wrap(self, available_width, available_height):
        return 0, 0

    def draw(self):
        self.canv.bookmarkPage(self.key)
        self.canv.addOutlineEntry(self.title, self.key, level=0)
        if self.on_page:
            self.on_page(self.canv.getPageNumber())


# --- document ----------------------------------------------------------------------------


def _build_pdf(plan: _Plan, layout: _Layout, with_items: bool = True) -> tuple[bytes, _Layout]:
    # Binary image streams: ASCII85 would make 500 previews a third larger and slower to write.
    rl_config.useA85 = 0
    buffer = io.BytesIO()
    doc = _document(buffer, plan, layout)
    story = [*_cover(plan), *_catalog_table(plan, layout), PageBreak(), *_map_page(plan)]
    for index, item in enumerate(_items(plan.manifest) if with_items else []):
        # Flowables are spent by a build: reuse the measured ones once, then make new ones.
        item_story = plan.item_stories.pop(index, None) or _item_page(plan, index, item)
        story += [PageBreak(), *item_story]
    doc.build(story)
    return buffer.getvalue(), plan.produced


def _predicted_layout(plan: _Plan) -> _Layout:
    """Item start pages without building the whole document: front matter, then the items."""
    # The page column's numbers never change a row's height, so the front matter built
    # without numbers has as many pages as the final one.
    _, front = _build_pdf(plan, _Layout(), with_items=False)
    page = front.total_pages or 0
    item_pages = {}
    for index, item in enumerate(_items(plan.manifest)):
        item_pages[index] = page + 1
        page += _item_page_count(plan, index, item)
    return _Layout(item_pages, page)


def _item_page_count(plan: _Plan, index: int, item: Mapping) -> int:
    story = _item_page(plan, index, item)
    spare = plan.spare_heights[index]
    if spare >= _preview_height(plan.previews[index], spare):
        plan.item_stories[index] = story
        return 1
    # Too much text even for the smallest preview: lay the item out alone to count its pages.
    _document(io.BytesIO(), plan, _Layout()).build(story)
    return plan.produced.total_pages or 1


def _dossier_label(manifest: Mapping) -> str:
    label = _dig(manifest, "dossier", "label") or _dig(manifest, "dossier", "number")
    return str(label) if label not in (None, "") else DASH


def _document(buffer, plan: _Plan, layout: _Layout) -> BaseDocTemplate:
    """A document given the predicted layout; it records what it produces in plan.produced."""
    plan.produced = _Layout()
    manifest = plan.manifest
    label = _dossier_label(manifest)
    doc = BaseDocTemplate(
        buffer, pagesize=A4, leftMargin=MARGIN_X, rightMargin=MARGIN_X, topMargin=MARGIN_TOP,
        bottomMargin=MARGIN_BOTTOM, title=f"证据目录 Evidence Catalog {label}",
        subject=str(_dig(manifest, "case", "title") or ""),
        author=str(_dig(manifest, "system", "software") or "fieldapp"),
        creator=str(_dig(manifest, "system", "software") or "fieldapp"),
        # The canvas otherwise starts every page in Helvetica, a font the PDF would not embed.
        initialFontName=plan.styles.fonts.text,
        # Fixed IDs and dates: re-rendering the same manifest reproduces the same bytes.
        invariant=1,
    )
    frame = Frame(MARGIN_X, MARGIN_BOTTOM, CONTENT_W, FRAME_H, leftPadding=0, rightPadding=0,
                  topPadding=0, bottomPadding=0, id="content")
    footer = _footer(plan.styles.fonts, label, layout.total_pages, plan.produced,
                     _pdf_date(_dig(manifest, "dossier", "created_at")))
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=footer)])
    return doc


def _footer(fonts: Fonts, label: str, total: int | None, produced: _Layout,
            pdf_date: str | None) -> Callable:
    def draw(canvas, doc):
        page = canvas.getPageNumber()
        produced.total_pages = page
        if pdf_date:
            canvas.setDateFormatter(lambda *_: pdf_date)
        # Open with the bookmarks pane: one entry per item is how a lawyer navigates.
        canvas.showOutline()
        canvas.saveState()
        canvas.setStrokeColor(GRID)
        canvas.setLineWidth(0.4)
        canvas.line(MARGIN_X, 13 * mm, PAGE_W - MARGIN_X, 13 * mm)
        canvas.setFont(fonts.text, 8)
        canvas.setFillColor(colors.HexColor("#444c56"))
        baseline = 9 * mm
        canvas.drawString(MARGIN_X, baseline, "证据目录 / Evidence Catalog")
        canvas.drawCentredString(PAGE_W / 2, baseline,
                                 f"第 {page} 页 / Page {page} of {total or '?'}")
        canvas.drawRightString(PAGE_W - MARGIN_X, baseline, f"卷宗 Dossier {label}")
        canvas.restoreState()

    return draw


def _write_atomically(path: Path, data: bytes) -> None:
    # A reader of the dossier folder never sees a half-written catalog.
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _cell_font(font: str) -> list[tuple]:
    """Table cell text style. A table sets its cells' font even around a Paragraph, and
    reportlab's default is Helvetica, which would be the one font left unembedded."""
    return [("FONTNAME", (0, 0), (-1, -1), font), ("FONTSIZE", (0, 0), (-1, -1), 7),
            ("LEADING", (0, 0), (-1, -1), 8.8)]


def _grid_table(rows: list[list], widths: list[float], font: str, *, header: bool,
                extra=()) -> Table:
    """A ruled table. Plain-string cells (labels, known values) are set small in font: they
    cost a fraction of a Paragraph to lay out, which adds up over a 500-item dossier."""
    table = Table(rows, colWidths=widths, repeatRows=1 if header else 0, splitInRow=1)
    commands = [
        *_cell_font(font),
        ("GRID", (0, 0), (-1, -1), 0.4, GRID),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), HEAD_BG))
    table.setStyle(TableStyle([*commands, *extra]))
    return table


def _key_value_table(styles: _Styles, rows: list[tuple[str, str]], label_w: float) -> Table:
    data = [[styles.label(label, styles.cell_head), styles.para(value, styles.cell)]
            for label, value in rows]
    return _grid_table(data, [label_w, CONTENT_W - label_w], styles.fonts.text, header=False,
                       extra=[("BACKGROUND", (0, 0), (0, -1), LABEL_BG)])


def _boxed(paragraph: Paragraph, font: str, border, background,
           height: float | None = None) -> Table:
    box = Table([[paragraph]], colWidths=[CONTENT_W], rowHeights=[height] if height else None)
    box.setStyle(TableStyle([
        *_cell_font(font),
        ("BOX", (0, 0), (-1, -1), 1.2, border),
        ("BACKGROUND", (0, 0), (-1, -1), background),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
    ]))
    return box


# --- cover and catalog table -------------------------------------------------------------


def _cover(plan: _Plan) -> list[Flowable]:
    styles, manifest = plan.styles, plan.manifest
    rows = [
        *_case_rows(_mapping(manifest.get("case"))),
        *_site_rows(_mapping(manifest.get("site"))),
        *_dossier_rows(manifest, styles),
    ]
    return [
        _Anchor("catalog", "证据目录 / Evidence Catalog"),
        styles.label("证据目录", styles.title),
        styles.label("Evidence Catalog", styles.subtitle),
        _key_value_table(styles, rows, 34 * mm),
        Spacer(1, 3),
        styles.para(
            "本目录的 SHA-256 记录在 manifest.json 中；保管链头哈希用于核对 custody.jsonl。"
            " / The SHA-256 of this catalog is recorded in manifest.json; the custody chain"
            " head hash verifies custody.jsonl.", styles.small),
        styles.label("目录 / Catalog", styles.section),
    ]


def _case_rows(case: Mapping) -> list[tuple[str, str]]:
    return [
        (_bilingual("案件名称", "Case"), _text(case.get("title"))),
        (_bilingual("法院/机关", "Court / authority"), _text(case.get("authority"))),
        (_bilingual("案号", "Case number"), _text(case.get("case_number"))),
        (_bilingual("案件状态", "Legal status"), _text(case.get("legal_status"))),
    ]


def _site_rows(site: Mapping) -> list[tuple[str, str]]:
    names = [_text(site.get(key), "") for key in ("name", "name_en")]
    return [
        (_bilingual("场所", "Site"), "<br/>".join(name for name in names if name) or DASH),
        (_bilingual("运营单位", "Operator"), _text(site.get("operator"))),
        (_bilingual("统一社会信用代码", "USCC"), _text(site.get("uscc"))),
        (_bilingual("排污许可证编号", "Permit number"), _text(site.get("permit_number"))),
        (_bilingual("地址", "Address"),
         _text(_joined(site.get("address"), site.get("region"), sep="，"))),
    ]


def _dossier_rows(manifest: Mapping, styles: _Styles) -> list[tuple[str, str]]:
    dossier = _mapping(manifest.get("dossier"))
    role = dossier.get("created_by_role")
    made_by = f"（{ROLE_LABELS.get(role, '')} {_text(role)}）" if role else ""
    system = _mapping(manifest.get("system"))
    software = _text(system.get("software"))
    description = _text(system.get("description"), "")
    return [
        (_bilingual("卷宗编号", "Dossier number"), _text(_dossier_label(manifest))),
        (_bilingual("生成时间", "Generated"), _format_time(dossier.get("created_at")) + made_by),
        (_bilingual("保管链头哈希", "Custody chain head"),
         _custody_text(_mapping(manifest.get("custody")), styles)),
        (_bilingual("生成系统", "System"),
         f"{software}<br/>{description}" if description else software),
    ]


def _custody_text(custody: Mapping, styles: _Styles) -> str:
    head = _text(custody.get("head_hash"))
    details = _joined(
        f"序号 seq {custody['head_seq']}" if custody.get("head_seq") is not None else None,
        f"事件 events {custody['events']}" if custody.get("events") is not None else None,
        f"文件 file {custody['file']}" if custody.get("file") else None,
        sep="；",
    )
    return f'<font name="{styles.fonts.mono}">{head}</font><br/>{_text(details, "")}'


CATALOG_WIDTHS = [10 * mm, 38 * mm, 34 * mm, 48 * mm, 13 * mm, 31 * mm]


def _catalog_table(plan: _Plan, layout: _Layout) -> list[Flowable]:
    styles = plan.styles
    header = [
        _bilingual("序号", "No."), _bilingual("证据名称", "Evidence"),
        _bilingual("证据来源", "Source"), _bilingual("证明目的", "Purpose"),
        _bilingual("页码", "Page"), _bilingual("原件/复印件", "Original/Copy"),
    ]
    rows = [[styles.label(text, styles.cell_head) for text in header]]
    for index, item in enumerate(_items(plan.manifest)):
        rows.append([styles.para(text, styles.cell) for text in
                     _catalog_row(item, index, layout.item_pages.get(index))])
    extra = []
    if len(rows) == 1:
        rows.append([styles.label("无证据 / No items", styles.cell), "", "", "", "", ""])
        extra.append(("SPAN", (0, 1), (-1, 1)))
    return [_grid_table(rows, CATALOG_WIDTHS, styles.fonts.text, header=True, extra=extra)]


def _catalog_row(item: Mapping, index: int, page: int | None) -> list[str]:
    source = _mapping(item.get("source"))
    device = _joined(source.get("make"), source.get("model"))
    page_text = f'<a href="#item-{index}" color="{LINK.hexval()}">{page}</a>' if page else DASH
    return [
        str(_item_number(item, index)),
        _text(item.get("title")),
        f"{_text(source.get('volunteer'))}<br/>{_text(device, '设备未知 / device unknown')}",
        _text(item.get("purpose")),
        page_text,
        ORIGINAL_COPY,
    ]


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


# --- item pages --------------------------------------------------------------------------


def _item_page(plan: _Plan, index: int, item: Mapping) -> list[Flowable]:
    styles = plan.styles
    number = _item_number(item, index)
    title = _text(item.get("title"), "")
    heading = f"证据 {number} / Item {number}" + (f"：{title}" if title else "")

    def record(page: int) -> None:
        plan.produced.item_pages[index] = page

    head = [_Anchor(f"item-{index}", f"证据 {number} / Item {number}", record),
            styles.para(heading, styles.heading)]
    body = [
        styles.label("元数据 / Metadata", styles.section),
        _metadata_table(styles, item),
        styles.label("检查 / Checks", styles.section),
        _checks_table(styles, item.get("checks")),
        _verdict(styles, item.get("verdict")),
        styles.label("审查 / Review", styles.section),
        *_reviews(styles, item),
    ]
    preview = plan.previews.get(index, "无预览 / No preview")
    if index not in plan.spare_heights:
        plan.spare_heights[index] = FRAME_H - sum(map(_flowable_height, head + body))
    return [*head, *_preview_block(styles, preview, plan.spare_heights[index]), *body]


def _flowable_height(flowable: Flowable) -> float:
    _, height = flowable.wrap(CONTENT_W, FRAME_H)
    return height + flowable.getSpaceBefore() + flowable.getSpaceAfter()


def _image_size(preview: _Preview, spare: float) -> tuple[float, float]:
    """Fit within 16 × 11 cm, shrinking (down to PREVIEW_MIN_H) into the page's spare height."""
    max_height = max(PREVIEW_MIN_H, min(PREVIEW_MAX_H, spare - CAPTION_H))
    scale = min(PREVIEW_MAX_W / preview.width, max_height / preview.height)
    return preview.width * scale, preview.height * scale


def _preview_height(preview: _Preview | str, spare: float) -> float:
    """The height the preview block takes on the page."""
    return NO_PREVIEW_H if isinstance(preview, str) else _image_size(preview, spare)[1] + CAPTION_H


def _preview_block(styles: _Styles, preview: _Preview | str, spare: float) -> list[Flowable]:
    if isinstance(preview, str):
        return [_boxed(styles.label(preview, styles.note), styles.fonts.text, GRID, LABEL_BG,
                       NO_PREVIEW_H)]
    width, height = _image_size(preview, spare)
    # A court must not take the downscaled preview for the hashed original.
    caption = styles.label("预览图，非原件 / Preview, not the original", styles.caption)
    return [Image(preview.path, width=width, height=height), Spacer(1, CAPTION_H - 9), caption]


METADATA_WIDTHS = [27 * mm, 60 * mm, 27 * mm, CONTENT_W - 114 * mm]


def _metadata_table(styles: _Styles, item: Mapping) -> Table:
    """Label/value pairs, two to a row; long values take the whole row."""
    data, extra = [], [("BACKGROUND", (0, 0), (0, -1), LABEL_BG)]
    for row, cells in enumerate(_metadata_rows(item, styles.fonts.mono)):
        paragraphs = [styles.para(text, styles.dense) if position % 2 else text
                      for position, text in enumerate(cells)]
        if len(cells) == 2:
            paragraphs += ["", ""]
            extra.append(("SPAN", (1, row), (3, row)))
        else:
            extra.append(("BACKGROUND", (2, row), (2, row), LABEL_BG))
        data.append(paragraphs)
    return _grid_table(data, METADATA_WIDTHS, styles.fonts.text, header=False, extra=extra)


def _metadata_rows(item: Mapping, mono: str) -> list[tuple[str, ...]]:
    exif, source = _mapping(item.get("exif")), _mapping(item.get("source"))
    device = _joined(exif.get("make") or source.get("make"),
                     exif.get("model") or source.get("model"))
    return [
        ("证明目的 Purpose", _text(item.get("purpose"))),
        ("证据来源 Source", f"志愿者 volunteer {_text(source.get('volunteer'))}",
         "设备 Device", _text(device)),
        ("SHA-256", f'<font name="{mono}">{_text(item.get("sha256"))}</font>'),
        ("大小 Size", _format_size(item.get("size")),
         "媒体类型 Media type", _text(item.get("media_type"))),
        ("拍摄时间 Captured", _capture_time_text(item),
         "接收时间 Received", _format_time(item.get("received_at"))),
        ("拍摄地点 Place", _place_text(_mapping(item.get("place")))),
        ("原件 Original", _text(item.get("original")),
         "预览 Preview", _text(item.get("preview"))),
        ("软件 Software", _text(exif.get("software")),
         "报告 Report ID", f'<font name="{mono}">{_text(item.get("report_id"))}</font>'),
        ("照片 Photo ID", f'<font name="{mono}">{_text(item.get("photo_id"))}</font>'),
    ]


def _capture_time_text(item: Mapping) -> str:
    source = item.get("capture_time_source")
    when = _format_time(item.get("capture_time"))
    return f"{when}<br/>来源 source: {_text(source)}" if source else when


def _place_text(place: Mapping) -> str:
    exif = _mapping(place.get("exif"))
    point = _valid_point(exif.get("lon"), exif.get("lat"))
    lines = [f"EXIF GPS：{_format_point(point[1], point[0])}（WGS-84）" if point
             else "EXIF GPS：无 / none"]
    claim = _mapping(place.get("claim"))
    lines.append(_claim_text(claim) if valid_wgs84(claim.get("lon"), claim.get("lat"))
                 else "声称 claimed：无 / none")
    return "<br/>".join(lines)


def _claim_text(claim: Mapping) -> str:
    crs = claim.get("crs")
    accuracy = claim.get("accuracy_m")
    has_accuracy = isinstance(accuracy, int | float) and not isinstance(accuracy, bool)
    extras = _joined(CRS_LABELS.get(crs, _text(crs, "")),
                     f"±{accuracy:g} m" if has_accuracy else None, sep="，")
    text = f"声称 claimed：{_format_point(claim['lat'], claim['lon'])}（{extras or DASH}）"
    converted = _claim_wgs84(claim)
    if converted and crs not in (None, "wgs84"):
        text += f" → WGS-84 {_format_point(converted[1], converted[0])}"
    return text


CHECK_WIDTHS = [36 * mm, 18 * mm, CONTENT_W - 54 * mm]


def _checks_table(styles: _Styles, checks: object) -> Flowable:
    checks = [_mapping(check) for check in checks] if isinstance(checks, list) else []
    if not checks:
        return styles.label("无检查记录 / No checks recorded.", styles.body)
    rows: list[list] = [["检查项 Check", "结果 Result", "说明 Detail"]]
    extra = []
    for row, check in enumerate(checks, start=1):
        result = check.get("result")
        ink, background = RESULT_COLOURS.get(result, RESULT_COLOURS["unknown"])
        rows.append([
            styles.label(_check_label(check.get("name"), styles), styles.dense),
            _enum_cell(styles, result, RESULT_LABELS),
            styles.para(_text(check.get("detail")), styles.dense),
        ])
        extra += [("BACKGROUND", (1, row), (1, row), background),
                  ("TEXTCOLOR", (1, row), (1, row), ink)]
    return _grid_table(rows, CHECK_WIDTHS, styles.fonts.text, header=True, extra=extra)


def _enum_cell(styles: _Styles, value: object, labels: Mapping[str, str]) -> str | Paragraph:
    """A known value as a plain "中文 english" string; anything else as escaped, wrapped text."""
    if value in labels:
        return f"{labels[value]} {value}"
    return styles.label(_text(value), styles.dense)


def _check_label(name: object, styles: _Styles) -> str:
    """The Chinese name above the machine name used in manifest.json."""
    code = f'<font name="{styles.fonts.mono}" size="6" color="#57606a">{_text(name)}</font>'
    chinese = CHECK_LABELS.get(name)
    return f"{chinese}<br/>{code}" if chinese else code


def _verdict(styles: _Styles, verdict: object) -> Paragraph:
    ink, _ = RESULT_COLOURS[VERDICT_RESULTS.get(verdict, "unknown")]
    label = _joined(VERDICT_LABELS.get(verdict), _text(verdict))
    return styles.label(f'结论 / Verdict：<font color="{ink.hexval()}">{label}</font>',
                     styles.section)


REVIEW_WIDTHS = [24 * mm, CONTENT_W - 64 * mm, 40 * mm]


def _reviews(styles: _Styles, item: Mapping) -> list[Flowable]:
    reviews = item.get("reviews")
    reviews = [_mapping(review) for review in reviews] if isinstance(reviews, list) else []
    flowables: list[Flowable] = [_reviews_table(styles, reviews) if reviews else
                                 styles.label("无审查记录 / No review recorded.", styles.body)]
    if item.get("included_despite_rejection") is True:
        flowables += [Spacer(1, 5), _boxed(styles.label(
            "已被驳回，律师决定仍列入 / Rejected in review; included by the lawyer's decision",
            styles.warning), styles.fonts.text, RED, RED_BG)]
    return flowables


def _reviews_table(styles: _Styles, reviews: list[Mapping]) -> Table:
    rows: list[list] = [["决定 Decision", "理由 Reason", "时间 Time"]]
    for review in reviews:
        rows.append([
            _enum_cell(styles, review.get("decision"), DECISION_LABELS),
            styles.para(_text(review.get("reason")), styles.dense),
            styles.para(_format_time(review.get("at")), styles.dense),
        ])
    return _grid_table(rows, REVIEW_WIDTHS, styles.fonts.text, header=True)


# --- command line: the server renders in a child process ---------------------------------


def main(argv: list[str] | None = None) -> int:
    """python -m fieldapp.dossiers.catalog MANIFEST.json IMAGES.json OUT.pdf [FONT]

    IMAGES.json maps item numbers to the image files to embed. The server runs this in a
    child process, so the fonts and the PDF being built never stay in a web worker's memory.
    """
    import json
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (3, 4):
        print(main.__doc__, file=sys.stderr)
        return 2
    manifest = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    images = {int(k): v for k, v in json.loads(Path(args[1]).read_text()).items()}
    try:
        pages = render_catalog(manifest, images, args[2], args[3] if len(args) == 4 else None)
    except FontMissing as exc:
        print(exc, file=sys.stderr)
        return 1
    print(pages)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
