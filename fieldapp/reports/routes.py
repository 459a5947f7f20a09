from flask.views import MethodView

from fieldapp.access.audit import bulk_read
from fieldapp.accounts.auth import current_user, require
from fieldapp.arguments import MULTIPART, Blueprint
from fieldapp.geo.geojson import feature_collection, wants_geojson
from fieldapp.reports import quota, service
from fieldapp.reports.schemas import (
    ReportListArgsSchema,
    ReportPageSchema,
    ReportSchema,
    ReportSubmissionSchema,
    SiteLinkSchema,
)

blp = Blueprint("reports", __name__, url_prefix="/api/v1/reports",
                description="Volunteers' photo reports")


@blp.route("")
class Reports(MethodView):
    @require()
    @quota.enforce_before_body
    @blp.arguments(ReportSubmissionSchema, location=MULTIPART)
    @blp.response(201, ReportSchema)
    @blp.alt_response(200, schema=ReportSchema, description="An idempotent retry: the report "
                      "already stored under this client_id, nothing new written.")
    def post(self, body):
        """Submit a report: `report` (JSON) and 1-20 `photos` as multipart/form-data."""
        report, created = service.submit(current_user(), body["report"], body["photos"])
        return report, (201 if created else 200)

    @require()
    @blp.arguments(ReportListArgsSchema, location="query")
    @blp.response(200, ReportPageSchema)
    @blp.alt_response(200, content_type="application/geo+json",
                      description="With format=geojson: an RFC 7946 FeatureCollection.")
    @bulk_read()
    def get(self, args):
        """List reports (volunteers see their own), filtered and paginated."""
        items, total = service.list_reports(current_user(), args)
        page = {"items": items, "total": total, "page": args["page"],
                "page_size": args["page_size"]}
        if wants_geojson(args):
            return feature_collection(page, ReportSchema(), lambda report: report.location)
        return page


@blp.route("/<uuid:report_id>")
class ReportById(MethodView):
    @require()
    @blp.response(200, ReportSchema)
    def get(self, report_id):
        """One report with its photos, checks and receipts."""
        return service.get_report(report_id, current_user())


@blp.route("/<uuid:report_id>/site")
class ReportSite(MethodView):
    @require("coordinator", "admin")
    @blp.arguments(SiteLinkSchema)
    @blp.response(200, ReportSchema)
    def put(self, link, report_id):
        """Link, relink (site_id) or unlink (null) a report's site; a custody event each."""
        return service.relink_site(report_id, link["site_id"], current_user())
