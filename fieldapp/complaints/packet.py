"""The complaint packet: a Chinese PDF letter to upload with (or after) a filing, citing
each photo of the cited reports by its SHA-256, capture and receipt times, then the photos
of any further evidence sent since (each batch under its day), with a drawn map of the site
and the capture points.

Pure: plain values in, PDF bytes out; no Flask, no database, no network and no image file
is read, so making a packet never touches an original. It embeds the same CJK font as the
evidence catalog and draws the same map, and the same values give the same bytes
(reportlab's invariant mode; the only time in it is the `generated_at` it is given).
"""
from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import datetime
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm, mm
from reportlab.platypus import (
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from fieldapp.complaints.rules import CHANNEL_LABELS, CHINA, STATUS_LABELS
from fieldapp.dossiers.catalog import load_fonts, resolve_font_path, site_map_story

MARGIN = 18 * mm
LABEL_W = 3.2 * cm
GRID = colors.HexColor("#9aa4ae")
LABEL_BG = colors.HexColor("#f4f6f8")
CATEGORY_LABELS = {"water": "水污染", "air": "大气污染", "solid_waste": "固体废物",
                   "soil": "土壤污染", "noise": "噪声", "other": "其他"}

REQUEST = ("请贵单位依法对上述问题进行核查处理，并在规定期限内告知是否受理及办理结果；"
           "如需原始照片文件或补充材料，请与投诉人联系。")
EVIDENCE_NOTE = (
    "以下照片由志愿者在现场拍摄并通过 fieldapp 提交。服务器在接收时计算每个原始文件的 SHA-256 "
    "哈希值并按哈希值保存原件，不作任何修改；每一次接收、读取和导出均记入防篡改的证据保管链。"
    "贵单位如需核验，可索取原件并计算其 SHA-256，与本函所列数值比对：一致即为同一文件。"
    "拍摄时间取自照片 EXIF 元数据（无则注明），接收时间为服务器收到文件的时间（北京时间）。"
)


def render(values: Mapping, font_path: str | None = None) -> bytes:
    """The packet for `values` (complaint, site, photos, supplements, generated_at) as PDF
    bytes."""
    fonts = load_fonts(resolve_font_path(font_path))
    styles = _styles(fonts.text, fonts.mono)
    complaint, site = values["complaint"], values["site"]
    photos = list(values.get("photos") or [])
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
        bottomMargin=MARGIN, title=f"投诉举报材料 {complaint['number']}",
        author="fieldapp", creator="fieldapp", initialFontName=fonts.text, invariant=1)
    width = A4[0] - 2 * MARGIN
    story = [
        Paragraph("生态环境问题投诉举报材料", styles["title"]),
        Paragraph(f"投诉编号：{_text(complaint['number'])}", styles["subtitle"]),
        Paragraph(f"致：{_text(complaint['authority'])}", styles["body"]),
        Spacer(1, 4),
        _facts(styles, width, [
            ("投诉渠道", CHANNEL_LABELS.get(complaint["channel"], complaint["channel"])),
            ("投诉编号", complaint["number"]),
            ("提交时间", _beijing(complaint["filed_at"])),
            ("办理状态", STATUS_LABELS.get(complaint["status"], complaint["status"])),
            ("被投诉单位", site.get("operator") or site.get("name")),
            ("场所", site.get("name")),
            ("统一社会信用代码", site.get("uscc")),
            ("地址", _joined(site.get("region"), site.get("address"))),
        ]),
        Spacer(1, 8),
        Paragraph("投诉事项", styles["heading"]),
        Paragraph(_text(complaint.get("summary"), "（见所附照片证据）"), styles["body"]),
        Spacer(1, 8),
        Paragraph("请求事项", styles["heading"]),
        Paragraph(REQUEST, styles["body"]),
        Spacer(1, 8),
        Paragraph(f"照片证据（共 {len(photos)} 张）", styles["heading"]),
        Paragraph(EVIDENCE_NOTE, styles["body"]),
        Spacer(1, 6),
    ]
    if not photos:
        story.append(Paragraph("本投诉未引用照片。", styles["body"]))
    for photo in photos:
        story += [KeepTogether(_photo_block(styles, width, photo)), Spacer(1, 6)]
    # Evidence sent after the filing, each batch under the day it was sent: the photos above
    # are those the complaint cited when it was filed, and stay so.
    supplements = list(values.get("supplements") or [])
    for supplement in supplements:
        sent = supplement.get("photos") or []
        story += [Paragraph(f"补充证据（{_beijing(supplement.get('occurred_at'))} 补充提交，"
                            f"共 {len(sent)} 张）", styles["heading"])]
        if supplement.get("reason"):
            story.append(Paragraph(_text(supplement["reason"]), styles["body"]))
        story.append(Spacer(1, 4))
        for photo in sent:
            story += [KeepTogether(_photo_block(styles, width, photo)), Spacer(1, 6)]
    everything = photos + [photo for supplement in supplements
                           for photo in supplement.get("photos") or []]
    story += [
        Paragraph(f"本材料生成于 {_beijing(values['generated_at'])}（北京时间），"
                  "其导出已记入证据保管链。", styles["small"]),
        PageBreak(),
        *site_map_story({"site": {"geometry": site.get("geometry")}, "items": everything},
                        fonts),
    ]
    doc.build(story)
    return buffer.getvalue()


