"""What a catalog build is given and records: previews, the predicted and produced layout,
and the anchors that note where each item landed."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image as PILImage
from reportlab.platypus import (
    Flowable,
)

from fieldapp.dossiers.catalog.text import _item_number, _items, _mapping, _Styles

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


