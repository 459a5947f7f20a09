"""Fonts, styles, labels and the plain-value helpers every part of the catalog uses."""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm, mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.platypus import (
    Paragraph,
)

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


def _dossier_label(manifest: Mapping) -> str:
    label = _dig(manifest, "dossier", "label") or _dig(manifest, "dossier", "number")
    return str(label) if label not in (None, "") else DASH




def _timestamp_entries(manifest: Mapping) -> dict[str, Mapping]:
    """The manifest's time-stamps by file name."""
    entries = manifest.get("timestamps")
    entries = entries if isinstance(entries, list) else []
    return {entry["file"]: entry for entry in map(_mapping, entries)
            if isinstance(entry.get("file"), str)}


def _gap_text(received: object, anchored: object) -> str:
    """How long after receipt a time-stamp was made, e.g. "42 s", "3 min 5 s", "2 h 7 min"."""
    try:
        seconds = (datetime.fromisoformat(str(anchored))
                   - datetime.fromisoformat(str(received))).total_seconds()
    except (TypeError, ValueError):
        return DASH
    sign, seconds = ("−" if seconds < 0 else ""), abs(round(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        parts = [f"{days} d", f"{hours} h"]
    elif hours:
        parts = [f"{hours} h", f"{minutes} min"]
    elif minutes:
        parts = [f"{minutes} min", f"{secs} s"]
    else:
        parts = [f"{secs} s"]
    return sign + " ".join(parts)
