from flask.views import MethodView

from fieldapp.access.audit import bulk_read, viewer_is_staff
from fieldapp.accounts.auth import current_user, require
from fieldapp.arguments import Blueprint
from fieldapp.errors import Forbidden, field_error
from fieldapp.geo.geojson import feature_collection, wants_geojson
from fieldapp.reports.schemas import ReportListArgsSchema, ReportPageSchema
from fieldapp.reports.service import list_reports
from fieldapp.sites import service, timeline
from fieldapp.sites.schemas import (
    SiteInSchema,
    SiteListArgsSchema,
    SitePageSchema,
    SitePatchSchema,
    SiteSchema,
    TimelineEventSchema,
)

blp = Blueprint("sites", __name__, url_prefix="/api/v1/sites",
                description="Known polluting sites")
STAFF = ("coordinator", "lawyer", "admin")


@blp.route("")
class Sites(MethodView):
    @require()
    @blp.arguments(SiteListArgsSchema, location="query")
    @blp.response(200, SitePageSchema)
    @blp.alt_response(200, content_type="application/geo+json",
                      description="With format=geojson: an RFC 7946 FeatureCollection.")
    @bulk_read()
    def get(self, args):
        """List sites: bbox, status, q (name or operator), paginated; order=risk for staff."""
        if args.get("order") == "risk" and not viewer_is_staff():
            # Risk is made of other volunteers' evidence, their number and open cases.
            raise field_error("order", "ordering by risk is for staff", cls=Forbidden)
        items, total = service.list_sites(args)
        page = {"items": items, "total": total, "page": args["page"],
                "page_size": args["page_size"]}
        if wants_geojson(args):
            return feature_collection(page, SiteSchema(), lambda site: site.geom)
        return page

    @require("coordinator", "admin")
    @blp.arguments(SiteInSchema)
    @blp.response(201, SiteSchema)
    def post(self, data):
        """Add a site (Point, Polygon or MultiPolygon; crs wgs84, gcj02 or bd09)."""
        return service.create_site(data)


@blp.route("/<uuid:site_id>")
class SiteById(MethodView):
    @require()
    @blp.response(200, SiteSchema)
    def get(self, site_id):
        """One site; for staff with its risk, score and components."""
        return service.get_site_shown(site_id, with_risk=viewer_is_staff())

    @require("coordinator", "admin")
    @blp.arguments(SitePatchSchema)
    @blp.response(200, SiteSchema)
    def patch(self, changes, site_id):
        """Change some of a site's fields."""
        return service.update_site(site_id, changes)


@blp.route("/<uuid:site_id>/reports")
class SiteReports(MethodView):
    @require(*STAFF)
    @blp.arguments(ReportListArgsSchema, location="query")
    @blp.response(200, ReportPageSchema)
    @bulk_read()
    def get(self, args, site_id):
        """Reports linked to this site (the same filters as /reports)."""
        service.get_site(site_id)
        items, total = list_reports(current_user(), {**args, "site_id": site_id})
        return {"items": items, "total": total, "page": args["page"],
                "page_size": args["page_size"]}


@blp.route("/<uuid:site_id>/timeline")
class SiteTimeline(MethodView):
    @require(*STAFF)
    @blp.response(200, TimelineEventSchema(many=True))
    @bulk_read()
    def get(self, site_id):
        """Reports, reviews, cases, case entries and exports of this site, in time order."""
        return timeline.site_timeline(service.get_site(site_id))
