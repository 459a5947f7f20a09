"""GET /map: the page is public; everything it draws is fetched with the user's token."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, url_for

from fieldapp.mapview.basemaps import BaseMaps
from fieldapp.reports.models import CATEGORIES

# A plain Flask blueprint: an HTML page has no place in the OpenAPI document.
bp = Blueprint("mapview", __name__, template_folder="templates", static_folder="static",
               static_url_path="/map/static")

CATEGORY_LABELS = {"water": "水 Water", "air": "大气 Air", "soil": "土壤 Soil",
                   "solid_waste": "固体废物 Solid waste", "noise": "噪声 Noise",
                   "other": "其他 Other"}


@bp.get("/map")
def map_page():
    categories = [(c, CATEGORY_LABELS.get(c, c)) for c in CATEGORIES]
    return basemap_page("map.html", categories=categories)


def basemap_page(template: str, **context):
    """A staff page drawn over the configured base maps (the map page and the console): the
    base maps in its body's data-basemap, and its strict headers."""
    basemaps = current_app.config.get("FIELDAPP_BASEMAPS") or BaseMaps()
    offline = url_for("mapview.static", filename="vendor/offline-base.json")
    page = render_template(template, basemap=basemaps.client(offline), **context)
    return strict_page(page, basemaps.image_sources())


def strict_page(page: str, image_sources: list[str]):
    """A staff page's response with its strict headers."""
    response = current_app.make_response(page)
    # The token lives in sessionStorage, so scripts from anywhere else must never run here;
    # images may also come from the base map's tile hosts. No inline script or style either:
    # text a volunteer wrote is shown on these pages, and if it ever reached the markup it
    # must neither run nor restyle the page (a style attribute can hide or fake a control).
    # Scripts may still set element.style, which the CSP does not govern.
    tiles = "".join(f" {source}" for source in image_sources)
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; connect-src 'self'; "
        f"img-src 'self' data: blob:{tiles}; style-src 'self'; worker-src 'self' blob:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    # Browsers that predate frame-ancestors: the pages are never drawn inside another's.
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
