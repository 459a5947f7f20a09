from flask.views import MethodView

from fieldapp.access import service
from fieldapp.access.schemas import AccessLogArgsSchema, AccessLogPageSchema
from fieldapp.accounts.auth import require
from fieldapp.arguments import Blueprint

blp = Blueprint("access", __name__, url_prefix="/api/v1/access-log",
                description="Who read evidence in bulk: staff listings, exports, OGC, tiles")


@blp.route("")
class AccessLog(MethodView):
    @require("admin")
    @blp.arguments(AccessLogArgsSchema, location="query")
    @blp.response(200, AccessLogPageSchema)
    def get(self, args):
        """Bulk reads by staff, newest minute first: one row per user, endpoint, filters
        and minute, with the requests, rows and area they covered."""
        items, total = service.list_entries(args)
        return {"items": items, "total": total, "page": args["page"],
                "page_size": args["page_size"]}
