"""Ruled tables and the front matter: the cover block and the numbered catalog table."""
from __future__ import annotations

from collections.abc import Mapping

from reportlab.lib.units import mm
from reportlab.platypus import (
    Flowable,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from fieldapp.dossiers.catalog.plan import _Anchor, _Layout, _Plan
from fieldapp.dossiers.catalog.text import (
    CONTENT_W,
    DASH,
    GRID,
    HEAD_BG,
    LABEL_BG,
    LINK,
    ORIGINAL_COPY,
    ROLE_LABELS,
    _bilingual,
    _dig,
    _dossier_label,
    _format_time,
    _item_number,
    _items,
    _joined,
    _mapping,
    _Styles,
    _text,
)


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
    software = _text(_dig(manifest, "system", "software"))
    return [
        (_bilingual("卷宗编号", "Dossier number"), _text(_dossier_label(manifest))),
        (_bilingual("生成时间", "Generated"), _format_time(dossier.get("created_at")) + made_by),
        (_bilingual("保管链头哈希", "Custody chain head"),
         _custody_text(_mapping(manifest.get("custody")), styles)),
        (_bilingual("生成系统", "System"),
         f"{software}（见系统说明 / see About the system）"),
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


