"""GET /map: the page is public; everything it draws is fetched with the user's token."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, render_template

from fieldapp.reports.models import CATEGORIES

# A plain Flask blueprint: an HTML page has no place in the OpenAPI document.
bp = Blueprint("mapview", __name__, template_folder="templates", static_folder="static",
               static_url_path="/map/static")

CATEGORY_LABELS = {"water": "水 Water", "air": "大气 Air", "soil": "土壤 Soil",
                   "solid_waste": "固体废物 Solid waste", "noise": "噪声 Noise",
                   "other": "其他 Other"}


@bp.get("/map")
def map_page():
    tile_url = current_app.config.get("FIELDAPP_MAP_TILE_URL")
    categories = [(c, CATEGORY_LABELS.get(c, c)) for c in CATEGORIES]
    return strict_page(render_template("map.html", tile_url=tile_url, categories=categories),
                       tile_url)


def strict_page(page: str, tile_url: str | None):
    """A staff page's response with its strict headers (the map page and the console)."""
    response = current_app.make_response(page)
    # The token lives in sessionStorage, so scripts from anywhere else must never run here;
    # images may also come from the optional base map's scheme (its host is a template).
    base = f" {urlsplit(tile_url).scheme}:" if tile_url else ""
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; connect-src 'self'; "
        f"img-src 'self' data: blob:{base}; style-src 'self' 'unsafe-inline'; "
        "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
