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

The parts: text (fonts, styles, labels, value helpers), plan (what a build is given and
records), tables (ruled tables, cover, catalog table), system (the Art. 93 statement),
sitemap (the map page), complaints (the site's complaints to the authorities), items (one
page per item), layout (building the document). Names with a leading underscore are this
package's own, shared between its parts.
"""
from __future__ import annotations

from pathlib import Path

from fieldapp.dossiers.catalog.layout import render_catalog, resolve_font_path
from fieldapp.dossiers.catalog.sitemap import site_map_story
from fieldapp.dossiers.catalog.text import (
    DEFAULT_FONT_PATH,
    FONT_ENV,
    FONT_PACKAGE,
    FontMissing,
    Fonts,
    load_fonts,
)

__all__ = ["DEFAULT_FONT_PATH", "FONT_ENV", "FONT_PACKAGE", "FontMissing", "Fonts", "load_fonts",
           "main", "render_catalog", "resolve_font_path", "site_map_story"]


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