def _styles(text_font: str, mono_font: str) -> dict[str, ParagraphStyle]:
    body = ParagraphStyle("packet-body", fontName=text_font, fontSize=10, leading=15,
                          wordWrap="CJK")
    return {
        "body": body,
        "small": ParagraphStyle("packet-small", parent=body, fontSize=8, leading=11,
                                textColor=colors.HexColor("#57606a")),
        "cell": ParagraphStyle("packet-cell", parent=body, fontSize=8.5, leading=11.5),
        "mono": ParagraphStyle("packet-mono", parent=body, fontName=mono_font, fontSize=8,
                               leading=11, wordWrap=None),
        "title": ParagraphStyle("packet-title", parent=body, fontSize=18, leading=26,
                                alignment=1),
        "subtitle": ParagraphStyle("packet-subtitle", parent=body, fontSize=11, leading=16,
                                   alignment=1, spaceAfter=8),
        "heading": ParagraphStyle("packet-heading", parent=body, fontSize=12, leading=17,
                                  spaceAfter=3),
    }


def _facts(styles, width: float, rows: list[tuple[str, object]]) -> Table:
    """A ruled two-column table: labels on the left, values (text or paragraphs) right."""
    cells = [[Paragraph(label, styles["cell"]),
              value if isinstance(value, Paragraph) else Paragraph(_text(value), styles["cell"])]
             for label, value in rows]
    table = Table(cells, colWidths=[LABEL_W, width - LABEL_W])
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.4, GRID),
        ("BACKGROUND", (0, 0), (0, -1), LABEL_BG),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    return table


def _photo_block(styles, width: float, photo: Mapping) -> list:
    place = _place(photo.get("place") or {})
    rows = [
        ("SHA-256", Paragraph(_text(photo["sha256"]), styles["mono"])),
        ("拍摄时间", _beijing(photo.get("capture_time"), "无 EXIF 拍摄时间")),
        ("接收时间", _beijing(photo.get("received_at"))),
        ("观察时间", _beijing(photo.get("observed_at"))),
        ("拍摄位置", place),
        ("类别", CATEGORY_LABELS.get(photo.get("category"), photo.get("category"))),
        ("现场描述", photo.get("description")),
        ("报告编号", photo.get("report_id")),
    ]
    return [Paragraph(f"证据 {photo['number']}", styles["heading"]),
            _facts(styles, width, rows)]


def _place(place: Mapping) -> str:
    exif = place.get("exif") or {}
    if exif.get("lat") is not None and exif.get("lon") is not None:
        return f"纬度 {exif['lat']:.6f}，经度 {exif['lon']:.6f}（照片 EXIF GPS，WGS-84）"
    claim = (place.get("claim") or {}).get("wgs84") or {}
    if claim.get("lat") is not None and claim.get("lon") is not None:
        return f"纬度 {claim['lat']:.6f}，经度 {claim['lon']:.6f}（志愿者声称位置，WGS-84）"
    return "无位置信息"


def _beijing(value: object, missing: str = "—") -> str:
    """An RFC 3339 time in Beijing time, as the letter's reader counts it."""
    if not value:
        return missing
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def _joined(*parts: object) -> str:
    return " ".join(str(part) for part in parts if part)


def _text(value: object, missing: str = "—") -> str:
    """Paragraph markup for a value that came from a client: escaped, newlines kept."""
    if value is None or value == "":
        return missing
    return escape(str(value)).replace("\n", "<br/>")
