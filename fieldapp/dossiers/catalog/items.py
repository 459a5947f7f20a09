"""One page per item: heading, preview, metadata, checks, verdict and reviews."""
from __future__ import annotations

from collections.abc import Mapping

from reportlab.lib.units import mm
from reportlab.platypus import (
    Flowable,
    Image,
    Paragraph,
    Spacer,
    Table,
)

from fieldapp.dossiers.catalog.plan import _Anchor, _Plan, _Preview
from fieldapp.dossiers.catalog.sitemap import _claim_wgs84, _valid_point
from fieldapp.dossiers.catalog.tables import _boxed, _grid_table
from fieldapp.dossiers.catalog.text import (
    CAPTION_H,
    CHECK_LABELS,
    CONTENT_W,
    CRS_LABELS,
    DASH,
    DECISION_LABELS,
    FRAME_H,
    GRID,
    LABEL_BG,
    NO_PREVIEW_H,
    PREVIEW_MAX_H,
    PREVIEW_MAX_W,
    PREVIEW_MIN_H,
    RED,
    RED_BG,
    RESULT_COLOURS,
    RESULT_LABELS,
    VERDICT_LABELS,
    VERDICT_RESULTS,
    _format_point,
    _format_size,
    _format_time,
    _gap_text,
    _item_number,
    _joined,
    _mapping,
    _Styles,
    _text,
    _timestamp_entries,
)
from fieldapp.geo.coordinates import valid_wgs84

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
        _metadata_table(styles, item, _timestamp_entries(plan.manifest)),
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


def _metadata_table(styles: _Styles, item: Mapping, stamps: Mapping[str, Mapping]) -> Table:
    """Label/value pairs, two to a row; long values take the whole row."""
    data, extra = [], [("BACKGROUND", (0, 0), (0, -1), LABEL_BG)]
    for row, cells in enumerate(_metadata_rows(item, styles.fonts.mono, stamps)):
        paragraphs = [styles.para(text, styles.dense) if position % 2 else text
                      for position, text in enumerate(cells)]
        if len(cells) == 2:
            paragraphs += ["", ""]
            extra.append(("SPAN", (1, row), (3, row)))
        else:
            extra.append(("BACKGROUND", (2, row), (2, row), LABEL_BG))
        data.append(paragraphs)
    return _grid_table(data, METADATA_WIDTHS, styles.fonts.text, header=False, extra=extra)


def _metadata_rows(item: Mapping, mono: str,
                   stamps: Mapping[str, Mapping]) -> list[tuple[str, ...]]:
    exif, source = _mapping(item.get("exif")), _mapping(item.get("source"))
    device = _joined(exif.get("make") or source.get("make"),
                     exif.get("model") or source.get("model"))
    return [
        ("证明目的 Purpose", _text(item.get("purpose"))),
        ("证据来源 Source", f"志愿者 volunteer {_text(source.get('volunteer'))}",
         "设备 Device", _text(device)),
        ("SHA-256<br/>SM3", f'<font name="{mono}">{_text(item.get("sha256"))}<br/>'
                            f'{_text(item.get("sm3"))}</font>'),
        ("大小 Size", _format_size(item.get("size")),
         "软件 Software", _text(exif.get("software"))),
        ("拍摄时间 Captured", _capture_time_text(item),
         "接收时间 Received", _format_time(item.get("received_at"))),
        ("拍摄地点 Place", _place_text(_mapping(item.get("place")))),
        ("原件 Original", f'{_text(item.get("original"))} ({_text(item.get("media_type"))})',
         "预览 Preview", _text(item.get("preview"))),
        ("报告 Report ID", f'<font name="{mono}">{_text(item.get("report_id"))}</font>',
         "照片 Photo ID", f'<font name="{mono}">{_text(item.get("photo_id"))}</font>'),
        ("时间戳 Time-stamp", _timestamps_text(item, stamps)),
    ]


def _timestamps_text(item: Mapping, stamps: Mapping[str, Mapping]) -> str:
    """Each RFC 3161 time-stamp covering the item's receipt: the authority's time, who, and
    how long after receipt; the gap is what a court weighs against the server's own clock."""
    files = item.get("timestamps")
    files = files if isinstance(files, list) else []
    lines = []
    for name in files:
        entry = _mapping(stamps.get(name))
        gap = _gap_text(item.get("received_at"), entry.get("gen_time"))
        lines.append(f"{_format_time(entry.get('gen_time'))}，{_text(entry.get('tsa'))}，"
                     f"接收后 after receipt {gap}，event #{_text(entry.get('custody_seq'))}")
    return "<br/>".join(lines) or "无 / none"


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


