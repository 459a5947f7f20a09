"""GET /console: the page is public; everything it shows is fetched with the user's token."""
from __future__ import annotations

from flask import Blueprint

from fieldapp.accounts.models import ROLES
from fieldapp.cases.models import LEGAL_STATUSES
from fieldapp.complaints import rules as complaint_rules
from fieldapp.mapview.routes import CATEGORY_LABELS, basemap_page
from fieldapp.reports.models import CATEGORIES, VERDICTS

# A plain Flask blueprint, like the map page's: an HTML page has no place in the OpenAPI
# document. Its map code and OpenLayers come from the map page's static folder.
bp = Blueprint("console", __name__, template_folder="templates", static_folder="static",
               static_url_path="/console/static")


@bp.get("/console")
def console_page():
    return basemap_page(
        "console.html", verdicts=VERDICTS, roles=ROLES,
        legal_statuses=LEGAL_STATUSES, channels=complaint_rules.CHANNELS,
        update_kinds=complaint_rules.UPDATE_KINDS,
        categories=[(c, CATEGORY_LABELS.get(c, c)) for c in CATEGORIES])
