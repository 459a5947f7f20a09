"""Building the document: the page layout is predicted, the PDF built, and rebuilt only when
the pages it produced differ from the prediction (page numbers and "of N" need the result)."""
from __future__ import annotations

import io
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import (
    BaseDocTemplate,
    Frame,
    PageBreak,
    PageTemplate,
)

from fieldapp.dossiers.catalog.complaints import _complaints_page
from fieldapp.dossiers.catalog.items import _item_page, _preview_height
from fieldapp.dossiers.catalog.plan import _Layout, _Plan, _read_previews
from fieldapp.dossiers.catalog.sitemap import _map_page
from fieldapp.dossiers.catalog.system import _system_page
from fieldapp.dossiers.catalog.tables import _catalog_table, _cover
from fieldapp.dossiers.catalog.text import (
    CONTENT_W,
    DEFAULT_FONT_PATH,
    FONT_ENV,
    FRAME_H,
    GRID,
    MARGIN_BOTTOM,
    MARGIN_TOP,
    MARGIN_X,
    MAX_PASSES,
    PAGE_W,
    Fonts,
    _dig,
    _dossier_label,
    _items,
    _pdf_date,
    _Styles,
    load_fonts,
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


# --- document ----------------------------------------------------------------------------


def _build_pdf(plan: _Plan, layout: _Layout, with_items: bool = True) -> tuple[bytes, _Layout]:
    # Binary image streams: ASCII85 would make 500 previews a third larger and slower to write.
    rl_config.useA85 = 0
    buffer = io.BytesIO()
    doc = _document(buffer, plan, layout)
    story = [*_cover(plan), *_catalog_table(plan, layout), PageBreak(), *_map_page(plan),
             PageBreak(), *_system_page(plan), *_complaints_page(plan)]
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


